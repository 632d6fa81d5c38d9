//! The clients of each target kind behind one trait. A sink delivers a batch of
//! events in order and says how far it got; it keeps its connection between batches
//! and opens a new one after a failure.

mod amqp;
mod kafka;
mod mqtt;
mod nats;
mod postgres;
mod redis;
mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use hafiz_meta::events::QueuedEvent;

use crate::config::{TargetConfig, TargetKind};
use crate::error::TargetResult;

/// Why a delivery stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth trying again (connection refused, timeout, 5xx).
    Transient(String),
    /// The target answered that it will never take this event (4xx, a SQL error
    /// such as a missing privilege): retrying it in place would hold up every event
    /// behind it.
    Rejected(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Transient(m) => write!(f, "{m}"),
            SendError::Rejected(m) => write!(f, "refused: {m}"),
        }
    }
}

/// A batch that stopped part way: the first `delivered` events arrived, and so did
/// the events at `ahead` (indices past `delivered`: a sink that sends several keys
/// at once), which the next attempt need not send again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub delivered: usize,
    pub error: SendError,
    pub ahead: Vec<usize>,
}

impl Failure {
    pub(crate) fn transient(delivered: usize, e: impl std::fmt::Display) -> Failure {
        Failure {
            delivered,
            error: SendError::Transient(e.to_string()),
            ahead: Vec::new(),
        }
    }
}

#[async_trait]
pub trait Sink: Send + Sync {
    /// Deliver `events` in order.
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), Failure>;
    /// Connect once (the admin API checks a new target before saving it).
    async fn check(&self) -> Result<(), SendError>;
}

/// The body every target receives: AWS's S3 event message with one record.
pub(crate) fn message(ev: &QueuedEvent) -> String {
    hafiz_notify::event_json(std::slice::from_ref(&ev.record))
}

/// Open a sink (lazily connecting) for `cfg`, whose secrets are given opened.
pub(crate) fn open(
    cfg: &TargetConfig,
    password: Option<String>,
    hmac_secret: Option<String>,
) -> TargetResult<Option<Arc<dyn Sink>>> {
    Ok(Some(match cfg.kind {
        TargetKind::Webhook => Arc::new(webhook::Webhook::new(cfg, password, hmac_secret)?),
        TargetKind::Redis => Arc::new(redis::Redis::new(cfg, password)?),
        TargetKind::Nats => Arc::new(nats::Nats::new(cfg, password)),
        TargetKind::Mqtt => Arc::new(mqtt::Mqtt::new(cfg, password)?),
        TargetKind::Amqp => Arc::new(amqp::Amqp::new(cfg, password)?),
        TargetKind::Kafka => Arc::new(kafka::Kafka::new(cfg)?),
        TargetKind::Postgres => Arc::new(postgres::Postgres::new(cfg, password)?),
        TargetKind::Chain => return Ok(None),
    }))
}
