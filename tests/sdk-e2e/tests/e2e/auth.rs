use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

use crate::harness::{ACCESS_KEY, Server, bounded, http_status};

#[tokio::test]
async fn wrong_secret_key_is_signature_does_not_match() {
    bounded("wrong_secret_key_is_signature_does_not_match", async {
        let server = Server::start().await;
        server
            .client()
            .create_bucket()
            .bucket("e2e-auth")
            .send()
            .await
            .expect("create_bucket with the right keys");

        let bad = server.client_with(ACCESS_KEY, "definitely-not-the-secret-key");

        let err = bad
            .list_buckets()
            .send()
            .await
            .expect_err("wrong secret must be rejected");
        assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err:?}");
        assert_eq!(http_status(&err), 403);

        // Also for a streaming (aws-chunked, CRC32 trailer) upload.
        let err = bad
            .put_object()
            .bucket("e2e-auth")
            .key("nope")
            .body(ByteStream::from_static(b"should not be stored"))
            .send()
            .await
            .expect_err("wrong secret must be rejected");
        assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err:?}");
        assert_eq!(http_status(&err), 403);

        let listed = server
            .client()
            .list_objects_v2()
            .bucket("e2e-auth")
            .send()
            .await
            .expect("list_objects_v2");
        assert!(listed.contents().is_empty(), "rejected upload was stored");
    })
    .await;
}

#[tokio::test]
async fn unknown_access_key_is_invalid_access_key_id() {
    bounded("unknown_access_key_is_invalid_access_key_id", async {
        let server = Server::start().await;
        let err = server
            .client_with("NO-SUCH-ACCESS-KEY", "whatever")
            .list_buckets()
            .send()
            .await
            .expect_err("unknown access key must be rejected");
        assert_eq!(err.code(), Some("InvalidAccessKeyId"), "{err:?}");
        assert_eq!(http_status(&err), 403);
    })
    .await;
}
