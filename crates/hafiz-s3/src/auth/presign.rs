//! Query-string (presigned URL) SigV4 authentication.

use std::time::Duration;

use time::OffsetDateTime;

use super::canonical::decoded_query_pairs;
use super::sigv4::{self, Credential, CredentialError};
use crate::error::{S3Error, S3ErrorCode, S3Result};

pub const X_AMZ_ALGORITHM: &str = "X-Amz-Algorithm";
pub const X_AMZ_CREDENTIAL: &str = "X-Amz-Credential";
pub const X_AMZ_DATE: &str = "X-Amz-Date";
pub const X_AMZ_EXPIRES: &str = "X-Amz-Expires";
pub const X_AMZ_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
pub const X_AMZ_SIGNATURE: &str = "X-Amz-Signature";
pub const X_AMZ_SECURITY_TOKEN: &str = "X-Amz-Security-Token";

/// Longest validity AWS accepts for a presigned URL: 7 days.
pub const MAX_EXPIRES_SECS: u64 = 604_800;

const AUTH_PARAMS: &[&str] = &[
    X_AMZ_ALGORITHM,
    X_AMZ_CREDENTIAL,
    X_AMZ_DATE,
    X_AMZ_EXPIRES,
    X_AMZ_SIGNED_HEADERS,
    X_AMZ_SIGNATURE,
    X_AMZ_SECURITY_TOKEN,
];

/// Malformed presigned-URL parameters: AWS answers `AuthorizationQueryParametersError` (400).
pub fn query_error(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::AuthorizationQueryParametersError, message)
}

/// The SigV4 query authentication parameters of a request.
#[derive(Debug, Default)]
pub struct QueryAuth {
    pub algorithm: Option<String>,
    pub credential: Option<String>,
    pub date: Option<String>,
    pub expires: Option<String>,
    pub signed_headers: Option<String>,
    pub signature: Option<String>,
}

impl QueryAuth {
    /// Extracts the parameters; `None` when the query carries none of them (not presigned).
    pub fn from_query(raw_query: Option<&str>) -> S3Result<Option<QueryAuth>> {
        let Some(raw) = raw_query else {
            return Ok(None);
        };
        let mut q = QueryAuth::default();
        let mut any = false;
        for (name, value) in decoded_query_pairs(raw) {
            let slot = match name.as_str() {
                X_AMZ_ALGORITHM => &mut q.algorithm,
                X_AMZ_CREDENTIAL => &mut q.credential,
                X_AMZ_DATE => &mut q.date,
                X_AMZ_EXPIRES => &mut q.expires,
                X_AMZ_SIGNED_HEADERS => &mut q.signed_headers,
                X_AMZ_SIGNATURE => &mut q.signature,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(query_error(format!("Duplicate query parameter: {name}")));
            }
            any = true;
        }
        // X-Amz-Security-Token alone (or other X-Amz-* names) does not make a presigned URL.
        let presigned =
            any && (q.algorithm.is_some() || q.signature.is_some() || q.credential.is_some());
        Ok(presigned.then_some(q))
    }
}

/// Whether `name` is one of the SigV4 query authentication parameters.
pub fn is_auth_param(name: &str) -> bool {
    AUTH_PARAMS.contains(&name)
}

/// The checked, not yet signature-verified, values of a presigned request.
pub struct Presigned {
    pub credential: Credential,
    pub date: OffsetDateTime,
    pub signed_headers: String,
    pub signature: String,
}

/// Checks the parameters of a presigned request: algorithm, credential scope, date, expiry.
pub fn check_params(q: QueryAuth, region: &str, now: OffsetDateTime) -> S3Result<Presigned> {
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed_headers),
        Some(signature),
    ) = (
        q.algorithm,
        q.credential,
        q.date,
        q.expires,
        q.signed_headers,
        q.signature,
    )
    else {
        return Err(query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ));
    };
    if algorithm != sigv4::ALGORITHM {
        return Err(query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let credential = sigv4::parse_credential(&credential, region).map_err(|e| match e {
        CredentialError::WrongRegion { got } => S3Error::with_message(
            S3ErrorCode::AuthorizationHeaderMalformed,
            format!(
                "Error parsing the X-Amz-Credential parameter; the region '{got}' is wrong; expecting '{region}'"
            ),
        )
        .extra("Region", region),
        CredentialError::WrongService { got } => query_error(format!(
            "Error parsing the X-Amz-Credential parameter; incorrect service \"{got}\". This endpoint belongs to \"s3\"."
        )),
        CredentialError::WrongTerminator { got } => query_error(format!(
            "Error parsing the X-Amz-Credential parameter; incorrect terminal \"{got}\". This endpoint uses \"aws4_request\"."
        )),
        CredentialError::Malformed => query_error(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        ),
    })?;
    let Some(t) = sigv4::parse_amz_date(&date) else {
        return Err(query_error(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        ));
    };
    if sigv4::format_scope_date(t) != credential.date {
        return Err(query_error(format!(
            "Invalid credential date \"{}\". This date is not the same as X-Amz-Date: \"{}\".",
            credential.date,
            sigv4::format_scope_date(t)
        )));
    }
    let expires_secs = match expires.parse::<i64>() {
        Err(_) => return Err(query_error("X-Amz-Expires should be a number")),
        Ok(n) if n < 0 => return Err(query_error("X-Amz-Expires must be non-negative")),
        Ok(0) => return Err(query_error("X-Amz-Expires must be greater than 0")),
        Ok(n) if n.unsigned_abs() > MAX_EXPIRES_SECS => {
            return Err(query_error(
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            ));
        }
        Ok(n) => n.unsigned_abs(),
    };
    if t - now > sigv4::MAX_SKEW {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Request is not valid yet",
        ));
    }
    let expiry = t + Duration::from_secs(expires_secs);
    if now > expiry {
        return Err(
            S3Error::with_message(S3ErrorCode::AccessDenied, "Request has expired")
                .extra("X-Amz-Expires", expires_secs.to_string())
                .extra("Expires", sigv4::format_iso8601(expiry))
                .extra("ServerTime", sigv4::format_iso8601(now)),
        );
    }
    Ok(Presigned {
        credential,
        date: t,
        signed_headers,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> S3Result<Option<QueryAuth>> {
        QueryAuth::from_query(Some(s))
    }

    #[test]
    fn detection() {
        assert!(q("uploads").unwrap().is_none());
        assert!(q("X-Amz-Security-Token=x").unwrap().is_none());
        assert!(QueryAuth::from_query(None).unwrap().is_none());
        let a = q("a=b&X-Amz-Signature=ab&X-Amz-Credential=AK%2F1")
            .unwrap()
            .unwrap();
        assert_eq!(a.signature.as_deref(), Some("ab"));
        assert_eq!(a.credential.as_deref(), Some("AK/1"));
        assert!(q("X-Amz-Signature=a&X-Amz-Signature=b").is_err());
    }

    fn params(date: &str, expires: &str) -> QueryAuth {
        QueryAuth {
            algorithm: Some("AWS4-HMAC-SHA256".into()),
            credential: Some(format!("AK/{}/us-east-1/s3/aws4_request", &date[..8])),
            date: Some(date.into()),
            expires: Some(expires.into()),
            signed_headers: Some("host".into()),
            signature: Some("00".into()),
        }
    }

    #[test]
    fn checks() {
        let now = sigv4::parse_amz_date("20240517T120000Z").unwrap();
        let code = |p: QueryAuth| {
            check_params(p, "us-east-1", now)
                .err()
                .map(|e| (e.code, e.message))
        };
        assert_eq!(code(params("20240517T115000Z", "3600")), None);
        assert_eq!(code(params("20240517T110000Z", "3600")), None);
        assert_eq!(
            code(params("20240517T105959Z", "3600")),
            Some((S3ErrorCode::AccessDenied, "Request has expired".into()))
        );
        assert_eq!(
            code(params("20240517T121600Z", "3600")),
            Some((S3ErrorCode::AccessDenied, "Request is not valid yet".into()))
        );
        assert_eq!(code(params("20240517T120000Z", "604800")), None);
        for bad in ["604801", "0", "-1", "x", ""] {
            assert_eq!(
                code(params("20240517T120000Z", bad)).unwrap().0,
                S3ErrorCode::AuthorizationQueryParametersError
            );
        }
        let mut p = params("20240517T120000Z", "60");
        p.credential = Some("AK/20240516/us-east-1/s3/aws4_request".into());
        assert_eq!(
            code(p).unwrap().0,
            S3ErrorCode::AuthorizationQueryParametersError
        );
        let mut p = params("20240517T120000Z", "60");
        p.credential = Some("AK/20240517/eu-west-1/s3/aws4_request".into());
        assert_eq!(
            code(p).unwrap().0,
            S3ErrorCode::AuthorizationHeaderMalformed
        );
        let mut p = params("20240517T120000Z", "60");
        p.algorithm = Some("AWS4-ECDSA-P256-SHA256".into());
        assert_eq!(
            code(p).unwrap().0,
            S3ErrorCode::AuthorizationQueryParametersError
        );
        let mut p = params("20240517T120000Z", "60");
        p.signed_headers = None;
        assert_eq!(
            code(p).unwrap().0,
            S3ErrorCode::AuthorizationQueryParametersError
        );
    }
}
