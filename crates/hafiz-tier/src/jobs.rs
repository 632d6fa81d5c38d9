//! The tier jobs. Each is idempotent, as the engine requires: it reads the version
//! again, does nothing if the version moved on, writes its copy under the name its
//! payload fixed (a second run overwrites the first run's copy), and makes the move
//! visible with one conditional metadata command. A copy written for a version that
//! changed meanwhile is deleted by the job itself; a copy a commit stops referencing
//! is deleted by the [`TIER_DELETE_JOB`] that commit queued.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use hafiz_jobs::{Engine, Handler, JobContext, JobFailure, JobSpec, KindLimits};
use hafiz_meta::days::{after_days, day_millis};
use hafiz_meta::{
    Command, MetaError, Metadata, Millis, ObjectData, ObjectVersion, RestoreState, TIER_DELETE_JOB,
    TierCopy,
};
use hafiz_storage::{BlobStore, StoredBlob};
use serde::{Deserialize, Serialize};

use crate::config::HOT_CLASS;
use crate::read::{DataSource, DataSources};
use crate::registry::Tiers;

pub const TRANSITION_JOB: &str = "tier-transition";
pub const PROMOTE_JOB: &str = "tier-promote";
pub const RESTORE_JOB: &str = "tier-restore";
/// Deletes a copy a transition wrote, later, unless the version refers to it: a
/// transition that ends dead, cancelled or timed out after writing its copy leaves
/// no orphan in the tier.
pub const SWEEP_JOB: &str = "tier-sweep";
/// How long after a transition starts its sweep runs (past the move's timeout).
const SWEEP_AFTER: Duration = Duration::from_secs(7 * 3600);
const MOVE_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// Most read counters kept for promotion decisions (the map is cleared when full).
const MAX_TRACKED_READS: usize = 100_000;

/// Move one version's data into `tier` (a transition) or, with no tier, back to
/// the hot drives (a promotion).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoveJob {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub order: u64,
    pub tier: Option<String>,
    /// The copy's name in the tier, fixed when the job is queued.
    pub name: String,
    /// What asked for it: a lifecycle rule id, `policy`, `put`, `reads`.
    #[serde(default)]
    pub reason: String,
}

/// A copy to delete unless `version_id` (of row order `order`) refers to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepJob {
    pub copy: TierCopy,
    pub bucket: String,
    pub key: String,
    pub version_id: String,
}

/// Bring an archived version's temporary copy back for `days` lifecycle days.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreJob {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub order: u64,
    pub days: u32,
}

/// The tiering engine of one node: the tiers, the data they and the hot drives
/// hold, and the jobs that move data between them.
pub struct Tiering {
    meta: Arc<dyn Metadata>,
    sources: DataSources,
    engine: OnceLock<Weak<Engine>>,
    reads: Mutex<ReadCounts>,
}

#[derive(Default)]
struct ReadCounts {
    window_start: Millis,
    counts: HashMap<(String, String, String), u32>,
}

fn retry(e: impl std::fmt::Display) -> JobFailure {
    JobFailure::Retry(e.to_string())
}

/// What RestoreObject did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreAnswer {
    /// A restore was started (202).
    Started,
    /// The copy is there; its expiry was moved (200).
    Extended,
    /// A restore is running (409 RestoreAlreadyInProgress).
    InProgress,
}

impl Tiering {
    pub fn new(meta: Arc<dyn Metadata>, blobs: Arc<dyn BlobStore>, tiers: Arc<Tiers>) -> Arc<Self> {
        Arc::new(Tiering {
            meta,
            sources: DataSources { blobs, tiers },
            engine: OnceLock::new(),
            reads: Mutex::new(ReadCounts::default()),
        })
    }

    pub fn tiers(&self) -> &Arc<Tiers> {
        &self.sources.tiers
    }

    pub fn sources(&self) -> &DataSources {
        &self.sources
    }

    fn engine(&self) -> Result<Arc<Engine>, JobFailure> {
        self.engine
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| retry("the job engine is not running"))
    }

    /// Register the tier jobs with `engine`.
    pub fn install(self: &Arc<Self>, engine: &Arc<Engine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
        for (kind, concurrency) in [
            (TRANSITION_JOB, 4),
            (PROMOTE_JOB, 2),
            (RESTORE_JOB, 2),
            (TIER_DELETE_JOB, 4),
            (SWEEP_JOB, 2),
        ] {
            engine.register(
                kind,
                Arc::new(TierHandler {
                    tiering: self.clone(),
                }),
                KindLimits {
                    concurrency,
                    ..Default::default()
                },
            );
        }
    }

    /// The job that moves `v` of `bucket` into `tier` (None: back to the hot drives).
    pub fn move_spec(bucket: &str, v: &ObjectVersion, tier: Option<&str>, reason: &str) -> JobSpec {
        let job = MoveJob {
            bucket: bucket.to_string(),
            key: v.key.clone(),
            version_id: v.version_id.clone(),
            order: v.sort_order(),
            tier: tier.map(str::to_string),
            name: uuid::Uuid::new_v4().simple().to_string(),
            reason: reason.to_string(),
        };
        JobSpec::new(
            if tier.is_some() {
                TRANSITION_JOB
            } else {
                PROMOTE_JOB
            },
            &job,
        )
        // Object keys are user data.
        .sensitive()
        .max_attempts(20)
        .timeout(MOVE_TIMEOUT)
        // With the order: a `null` version written again is another version.
        .unique(format!(
            "tier-move/{bucket}/{}/{}/{}",
            v.key,
            v.version_id,
            v.sort_order()
        ))
    }

    /// Queue moves (the lifecycle scanner's transitions).
    pub async fn enqueue(&self, specs: Vec<JobSpec>) -> Result<(), JobFailure> {
        if specs.is_empty() {
            return Ok(());
        }
        self.engine()?.enqueue_all(specs).await.map_err(retry)?;
        Ok(())
    }

    /// RestoreObject of `v` (a version in an archive tier) for `days` days.
    pub async fn restore(
        &self,
        bucket: &str,
        v: &ObjectVersion,
        days: u32,
        origin: hafiz_meta::events::Origin,
    ) -> Result<RestoreAnswer, MetaError> {
        let order = v.sort_order();
        let now = hafiz_jobs::now_millis();
        let (answer, restore) = match &v.restore {
            Some(r) if r.ongoing => (RestoreAnswer::InProgress, None),
            Some(r) if r.data.is_some() => (
                RestoreAnswer::Extended,
                Some(RestoreState {
                    days,
                    expiry: Some(after_days(now, days)),
                    ..r.clone()
                }),
            ),
            _ => (
                RestoreAnswer::Started,
                Some(RestoreState {
                    ongoing: true,
                    days,
                    expiry: None,
                    data: None,
                }),
            ),
        };
        if let Some(restore) = restore {
            let cmd = Command::SetRestore {
                bucket: bucket.to_string(),
                key: v.key.clone(),
                version_id: v.version_id.clone(),
                order,
                expect: v.restore.clone(),
                restore: Some(restore),
                now,
            }
            .traced(origin);
            match self.meta.apply(cmd).await {
                Ok(out) => hafiz_storage::release::release_later(
                    self.sources.blobs.clone(),
                    out.released_blobs,
                ),
                // Another request or the copy's expiry got there first.
                Err(MetaError::PreconditionFailed) => return Ok(RestoreAnswer::InProgress),
                Err(e) => return Err(e),
            }
            if answer == RestoreAnswer::Extended {
                return Ok(answer);
            }
        }
        // Queued after the state (and again on every request while in progress: a
        // crash between the two leaves the state, and the next request the job).
        let spec = JobSpec::new(
            RESTORE_JOB,
            &RestoreJob {
                bucket: bucket.to_string(),
                key: v.key.clone(),
                version_id: v.version_id.clone(),
                order,
                days,
            },
        )
        .sensitive()
        .max_attempts(20)
        .timeout(MOVE_TIMEOUT)
        .unique(format!(
            "tier-restore/{bucket}/{}/{}/{order}",
            v.key, v.version_id
        ));
        let engine = self
            .engine()
            .map_err(|e| MetaError::Unavailable(e.message().to_string()))?;
        engine
            .enqueue(spec)
            .await
            .map_err(|e| MetaError::Unavailable(e.to_string()))?;
        Ok(answer)
    }

    /// Count a read of `v`; a version in a tier with `promote_reads` read that many
    /// times within one lifecycle day is queued for promotion to the hot drives.
    pub async fn on_read(&self, bucket: &str, v: &ObjectVersion) {
        let Some(copy) = v.tier_copy() else { return };
        let Some(tier) = self.sources.tiers.get(&copy.tier).await else {
            return;
        };
        let Some(threshold) = tier.config.promote_reads else {
            return;
        };
        let now = hafiz_jobs::now_millis();
        let due = {
            let mut r = self.reads.lock().unwrap_or_else(|e| e.into_inner());
            if now - r.window_start >= day_millis() || r.counts.len() >= MAX_TRACKED_READS {
                r.counts.clear();
                r.window_start = now;
            }
            let n = r
                .counts
                .entry((bucket.to_string(), v.key.clone(), v.version_id.clone()))
                .or_default();
            *n += 1;
            *n == threshold
        };
        if due {
            let spec = Tiering::move_spec(bucket, v, None, "reads");
            match self.engine() {
                Ok(e) => {
                    if let Err(err) = e.enqueue(spec).await {
                        tracing::warn!(error = %err, "cannot queue a promotion");
                    }
                }
                Err(_) => tracing::debug!("no job engine: promotion not queued"),
            }
        }
    }

    async fn run_move(&self, job: MoveJob) -> Result<Option<String>, JobFailure> {
        let v = self
            .meta
            .object_version(&job.bucket, &job.key, &job.version_id)
            .await
            .map_err(retry)?;
        let target =
            match &job.tier {
                Some(name) => Some(self.sources.tiers.get(name).await.ok_or_else(|| {
                    JobFailure::Permanent(format!("tier {name} is not configured"))
                })?),
                None => None,
            };
        let Some(v) = v.filter(|v| v.sort_order() == job.order && !v.delete_marker) else {
            // Gone or replaced: drop what an earlier run may have written.
            if let Some(t) = &target {
                t.store.delete(&job.name).await.map_err(retry)?;
            }
            return Ok(Some(r#"{"moved":false,"reason":"version gone"}"#.into()));
        };
        match (&v.data, &target) {
            (ObjectData::Inline(_), _) => {
                return Ok(Some(r#"{"moved":false,"reason":"inline"}"#.into()));
            }
            (ObjectData::Tiered(c), Some(t)) if c.tier == t.config.name => {
                return Ok(Some(r#"{"moved":false,"reason":"already there"}"#.into()));
            }
            (ObjectData::Blobs(_), None) => {
                return Ok(Some(r#"{"moved":false,"reason":"already hot"}"#.into()));
            }
            _ => {}
        }
        let src = DataSource {
            sources: &self.sources,
            data: &v.data,
        };
        let started = std::time::Instant::now();
        let (data, class, hot) = match &target {
            Some(t) => {
                // Stored bytes, not `v.size`: an encrypted object's are longer.
                let stored = v.data.stored_len();
                let copy = TierCopy {
                    tier: t.config.name.clone(),
                    name: job.name.clone(),
                    size: stored,
                };
                let sweep = JobSpec::new(
                    SWEEP_JOB,
                    &SweepJob {
                        copy,
                        bucket: job.bucket.clone(),
                        key: job.key.clone(),
                        version_id: job.version_id.clone(),
                    },
                )
                .sensitive()
                .max_attempts(1000)
                .run_at(hafiz_jobs::now_millis() + SWEEP_AFTER.as_millis() as Millis)
                .unique(format!("tier-sweep/{}/{}", t.config.name, job.name));
                self.engine()?.enqueue(sweep).await.map_err(retry)?;
                t.store.put(&job.name, stored, &src).await.map_err(retry)?;
                (
                    ObjectData::Tiered(TierCopy {
                        tier: t.config.name.clone(),
                        name: job.name.clone(),
                        size: stored,
                    }),
                    t.config.storage_class.clone(),
                    None,
                )
            }
            None => {
                let stored = self.copy_to_hot(&job.bucket, &v, &v.data).await?;
                (stored.clone(), HOT_CLASS.to_string(), Some(stored))
            }
        };
        let cmd = Command::SetObjectData {
            bucket: job.bucket.clone(),
            key: job.key.clone(),
            version_id: job.version_id.clone(),
            order: job.order,
            expect: v.data.clone(),
            data,
            storage_class: class,
            now: hafiz_jobs::now_millis(),
        };
        match self.meta.apply(cmd).await {
            Ok(out) => {
                hafiz_storage::release::release_later(
                    self.sources.blobs.clone(),
                    out.released_blobs,
                );
                let secs = started.elapsed().as_secs_f64();
                let kind = if target.is_some() {
                    "transition"
                } else {
                    "promotion"
                };
                metrics::counter!("hafiz_tier_moves_total", "kind" => kind).increment(1);
                metrics::counter!("hafiz_tier_moved_bytes_total", "kind" => kind).increment(v.size);
                tracing::debug!(bucket = %job.bucket, tier = ?job.tier, reason = %job.reason, secs, "moved");
                Ok(Some(format!(
                    r#"{{"moved":true,"bytes":{},"seconds":{secs:.3}}}"#,
                    v.size
                )))
            }
            Err(MetaError::PreconditionFailed | MetaError::NoSuchBucket(_)) => {
                // Applied by an earlier run, or the version changed while its bytes
                // were copied: only a copy nothing refers to goes.
                let now = self
                    .meta
                    .object_version(&job.bucket, &job.key, &job.version_id)
                    .await
                    .map_err(retry)?
                    .filter(|n| n.sort_order() == job.order);
                let referenced = now.as_ref().is_some_and(|n| match (&target, &hot) {
                    (Some(_), _) => n.tier_copy().is_some_and(|c| c.name == job.name),
                    (None, Some(h)) => n.data == *h,
                    _ => false,
                });
                if referenced {
                    return Ok(Some(r#"{"moved":true,"reason":"applied before"}"#.into()));
                }
                match (&target, hot) {
                    (Some(t), _) => t.store.delete(&job.name).await.map_err(retry)?,
                    (None, Some(hot)) => self.release_hot(&hot).await,
                    _ => {}
                }
                Ok(Some(r#"{"moved":false,"reason":"version changed"}"#.into()))
            }
            // The commit may have landed (a lost answer): nothing is released here;
            // the retry finds out, and the sweep (or the start-up orphan collection of
            // the hot drives) removes what stays unreferenced.
            Err(e) => Err(retry(e)),
        }
    }

    /// Copy `data` onto the hot drives, as a PUT would place `v`'s bytes.
    async fn copy_to_hot(
        &self,
        bucket: &str,
        v: &ObjectVersion,
        data: &ObjectData,
    ) -> Result<ObjectData, JobFailure> {
        use futures_util::StreamExt;
        let mut body = self
            .sources
            .stream(data, 0, data.stored_len())
            .await
            .map_err(retry)?;
        let mut w = self
            .sources
            .blobs
            .writer(&format!("{bucket}/{}", v.key))
            .await
            .map_err(retry)?;
        while let Some(chunk) = body.next().await {
            let res = match chunk {
                Ok(c) => w.write(c).await,
                Err(e) => Err(e),
            };
            if let Err(e) = res {
                w.abort().await;
                return Err(retry(e));
            }
        }
        Ok(match w.finish().await.map_err(retry)? {
            StoredBlob::Inline(b) => ObjectData::Inline(b.to_vec()),
            StoredBlob::Stored { id, size } => ObjectData::Blobs(vec![hafiz_meta::BlobSpan {
                location: hafiz_meta::BlobLocation::Stored(id),
                size,
            }]),
        })
    }

    async fn release_hot(&self, data: &ObjectData) {
        if let ObjectData::Blobs(spans) = data {
            for s in spans {
                if let hafiz_meta::BlobLocation::Stored(id) = &s.location
                    && let Err(e) = self.sources.blobs.delete(id).await
                {
                    tracing::warn!(blob = %id, error = %e, "could not delete an unused copy");
                }
            }
        }
    }

    async fn run_restore(&self, job: RestoreJob) -> Result<Option<String>, JobFailure> {
        let v = self
            .meta
            .object_version(&job.bucket, &job.key, &job.version_id)
            .await
            .map_err(retry)?;
        let Some(v) = v.filter(|v| v.sort_order() == job.order && v.tier_copy().is_some()) else {
            return Ok(Some(r#"{"restored":false,"reason":"version gone"}"#.into()));
        };
        let Some(state) = v.restore.clone().filter(|r| r.ongoing) else {
            return Ok(Some(
                r#"{"restored":false,"reason":"not requested"}"#.into(),
            ));
        };
        let copy = self.copy_to_hot(&job.bucket, &v, &v.data).await?;
        let now = hafiz_jobs::now_millis();
        let cmd = Command::SetRestore {
            bucket: job.bucket.clone(),
            key: job.key.clone(),
            version_id: job.version_id.clone(),
            order: job.order,
            expect: Some(state.clone()),
            restore: Some(RestoreState {
                ongoing: false,
                days: state.days,
                expiry: Some(after_days(now, state.days)),
                data: Some(copy.clone()),
            }),
            now,
        };
        match self.meta.apply(cmd).await {
            Ok(out) => {
                hafiz_storage::release::release_later(
                    self.sources.blobs.clone(),
                    out.released_blobs,
                );
                metrics::counter!("hafiz_tier_restores_total").increment(1);
                Ok(Some(format!(r#"{{"restored":true,"bytes":{}}}"#, v.size)))
            }
            Err(MetaError::PreconditionFailed | MetaError::NoSuchBucket(_)) => {
                let applied = self
                    .meta
                    .object_version(&job.bucket, &job.key, &job.version_id)
                    .await
                    .map_err(retry)?
                    .and_then(|n| n.restore)
                    .and_then(|r| r.data)
                    .is_some_and(|d| d == copy);
                if !applied {
                    self.release_hot(&copy).await;
                }
                Ok(Some(
                    r#"{"restored":false,"reason":"version changed"}"#.into(),
                ))
            }
            // Perhaps committed: left to the start-up orphan collection if not.
            Err(e) => Err(retry(e)),
        }
    }

    async fn run_sweep(&self, job: SweepJob) -> Result<Option<String>, JobFailure> {
        let v = self
            .meta
            .object_version(&job.bucket, &job.key, &job.version_id)
            .await
            .map_err(retry)?;
        if v.is_some_and(|v| v.tier_copy().is_some_and(|c| c.name == job.copy.name)) {
            return Ok(Some(r#"{"deleted":false,"reason":"in use"}"#.into()));
        }
        self.run_delete(job.copy).await
    }

    async fn run_delete(&self, copy: TierCopy) -> Result<Option<String>, JobFailure> {
        if self.sources.tiers.unavailable(&copy.tier).await {
            return Err(retry(format!("tier {} cannot be opened", copy.tier)));
        }
        let Some(tier) = self.sources.tiers.get(&copy.tier).await else {
            // Tiers holding copies cannot be removed; one that is gone took them.
            return Ok(Some(r#"{"deleted":false,"reason":"no such tier"}"#.into()));
        };
        tier.store.delete(&copy.name).await.map_err(retry)?;
        metrics::counter!("hafiz_tier_copies_deleted_total").increment(1);
        Ok(Some(r#"{"deleted":true}"#.into()))
    }
}

struct TierHandler {
    tiering: Arc<Tiering>,
}

#[async_trait]
impl Handler for TierHandler {
    async fn run(&self, job: JobContext) -> Result<Option<String>, JobFailure> {
        match job.kind.as_str() {
            TRANSITION_JOB | PROMOTE_JOB => self.tiering.run_move(job.json()?).await,
            RESTORE_JOB => self.tiering.run_restore(job.json()?).await,
            TIER_DELETE_JOB => self.tiering.run_delete(job.json()?).await,
            SWEEP_JOB => self.tiering.run_sweep(job.json()?).await,
            other => Err(JobFailure::Permanent(format!("not a tier job: {other}"))),
        }
    }
}
