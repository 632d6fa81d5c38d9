//! Drains the event queues on the metadata leader: one worker per target, so events
//! reach a target in the order they were committed (and so in order per key).
//! A batch is acknowledged (removed from the queue) only after the target took it:
//! a crash or a lost leadership in between delivers it again (at least once).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hafiz_jobs::{Backoff, Handler, JobContext, JobFailure, KindLimits, now_millis};
use hafiz_meta::events::{EventCommand, QueuedEvent, REDELIVER_JOB};
use hafiz_meta::jobs::NewJob;
use hafiz_meta::{Command, Metadata};
use tokio::sync::watch;

use crate::registry::{Target, Targets};
use crate::sink::{Failure, SendError};

/// Events per delivery attempt.
const BATCH: usize = 64;
/// How often an idle worker looks for new events (one atomic read).
const IDLE_POLL: Duration = Duration::from_millis(2);
/// How often the supervisor looks for targets without a worker.
const SUPERVISE: Duration = Duration::from_millis(500);

pub struct Dispatcher {
    meta: Arc<dyn Metadata>,
    targets: Arc<Targets>,
    leads: Arc<dyn Fn() -> bool + Send + Sync>,
    running: Mutex<HashSet<String>>,
    backoff: Backoff,
}

impl Dispatcher {
    pub fn new(
        meta: Arc<dyn Metadata>,
        targets: Arc<Targets>,
        leads: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Arc<Dispatcher> {
        Arc::new(Dispatcher {
            meta,
            targets,
            leads: Arc::new(leads),
            running: Mutex::new(HashSet::new()),
            backoff: Backoff {
                base: Duration::from_millis(200),
                max: crate::breaker::MAX_COOL_DOWN,
            },
        })
    }

    /// Register the dead-letter redelivery kind with the job engine.
    pub fn install(self: &Arc<Self>, jobs: &hafiz_jobs::Engine) {
        jobs.register(
            REDELIVER_JOB,
            Arc::new(RedeliverHandler {
                targets: self.targets.clone(),
            }),
            KindLimits {
                concurrency: 4,
                leader_only: false,
                backoff: Backoff {
                    base: Duration::from_secs(2),
                    max: Duration::from_secs(300),
                },
            },
        );
    }

    /// Run until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if (self.leads)() {
                self.supervise(&shutdown).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(SUPERVISE) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Start a worker for each target that has events or a configuration and none.
    async fn supervise(self: &Arc<Self>, shutdown: &watch::Receiver<bool>) {
        let mut wanted: Vec<String> = self
            .targets
            .all()
            .await
            .into_iter()
            .filter(|t| t.sink.is_some())
            .map(|t| t.config.arn.clone())
            .collect();
        match self.meta.event_queues().await {
            Ok(queues) => {
                for (target, state) in queues {
                    metrics::gauge!("hafiz_notify_events_queued", "target" => target.clone())
                        .set(state.queued as f64);
                    if state.queued > 0 && !wanted.contains(&target) {
                        wanted.push(target);
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "event queues"),
        }
        for target in wanted {
            if !self
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(target.clone())
            {
                continue;
            }
            let me = self.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                me.drain(&target, stop).await;
                me.running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&target);
            });
        }
    }

    /// Deliver `target`'s queue while this node leads and the target exists.
    async fn drain(&self, arn: &str, shutdown: watch::Receiver<bool>) {
        let mut from = 0u64;
        let mut failures = 0u32;
        let mut seen_generation = None;
        // Events that arrived past a failure of an earlier one (a sink sending
        // several keys at once): not sent again, acknowledged once the events
        // before them are.
        let mut arrived: HashSet<u64> = HashSet::new();
        let mut last_read = Instant::now();
        loop {
            if *shutdown.borrow() || !(self.leads)() {
                return;
            }
            let Some(target) = self.targets.get(arn).await else {
                // Removed (its queue is purged with it) or not readable yet.
                return;
            };
            // Wait for new events: an atomic read per poll, and a queue read at
            // least every second (covers a generation moved by a snapshot install).
            let generation = self.meta.events_generation();
            if seen_generation == Some(generation) && last_read.elapsed() < Duration::from_secs(1) {
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            let batch = match self.meta.queued_events(arn, from, BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::debug!(target = arn, error = %e, "reading the event queue");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            last_read = Instant::now();
            if batch.is_empty() {
                seen_generation = Some(generation);
                continue;
            }
            let Some(sink) = target.sink.clone() else {
                return;
            };
            if let Some(wait) = target.breaker.wait() {
                tokio::time::sleep(wait).await;
            }
            let unsent: Vec<QueuedEvent>;
            let send: &[QueuedEvent] = if arrived.is_empty() {
                &batch
            } else {
                unsent = batch
                    .iter()
                    .filter(|e| !arrived.contains(&e.seq))
                    .cloned()
                    .collect();
                &unsent
            };
            let result = if send.is_empty() {
                Ok(())
            } else {
                match tokio::time::timeout(target.config.timeout(), sink.send(send)).await {
                    Ok(r) => r,
                    Err(_) => Err(Failure::transient(0, "timed out")),
                }
            };
            let (delivered, error) = match result {
                Ok(()) => (send.len(), None),
                Err(f) => {
                    arrived.extend(f.ahead.iter().filter_map(|i| send.get(*i)).map(|e| e.seq));
                    (f.delivered, Some(f.error))
                }
            };
            arrived.extend(send[..delivered].iter().map(|e| e.seq));
            let head = send.get(delivered).cloned();
            // The events of the batch that arrived, up to the first that did not.
            let done = batch
                .iter()
                .take_while(|e| arrived.contains(&e.seq))
                .count();
            if done > 0 {
                let upto = batch[done - 1].seq;
                if let Err(e) = self.ack(arn, upto).await {
                    // Delivered but not acknowledged: sent again (at least once).
                    tracing::debug!(target = arn, error = %e, "acknowledging events");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                arrived.retain(|s| *s > upto);
                from = upto + 1;
                failures = 0;
                target.breaker.success();
                record_delivered(arn, &batch[..done]);
            }
            let Some(error) = error else {
                continue;
            };
            metrics::counter!("hafiz_notify_events_failed_total", "target" => arn.to_string())
                .increment(1);
            let Some(head) = head.as_ref() else {
                continue;
            };
            match error {
                SendError::Rejected(msg) => {
                    tracing::warn!(target = arn, seq = head.seq, error = %msg, "event refused: dead-lettered");
                    if self.dead_letter(head, &msg).await.is_ok() {
                        from = head.seq + 1;
                    }
                }
                SendError::Transient(msg) => {
                    failures += 1;
                    if target.breaker.failure() {
                        metrics::counter!("hafiz_notify_breaker_trips_total", "target" => arn.to_string())
                            .increment(1);
                        tracing::warn!(target = arn, error = %msg, "target failing: circuit open");
                    }
                    let limit = target.config.max_attempts;
                    if limit > 0 && failures >= limit {
                        if self.dead_letter(head, &msg).await.is_ok() {
                            from = head.seq + 1;
                        }
                        failures = 0;
                    } else {
                        tokio::time::sleep(self.backoff.delay(failures)).await;
                    }
                }
            }
        }
    }

    async fn ack(&self, target: &str, upto: u64) -> Result<(), hafiz_meta::MetaError> {
        self.meta
            .apply(Command::Events(EventCommand::Ack {
                target: target.to_string(),
                upto,
            }))
            .await
            .map(|_| ())
    }

    /// Take `ev` out of its queue into a redelivery job (retried, then dead).
    async fn dead_letter(&self, ev: &QueuedEvent, why: &str) -> Result<(), hafiz_meta::MetaError> {
        let now = now_millis();
        let job = NewJob {
            id: format!("{:012x}{:016x}", now.max(0), ev.seq ^ fnv(&ev.target)),
            kind: REDELIVER_JOB.to_string(),
            payload: serde_json::to_vec(ev).unwrap_or_default(),
            sealed: false,
            priority: 50,
            max_attempts: 5,
            timeout_ms: ev_timeout_ms(),
            run_at: now + 1_000,
            depends_on: Vec::new(),
            unique: Some(format!("notify/{}/{}", ev.target, ev.seq)),
        };
        let r = self
            .meta
            .apply(Command::Events(EventCommand::DeadLetter {
                target: ev.target.clone(),
                seq: ev.seq,
                job,
                now,
            }))
            .await;
        match &r {
            Ok(_) => {
                metrics::counter!("hafiz_notify_events_dead_lettered_total", "target" => ev.target.clone())
                    .increment(1);
                tracing::info!(target = %ev.target, seq = ev.seq, why, "event handed to a redelivery job");
            }
            Err(e) => tracing::debug!(error = %e, "dead-lettering an event"),
        }
        r.map(|_| ())
    }
}

fn ev_timeout_ms() -> u64 {
    60_000
}

/// A short stable hash (job ids must differ between targets with equal sequences).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn record_delivered(target: &str, events: &[QueuedEvent]) {
    metrics::counter!("hafiz_notify_events_delivered_total", "target" => target.to_string())
        .increment(events.len() as u64);
    let now = now_millis();
    let h = metrics::histogram!("hafiz_notify_delivery_latency_seconds", "target" => target.to_string());
    for ev in events {
        h.record((now - ev.record.time).max(0) as f64 / 1000.0);
    }
}

/// Delivers one dead-lettered event (the `notify-redeliver` job kind): retried by
/// the job engine with its backoff, dead when attempts run out (the operator sees it
/// in `hafiz admin jobs --state dead` and can retry it there).
pub struct RedeliverHandler {
    targets: Arc<Targets>,
}

#[async_trait]
impl Handler for RedeliverHandler {
    async fn run(&self, job: JobContext) -> Result<Option<String>, JobFailure> {
        let ev: QueuedEvent = job.json()?;
        let target: Arc<Target> = self
            .targets
            .get(&ev.target)
            .await
            .ok_or_else(|| JobFailure::Permanent(format!("no target {}", ev.target)))?;
        let sink = target
            .sink
            .clone()
            .ok_or_else(|| JobFailure::Permanent("a chain delivers nothing itself".into()))?;
        if target.breaker.is_open() {
            return Err(JobFailure::Retry("target circuit open".into()));
        }
        let sent = tokio::time::timeout(
            target.config.timeout(),
            sink.send(std::slice::from_ref(&ev)),
        )
        .await
        .unwrap_or_else(|_| Err(Failure::transient(0, "timed out")));
        match sent {
            Ok(()) => {
                target.breaker.success();
                record_delivered(&ev.target, std::slice::from_ref(&ev));
                Ok(Some(format!(r#"{{"delivered":true,"seq":{}}}"#, ev.seq)))
            }
            Err(f) => {
                metrics::counter!("hafiz_notify_events_failed_total", "target" => ev.target.clone())
                    .increment(1);
                match f.error {
                    SendError::Rejected(m) => Err(JobFailure::Permanent(m)),
                    SendError::Transient(m) => {
                        target.breaker.failure();
                        Err(JobFailure::Retry(m))
                    }
                }
            }
        }
    }
}
