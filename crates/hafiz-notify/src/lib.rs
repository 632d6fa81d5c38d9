//! Bucket notifications: what PutBucketNotificationConfiguration takes (the rule
//! model, AWS's XML and AWS's refusals), which rules an event matches, and the S3
//! event JSON a target receives. Delivery (durable, per target) builds on the job
//! engine; this crate holds what is the same for every target.

pub mod config;
pub mod event;
pub mod route;

pub use config::{
    ConfigError, EVENT_TYPES, KeyFilter, NotificationConfig, NotifyRule, RuleKind, event_matches,
};
pub use event::{EventRecord, event_json};
pub use route::Route;
