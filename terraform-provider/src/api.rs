//! The provider's calls to a Hafiz server: the S3 API (XML) and the admin API (JSON),
//! both SigV4-signed with the provider's keys. Every failure keeps the server's
//! error code, so resources can tell "gone" (a `NoSuch…` code) from a real failure.

use std::time::Duration;

use base64::Engine;
use md5::{Digest, Md5};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::Value;

use hafiz_sigv4::{Payload, Signer};

/// SigV4's unreserved characters: everything else in a name or query value is
/// percent-encoded once, so what is signed is what is sent.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Object keys keep their `/`.
const KEY: &AsciiSet = &UNRESERVED.remove(b'/');

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server's error answer (S3's XML or the admin API's JSON).
    #[error("{code} (HTTP {status}): {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("unexpected answer from {url}: {what}")]
    Invalid { url: String, what: String },
    #[error(transparent)]
    Signing(#[from] hafiz_sigv4::SignError),
}

impl ApiError {
    /// The server says the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Server { status: 404, .. })
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Where the server is and who the provider is.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub s3: String,
    pub admin: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

pub struct Api {
    http: reqwest::Client,
    s3: String,
    admin: String,
    s3_signer: Signer,
    admin_signer: Signer,
}

/// One S3 answer that succeeded.
pub struct S3Answer {
    pub body: String,
}

impl Api {
    pub fn new(e: &Endpoints) -> Result<Api, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            .user_agent(concat!(
                "terraform-provider-hafiz/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Api {
            http,
            s3: e.s3.trim_end_matches('/').to_string(),
            admin: e.admin.trim_end_matches('/').to_string(),
            s3_signer: Signer::new(&e.access_key, &e.secret_key, None, &e.region, "s3"),
            admin_signer: Signer::new(&e.access_key, &e.secret_key, None, &e.region, "hafiz-admin"),
        })
    }

    /// An S3 request on `bucket` (path style) with a query such as `"versioning"` or
    /// `"versions&key-marker=a"` (values already encoded with [`encode`]). Bodies of
    /// configuration PUTs carry their Content-MD5, as S3 requires for some of them.
    pub async fn s3(
        &self,
        method: Method,
        bucket: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> ApiResult<S3Answer> {
        self.s3_object(method, bucket, None, query, headers, body)
            .await
    }

    /// [`Api::s3`] on an object of the bucket.
    pub async fn s3_object(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        query: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> ApiResult<S3Answer> {
        let mut url = format!("{}/{}", self.s3, encode(bucket));
        if let Some(k) = key {
            url.push('/');
            url.push_str(&utf8_percent_encode(k, KEY).to_string());
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        let body = body.unwrap_or_default().into_bytes();
        let md5 = (!body.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body)));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(m) = &md5 {
            all.push(("content-md5", m));
        }
        let text = self
            .send(&self.s3_signer, method, &url, &all, body)
            .await
            .map_err(|e| match e {
                Failure::Status { status, body } => s3_error(status, &body),
                Failure::Other(e) => e,
            })?;
        Ok(S3Answer { body: text })
    }

    /// An admin API call on `/v1/` + the segments (each encoded); `None` for a 204.
    pub async fn admin(
        &self,
        method: Method,
        segments: &[&str],
        query: &str,
        body: Option<&Value>,
    ) -> ApiResult<Option<Value>> {
        let mut url = format!("{}/v1", self.admin);
        for s in segments {
            url.push('/');
            url.push_str(&encode(s));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        let body = body
            .map(|v| serde_json::to_vec(v).unwrap_or_default())
            .unwrap_or_default();
        let headers: &[(&str, &str)] = if body.is_empty() {
            &[]
        } else {
            &[("content-type", "application/json")]
        };
        let text = self
            .send(&self.admin_signer, method, &url, headers, body)
            .await
            .map_err(|e| match e {
                Failure::Status { status, body } => admin_error(status, &body),
                Failure::Other(e) => e,
            })?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ApiError::Invalid {
                url,
                what: e.to_string(),
            })
    }

    async fn send(
        &self,
        signer: &Signer,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<String, Failure> {
        let signed = signer
            .sign(
                method.as_str(),
                url,
                headers.iter().copied(),
                Payload::Bytes(&body),
            )
            .map_err(|e| Failure::Other(e.into()))?;
        let mut req = self.http.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|source| unreachable(url, source))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|source| unreachable(url, source))?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(Failure::Status { status, body: text })
        }
    }
}

enum Failure {
    Status { status: u16, body: String },
    Other(ApiError),
}

fn unreachable(url: &str, source: reqwest::Error) -> Failure {
    Failure::Other(ApiError::Unreachable {
        url: url.to_string(),
        source,
    })
}

/// A name or query value, percent-encoded once.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

fn s3_error(status: u16, body: &str) -> ApiError {
    let field = |tag: &str| -> Option<String> {
        let open = format!("<{tag}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{tag}>"))? + start;
        Some(
            quick_xml::escape::unescape(&body[start..end])
                .ok()?
                .into_owned(),
        )
    };
    ApiError::Server {
        status,
        code: field("Code").unwrap_or_else(|| format!("HTTP{status}")),
        message: field("Message").unwrap_or_default(),
    }
}

fn admin_error(status: u16, body: &str) -> ApiError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    ApiError::Server {
        status,
        code: get("code").unwrap_or_else(|| format!("HTTP{status}")),
        message: get("message").unwrap_or_else(|| body.chars().take(300).collect()),
    }
}
