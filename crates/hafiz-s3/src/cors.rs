//! CORS: the bucket rules (Put/Get/DeleteBucketCors), the answer to a browser's
//! preflight `OPTIONS`, and the headers added to actual cross-origin requests.

use axum::body::Body;
use axum::response::Response;
use hafiz_meta::{BucketChange, CorsRule};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::require_bucket;
use crate::server::{Ctx, S3State, empty_response, xml_response};
use crate::xml::{self, NS};

const MAX_RULES: usize = 100;
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct CorsConfigurationXml {
    #[serde(
        rename = "@xmlns",
        skip_deserializing,
        skip_serializing_if = "str::is_empty"
    )]
    xmlns: &'static str,
    #[serde(rename = "CORSRule", default)]
    rules: Vec<CorsRuleXml>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct CorsRuleXml {
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default)]
    allowed_header: Vec<String>,
    #[serde(default)]
    allowed_method: Vec<String>,
    #[serde(default)]
    allowed_origin: Vec<String>,
    #[serde(default)]
    expose_header: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_age_seconds: Option<u32>,
}

/// `pattern` with at most one `*` standing for any run of characters.
fn wildcard_match(pattern: &str, s: &str, case_insensitive: bool) -> bool {
    let (p, s) = if case_insensitive {
        (pattern.to_ascii_lowercase(), s.to_ascii_lowercase())
    } else {
        (pattern.to_string(), s.to_string())
    };
    match p.split_once('*') {
        None => p == s,
        Some((head, tail)) => {
            s.len() >= head.len() + tail.len() && s.starts_with(head) && s.ends_with(tail)
        }
    }
}

fn validate(rules: &[CorsRule]) -> S3Result<()> {
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(S3Error::new(S3ErrorCode::MalformedXML));
    }
    for r in rules {
        if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
            return Err(S3Error::new(S3ErrorCode::MalformedXML));
        }
        if let Some(m) = r
            .allowed_methods
            .iter()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                format!("Found unsupported HTTP method in CORS config. Unsupported method is {m}"),
            ));
        }
        for o in &r.allowed_origins {
            if o.matches('*').count() > 1 {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!("AllowedOrigin \"{o}\" can not have more than one wildcard."),
                ));
            }
        }
        for h in &r.allowed_headers {
            if h.matches('*').count() > 1 {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!("AllowedHeader \"{h}\" can not have more than one wildcard."),
                ));
            }
        }
    }
    Ok(())
}

/// The first rule allowing `origin` to use `method` with `headers` (lower-cased
/// names), as S3 evaluates them: in order, first match wins.
pub(crate) fn find_rule<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    headers: &[String],
) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.allowed_origins
            .iter()
            .any(|o| wildcard_match(o, origin, false))
            && r.allowed_methods.iter().any(|m| m == method)
            && headers
                .iter()
                .all(|h| r.allowed_headers.iter().any(|a| wildcard_match(a, h, true)))
    })
}

/// The CORS headers a matching rule puts on a response.
fn allow_headers(h: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    let set = |h: &mut HeaderMap, name: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(name, v);
        }
    };
    set(
        h,
        "access-control-allow-origin",
        if any_origin { "*" } else { origin },
    );
    if !any_origin {
        set(h, "access-control-allow-credentials", "true");
    }
    set(
        h,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        set(
            h,
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        set(h, "access-control-max-age", &age.to_string());
    }
    h.append(http::header::VARY, HeaderValue::from_static("Origin"));
}

/// Answer a preflight `OPTIONS` from the bucket's rules (no authentication, as for a
/// browser there is none to give).
pub async fn preflight(state: &S3State, bucket: &str, headers: &HeaderMap) -> S3Result<Response> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (header("origin"), header("access-control-request-method"))
    else {
        return Err(S3Error::with_message(
            S3ErrorCode::BadRequest,
            "Insufficient information. Origin request header needed.",
        ));
    };
    let b = state.meta.bucket(bucket).await?.ok_or_else(|| {
        S3Error::new(S3ErrorCode::NoSuchBucket).extra("BucketName", bucket.to_string())
    })?;
    let Some(rules) = b.cors else {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessForbidden,
            "CORSResponse: CORS is not enabled for this bucket.",
        )
        .extra("Method", method.to_string())
        .extra("ResourceType", "BUCKET"));
    };
    let requested: Vec<String> = header("access-control-request-headers")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let Some(rule) = find_rule(&rules, origin, method, &requested) else {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessForbidden,
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        )
        .extra("Method", method.to_string())
        .extra("ResourceType", "OBJECT"));
    };
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::OK;
    allow_headers(r.headers_mut(), rule, origin);
    if !requested.is_empty()
        && let Ok(v) = HeaderValue::from_str(&requested.join(", "))
    {
        r.headers_mut().insert("access-control-allow-headers", v);
    }
    Ok(r)
}

/// For an actual request with `Origin`: the headers of the first rule that allows it
/// (None when the bucket has no rule for it; the response then carries none).
pub async fn actual_request_headers(
    state: &S3State,
    bucket: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Option<HeaderMap> {
    let origin = headers.get("origin")?.to_str().ok()?;
    let rules = state.meta.bucket(bucket).await.ok()??.cors?;
    let rule = find_rule(&rules, origin, method.as_str(), &[])?;
    let mut h = HeaderMap::new();
    allow_headers(&mut h, rule, origin);
    Some(h)
}

pub async fn get_bucket_cors(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let Some(rules) = b.cors else {
        return Err(S3Error::new(S3ErrorCode::NoSuchCORSConfiguration)
            .extra("BucketName", ctx.bucket.clone()));
    };
    xml_response(
        "CORSConfiguration",
        &CorsConfigurationXml {
            xmlns: NS,
            rules: rules
                .into_iter()
                .map(|r| CorsRuleXml {
                    id: r.id,
                    allowed_header: r.allowed_headers,
                    allowed_method: r.allowed_methods,
                    allowed_origin: r.allowed_origins,
                    expose_header: r.expose_headers,
                    max_age_seconds: r.max_age_seconds,
                })
                .collect(),
        },
    )
}

pub async fn put_bucket_cors(mut ctx: Ctx) -> S3Result<Response> {
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let cfg: CorsConfigurationXml = xml::from_xml(&body)?;
    let rules: Vec<CorsRule> = cfg
        .rules
        .into_iter()
        .map(|r| CorsRule {
            id: r.id,
            allowed_origins: r.allowed_origin,
            allowed_methods: r.allowed_method,
            allowed_headers: r.allowed_header,
            expose_headers: r.expose_header,
            max_age_seconds: r.max_age_seconds,
        })
        .collect();
    validate(&rules)?;
    crate::ops::update_bucket(&ctx, BucketChange::Cors(Some(rules))).await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn delete_bucket_cors(ctx: Ctx) -> S3Result<Response> {
    crate::ops::update_bucket(&ctx, BucketChange::Cors(None)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        CorsRule {
            allowed_origins: v(origins),
            allowed_methods: v(methods),
            allowed_headers: v(headers),
            ..Default::default()
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "http://a", false));
        assert!(wildcard_match(
            "http://*.example.com",
            "http://x.example.com",
            false
        ));
        assert!(!wildcard_match(
            "http://*.example.com",
            "http://example.org",
            false
        ));
        assert!(!wildcard_match("http://a.com", "http://A.com", false));
        assert!(wildcard_match("X-Amz-*", "x-amz-date", true));
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = vec![
            rule(&["http://a.com"], &["GET"], &[]),
            rule(&["*"], &["GET", "PUT"], &["content-type", "x-amz-*"]),
        ];
        assert!(std::ptr::eq(
            find_rule(&rules, "http://a.com", "GET", &[]).unwrap(),
            &rules[0]
        ));
        assert!(std::ptr::eq(
            find_rule(&rules, "http://b.com", "PUT", &["x-amz-date".into()]).unwrap(),
            &rules[1]
        ));
        assert!(find_rule(&rules, "http://b.com", "DELETE", &[]).is_none());
        assert!(find_rule(&rules, "http://b.com", "PUT", &["authorization".into()]).is_none());
    }

    #[test]
    fn rule_validation() {
        assert!(validate(&[rule(&["*"], &["GET"], &[])]).is_ok());
        assert!(validate(&[rule(&["*"], &["PATCH"], &[])]).is_err());
        assert!(validate(&[rule(&["http://*.*.com"], &["GET"], &[])]).is_err());
        assert!(validate(&[rule(&[], &["GET"], &[])]).is_err());
        assert!(validate(&[]).is_err());
    }
}
