//! HTTP POST of each event (JSON), optionally signed: `X-Hafiz-Signature:
//! sha256=<hex HMAC-SHA256 of the body>`, so a receiver can tell Hafiz's events from
//! forgeries. 2xx is delivered; 4xx other than 408 and 429 is a refusal.

use async_trait::async_trait;
use hafiz_meta::events::QueuedEvent;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Failure, SendError, Sink, message};
use crate::config::TargetConfig;
use crate::error::{TargetError, TargetResult};

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
            .pool_max_idle_per_host(4)
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
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), Failure> {
        for (i, ev) in events.iter().enumerate() {
            self.post(message(ev), &ev.record.event_name)
                .await
                .map_err(|error| Failure {
                    delivered: i,
                    error,
                })?;
        }
        Ok(())
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
