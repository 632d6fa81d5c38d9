//! Bucket replication: the configuration PutBucketReplication takes (`config`), the
//! replication targets an operator registers (`target`), the worker that drains the
//! replication queues the metadata store fills in the commit of each change
//! (`worker`), the headers a replica write carries (`protocol`), and the resync job
//! for versions older than a rule (`resync`).

pub mod config;
pub mod error;
pub mod protocol;
pub mod resync;
pub mod target;
pub mod worker;

use std::collections::HashSet;
use std::sync::Arc;

pub use error::{ReplicationError, ReplicationResult};
pub use hafiz_meta::replication::ResyncScope;
pub use target::{TargetSpec, TargetView, Targets};
pub use worker::Replicator;

/// What the S3 gateway and the admin API use: the targets, and resyncs.
pub struct Replication {
    pub targets: Arc<Targets>,
    jobs: Arc<hafiz_jobs::Engine>,
}

impl Replication {
    pub fn new(targets: Arc<Targets>, jobs: Arc<hafiz_jobs::Engine>) -> Arc<Replication> {
        Arc::new(Replication { targets, jobs })
    }

    /// The ARNs rules may name.
    pub async fn target_arns(&self) -> HashSet<String> {
        self.targets
            .all()
            .await
            .iter()
            .map(|t| t.config.arn.clone())
            .collect()
    }

    /// Start a resync of `bucket` (see [`resync`]); returns the job's id, or the id
    /// of the resync of that bucket already under way.
    pub async fn resync(&self, bucket: &str, scope: ResyncScope) -> ReplicationResult<String> {
        let spec = resync::ResyncJob::spec(bucket, scope);
        match self
            .jobs
            .enqueue(spec)
            .await
            .map_err(|e| ReplicationError::Jobs(e.to_string()))?
        {
            Some(job) => Ok(job.id),
            None => Err(ReplicationError::Exists(format!(
                "a resync of bucket {bucket} is under way"
            ))),
        }
    }
}
