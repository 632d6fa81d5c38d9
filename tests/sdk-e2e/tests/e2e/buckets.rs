use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

use crate::harness::{Server, bounded, http_status};

#[tokio::test]
async fn bucket_create_list_head_delete() {
    bounded("bucket_create_list_head_delete", async {
        let server = Server::start().await;
        let s3 = server.client();

        let out = s3.list_buckets().send().await.expect("list_buckets");
        assert!(
            out.buckets().is_empty(),
            "fresh server has buckets: {out:?}"
        );

        // Created out of order: ListBuckets returns them sorted by name.
        for bucket in ["e2e-beta", "e2e-alpha"] {
            s3.create_bucket()
                .bucket(bucket)
                .send()
                .await
                .unwrap_or_else(|e| panic!("create_bucket {bucket}: {e:?}"));
        }

        let out = s3.list_buckets().send().await.expect("list_buckets");
        let names: Vec<&str> = out.buckets().iter().filter_map(|b| b.name()).collect();
        assert_eq!(names, ["e2e-alpha", "e2e-beta"]);
        for b in out.buckets() {
            assert!(b.creation_date().is_some(), "no CreationDate: {b:?}");
        }

        let head = s3
            .head_bucket()
            .bucket("e2e-alpha")
            .send()
            .await
            .expect("head_bucket existing");
        assert_eq!(head.bucket_region(), Some("us-east-1"));

        let err = s3
            .head_bucket()
            .bucket("e2e-missing")
            .send()
            .await
            .expect_err("head_bucket of a missing bucket must fail");
        assert_eq!(http_status(&err), 404);
        assert!(err.into_service_error().is_not_found());

        s3.delete_bucket()
            .bucket("e2e-beta")
            .send()
            .await
            .expect("delete_bucket empty");

        let err = s3
            .head_bucket()
            .bucket("e2e-beta")
            .send()
            .await
            .expect_err("deleted bucket must be gone");
        assert_eq!(http_status(&err), 404);

        let out = s3.list_buckets().send().await.expect("list_buckets");
        let names: Vec<&str> = out.buckets().iter().filter_map(|b| b.name()).collect();
        assert_eq!(names, ["e2e-alpha"]);

        let err = s3
            .delete_bucket()
            .bucket("e2e-beta")
            .send()
            .await
            .expect_err("deleting a missing bucket must fail");
        assert_eq!(err.code(), Some("NoSuchBucket"), "{err:?}");
        assert_eq!(http_status(&err), 404);
    })
    .await;
}

#[tokio::test]
async fn delete_non_empty_bucket_is_bucket_not_empty() {
    bounded("delete_non_empty_bucket_is_bucket_not_empty", async {
        let server = Server::start().await;
        let s3 = server.client();
        let bucket = "e2e-full";

        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create_bucket");
        s3.put_object()
            .bucket(bucket)
            .key("keep-me")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .expect("put_object");

        let err = s3
            .delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect_err("deleting a non-empty bucket must fail");
        assert_eq!(err.code(), Some("BucketNotEmpty"), "{err:?}");
        assert_eq!(http_status(&err), 409);

        // Still there, object intact.
        s3.head_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("bucket survives");
        s3.head_object()
            .bucket(bucket)
            .key("keep-me")
            .send()
            .await
            .expect("object survives");

        s3.delete_object()
            .bucket(bucket)
            .key("keep-me")
            .send()
            .await
            .expect("delete_object");
        s3.delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("delete_bucket once empty");
    })
    .await;
}
