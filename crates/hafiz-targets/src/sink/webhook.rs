//! HTTP POST of each event (JSON), optionally signed: `X-Hafiz-Signature:
//! sha256=<hex HMAC-SHA256 of the body>`, so a receiver can tell Hafiz's events from
//! forgeries. 2xx is delivered; 4xx other than 408 and 429 is a refusal.

use std::collections::HashMap;

use async_trait::async_trait;
use futures_util::{StreamExt, stream};
use hafiz_meta::events::QueuedEvent;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Failure, SendError, Sink, message};
use crate::config::TargetConfig;
use crate::error::{TargetError, TargetResult};

/// Keys posted at once.
const IN_FLIGHT: usize = 8;

pub struct Webhook {
    client: reqwest::Client,
    url: String,
    authorization: Option<String>,
    hmac_secret: Option<Vec<u8>>,
}

impl Webhook {
    pub fn new(
        cfg: &TargetConfig,
        token: Option<String>,
        hmac_secret: Option<String>,
    ) -> TargetResult<Webhook> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout())
            .pool_max_idle_per_host(IN_FLIGHT)
            .build()
            .map_err(|e| TargetError::Invalid(format!("endpoint: {e}")))?;
        Ok(Webhook {
            client,
            url: cfg.endpoint.clone(),
            // A bare token is a bearer token; `Basic …` and the like are sent as given.
            authorization: token.map(|t| {
                if t.contains(' ') {
                    t
                } else {
                    format!("Bearer {t}")
                }
            }),
            hmac_secret: hmac_secret.map(String::into_bytes),
        })
    }

    async fn post(&self, body: String, event: &str) -> Result<(), SendError> {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-hafiz-event", event);
        if let Some(a) = &self.authorization {
            req = req.header("authorization", a);
        }
        if let Some(k) = &self.hmac_secret {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(k)
                .map_err(|e| SendError::Rejected(e.to_string()))?;
            mac.update(body.as_bytes());
            req = req.header(
                "x-hafiz-signature",
                format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
            );
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            Err(SendError::Rejected(format!("HTTP {status}")))
        } else {
            Err(SendError::Transient(format!("HTTP {status}")))
        }
    }
}

#[async_trait]
impl Sink for Webhook {
    /// Events of different keys are posted concurrently ([`IN_FLIGHT`] at once), the
    /// events of one key one after another: order holds per key, where consumers
    /// need it, and a batch costs a few round trips instead of one per event.
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), Failure> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut by_key: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, ev) in events.iter().enumerate() {
            let g = *by_key
                .entry((ev.record.bucket.as_str(), ev.record.key.as_str()))
                .or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
            groups[g].push(i);
        }
        // Per key: the events that arrived, and the failure that stopped the key.
        let outcomes: Vec<(Vec<usize>, Option<(usize, SendError)>)> = stream::iter(groups)
            .map(|group| async move {
                let mut sent = Vec::new();
                for i in group {
                    let ev = &events[i];
                    if let Err(e) = self.post(message(ev), &ev.record.event_name).await {
                        // The key's later events wait for this one.
                        return (sent, Some((i, e)));
                    }
                    sent.push(i);
                }
                (sent, None)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        // Delivered: the events before the first failure (a key's events after its
        // failure were not sent, and come after it); other keys' events past it that
        // arrived are reported, so they are not sent twice.
        let Some((delivered, error)) = outcomes
            .iter()
            .filter_map(|(_, f)| f.as_ref())
            .min_by_key(|(i, _)| *i)
            .cloned()
        else {
            return Ok(());
        };
        let mut ahead: Vec<usize> = outcomes
            .into_iter()
            .flat_map(|(sent, _)| sent)
            .filter(|i| *i > delivered)
            .collect();
        ahead.sort_unstable();
        Err(Failure {
            delivered,
            error,
            ahead,
        })
    }

    async fn check(&self) -> Result<(), SendError> {
        // Any answer proves the endpoint is there; only no answer is a failure.
        self.client
            .head(&self.url)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SendError::Transient(e.to_string()))
    }
}
