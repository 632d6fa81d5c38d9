//! Server-side AWS Signature Version 4 authentication of S3 requests.
//!
//! [`authenticate`] checks the `Authorization` header or the presigned-URL query parameters
//! against the request exactly as received and tells the caller how the body must be checked:
//! a SHA-256 to compare at the end, nothing, or aws-chunked framing to decode with
//! [`chunked::AwsChunkedDecoder`].
//!
//! Notes for callers:
//! * `raw_path`/`raw_query` must be the request target exactly as on the wire (still
//!   percent-encoded), never a decoded or re-serialized form.
//! * `host` must be in `headers`; for HTTP/2 requests, insert it from the `:authority`.
//! * For [`PayloadCheck::Chunked`], the stored object's `Content-Encoding` must have
//!   `aws-chunked` removed and its length is `x-amz-decoded-content-length`.

use std::time::SystemTime;

use crate::error::{S3Error, S3ErrorCode, S3Result};

pub mod canonical;
pub mod chunked;
pub mod presign;
pub mod sigv2;
pub mod sigv4;

pub use chunked::{AwsChunkedDecoder, ChunkSigning, TrailerHandle};

pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub const STREAMING_SIGNED_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub const STREAMING_SIGNED_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
pub const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

pub trait SecretLookup: Send + Sync {
    /// Secret key for an access key id, None if unknown.
    fn secret_key(&self, access_key: &str) -> Option<String>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    AccessKey(String),
}

/// How the request body must be checked/decoded after authentication.
#[derive(Debug, Clone)]
pub enum PayloadCheck {
    /// x-amz-content-sha256 carried a hex digest (lower-cased here): the body must hash to it
    /// (caller checks at end of body -> XAmzContentSHA256Mismatch).
    Sha256(String),
    /// UNSIGNED-PAYLOAD, or anonymous/presigned without a payload hash.
    Unsigned,
    /// aws-chunked framing (STREAMING-* payload): decode with `chunked::AwsChunkedDecoder`.
    Chunked(chunked::ChunkSigning),
}

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub identity: Identity,
    pub payload: PayloadCheck,
}

/// [`Authenticated`] plus the service named in the credential scope (`s3`, `iam` or `sts`;
/// `None` for anonymous requests).
#[derive(Debug, Clone)]
pub struct ServiceAuthenticated {
    pub auth: Authenticated,
    pub service: Option<String>,
}

/// Authenticate one request. `raw_path` and `raw_query` are exactly as received on the wire
/// (still percent-encoded).
pub fn authenticate(
    method: &http::Method,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &http::HeaderMap,
    region: &str,
    now: SystemTime,
    secrets: &dyn SecretLookup,
) -> S3Result<Authenticated> {
    authenticate_service(
        method, raw_path, raw_query, headers, region, now, secrets, None,
    )
    .map(|a| a.auth)
}

/// Like [`authenticate`], and also reports the signed service. `body_sha256` (lower-case hex)
/// is the payload hash to use when an `iam`/`sts`-scoped request has no
/// `x-amz-content-sha256` header (their clients sign the hash of a small form body without
/// sending it); S3-scoped requests always need the header.
#[allow(clippy::too_many_arguments)]
pub fn authenticate_service(
    method: &http::Method,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &http::HeaderMap,
    region: &str,
    now: SystemTime,
    secrets: &dyn SecretLookup,
    body_sha256: Option<&str>,
) -> S3Result<ServiceAuthenticated> {
    // An empty Authorization header is no credentials at all: AWS treats the request as
    // anonymous (ceph s3-tests `test_bucket_create_bad_authorization_empty`: 403 AccessDenied).
    let authorization = headers
        .get(http::header::AUTHORIZATION)
        .filter(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace));
    let query_auth = presign::QueryAuth::from_query(raw_query)?;
    let now = sigv4::to_offset(now);
    match (authorization, query_auth) {
        (Some(_), Some(_)) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        )
        .extra("ArgumentName", "Authorization")),
        (Some(value), None) => {
            let value = value
                .to_str()
                .map_err(|_| sigv4::malformed("the header contains invalid characters."))?;
            header_auth(method, raw_path, raw_query, headers, region, now, secrets, value, body_sha256)
        }
        (None, Some(q)) => {
            query_auth_flow(method, raw_path, raw_query, headers, region, now, secrets, q)
        }
        (None, None) => {
            if let Some(raw) = raw_query {
                let sigv2 = canonical::raw_query_pairs(raw)
                    .filter(|(k, _)| *k == "AWSAccessKeyId" || *k == "Signature")
                    .count();
                if sigv2 >= 2 {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidRequest,
                        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
                    ));
                }
            }
            let payload = match headers.get(X_AMZ_CONTENT_SHA256) {
                None => PayloadCheck::Unsigned,
                Some(v) => match classify_payload(v)? {
                    PayloadKind::Sha256(h) => PayloadCheck::Sha256(h),
                    PayloadKind::Unsigned => PayloadCheck::Unsigned,
                    // Nothing to verify signatures with: decode the framing only.
                    PayloadKind::StreamingSigned { trailer } | PayloadKind::StreamingUnsigned { trailer } => {
                        PayloadCheck::Chunked(chunked::ChunkSigning::Unsigned { trailer })
                    }
                },
            };
            Ok(ServiceAuthenticated {
                auth: Authenticated { identity: Identity::Anonymous, payload },
                service: None,
            })
        }
    }
}

/// What an `x-amz-content-sha256` value announces.
#[derive(Debug, PartialEq, Eq)]
enum PayloadKind {
    Sha256(String),
    Unsigned,
    StreamingSigned { trailer: bool },
    StreamingUnsigned { trailer: bool },
}

fn classify_payload(value: &http::HeaderValue) -> S3Result<PayloadKind> {
    let v = value.to_str().unwrap_or("");
    Ok(match v {
        UNSIGNED_PAYLOAD => PayloadKind::Unsigned,
        STREAMING_SIGNED_PAYLOAD => PayloadKind::StreamingSigned { trailer: false },
        STREAMING_SIGNED_PAYLOAD_TRAILER => PayloadKind::StreamingSigned { trailer: true },
        STREAMING_UNSIGNED_PAYLOAD_TRAILER => PayloadKind::StreamingUnsigned { trailer: true },
        _ if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            PayloadKind::Sha256(v.to_ascii_lowercase())
        }
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.",
            )
            .extra("ArgumentName", X_AMZ_CONTENT_SHA256)
            .extra("ArgumentValue", String::from_utf8_lossy(value.as_bytes()).chars().take(256).collect::<String>()));
        }
    })
}

fn lookup_secret(secrets: &dyn SecretLookup, access_key: &str) -> S3Result<String> {
    secrets.secret_key(access_key).ok_or_else(|| {
        S3Error::new(S3ErrorCode::InvalidAccessKeyId).extra("AWSAccessKeyId", access_key)
    })
}

/// Builds the result once the signature is verified.
fn authenticated(
    kind: PayloadKind,
    credential: &sigv4::Credential,
    signing_key: Vec<u8>,
    seed_signature: &str,
    amz_date: String,
) -> ServiceAuthenticated {
    let payload = match kind {
        PayloadKind::Sha256(h) => PayloadCheck::Sha256(h),
        PayloadKind::Unsigned => PayloadCheck::Unsigned,
        PayloadKind::StreamingSigned { trailer } => {
            PayloadCheck::Chunked(chunked::ChunkSigning::Signed {
                signing_key,
                seed_signature: seed_signature.to_string(),
                amz_date,
                scope: credential.scope(),
                trailer,
            })
        }
        PayloadKind::StreamingUnsigned { trailer } => {
            PayloadCheck::Chunked(chunked::ChunkSigning::Unsigned { trailer })
        }
    };
    ServiceAuthenticated {
        auth: Authenticated {
            identity: Identity::AccessKey(credential.access_key.clone()),
            payload,
        },
        service: Some(credential.service.clone()),
    }
}

#[allow(clippy::too_many_arguments)]
fn header_auth(
    method: &http::Method,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &http::HeaderMap,
    region: &str,
    now: time::OffsetDateTime,
    secrets: &dyn SecretLookup,
    authorization: &str,
    body_sha256: Option<&str>,
) -> S3Result<ServiceAuthenticated> {
    let parts = sigv4::parse_authorization(authorization)?;
    let credential = sigv4::parse_credential(parts.credential, region)
        .map_err(|e| sigv4::credential_error_header(e, region))?;
    let signed_headers = sigv4::parse_signed_headers(parts.signed_headers)
        .ok_or_else(|| sigv4::malformed("the SignedHeaders component is malformed."))?;
    let (t, t_raw) = sigv4::request_time(headers)?;
    let secret = lookup_secret(secrets, &credential.access_key)?;
    // A request time far off is answered as skewed even when it also disagrees with the
    // credential's date (AWS; ceph s3-tests `test_object_create_bad_amz_date_before_today_aws4`).
    if sigv4::is_skewed(t, now) {
        return Err(sigv4::too_skewed(&t_raw, now));
    }
    if sigv4::format_scope_date(t) != credential.date {
        return Err(sigv4::malformed(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    sigv4::check_unsigned_headers(headers, &signed_headers)?;

    let (payload_hash, kind) = match headers.get(X_AMZ_CONTENT_SHA256) {
        Some(v) => (
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
            classify_payload(v)?,
        ),
        None => match body_sha256 {
            Some(h) if credential.service != "s3" => {
                (h.to_string(), PayloadKind::Sha256(h.to_string()))
            }
            _ => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "Missing required header for this request: x-amz-content-sha256",
                ));
            }
        },
    };

    let signing_key = sigv4::signing_key(&secret, t, &credential);
    let amz_date = sigv4::format_amz_date(t);
    sigv4::verify(&sigv4::SignatureCheck {
        method,
        raw_path,
        raw_query,
        exclude_param: None,
        headers,
        signed_headers: &signed_headers,
        payload_hash: &payload_hash,
        amz_date: &amz_date,
        credential: &credential,
        signing_key: &signing_key,
        provided: parts.signature,
    })?;
    Ok(authenticated(
        kind,
        &credential,
        signing_key,
        parts.signature,
        amz_date,
    ))
}

#[allow(clippy::too_many_arguments)]
fn query_auth_flow(
    method: &http::Method,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &http::HeaderMap,
    region: &str,
    now: time::OffsetDateTime,
    secrets: &dyn SecretLookup,
    q: presign::QueryAuth,
) -> S3Result<ServiceAuthenticated> {
    let p = presign::check_params(q, region, now)?;
    let signed_headers = sigv4::parse_signed_headers(&p.signed_headers)
        .ok_or_else(|| presign::query_error("X-Amz-SignedHeaders is malformed"))?;
    let secret = lookup_secret(secrets, &p.credential.access_key)?;
    sigv4::check_unsigned_headers(headers, &signed_headers)?;
    let (payload_hash, kind) = match headers.get(X_AMZ_CONTENT_SHA256) {
        Some(v) => (
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
            classify_payload(v)?,
        ),
        None => (UNSIGNED_PAYLOAD.to_string(), PayloadKind::Unsigned),
    };
    let signing_key = sigv4::signing_key(&secret, p.date, &p.credential);
    let amz_date = sigv4::format_amz_date(p.date);
    sigv4::verify(&sigv4::SignatureCheck {
        method,
        raw_path,
        raw_query,
        exclude_param: Some(presign::X_AMZ_SIGNATURE),
        headers,
        signed_headers: &signed_headers,
        payload_hash: &payload_hash,
        amz_date: &amz_date,
        credential: &p.credential,
        signing_key: &signing_key,
        provided: &p.signature,
    })?;
    Ok(authenticated(
        kind,
        &p.credential,
        signing_key,
        &p.signature,
        amz_date,
    ))
}

#[cfg(test)]
mod tests;
