//! SigV4 pieces shared by header and query (presigned) authentication: credential scope,
//! dates, the signing key and the signature check itself; plus the `Authorization` header
//! flow.

use std::time::{Duration, SystemTime};

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use super::canonical;
use crate::error::{S3Error, S3ErrorCode, S3Result};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const TERMINATOR: &str = "aws4_request";
/// AWS allows 15 minutes between the request time and the server's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// Services whose names are accepted in a credential scope.
/// `hafiz-admin` is accepted only by the admin listener (the S3 gateway refuses it).
pub const SERVICES: &[&str] = &["s3", "iam", "sts", "hafiz-admin"];

const AMZ_DATE: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const SCOPE_DATE: &[BorrowedFormatItem<'static>] = format_description!("[year][month][day]");
const HTTP_DATE: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);
const ISO8601: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

pub fn malformed(detail: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AuthorizationHeaderMalformed,
        format!("The authorization header is malformed; {detail}"),
    )
}

/// Parses `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    if s.len() != 16 {
        return None;
    }
    time::PrimitiveDateTime::parse(s, AMZ_DATE)
        .ok()
        .map(|t| t.assume_utc())
}

/// Parses an HTTP `Date`: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) or the RFC 2822
/// form with a numeric zone that botocore sends (`Fri, 17 May 2024 12:34:56 -0000`).
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = time::PrimitiveDateTime::parse(s, HTTP_DATE) {
        return Some(t.assume_utc());
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

pub fn format_amz_date(t: OffsetDateTime) -> String {
    t.format(AMZ_DATE).unwrap_or_default()
}

pub fn format_iso8601(t: OffsetDateTime) -> String {
    t.format(ISO8601).unwrap_or_default()
}

pub fn format_scope_date(t: OffsetDateTime) -> String {
    t.format(SCOPE_DATE).unwrap_or_default()
}

pub fn to_offset(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t)
}

/// A parsed `Credential` (`AKID/YYYYMMDD/region/service/aws4_request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

impl Credential {
    /// `YYYYMMDD/region/service/aws4_request`, the scope line of the string to sign.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// Why a credential could not be accepted; callers turn it into the header- or query-flavoured
/// AWS error.
#[derive(Debug, PartialEq, Eq)]
pub enum CredentialError {
    /// Not five `/`-separated parts, or an empty part, or a bad date.
    Malformed,
    WrongRegion {
        got: String,
    },
    WrongService {
        got: String,
    },
    WrongTerminator {
        got: String,
    },
}

/// Parses and checks a credential. The access key is everything before the last four parts.
pub fn parse_credential(value: &str, region: &str) -> Result<Credential, CredentialError> {
    let mut parts = value.rsplitn(5, '/');
    let (Some(term), Some(service), Some(reg), Some(date), Some(ak)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(CredentialError::Malformed);
    };
    if ak.is_empty()
        || reg.is_empty()
        || date.len() != 8
        || time::Date::parse(date, SCOPE_DATE).is_err()
    {
        return Err(CredentialError::Malformed);
    }
    if term != TERMINATOR {
        return Err(CredentialError::WrongTerminator {
            got: term.to_string(),
        });
    }
    if !SERVICES.contains(&service) {
        return Err(CredentialError::WrongService {
            got: service.to_string(),
        });
    }
    // IAM is a global service whose clients always sign for us-east-1.
    if reg != region && !(service == "iam" && reg == "us-east-1") {
        return Err(CredentialError::WrongRegion {
            got: reg.to_string(),
        });
    }
    Ok(Credential {
        access_key: ak.to_string(),
        date: date.to_string(),
        region: reg.to_string(),
        service: service.to_string(),
    })
}

/// The header form of a credential error.
pub fn credential_error_header(e: CredentialError, region: &str) -> S3Error {
    match e {
        CredentialError::Malformed => malformed(
            "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        ),
        CredentialError::WrongRegion { got } => {
            malformed(format!("the region '{got}' is wrong; expecting '{region}'"))
                .extra("Region", region)
        }
        CredentialError::WrongService { got } => malformed(format!(
            "incorrect service \"{got}\". This endpoint belongs to \"s3\"."
        )),
        CredentialError::WrongTerminator { got } => malformed(format!(
            "incorrect terminal \"{got}\". This endpoint uses \"{TERMINATOR}\"."
        )),
    }
}

/// Splits and checks a `SignedHeaders` value (`host;x-amz-date`).
pub fn parse_signed_headers(value: &str) -> Option<Vec<&str>> {
    let list: Vec<&str> = value.split(';').collect();
    let valid = list.iter().all(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
    });
    valid.then_some(list)
}

/// AWS requires `host` and every `x-amz-*` header present on the request to be signed.
/// `x-amz-content-sha256` is exempt: it is bound by the canonical request's payload line.
pub fn check_unsigned_headers(headers: &http::HeaderMap, signed: &[&str]) -> S3Result<()> {
    let is_signed = |name: &str| signed.iter().any(|s| s.eq_ignore_ascii_case(name));
    let mut missing: Vec<&str> = Vec::new();
    if !is_signed("host") {
        missing.push("host");
    }
    for name in headers.keys() {
        let n = name.as_str();
        if n.starts_with("x-amz-")
            && n != "x-amz-content-sha256"
            && !is_signed(n)
            && !missing.contains(&n)
        {
            missing.push(n);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "There were headers present in the request which were not signed",
        )
        .extra("HeadersNotSigned", missing.join(", ")))
    }
}

/// Derives the SigV4 signing key for a credential (the date is the request's date, already
/// checked to match the credential's).
pub fn signing_key(secret: &str, date: OffsetDateTime, cred: &Credential) -> Vec<u8> {
    generate_signing_key(secret, date.into(), &cred.region, &cred.service)
        .as_ref()
        .to_vec()
}

/// Constant-time comparison of a computed and a provided signature.
pub fn signatures_equal(computed: &str, provided: &str) -> bool {
    computed.as_bytes().ct_eq(provided.as_bytes()).into()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Everything needed to check a request signature.
pub struct SignatureCheck<'a> {
    pub method: &'a http::Method,
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    /// Query parameter left out of the canonical query (`X-Amz-Signature`).
    pub exclude_param: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub signed_headers: &'a [&'a str],
    pub payload_hash: &'a str,
    pub amz_date: &'a str,
    pub credential: &'a Credential,
    pub signing_key: &'a [u8],
    pub provided: &'a str,
}

fn canonical_request(
    c: &SignatureCheck<'_>,
    uri: &str,
    query: &str,
    headers_block: &[u8],
    signed: &str,
) -> Vec<u8> {
    let mut cr = Vec::with_capacity(256 + uri.len() + query.len() + headers_block.len());
    cr.extend_from_slice(c.method.as_str().as_bytes());
    cr.push(b'\n');
    cr.extend_from_slice(uri.as_bytes());
    cr.push(b'\n');
    cr.extend_from_slice(query.as_bytes());
    cr.push(b'\n');
    cr.extend_from_slice(headers_block);
    cr.push(b'\n');
    cr.extend_from_slice(signed.as_bytes());
    cr.push(b'\n');
    cr.extend_from_slice(c.payload_hash.as_bytes());
    cr
}

fn string_to_sign(c: &SignatureCheck<'_>, canonical: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        c.amz_date,
        c.credential.scope(),
        sha256_hex(canonical)
    )
}

/// Checks the signature against every canonical-form candidate (see [`canonical`]).
pub fn verify(c: &SignatureCheck<'_>) -> S3Result<()> {
    let headers_block = match canonical::canonical_headers(c.headers, c.signed_headers) {
        Ok(b) => b,
        Err(name) => {
            tracing::debug!(header = %name, "signed header missing from request");
            return Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
                .extra("AWSAccessKeyId", c.credential.access_key.clone())
                .extra("SignatureProvided", c.provided));
        }
    };
    let signed = c.signed_headers.join(";");
    let uris = canonical::canonical_uri_candidates(c.raw_path);
    let queries = canonical::canonical_query_candidates(c.raw_query, c.exclude_param);
    let mut first: Option<(Vec<u8>, String)> = None;
    for query in &queries {
        for uri in &uris {
            let cr = canonical_request(c, uri, query, &headers_block, &signed);
            let sts = string_to_sign(c, &cr);
            let computed = calculate_signature(c.signing_key, sts.as_bytes());
            if signatures_equal(&computed, c.provided) {
                return Ok(());
            }
            if first.is_none() {
                first = Some((cr, sts));
            }
        }
    }
    let (cr, sts) = first.unwrap_or_default();
    let cr = String::from_utf8_lossy(&cr).into_owned();
    tracing::debug!(canonical_request = %cr, string_to_sign = %sts, "signature mismatch");
    Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
        .extra("AWSAccessKeyId", c.credential.access_key.clone())
        .extra("StringToSign", sts)
        .extra("SignatureProvided", c.provided)
        .extra("CanonicalRequest", cr))
}

/// The three components of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, PartialEq, Eq)]
pub struct AuthorizationHeader<'a> {
    pub credential: &'a str,
    pub signed_headers: &'a str,
    pub signature: &'a str,
}

/// Parses the value of an `Authorization` header. Components may be separated by commas
/// and/or whitespace, in any order.
pub fn parse_authorization(value: &str) -> S3Result<AuthorizationHeader<'_>> {
    let Some(rest) = value.trim_start().strip_prefix(ALGORITHM) else {
        return Err(unsupported_authorization(value));
    };
    if !rest.is_empty() && !rest.starts_with([' ', '\t', ',']) {
        return Err(unsupported_authorization(value));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for token in rest.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        let slot = match token.split_once('=') {
            Some(("Credential", v)) => (&mut credential, v),
            Some(("SignedHeaders", v)) => (&mut signed_headers, v),
            Some(("Signature", v)) => (&mut signature, v),
            _ => {
                return Err(malformed(format!(
                    "the authorization component \"{token}\" is malformed."
                )));
            }
        };
        if slot.0.replace(slot.1).is_some() {
            return Err(malformed(format!(
                "the authorization component \"{token}\" is malformed."
            )));
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(AuthorizationHeader {
            credential,
            signed_headers,
            signature,
        }),
        _ => Err(malformed(
            "the authorization header requires three components: Credential, SignedHeaders, and Signature.",
        )),
    }
}

fn unsupported_authorization(value: &str) -> S3Error {
    let scheme = value.split_whitespace().next().unwrap_or("");
    if scheme == "AWS" || scheme.starts_with("AWS4-") {
        // SigV2 and SigV4a.
        S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        )
    } else {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Unsupported Authorization Type",
        )
        .extra("ArgumentName", "Authorization")
        .extra("ArgumentValue", value.chars().take(256).collect::<String>())
    }
}

/// The request time of a header-signed request: `x-amz-date`, else `Date`.
pub fn request_time(headers: &http::HeaderMap) -> S3Result<(OffsetDateTime, String)> {
    let parsed = match headers.get("x-amz-date") {
        Some(v) => v.to_str().ok().and_then(parse_amz_date).map(|t| (t, v)),
        None => headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok().and_then(parse_http_date).map(|t| (t, v))),
    };
    match parsed {
        // AWS refuses a date before the epoch as invalid, not as skewed (ceph s3-tests
        // `test_object_create_bad_amz_date_before_epoch_aws4`).
        Some((t, raw)) if t.year() >= 1970 => {
            Ok((t, String::from_utf8_lossy(raw.as_bytes()).into_owned()))
        }
        _ => Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        )),
    }
}

pub fn too_skewed(request_time_raw: &str, now: OffsetDateTime) -> S3Error {
    S3Error::new(S3ErrorCode::RequestTimeTooSkewed)
        .extra("RequestTime", request_time_raw)
        .extra("ServerTime", format_iso8601(now))
        .extra(
            "MaxAllowedSkewMilliseconds",
            MAX_SKEW.as_millis().to_string(),
        )
}

/// Whether `t` is more than [`MAX_SKEW`] away from `now`.
pub fn is_skewed(t: OffsetDateTime, now: OffsetDateTime) -> bool {
    (t - now).unsigned_abs() > MAX_SKEW
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = parse_amz_date("20240517T123456Z").unwrap();
        assert_eq!(format_amz_date(t), "20240517T123456Z");
        assert_eq!(format_iso8601(t), "2024-05-17T12:34:56Z");
        assert_eq!(format_scope_date(t), "20240517");
        assert!(parse_amz_date("20240517T123456").is_none());
        assert!(parse_amz_date("20241317T123456Z").is_none());
        assert!(parse_amz_date("").is_none());
        assert!(parse_amz_date("2024051７T12345Z").is_none());
        let d = parse_http_date("Fri, 17 May 2024 12:34:56 GMT").unwrap();
        assert_eq!(d, t);
        assert_eq!(parse_http_date("Fri, 17 May 2024 12:34:56 +0000"), Some(t));
        assert_eq!(parse_http_date("Fri, 17 May 2024 12:34:56 -0000"), Some(t));
        assert_eq!(parse_http_date("Fri, 17 May 2024 14:34:56 +0200"), Some(t));
        assert!(parse_http_date("17 May 2024").is_none());
    }

    #[test]
    fn credentials() {
        let c = parse_credential("AK/20240517/us-east-1/s3/aws4_request", "us-east-1").unwrap();
        assert_eq!(c.access_key, "AK");
        assert_eq!(c.scope(), "20240517/us-east-1/s3/aws4_request");
        let c = parse_credential("A/K/20240517/us-east-1/sts/aws4_request", "us-east-1").unwrap();
        assert_eq!(c.access_key, "A/K");
        assert_eq!(
            parse_credential("AK/20240517/eu-west-1/s3/aws4_request", "us-east-1"),
            Err(CredentialError::WrongRegion {
                got: "eu-west-1".into()
            })
        );
        assert!(parse_credential("AK/20240517/us-east-1/iam/aws4_request", "eu-west-1").is_ok());
        assert_eq!(
            parse_credential("AK/20240517/us-east-1/ec2/aws4_request", "us-east-1"),
            Err(CredentialError::WrongService { got: "ec2".into() })
        );
        assert_eq!(
            parse_credential("AK/20240517/us-east-1/s3/aws4", "us-east-1"),
            Err(CredentialError::WrongTerminator { got: "aws4".into() })
        );
        for bad in [
            "",
            "AK",
            "AK/2024/us-east-1/s3/aws4_request",
            "/20240517/r/s3/aws4_request",
        ] {
            assert_eq!(
                parse_credential(bad, "r"),
                Err(CredentialError::Malformed),
                "{bad}"
            );
        }
        let e = credential_error_header(CredentialError::WrongRegion { got: "x".into() }, "y");
        assert_eq!(e.code, S3ErrorCode::AuthorizationHeaderMalformed);
        assert!(e.message.contains("expecting 'y'"));
    }

    #[test]
    fn authorization_header() {
        let want = AuthorizationHeader {
            credential: "AK/20240517/us-east-1/s3/aws4_request",
            signed_headers: "host;x-amz-date",
            signature: "abc",
        };
        for v in [
            "AWS4-HMAC-SHA256 Credential=AK/20240517/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=AK/20240517/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-date,Signature=abc",
            "AWS4-HMAC-SHA256 Signature=abc Credential=AK/20240517/us-east-1/s3/aws4_request SignedHeaders=host;x-amz-date",
            "AWS4-HMAC-SHA256,Credential=AK/20240517/us-east-1/s3/aws4_request,,SignedHeaders=host;x-amz-date,  Signature=abc ",
        ] {
            assert_eq!(parse_authorization(v).unwrap(), want, "{v}");
        }
        let code = |v: &str| parse_authorization(v).unwrap_err().code;
        assert_eq!(code("AWS AK:sig"), S3ErrorCode::InvalidRequest);
        assert_eq!(
            code("AWS4-ECDSA-P256-SHA256 Credential=x"),
            S3ErrorCode::InvalidRequest
        );
        assert_eq!(code("Bearer x"), S3ErrorCode::InvalidArgument);
        assert_eq!(code("AWS4-HMAC-SHA256X"), S3ErrorCode::InvalidRequest);
        assert_eq!(
            code("AWS4-HMAC-SHA256"),
            S3ErrorCode::AuthorizationHeaderMalformed
        );
        assert_eq!(
            code("AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host"),
            S3ErrorCode::AuthorizationHeaderMalformed
        );
        assert_eq!(
            code("AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host, Signature=x, Foo=bar"),
            S3ErrorCode::AuthorizationHeaderMalformed
        );
        assert_eq!(
            code("AWS4-HMAC-SHA256 Credential=a, Credential=b, SignedHeaders=host, Signature=x"),
            S3ErrorCode::AuthorizationHeaderMalformed
        );
    }

    #[test]
    fn signed_headers_list() {
        assert_eq!(
            parse_signed_headers("host;x-amz-date"),
            Some(vec!["host", "x-amz-date"])
        );
        assert_eq!(parse_signed_headers(""), None);
        assert_eq!(parse_signed_headers("host;;x"), None);
        assert_eq!(parse_signed_headers("ho st"), None);
    }

    #[test]
    fn unsigned_headers() {
        let mut h = http::HeaderMap::new();
        h.insert("host", "h".parse().unwrap());
        h.insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
        h.insert("x-amz-acl", "private".parse().unwrap());
        assert!(check_unsigned_headers(&h, &["host", "x-amz-acl"]).is_ok());
        let e = check_unsigned_headers(&h, &["x-amz-date"]).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
        assert_eq!(
            e.extra,
            vec![("HeadersNotSigned", "host, x-amz-acl".to_string())]
        );
    }
}
