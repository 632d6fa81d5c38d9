//! NATS: each event published on the subject, the batch flushed to the server.
//! Core NATS has no acknowledgement past the server: an event is delivered once the
//! server has it (subscribers that are not listening miss it, as with any NATS
//! publisher; JetStream consumers keep it).

use async_trait::async_trait;
use hafiz_meta::events::QueuedEvent;
use tokio::sync::Mutex;

use super::{Failure, SendError, Sink, message};
use crate::config::TargetConfig;

pub struct Nats {
    endpoint: String,
    subject: String,
    credentials: Option<(String, String)>,
    client: Mutex<Option<async_nats::Client>>,
}

impl Nats {
    pub fn new(cfg: &TargetConfig, password: Option<String>) -> Nats {
        Nats {
            endpoint: cfg.endpoint.clone(),
            subject: cfg.destination.clone(),
            credentials: password.map(|p| (cfg.username.clone(), p)),
            client: Mutex::new(None),
        }
    }

    async fn client(&self) -> Result<async_nats::Client, SendError> {
        let mut held = self.client.lock().await;
        if let Some(c) = held.as_ref() {
            return Ok(c.clone());
        }
        let opts = match &self.credentials {
            Some((u, p)) => {
                async_nats::ConnectOptions::with_user_and_password(u.clone(), p.clone())
            }
            None => async_nats::ConnectOptions::new(),
        };
        let c = opts
            .connect(self.endpoint.as_str())
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?;
        *held = Some(c.clone());
        Ok(c)
    }
}

#[async_trait]
impl Sink for Nats {
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), Failure> {
        let client = self.client().await.map_err(|error| Failure {
            delivered: 0,
            error,
            ahead: Vec::new(),
        })?;
        let result = async {
            for ev in events {
                client
                    .publish(self.subject.clone(), message(ev).into())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            client.flush().await.map_err(|e| e.to_string())
        }
        .await;
        result.map_err(|e| {
            // Unflushed publishes may or may not have left: the whole batch is sent
            // again (at least once).
            if let Ok(mut held) = self.client.try_lock() {
                *held = None;
            }
            Failure::transient(0, e)
        })
    }

    async fn check(&self) -> Result<(), SendError> {
        let c = self.client().await?;
        c.flush()
            .await
            .map_err(|e| SendError::Transient(e.to_string()))
    }
}
