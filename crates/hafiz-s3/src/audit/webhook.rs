//! The webhook sink: batches of records POSTed as a JSON array to a URL.
//!
//! A failed batch (connect error, timeout, any non-2xx answer) is retried with
//! capped exponential backoff and jitter for as long as it takes: there is no retry
//! limit. What bounds an outage is the sink's queue: while the batch is retried new
//! records wait there, and once it is full further records are dropped and counted
//! (`hafiz_audit_dropped_total{sink="webhook"}`). So no record is lost while the
//! queue has room, and a receiver that is down for long loses the newest records,
//! never the ones already accepted.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use tokio::time::Instant;

use super::AuditRecord;
use super::queue::{Rx, SinkQueue, SinkStats};

/// The first retry waits about this long; each further one twice as long.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Retries never wait longer than this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// One POST may take this long, connecting included.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct WebhookConfig {
    /// `http://…` or `https://…` (checked against the system's trusted roots).
    pub url: String,
    /// Sent as `Authorization: Bearer TOKEN`.
    pub token: Option<String>,
    /// A batch is sent once it holds this many records…
    pub max_batch: usize,
    /// …or this long after its first record arrived, whichever comes first.
    pub linger: Duration,
}

impl WebhookConfig {
    pub fn new(url: impl Into<String>, token: Option<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            token,
            max_batch: 100,
            linger: Duration::from_secs(1),
        }
    }
}

// By hand so that the token never reaches a log line.
impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("max_batch", &self.max_batch)
            .field("linger", &self.linger)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("audit webhook URL {url:?} does not parse: {reason}")]
    Url { url: String, reason: String },
    #[error("audit webhook URL scheme {0:?} is not supported: use http or https")]
    Scheme(String),
    #[error("audit webhook token is not a valid header value")]
    Token,
    #[error("cannot build the audit webhook client: {0}")]
    Client(reqwest::Error),
}

/// Capped exponential backoff with "equal jitter": the n-th wait is drawn from
/// `[c/2, c]` where `c = min(BACKOFF_MIN * 2^n, BACKOFF_MAX)`, so receivers coming
/// back are not hit by every node at the same instant, and a wait is never shorter
/// than half its ceiling.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            next: min,
            min,
            max,
        }
    }

    /// The ceiling of the next wait; doubles the one after it.
    pub fn next_ceiling(&mut self) -> Duration {
        let c = self.next;
        self.next = (self.next * 2).min(self.max);
        c
    }

    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let c = self.next_ceiling();
        let half = c / 2;
        half + Duration::from_nanos(rng.gen_range(0..=(c - half).as_nanos() as u64))
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

struct Target {
    client: reqwest::Client,
    url: reqwest::Url,
    authorization: Option<http::HeaderValue>,
}

pub(super) fn start(cfg: WebhookConfig) -> Result<SinkQueue, WebhookError> {
    let target = target(&cfg)?;
    let (queue, rx, stats) = SinkQueue::new("webhook");
    tokio::spawn(run(cfg, target, rx, stats));
    Ok(queue)
}

fn target(cfg: &WebhookConfig) -> Result<Target, WebhookError> {
    let url = reqwest::Url::parse(&cfg.url).map_err(|e| WebhookError::Url {
        url: cfg.url.clone(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(WebhookError::Scheme(url.scheme().to_string()));
    }
    let authorization = cfg
        .token
        .as_ref()
        .map(|t| {
            let mut v = http::HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| WebhookError::Token)?;
            v.set_sensitive(true);
            Ok(v)
        })
        .transpose()?;
    hafiz_tls::install_default_provider();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        // A redirected POST would turn into a GET and lose its body: a 3xx is a
        // failure like any other non-2xx.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(WebhookError::Client)?;
    Ok(Target {
        client,
        url,
        authorization,
    })
}

async fn run(cfg: WebhookConfig, target: Target, mut rx: Rx, stats: Arc<SinkStats>) {
    let mut batch: Vec<Arc<AuditRecord>> = Vec::with_capacity(cfg.max_batch);
    let mut backoff = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = Instant::now() + cfg.linger;
        while batch.len() < cfg.max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        let body = json_array(&batch);
        deliver(&target, body, &mut backoff).await;
        stats.delivered(batch.len() as u64);
        batch.clear();
    }
}

fn json_array(batch: &[Arc<AuditRecord>]) -> Bytes {
    let mut buf = Vec::with_capacity(batch.len() * 700);
    buf.push(b'[');
    for (i, r) in batch.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        // Serializing plain structs of strings and numbers into memory cannot fail.
        let _ = serde_json::to_writer(&mut buf, r.as_ref());
    }
    buf.push(b']');
    Bytes::from(buf)
}

/// Sends one batch, retrying until the receiver accepts it.
async fn deliver(target: &Target, body: Bytes, backoff: &mut Backoff) {
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        match post(target, body.clone()).await {
            Ok(()) => {
                if attempt > 1 {
                    tracing::info!(attempts = attempt, "audit webhook delivered after retries");
                }
                backoff.reset();
                return;
            }
            Err(error) => {
                metrics::counter!("hafiz_audit_webhook_failures_total").increment(1);
                let wait = backoff.next_delay(&mut rand::thread_rng());
                // Powers of two keep an outage of hours to a few dozen lines.
                if attempt.is_power_of_two() {
                    tracing::warn!(%error, attempt, retry_in_ms = wait.as_millis() as u64, "audit webhook failed; retrying");
                } else {
                    tracing::debug!(%error, attempt, "audit webhook failed; retrying");
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum PostError {
    #[error("{0}")]
    Send(reqwest::Error),
    #[error("receiver answered {0}")]
    Status(http::StatusCode),
}

async fn post(target: &Target, body: Bytes) -> Result<(), PostError> {
    let mut req = target
        .client
        .post(target.url.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(auth) = &target.authorization {
        req = req.header(http::header::AUTHORIZATION, auth.clone());
    }
    // The URL may carry credentials: errors are logged without it.
    let resp = req
        .send()
        .await
        .map_err(|e| PostError::Send(e.without_url()))?;
    let status = resp.status();
    // Reading the body lets the connection be reused.
    let _ = resp.bytes().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(PostError::Status(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
        let ms: Vec<u128> = (0..12).map(|_| b.next_ceiling().as_millis()).collect();
        assert_eq!(
            ms,
            [
                100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000
            ]
        );
        b.reset();
        assert_eq!(b.next_ceiling(), BACKOFF_MIN);
    }

    #[test]
    fn jittered_waits_stay_between_half_and_the_ceiling() {
        let mut rng = rand::thread_rng();
        let mut b = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
        let mut ceilings = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..40 {
            let c = ceilings.next_ceiling();
            let d = b.next_delay(&mut rng);
            assert!(d >= c / 2 && d <= c, "{d:?} outside [{:?}, {c:?}]", c / 2);
            distinct.insert(d);
        }
        // Jitter: the capped waits are not all the same.
        assert!(distinct.len() > 20);
    }

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        assert!(matches!(
            target(&WebhookConfig::new("ftp://example.invalid/x", None)),
            Err(WebhookError::Scheme(s)) if s == "ftp"
        ));
        assert!(target(&WebhookConfig::new("https://example.invalid/x", None)).is_ok());
        assert!(matches!(
            target(&WebhookConfig::new("not a url", None)),
            Err(WebhookError::Url { .. })
        ));
        assert!(matches!(
            target(&WebhookConfig::new(
                "http://127.0.0.1:1/",
                Some("a\nb".into())
            )),
            Err(WebhookError::Token)
        ));
        assert!(
            target(&WebhookConfig::new(
                "http://127.0.0.1:1/audit",
                Some("t".into())
            ))
            .is_ok()
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let cfg = WebhookConfig::new("http://127.0.0.1:1/", Some("sekrit".into()));
        assert!(!format!("{cfg:?}").contains("sekrit"));
    }
}
