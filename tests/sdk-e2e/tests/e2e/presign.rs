use std::time::Duration;

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;

use crate::harness::{Server, bounded, raw_request};

/// Sends a presigned request with a plain HTTP/1.1 client (no SDK involved).
async fn fetch(server: &Server, req: &PresignedRequest, uri: &str) -> crate::harness::RawResponse {
    let path_and_query = uri
        .strip_prefix(&server.endpoint())
        .unwrap_or_else(|| panic!("presigned URI {uri} not under {}", server.endpoint()));
    let headers: Vec<(&str, &str)> = req.headers().collect();
    raw_request(server.addr(), req.method(), path_and_query, &headers)
        .await
        .expect("raw HTTP request")
}

#[tokio::test]
async fn presigned_get_with_plain_http_client() {
    bounded("presigned_get_with_plain_http_client", async {
        let server = Server::start().await;
        let s3 = server.client();
        let bucket = "e2e-presign";
        let key = "shared/hello world+1.txt";
        let data = b"fetched without the SDK";
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create_bucket");
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .content_type("text/plain")
            .body(ByteStream::from_static(data))
            .send()
            .await
            .expect("put_object");

        let presigned = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(
                PresigningConfig::expires_in(Duration::from_secs(300)).expect("presigning config"),
            )
            .await
            .expect("presign get_object");
        let uri = presigned.uri().to_string();
        assert!(
            uri.contains("X-Amz-Signature="),
            "not a query-signed URL: {uri}"
        );

        let resp = fetch(&server, &presigned, &uri).await;
        assert_eq!(
            resp.status,
            200,
            "presigned GET failed: {}",
            String::from_utf8_lossy(&resp.body)
        );
        assert_eq!(resp.body, data);
        assert_eq!(resp.header("content-type"), Some("text/plain"));

        // A tampered signature is rejected.
        let (base, sig) = uri.rsplit_once("X-Amz-Signature=").expect("signature");
        let (sig, rest) = sig.split_at(64.min(sig.len()));
        let flipped: String = sig
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    if c == '0' { '1' } else { '0' }
                } else {
                    c
                }
            })
            .collect();
        let tampered = format!("{base}X-Amz-Signature={flipped}{rest}");
        let resp = fetch(&server, &presigned, &tampered).await;
        assert_eq!(resp.status, 403, "tampered presigned URL must be rejected");
        let body = String::from_utf8_lossy(&resp.body);
        assert!(
            body.contains("<Code>SignatureDoesNotMatch</Code>"),
            "unexpected error body: {body}"
        );
    })
    .await;
}
