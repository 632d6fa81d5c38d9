//! A minimal S3 client: path-style requests over a hyper HTTP/1.1 keep-alive pool,
//! signed with SigV4 by `aws_sigv4::http_request::sign`, as the AWS SDKs sign them.

use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::payload::EMPTY_SHA256;

/// A request body and how its payload is declared in the signature.
pub struct Body {
    pub bytes: Bytes,
    /// Hex SHA-256 of `bytes` (ignored with `--unsigned-payload`).
    pub sha256: String,
}

impl Body {
    pub fn empty() -> Body {
        Body {
            bytes: Bytes::new(),
            sha256: EMPTY_SHA256.to_string(),
        }
    }
}

pub struct S3Client {
    http: Client<HttpConnector, Full<Bytes>>,
    /// `http://host:port` without a trailing slash.
    endpoint: String,
    host: HeaderValue,
    identity: Identity,
    region: String,
    unsigned_payload: bool,
    timeout: Duration,
}

impl S3Client {
    pub fn new(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
        unsigned_payload: bool,
        pool: usize,
        timeout: Duration,
    ) -> anyhow::Result<S3Client> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let uri: Uri = endpoint.parse().context("--endpoint")?;
        if uri.scheme_str() != Some("http") {
            bail!("--endpoint must be http://HOST:PORT (plain HTTP/1.1), got {endpoint}");
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow!("--endpoint has no host"))?;
        let host = HeaderValue::from_str(authority.as_str())?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool.max(1))
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        let identity: Identity =
            Credentials::new(access_key, secret_key, None, None, "hafiz-bench").into();
        Ok(S3Client {
            http,
            endpoint,
            host,
            identity,
            region: region.to_string(),
            unsigned_payload,
            timeout,
        })
    }

    /// Sends a signed request. `path_and_query` starts with `/` and is already
    /// percent-encoded. The caller reads (or drops) the response body.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Body,
    ) -> anyhow::Result<Response<Incoming>> {
        self.send_with(method, path_and_query, body, &[]).await
    }

    /// [`S3Client::send`] with extra (signed) headers.
    pub async fn send_with(
        &self,
        method: Method,
        path_and_query: &str,
        body: Body,
        extra: &[(&'static str, String)],
    ) -> anyhow::Result<Response<Incoming>> {
        let url = format!("{}{}", self.endpoint, path_and_query);
        let mut req = Request::builder()
            .method(method.clone())
            .uri(&url)
            .body(Full::new(body.bytes.clone()))?;
        let headers = req.headers_mut();
        for (name, value) in extra {
            headers.insert(*name, HeaderValue::from_str(value)?);
        }
        headers.insert(http::header::HOST, self.host.clone());
        if !body.bytes.is_empty() || method == Method::PUT || method == Method::POST {
            headers.insert(
                http::header::CONTENT_LENGTH,
                HeaderValue::from(body.bytes.len()),
            );
        }

        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()?
            .into();
        let signable_body = if self.unsigned_payload {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Precomputed(body.sha256)
        };
        let header_pairs: Vec<(&str, &str)> = req
            .headers()
            .iter()
            .map(|(k, v)| Ok((k.as_str(), v.to_str()?)))
            .collect::<Result<_, http::header::ToStrError>>()?;
        let signable = SignableRequest::new(
            method.as_str(),
            &url,
            header_pairs.into_iter(),
            signable_body,
        )?;
        let (instructions, _signature) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(&mut req);

        match tokio::time::timeout(self.timeout, self.http.request(req)).await {
            Ok(r) => Ok(r?),
            Err(_) => bail!(
                "{method} {path_and_query}: no response within {:?}",
                self.timeout
            ),
        }
    }

    /// Sends a request and reads the whole (small) response body.
    pub async fn send_read(
        &self,
        method: Method,
        path_and_query: &str,
        body: Body,
    ) -> anyhow::Result<(StatusCode, http::HeaderMap, Bytes)> {
        let resp = self.send(method, path_and_query, body).await?;
        let (parts, body) = resp.into_parts();
        let bytes = tokio::time::timeout(self.timeout, body.collect())
            .await
            .map_err(|_| anyhow!("response body not received within {:?}", self.timeout))??
            .to_bytes();
        Ok((parts.status, parts.headers, bytes))
    }

    /// Default encryption SSE-S3 (AES256) for `bucket`'s new objects.
    pub async fn encrypt_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        use sha2::Digest;
        let xml = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>\
            <SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>\
            </ServerSideEncryptionConfiguration>";
        let body = Body {
            bytes: Bytes::from_static(xml.as_bytes()),
            sha256: hex::encode(sha2::Sha256::digest(xml.as_bytes())),
        };
        let path = format!("/{}?encryption", encode_path(bucket));
        let (status, _, resp) = self.send_read(Method::PUT, &path, body).await?;
        if !status.is_success() {
            bail!(
                "PutBucketEncryption {bucket}: {status}: {}",
                String::from_utf8_lossy(&resp)
            );
        }
        Ok(())
    }

    /// Creates `bucket` unless it exists.
    pub async fn ensure_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        let path = format!("/{}", encode_path(bucket));
        let (status, _, _) = self
            .send_read(Method::HEAD, &path, Body::empty())
            .await
            .with_context(|| format!("HEAD bucket {bucket} at {}", self.endpoint))?;
        if status.is_success() {
            return Ok(());
        }
        let (status, _, body) = self.send_read(Method::PUT, &path, Body::empty()).await?;
        if status.is_success() || String::from_utf8_lossy(&body).contains("BucketAlreadyOwnedByYou")
        {
            return Ok(());
        }
        bail!(
            "CreateBucket {bucket}: {status}: {}",
            String::from_utf8_lossy(&body)
        )
    }
}

/// Percent-encodes an object key or bucket for a path (keeps `/`).
pub fn encode_path(s: &str) -> String {
    encode(s, true)
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
pub fn encode_query(s: &str) -> String {
    encode(s, false)
}

fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of the first `<tag>...</tag>` in an XML document, entity-decoded.
pub fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml_unescape(&xml[start..end]))
}

pub fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(encode_path("a b/c+d"), "a%20b/c%2Bd");
        assert_eq!(encode_query("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(
            xml_value("<X><Key>a&amp;b</Key></X>", "Key").as_deref(),
            Some("a&b")
        );
        assert_eq!(xml_value("<X></X>", "Key"), None);
    }
}
