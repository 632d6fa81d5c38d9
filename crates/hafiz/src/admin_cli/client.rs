//! HTTP client of the admin API: every request is signed with SigV4 (service
//! `hafiz-admin`) and every failure answer is decoded into its stable `code`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use hafiz_sigv4::{Payload, Signer};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::blocking::{Client, Response};
use serde::Deserialize;
use serde_json::Value;

use super::alias::Alias;

pub const SIGNING_SERVICE: &str = "hafiz-admin";

/// SigV4's unreserved characters; everything else in a path segment or query value is
/// percent-encoded, so the URL sent is already in canonical form (no `+` that a
/// server could read as a space, no `/` inside a name).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A wait on the server longer than this (for the answer, or between two chunks of a
/// streamed body) is a failure rather than a hang.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `--ca-bundle`: a process runs one command, so this is set once at start rather
/// than passed down through every command.
static CA_BUNDLE: OnceLock<PathBuf> = OnceLock::new();

/// Verify https:// endpoints against the CA certificates in this PEM file only.
pub fn trust_ca_bundle(path: PathBuf) {
    let _ = CA_BUNDLE.set(path);
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The contract's error answer.
    #[error("{code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// A failure answer without the contract's JSON body (a proxy, or not a hafiz
    /// admin listener at all).
    #[error("HTTP {status} from {url}: {body}")]
    UnexpectedStatus {
        url: String,
        status: u16,
        body: String,
    },
    #[error("cannot reach {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the answer of {url} is not the expected JSON")]
    InvalidResponse {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("reading the answer of {url} failed")]
    Transfer {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot sign the request")]
    Signing(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("cannot use the CA bundle (--ca-bundle)")]
    CaBundle(#[source] hafiz_tls::TlsError),
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    request_id: Option<String>,
}

/// `/v1/` followed by the segments, each percent-encoded on its own.
pub fn api_path(segments: &[&str]) -> String {
    let mut path = String::from("/v1");
    for s in segments {
        path.push('/');
        path.extend(utf8_percent_encode(s, UNRESERVED));
    }
    path
}

pub struct AdminClient {
    http: Client,
    base: String,
    signer: Signer,
}

impl AdminClient {
    pub fn new(alias: &Alias) -> Result<AdminClient, AdminError> {
        let mut http = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(IO_TIMEOUT)
            .user_agent(concat!("hafiz-admin/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = CA_BUNDLE.get() {
            let roots = hafiz_tls::pem::certificates(path)
                .map_err(AdminError::CaBundle)?
                .iter()
                .map(|c| reqwest::Certificate::from_der(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(AdminError::Client)?;
            // As the aws CLI's --ca-bundle: these roots replace the system's.
            http = http.tls_certs_only(roots);
        }
        let http = http.build().map_err(AdminError::Client)?;
        Ok(AdminClient {
            http,
            base: alias.url.trim_end_matches('/').to_string(),
            signer: Signer::new(
                &alias.access_key,
                &alias.secret_key,
                None,
                &alias.region,
                SIGNING_SERVICE,
            ),
        })
    }

    /// Sends one request and decodes its JSON answer; `None` for an answer without a
    /// body (204).
    pub fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, AdminError> {
        self.request_with(method, path, &[], body)
    }

    /// [`AdminClient::request`] with query parameters.
    pub fn request_with(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, AdminError> {
        let (url, bytes) = self.fetch(method, path, query, body)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| AdminError::InvalidResponse { url, source })
    }

    /// A GET whose answer is text (a CSV export), returned as is, with the value of
    /// the response header `header` if present.
    pub fn get_text(
        &self,
        path: &str,
        query: &[(&str, &str)],
        header: &str,
    ) -> Result<(String, Option<String>), AdminError> {
        let url = self.url(path, query);
        let mut resp = self.send(Method::GET, &url, None)?;
        let value = resp
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut text = String::new();
        resp.read_to_string(&mut text)
            .map_err(|source| AdminError::Transfer { url, source })?;
        Ok((text, value))
    }

    fn fetch(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(String, Vec<u8>), AdminError> {
        let url = self.url(path, query);
        let mut resp = self.send(method, &url, body)?;
        let mut bytes = Vec::new();
        resp.read_to_end(&mut bytes)
            .map_err(|source| AdminError::Transfer {
                url: url.clone(),
                source,
            })?;
        Ok((url, bytes))
    }

    /// ExportAudit, copied to `out` chunk by chunk: an export may be far larger than
    /// memory. Returns the number of bytes written.
    pub fn export_audit(
        &self,
        from: &str,
        to: &str,
        out: &mut dyn Write,
    ) -> Result<u64, AdminError> {
        let url = self.url(
            &api_path(&["audit", "export"]),
            &[("from", from), ("to", to)],
        );
        let mut resp = self.send(Method::GET, &url, None)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(AdminError::Transfer { url, source }),
            };
            out.write_all(&buf[..n]).map_err(AdminError::Output)?;
            total += n as u64;
        }
        out.flush().map_err(AdminError::Output)?;
        Ok(total)
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}", self.base);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.extend(utf8_percent_encode(k, UNRESERVED));
            url.push('=');
            url.extend(utf8_percent_encode(v, UNRESERVED));
        }
        url
    }

    /// Signs and sends; a failure status becomes an error here, so callers only see
    /// successful answers.
    fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Response, AdminError> {
        let body = match body {
            Some(v) => serde_json::to_vec(v).expect("a JSON value always serializes"),
            None => Vec::new(),
        };
        let content_type = (!body.is_empty()).then_some(("content-type", "application/json"));

        let signed = self
            .signer
            .sign(
                method.as_str(),
                url,
                content_type.into_iter(),
                Payload::Bytes(&body),
            )
            .map_err(|e| AdminError::Signing(e.into()))?;

        let mut req = self.http.request(method, url);
        if let Some((name, value)) = content_type {
            req = req.header(name, value);
        }
        for (name, value) in signed {
            req = req.header(name, value);
        }
        let resp = req
            .body(body)
            .send()
            .map_err(|source| AdminError::Unreachable {
                url: self.base.clone(),
                source,
            })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(failure(url, resp))
    }
}

fn failure(url: &str, resp: Response) -> AdminError {
    let status = resp.status().as_u16();
    // A failure body is small; a bounded read keeps a misbehaving peer from
    // flooding the terminal.
    let mut bytes = Vec::new();
    let _ = resp.take(64 * 1024).read_to_end(&mut bytes);
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(e) => AdminError::Api {
            status,
            code: e.code,
            message: e.message,
            request_id: e.request_id,
        },
        Err(_) => AdminError::UnexpectedStatus {
            url: url.to_string(),
            status,
            body: String::from_utf8_lossy(&bytes)
                .trim()
                .chars()
                .take(500)
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded_one_by_one() {
        assert_eq!(api_path(&["users", "alice"]), "/v1/users/alice");
        assert_eq!(
            api_path(&["users", "a b/c+d", "keys"]),
            "/v1/users/a%20b%2Fc%2Bd/keys"
        );
    }
}
