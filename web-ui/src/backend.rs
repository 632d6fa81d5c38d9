//! The console's calls to the S3 and admin APIs: SigV4-signed with the signed-in
//! user's keys, as any client's, and handed to the same routers the listeners serve,
//! in process. So the console can do exactly what the user can (their policies, their
//! quotas and rate limits, the audit log naming them) and never needs to reach the
//! listeners' addresses (which may be TLS with a certificate for another name, or
//! bound elsewhere).

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hafiz_sigv4::{Payload as SignedPayload, Signer};
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::BodyExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tower::ServiceExt;

use crate::error::{ConsoleError, ConsoleResult};

/// SigV4's unreserved characters: every other byte of a name or query value is
/// percent-encoded, so what is signed is what is sent.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A path segment or query value, encoded.
pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// An object key in a path: `/` stays a separator.
pub fn enc_key(key: &str) -> String {
    key.split('/').map(enc).collect::<Vec<_>>().join("/")
}

/// Which API a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    S3,
    Admin,
}

/// The keys a session signs with (a temporary session's token too).
#[derive(Clone)]
pub struct Keys {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// Who a call is made for: the keys it is signed with and the browser's address,
/// which the APIs see as the caller's (`aws:SourceIp`).
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub keys: &'a Keys,
    pub peer: SocketAddr,
}

/// What a call sends as its body.
pub enum Payload {
    Empty,
    /// Small bodies (JSON, XML): signed with their SHA-256.
    Bytes(Bytes),
    /// Uploads: streamed through, `UNSIGNED-PAYLOAD` (their length is in the headers).
    Stream(Body),
}

#[derive(Clone)]
pub struct Backend {
    s3: Router,
    admin: Router,
    region: String,
    /// The Host the calls name (the listeners' addresses): signed, as clients sign it.
    s3_host: String,
    admin_host: String,
}

impl Backend {
    pub fn new(
        s3: Router,
        admin: Router,
        region: String,
        s3_host: String,
        admin_host: String,
    ) -> Backend {
        Backend {
            s3,
            admin,
            region,
            s3_host,
            admin_host,
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// One signed call. `path_and_query` is already encoded (see [`enc`]).
    pub async fn call(
        &self,
        api: Api,
        who: Caller<'_>,
        method: Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        payload: Payload,
    ) -> ConsoleResult<Response<Body>> {
        let Caller { keys, peer } = who;
        let (router, host, service) = match api {
            Api::S3 => (&self.s3, &self.s3_host, "s3"),
            Api::Admin => (&self.admin, &self.admin_host, "hafiz-admin"),
        };
        headers.insert(
            http::header::HOST,
            HeaderValue::from_str(host).map_err(ConsoleError::internal)?,
        );
        let signer = Signer::new(
            &keys.access_key,
            &keys.secret_key,
            keys.session_token.clone(),
            &self.region,
            service,
        );
        let url = format!("http://{host}{path_and_query}");
        let signed_payload = match &payload {
            Payload::Empty => SignedPayload::Bytes(&[]),
            Payload::Bytes(b) => SignedPayload::Bytes(b),
            Payload::Stream(_) => SignedPayload::Unsigned,
        };
        let pairs: Vec<(String, String)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let signed = signer
            .sign(
                method.as_str(),
                &url,
                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                signed_payload,
            )
            .map_err(ConsoleError::internal)?;
        for (name, value) in signed {
            headers.insert(
                http::HeaderName::from_bytes(name.as_bytes()).map_err(ConsoleError::internal)?,
                HeaderValue::from_str(&value).map_err(ConsoleError::internal)?,
            );
        }
        let body = match payload {
            Payload::Empty => Body::empty(),
            Payload::Bytes(b) => Body::from(b),
            Payload::Stream(b) => b,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(body)
            .map_err(ConsoleError::internal)?;
        *req.headers_mut() = headers;
        req.extensions_mut().insert(ConnectInfo(peer));
        router
            .clone()
            .oneshot(req)
            .await
            .map_err(ConsoleError::internal)
    }

    /// An unsigned call (STS AssumeRoleWithWebIdentity: its credential is the token
    /// in the body), read whole.
    pub async fn unsigned(
        &self,
        api: Api,
        peer: SocketAddr,
        method: Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> ConsoleResult<(HeaderMap, Bytes)> {
        let (router, host) = match api {
            Api::S3 => (&self.s3, &self.s3_host),
            Api::Admin => (&self.admin, &self.admin_host),
        };
        headers.insert(
            http::header::HOST,
            HeaderValue::from_str(host).map_err(ConsoleError::internal)?,
        );
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(Body::from(body))
            .map_err(ConsoleError::internal)?;
        *req.headers_mut() = headers;
        req.extensions_mut().insert(ConnectInfo(peer));
        let resp = router
            .clone()
            .oneshot(req)
            .await
            .map_err(ConsoleError::internal)?;
        read_whole(api, resp).await
    }

    /// A call whose answer is read whole (listings, JSON documents); a failure
    /// answer becomes [`ConsoleError::Api`] with its code and message.
    pub async fn fetch(
        &self,
        api: Api,
        who: Caller<'_>,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        payload: Payload,
    ) -> ConsoleResult<(HeaderMap, Bytes)> {
        let resp = self
            .call(api, who, method, path_and_query, headers, payload)
            .await?;
        read_whole(api, resp).await
    }
}

/// The answer's headers and body; a failure answer becomes [`ConsoleError::Api`].
async fn read_whole(api: Api, resp: Response<Body>) -> ConsoleResult<(HeaderMap, Bytes)> {
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(ConsoleError::internal)?
        .to_bytes();
    if status.is_success() {
        return Ok((parts.headers, bytes));
    }
    Err(api_error(api, status, &bytes))
}

/// The API's own error answer: S3's XML `<Error>` or the admin API's JSON.
pub fn api_error(api: Api, status: http::StatusCode, body: &[u8]) -> ConsoleError {
    let (code, message) = match api {
        Api::S3 => crate::s3xml::error(body),
        Api::Admin => serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .map(|v| {
                (
                    v["code"].as_str().unwrap_or_default().to_string(),
                    v["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .unwrap_or_default(),
    };
    let code = if code.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Error")
            .replace(' ', "")
    } else {
        code
    };
    ConsoleError::Api {
        status: status.as_u16(),
        code,
        message,
    }
}
