//! Notification targets and delivery. The operator configures targets (webhook,
//! Redis, NATS, MQTT, AMQP, Kafka, PostgreSQL, and chains that route to them);
//! buckets name them in their notification rules; the metadata store queues each
//! event for its targets in the commit of the change (`hafiz_meta::events`). The
//! [`Dispatcher`] drains those queues on the metadata leader: in order per target
//! (so per key), at least once, with backoff, timeouts and a circuit breaker per
//! target, and a dead-letter path through the job engine for events a target
//! refuses.

mod breaker;
mod config;
mod dispatch;
mod error;
mod registry;
pub mod sink;

pub use config::{TargetConfig, TargetKind, TargetSpec, TargetView, arn_of};
pub use dispatch::{Dispatcher, RedeliverHandler};
pub use error::{TargetError, TargetResult};
pub use registry::{Target, Targets};
