use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, Delete, ObjectIdentifier};

use crate::harness::{Server, bounded, crc32_b64, http_status, md5_etag, pattern, url_encode_path};

const BUCKET: &str = "e2e-objects";

async fn setup() -> (Server, Client) {
    let server = Server::start().await;
    let s3 = server.client();
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create_bucket");
    (server, s3)
}

async fn get_bytes(s3: &Client, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get_object {key}: {e:?}"));
    out.body
        .collect()
        .await
        .expect("read body")
        .into_bytes()
        .to_vec()
}

/// Default SDK settings: the SDK computes a CRC32 and sends it as an
/// aws-chunked trailer (`x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`
/// or the signed variant). Sizes cover empty, tiny and multi-chunk bodies.
#[tokio::test]
async fn put_get_head_with_default_sdk_settings() {
    bounded("put_get_head_with_default_sdk_settings", async {
        let (_server, s3) = setup().await;
        let cases = [
            ("empty", Vec::new()),
            ("small.txt", b"hello, hafiz".to_vec()),
            ("big.bin", pattern((1 << 20) + 17, 1)),
        ];
        for (key, data) in &cases {
            let put = s3
                .put_object()
                .bucket(BUCKET)
                .key(*key)
                .body(ByteStream::from(data.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put_object {key}: {e:?}"));
            assert_eq!(put.e_tag(), Some(md5_etag(data).as_str()), "{key}");
            assert_eq!(
                put.checksum_crc32(),
                Some(crc32_b64(data).as_str()),
                "{key}: PutObject must echo the CRC32 it validated"
            );

            let head = s3
                .head_object()
                .bucket(BUCKET)
                .key(*key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("head_object {key}: {e:?}"));
            assert_eq!(head.content_length(), Some(data.len() as i64), "{key}");
            assert_eq!(head.e_tag(), put.e_tag(), "{key}");
            assert!(head.last_modified().is_some(), "{key}: no Last-Modified");

            let got = s3
                .get_object()
                .bucket(BUCKET)
                .key(*key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("get_object {key}: {e:?}"));
            assert_eq!(got.content_length(), Some(data.len() as i64), "{key}");
            assert_eq!(got.e_tag(), put.e_tag(), "{key}");
            let body = got.body.collect().await.expect("read body").into_bytes();
            assert!(body.as_ref() == data.as_slice(), "{key}: body differs");
        }

        let err = s3
            .get_object()
            .bucket(BUCKET)
            .key("does-not-exist")
            .send()
            .await
            .expect_err("missing key");
        assert_eq!(err.code(), Some("NoSuchKey"), "{err:?}");
        assert_eq!(http_status(&err), 404);

        let err = s3
            .head_object()
            .bucket(BUCKET)
            .key("does-not-exist")
            .send()
            .await
            .expect_err("missing key");
        assert_eq!(http_status(&err), 404);
        assert!(err.into_service_error().is_not_found());
    })
    .await;
}

#[tokio::test]
async fn user_metadata_and_content_type_round_trip() {
    bounded("user_metadata_and_content_type_round_trip", async {
        let (_server, s3) = setup().await;
        let key = "docs/meta.json";
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .content_type("application/json; charset=utf-8")
            .metadata("color", "blue")
            .metadata("Owner-Team", "storage e2e")
            .body(ByteStream::from_static(br#"{"ok":true}"#))
            .send()
            .await
            .expect("put_object");

        let head = s3
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .expect("head_object");
        assert_eq!(head.content_type(), Some("application/json; charset=utf-8"));
        let meta = head.metadata().expect("head: no user metadata");
        assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
        // S3 lower-cases user metadata keys.
        assert_eq!(
            meta.get("owner-team").map(String::as_str),
            Some("storage e2e")
        );
        assert_eq!(meta.len(), 2, "unexpected metadata: {meta:?}");

        let got = s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .expect("get_object");
        assert_eq!(got.content_type(), Some("application/json; charset=utf-8"));
        let meta = got.metadata().expect("get: no user metadata");
        assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
        assert_eq!(
            meta.get("owner-team").map(String::as_str),
            Some("storage e2e")
        );

        // No user metadata sent: none returned.
        s3.put_object()
            .bucket(BUCKET)
            .key("untyped")
            .body(ByteStream::from_static(b"raw"))
            .send()
            .await
            .expect("put_object");
        let head = s3
            .head_object()
            .bucket(BUCKET)
            .key("untyped")
            .send()
            .await
            .expect("head_object");
        assert!(
            head.metadata().is_none_or(|m| m.is_empty()),
            "unexpected metadata: {:?}",
            head.metadata()
        );
    })
    .await;
}

#[tokio::test]
async fn checksum_mode_enabled_returns_crc32() {
    bounded("checksum_mode_enabled_returns_crc32", async {
        let (_server, s3) = setup().await;
        let key = "checksummed.bin";
        let data = pattern(300_000, 7);
        let expected = crc32_b64(&data);
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .expect("put_object");

        let head = s3
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .expect("head_object");
        assert_eq!(head.checksum_crc32(), Some(expected.as_str()));

        // The SDK also validates the body against the returned checksum.
        let got = s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .expect("get_object");
        assert_eq!(got.checksum_crc32(), Some(expected.as_str()));
        let body = got.body.collect().await.expect("read body").into_bytes();
        assert!(body.as_ref() == data.as_slice(), "body differs");
    })
    .await;
}

#[tokio::test]
async fn range_get_returns_exact_bytes() {
    bounded("range_get_returns_exact_bytes", async {
        let (_server, s3) = setup().await;
        let data = b"0123456789abcdefghij";
        s3.put_object()
            .bucket(BUCKET)
            .key("ranged")
            .body(ByteStream::from_static(data))
            .send()
            .await
            .expect("put_object");

        let got = s3
            .get_object()
            .bucket(BUCKET)
            .key("ranged")
            .range("bytes=3-9")
            .send()
            .await
            .expect("ranged get_object");
        assert_eq!(got.content_range(), Some("bytes 3-9/20"));
        assert_eq!(got.content_length(), Some(7));
        let body = got.body.collect().await.expect("read body").into_bytes();
        assert_eq!(body.as_ref(), b"3456789");

        // Suffix range.
        let got = s3
            .get_object()
            .bucket(BUCKET)
            .key("ranged")
            .range("bytes=-4")
            .send()
            .await
            .expect("suffix-ranged get_object");
        assert_eq!(got.content_range(), Some("bytes 16-19/20"));
        let body = got.body.collect().await.expect("read body").into_bytes();
        assert_eq!(body.as_ref(), b"ghij");

        let err = s3
            .get_object()
            .bucket(BUCKET)
            .key("ranged")
            .range("bytes=20-30")
            .send()
            .await
            .expect_err("unsatisfiable range");
        assert_eq!(err.code(), Some("InvalidRange"), "{err:?}");
        assert_eq!(http_status(&err), 416);
    })
    .await;
}

#[tokio::test]
async fn conditional_get() {
    bounded("conditional_get", async {
        let (_server, s3) = setup().await;
        let put = s3
            .put_object()
            .bucket(BUCKET)
            .key("cond")
            .body(ByteStream::from_static(b"conditional body"))
            .send()
            .await
            .expect("put_object");
        let etag = put.e_tag().expect("ETag").to_string();

        let err = s3
            .get_object()
            .bucket(BUCKET)
            .key("cond")
            .if_none_match(&etag)
            .send()
            .await
            .expect_err("If-None-Match with the current ETag must not return the body");
        assert_eq!(http_status(&err), 304, "{err:?}");

        let got = s3
            .get_object()
            .bucket(BUCKET)
            .key("cond")
            .if_none_match("\"0123456789abcdef0123456789abcdef\"")
            .send()
            .await
            .expect("If-None-Match with another ETag");
        let body = got.body.collect().await.expect("read body").into_bytes();
        assert_eq!(body.as_ref(), b"conditional body");

        s3.get_object()
            .bucket(BUCKET)
            .key("cond")
            .if_match(&etag)
            .send()
            .await
            .expect("If-Match with the current ETag");

        let err = s3
            .get_object()
            .bucket(BUCKET)
            .key("cond")
            .if_match("\"0123456789abcdef0123456789abcdef\"")
            .send()
            .await
            .expect_err("If-Match with another ETag");
        assert_eq!(http_status(&err), 412, "{err:?}");
        assert_eq!(err.code(), Some("PreconditionFailed"), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn copy_object_with_unicode_source_key() {
    bounded("copy_object_with_unicode_source_key", async {
        let (_server, s3) = setup().await;
        let src = "données/été 2024/café ☕ + crème.txt";
        let dst = "copies/naïve 日本語.txt";
        let data = b"unicode keys survive copies";
        s3.put_object()
            .bucket(BUCKET)
            .key(src)
            .content_type("text/plain")
            .metadata("origin", "source")
            .body(ByteStream::from_static(data))
            .send()
            .await
            .expect("put_object unicode key");

        let copy = s3
            .copy_object()
            .bucket(BUCKET)
            .key(dst)
            .copy_source(format!("{BUCKET}/{}", url_encode_path(src)))
            .send()
            .await
            .expect("copy_object");
        let result = copy.copy_object_result().expect("CopyObjectResult");
        assert_eq!(result.e_tag(), Some(md5_etag(data).as_str()));
        assert!(result.last_modified().is_some());

        assert_eq!(get_bytes(&s3, dst).await, data);
        // The default metadata directive is COPY.
        let head = s3
            .head_object()
            .bucket(BUCKET)
            .key(dst)
            .send()
            .await
            .expect("head_object copy");
        assert_eq!(head.content_type(), Some("text/plain"));
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("origin"))
                .map(String::as_str),
            Some("source")
        );
        // The source is untouched.
        assert_eq!(get_bytes(&s3, src).await, data);

        let out = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect("list_objects_v2");
        let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, [dst, src]);
    })
    .await;
}

#[tokio::test]
async fn delete_objects_quiet() {
    bounded("delete_objects_quiet", async {
        let (_server, s3) = setup().await;
        let keys: Vec<String> = (0..10).map(|i| format!("batch/obj-{i:02}")).collect();
        for key in &keys {
            s3.put_object()
                .bucket(BUCKET)
                .key(key)
                .body(ByteStream::from(key.clone().into_bytes()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put_object {key}: {e:?}"));
        }
        let listed = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect("list_objects_v2");
        assert_eq!(listed.key_count(), Some(10));

        let objects = keys
            .iter()
            .map(|k| {
                ObjectIdentifier::builder()
                    .key(k)
                    .build()
                    .expect("identifier")
            })
            .collect::<Vec<_>>();
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .expect("Delete");
        let out = s3
            .delete_objects()
            .bucket(BUCKET)
            .delete(delete)
            .send()
            .await
            .expect("delete_objects");
        assert!(out.errors().is_empty(), "errors: {:?}", out.errors());
        assert!(
            out.deleted().is_empty(),
            "quiet mode must not list deleted keys: {:?}",
            out.deleted()
        );

        let listed = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect("list_objects_v2");
        assert_eq!(listed.key_count(), Some(0));
        assert!(listed.contents().is_empty(), "{:?}", listed.contents());
    })
    .await;
}
