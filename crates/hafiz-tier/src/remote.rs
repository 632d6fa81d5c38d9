//! A remote tier: copies are objects in a bucket of any S3-compatible endpoint
//! (another Hafiz, MinIO, AWS), written and read with SigV4-signed requests.
//! Bodies stream both ways; copies larger than [`SINGLE_PUT_MAX`] go up as a
//! multipart upload whose parts are read from the source one range at a time.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use hafiz_sigv4::{Payload, Signer};
use hafiz_storage::{ByteStream, StorageError, StorageResult};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};

use crate::store::{Source, TierStore};

/// Above this a copy is uploaded in parts (S3 refuses single PUTs over 5 GiB).
pub const SINGLE_PUT_MAX: u64 = 1 << 30;
/// Part size of multipart copies (at most 10,000 parts: copies up to 5 TiB).
const PART_SIZE: u64 = 512 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// No answer, or no body bytes, for this long is a failure rather than a hang.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// SigV4's unreserved characters (and `/` in paths).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

pub struct RemoteTier {
    client: S3Client,
    bucket: String,
    prefix: String,
}

fn remote(msg: impl std::fmt::Display) -> StorageError {
    StorageError::Remote(msg.to_string())
}

/// SigV4-signed requests to one S3 endpoint (tiers and replication targets).
pub struct S3Client {
    http: reqwest::Client,
    endpoint: String,
    signer: Signer,
}

impl S3Client {
    pub fn new(
        endpoint: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
    ) -> StorageResult<S3Client> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(remote)?;
        Ok(S3Client {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            signer: Signer::new(access_key, secret_key, None, region, "s3"),
        })
    }

    /// The path-style URL of `bucket` (and `key`), with `query` (already encoded).
    pub fn url(&self, bucket: &str, key: Option<&str>, query: &str) -> String {
        let mut u = format!("{}/{}", self.endpoint, utf8_percent_encode(bucket, PATH));
        if let Some(k) = key {
            u.push('/');
            u.extend(utf8_percent_encode(k, PATH));
        }
        if !query.is_empty() {
            u.push('?');
            u.push_str(query);
        }
        u
    }

    /// Sign and send; the payload is declared UNSIGNED (bodies stream).
    pub async fn send(&self, mut req: reqwest::Request) -> StorageResult<reqwest::Response> {
        let host = req
            .url()
            .host_str()
            .map(|h| match req.url().port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
            .ok_or_else(|| remote("the endpoint has no host"))?;
        let mut headers: Vec<(String, String)> = vec![("host".into(), host)];
        for (k, v) in req.headers() {
            if let Ok(v) = v.to_str() {
                headers.push((k.as_str().to_string(), v.to_string()));
            }
        }
        let url = req.url().to_string();
        let signed = self
            .signer
            .sign(
                req.method().as_str(),
                &url,
                headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                Payload::Unsigned,
            )
            .map_err(remote)?;
        for (name, value) in signed {
            let value = reqwest::header::HeaderValue::from_str(&value).map_err(remote)?;
            req.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(remote)?,
                value,
            );
        }
        self.http.execute(req).await.map_err(remote)
    }

    pub fn request(&self, method: Method, url: &str) -> StorageResult<reqwest::Request> {
        self.http.request(method, url).build().map_err(remote)
    }

    /// The response if it succeeded; else an error naming `what`, the status and
    /// S3's error code.
    pub async fn expect_ok(
        resp: reqwest::Response,
        what: &str,
    ) -> StorageResult<reqwest::Response> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let code = xml_field(&body, "Code").unwrap_or_default();
        Err(remote(format!("{what}: HTTP {status} {code}")))
    }
}

impl RemoteTier {
    pub fn new(
        endpoint: &str,
        bucket: &str,
        prefix: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
    ) -> StorageResult<RemoteTier> {
        Ok(RemoteTier {
            client: S3Client::new(endpoint, region, access_key, secret_key)?,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    fn url(&self, name: Option<&str>, query: &str) -> String {
        let key = name.map(|n| format!("{}{n}", self.prefix));
        self.client.url(&self.bucket, key.as_deref(), query)
    }

    async fn send(&self, req: reqwest::Request) -> StorageResult<reqwest::Response> {
        self.client.send(req).await
    }

    fn request(&self, method: Method, url: &str) -> StorageResult<reqwest::Request> {
        self.client.request(method, url)
    }

    async fn expect_ok(resp: reqwest::Response, what: &str) -> StorageResult<reqwest::Response> {
        S3Client::expect_ok(resp, what).await
    }

    /// Check that the bucket is there and the credentials may use it.
    pub async fn check(&self) -> StorageResult<()> {
        let req = self.request(Method::HEAD, &self.url(None, ""))?;
        let resp = self.send(req).await?;
        Self::expect_ok(resp, "HeadBucket").await.map(|_| ())
    }

    async fn put_body(
        &self,
        url: &str,
        body: ByteStream,
        len: u64,
        what: &str,
    ) -> StorageResult<reqwest::Response> {
        let mut req = self.request(Method::PUT, url)?;
        req.headers_mut()
            .insert(reqwest::header::CONTENT_LENGTH, len.into());
        *req.body_mut() = Some(reqwest::Body::wrap_stream(body));
        let resp = self.send(req).await?;
        Self::expect_ok(resp, what).await
    }

    async fn put_multipart(&self, name: &str, size: u64, src: &dyn Source) -> StorageResult<()> {
        let req = self.request(Method::POST, &self.url(Some(name), "uploads="))?;
        let resp = Self::expect_ok(self.send(req).await?, "CreateMultipartUpload").await?;
        let body = resp.text().await.map_err(remote)?;
        let upload_id = xml_field(&body, "UploadId")
            .ok_or_else(|| remote("CreateMultipartUpload: no UploadId"))?;
        let id_q = utf8_percent_encode(&upload_id, PATH).to_string();
        let result: StorageResult<String> = async {
            let mut parts = String::new();
            let mut offset = 0;
            let mut number = 1;
            while offset < size {
                let len = PART_SIZE.min(size - offset);
                let url = self.url(Some(name), &format!("partNumber={number}&uploadId={id_q}"));
                let body = src.read(offset, len).await?;
                let resp = self.put_body(&url, body, len, "UploadPart").await?;
                let etag = resp
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| remote("UploadPart: no ETag"))?
                    .to_string();
                parts.push_str(&format!(
                    "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
                ));
                offset += len;
                number += 1;
            }
            Ok(parts)
        }
        .await;
        let complete = match result {
            Ok(parts) => {
                let mut req = self.request(
                    Method::POST,
                    &self.url(Some(name), &format!("uploadId={id_q}")),
                )?;
                *req.body_mut() = Some(
                    format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>").into(),
                );
                match self.send(req).await {
                    Ok(resp) => {
                        let status = resp.status();
                        // S3 may answer 200 with an error document.
                        let body = resp.text().await.map_err(remote)?;
                        if status.is_success() && !body.contains("<Error>") {
                            return Ok(());
                        }
                        Err(remote(format!(
                            "CompleteMultipartUpload: HTTP {status} {}",
                            xml_field(&body, "Code").unwrap_or_default()
                        )))
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        // Leave no parts behind on the remote side.
        if let Ok(req) = self.request(
            Method::DELETE,
            &self.url(Some(name), &format!("uploadId={id_q}")),
        ) {
            let _ = self.send(req).await;
        }
        complete
    }
}

/// The text of the first `<tag>` of a small XML answer.
pub fn xml_field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(
        quick_xml::escape::unescape(&xml[start..end])
            .map(|s| s.into_owned())
            .unwrap_or_else(|_| xml[start..end].to_string()),
    )
}

#[async_trait]
impl TierStore for RemoteTier {
    async fn put(&self, name: &str, size: u64, src: &dyn Source) -> StorageResult<()> {
        if size > SINGLE_PUT_MAX {
            return self.put_multipart(name, size, src).await;
        }
        let body = src.read(0, size).await?;
        self.put_body(&self.url(Some(name), ""), body, size, "PutObject")
            .await
            .map(|_| ())
    }

    async fn read(
        &self,
        name: &str,
        _size: u64,
        offset: u64,
        len: u64,
    ) -> StorageResult<ByteStream> {
        let mut req = self.request(Method::GET, &self.url(Some(name), ""))?;
        if len == 0 {
            return Ok(futures_util::stream::empty().boxed());
        }
        let range = format!("bytes={offset}-{}", offset + len - 1);
        req.headers_mut().insert(
            reqwest::header::RANGE,
            reqwest::header::HeaderValue::from_str(&range).map_err(remote)?,
        );
        let resp = self.send(req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(StorageError::NotFound(name.to_string()));
        }
        let resp = Self::expect_ok(resp, "GetObject").await?;
        Ok(resp.bytes_stream().map(|r| r.map_err(remote)).boxed())
    }

    async fn delete(&self, name: &str) -> StorageResult<()> {
        let req = self.request(Method::DELETE, &self.url(Some(name), ""))?;
        let resp = self.send(req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Self::expect_ok(resp, "DeleteObject").await.map(|_| ())
    }
}
