//! The worker: leases due jobs within per-kind and global limits, runs them with a
//! heartbeat and a timeout, and reports the outcome; on the leader it also ticks
//! schedules and runs leader-only kinds.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use hafiz_meta::jobs::{JobCommand, NewJob};
use hafiz_meta::{Command, MetaError, Metadata, Millis};
use tokio::sync::{Notify, watch};

use crate::backoff::Backoff;
use crate::error::{JobError, JobsResult};
use crate::handler::{Handler, JobContext, JobFailure};
use crate::schedule::ScheduleSpec;
use crate::seal::Sealer;
use crate::{Job, Schedule, now_millis};

/// Limits of one job kind.
#[derive(Debug, Clone)]
pub struct KindLimits {
    /// Attempts of this kind running at once on this node.
    pub concurrency: u32,
    /// Run only on the metadata leader (scans, schedules): once cluster-wide.
    pub leader_only: bool,
    pub backoff: Backoff,
}

impl Default for KindLimits {
    fn default() -> Self {
        KindLimits {
            concurrency: 4,
            leader_only: false,
            backoff: Backoff::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This node's name in leases (a fresh suffix is added per process, so a
    /// restarted node never mistakes a dead attempt's lease for its own).
    pub node: String,
    pub poll: Duration,
    pub lease: Duration,
    /// Attempts running at once on this node, all kinds together.
    pub max_concurrency: u32,
    /// Attempts started per second on this node (background work must not starve
    /// foreground requests).
    pub starts_per_sec: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            node: "node".into(),
            poll: Duration::from_millis(500),
            lease: Duration::from_secs(30),
            max_concurrency: 16,
            starts_per_sec: 200,
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub kind: String,
    pub payload: Vec<u8>,
    /// Seal the payload (it carries user data).
    pub sensitive: bool,
    pub priority: u8,
    pub max_attempts: u32,
    pub timeout: Duration,
    pub run_at: Option<Millis>,
    pub depends_on: Vec<String>,
    pub unique: Option<String>,
}

impl JobSpec {
    pub fn new(kind: impl Into<String>, payload: &impl serde::Serialize) -> JobSpec {
        JobSpec {
            kind: kind.into(),
            payload: serde_json::to_vec(payload).unwrap_or_default(),
            sensitive: false,
            priority: 100,
            max_attempts: 5,
            timeout: Duration::from_secs(300),
            run_at: None,
            depends_on: Vec::new(),
            unique: None,
        }
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn priority(mut self, p: u8) -> Self {
        self.priority = p;
        self
    }
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    pub fn run_at(mut self, at: Millis) -> Self {
        self.run_at = Some(at);
        self
    }
    pub fn after(mut self, deps: impl IntoIterator<Item = String>) -> Self {
        self.depends_on.extend(deps);
        self
    }
    pub fn unique(mut self, key: impl Into<String>) -> Self {
        self.unique = Some(key.into());
        self
    }
}

struct Registered {
    handler: Arc<dyn Handler>,
    limits: KindLimits,
}

pub struct Engine {
    meta: Arc<dyn Metadata>,
    config: EngineConfig,
    worker: String,
    sealer: Sealer,
    handlers: RwLock<HashMap<String, Arc<Registered>>>,
    running: Mutex<HashMap<String, u32>>,
    wake: Notify,
    leads: Box<dyn Fn() -> bool + Send + Sync>,
    /// When the loop last completed a round (for `/health/ready`).
    last_round: AtomicI64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

fn new_id(now: Millis) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{:012x}{}", now.max(0), &u[..20])
}

impl Engine {
    /// `leads` says whether this node is the metadata leader now (always true on a
    /// single node).
    pub fn new(
        meta: Arc<dyn Metadata>,
        config: EngineConfig,
        sealer: Sealer,
        leads: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Arc<Engine> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        Arc::new(Engine {
            worker: format!("{}-{}", config.node, &suffix[..8]),
            meta,
            config,
            sealer,
            handlers: RwLock::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            leads: Box::new(leads),
            last_round: AtomicI64::new(now_millis()),
        })
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    pub fn register(&self, kind: &str, handler: Arc<dyn Handler>, limits: KindLimits) {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(kind.to_string(), Arc::new(Registered { handler, limits }));
    }

    /// Enqueue jobs in one command (all or none). Returns the ids in order; a job
    /// whose unique key is held by an unfinished job is not created, and its id is
    /// absent from the created set (see [`Engine::enqueue`]).
    pub async fn enqueue_all(&self, specs: Vec<JobSpec>) -> JobsResult<Vec<Job>> {
        let now = now_millis();
        let jobs = specs
            .into_iter()
            .map(|s| {
                let id = new_id(now);
                let payload = if s.sensitive {
                    self.sealer.seal(&id, &s.payload)
                } else {
                    s.payload
                };
                NewJob {
                    id,
                    kind: s.kind,
                    payload,
                    sealed: s.sensitive,
                    priority: s.priority,
                    max_attempts: s.max_attempts,
                    timeout_ms: s.timeout.as_millis() as u64,
                    run_at: s.run_at.unwrap_or(now),
                    depends_on: s.depends_on,
                    unique: s.unique,
                }
            })
            .collect();
        let out = self
            .meta
            .apply(Command::Jobs(JobCommand::Enqueue { jobs, now }))
            .await?;
        self.wake.notify_one();
        Ok(out.jobs)
    }

    /// Enqueue one job; `None` when its unique key is taken by an unfinished job.
    pub async fn enqueue(&self, spec: JobSpec) -> JobsResult<Option<Job>> {
        Ok(self.enqueue_all(vec![spec]).await?.into_iter().next())
    }

    /// Create or replace a schedule. Its first run is its first tick after now.
    pub async fn put_schedule(
        &self,
        name: &str,
        spec: &str,
        kind: &str,
        payload: &impl serde::Serialize,
    ) -> JobsResult<()> {
        ScheduleSpec::parse(spec)?;
        let existing = self
            .meta
            .job_schedules()
            .await?
            .into_iter()
            .find(|s| s.name == name);
        let payload = serde_json::to_vec(payload).map_err(|e| JobError::Payload(e.to_string()))?;
        if let Some(s) = &existing
            && s.spec == spec
            && s.kind == kind
            && s.payload == payload
        {
            return Ok(());
        }
        let s = Schedule {
            name: name.to_string(),
            spec: spec.to_string(),
            kind: kind.to_string(),
            payload,
            last_tick: existing.and_then(|s| s.last_tick).or(Some(now_millis())),
        };
        self.meta
            .apply(Command::Jobs(JobCommand::PutSchedule(s)))
            .await?;
        Ok(())
    }

    /// Whether the loop is turning (it completed a round within a few poll periods).
    pub fn healthy(&self) -> bool {
        let limit = (self.config.poll * 10).max(Duration::from_secs(10));
        now_millis() - self.last_round.load(Ordering::Relaxed) <= limit.as_millis() as i64
    }

    /// Run until `shutdown` turns true. Attempts in flight at shutdown are abandoned
    /// (their leases expire and they run again: handlers are idempotent).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tokens = self.config.starts_per_sec as f64;
        let mut refilled = Instant::now();
        let mut last_metrics = Instant::now() - Duration::from_secs(60);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let leads = (self.leads)();
            if leads && let Err(e) = self.tick_schedules().await {
                tracing::debug!(error = %e, "schedule tick");
            }
            let rate = self.config.starts_per_sec.max(1) as f64;
            tokens = (tokens + refilled.elapsed().as_secs_f64() * rate).min(rate);
            refilled = Instant::now();
            match self.lease_round(leads, tokens as u32).await {
                Ok(n) => tokens -= n as f64,
                Err(e) => tracing::debug!(error = %e, "job lease round"),
            }
            if last_metrics.elapsed() >= Duration::from_secs(5) {
                last_metrics = Instant::now();
                self.export_counts().await;
            }
            self.last_round.store(now_millis(), Ordering::Relaxed);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Lease what limits allow and start it; returns how many started.
    async fn lease_round(self: &Arc<Self>, leads: bool, budget: u32) -> JobsResult<u32> {
        let handlers: Vec<(String, Arc<Registered>)> = self
            .handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (slots, max) = {
            let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            let total: u32 = running.values().sum();
            let mut slots = BTreeMap::new();
            for (kind, r) in &handlers {
                if r.limits.leader_only && !leads {
                    continue;
                }
                let busy = running.get(kind).copied().unwrap_or(0);
                if busy < r.limits.concurrency {
                    slots.insert(kind.clone(), r.limits.concurrency - busy);
                }
            }
            let max = self
                .config
                .max_concurrency
                .saturating_sub(total)
                .min(budget);
            (slots, max)
        };
        if slots.is_empty() || max == 0 {
            return Ok(0);
        }
        // A read first: an idle queue costs no metadata write (a Raft entry and an
        // fsync) per poll.
        let counts = self.meta.job_counts().await?;
        let waiting: u64 = counts
            .iter()
            .filter(|((kind, state), _)| {
                slots.contains_key(kind)
                    && matches!(
                        state,
                        crate::JobState::Queued | crate::JobState::Failed | crate::JobState::Leased
                    )
            })
            .map(|(_, n)| *n)
            .sum();
        if waiting == 0 {
            return Ok(0);
        }
        let now = now_millis();
        let out = self
            .meta
            .apply(Command::Jobs(JobCommand::Lease {
                worker: self.worker.clone(),
                slots,
                max,
                now,
                until: now + self.config.lease.as_millis() as i64,
            }))
            .await?;
        let n = out.jobs.len() as u32;
        for job in out.jobs {
            let Some(reg) = handlers
                .iter()
                .find(|(k, _)| *k == job.kind)
                .map(|(_, r)| r.clone())
            else {
                continue;
            };
            *self
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(job.kind.clone())
                .or_default() += 1;
            metrics::gauge!("hafiz_jobs_running", "kind" => job.kind.clone()).increment(1.0);
            let engine = self.clone();
            tokio::spawn(async move {
                let kind = job.kind.clone();
                engine.attempt(job, reg).await;
                if let Some(n) = engine
                    .running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_mut(&kind)
                {
                    *n = n.saturating_sub(1);
                }
                metrics::gauge!("hafiz_jobs_running", "kind" => kind).decrement(1.0);
                engine.wake.notify_one();
            });
        }
        Ok(n)
    }

    /// One attempt of a leased job: heartbeat while it runs, stop it when its lease
    /// is lost (cancelled, or expired and taken over), report how it ended.
    async fn attempt(&self, job: Job, reg: Arc<Registered>) {
        let started = Instant::now();
        let payload = if job.sealed {
            match self.sealer.open(&job.id, &job.payload) {
                Ok(p) => p,
                Err(e) => {
                    self.finish(&job, Err(JobFailure::Permanent(e.to_string())), &reg)
                        .await;
                    return;
                }
            }
        } else {
            job.payload.clone()
        };
        let ctx = JobContext {
            id: job.id.clone(),
            kind: job.kind.clone(),
            payload,
            attempt: job.attempts,
            progress: crate::handler::Progress {
                meta: self.meta.clone(),
                id: job.id.clone(),
                worker: self.worker.clone(),
                sealer: job.sealed.then(|| self.sealer.clone()),
            },
        };
        let timeout = Duration::from_millis(job.timeout_ms.max(1));
        let run = tokio::time::timeout(timeout, reg.handler.run(ctx));
        let heartbeat = self.heartbeat(&job.id);
        tokio::pin!(run);
        let result = tokio::select! {
            r = &mut run => match r {
                Ok(r) => r,
                Err(_) => Err(JobFailure::Retry(format!("timed out after {timeout:?}"))),
            },
            lost = heartbeat => {
                tracing::info!(job = %job.id, kind = %job.kind, reason = %lost, "job attempt stopped");
                metrics::counter!("hafiz_jobs_finished_total", "kind" => job.kind.clone(), "result" => "lost").increment(1);
                return;
            }
        };
        metrics::histogram!("hafiz_job_duration_seconds", "kind" => job.kind.clone())
            .record(started.elapsed().as_secs_f64());
        self.finish(&job, result, &reg).await;
    }

    /// Extends the lease every third of its length; returns only when it is lost.
    async fn heartbeat(&self, id: &str) -> String {
        let every = self.config.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let until = now_millis() + self.config.lease.as_millis() as i64;
            match self
                .meta
                .apply(Command::Jobs(JobCommand::Heartbeat {
                    id: id.to_string(),
                    worker: self.worker.clone(),
                    until,
                }))
                .await
            {
                Ok(_) => {}
                Err(e @ (MetaError::JobConflict(_) | MetaError::NoSuchJob(_))) => {
                    return e.to_string();
                }
                // A leaderless moment: keep going, the lease has slack.
                Err(e) => tracing::debug!(job = %id, error = %e, "job heartbeat"),
            }
        }
    }

    async fn finish(
        &self,
        job: &Job,
        result: Result<Option<String>, JobFailure>,
        reg: &Registered,
    ) {
        let now = now_millis();
        let (label, cmd) = match result {
            Ok(result) => (
                "succeeded",
                JobCommand::Complete {
                    id: job.id.clone(),
                    worker: self.worker.clone(),
                    result,
                    now,
                },
            ),
            Err(f) => {
                let retry_at = match &f {
                    JobFailure::Retry(_) if job.attempts < job.max_attempts => {
                        Some(now + reg.limits.backoff.delay(job.attempts).as_millis() as i64)
                    }
                    _ => None,
                };
                tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts,
                    error = %f.message(), retry = retry_at.is_some(), "job attempt failed");
                (
                    if retry_at.is_some() { "failed" } else { "dead" },
                    JobCommand::Fail {
                        id: job.id.clone(),
                        worker: self.worker.clone(),
                        error: f.message().to_string(),
                        retry_at,
                        now,
                    },
                )
            }
        };
        metrics::counter!("hafiz_jobs_finished_total", "kind" => job.kind.clone(), "result" => label)
            .increment(1);
        // A few tries through a leader change; if all fail, the lease expires and
        // the attempt runs again (idempotent handlers).
        for i in 0..5u64 {
            match self.meta.apply(Command::Jobs(cmd.clone())).await {
                Ok(_) => return,
                Err(e @ (MetaError::JobConflict(_) | MetaError::NoSuchJob(_))) => {
                    tracing::info!(job = %job.id, error = %e, "job outcome not recorded");
                    return;
                }
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "recording job outcome");
                    tokio::time::sleep(Duration::from_millis(200 * (i + 1))).await;
                }
            }
        }
    }

    async fn tick_schedules(&self) -> JobsResult<()> {
        let now = now_millis();
        for s in self.meta.job_schedules().await? {
            let spec = match ScheduleSpec::parse(&s.spec) {
                Ok(spec) => spec,
                Err(e) => {
                    tracing::warn!(schedule = %s.name, error = %e, "schedule skipped");
                    continue;
                }
            };
            let Some(tick) = spec.due(s.last_tick.unwrap_or(now - 1), now) else {
                continue;
            };
            let job = NewJob {
                id: new_id(now),
                kind: s.kind.clone(),
                payload: s.payload.clone(),
                sealed: false,
                priority: 100,
                max_attempts: 5,
                timeout_ms: 3_600_000,
                run_at: tick,
                depends_on: Vec::new(),
                unique: Some(format!("schedule/{}", s.name)),
            };
            self.meta
                .apply(Command::Jobs(JobCommand::Tick {
                    name: s.name.clone(),
                    tick,
                    job,
                }))
                .await?;
            self.wake.notify_one();
        }
        Ok(())
    }

    async fn export_counts(&self) {
        let Ok(counts) = self.meta.job_counts().await else {
            return;
        };
        let kinds: Vec<String> = self
            .handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for kind in kinds {
            for state in crate::JobState::ALL {
                let n = counts.get(&(kind.clone(), state)).copied().unwrap_or(0);
                metrics::gauge!("hafiz_jobs", "kind" => kind.clone(), "state" => state.as_str())
                    .set(n as f64);
            }
        }
    }
}
