//! Starts a `hafiz` server child process on a free loopback port and builds
//! aws-sdk-s3 clients for it, plus a tiny raw HTTP/1.1 client for the few
//! requests that must not go through the SDK (health polling, presigned URLs).

use std::fmt::Write as _;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use base64::Engine as _;
use md5::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const ACCESS_KEY: &str = "hafiz-e2e-access";
pub const SECRET_KEY: &str = "hafiz-e2e-secret-key-0123456789abcdef";
pub const REGION: &str = "us-east-1";

/// Upper bound for one whole test (server start included).
const TEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Upper bound for the server to answer 200 on /health/ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for one SDK operation (retries included).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Port races (another process grabbing the port we released) are retried.
const START_ATTEMPTS: usize = 3;

/// Runs a test body with a hard time limit so a hung server fails the test
/// instead of hanging the run.
pub async fn bounded<F: Future<Output = ()>>(name: &str, body: F) {
    if tokio::time::timeout(TEST_TIMEOUT, body).await.is_err() {
        panic!("test `{name}` did not finish within {TEST_TIMEOUT:?}");
    }
}

fn hafiz_bin() -> PathBuf {
    match std::env::var_os("HAFIZ_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/hafiz"),
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// A running `hafiz server`; SIGTERMed (then SIGKILLed) and its data removed on drop.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    log_path: PathBuf,
    // Dropped after `Drop::drop` has stopped the child.
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start() -> Server {
        let bin = hafiz_bin();
        assert!(
            bin.is_file(),
            "hafiz binary not found at {} — build it first (`cargo build -p hafiz`) \
             or point HAFIZ_BIN at it",
            bin.display()
        );
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("hafiz-e2e-")
                .tempdir()
                .expect("create temp dir");
            let data = dir.path().join("data");
            std::fs::create_dir(&data).expect("create data dir");
            let log_path = dir.path().join("server.log");
            let log = std::fs::File::create(&log_path).expect("create server log");
            let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            let child = Command::new(&bin)
                .arg("server")
                .arg("--address")
                .arg(addr.to_string())
                .args(["--admin-address", "127.0.0.1:0"])
                .arg("--data")
                .arg(&data)
                .env("HAFIZ_ROOT_ACCESS_KEY", ACCESS_KEY)
                .env("HAFIZ_ROOT_SECRET_KEY", SECRET_KEY)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log fd"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            let mut server = Server {
                child,
                addr,
                log_path,
                _dir: dir,
            };
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(ReadyError::Exited(status)) => {
                    // Possibly lost the port race; try again with a new port.
                    last_log = format!("server exited early ({status})\n{}", server.log());
                }
                Err(ReadyError::Timeout(last)) => panic!(
                    "hafiz did not report ready on http://{addr}/health/ready within \
                     {READY_TIMEOUT:?} (last attempt: {last})\n--- server log ---\n{}",
                    server.log()
                ),
            }
        }
        panic!("hafiz failed to start {START_ATTEMPTS} times; last log:\n{last_log}");
    }

    async fn wait_ready(&mut self) -> Result<(), ReadyError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Err(ReadyError::Exited(status.to_string()));
            }
            let last = match tokio::time::timeout(
                Duration::from_secs(2),
                raw_request(self.addr, "GET", "/health/ready", &[]),
            )
            .await
            {
                Ok(Ok(resp)) if resp.status == 200 => return Ok(()),
                Ok(Ok(resp)) => format!("HTTP {}", resp.status),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "request timed out".to_string(),
            };
            if Instant::now() >= deadline {
                return Err(ReadyError::Timeout(last));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client with the root credentials and default SDK behaviour
    /// (flexible checksums, aws-chunked uploads), path-style addressing.
    pub fn client(&self) -> Client {
        self.client_with(ACCESS_KEY, SECRET_KEY)
    }

    pub fn client_with(&self, access_key: &str, secret_key: &str) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                access_key,
                secret_key,
                None,
                None,
                "hafiz-e2e",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            // Deterministic: a server error must surface, not be retried away.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .build();
        Client::from_conf(config)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_else(|e| format!("<no log: {e}>"))
    }
}

enum ReadyError {
    Exited(String),
    Timeout(String),
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let pid = rustix::process::Pid::from_child(&self.child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if self.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.child.try_wait().ok().flatten().is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if std::thread::panicking() {
            let log = self.log();
            let tail: String = {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(200)..].join("\n")
            };
            eprintln!("--- hafiz server log (last 200 lines) ---\n{tail}\n--- end ---");
        }
    }
}

/// A parsed HTTP/1.1 response from [`raw_request`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    #[allow(dead_code)]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a fresh TCP connection (`Connection: close`),
/// no TLS, no dependency: enough for health checks and presigned URLs.
pub async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<RawResponse> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut req = format!("{method} {path_and_query} HTTP/1.1\r\n");
    let has_host = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host"));
    if !has_host {
        let _ = write!(req, "Host: {addr}\r\n");
    }
    for (k, v) in headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_response(&raw, method == "HEAD")
}

fn parse_response(raw: &[u8], head: bool) -> std::io::Result<RawResponse> {
    let bad = |msg: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head_text = std::str::from_utf8(&raw[..end]).map_err(|_| bad("non-UTF-8 headers"))?;
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("empty response"))?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let body = if head || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        dechunk(rest).ok_or_else(|| bad("bad chunked body"))?
    } else if let Some((_, len)) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        if rest.len() < len {
            return Err(bad("truncated body"));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The S3 ETag of a single-part upload: `"<hex md5>"`.
pub fn md5_etag(data: &[u8]) -> String {
    let digest = md5::Md5::digest(data);
    let mut s = String::from("\"");
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s.push('"');
    s
}

/// CRC32 (ISO-HDLC, as S3's CRC32) in the base64 form S3 returns.
pub fn crc32_b64(data: &[u8]) -> String {
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data) as u32;
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`
/// (how x-amz-copy-source is expected to be encoded).
pub fn url_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// HTTP status of a failed SDK call; panics if the call never got a response.
pub fn http_status<E: std::error::Error + 'static>(err: &aws_sdk_s3::error::SdkError<E>) -> u16 {
    match err.raw_response() {
        Some(resp) => resp.status().as_u16(),
        None => panic!(
            "expected an HTTP error response, got: {}",
            aws_sdk_s3::error::DisplayErrorContext(err)
        ),
    }
}
