//! Bucket lifecycle: the rule model with the S3 XML it is read from and written as
//! ([`config`]), what the rules say about an object ([`rules`]), and the jobs that
//! apply them ([`scanner`]): a leader-only scan that queues one job per bucket, and
//! the bucket job that walks its versions in bounded batches behind a saved cursor.

pub mod config;
pub mod rules;
pub mod scanner;

pub use config::{ConfigError, LifecycleConfig};
pub use rules::{Action, day_millis};
pub use scanner::{BUCKET_JOB, SCAN_JOB, Scanner};
