//! Server-side encryption as S3 defines it: which encryption a write asks for (its
//! headers, else the bucket's default), the key that opens a stored version, and the
//! headers and errors AWS sends for each mode. The cryptography is `hafiz-crypto`'s.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hafiz_crypto::{CryptoError, DEFAULT_KMS_KEY, DataKey, SSE_S3_KEY};
use hafiz_meta::{BucketInfo, Encryption, SseKind};
use http::HeaderMap;
use md5::{Digest, Md5};

use crate::S3State;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::{header_str, insert};

const SSE: &str = "x-amz-server-side-encryption";
const KMS_KEY: &str = "x-amz-server-side-encryption-aws-kms-key-id";
const CONTEXT: &str = "x-amz-server-side-encryption-context";
const BUCKET_KEY: &str = "x-amz-server-side-encryption-bucket-key-enabled";
/// What wraps an SSE-C data key besides the customer's key.
const CUSTOMER_AAD: &[u8] = b"sse-c data key v1";

/// A customer's key (SSE-C), checked against the MD5 the client sent.
pub(crate) struct CustomerKey {
    key: DataKey,
    md5: String,
}

/// What a write asks for.
pub(crate) enum SseRequest {
    None,
    S3,
    Kms {
        key_id: Option<String>,
        /// The JSON context, decoded from its base64 header.
        context: Option<String>,
        bucket_key: Option<bool>,
        dsse: bool,
    },
    Customer(CustomerKey),
}

fn invalid(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, msg)
}

/// The SSE-C key of a request: `x-amz-server-side-encryption-customer-*`, or with
/// `copy_source` the `x-amz-copy-source-server-side-encryption-customer-*` headers
/// that open a copy's source.
pub(crate) fn customer_key(
    state: &S3State,
    h: &HeaderMap,
    copy_source: bool,
) -> S3Result<Option<CustomerKey>> {
    let p = if copy_source {
        "x-amz-copy-source-server-side-encryption-customer-"
    } else {
        "x-amz-server-side-encryption-customer-"
    };
    let get = |n: &str| header_str(h, &format!("{p}{n}")).map(str::trim);
    let (alg, key, md5) = (get("algorithm"), get("key"), get("key-md5"));
    if alg.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    let Some(alg) = alg else {
        return Err(invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        ));
    };
    if alg != "AES256" {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidEncryptionAlgorithmError,
            "The Encryption request you specified is not valid. Supported value: AES256.",
        ));
    }
    let Some(key) = key else {
        return Err(invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        ));
    };
    let raw: [u8; 32] = B64
        .decode(key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| invalid("The secret key was invalid for the specified algorithm."))?;
    let Some(md5) = md5 else {
        return Err(invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        ));
    };
    let computed = B64.encode(Md5::digest(raw));
    if computed != md5 {
        return Err(invalid(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    if !state.config.allow_ssec_over_http && !state.config.secure_transport {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    Ok(Some(CustomerKey {
        key: DataKey::from_bytes(raw),
        md5: computed,
    }))
}

/// What a write (PutObject, CopyObject's destination, CreateMultipartUpload) asks for.
pub(crate) fn write_request(state: &S3State, h: &HeaderMap) -> S3Result<SseRequest> {
    let customer = customer_key(state, h, false)?;
    let mode = header_str(h, SSE).map(str::trim);
    let key_id = header_str(h, KMS_KEY).map(|s| s.trim().to_string());
    let context = header_str(h, CONTEXT).map(str::trim);
    let bucket_key = match header_str(h, BUCKET_KEY).map(str::trim) {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => return Err(invalid("Bucket key enabled must be true or false")),
    };
    if let Some(c) = customer {
        if mode.is_some() {
            return Err(invalid(
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            ));
        }
        return Ok(SseRequest::Customer(c));
    }
    let kms = matches!(mode, Some("aws:kms") | Some("aws:kms:dsse"));
    if !kms && (key_id.is_some() || context.is_some()) {
        return Err(invalid(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        ));
    }
    match mode {
        None => Ok(SseRequest::None),
        Some("AES256") => Ok(SseRequest::S3),
        Some(m @ ("aws:kms" | "aws:kms:dsse")) => {
            let context = context.map(decode_context).transpose()?;
            if let Some(id) = &key_id
                && (id.is_empty()
                    || !hafiz_crypto::kms::valid_key_id(hafiz_crypto::kms::strip_arn(id)))
            {
                return Err(S3Error::with_message(
                    S3ErrorCode::KmsNotFound,
                    format!("Invalid keyId '{id}'"),
                ));
            }
            Ok(SseRequest::Kms {
                key_id,
                context,
                bucket_key,
                dsse: m == "aws:kms:dsse",
            })
        }
        Some(_) => Err(invalid("The encryption method specified is not supported")),
    }
}

/// `x-amz-server-side-encryption-context`: base64 of a JSON object of strings.
fn decode_context(b64: &str) -> S3Result<String> {
    let bad = || {
        invalid(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
        )
    };
    let raw = B64.decode(b64).map_err(|_| bad())?;
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&raw).map_err(|_| bad())?;
    // Canonical form: the same map binds the same key whatever its spacing.
    serde_json::to_string(&map).map_err(|_| bad())
}

/// SSE headers are not part of reads (GetObject, HeadObject): AWS refuses them.
pub(crate) fn refuse_on_read(h: &HeaderMap) -> S3Result<()> {
    if h.contains_key(SSE) || h.contains_key(KMS_KEY) || h.contains_key(CONTEXT) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "x-amz-server-side-encryption header is not supported for this operation.",
        ));
    }
    Ok(())
}

fn kms_error(e: CryptoError) -> S3Error {
    match e {
        CryptoError::Disabled(id) => S3Error::with_message(
            S3ErrorCode::KmsDisabled,
            format!("The key '{id}' is disabled."),
        ),
        CryptoError::NoSuchKey(id) => {
            S3Error::with_message(S3ErrorCode::KmsNotFound, format!("Invalid keyId '{id}'"))
        }
        CryptoError::Unauthentic => {
            S3Error::with_message(S3ErrorCode::AccessDenied, "Access Denied")
        }
        other => S3Error::internal(other),
    }
}

/// The encryption of a new object and its data key: the request's, else the
/// bucket's default, else none.
pub(crate) async fn for_write(
    state: &S3State,
    bucket: &BucketInfo,
    object_arn: &str,
    req: SseRequest,
) -> S3Result<Option<(Encryption, DataKey)>> {
    let req = match (req, &bucket.encryption) {
        (SseRequest::None, Some(d)) => match d.kind {
            SseKind::S3 | SseKind::Customer => SseRequest::S3,
            SseKind::Kms | SseKind::KmsDsse => SseRequest::Kms {
                key_id: d.kms_key_id.clone(),
                context: None,
                bucket_key: Some(d.bucket_key),
                dsse: d.kind == SseKind::KmsDsse,
            },
        },
        (r, _) => r,
    };
    let enc = |kind, key_id: &str, version: String, context, bucket_key, wrapped| Encryption {
        kind,
        key_id: Some(key_id.to_string()),
        key_version: Some(version),
        context,
        bucket_key,
        customer_key_md5: None,
        wrapped_key: wrapped,
        parts_sealed: false,
    };
    match req {
        SseRequest::None => Ok(None),
        SseRequest::S3 => {
            let (dek, w) = state
                .kms
                .generate(SSE_S3_KEY, b"")
                .await
                .map_err(kms_error)?;
            Ok(Some((
                enc(SseKind::S3, &w.key_id, w.version, None, false, w.wrapped),
                dek,
            )))
        }
        SseRequest::Kms {
            key_id,
            context,
            bucket_key,
            dsse,
        } => {
            let id = key_id.unwrap_or_else(|| DEFAULT_KMS_KEY.to_string());
            // AWS binds the object's ARN when the client gives no context.
            let context = context
                .unwrap_or_else(|| serde_json::json!({ "aws:s3:arn": object_arn }).to_string());
            let (dek, w) = state
                .kms
                .generate(&id, context.as_bytes())
                .await
                .map_err(kms_error)?;
            let bucket_key = bucket_key
                .unwrap_or_else(|| bucket.encryption.as_ref().is_some_and(|d| d.bucket_key));
            let kind = if dsse { SseKind::KmsDsse } else { SseKind::Kms };
            Ok(Some((
                enc(
                    kind,
                    &w.key_id,
                    w.version,
                    Some(context),
                    bucket_key,
                    w.wrapped,
                ),
                dek,
            )))
        }
        SseRequest::Customer(c) => {
            let dek = DataKey::generate();
            let wrapped = c.key.wrap(&dek, CUSTOMER_AAD);
            Ok(Some((
                Encryption {
                    kind: SseKind::Customer,
                    key_id: None,
                    key_version: None,
                    context: None,
                    bucket_key: false,
                    customer_key_md5: Some(c.md5),
                    wrapped_key: wrapped,
                    parts_sealed: false,
                },
                dek,
            )))
        }
    }
}

/// The data key that opens a version (None: it is not encrypted), checking the SSE-C
/// key the request carries as AWS does.
pub(crate) async fn for_read(
    state: &S3State,
    enc: Option<&Encryption>,
    customer: Option<&CustomerKey>,
) -> S3Result<Option<DataKey>> {
    let Some(enc) = enc else {
        if customer.is_some() {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "The encryption parameters are not applicable to this object.",
            ));
        }
        return Ok(None);
    };
    if enc.kind == SseKind::Customer {
        let Some(c) = customer else {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
            ));
        };
        if enc.customer_key_md5.as_deref() != Some(c.md5.as_str()) {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Access Denied",
            ));
        }
        return c
            .key
            .unwrap(&enc.wrapped_key, CUSTOMER_AAD)
            .map(Some)
            .map_err(kms_error);
    }
    if customer.is_some() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The encryption parameters are not applicable to this object.",
        ));
    }
    let (Some(id), Some(version)) = (&enc.key_id, &enc.key_version) else {
        return Err(S3Error::internal("an encrypted version names no key"));
    };
    let context = enc.context.as_deref().unwrap_or("");
    state
        .kms
        .open(id, version, &enc.wrapped_key, context.as_bytes())
        .await
        .map(Some)
        .map_err(kms_error)
}

/// The data key of a multipart upload's parts, for an UploadPart that must carry the
/// upload's SSE-C key again when it was created with one.
pub(crate) async fn for_part(
    state: &S3State,
    enc: Option<&Encryption>,
    customer: Option<&CustomerKey>,
) -> S3Result<Option<DataKey>> {
    match enc {
        Some(e) if e.kind == SseKind::Customer => {
            let Some(c) = customer else {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.",
                ));
            };
            if e.customer_key_md5.as_deref() != Some(c.md5.as_str()) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "The provided encryption parameters did not match the ones used originally.",
                ));
            }
            for_read(state, enc, customer).await
        }
        Some(_) if customer.is_some() => Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The multipart upload initiate did not request encryption with customer provided keys.",
        )),
        _ => for_read(state, enc, None).await,
    }
}

/// The ETag of an SSE-C or SSE-KMS object, which on AWS is not the MD5 of its
/// bytes (SSE-S3 objects keep their MD5, as on AWS).
pub(crate) fn etag_for(enc: Option<&Encryption>, md5_hex: String) -> String {
    match enc {
        Some(e) if e.kind != SseKind::S3 => {
            let mut h = Md5::new();
            h.update(md5_hex.as_bytes());
            h.update(&e.wrapped_key);
            hex::encode(h.finalize())
        }
        _ => md5_hex,
    }
}

/// The response headers AWS sends for an object's encryption.
pub(crate) fn response_headers(state: &S3State, h: &mut HeaderMap, enc: Option<&Encryption>) {
    let Some(e) = enc else {
        return;
    };
    match e.kind {
        SseKind::S3 => insert(h, SSE, "AES256"),
        SseKind::Kms | SseKind::KmsDsse => {
            insert(
                h,
                SSE,
                if e.kind == SseKind::Kms {
                    "aws:kms"
                } else {
                    "aws:kms:dsse"
                },
            );
            if let Some(id) = &e.key_id {
                insert(h, KMS_KEY, &key_arn(state, id));
            }
            if e.bucket_key {
                insert(h, BUCKET_KEY, "true");
            }
        }
        SseKind::Customer => {
            insert(
                h,
                "x-amz-server-side-encryption-customer-algorithm",
                "AES256",
            );
            if let Some(md5) = &e.customer_key_md5 {
                insert(h, "x-amz-server-side-encryption-customer-key-md5", md5);
            }
        }
    }
}

/// The context header of a write response (AWS echoes it on writes only).
pub(crate) fn context_header(h: &mut HeaderMap, enc: Option<&Encryption>) {
    if let Some(c) = enc.and_then(|e| e.context.as_deref()) {
        insert(h, CONTEXT, &B64.encode(c));
    }
}

/// How AWS names a KMS key in responses.
pub(crate) fn key_arn(state: &S3State, id: &str) -> String {
    format!(
        "arn:aws:kms:{}:{}:key/{id}",
        state.config.region, state.owner.account_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_are_canonical_json_maps() {
        let a = decode_context(&B64.encode(r#"{"b": "2", "a":"1"}"#)).unwrap();
        assert_eq!(a, r#"{"a":"1","b":"2"}"#);
        assert!(decode_context(&B64.encode("[1]")).is_err());
        assert!(decode_context("***").is_err());
    }
}
