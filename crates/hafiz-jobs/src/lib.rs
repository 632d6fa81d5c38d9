//! The durable job engine: everything Hafiz does after a request returns (expiring
//! objects, transitions, healing, deliveries) runs here.
//!
//! Jobs are metadata ([`hafiz_meta::jobs`]): enqueued, leased, heartbeaten and
//! finished by commands applied through the metadata store, so on a cluster they are
//! replicated by Raft and a job leased by a node that dies is run again elsewhere once
//! its lease expires. Handlers must therefore be idempotent: a job may run more than
//! once, but never twice at the same time while its lease is held.

mod backoff;
mod engine;
mod error;
mod handler;
mod schedule;
mod seal;

pub use backoff::Backoff;
pub use engine::{Engine, EngineConfig, JobSpec, KindLimits};
pub use error::{JobError, JobsResult};
pub use handler::{Handler, JobContext, JobFailure, Progress};
pub use schedule::{ScheduleSpec, ScheduleSpecError};
pub use seal::Sealer;

pub use hafiz_meta::jobs::{Job, JobCounts, JobQuery, JobState, Schedule};

/// Milliseconds since the Unix epoch (the metadata's time unit).
pub fn now_millis() -> hafiz_meta::Millis {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as hafiz_meta::Millis
}
