//! Redis: each event appended to a stream (`XADD key * event <json>`) or a list
//! (`RPUSH key <json>`), a batch in one pipeline.

use async_trait::async_trait;
use hafiz_meta::events::QueuedEvent;
use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

use super::{Failure, SendError, Sink, message};
use crate::config::TargetConfig;
use crate::error::{TargetError, TargetResult};

pub struct Redis {
    client: redis::Client,
    key: String,
    list: bool,
    conn: Mutex<Option<MultiplexedConnection>>,
}

impl Redis {
    pub fn new(cfg: &TargetConfig, password: Option<String>) -> TargetResult<Redis> {
        let mut url = url::Url::parse(&cfg.endpoint)
            .map_err(|e| TargetError::Invalid(format!("endpoint: {e}")))?;
        if !cfg.username.is_empty() {
            let _ = url.set_username(&cfg.username);
        }
        if let Some(p) = &password {
            let _ = url.set_password(Some(p));
        }
        let client = redis::Client::open(url.as_str())
            .map_err(|e| TargetError::Invalid(format!("endpoint: {e}")))?;
        Ok(Redis {
            client,
            key: cfg.destination.clone(),
            list: cfg.format == "list",
            conn: Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        let mut held = self.conn.lock().await;
        if let Some(c) = held.as_ref() {
            return Ok(c.clone());
        }
        let c = self.client.get_multiplexed_async_connection().await?;
        *held = Some(c.clone());
        Ok(c)
    }
}

#[async_trait]
impl Sink for Redis {
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), Failure> {
        let mut conn = self
            .connection()
            .await
            .map_err(|e| Failure::transient(0, e))?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for ev in events {
            if self.list {
                pipe.rpush(&self.key, message(ev)).ignore();
            } else {
                pipe.xadd(&self.key, "*", &[("event", message(ev))])
                    .ignore();
            }
        }
        match pipe.query_async::<()>(&mut conn).await {
            Ok(()) => Ok(()),
            Err(e) => {
                *self.conn.lock().await = None;
                // MULTI/EXEC: all or none of the batch.
                let error = if e.code() == Some("WRONGTYPE") {
                    SendError::Rejected(e.to_string())
                } else {
                    SendError::Transient(e.to_string())
                };
                Err(Failure {
                    delivered: 0,
                    error,
                    ahead: Vec::new(),
                })
            }
        }
    }

    async fn check(&self) -> Result<(), SendError> {
        let mut conn = self
            .connection()
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| SendError::Transient(e.to_string()))
    }
}
