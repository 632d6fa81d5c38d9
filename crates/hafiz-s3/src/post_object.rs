//! POST Object: browser-based uploads with an HTML form (`multipart/form-data` to a
//! bucket). The credentials are form fields, not headers: a signed POST policy (SigV4's
//! `x-amz-signature` or SigV2's `signature` over the base64 policy) or none at all
//! (anonymous, allowed only where the bucket's policy or ACL lets everyone write).
//!
//! The fields before the `file` part are read (at most 20 KiB, as AWS); the policy is
//! checked against them; the file part then streams through PutObject's own code path
//! (content headers, metadata, tags, ACL, SSE, ingest, commit) with a header map made
//! from the fields, and its answer is reshaped as AWS answers a POST (204 by default,
//! `success_action_status`, `success_action_redirect`). Fields after the file are
//! ignored, as AWS does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::body::Body;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::access::{self, Principal};
use crate::auth::{PayloadCheck, SecretLookup, sigv4};
use crate::body::{PayloadStream, RequestBody};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::{Op, Query, Target};
use crate::server::{Ctx, S3State};

/// AWS refuses a form whose fields before the file exceed 20 KiB.
const MAX_FIELD_BYTES: usize = 20 * 1024;
/// Raw body bytes read before the file part starts. multer buffers a part's headers
/// until they end, so without this cap a part header that never ends would grow memory
/// with the body; the slack over [`MAX_FIELD_BYTES`] covers part headers, boundaries
/// and the read-ahead of the chunk that holds the file part's start.
const MAX_PRE_FILE_READ: u64 = 2 * 1024 * 1024;
/// Parts before the file: bounds the work for a form of many empty fields.
const MAX_FIELDS: usize = 1000;

/// Fields never matched against the policy (AWS's list).
fn exempt(lower: &str) -> bool {
    matches!(
        lower,
        "awsaccesskeyid" | "signature" | "x-amz-signature" | "file" | "policy"
    ) || lower.starts_with("x-ignore-")
}

/// Whether a POST to a bucket is a form upload (otherwise S3 has no such POST).
pub fn is_form_upload(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .get(..19)
                .is_some_and(|p| p.eq_ignore_ascii_case("multipart/form-data"))
        })
}

/// What the gateway records about a POST upload (audit, rate limits, metrics).
#[derive(Default)]
pub struct Learned {
    pub principal: Option<Principal>,
    pub key_id: Option<String>,
    pub key: String,
    pub received: Option<Arc<AtomicU64>>,
}

struct FormField {
    /// As sent, for error messages.
    name: String,
    /// Field names are case-insensitive.
    lower: String,
    value: String,
}

/// The fields before the file, in order.
#[derive(Default)]
struct Fields(Vec<FormField>);

struct Form {
    fields: Fields,
    file: multer::Field<'static>,
    filename: String,
}

impl Fields {
    /// A field's value; the first one counts when a name is repeated (for the policy
    /// and for the object alike, so a repeat cannot slip past a condition).
    fn get(&self, lower: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|f| f.lower == lower)
            .map(|f| f.value.as_str())
    }

    fn has(&self, lower: &str) -> bool {
        self.get(lower).is_some()
    }

    /// A field the request cannot do without, with AWS's error when it is missing.
    fn required(&self, name: &str) -> S3Result<&str> {
        self.get(&name.to_ascii_lowercase())
            .ok_or_else(|| missing_field(name))
    }
}

fn missing_field(name: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidArgument,
        format!(
            "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
        ),
    )
    .extra("ArgumentName", name)
    .extra("ArgumentValue", "")
}

fn malformed_post() -> S3Error {
    S3Error::new(S3ErrorCode::MalformedPOSTRequest)
}

fn too_much_pre_data() -> S3Error {
    S3Error::new(S3ErrorCode::MaxPostPreDataLengthExceededError)
}

/// A multer error as the client sees it: our own errors (from the body stream) pass
/// through; anything else is a malformed form.
fn form_error(e: multer::Error) -> S3Error {
    match e {
        multer::Error::StreamReadFailed(inner) => match inner.downcast::<S3Error>() {
            Ok(e) => *e,
            Err(_) => S3Error::new(S3ErrorCode::IncompleteBody),
        },
        other => {
            tracing::debug!(error = %other, "malformed POST form");
            malformed_post()
        }
    }
}

/// Serve one POST upload. `target` names the bucket (path or virtual-host style).
pub async fn handle(
    state: Arc<S3State>,
    parts: http::request::Parts,
    body: Body,
    request_id: String,
    target: Target,
    learned: &mut Learned,
) -> S3Result<Response> {
    let bucket = target.bucket.clone().unwrap_or_default();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(|_| malformed_post())?;
    let raw = RequestBody::new(body, PayloadCheck::Unsigned);
    learned.received = Some(raw.received());
    let form = read_form(raw, boundary).await?;
    let fields = &form.fields;

    let key = fields
        .required("key")?
        .replace("${filename}", &form.filename);
    if key.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "User key must have a length greater than 0.",
        )
        .extra("ArgumentName", "key")
        .extra("ArgumentValue", ""));
    }
    learned.key = key.clone();
    let signer = signer(fields, &state.config.region)?;
    let (principal, key_id) = verify_signature(&state, fields, &signer).await?;
    learned.principal = Some(principal.clone());
    let mut range = None;
    if let Some(policy) = fields.get("policy")
        && !matches!(signer, Signer::Anonymous)
    {
        let policy = parse_policy(policy)?;
        range = check_policy(&policy, fields, &bucket, &key, OffsetDateTime::now_utc())?;
    }
    let headers = object_headers(fields)?;

    crate::server::admit(&state, key_id.as_deref(), &bucket).await?;
    learned.key_id = key_id;
    let caller = access::Caller {
        principal,
        peer: crate::server::peer_ip(&parts),
        presigned: false,
        sigv2: matches!(signer, Signer::V2 { .. }),
    };
    let query = Query::default();
    access::authorize_s3(
        &state,
        &access::RequestFacts {
            op: Op::PostObject,
            bucket: &bucket,
            key: &key,
            query: &query,
            headers: &headers,
            caller: &caller,
        },
    )
    .await?;

    let outcome = Outcome::of(fields);
    let location = object_url(&state, &parts.headers, &target, &key);
    let ctx = Ctx {
        state,
        op: Op::PostObject,
        method: parts.method,
        bucket: bucket.clone(),
        key: key.clone(),
        query,
        headers,
        body: RequestBody::from_stream(file_stream(form.file, range)),
        request_id,
        caller,
    };
    let put = crate::ops::dispatch(ctx).await?;
    outcome.response(put, &bucket, &key, &location)
}

/// Reads the fields up to the file part, which is returned unread.
async fn read_form(raw: RequestBody, boundary: String) -> S3Result<Form> {
    let file_started = Arc::new(AtomicBool::new(false));
    let started = file_started.clone();
    let stream = futures_util::stream::unfold(raw, move |mut body| {
        let started = started.clone();
        async move {
            let item = match body.next().await? {
                Ok(_)
                    if !started.load(Ordering::Relaxed)
                        && body.received().load(Ordering::Relaxed) > MAX_PRE_FILE_READ =>
                {
                    Err(too_much_pre_data())
                }
                other => other,
            };
            Some((item, body))
        }
    });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Fields::default();
    let mut total = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or("").to_string();
        if name.eq_ignore_ascii_case("file") {
            file_started.store(true, Ordering::Relaxed);
            let filename = field.file_name().unwrap_or("").to_string();
            return Ok(Form {
                fields,
                file: field,
                filename,
            });
        }
        if fields.0.len() >= MAX_FIELDS {
            return Err(too_much_pre_data());
        }
        total += name.len();
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(form_error)? {
            total += chunk.len();
            if total > MAX_FIELD_BYTES {
                return Err(too_much_pre_data());
            }
            value.extend_from_slice(&chunk);
        }
        if total > MAX_FIELD_BYTES {
            return Err(too_much_pre_data());
        }
        fields.0.push(FormField {
            lower: name.to_ascii_lowercase(),
            name,
            value: String::from_utf8_lossy(&value).into_owned(),
        });
    }
    Err(S3Error::with_message(
        S3ErrorCode::InvalidArgument,
        "POST requires exactly one file upload per request.",
    )
    .extra("ArgumentName", "file")
    .extra("ArgumentValue", "0"))
}

/// How the form is signed.
#[derive(Debug)]
enum Signer {
    Anonymous,
    V4 {
        credential: sigv4::Credential,
        signature: String,
    },
    V2 {
        access_key: String,
        signature: String,
    },
}

impl Signer {
    fn access_key(&self) -> Option<&str> {
        match self {
            Signer::Anonymous => None,
            Signer::V4 { credential, .. } => Some(&credential.access_key),
            Signer::V2 { access_key, .. } => Some(access_key),
        }
    }

    fn signature(&self) -> &str {
        match self {
            Signer::Anonymous => "",
            Signer::V4 { signature, .. } | Signer::V2 { signature, .. } => signature,
        }
    }
}

/// The signing scheme the fields name, each with every field it needs (AWS answers a
/// missing one with InvalidArgument naming it).
fn signer(form: &Fields, region: &str) -> S3Result<Signer> {
    if ["x-amz-signature", "x-amz-algorithm", "x-amz-credential"]
        .iter()
        .any(|f| form.has(f))
    {
        let algorithm = form.required("x-amz-algorithm")?;
        if algorithm != sigv4::ALGORITHM {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Unsupported x-amz-algorithm '{algorithm}'; expecting AWS4-HMAC-SHA256."),
            )
            .extra("ArgumentName", "x-amz-algorithm")
            .extra("ArgumentValue", algorithm));
        }
        let raw = form.required("x-amz-credential")?;
        let date = form.required("x-amz-date")?;
        let signature = form.required("x-amz-signature")?.to_ascii_lowercase();
        form.required("policy")?;
        if sigv4::parse_amz_date(date).is_none() {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Invalid x-amz-date '{date}'; expecting YYYYMMDD'T'HHMMSS'Z'."),
            )
            .extra("ArgumentName", "x-amz-date")
            .extra("ArgumentValue", date));
        }
        let credential = sigv4::parse_credential(raw, region).map_err(|e| {
            let why = match e {
                sigv4::CredentialError::Malformed => {
                    "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".".to_string()
                }
                sigv4::CredentialError::WrongRegion { got } => {
                    format!("the region '{got}' is wrong; expecting '{region}'")
                }
                sigv4::CredentialError::WrongService { got } => {
                    format!("incorrect service \"{got}\". This endpoint belongs to \"s3\".")
                }
                sigv4::CredentialError::WrongTerminator { got } => {
                    format!("incorrect terminal \"{got}\". This endpoint uses \"aws4_request\".")
                }
            };
            bad_credential(raw, &why)
        })?;
        if credential.service != "s3" {
            return Err(bad_credential(
                raw,
                &format!(
                    "incorrect service \"{}\". This endpoint belongs to \"s3\".",
                    credential.service
                ),
            ));
        }
        return Ok(Signer::V4 {
            credential,
            signature,
        });
    }
    if ["awsaccesskeyid", "signature", "policy"]
        .iter()
        .any(|f| form.has(f))
    {
        let access_key = form.required("AWSAccessKeyId")?.to_string();
        form.required("policy")?;
        let signature = form.required("signature")?.to_string();
        return Ok(Signer::V2 {
            access_key,
            signature,
        });
    }
    Ok(Signer::Anonymous)
}

fn bad_credential(raw: &str, why: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidArgument,
        format!("Invalid x-amz-credential: {why}"),
    )
    .extra("ArgumentName", "x-amz-credential")
    .extra("ArgumentValue", raw)
}

/// Checks the signature over the base64 policy with the secret of the key it names
/// (root, IAM user, or STS session with its `x-amz-security-token` field), and returns
/// the principal and the key rate limits charge.
async fn verify_signature(
    state: &S3State,
    form: &Fields,
    signer: &Signer,
) -> S3Result<(Principal, Option<String>)> {
    let Some(access_key) = signer.access_key() else {
        return Ok((Principal::Anonymous, None));
    };
    let secrets = access::secrets_for(state, Some(access_key.to_string())).await;
    let mut token = HeaderMap::new();
    if let Some(t) = form.get("x-amz-security-token")
        && let Ok(v) = HeaderValue::from_str(t)
    {
        token.insert("x-amz-security-token", v);
    }
    secrets.check_session(&token, None)?;
    let secret = secrets.secret_key(access_key).ok_or_else(|| {
        S3Error::new(S3ErrorCode::InvalidAccessKeyId).extra("AWSAccessKeyId", access_key)
    })?;
    let policy = form.get("policy").unwrap_or("");
    let computed = match signer {
        Signer::Anonymous => String::new(),
        Signer::V4 { credential, .. } => {
            // The signing key is of the credential's date (AWS signs the policy with it,
            // whatever x-amz-date says).
            let date = sigv4::parse_amz_date(&format!("{}T000000Z", credential.date))
                .ok_or_else(|| bad_credential(&credential.date, "invalid date"))?;
            let key = sigv4::signing_key(&secret, date, credential);
            aws_sigv4::sign::v4::calculate_signature(&key, policy.as_bytes())
        }
        Signer::V2 { .. } => {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
                .expect("HMAC accepts any key length");
            mac.update(policy.as_bytes());
            B64.encode(mac.finalize().into_bytes())
        }
    };
    let provided = signer.signature();
    if !bool::from(computed.as_bytes().ct_eq(provided.as_bytes())) {
        return Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
            .extra("AWSAccessKeyId", access_key)
            .extra("StringToSign", policy)
            .extra("SignatureProvided", provided));
    }
    Ok((
        secrets.principal(access_key),
        Some(secrets.rate_limit_key(access_key)),
    ))
}

/// One condition of a POST policy.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    /// `{"field": "value"}` or `["eq", "$field", "value"]`.
    Eq { field: String, value: String },
    /// `["starts-with", "$field", "prefix"]`; an empty prefix allows anything.
    StartsWith { field: String, prefix: String },
    /// `["content-length-range", min, max]`: the file's size, inclusive.
    Range { min: u64, max: u64 },
}

impl Condition {
    /// How AWS quotes a failed condition.
    fn show(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        match self {
            Condition::Eq { field, value } => {
                format!("[\"eq\", {}, {}]", q(&format!("${field}")), q(value))
            }
            Condition::StartsWith { field, prefix } => format!(
                "[\"starts-with\", {}, {}]",
                q(&format!("${field}")),
                q(prefix)
            ),
            Condition::Range { min, max } => format!("[\"content-length-range\", {min}, {max}]"),
        }
    }
}

#[derive(Debug)]
struct Policy {
    expiration: OffsetDateTime,
    conditions: Vec<Condition>,
}

fn invalid_policy(why: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidPolicyDocument,
        format!("Invalid Policy: {why}"),
    )
}

/// Decodes and parses the `policy` field (base64 JSON). Field names in conditions are
/// case-insensitive (kept lower-cased, without the `$`); the document's own keys are
/// not (`EXPIRATION` is no expiration, as on AWS).
fn parse_policy(b64: &str) -> S3Result<Policy> {
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let raw = B64
        .decode(compact.as_bytes())
        .map_err(|_| invalid_policy("Invalid Base64 encoding."))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|_| invalid_policy("Invalid JSON."))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid_policy("Invalid JSON."))?;
    let expiration = match obj.get("expiration") {
        None => return Err(invalid_policy("Policy missing expiration.")),
        // ISO 8601 with its `T` (RFC 3339 parsers also take a space there).
        Some(serde_json::Value::String(s)) => Some(s)
            .filter(|s| s.as_bytes().get(10) == Some(&b'T'))
            .and_then(|s| {
                OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
            })
            .ok_or_else(|| invalid_policy(format!("Invalid 'expiration' value: '{s}'")))?,
        Some(other) => {
            return Err(invalid_policy(format!(
                "Invalid 'expiration' value: '{other}'"
            )));
        }
    };
    let list = match obj.get("conditions") {
        None => return Err(invalid_policy("Policy missing conditions.")),
        Some(serde_json::Value::Array(a)) => a,
        Some(_) => return Err(invalid_policy("Invalid 'conditions' value: not an array.")),
    };
    let conditions = list
        .iter()
        .map(parse_condition)
        .collect::<S3Result<Vec<_>>>()?;
    Ok(Policy {
        expiration,
        conditions,
    })
}

fn parse_condition(c: &serde_json::Value) -> S3Result<Condition> {
    use serde_json::Value as V;
    match c {
        V::Object(o) => {
            let mut it = o.iter();
            match (it.next(), it.next()) {
                (Some((field, V::String(value))), None) => Ok(Condition::Eq {
                    field: field.to_ascii_lowercase(),
                    value: value.clone(),
                }),
                (Some((field, _)), None) => Err(invalid_policy(format!(
                    "Invalid Simple-Condition: value of '{field}' must be a string."
                ))),
                _ => Err(invalid_policy(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                )),
            }
        }
        V::Array(a) => {
            let op = a
                .first()
                .and_then(V::as_str)
                .ok_or_else(|| invalid_policy(format!("Invalid condition: {c}")))?
                .to_ascii_lowercase();
            match op.as_str() {
                "eq" | "starts-with" => {
                    let (Some(V::String(field)), Some(V::String(value)), 3) =
                        (a.get(1), a.get(2), a.len())
                    else {
                        return Err(invalid_policy(format!(
                            "Invalid '{op}' condition: expecting [\"{op}\", \"$field\", \"value\"]: {c}"
                        )));
                    };
                    let Some(field) = field.strip_prefix('$') else {
                        return Err(invalid_policy(format!(
                            "Invalid '{op}' condition: the field must start with '$': {c}"
                        )));
                    };
                    let field = field.to_ascii_lowercase();
                    Ok(if op == "eq" {
                        Condition::Eq {
                            field,
                            value: value.clone(),
                        }
                    } else {
                        Condition::StartsWith {
                            field,
                            prefix: value.clone(),
                        }
                    })
                }
                "content-length-range" => {
                    let bound = |v: Option<&V>| match v {
                        Some(V::Number(n)) => n.as_u64(),
                        Some(V::String(s)) => s.trim().parse::<u64>().ok(),
                        _ => None,
                    };
                    match (bound(a.get(1)), bound(a.get(2)), a.len()) {
                        (Some(min), Some(max), 3) => Ok(Condition::Range { min, max }),
                        _ => Err(invalid_policy(format!(
                            "Invalid content-length-range condition: expecting two non-negative integers: {c}"
                        ))),
                    }
                }
                _ => Err(invalid_policy(format!(
                    "Invalid condition operator '{op}': {c}"
                ))),
            }
        }
        _ => Err(invalid_policy(format!("Invalid condition: {c}"))),
    }
}

fn policy_denied(why: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {why}"),
    )
}

/// Checks an (authenticated) policy against the form: not expired, every condition
/// met, every field covered by a condition. Returns the allowed file size range.
fn check_policy(
    policy: &Policy,
    form: &Fields,
    bucket: &str,
    key: &str,
    now: OffsetDateTime,
) -> S3Result<Option<(u64, u64)>> {
    if policy.expiration < now {
        return Err(policy_denied("Policy expired."));
    }
    // The bucket is a field of every form (from the URL), and the key the one with
    // `${filename}` already replaced.
    let value = |field: &str| match field {
        "bucket" => bucket,
        "key" => key,
        f => form.get(f).unwrap_or(""),
    };
    let mut range: Option<(u64, u64)> = None;
    let mut covered: Vec<&str> = Vec::new();
    for c in &policy.conditions {
        let ok = match c {
            Condition::Eq { field, value: want } => {
                covered.push(field);
                value(field) == want
            }
            Condition::StartsWith { field, prefix } => {
                covered.push(field);
                let got = value(field);
                if field == "content-type" {
                    // A list of types: each must start with the prefix (AWS).
                    got.split(',')
                        .all(|t| t.trim_start().starts_with(prefix.as_str()))
                } else {
                    got.starts_with(prefix.as_str())
                }
            }
            Condition::Range { min, max } => {
                range = Some(match range {
                    None => (*min, *max),
                    Some((lo, hi)) => (lo.max(*min), hi.min(*max)),
                });
                true
            }
        };
        if !ok {
            return Err(policy_denied(format!(
                "Policy Condition failed: {}",
                c.show()
            )));
        }
    }
    let mut extra: Vec<&str> = Vec::new();
    if !covered.contains(&"bucket") {
        extra.push("bucket");
    }
    for f in &form.0 {
        if !exempt(&f.lower)
            && !covered.contains(&f.lower.as_str())
            && !extra.iter().any(|e| e.eq_ignore_ascii_case(&f.name))
        {
            extra.push(&f.name);
        }
    }
    if !extra.is_empty() {
        return Err(policy_denied(format!(
            "Extra input fields: {}",
            extra.join(", ")
        )));
    }
    Ok(range)
}

/// PutObject's headers from the form's fields: the object's content headers and
/// metadata, its ACL, tags, storage class and encryption.
fn object_headers(form: &Fields) -> S3Result<HeaderMap> {
    let mut h = HeaderMap::new();
    for f in &form.0 {
        let name = match f.lower.as_str() {
            "content-type"
            | "cache-control"
            | "content-disposition"
            | "content-encoding"
            | "content-language"
            | "expires"
            | "x-amz-storage-class"
            | "x-amz-website-redirect-location"
            | "x-amz-server-side-encryption"
            | "x-amz-server-side-encryption-aws-kms-key-id"
            | "x-amz-server-side-encryption-context"
            | "x-amz-server-side-encryption-bucket-key-enabled"
            | "x-amz-server-side-encryption-customer-algorithm"
            | "x-amz-server-side-encryption-customer-key"
            | "x-amz-server-side-encryption-customer-key-md5" => f.lower.clone(),
            "acl" => "x-amz-acl".to_string(),
            "tagging" => "x-amz-tagging".to_string(),
            n if n.starts_with("x-amz-meta-") => n.to_string(),
            _ => continue,
        };
        let invalid = || {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Invalid value for the form field '{}'", f.name),
            )
            .extra("ArgumentName", f.name.clone())
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        if h.contains_key(&name) {
            continue;
        }
        let value = if name == "x-amz-tagging" {
            tagging_query(&f.value)?
        } else {
            f.value.clone()
        };
        let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| invalid())?;
        h.insert(name, value);
    }
    Ok(h)
}

/// The `tagging` field is a `<Tagging>` document; PutObject reads tags in the
/// `x-amz-tagging` query form.
fn tagging_query(doc: &str) -> S3Result<String> {
    let t: crate::xml::TaggingIn = crate::xml::from_xml(doc.as_bytes())?;
    Ok(t.tag_set
        .tag
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                utf8_percent_encode(&t.key, NON_ALPHANUMERIC),
                utf8_percent_encode(&t.value, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&"))
}

/// The file part as PutObject's body, held to the policy's content-length-range.
fn file_stream(file: multer::Field<'static>, range: Option<(u64, u64)>) -> PayloadStream {
    futures_util::stream::unfold(Some((file, 0u64)), move |st| async move {
        let (mut file, size) = st?;
        match file.chunk().await {
            Ok(Some(chunk)) => {
                let size = size + chunk.len() as u64;
                if let Some((_, max)) = range
                    && size > max
                {
                    let e = S3Error::new(S3ErrorCode::EntityTooLarge)
                        .extra("ProposedSize", size.to_string())
                        .extra("MaxSizeAllowed", max.to_string());
                    return Some((Err(e), None));
                }
                Some((Ok::<Bytes, S3Error>(chunk), Some((file, size))))
            }
            Ok(None) => match range {
                Some((min, _)) if size < min => Some((
                    Err(S3Error::new(S3ErrorCode::EntityTooSmall)
                        .extra("ProposedSize", size.to_string())
                        .extra("MinSizeAllowed", min.to_string())),
                    None,
                )),
                _ => None,
            },
            Err(e) => Some((Err(form_error(e)), None)),
        }
    })
    .boxed()
}

/// Characters kept as they are in a query value (RFC 3986's unreserved ones).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// And in the key of an object URL, where `/` separates path segments.
const KEY_IN_URL: &AsciiSet = &QUERY_VALUE.remove(b'/');

/// The new object's URL, as the client addressed the bucket.
fn object_url(state: &S3State, headers: &HeaderMap, target: &Target, key: &str) -> String {
    let scheme = if state.config.secure_transport {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let key = utf8_percent_encode(key, KEY_IN_URL);
    match (&target.bucket, target.bucket_from_host) {
        (Some(b), false) => format!(
            "{scheme}://{host}/{}/{key}",
            utf8_percent_encode(b, KEY_IN_URL)
        ),
        _ => format!("{scheme}://{host}/{key}"),
    }
}

/// How the form asked to be answered.
struct Outcome {
    redirect: Option<String>,
    status: StatusCode,
}

impl Outcome {
    fn of(form: &Fields) -> Outcome {
        // An invalid redirect URL is ignored, as AWS does.
        let redirect = form
            .get("success_action_redirect")
            .or_else(|| form.get("redirect"))
            .filter(|u| {
                u.parse::<http::Uri>().is_ok_and(|uri| {
                    matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
                })
            })
            .map(str::to_string);
        let status = match form.get("success_action_status").map(str::trim) {
            Some("200") => StatusCode::OK,
            Some("201") => StatusCode::CREATED,
            _ => StatusCode::NO_CONTENT,
        };
        Outcome { redirect, status }
    }

    /// PutObject's answer reshaped: its headers (ETag, version id, SSE) kept, the
    /// status and body the form asked for, and the object's Location.
    fn response(
        self,
        put: Response,
        bucket: &str,
        key: &str,
        location: &str,
    ) -> S3Result<Response> {
        let (put, _) = put.into_parts();
        let etag = put
            .headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (status, body, location) = match (&self.redirect, self.status) {
            (Some(url), _) => {
                let q = |s: &str| utf8_percent_encode(s, QUERY_VALUE).to_string();
                let sep = if url.contains('?') { '&' } else { '?' };
                let to = format!(
                    "{url}{sep}bucket={}&key={}&etag={}",
                    q(bucket),
                    q(key),
                    q(&etag)
                );
                (StatusCode::SEE_OTHER, Body::empty(), to)
            }
            (None, StatusCode::CREATED) => {
                let doc = PostResponse {
                    location: location.to_string(),
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    etag,
                };
                let text = crate::xml::to_xml("PostResponse", &doc)?;
                (StatusCode::CREATED, Body::from(text), location.to_string())
            }
            (None, status) => (status, Body::empty(), location.to_string()),
        };
        let mut r = Response::new(body);
        *r.status_mut() = status;
        *r.headers_mut() = put.headers;
        if status == StatusCode::CREATED {
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
        }
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        Ok(r)
    }
}

/// The document of a `success_action_status=201` answer.
#[derive(serde::Serialize)]
struct PostResponse {
    #[serde(rename = "Location")]
    location: String,
    #[serde(rename = "Bucket")]
    bucket: String,
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "ETag")]
    etag: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        B64.encode(json)
    }

    #[test]
    fn policy_documents() {
        let p = parse_policy(&b64(
            r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bUcKeT":"b"},["StArTs-WiTh","$KeY","u/"],["content-length-range",1,"10"],["eq","$x-amz-meta-a",""]]}"#,
        ))
        .unwrap();
        assert_eq!(
            p.conditions,
            vec![
                Condition::Eq {
                    field: "bucket".into(),
                    value: "b".into()
                },
                Condition::StartsWith {
                    field: "key".into(),
                    prefix: "u/".into()
                },
                Condition::Range { min: 1, max: 10 },
                Condition::Eq {
                    field: "x-amz-meta-a".into(),
                    value: "".into()
                },
            ]
        );
        for bad in [
            "not base64!",
            &b64("{"),
            &b64(r#"{"conditions":[]}"#),
            &b64(r#"{"EXPIRATION":"2030-01-01T00:00:00Z","conditions":[]}"#),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z"}"#),
            &b64(r#"{"expiration":"2030-01-01 00:00:00.1+00:00","conditions":[]}"#),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[{}]}"#),
            &b64(
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",0]]}"#,
            ),
            &b64(
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",-1,0]]}"#,
            ),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","key","v"]]}"#),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["in","$key","v"]]}"#),
        ] {
            let e = parse_policy(bad).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidPolicyDocument, "{bad}");
        }
    }

    #[test]
    fn conditions_show_as_aws_quotes_them() {
        let c = Condition::StartsWith {
            field: "key".into(),
            prefix: "a\"b".into(),
        };
        assert_eq!(c.show(), r#"["starts-with", "$key", "a\"b"]"#);
        assert_eq!(
            Condition::Range { min: 0, max: 5 }.show(),
            r#"["content-length-range", 0, 5]"#
        );
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(n, v)| FormField {
                    name: n.to_string(),
                    lower: n.to_ascii_lowercase(),
                    value: v.to_string(),
                })
                .collect(),
        )
    }

    fn policy(conditions: &str) -> Policy {
        parse_policy(&b64(&format!(
            r#"{{"expiration":"2030-01-01T00:00:00Z","conditions":{conditions}}}"#
        )))
        .unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn policy_checks() {
        let p = policy(
            r#"[{"bucket":"b"},["starts-with","$key","u/"],{"acl":"private"},["starts-with","$Content-Type","image/"],["content-length-range",1,10]]"#,
        );
        let f = fields(&[
            ("Key", "u/${filename}"),
            ("ACL", "private"),
            ("content-type", "image/png, image/jpeg"),
            ("AWSAccessKeyId", "AK"),
            ("x-ignore-me", "1"),
        ]);
        assert_eq!(
            check_policy(&p, &f, "b", "u/a.png", now()).unwrap(),
            Some((1, 10))
        );
        let denied = |p: &Policy, f: &Fields, bucket: &str, key: &str| {
            let e = check_policy(p, f, bucket, key, now()).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::AccessDenied);
            e.message
        };
        assert_eq!(
            denied(&p, &f, "other", "u/a.png"),
            r#"Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "b"]"#
        );
        assert_eq!(
            denied(&p, &f, "b", "v/a.png"),
            r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "u/"]"#
        );
        let f2 = fields(&[
            ("key", "u/a"),
            ("acl", "private"),
            ("content-type", "image/png, text/html"),
        ]);
        assert!(denied(&p, &f2, "b", "u/a").contains("$content-type"));
        let f3 = fields(&[
            ("key", "u/a"),
            ("acl", "private"),
            ("content-type", "image/png"),
            ("x-amz-meta-a", "1"),
            ("Foo", "2"),
        ]);
        assert_eq!(
            denied(&p, &f3, "b", "u/a"),
            "Invalid according to Policy: Extra input fields: x-amz-meta-a, Foo"
        );
        // A condition on a field the form lacks fails unless it allows "".
        let f4 = fields(&[("key", "u/a"), ("content-type", "image/png")]);
        assert!(denied(&p, &f4, "b", "u/a").contains("$acl"));
        // Without a bucket condition, the bucket is an extra field.
        let p2 = policy(r#"[["starts-with","$key",""]]"#);
        assert_eq!(
            denied(&p2, &fields(&[("key", "k")]), "b", "k"),
            "Invalid according to Policy: Extra input fields: bucket"
        );
        let expired = Policy {
            expiration: now() - time::Duration::seconds(1),
            conditions: Vec::new(),
        };
        assert_eq!(
            denied(&expired, &f, "b", "k"),
            "Invalid according to Policy: Policy expired."
        );
    }

    #[test]
    fn signers_and_missing_fields() {
        assert!(matches!(
            signer(&fields(&[("key", "k")]), "us-east-1").unwrap(),
            Signer::Anonymous
        ));
        let v2 = fields(&[
            ("AWSAccessKeyId", "AK"),
            ("policy", "p"),
            ("signature", "s"),
        ]);
        assert!(matches!(
            signer(&v2, "us-east-1").unwrap(),
            Signer::V2 { .. }
        ));
        let e = signer(
            &fields(&[("AWSAccessKeyId", "AK"), ("policy", "p")]),
            "us-east-1",
        )
        .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidArgument);
        assert!(e.message.contains("'signature'"), "{}", e.message);
        let v4 = |cred: &str| {
            fields(&[
                ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                ("x-amz-credential", cred),
                ("x-amz-date", "20300101T000000Z"),
                ("x-amz-signature", "ABC"),
                ("policy", "p"),
            ])
        };
        match signer(&v4("AK/20300101/us-east-1/s3/aws4_request"), "us-east-1").unwrap() {
            Signer::V4 {
                credential,
                signature,
            } => {
                assert_eq!(credential.access_key, "AK");
                assert_eq!(signature, "abc");
            }
            _ => panic!("not V4"),
        }
        for bad in [
            "AK/20300101/eu-west-1/s3/aws4_request",
            "AK/20300101/us-east-1/sts/aws4_request",
            "AK/2030/us-east-1/s3/aws4_request",
        ] {
            let e = signer(&v4(bad), "us-east-1").unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn object_headers_from_fields() {
        let h = object_headers(&fields(&[
            ("Content-Type", "text/plain"),
            ("acl", "public-read"),
            ("X-Amz-Meta-Color", "blue"),
            ("x-amz-meta-color", "ignored repeat"),
            (
                "tagging",
                "<Tagging><TagSet><Tag><Key>a b</Key><Value>1+2</Value></Tag></TagSet></Tagging>",
            ),
            ("success_action_status", "201"),
        ]))
        .unwrap();
        assert_eq!(h["content-type"], "text/plain");
        assert_eq!(h["x-amz-acl"], "public-read");
        assert_eq!(h["x-amz-meta-color"], "blue");
        assert_eq!(h["x-amz-tagging"], "a%20b=1%2B2");
        assert_eq!(h.len(), 4);
        assert_eq!(
            crate::ops::tagging(&h).unwrap(),
            vec![("a b".to_string(), "1+2".to_string())]
        );
        let e = object_headers(&fields(&[("tagging", "<nope")])).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::MalformedXML);
    }

    #[test]
    fn exempt_fields() {
        for f in [
            "awsaccesskeyid",
            "signature",
            "x-amz-signature",
            "file",
            "policy",
            "x-ignore-a",
        ] {
            assert!(exempt(f), "{f}");
        }
        for f in ["key", "bucket", "acl", "x-amz-date", "x-amz-security-token"] {
            assert!(!exempt(f), "{f}");
        }
    }

    #[test]
    fn form_uploads_by_content_type() {
        let mut h = HeaderMap::new();
        assert!(!is_form_upload(&h));
        h.insert(
            http::header::CONTENT_TYPE,
            "Multipart/Form-Data; boundary=x".parse().unwrap(),
        );
        assert!(is_form_upload(&h));
        h.insert(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert!(!is_form_upload(&h));
    }
}
