use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
};
use base64::Engine as _;
use md5::Digest as _;

use crate::harness::{Server, bounded, crc32_b64, md5_etag, pattern};

const MIB: usize = 1 << 20;

/// 12 MiB in three parts (5 + 5 + 2 MiB) with CRC32 part checksums.
#[tokio::test]
async fn multipart_upload_three_parts_crc32() {
    bounded("multipart_upload_three_parts_crc32", async {
        let server = Server::start().await;
        let s3 = server.client();
        let bucket = "e2e-multipart";
        let key = "large/twelve-mib.bin";
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create_bucket");

        let data = pattern(12 * MIB, 42);
        let parts: Vec<&[u8]> = vec![
            &data[..5 * MIB],
            &data[5 * MIB..10 * MIB],
            &data[10 * MIB..],
        ];

        let created = s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type("application/octet-stream")
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .expect("create_multipart_upload");
        let upload_id = created.upload_id().expect("UploadId").to_string();
        assert_eq!(
            created.checksum_algorithm(),
            Some(&ChecksumAlgorithm::Crc32)
        );

        let mut completed = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let number = i as i32 + 1;
            let out = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .part_number(number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(part.to_vec()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("upload_part {number}: {e:?}"));
            assert_eq!(out.e_tag(), Some(md5_etag(part).as_str()), "part {number}");
            assert_eq!(
                out.checksum_crc32(),
                Some(crc32_b64(part).as_str()),
                "part {number}"
            );
            completed.push(
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(out.e_tag().expect("part ETag"))
                    .checksum_crc32(out.checksum_crc32().expect("part CRC32"))
                    .build(),
            );
        }

        let done = s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .expect("complete_multipart_upload");
        let etag = done.e_tag().expect("ETag").to_string();
        assert!(
            etag.trim_matches('"').ends_with("-3"),
            "multipart ETag must end in -3: {etag}"
        );
        assert_eq!(etag, multipart_etag(&parts), "ETag = md5(part md5s)-3");
        // Composite checksum: CRC32 of the concatenated part CRC32s, "-3".
        assert_eq!(
            done.checksum_crc32(),
            Some(composite_crc32(&parts).as_str())
        );

        let got = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("get_object");
        assert_eq!(got.content_length(), Some(12 * MIB as i64));
        assert_eq!(got.e_tag(), Some(etag.as_str()));
        let body = got.body.collect().await.expect("read body").into_bytes();
        assert!(body.as_ref() == data.as_slice(), "downloaded bytes differ");

        let head = s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .expect("head_object");
        assert_eq!(
            head.checksum_crc32(),
            Some(composite_crc32(&parts).as_str())
        );

        let attrs = s3
            .get_object_attributes()
            .bucket(bucket)
            .key(key)
            .object_attributes(ObjectAttributes::ObjectParts)
            .object_attributes(ObjectAttributes::ObjectSize)
            .object_attributes(ObjectAttributes::Etag)
            .send()
            .await
            .expect("get_object_attributes");
        let object_parts = attrs.object_parts().expect("ObjectParts");
        // Parts are listed because the object has CRC32 part checksums.
        let listed: Vec<(Option<i32>, Option<i64>, Option<&str>)> = object_parts
            .parts()
            .iter()
            .map(|p| (p.part_number(), p.size(), p.checksum_crc32()))
            .collect();
        let expected: Vec<(Option<i32>, Option<i64>, Option<String>)> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| (Some(i as i32 + 1), Some(p.len() as i64), Some(crc32_b64(p))))
            .collect();
        assert_eq!(
            listed,
            expected
                .iter()
                .map(|(n, s, c)| (*n, *s, c.as_deref()))
                .collect::<Vec<_>>()
        );
        assert_eq!(attrs.object_size(), Some(12 * MIB as i64));
        // GetObjectAttributes returns the ETag without quotes.
        assert_eq!(
            attrs.e_tag().map(|e| e.trim_matches('"')),
            Some(etag.trim_matches('"'))
        );

        let uploads = s3
            .list_multipart_uploads()
            .bucket(bucket)
            .send()
            .await
            .expect("list_multipart_uploads");
        assert!(
            uploads.uploads().is_empty(),
            "completed upload still listed: {:?}",
            uploads.uploads()
        );

        // Wire name <PartsCount>; checked last so the checks above still run.
        assert_eq!(
            object_parts.total_parts_count(),
            Some(3),
            "ObjectParts without PartsCount: {object_parts:?}"
        );
    })
    .await;
}

fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = md5::Md5::new();
    for part in parts {
        all.update(md5::Md5::digest(part));
    }
    let hex: String = all.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}-{}\"", parts.len())
}

fn composite_crc32(parts: &[&[u8]]) -> String {
    let mut raw = Vec::new();
    for part in parts {
        let b64 = crc32_b64(part);
        raw.extend(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64"),
        );
    }
    format!("{}-{}", crc32_b64(&raw), parts.len())
}
