//! The resync job (`replicate-resync`): queue the replication of versions that
//! were in a bucket before its rules (ExistingObjectReplication, or the operator's
//! `hafiz admin replicate resync`). It walks the bucket's versions a page at a time,
//! queues each page in one command, and saves its place after each page, so a
//! restarted job goes on where it stopped.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hafiz_jobs::{Backoff, Handler, JobContext, JobFailure, JobSpec, KindLimits, now_millis};
use hafiz_meta::replication::{RESYNC_JOB, ReplicationCommand, ResyncScope};
use hafiz_meta::{Command, Metadata, VersionEntry, VersionListQuery};
use serde::{Deserialize, Serialize};

const PAGE: usize = 500;

/// The job's payload, which is also its progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResyncJob {
    pub bucket: String,
    pub scope: ResyncScope,
    /// Where the walk stands: after this key and version.
    pub key_marker: Option<String>,
    pub version_marker: Option<String>,
    pub scanned: u64,
    pub queued: u64,
}

impl ResyncJob {
    pub fn spec(bucket: &str, scope: ResyncScope) -> JobSpec {
        let job = ResyncJob {
            bucket: bucket.to_string(),
            scope,
            ..Default::default()
        };
        JobSpec::new(RESYNC_JOB, &job)
            .sensitive()
            .timeout(Duration::from_secs(3600))
            .unique(format!("resync/{bucket}"))
    }
}

pub(crate) fn install(meta: Arc<dyn Metadata>, jobs: &hafiz_jobs::Engine) {
    jobs.register(
        RESYNC_JOB,
        Arc::new(ResyncHandler { meta }),
        KindLimits {
            concurrency: 2,
            leader_only: false,
            backoff: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
        },
    );
}

struct ResyncHandler {
    meta: Arc<dyn Metadata>,
}

#[async_trait]
impl Handler for ResyncHandler {
    async fn run(&self, job: JobContext) -> Result<Option<String>, JobFailure> {
        let mut p: ResyncJob = job.json()?;
        let retry = |e: hafiz_meta::MetaError| JobFailure::Retry(e.to_string());
        loop {
            let page = self
                .meta
                .list_versions(
                    &p.bucket,
                    VersionListQuery {
                        prefix: String::new(),
                        delimiter: None,
                        key_marker: p.key_marker.clone(),
                        version_id_marker: p.version_marker.clone(),
                        max: PAGE,
                    },
                )
                .await
                .map_err(|e| match e {
                    hafiz_meta::MetaError::NoSuchBucket(_) => JobFailure::Permanent(e.to_string()),
                    e => retry(e),
                })?;
            let versions: Vec<(String, String)> = page
                .entries
                .iter()
                .filter_map(|e| match e {
                    VersionEntry::Version { version, .. } => {
                        Some((version.key.clone(), version.version_id.clone()))
                    }
                    VersionEntry::Prefix(_) => None,
                })
                .collect();
            if let Some((k, v)) = versions.last() {
                p.key_marker = Some(k.clone());
                p.version_marker = Some(v.clone());
            }
            p.scanned += versions.len() as u64;
            if !versions.is_empty() {
                let out = self
                    .meta
                    .apply(Command::Replication(ReplicationCommand::Enqueue {
                        bucket: p.bucket.clone(),
                        versions,
                        scope: p.scope,
                        now: now_millis(),
                    }))
                    .await
                    .map_err(retry)?;
                p.queued += out.replications as u64;
            }
            // Progress where operators look (the payload is sealed: it holds keys).
            metrics::gauge!("hafiz_replication_resync_scanned", "bucket" => p.bucket.clone())
                .set(p.scanned as f64);
            metrics::gauge!("hafiz_replication_resync_queued", "bucket" => p.bucket.clone())
                .set(p.queued as f64);
            if !page.truncated {
                break;
            }
            job.progress.save(&p).await?;
        }
        Ok(Some(format!(
            r#"{{"bucket":{},"scanned":{},"queued":{}}}"#,
            serde_json::Value::String(p.bucket.clone()),
            p.scanned,
            p.queued
        )))
    }
}
