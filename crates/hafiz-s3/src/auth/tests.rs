//! End-to-end tests: requests signed by aws-sigv4 (the Rust SDK's signer) and by botocore,
//! verified by [`authenticate`], plus aws-chunked bodies decoded by the streaming decoder.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity as SmithyIdentity;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::chunked::{AwsChunkedDecoder, ChunkSigning};
use super::*;
use crate::error::S3ErrorCode;

/// Decoded payload (or the error) and the trailers.
type Decoded = (Result<Vec<u8>, S3Error>, Vec<(String, String)>);

const AK: &str = "AKIDTEST";
const SK: &str = "test/secret+KEY";
const REGION: &str = "us-east-1";
const HOST: &str = "localhost:9000";

struct Keys;
impl SecretLookup for Keys {
    fn secret_key(&self, access_key: &str) -> Option<String> {
        match access_key {
            AK => Some(SK.to_string()),
            "AKIDBOTOCORE" => Some("botocore/secret+key".to_string()),
            _ => None,
        }
    }
}

/// 2024-05-17T12:34:56Z, the time every vector is signed at.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_715_949_296)
}

/// How the Rust SDK encodes an object key into the path (smithy greedy label: the AWS set
/// minus `/`).
fn sdk_key(key: &str) -> String {
    const GREEDY: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    utf8_percent_encode(key, GREEDY).to_string()
}

struct Sign<'a> {
    method: &'a str,
    /// Path and query exactly as they go on the wire.
    target: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: SignableBody<'a>,
    time: SystemTime,
    access_key: &'a str,
    presign: Option<Duration>,
    checksum_header: bool,
}

impl<'a> Sign<'a> {
    fn new(method: &'a str, target: &'a str) -> Self {
        Sign {
            method,
            target,
            headers: Vec::new(),
            body: SignableBody::Bytes(b""),
            time: t0(),
            access_key: AK,
            presign: None,
            checksum_header: true,
        }
    }

    /// Signs with aws-sigv4 using the settings the Rust S3 client uses; returns the request as
    /// it would be sent and the signature.
    fn run(self) -> (http::Request<()>, String) {
        let mut req = http::Request::builder()
            .method(self.method)
            .uri(format!("http://{HOST}{}", self.target))
            .header("host", HOST)
            .body(())
            .unwrap();
        for (k, v) in &self.headers {
            req.headers_mut().append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = if self.checksum_header {
            PayloadChecksumKind::XAmzSha256
        } else {
            PayloadChecksumKind::NoHeader
        };
        if let Some(exp) = self.presign {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(exp);
        }
        let identity: SmithyIdentity =
            Credentials::new(self.access_key, SK, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("s3")
            .time(self.time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let signable = SignableRequest::new(
            self.method,
            req.uri().to_string(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            self.body,
        )
        .unwrap();
        let (instructions, signature) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut req);
        (req, signature)
    }
}

fn auth_at(req: &http::Request<()>, now: SystemTime) -> S3Result<Authenticated> {
    authenticate(
        req.method(),
        req.uri().path(),
        req.uri().query(),
        req.headers(),
        REGION,
        now,
        &Keys,
    )
}

fn auth(req: &http::Request<()>) -> S3Result<Authenticated> {
    auth_at(req, t0() + Duration::from_secs(30))
}

fn code(r: S3Result<Authenticated>) -> S3ErrorCode {
    match r {
        Ok(a) => panic!("expected an error, got {a:?}"),
        Err(e) => e.code,
    }
}

fn assert_key(a: &Authenticated, ak: &str) {
    assert_eq!(a.identity, Identity::AccessKey(ak.to_string()));
}

const KEYS: &[&str] = &[
    "plain.txt",
    "with space/and more  spaces",
    "unicode/✓ café 日本",
    "plus+sign+",
    "percent%41%zz%",
    "double//slash/",
    "dot/../dot/./x",
    "..",
    "sub-delims!$&'()*,;=:@",
    "brackets[]{}<>|^`\\\"#?",
    "tilde~_-.",
];

#[test]
fn sdk_signed_object_keys() {
    for key in KEYS {
        for method in ["GET", "PUT", "DELETE", "HEAD"] {
            let target = format!("/bkt/{}", sdk_key(key));
            let mut s = Sign::new(method, &target);
            s.headers = vec![
                ("content-type", "text/plain"),
                ("x-amz-meta-note", "  a   b "),
            ];
            s.body = SignableBody::Bytes(b"hello");
            let (req, _) = s.run();
            let a = auth(&req).unwrap_or_else(|e| panic!("{method} {key}: {e:?}"));
            assert_key(&a, AK);
            match a.payload {
                PayloadCheck::Sha256(h) => assert_eq!(h, sigv4::sha256_hex(b"hello")),
                p => panic!("unexpected payload check {p:?}"),
            }
        }
    }
}

/// Paths a client put on the wire without encoding every reserved character; aws-sigv4 (as
/// every SDK in S3 mode) signs the path verbatim.
#[test]
fn sdk_signed_raw_paths() {
    for target in [
        "/bkt/a+b",
        "/bkt/a%2Bb",
        "/bkt/a%2fb%2F",
        "/bkt/%e2%9c%93",
        "/bkt//x//",
        "/bkt/../x/./",
        "/bkt/!$&'()*,;=:@",
        "/",
        "/bkt",
        "/bkt/",
    ] {
        let (req, _) = Sign::new("GET", target).run();
        assert_eq!(req.uri().path(), target);
        auth(&req).unwrap_or_else(|e| panic!("{target}: {e:?}"));
    }
}

#[test]
fn sdk_signed_queries() {
    for query in [
        "uploads",
        "acl",
        "tagging&versionId=3",
        "uploadId=abc%2Fdef%2B&partNumber=7",
        "partNumber=7&uploadId=abc",
        "list-type=2&prefix=a%20b%2Bc%2F%C3%A9&delimiter=%2F&encoding-type=url",
        "prefix=a+b",
        "prefix=a%2bb&marker=%7e",
        "versionId=&delete",
        "x-id=GetObject&response-content-disposition=attachment%3B%20filename%3D%22a.txt%22",
        "k=v2&k=v1&k=v10",
    ] {
        let target = format!("/bkt/key?{query}");
        let (req, _) = Sign::new("POST", &target).run();
        auth(&req).unwrap_or_else(|e| panic!("{query}: {e:?}"));
    }
}

#[test]
fn tampering_fails() {
    let mut s = Sign::new("PUT", "/bkt/key?partNumber=1&uploadId=u");
    s.headers = vec![("content-type", "text/plain"), ("x-amz-meta-a", "1")];
    let (req, _) = s.run();
    auth(&req).unwrap();

    let mut r = req.clone();
    r.headers_mut()
        .insert("content-type", "text/html".parse().unwrap());
    assert_eq!(code(auth(&r)), S3ErrorCode::SignatureDoesNotMatch);

    let mut r = req.clone();
    r.headers_mut().insert("x-amz-meta-a", "2".parse().unwrap());
    let e = auth(&r).unwrap_err();
    assert_eq!(e.code, S3ErrorCode::SignatureDoesNotMatch);
    assert!(
        e.extra
            .iter()
            .any(|(k, v)| *k == "CanonicalRequest" && v.contains("x-amz-meta-a:2"))
    );

    let mut r = req.clone();
    r.headers_mut()
        .insert("host", "otherhost:9000".parse().unwrap());
    assert_eq!(code(auth(&r)), S3ErrorCode::SignatureDoesNotMatch);

    let mut r = req.clone();
    *r.method_mut() = http::Method::POST;
    assert_eq!(code(auth(&r)), S3ErrorCode::SignatureDoesNotMatch);

    for target in [
        "/bkt/key2?partNumber=1&uploadId=u",
        "/bkt/key?partNumber=2&uploadId=u",
        "/bkt/key?partNumber=1",
    ] {
        let mut r = req.clone();
        *r.uri_mut() = format!("http://{HOST}{target}").parse().unwrap();
        assert_eq!(
            code(auth(&r)),
            S3ErrorCode::SignatureDoesNotMatch,
            "{target}"
        );
    }

    // A signed header that disappeared.
    let mut r = req.clone();
    r.headers_mut().remove("x-amz-meta-a");
    assert_eq!(code(auth(&r)), S3ErrorCode::SignatureDoesNotMatch);

    // An x-amz-* header added after signing.
    let mut r = req.clone();
    r.headers_mut()
        .insert("x-amz-acl", "public-read".parse().unwrap());
    let e = auth(&r).unwrap_err();
    assert_eq!(e.code, S3ErrorCode::AccessDenied);
    assert_eq!(e.extra, vec![("HeadersNotSigned", "x-amz-acl".to_string())]);

    // The payload hash is bound by the signature.
    let mut r = req.clone();
    r.headers_mut()
        .insert(X_AMZ_CONTENT_SHA256, UNSIGNED_PAYLOAD.parse().unwrap());
    assert_eq!(code(auth(&r)), S3ErrorCode::SignatureDoesNotMatch);

    // A flipped signature.
    let mut r = req.clone();
    let value = r.headers()["authorization"].to_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        &value[..value.len() - 1],
        if value.ends_with('0') { '1' } else { '0' }
    );
    r.headers_mut()
        .insert("authorization", flipped.parse().unwrap());
    assert_eq!(code(auth(&r)), S3ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn credential_and_time_errors() {
    let mut s = Sign::new("GET", "/bkt/key");
    s.access_key = "AKIDUNKNOWN";
    let (req, _) = s.run();
    let e = auth(&req).unwrap_err();
    assert_eq!(e.code, S3ErrorCode::InvalidAccessKeyId);
    assert_eq!(e.extra, vec![("AWSAccessKeyId", "AKIDUNKNOWN".to_string())]);

    let (req, _) = Sign::new("GET", "/bkt/key").run();
    assert!(auth_at(&req, t0() + Duration::from_secs(15 * 60)).is_ok());
    assert!(auth_at(&req, t0() - Duration::from_secs(15 * 60)).is_ok());
    for now in [
        t0() + Duration::from_secs(16 * 60),
        t0() - Duration::from_secs(16 * 60),
    ] {
        let e = auth_at(&req, now).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::RequestTimeTooSkewed);
        assert!(
            e.extra
                .contains(&("RequestTime", "20240517T123456Z".to_string()))
        );
    }

    let e = authenticate(
        req.method(),
        req.uri().path(),
        req.uri().query(),
        req.headers(),
        "eu-west-1",
        t0(),
        &Keys,
    )
    .unwrap_err();
    assert_eq!(e.code, S3ErrorCode::AuthorizationHeaderMalformed);
    assert!(e.message.contains("expecting 'eu-west-1'"), "{}", e.message);
    assert_eq!(e.extra, vec![("Region", "eu-west-1".to_string())]);

    // x-amz-date that does not match the credential date.
    let mut r = req.clone();
    r.headers_mut()
        .insert("x-amz-date", "20240518T000000Z".parse().unwrap());
    let midnight = t0() + Duration::from_secs(11 * 3600 + 25 * 60 + 4);
    assert_eq!(
        code(auth_at(&r, midnight)),
        S3ErrorCode::AuthorizationHeaderMalformed
    );
    // Skew is reported first, as AWS does.
    assert_eq!(code(auth(&r)), S3ErrorCode::RequestTimeTooSkewed);
    // Before the epoch: an invalid date, not a skewed one.
    let mut r = req.clone();
    r.headers_mut()
        .insert("x-amz-date", "19500707T215304Z".parse().unwrap());
    assert_eq!(code(auth(&r)), S3ErrorCode::AccessDenied);
    let mut r = req.clone();
    r.headers_mut()
        .insert("x-amz-date", "yesterday".parse().unwrap());
    assert_eq!(code(auth(&r)), S3ErrorCode::AccessDenied);
    let mut r = req.clone();
    r.headers_mut().remove("x-amz-date");
    let e = auth(&r).unwrap_err();
    assert_eq!(e.code, S3ErrorCode::AccessDenied);
    assert!(e.message.contains("Date or x-amz-date"));
}

#[test]
fn payload_hash_header() {
    let mut s = Sign::new("GET", "/bkt/key");
    s.checksum_header = false;
    let (req, _) = s.run();
    let e = auth(&req).unwrap_err();
    assert_eq!(e.code, S3ErrorCode::InvalidRequest);
    assert_eq!(
        e.message,
        "Missing required header for this request: x-amz-content-sha256"
    );

    let mut s = Sign::new("PUT", "/bkt/key");
    s.body = SignableBody::UnsignedPayload;
    let (req, _) = s.run();
    assert!(matches!(
        auth(&req).unwrap().payload,
        PayloadCheck::Unsigned
    ));

    let mut s = Sign::new("PUT", "/bkt/key");
    s.body = SignableBody::Precomputed("not-a-hash".into());
    let (req, _) = s.run();
    assert_eq!(code(auth(&req)), S3ErrorCode::InvalidArgument);

    let mut s = Sign::new("PUT", "/bkt/key");
    s.body = SignableBody::StreamingUnsignedPayloadTrailer;
    s.headers = vec![
        ("content-encoding", "aws-chunked"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ];
    let (req, _) = s.run();
    assert!(matches!(
        auth(&req).unwrap().payload,
        PayloadCheck::Chunked(ChunkSigning::Unsigned { trailer: true })
    ));

    let mut s = Sign::new("PUT", "/bkt/key");
    s.body = SignableBody::StreamingSignedPayloadTrailer;
    let (req, sig) = s.run();
    match auth(&req).unwrap().payload {
        PayloadCheck::Chunked(ChunkSigning::Signed {
            seed_signature,
            amz_date,
            scope,
            trailer,
            ..
        }) => {
            assert_eq!(seed_signature, sig);
            assert_eq!(amz_date, "20240517T123456Z");
            assert_eq!(scope, "20240517/us-east-1/s3/aws4_request");
            assert!(trailer);
        }
        p => panic!("{p:?}"),
    }
}

#[test]
fn anonymous_and_mixed() {
    let mut h = http::HeaderMap::new();
    h.insert("host", HOST.parse().unwrap());
    let a = authenticate(
        &http::Method::GET,
        "/bkt/k",
        Some("acl"),
        &h,
        REGION,
        t0(),
        &Keys,
    )
    .unwrap();
    assert_eq!(a.identity, Identity::Anonymous);
    assert!(matches!(a.payload, PayloadCheck::Unsigned));

    h.insert(
        X_AMZ_CONTENT_SHA256,
        STREAMING_UNSIGNED_PAYLOAD_TRAILER.parse().unwrap(),
    );
    let a = authenticate(&http::Method::PUT, "/bkt/k", None, &h, REGION, t0(), &Keys).unwrap();
    assert!(matches!(
        a.payload,
        PayloadCheck::Chunked(ChunkSigning::Unsigned { trailer: true })
    ));

    // SigV2 is not supported.
    let e = authenticate(
        &http::Method::GET,
        "/bkt/k",
        Some("AWSAccessKeyId=AK&Signature=abc%3D&Expires=1795521597"),
        &h,
        REGION,
        t0(),
        &Keys,
    )
    .unwrap_err();
    assert_eq!(e.code, S3ErrorCode::InvalidRequest);
    h.insert("authorization", "AWS AK:c2ln".parse().unwrap());
    assert_eq!(
        authenticate(&http::Method::GET, "/bkt/k", None, &h, REGION, t0(), &Keys)
            .unwrap_err()
            .code,
        S3ErrorCode::InvalidRequest
    );

    // Header and query auth together.
    let (req, _) = Sign::new("GET", "/bkt/key?X-Amz-Signature=abc").run();
    assert_eq!(code(auth(&req)), S3ErrorCode::InvalidArgument);
}

#[test]
fn presigned_urls() {
    for key in KEYS {
        let target = format!(
            "/bkt/{}?versionId=v%2B1&response-content-type=text%2Fplain",
            sdk_key(key)
        );
        let mut s = Sign::new("GET", &target);
        s.body = SignableBody::UnsignedPayload;
        s.presign = Some(Duration::from_secs(3600));
        let (req, _) = s.run();
        assert!(req.uri().query().unwrap().contains("X-Amz-Signature="));
        assert!(req.headers().get("authorization").is_none());
        let a = auth_at(&req, t0() + Duration::from_secs(3599))
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        assert_key(&a, AK);
        assert!(matches!(a.payload, PayloadCheck::Unsigned));

        let e = auth_at(&req, t0() + Duration::from_secs(3601)).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
        assert_eq!(e.message, "Request has expired");
        assert!(
            e.extra
                .contains(&("Expires", "2024-05-17T13:34:56Z".to_string()))
        );

        let e = auth_at(&req, t0() - Duration::from_secs(20 * 60)).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
    }

    let mut s = Sign::new("PUT", "/bkt/k?uploadId=x&partNumber=3");
    s.body = SignableBody::UnsignedPayload;
    s.presign = Some(Duration::from_secs(604_800));
    s.headers = vec![("x-amz-acl", "private")];
    let (req, _) = s.run();
    auth_at(&req, t0() + Duration::from_secs(604_000)).unwrap();

    // Tampered query (expiry extended) and unknown key.
    let q = req
        .uri()
        .query()
        .unwrap()
        .replace("X-Amz-Expires=604800", "X-Amz-Expires=604799");
    let mut r = req.clone();
    *r.uri_mut() = format!("http://{HOST}/bkt/k?{q}").parse().unwrap();
    assert_eq!(code(auth(&r)), S3ErrorCode::SignatureDoesNotMatch);
    let q = req.uri().query().unwrap().replace(AK, "AKIDUNKNOWN");
    let mut r = req.clone();
    *r.uri_mut() = format!("http://{HOST}/bkt/k?{q}").parse().unwrap();
    assert_eq!(code(auth(&r)), S3ErrorCode::InvalidAccessKeyId);
    // An unsigned x-amz-* header.
    let mut r = req.clone();
    r.headers_mut().insert("x-amz-meta-x", "1".parse().unwrap());
    assert_eq!(code(auth(&r)), S3ErrorCode::AccessDenied);
    // Too long a validity.
    let q = req
        .uri()
        .query()
        .unwrap()
        .replace("X-Amz-Expires=604800", "X-Amz-Expires=604801");
    let mut r = req.clone();
    *r.uri_mut() = format!("http://{HOST}/bkt/k?{q}").parse().unwrap();
    assert_eq!(
        code(auth(&r)),
        S3ErrorCode::AuthorizationQueryParametersError
    );
}

// ---------------------------------------------------------------------------------------
// botocore vectors: produced by src/auth/testdata/botocore_vectors.py (botocore 1.43.11, credentials
// AKIDBOTOCORE / "botocore/secret+key", time 2024-05-17T12:34:56Z).

fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> http::Request<()> {
    let mut req = http::Request::builder()
        .method(method)
        .uri(url)
        .body(())
        .unwrap();
    let host = req.uri().authority().unwrap().as_str().to_string();
    req.headers_mut().insert("host", host.parse().unwrap());
    for (k, v) in headers {
        req.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    req
}

#[test]
fn botocore_header_signed_put() {
    let req = request(
        "PUT",
        "http://localhost:9000/bkt/dir/my%20key%2Bplus%21%E2%9C%93/~x?partNumber=3&uploadId=a%2Fb%2Bc",
        &[
            ("Content-Type", "text/plain"),
            ("x-amz-meta-Foo", "  a   b  "),
            ("X-Amz-Date", "20240517T123456Z"),
            (
                "X-Amz-Content-SHA256",
                "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
            ),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDBOTOCORE/20240517/us-east-1/s3/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-foo, Signature=4e38df7b0ed8234ea28550be1dc5900d0cd7caa00cd862578ae7b3f0b14ca2fb",
            ),
        ],
    );
    let a = auth(&req).unwrap();
    assert_key(&a, "AKIDBOTOCORE");
    assert!(
        matches!(&a.payload, PayloadCheck::Sha256(h) if *h == sigv4::sha256_hex(b"hello world"))
    );
}

#[test]
fn botocore_date_header() {
    let req = request(
        "GET",
        "http://localhost:9000/bkt/k?acl",
        &[
            ("Date", "Fri, 17 May 2024 12:34:56 -0000"),
            (
                "X-Amz-Content-SHA256",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDBOTOCORE/20240517/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256, Signature=75b708325d92fe61a22915cfcc4a4554a92f3fdfd58c0bf28cfcaa5ee55de291",
            ),
        ],
    );
    assert_key(&auth(&req).unwrap(), "AKIDBOTOCORE");
}

#[test]
fn botocore_list_objects_v2() {
    let req = request(
        "GET",
        "https://localhost:9000/bkt?list-type=2&prefix=a%20b%2Bc%2F%C3%A9%3D%26x&delimiter=%2F&start-after=k%2A%27%28%29%21&encoding-type=url",
        &[
            (
                "User-Agent",
                "Botocore/1.43.11 ua/2.1 os/linux md/arch#x86_64 lang/python#3.11.7",
            ),
            ("X-Amz-Date", "20240517T123456Z"),
            (
                "X-Amz-Content-SHA256",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDBOTOCORE/20240517/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=694fc768454a126fd2bf1c38c03dc6e570fab2958f948dbfbfe589ad4adaf257",
            ),
            (
                "amz-sdk-invocation-id",
                "48ddb39c-ca2a-4450-a7b5-f35f92be7e4b",
            ),
            ("amz-sdk-request", "attempt=1"),
        ],
    );
    assert_key(&auth(&req).unwrap(), "AKIDBOTOCORE");
}

#[test]
fn botocore_presigned() {
    let get = request(
        "GET",
        "https://localhost:9000/bkt/some%20key%2B1.txt?versionId=v1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDBOTOCORE%2F20240517%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240517T123456Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=5fb8a05874f7bee329711cbcfa164fc875402998f117e7c9161bd97b4eb589aa",
        &[],
    );
    assert_key(&auth(&get).unwrap(), "AKIDBOTOCORE");
    assert_eq!(
        auth_at(&get, t0() + Duration::from_secs(3601))
            .unwrap_err()
            .message,
        "Request has expired"
    );

    let put = request(
        "PUT",
        "https://localhost:9000/bkt/dir/a%20b%2Bc~%21%281%29.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDBOTOCORE%2F20240517%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240517T123456Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=3a59096d25ba6658356b581306ef019878c24faab40f1a09ff3bbfd56e4d7136",
        &[("content-length", "5")],
    );
    assert_key(&auth(&put).unwrap(), "AKIDBOTOCORE");
    assert_eq!(
        code(auth_at(&put, t0() + Duration::from_secs(901))),
        S3ErrorCode::AccessDenied
    );

    // botocore's default (SigV2) presigned URL.
    let v2 = request(
        "PUT",
        "https://localhost:9000/bkt/dir/a%20b%2Bc~%21%281%29.txt?AWSAccessKeyId=AKIDBOTOCORE&Signature=biztbs%2FatREiO8vV9TquZfevA18%3D&Expires=1795521597",
        &[],
    );
    assert_eq!(code(auth(&v2)), S3ErrorCode::InvalidRequest);
}

/// botocore's PutObject over https: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc32 trailer.
#[test]
fn botocore_put_object_unsigned_trailer() {
    let req = request(
        "PUT",
        "https://localhost:9000/bkt/a%20b%2Bc/d",
        &[
            ("User-Agent", "Botocore/1.43.11"),
            ("Expect", "100-continue"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Encoding", "aws-chunked"),
            ("X-Amz-Trailer", "x-amz-checksum-crc32"),
            ("X-Amz-Decoded-Content-Length", "23"),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ("X-Amz-Date", "20240517T123456Z"),
            ("X-Amz-Content-SHA256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDBOTOCORE/20240517/us-east-1/s3/aws4_request, SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-sdk-checksum-algorithm;x-amz-trailer, Signature=70afbc514c13057972ff643c578ae4ba1f3fed5f6649bca4c46919c3b8574320",
            ),
            (
                "amz-sdk-invocation-id",
                "ef3d9784-6e28-4de1-b33b-3ba69c0f9842",
            ),
            ("amz-sdk-request", "attempt=1"),
        ],
    );
    let a = auth(&req).unwrap();
    assert_key(&a, "AKIDBOTOCORE");
    let PayloadCheck::Chunked(signing) = a.payload else {
        panic!("{:?}", a.payload)
    };
    let body = b"17\r\nhello aws-chunked world\r\n0\r\nx-amz-checksum-crc32:BUkbhQ==\r\n\r\n";
    let (data, trailers) = decode_all(one_byte_pieces(body), signing.clone(), Some(23));
    assert_eq!(data.unwrap(), b"hello aws-chunked world");
    assert_eq!(
        trailers,
        vec![("x-amz-checksum-crc32".to_string(), "BUkbhQ==".to_string())]
    );
}

// ---------------------------------------------------------------------------------------
// Signed aws-chunked bodies.

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn decode_all(pieces: Vec<Bytes>, signing: ChunkSigning, expected: Option<u64>) -> Decoded {
    let input = stream::iter(pieces.into_iter().map(Ok::<_, std::convert::Infallible>));
    let mut dec = AwsChunkedDecoder::new(input, signing);
    if let Some(len) = expected {
        dec = dec.expect_decoded_length(len);
    }
    let handle = dec.trailers();
    let result = block_on(async {
        let mut out = Vec::new();
        while let Some(item) = dec.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => {
                    assert!(dec.next().await.is_none());
                    return Err(e);
                }
            }
        }
        Ok(out)
    });
    (result, handle.get())
}

/// The body as 1-byte pieces.
fn one_byte_pieces(body: &[u8]) -> Vec<Bytes> {
    body.iter().map(|b| Bytes::copy_from_slice(&[*b])).collect()
}

/// The body cut in two at every offset, and in three around every offset.
fn all_splits(body: &[u8]) -> impl Iterator<Item = Vec<Bytes>> + '_ {
    (0..=body.len()).flat_map(move |i| {
        let two = vec![
            Bytes::copy_from_slice(&body[..i]),
            Bytes::copy_from_slice(&body[i..]),
        ];
        // Also a three-way split around i (catches state carried over two boundaries).
        let j = (i + 3).min(body.len());
        let three = vec![
            Bytes::copy_from_slice(&body[..i]),
            Bytes::copy_from_slice(&body[i..j]),
            Bytes::copy_from_slice(&body[j..]),
        ];
        [two, three]
    })
}

/// A signed-chunk encoder using the documented string-to-sign, cross-checked against
/// aws-sigv4's `sign_chunk`/`sign_trailer`.
struct ChunkEncoder {
    key: Vec<u8>,
    amz_date: String,
    scope: String,
    prev: String,
    identity: SmithyIdentity,
}

impl ChunkEncoder {
    fn new(seed: &str) -> Self {
        let secret = SK;
        let key = v4::generate_signing_key(secret, t0(), REGION, "s3")
            .as_ref()
            .to_vec();
        ChunkEncoder {
            key,
            amz_date: "20240517T123456Z".into(),
            scope: "20240517/us-east-1/s3/aws4_request".into(),
            prev: seed.into(),
            identity: Credentials::new(AK, SK, None, None, "test").into(),
        }
    }

    fn chunk(&mut self, data: &[u8]) -> Vec<u8> {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.prev,
            sigv4::sha256_hex(b""),
            sigv4::sha256_hex(data)
        );
        let sig = v4::calculate_signature(&self.key, sts.as_bytes());
        let params = v4::SigningParams::<()>::builder()
            .identity(&self.identity)
            .region(REGION)
            .name("s3")
            .time(t0())
            .settings(())
            .build()
            .unwrap();
        let theirs = v4::sign_chunk(&Bytes::copy_from_slice(data), &self.prev, &params).unwrap();
        assert_eq!(
            theirs.signature(),
            sig,
            "documented chunk string-to-sign matches aws-sigv4"
        );
        self.prev = sig.clone();
        let mut out = format!("{:x};chunk-signature={sig}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        if !data.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn trailer(&mut self, trailers: &[(&str, &str)]) -> Vec<u8> {
        let mut canonical = String::new();
        let mut wire = String::new();
        for (k, v) in trailers {
            canonical.push_str(&format!("{k}:{v}\n"));
            wire.push_str(&format!("{k}:{v}\r\n"));
        }
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.prev,
            sigv4::sha256_hex(canonical.as_bytes())
        );
        let sig = v4::calculate_signature(&self.key, sts.as_bytes());
        let mut headers = aws_smithy_runtime_api::http::Headers::new();
        for (k, v) in trailers {
            headers.insert(k.to_string(), v.to_string());
        }
        let params = v4::SigningParams::<()>::builder()
            .identity(&self.identity)
            .region(REGION)
            .name("s3")
            .time(t0())
            .settings(())
            .build()
            .unwrap();
        let theirs = v4::sign_trailer(&headers, &self.prev, &params).unwrap();
        assert_eq!(
            theirs.signature(),
            sig,
            "documented trailer string-to-sign matches aws-sigv4"
        );
        wire.push_str(&format!("x-amz-trailer-signature:{sig}\r\n\r\n"));
        wire.into_bytes()
    }
}

fn signed_streaming_request(trailer: bool) -> (ChunkSigning, String) {
    let mut s = Sign::new("PUT", "/bkt/big%20object");
    s.body = if trailer {
        SignableBody::StreamingSignedPayloadTrailer
    } else {
        SignableBody::Precomputed(STREAMING_SIGNED_PAYLOAD.to_string())
    };
    s.headers = vec![
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "70"),
    ];
    if trailer {
        s.headers.push(("x-amz-trailer", "x-amz-checksum-crc32c"));
    }
    let (req, seed) = s.run();
    let a = auth(&req).unwrap();
    let PayloadCheck::Chunked(signing) = a.payload else {
        panic!("{:?}", a.payload)
    };
    assert!(matches!(&signing, ChunkSigning::Signed { trailer: t, .. } if *t == trailer));
    (signing, seed)
}

const PAYLOAD: &[u8] = b"The quick brown fox jumps over the lazy dog, 0123456789 ABCDEFGHIJKLMN";

fn signed_body(seed: &str, trailers: Option<&[(&str, &str)]>) -> Vec<u8> {
    let mut enc = ChunkEncoder::new(seed);
    let mut body = Vec::new();
    for piece in [&PAYLOAD[..32], &PAYLOAD[32..64], &PAYLOAD[64..]] {
        body.extend(enc.chunk(piece));
    }
    body.extend(enc.chunk(b""));
    match trailers {
        Some(t) => body.extend(enc.trailer(t)),
        None => body.extend_from_slice(b"\r\n"),
    }
    body
}

#[test]
fn signed_chunks_decode_at_every_split() {
    assert_eq!(PAYLOAD.len(), 70);
    let (signing, seed) = signed_streaming_request(false);
    let body = signed_body(&seed, None);
    for pieces in all_splits(&body).chain([one_byte_pieces(&body)]) {
        let (data, trailers) = decode_all(pieces, signing.clone(), Some(70));
        assert_eq!(data.unwrap(), PAYLOAD);
        assert!(trailers.is_empty());
    }
}

#[test]
fn signed_chunks_with_signed_trailer() {
    let (signing, seed) = signed_streaming_request(true);
    let body = signed_body(&seed, Some(&[("x-amz-checksum-crc32c", "sOO8/Q==")]));
    for pieces in all_splits(&body).chain([one_byte_pieces(&body)]) {
        let (data, trailers) = decode_all(pieces, signing.clone(), Some(70));
        assert_eq!(data.unwrap(), PAYLOAD);
        assert_eq!(
            trailers,
            vec![("x-amz-checksum-crc32c".to_string(), "sOO8/Q==".to_string())]
        );
    }
    // A modified trailer value fails the trailer signature.
    let text = String::from_utf8(body.clone())
        .unwrap()
        .replace("sOO8/Q==", "sOO8/Q=A");
    let (data, _) = decode_all(vec![Bytes::from(text)], signing.clone(), None);
    assert_eq!(data.unwrap_err().code, S3ErrorCode::SignatureDoesNotMatch);
    // A missing trailer signature fails too.
    let text = String::from_utf8(body).unwrap();
    let cut = text.find("x-amz-trailer-signature").unwrap();
    let stripped = format!("{}\r\n", &text[..cut]);
    let (data, _) = decode_all(vec![Bytes::from(stripped)], signing, None);
    assert_eq!(data.unwrap_err().code, S3ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn signed_chunks_tampered() {
    let (signing, seed) = signed_streaming_request(false);
    let body = signed_body(&seed, None);
    let text = String::from_utf8(body.clone()).unwrap();

    // Corrupt each chunk signature in turn (one hex digit).
    let mut start = 0;
    let mut found = 0;
    while let Some(pos) = text[start..].find("chunk-signature=") {
        let at = start + pos + "chunk-signature=".len();
        let mut bad = body.clone();
        bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
        let (data, _) = decode_all(vec![Bytes::from(bad)], signing.clone(), None);
        assert_eq!(data.unwrap_err().code, S3ErrorCode::SignatureDoesNotMatch);
        start = at;
        found += 1;
    }
    assert_eq!(found, 4);

    // Flip a payload byte.
    let mut bad = body.clone();
    let at = text.find("quick").unwrap();
    bad[at] = b'Q';
    let (data, _) = decode_all(vec![Bytes::from(bad)], signing.clone(), None);
    assert_eq!(data.unwrap_err().code, S3ErrorCode::SignatureDoesNotMatch);

    // Chunks reordered / dropped: the chain breaks.
    let chunks: Vec<&str> = text.split_inclusive("\r\n").collect();
    let dropped: String = chunks[..2].iter().chain(&chunks[4..]).copied().collect();
    let (data, _) = decode_all(vec![Bytes::from(dropped)], signing.clone(), None);
    assert_eq!(data.unwrap_err().code, S3ErrorCode::SignatureDoesNotMatch);

    // Signed with another seed.
    let other = signed_body(&"0".repeat(64), None);
    let (data, _) = decode_all(vec![Bytes::from(other)], signing.clone(), None);
    assert_eq!(data.unwrap_err().code, S3ErrorCode::SignatureDoesNotMatch);

    // Missing chunk-signature in signed mode.
    let (data, _) = decode_all(vec![Bytes::from_static(b"3\r\nabc\r\n")], signing, None);
    assert_eq!(data.unwrap_err().code, S3ErrorCode::InvalidRequest);
}

#[test]
fn signed_chunks_truncated() {
    let (signing, seed) = signed_streaming_request(true);
    let body = signed_body(&seed, Some(&[("x-amz-checksum-crc32c", "sOO8/Q==")]));
    for len in 0..body.len() {
        let (data, _) = decode_all(
            vec![Bytes::copy_from_slice(&body[..len])],
            signing.clone(),
            None,
        );
        let e = data.unwrap_err();
        assert_eq!(e.code, S3ErrorCode::IncompleteBody, "cut at {len}: {e:?}");
    }
}

/// Arbitrary bytes never panic, and always end in Ok or one error.
#[test]
fn garbage_never_panics() {
    let (signing, seed) = signed_streaming_request(true);
    let body = signed_body(&seed, Some(&[("x-amz-checksum-crc32c", "sOO8/Q==")]));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut b = body.clone();
        for _ in 0..(rnd() % 4 + 1) {
            let i = (rnd() as usize) % b.len();
            b[i] = rnd() as u8;
        }
        let cut = (rnd() as usize) % (b.len() + 1);
        b.truncate(cut.max(b.len() / 2));
        let pieces: Vec<Bytes> = b
            .chunks((rnd() % 7 + 1) as usize)
            .map(Bytes::copy_from_slice)
            .collect();
        let _ = decode_all(pieces.clone(), signing.clone(), None);
        let _ = decode_all(pieces, ChunkSigning::Unsigned { trailer: true }, Some(70));
    }
}

#[tokio::test]
async fn decoder_with_async_body() {
    let (signing, seed) = signed_streaming_request(false);
    let body = signed_body(&seed, None);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(1);
    let feeder = tokio::spawn(async move {
        for piece in body.chunks(5) {
            tx.send(Ok(Bytes::copy_from_slice(piece))).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let input =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) });
    let mut dec = AwsChunkedDecoder::new(Box::pin(input), signing);
    let mut out = Vec::new();
    while let Some(item) = dec.next().await {
        out.extend_from_slice(&item.unwrap());
    }
    feeder.await.unwrap();
    assert_eq!(out, PAYLOAD);
}

/// Signs a hand-written canonical request (for clients whose canonical form differs from
/// aws-sigv4's) and returns the `Authorization` value.
fn sign_canonical(canonical_request: &str, signed_headers: &str) -> String {
    let sts = format!(
        "AWS4-HMAC-SHA256\n20240517T123456Z\n20240517/us-east-1/s3/aws4_request\n{}",
        sigv4::sha256_hex(canonical_request.as_bytes())
    );
    let key = v4::generate_signing_key(SK, t0(), REGION, "s3");
    let sig = v4::calculate_signature(key, sts.as_bytes());
    format!(
        "AWS4-HMAC-SHA256 Credential={AK}/20240517/us-east-1/s3/aws4_request, SignedHeaders={signed_headers}, Signature={sig}"
    )
}

/// The fallback canonical forms: a spec-literal client that re-encodes the path, and
/// botocore's verbatim query for hand-written URLs.
#[test]
fn alternative_canonical_forms() {
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let check = |raw: &str, c_uri: &str, c_query: &str| {
        let canonical = format!(
            "GET\n{c_uri}\n{c_query}\nhost:{HOST}\nx-amz-content-sha256:{EMPTY}\nx-amz-date:20240517T123456Z\n\nhost;x-amz-content-sha256;x-amz-date\n{EMPTY}"
        );
        let req = request(
            "GET",
            &format!("http://{HOST}{raw}"),
            &[
                ("x-amz-date", "20240517T123456Z"),
                ("x-amz-content-sha256", EMPTY),
                (
                    "authorization",
                    &sign_canonical(&canonical, "host;x-amz-content-sha256;x-amz-date"),
                ),
            ],
        );
        auth(&req).map(|_| ())
    };
    // Raw reserved characters in the path, signed re-encoded (Go's EscapedPath, MinIO clients).
    check("/bkt/a+b(1)!", "/bkt/a%2Bb%281%29%21", "").unwrap();
    check("/bkt/%e2%9c%93", "/bkt/%E2%9C%93", "").unwrap();
    // `+` in a path is never a space.
    assert_eq!(
        check("/bkt/a+b", "/bkt/a%20b", "").unwrap_err().code,
        S3ErrorCode::SignatureDoesNotMatch
    );
    // botocore keeps a hand-written query verbatim (sorted, never re-encoded).
    check(
        "/bkt?prefix=a+b&delimiter=%2f",
        "/bkt",
        "delimiter=%2f&prefix=a+b",
    )
    .unwrap();
    // Spec-literal: `+` decoded as a literal plus.
    check("/bkt?prefix=a+b", "/bkt", "prefix=a%2Bb").unwrap();
    // Form decoding (aws-sigv4, AWS): `+` is a space.
    check("/bkt?prefix=a+b", "/bkt", "prefix=a%20b").unwrap();
    assert_eq!(
        check("/bkt?prefix=a+b", "/bkt", "prefix=a%2520b")
            .unwrap_err()
            .code,
        S3ErrorCode::SignatureDoesNotMatch
    );
}

/// `iam`/`sts` scopes without x-amz-content-sha256 use the caller-supplied body hash.
#[test]
fn non_s3_service_with_body_hash() {
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let hash = sigv4::sha256_hex(body);
    let mut req = request(
        "POST",
        &format!("http://{HOST}/"),
        &[
            ("x-amz-date", "20240517T123456Z"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
    );
    let canonical = format!(
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:{HOST}\nx-amz-date:20240517T123456Z\n\ncontent-type;host;x-amz-date\n{hash}"
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n20240517T123456Z\n20240517/us-east-1/sts/aws4_request\n{}",
        sigv4::sha256_hex(canonical.as_bytes())
    );
    let sig = v4::calculate_signature(
        v4::generate_signing_key(SK, t0(), REGION, "sts"),
        sts.as_bytes(),
    );
    let value = format!(
        "AWS4-HMAC-SHA256 Credential={AK}/20240517/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={sig}"
    );
    req.headers_mut()
        .insert("authorization", value.parse().unwrap());
    let now = t0();
    let r = authenticate_service(
        req.method(),
        "/",
        None,
        req.headers(),
        REGION,
        now,
        &Keys,
        Some(&hash),
    )
    .unwrap();
    assert_eq!(r.service.as_deref(), Some("sts"));
    assert!(matches!(r.auth.payload, PayloadCheck::Sha256(h) if h == hash));
    // Without the hash (plain `authenticate`) the header is required.
    assert_eq!(code(auth(&req)), S3ErrorCode::InvalidRequest);
}

/// Fuzzing of everything a client controls before its signature is checked: the
/// Authorization header, the SigV4 query parameters, the dates and payload-hash
/// headers, and aws-chunked framing. Whatever arrives, authentication answers (an
/// identity or an S3 error) without panicking and promptly.
mod fuzz {
    use std::time::Instant;

    use proptest::prelude::*;

    use super::*;

    /// Far above any real answer: a hang or pathological backtracking shows up.
    const PROMPT: Duration = Duration::from_millis(500);

    fn signed_get() -> http::Request<()> {
        Sign::new("GET", "/bucket/key?list-type=2&prefix=a").run().0
    }

    fn with_header(mut req: http::Request<()>, name: &str, value: &[u8]) -> http::Request<()> {
        if let Ok(v) = http::HeaderValue::from_bytes(value) {
            req.headers_mut()
                .insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), v);
        }
        req
    }

    fn timed(req: &http::Request<()>) -> S3Result<Authenticated> {
        let started = Instant::now();
        let r = auth(req);
        assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
        r
    }

    /// Pieces SigV4 headers are made of, so that mutations stay near valid syntax.
    fn sigv4_piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("AWS4-HMAC-SHA256 ".to_string()),
            Just("Credential=".to_string()),
            Just("SignedHeaders=".to_string()),
            Just("Signature=".to_string()),
            Just(format!("{AK}/20240517/{REGION}/s3/aws4_request")),
            Just("host;x-amz-content-sha256;x-amz-date".to_string()),
            Just(",".to_string()),
            Just("/".to_string()),
            Just(";".to_string()),
            Just("=".to_string()),
            Just(" ".to_string()),
            "[0-9a-f]{0,70}",
            "[ -~]{0,20}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_authorization_header(pieces in proptest::collection::vec(sigv4_piece(), 0..24)) {
            let value = pieces.concat();
            let req = with_header(signed_get(), "authorization", value.as_bytes());
            let r = timed(&req);
            // Only the genuine header (the one the signer wrote) can authenticate; a
            // blank one is no credentials (anonymous).
            if let Ok(a) = r
                && (a.identity != Identity::Anonymous || !value.trim().is_empty())
            {
                let genuine = signed_get();
                prop_assert_eq!(a.identity, Identity::AccessKey(AK.to_string()));
                prop_assert_eq!(
                    req.headers()["authorization"].as_bytes(),
                    genuine.headers()["authorization"].as_bytes()
                );
            }
        }

        #[test]
        fn mutated_signed_header(at in any::<prop::sample::Index>(), byte in 0x20u8..0x7f, cut in any::<bool>()) {
            let req = signed_get();
            let mut value = req.headers()["authorization"].as_bytes().to_vec();
            let i = at.index(value.len());
            if cut {
                value.truncate(i);
            } else {
                value[i] = byte;
            }
            let changed = value != req.headers()["authorization"].as_bytes();
            let req = with_header(req, "authorization", &value);
            let blank = value.iter().all(u8::is_ascii_whitespace);
            if timed(&req).is_ok_and(|a| !blank || a.identity != Identity::Anonymous) {
                let genuine = signed_get();
                // A change may only be one the grammar ignores: the letter case of
                // the hex digits, or how many commas and blanks separate components.
                let tokens = |v: &[u8]| -> Vec<String> {
                    String::from_utf8_lossy(v)
                        .to_ascii_lowercase()
                        .split([',', ' ', '\t'])
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .collect()
                };
                prop_assert!(
                    !changed || tokens(&value) == tokens(genuine.headers()["authorization"].as_bytes()),
                    "a mutated header authenticated: {}",
                    String::from_utf8_lossy(&value)
                );
            }
        }

        #[test]
        fn any_dates_and_payload_hashes(
            date in "[0-9TZ:\\-]{0,20}|[ -~]{0,30}",
            sha in "[0-9a-fA-F]{0,70}|STREAMING-[A-Z0-9\\-]{0,40}|UNSIGNED-PAYLOAD|[ -~]{0,30}",
            decoded_len in "[0-9]{0,25}|[ -~]{0,10}",
        ) {
            let mut req = signed_get();
            req = with_header(req, "x-amz-date", date.as_bytes());
            req = with_header(req, "x-amz-content-sha256", sha.as_bytes());
            req = with_header(req, "x-amz-decoded-content-length", decoded_len.as_bytes());
            let _ = timed(&req);
            let _ = timed(&with_header(Request::new_get(), "date", date.as_bytes()));
        }

        #[test]
        fn any_presigned_query(
            params in proptest::collection::vec(
                (prop_oneof![
                    Just("X-Amz-Algorithm"), Just("X-Amz-Credential"), Just("X-Amz-Date"),
                    Just("X-Amz-Expires"), Just("X-Amz-SignedHeaders"), Just("X-Amz-Signature"),
                    Just("X-Amz-Security-Token"), Just("AWSAccessKeyId"), Just("Signature"),
                    Just("Expires"), Just("x")
                ], "[ -~]{0,40}"),
                0..10,
            )
        ) {
            let query: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
                .collect();
            let uri = format!("http://{HOST}/bucket/key?{}", query.join("&"));
            let Ok(req) = http::Request::builder().uri(uri).header("host", HOST).body(()) else {
                return Ok(());
            };
            let _ = timed(&req);
        }

        #[test]
        fn any_chunked_body(
            body in proptest::collection::vec(
                prop_oneof![
                    "[0-9a-fA-F]{1,8}".prop_map(|s| s.into_bytes()),
                    Just(b";chunk-signature=".to_vec()),
                    Just(b"\r\n".to_vec()),
                    Just(b"x-amz-checksum-crc32:".to_vec()),
                    proptest::collection::vec(any::<u8>(), 0..40),
                ],
                0..30,
            ),
            unsigned in any::<bool>(),
            trailer in any::<bool>(),
        ) {
            let body = body.concat();
            let signing = if unsigned {
                ChunkSigning::Unsigned { trailer }
            } else {
                ChunkSigning::Signed {
                    signing_key: vec![7; 32],
                    seed_signature: "0".repeat(64),
                    amz_date: "20240517T123456Z".into(),
                    scope: format!("20240517/{REGION}/s3/aws4_request"),
                    trailer,
                }
            };
            let started = Instant::now();
            let (r, _) = decode_all(all_splits(&body).next().unwrap(), signing, None);
            prop_assert!(started.elapsed() < PROMPT);
            // Signed chunks with a made-up key never decode to data.
            if !unsigned && let Ok(data) = r {
                prop_assert!(data.is_empty(), "accepted {} bytes of forged chunks", data.len());
            }
        }
    }

    /// A bare GET, for header-only fuzzing.
    struct Request;

    impl Request {
        fn new_get() -> http::Request<()> {
            http::Request::builder()
                .uri(format!("http://{HOST}/bucket/key"))
                .header("host", HOST)
                .body(())
                .unwrap()
        }
    }
}
