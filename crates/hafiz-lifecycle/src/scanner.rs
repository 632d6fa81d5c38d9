//! The lifecycle jobs. A scan (leader-only, on a schedule) queues one job per bucket
//! that has rules; a bucket job walks the bucket's versions in pages, applies what
//! [`crate::rules`] says is due, and saves its cursor after every page, so a job cut
//! short (a crash, a lost lease) resumes where it stopped. Every action is a normal
//! metadata command, so object lock and legal holds refuse exactly what they refuse
//! for a client; refused actions are counted and skipped.

use std::sync::Arc;

use async_trait::async_trait;
use hafiz_jobs::{Engine, Handler, JobContext, JobFailure, JobSpec, KindLimits};
use hafiz_meta::{
    BucketInfo, Command, MetaError, Metadata, ObjectVersion, UploadListQuery, VersionEntry,
    VersionListQuery,
};
use hafiz_storage::BlobStore;
use hafiz_tier::{Tier, Tiering};
use serde::{Deserialize, Serialize};

use crate::config::LifecycleConfig;
use crate::rules::{Action, RulePlacement, plan_key, plan_upload, transition_due};

pub const SCAN_JOB: &str = "lifecycle-scan";
pub const BUCKET_JOB: &str = "lifecycle-bucket";
/// Versions read per page (one page is one bounded batch of work).
const PAGE: usize = 1000;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct BucketCursor {
    pub bucket: String,
    /// Keys up to and including this one are done.
    #[serde(default)]
    pub after_key: Option<String>,
    #[serde(default)]
    pub uploads_done: bool,
    #[serde(default)]
    pub stats: Stats,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    pub versions_evaluated: u64,
    pub expired: u64,
    pub versions_deleted: u64,
    pub markers_removed: u64,
    pub uploads_aborted: u64,
    pub skipped_locked: u64,
    /// Moves between tiers queued (bucket rules and operator age policies).
    #[serde(default)]
    pub transitions_queued: u64,
    /// Restored temporary copies removed after their days.
    #[serde(default)]
    pub restores_expired: u64,
}

pub struct Scanner {
    meta: Arc<dyn Metadata>,
    blobs: Arc<dyn BlobStore>,
    /// Tiers: transitions, age policies and restored copies' expiry (None: no
    /// tiering, rules only expire).
    tiering: Option<Arc<Tiering>>,
}

impl Scanner {
    pub fn new(
        meta: Arc<dyn Metadata>,
        blobs: Arc<dyn BlobStore>,
        tiering: Option<Arc<Tiering>>,
    ) -> Arc<Scanner> {
        Arc::new(Scanner {
            meta,
            blobs,
            tiering,
        })
    }

    async fn tiers(&self) -> Vec<Arc<Tier>> {
        match &self.tiering {
            Some(t) => t.tiers().all().await,
            None => Vec::new(),
        }
    }

    /// Register both job kinds with `engine` and schedule the scan every `interval`
    /// (a schedule spec: `every 1h`, a cron expression).
    pub async fn install(
        self: &Arc<Self>,
        engine: &Arc<Engine>,
        interval: &str,
    ) -> hafiz_jobs::JobsResult<()> {
        engine.register(
            SCAN_JOB,
            Arc::new(ScanHandler {
                scanner: self.clone(),
                engine: Arc::downgrade(engine),
            }),
            KindLimits {
                concurrency: 1,
                leader_only: true,
                ..Default::default()
            },
        );
        engine.register(
            BUCKET_JOB,
            Arc::new(BucketHandler {
                scanner: self.clone(),
            }),
            KindLimits {
                concurrency: 2,
                ..Default::default()
            },
        );
        engine
            .put_schedule("lifecycle", interval, SCAN_JOB, &())
            .await
    }

    /// Apply the rules of `cursor.bucket` from the cursor on, saving progress.
    pub async fn run_bucket(
        &self,
        mut cursor: BucketCursor,
        progress: Option<&hafiz_jobs::Progress>,
    ) -> Result<Stats, JobFailure> {
        let retry = |e: MetaError| JobFailure::Retry(e.to_string());
        let Some(bucket) = self.meta.bucket(&cursor.bucket).await.map_err(retry)? else {
            return Ok(cursor.stats);
        };
        let cfg = bucket
            .lifecycle
            .as_deref()
            .and_then(LifecycleConfig::from_json);
        let tiers = self.tiers().await;
        if cfg.is_none() && tiers.is_empty() {
            return Ok(cursor.stats);
        }
        let cfg = cfg.unwrap_or_default();
        let mut moves: Vec<JobSpec> = Vec::new();
        // Keys whose versions continue on the next page are finished there.
        let mut pending: Vec<ObjectVersion> = Vec::new();
        let mut marker = cursor.after_key.clone();
        let mut version_marker: Option<String> = None;
        loop {
            let page = self
                .meta
                .list_versions(
                    &bucket.name,
                    VersionListQuery {
                        prefix: String::new(),
                        delimiter: None,
                        key_marker: marker.clone(),
                        version_id_marker: version_marker.clone(),
                        max: PAGE,
                    },
                )
                .await
                .map_err(retry)?;
            let now = hafiz_jobs::now_millis();
            let mut last: Option<(String, String)> = None;
            for entry in page.entries {
                let VersionEntry::Version { version, .. } = entry else {
                    continue;
                };
                last = Some((version.key.clone(), version.version_id.clone()));
                if pending.first().is_some_and(|p| p.key != version.key) {
                    self.finish_key(
                        &bucket,
                        &cfg,
                        &tiers,
                        &mut pending,
                        now,
                        &mut cursor,
                        &mut moves,
                    )
                    .await?;
                }
                pending.push(*version);
            }
            if !page.truncated {
                if !pending.is_empty() {
                    self.finish_key(
                        &bucket,
                        &cfg,
                        &tiers,
                        &mut pending,
                        now,
                        &mut cursor,
                        &mut moves,
                    )
                    .await?;
                }
                self.queue_moves(&mut moves).await?;
                break;
            }
            let Some((k, v)) = last else { break };
            marker = Some(k);
            version_marker = Some(v);
            // Queued before the cursor passes them: a crash in between queues them
            // again, which their unique keys make a no-op.
            self.queue_moves(&mut moves).await?;
            if let Some(p) = progress {
                p.save(&cursor).await?;
            }
        }
        if !cursor.uploads_done {
            self.abort_uploads(&bucket, &cfg, &mut cursor.stats).await?;
            cursor.uploads_done = true;
        }
        Ok(cursor.stats)
    }

    /// Apply what is due to the versions of one key (all of them, gathered in
    /// `pending`), and move the cursor past it.
    #[allow(clippy::too_many_arguments)]
    async fn finish_key(
        &self,
        bucket: &BucketInfo,
        cfg: &LifecycleConfig,
        tiers: &[Arc<Tier>],
        pending: &mut Vec<ObjectVersion>,
        now: hafiz_meta::Millis,
        cursor: &mut BucketCursor,
        moves: &mut Vec<JobSpec>,
    ) -> Result<(), JobFailure> {
        let key_versions = std::mem::take(pending);
        self.apply_key(
            bucket,
            cfg,
            tiers,
            &key_versions,
            now,
            &mut cursor.stats,
            moves,
        )
        .await?;
        cursor.after_key = key_versions.first().map(|v| v.key.clone());
        Ok(())
    }

    async fn queue_moves(&self, moves: &mut Vec<JobSpec>) -> Result<(), JobFailure> {
        if let Some(t) = &self.tiering {
            t.enqueue(std::mem::take(moves)).await?;
        }
        Ok(())
    }

    /// What tiering asks of one key's versions: restored copies past their days go
    /// (now), and versions move where the bucket's rules or, failing those, the
    /// operator's age policies place them (queued as jobs).
    #[allow(clippy::too_many_arguments)]
    async fn place_key(
        &self,
        bucket: &BucketInfo,
        cfg: &LifecycleConfig,
        tiers: &[Arc<Tier>],
        versions: &[ObjectVersion],
        actions: &[Action],
        now: hafiz_meta::Millis,
        stats: &mut Stats,
        moves: &mut Vec<JobSpec>,
    ) -> Result<(), JobFailure> {
        for (i, v) in versions.iter().enumerate() {
            if hafiz_tier::policy::restore_expired(v, now) {
                match self
                    .meta
                    .apply(Command::SetRestore {
                        bucket: bucket.name.clone(),
                        key: v.key.clone(),
                        version_id: v.version_id.clone(),
                        order: v.sort_order(),
                        expect: v.restore.clone(),
                        restore: None,
                        now,
                    })
                    .await
                {
                    Ok(out) => {
                        hafiz_storage::release::release_later(
                            self.blobs.clone(),
                            out.released_blobs,
                        );
                        stats.restores_expired += 1;
                    }
                    Err(MetaError::PreconditionFailed) => {}
                    Err(e) => return Err(JobFailure::Retry(e.to_string())),
                }
            }
            let by_rule = actions.iter().find_map(|a| match a {
                Action::Transition {
                    version_id,
                    storage_class,
                    rule,
                    ..
                } if *version_id == v.version_id => Some((storage_class.as_str(), rule.as_str())),
                _ => None,
            });
            // A hot version showing a tier's class (a PUT or copy that named it)
            // belongs in that tier.
            let named = || {
                tiers
                    .iter()
                    .find(|t| t.config.storage_class == v.storage_class)
                    .filter(|_| v.tier_copy().is_none() && !v.delete_marker)
                    .map(|t| (t.clone(), "put"))
            };
            let target = match by_rule {
                Some((class, rule)) => tiers
                    .iter()
                    .find(|t| t.config.storage_class == class)
                    .map(|t| (t.clone(), rule)),
                // A rule places this version (later): policies leave it alone.
                None if transition_due(cfg, versions, i, now) == RulePlacement::Later => named(),
                None if i == 0
                    && actions
                        .iter()
                        .any(|a| matches!(a, Action::ExpireCurrent { .. })) =>
                {
                    None
                }
                None => named().or_else(|| {
                    hafiz_tier::policy::policy_target(tiers, v, now).map(|t| (t, "policy"))
                }),
            };
            if let Some((tier, reason)) = target
                && !matches!(v.data, hafiz_meta::ObjectData::Inline(_))
                && v.tier_copy().is_none_or(|c| c.tier != tier.config.name)
            {
                moves.push(Tiering::move_spec(
                    &bucket.name,
                    v,
                    Some(&tier.config.name),
                    reason,
                ));
                stats.transitions_queued += 1;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_key(
        &self,
        bucket: &BucketInfo,
        cfg: &LifecycleConfig,
        tiers: &[Arc<Tier>],
        versions: &[ObjectVersion],
        now: hafiz_meta::Millis,
        stats: &mut Stats,
        moves: &mut Vec<JobSpec>,
    ) -> Result<(), JobFailure> {
        stats.versions_evaluated += versions.len() as u64;
        metrics::counter!("hafiz_lifecycle_versions_evaluated_total")
            .increment(versions.len() as u64);
        let actions = plan_key(cfg, versions, now);
        if !tiers.is_empty() {
            self.place_key(bucket, cfg, tiers, versions, &actions, now, stats, moves)
                .await?;
        }
        for action in actions {
            let (cmd, label) = match &action {
                Action::ExpireCurrent { key, .. } => (
                    Command::DeleteObject {
                        bucket: bucket.name.clone(),
                        key: key.clone(),
                        version_id: None,
                        marker: Some(hafiz_meta::new_delete_marker(key)),
                        bypass_governance: false,
                        now,
                    },
                    "expire",
                ),
                Action::DeleteVersion {
                    key, version_id, ..
                }
                | Action::RemoveMarker {
                    key, version_id, ..
                } => (
                    Command::DeleteObject {
                        bucket: bucket.name.clone(),
                        key: key.clone(),
                        version_id: Some(version_id.clone()),
                        marker: None,
                        bypass_governance: false,
                        now,
                    },
                    if matches!(action, Action::RemoveMarker { .. }) {
                        "remove_marker"
                    } else {
                        "delete_version"
                    },
                ),
                Action::AbortUpload { .. } | Action::Transition { .. } => continue,
            };
            // Reported as s3:LifecycleExpiration:* events.
            let cmd = cmd.traced(hafiz_meta::events::Origin {
                lifecycle: true,
                principal: "hafiz-lifecycle".into(),
                ..Default::default()
            });
            match self.meta.apply(cmd).await {
                Ok(out) => {
                    hafiz_storage::release::release_later(self.blobs.clone(), out.released_blobs);
                    match label {
                        "expire" => stats.expired += 1,
                        "remove_marker" => stats.markers_removed += 1,
                        _ => stats.versions_deleted += 1,
                    }
                    metrics::counter!("hafiz_lifecycle_actions_total", "action" => label)
                        .increment(1);
                    tracing::debug!(bucket = %bucket.name, ?action, "lifecycle");
                }
                // Retention or a legal hold: the version stays, as for a client.
                Err(MetaError::ObjectLocked) => stats.skipped_locked += 1,
                // Changed meanwhile (a client deleted it): nothing to do.
                Err(MetaError::NoSuchVersion | MetaError::NoSuchKey) => {}
                Err(e) => return Err(JobFailure::Retry(e.to_string())),
            }
        }
        Ok(())
    }

    async fn abort_uploads(
        &self,
        bucket: &BucketInfo,
        cfg: &LifecycleConfig,
        stats: &mut Stats,
    ) -> Result<(), JobFailure> {
        if cfg.rules.iter().all(|r| r.abort_multipart_days.is_none()) {
            return Ok(());
        }
        let mut key_marker = None;
        let mut upload_id_marker = None;
        loop {
            let page = self
                .meta
                .list_uploads(
                    &bucket.name,
                    UploadListQuery {
                        prefix: String::new(),
                        delimiter: None,
                        key_marker: key_marker.clone(),
                        upload_id_marker: upload_id_marker.clone(),
                        max: PAGE,
                    },
                )
                .await
                .map_err(|e| JobFailure::Retry(e.to_string()))?;
            let now = hafiz_jobs::now_millis();
            for u in &page.uploads {
                if plan_upload(cfg, u, now).is_none() {
                    continue;
                }
                match self
                    .meta
                    .apply(Command::AbortUpload {
                        bucket: bucket.name.clone(),
                        key: u.key.clone(),
                        upload_id: u.upload_id.clone(),
                    })
                    .await
                {
                    Ok(out) => {
                        hafiz_storage::release::release_later(
                            self.blobs.clone(),
                            out.released_blobs,
                        );
                        stats.uploads_aborted += 1;
                        metrics::counter!("hafiz_lifecycle_actions_total", "action" => "abort_upload")
                            .increment(1);
                    }
                    Err(MetaError::NoSuchUpload) => {}
                    Err(e) => return Err(JobFailure::Retry(e.to_string())),
                }
            }
            let Some(last) = page.uploads.last() else {
                break;
            };
            if !page.truncated {
                break;
            }
            key_marker = Some(last.key.clone());
            upload_id_marker = Some(last.upload_id.clone());
        }
        Ok(())
    }
}

struct ScanHandler {
    scanner: Arc<Scanner>,
    engine: std::sync::Weak<Engine>,
}

#[async_trait]
impl Handler for ScanHandler {
    async fn run(&self, _job: JobContext) -> Result<Option<String>, JobFailure> {
        let engine = self
            .engine
            .upgrade()
            .ok_or_else(|| JobFailure::Retry("engine stopped".into()))?;
        let buckets = self
            .scanner
            .meta
            .buckets()
            .await
            .map_err(|e| JobFailure::Retry(e.to_string()))?;
        // With tiers, every bucket: age policies and restored copies' expiry do not
        // need a bucket rule.
        let every = !self.scanner.tiers().await.is_empty();
        let specs: Vec<JobSpec> = buckets
            .iter()
            .filter(|b| every || b.lifecycle.is_some())
            .map(|b| {
                JobSpec::new(
                    BUCKET_JOB,
                    &BucketCursor {
                        bucket: b.name.clone(),
                        ..Default::default()
                    },
                )
                // Object keys are user data.
                .sensitive()
                .max_attempts(10)
                .timeout(std::time::Duration::from_secs(6 * 3600))
                .unique(format!("lifecycle/{}", b.name))
            })
            .collect();
        let n = specs.len();
        if n > 0 {
            engine
                .enqueue_all(specs)
                .await
                .map_err(|e| JobFailure::Retry(e.to_string()))?;
        }
        Ok(Some(format!("{{\"buckets\":{n}}}")))
    }
}

struct BucketHandler {
    scanner: Arc<Scanner>,
}

#[async_trait]
impl Handler for BucketHandler {
    async fn run(&self, job: JobContext) -> Result<Option<String>, JobFailure> {
        let cursor: BucketCursor = job.json()?;
        let stats = self.scanner.run_bucket(cursor, Some(&job.progress)).await?;
        Ok(Some(
            serde_json::to_string(&stats).unwrap_or_else(|_| "{}".into()),
        ))
    }
}
