//! Static website hosting: Put/Get/DeleteBucketWebsite, and the website endpoint
//! (`bucket.website-domain`) that serves a bucket's objects to anonymous browsers with
//! index documents, an error document, and redirect rules.

use axum::body::Body;
use axum::response::Response;
use hafiz_meta::{BucketChange, RedirectAll, RoutingRule, WebsiteConfig};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::auth::PayloadCheck;
use crate::body::RequestBody;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::require_bucket;
use crate::router::{Op, Query};
use crate::server::{Ctx, S3State, empty_response, xml_response};
use crate::xml::{self, NS};

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct WebsiteConfigurationXml {
    #[serde(
        rename = "@xmlns",
        skip_deserializing,
        skip_serializing_if = "str::is_empty"
    )]
    xmlns: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_all_requests_to: Option<RedirectAllXml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index_document: Option<IndexDocumentXml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_document: Option<ErrorDocumentXml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routing_rules: Option<RoutingRulesXml>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RedirectAllXml {
    host_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexDocumentXml {
    suffix: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDocumentXml {
    key: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RoutingRulesXml {
    #[serde(default)]
    routing_rule: Vec<RoutingRuleXml>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RoutingRuleXml {
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<ConditionXml>,
    redirect: RedirectXml,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ConditionXml {
    #[serde(skip_serializing_if = "Option::is_none")]
    key_prefix_equals: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_error_code_returned_equals: Option<u16>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RedirectXml {
    #[serde(skip_serializing_if = "Option::is_none")]
    host_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replace_key_prefix_with: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replace_key_with: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_redirect_code: Option<u16>,
}

fn invalid(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, msg)
}

fn from_xml(x: WebsiteConfigurationXml) -> S3Result<WebsiteConfig> {
    let protocol_ok = |p: &Option<String>| p.as_deref().is_none_or(|p| p == "http" || p == "https");
    if let Some(r) = x.redirect_all_requests_to {
        if x.index_document.is_some() || x.error_document.is_some() || x.routing_rules.is_some() {
            return Err(invalid(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
            ));
        }
        if !protocol_ok(&r.protocol) || r.host_name.is_empty() {
            return Err(invalid("Invalid RedirectAllRequestsTo"));
        }
        return Ok(WebsiteConfig {
            redirect_all: Some(RedirectAll {
                host_name: r.host_name,
                protocol: r.protocol,
            }),
            ..Default::default()
        });
    }
    let Some(index) = x.index_document else {
        return Err(invalid(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        ));
    };
    if index.suffix.is_empty() || index.suffix.contains('/') {
        return Err(invalid("The IndexDocument Suffix is not well formed"));
    }
    let mut routing_rules = Vec::new();
    for r in x.routing_rules.map(|r| r.routing_rule).unwrap_or_default() {
        let c = r.condition.unwrap_or_default();
        let d = r.redirect;
        if d.replace_key_prefix_with.is_some() && d.replace_key_with.is_some() {
            return Err(invalid(
                "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
            ));
        }
        if !protocol_ok(&d.protocol) {
            return Err(invalid("Invalid protocol, protocol can be http or https."));
        }
        if d.http_redirect_code
            .is_some_and(|c| !(300..400).contains(&c))
        {
            return Err(invalid("The provided HTTP redirect code is not valid."));
        }
        routing_rules.push(RoutingRule {
            key_prefix_equals: c.key_prefix_equals,
            http_error_code_equals: c.http_error_code_returned_equals,
            host_name: d.host_name,
            protocol: d.protocol,
            replace_key_prefix_with: d.replace_key_prefix_with,
            replace_key_with: d.replace_key_with,
            http_redirect_code: d.http_redirect_code,
        });
    }
    Ok(WebsiteConfig {
        index_suffix: Some(index.suffix),
        error_key: x.error_document.map(|e| e.key),
        redirect_all: None,
        routing_rules,
    })
}

fn to_xml(c: WebsiteConfig) -> WebsiteConfigurationXml {
    WebsiteConfigurationXml {
        xmlns: NS,
        redirect_all_requests_to: c.redirect_all.map(|r| RedirectAllXml {
            host_name: r.host_name,
            protocol: r.protocol,
        }),
        index_document: c.index_suffix.map(|suffix| IndexDocumentXml { suffix }),
        error_document: c.error_key.map(|key| ErrorDocumentXml { key }),
        routing_rules: (!c.routing_rules.is_empty()).then(|| RoutingRulesXml {
            routing_rule: c
                .routing_rules
                .into_iter()
                .map(|r| RoutingRuleXml {
                    condition: (r.key_prefix_equals.is_some()
                        || r.http_error_code_equals.is_some())
                    .then_some(ConditionXml {
                        key_prefix_equals: r.key_prefix_equals,
                        http_error_code_returned_equals: r.http_error_code_equals,
                    }),
                    redirect: RedirectXml {
                        host_name: r.host_name,
                        protocol: r.protocol,
                        replace_key_prefix_with: r.replace_key_prefix_with,
                        replace_key_with: r.replace_key_with,
                        http_redirect_code: r.http_redirect_code,
                    },
                })
                .collect(),
        }),
    }
}

pub async fn get_bucket_website(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let Some(cfg) = b.website else {
        return Err(S3Error::new(S3ErrorCode::NoSuchWebsiteConfiguration)
            .extra("BucketName", ctx.bucket.clone()));
    };
    xml_response("WebsiteConfiguration", &to_xml(cfg))
}

pub async fn put_bucket_website(mut ctx: Ctx) -> S3Result<Response> {
    let body = ctx.body.collect_limited(256 * 1024).await?;
    let x: WebsiteConfigurationXml = xml::from_xml(&body)?;
    let cfg = from_xml(x)?;
    crate::ops::update_bucket(&ctx, BucketChange::Website(Some(cfg))).await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn delete_bucket_website(ctx: Ctx) -> S3Result<Response> {
    crate::ops::update_bucket(&ctx, BucketChange::Website(None)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// The bucket a website request is for: `Host: bucket.website-domain[:port]`.
pub fn website_bucket<'a>(headers: &'a HeaderMap, website_domain: &str) -> Option<&'a str> {
    let host = headers.get(http::header::HOST)?.to_str().ok()?;
    let host = host
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map(|(h, _)| h)
        .unwrap_or(host);
    host.strip_suffix(website_domain)?
        .strip_suffix('.')
        .filter(|b| !b.is_empty())
}

fn redirect(location: &str, code: u16) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r
}

/// Where a routing rule sends `key`.
fn rule_location(rule: &RoutingRule, key: &str, host: &str) -> String {
    let new_key = match (&rule.replace_key_with, &rule.replace_key_prefix_with) {
        (Some(k), _) => k.clone(),
        (None, Some(p)) => {
            let matched = rule.key_prefix_equals.as_deref().unwrap_or("");
            format!("{p}{}", key.strip_prefix(matched).unwrap_or(key))
        }
        (None, None) => key.to_string(),
    };
    let protocol = rule.protocol.as_deref().unwrap_or("http");
    let host = rule.host_name.as_deref().unwrap_or(host);
    format!(
        "{protocol}://{host}/{}",
        crate::ops::list::url_encode(&new_key)
    )
}

/// A small HTML error page, as website endpoints answer browsers.
fn html_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<html>\n<head><title>{s} {r}</title></head>\n<body>\n<h1>{s} {r}</h1>\n<ul>\n<li>Code: {code}</li>\n<li>Message: {message}</li>\n</ul>\n</body>\n</html>\n",
        s = status.as_u16(),
        r = status.canonical_reason().unwrap_or(""),
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// GET or HEAD an object as the website shows it: the current version, never a
/// delete marker.
async fn object_response(
    state: &std::sync::Arc<S3State>,
    bucket: &str,
    key: &str,
    method: &Method,
    headers: &HeaderMap,
) -> S3Result<Response> {
    let ctx = Ctx {
        state: state.clone(),
        op: if *method == Method::HEAD {
            Op::HeadObject
        } else {
            Op::GetObject
        },
        method: method.clone(),
        bucket: bucket.to_string(),
        key: key.to_string(),
        query: Query::default(),
        headers: headers.clone(),
        body: RequestBody::new(Body::empty(), PayloadCheck::Unsigned),
        request_id: String::new(),
        caller: crate::access::Caller {
            principal: crate::access::Principal::Anonymous,
            peer: None,
            presigned: false,
            sigv2: false,
        },
    };
    crate::ops::get::get_object(ctx, *method == Method::HEAD).await
}

/// The current version of a key as the website sees it (delete markers: absent).
async fn current(state: &S3State, bucket: &str, key: &str) -> Option<hafiz_meta::ObjectVersion> {
    match state.meta.object(bucket, key).await {
        Ok(Some(v)) if !v.delete_marker => Some(v),
        _ => None,
    }
}

async fn exists(state: &S3State, bucket: &str, key: &str) -> bool {
    current(state, bucket, key).await.is_some()
}

/// Serve a website request. Anonymous: a bucket is public on the website endpoint
/// once it has a website configuration (until bucket policies can say so).
pub async fn serve(
    state: &std::sync::Arc<S3State>,
    bucket: &str,
    raw_path: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    if *method != Method::GET && *method != Method::HEAD {
        return html_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        );
    }
    let b = match state.meta.bucket(bucket).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return html_error(
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The specified bucket does not exist",
            );
        }
        Err(e) => {
            let e = S3Error::from(e);
            return html_error(e.code.status(), e.code.as_str(), &e.message);
        }
    };
    let Some(cfg) = b.website else {
        return html_error(
            StatusCode::NOT_FOUND,
            "NoSuchWebsiteConfiguration",
            "The specified bucket does not have a website configuration",
        );
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let key = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned();
    if let Some(all) = &cfg.redirect_all {
        let protocol = all.protocol.as_deref().unwrap_or("http");
        return redirect(&format!("{protocol}://{}/{path}", all.host_name), 301);
    }
    // Rules without an error-code condition apply before the object is looked up.
    for rule in &cfg.routing_rules {
        if rule.http_error_code_equals.is_none()
            && key.starts_with(rule.key_prefix_equals.as_deref().unwrap_or(""))
        {
            return redirect(
                &rule_location(rule, &key, host),
                rule.http_redirect_code.unwrap_or(301),
            );
        }
    }
    let index = cfg.index_suffix.as_deref().unwrap_or("index.html");
    let object_key = if key.is_empty() || key.ends_with('/') {
        format!("{key}{index}")
    } else {
        key.clone()
    };
    if let Some(v) = current(state, bucket, &object_key).await {
        // An object stored with x-amz-website-redirect-location redirects.
        if let Some(to) = &v.headers.website_redirect {
            return redirect(to, 301);
        }
        return match object_response(state, bucket, &object_key, method, headers).await {
            Ok(r) => r,
            Err(e) => html_error(e.code.status(), e.code.as_str(), &e.message),
        };
    }
    // `dir` without the slash, when `dir/index.html` exists: S3 redirects to `dir/`.
    if !key.is_empty()
        && !key.ends_with('/')
        && exists(state, bucket, &format!("{key}/{index}")).await
    {
        return redirect(&format!("/{path}/"), 302);
    }
    for rule in &cfg.routing_rules {
        if rule.http_error_code_equals == Some(404)
            && key.starts_with(rule.key_prefix_equals.as_deref().unwrap_or(""))
        {
            return redirect(
                &rule_location(rule, &key, host),
                rule.http_redirect_code.unwrap_or(301),
            );
        }
    }
    if let Some(error_key) = &cfg.error_key
        && exists(state, bucket, error_key).await
        && let Ok(mut r) =
            object_response(state, bucket, error_key, method, &HeaderMap::new()).await
    {
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    }
    html_error(
        StatusCode::NOT_FOUND,
        "NoSuchKey",
        "The specified key does not exist.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn website_host() {
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, "site.web.local:9000".parse().unwrap());
        assert_eq!(website_bucket(&h, "web.local"), Some("site"));
        h.insert(http::header::HOST, "web.local".parse().unwrap());
        assert_eq!(website_bucket(&h, "web.local"), None);
    }

    #[test]
    fn routing_rule_locations() {
        let r = RoutingRule {
            key_prefix_equals: Some("docs/".into()),
            replace_key_prefix_with: Some("documents/".into()),
            ..Default::default()
        };
        assert_eq!(
            rule_location(&r, "docs/a b.html", "h:1"),
            "http://h:1/documents/a%20b.html"
        );
        let r = RoutingRule {
            replace_key_with: Some("error.html".into()),
            host_name: Some("example.com".into()),
            protocol: Some("https".into()),
            ..Default::default()
        };
        assert_eq!(
            rule_location(&r, "x", "h"),
            "https://example.com/error.html"
        );
    }

    #[test]
    fn configuration_rules() {
        let x = |s: &str| from_xml(crate::xml::from_xml(s.as_bytes()).unwrap());
        assert!(x("<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>").is_ok());
        assert!(x("<WebsiteConfiguration><ErrorDocument><Key>e.html</Key></ErrorDocument></WebsiteConfiguration>").is_err());
        assert!(x("<WebsiteConfiguration><IndexDocument><Suffix>a/b</Suffix></IndexDocument></WebsiteConfiguration>").is_err());
        let all = x("<WebsiteConfiguration><RedirectAllRequestsTo><HostName>example.com</HostName></RedirectAllRequestsTo></WebsiteConfiguration>").unwrap();
        assert_eq!(all.redirect_all.unwrap().host_name, "example.com");
    }
}
