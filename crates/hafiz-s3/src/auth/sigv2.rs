//! AWS Signature Version 2 (HMAC-SHA1), which S3 still accepts and which boto3 uses by
//! default for `generate_presigned_url`: the `Authorization: AWS key:sig` header form
//! and the `AWSAccessKeyId`/`Signature`/`Expires` query form.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;
use subtle::ConstantTimeEq;

use super::{Authenticated, Identity, PayloadCheck, SecretLookup};
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Query parameters that are part of the signed resource (the list botocore and the
/// S3 documentation use).
const SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

const MAX_SKEW_SECS: i64 = 15 * 60;

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, Option<String>)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), Some(decode(v))),
            None => (decode(p), None),
        })
        .collect()
}

/// Whether the request is signed with SigV2 at all.
pub fn is_v2(headers: &HeaderMap, raw_query: Option<&str>) -> bool {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "AWS" || v.starts_with("AWS "));
    header
        || query_pairs(raw_query)
            .iter()
            .any(|(k, _)| k == "AWSAccessKeyId")
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
}

fn string_to_sign(
    method: &Method,
    resource_path: &str,
    query: &[(String, Option<String>)],
    headers: &HeaderMap,
    date_line: &str,
) -> String {
    let from_query = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone())
    };
    let content_md5 = Some(header(headers, "content-md5"))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| from_query("content-md5"))
        .unwrap_or_default();
    let content_type = Some(header(headers, "content-type"))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| from_query("content-type"))
        .unwrap_or_default();
    let mut amz: Vec<(String, String)> = Vec::new();
    for name in headers.keys() {
        let n = name.as_str();
        if n.starts_with("x-amz-") {
            let joined = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(",");
            amz.push((n.to_string(), joined));
        }
    }
    for (k, v) in query {
        let lk = k.to_ascii_lowercase();
        if lk.starts_with("x-amz-") && !amz.iter().any(|(n, _)| *n == lk) {
            amz.push((lk, v.clone().unwrap_or_default()));
        }
    }
    amz.sort();
    let mut s = format!(
        "{}\n{}\n{}\n{}\n",
        method.as_str(),
        content_md5,
        content_type,
        date_line
    );
    for (k, v) in amz {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(resource_path);
    let mut sub: Vec<&(String, Option<String>)> = query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .collect();
    sub.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (k, v)) in sub.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

fn sign(secret: &str, sts: &str) -> String {
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(sts.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

fn check(secret: &str, sts: &str, given: &str) -> S3Result<()> {
    let expected = sign(secret, sts);
    if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        Ok(())
    } else {
        Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch).extra("StringToSign", sts.to_string()))
    }
}

/// The resources a request may have been signed with. A bucket-level path-style request
/// (`/bucket`) is signed by botocore, and accepted by AWS, as `/bucket/`.
fn resource_candidates(resource_path: &str) -> Vec<String> {
    let mut out = vec![resource_path.to_string()];
    let rest = resource_path.strip_prefix('/').unwrap_or("");
    if !rest.is_empty() && !rest.contains('/') {
        out.push(format!("{resource_path}/"));
    }
    out
}

/// Checks the signature against each candidate resource; the error names the first.
fn check_any(
    secret: &str,
    given: &str,
    resource_path: &str,
    sts_of: impl Fn(&str) -> String,
) -> S3Result<()> {
    let mut first = None;
    for resource in resource_candidates(resource_path) {
        match check(secret, &sts_of(&resource), given) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.unwrap_or_else(|| S3Error::new(S3ErrorCode::SignatureDoesNotMatch)))
}

/// Parses the request time of a header-signed request (an HTTP date); dates before the
/// epoch are invalid, as on AWS.
fn parse_date(value: &str) -> Option<i64> {
    if let Ok(t) = httpdate::parse_http_date(value) {
        return t
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs() as i64);
    }
    super::sigv4::parse_http_date(value)
        .filter(|t| t.year() >= 1970)
        .map(|t| t.unix_timestamp())
}

/// Verify a SigV2 request. `resource_path` is the raw path, with `/bucket` prepended
/// for virtual-host-style requests.
pub fn authenticate_v2(
    method: &Method,
    resource_path: &str,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    now: SystemTime,
    secrets: &dyn SecretLookup,
) -> S3Result<Authenticated> {
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let query = query_pairs(raw_query);
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone())
    };
    let unknown_key = |ak: &str| {
        S3Error::new(S3ErrorCode::InvalidAccessKeyId).extra("AWSAccessKeyId", ak.to_string())
    };
    if let Some(ak) = q("AWSAccessKeyId") {
        let sig = q("Signature").ok_or_else(|| S3Error::with_message(S3ErrorCode::AccessDenied, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"))?;
        let expires = q("Expires").ok_or_else(|| S3Error::with_message(S3ErrorCode::AccessDenied, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"))?;
        let exp: i64 = expires.parse().map_err(|_| {
            S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Invalid date (should be seconds since epoch)",
            )
        })?;
        let secret = secrets.secret_key(&ak).ok_or_else(|| unknown_key(&ak))?;
        if now_secs > exp {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Request has expired",
            ));
        }
        let signed_query: Vec<(String, Option<String>)> = query
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "AWSAccessKeyId" | "Signature" | "Expires"))
            .cloned()
            .collect();
        check_any(&secret, &sig, resource_path, |resource| {
            string_to_sign(method, resource, &signed_query, headers, &expires)
        })?;
        return Ok(Authenticated {
            identity: Identity::AccessKey(ak),
            payload: PayloadCheck::Unsigned,
        });
    }
    let auth = header(headers, "authorization");
    let invalid_header = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
        )
        .extra("ArgumentName", "Authorization")
        .extra("ArgumentValue", auth.chars().take(256).collect::<String>())
    };
    let creds = auth
        .strip_prefix("AWS")
        .map(str::trim_start)
        .ok_or_else(|| S3Error::new(S3ErrorCode::AccessDenied))?;
    let (ak, sig) = creds.split_once(':').ok_or_else(invalid_header)?;
    if ak.is_empty() || sig.is_empty() {
        return Err(invalid_header());
    }
    let secret = secrets.secret_key(ak).ok_or_else(|| unknown_key(ak))?;
    // x-amz-date, when present (even empty), is the request time and Date is ignored
    // (ceph s3-tests `test_object_create_bad_date_empty_aws2`: an empty one is AccessDenied).
    let amz_date = headers
        .get("x-amz-date")
        .map(|v| v.to_str().unwrap_or("").trim());
    let date = amz_date.unwrap_or_else(|| header(headers, "date"));
    let t = parse_date(date).ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    })?;
    if (now_secs - t).abs() > MAX_SKEW_SECS {
        return Err(S3Error::new(S3ErrorCode::RequestTimeTooSkewed)
            .extra("RequestTime", date.to_string())
            .extra(
                "ServerTime",
                super::sigv4::format_iso8601(super::sigv4::to_offset(now)),
            )
            .extra(
                "MaxAllowedSkewMilliseconds",
                (MAX_SKEW_SECS * 1000).to_string(),
            ));
    }
    // With x-amz-date present, the Date line of the string to sign is empty.
    let date_line = if amz_date.is_some() { "" } else { date };
    check_any(&secret, sig, resource_path, |resource| {
        string_to_sign(method, resource, &query, headers, date_line)
    })?;
    Ok(Authenticated {
        identity: Identity::AccessKey(ak.to_string()),
        payload: PayloadCheck::Unsigned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One;
    impl SecretLookup for One {
        fn secret_key(&self, ak: &str) -> Option<String> {
            (ak == "AKIDEXAMPLE").then(|| "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string())
        }
    }

    /// Produced by botocore 1.43 `HmacV1QueryAuth` (expires 1795524439) and
    /// `HmacV1Auth` with the credentials above.
    #[test]
    fn verifies_botocore_presigned_url() {
        let now = UNIX_EPOCH + std::time::Duration::from_secs(1_795_520_000);
        let q = "AWSAccessKeyId=AKIDEXAMPLE&Signature=BOTOCORE_SIG&Expires=1795524439";
        let sts = string_to_sign(
            &Method::GET,
            "/bk2/plain",
            &[],
            &HeaderMap::new(),
            "1795524439",
        );
        assert_eq!(sts, "GET\n\n\n1795524439\n/bk2/plain");
        let sig = sign("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &sts);
        let enc: String =
            percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let q = q.replace("BOTOCORE_SIG", &enc);
        assert!(
            authenticate_v2(
                &Method::GET,
                "/bk2/plain",
                Some(&q),
                &HeaderMap::new(),
                now,
                &One
            )
            .is_ok()
        );
        let later = UNIX_EPOCH + std::time::Duration::from_secs(1_795_524_440);
        let e = authenticate_v2(
            &Method::GET,
            "/bk2/plain",
            Some(&q),
            &HeaderMap::new(),
            later,
            &One,
        )
        .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
        let e = authenticate_v2(
            &Method::GET,
            "/bk2/other",
            Some(&q),
            &HeaderMap::new(),
            now,
            &One,
        )
        .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::SignatureDoesNotMatch);
    }

    #[test]
    fn canonical_resource_keeps_only_subresources_sorted() {
        let q = query_pairs(Some("uploadId=a%2Fb&prefix=x&partNumber=2&acl"));
        let sts = string_to_sign(&Method::PUT, "/b/k", &q, &HeaderMap::new(), "d");
        assert!(sts.ends_with("/b/k?acl&partNumber=2&uploadId=a/b"), "{sts}");
    }
}
