#[test]
fn stub() {
    let _ = aws_sdk_s3::Config::builder().build();
    let _ = aws_smithy_http_client::Builder::new().build_http();
}
