//! Drains the replication queues on the metadata leader: one worker per target.
//! A batch's items run concurrently across keys and one after another within a key,
//! so a key's changes reach the target in the order they were committed. Items are
//! acknowledged (and their versions marked COMPLETED) only after the target took
//! them: a crash or a lost leadership in between sends them again, which the target
//! absorbs (a replica written twice under one version id is one replica).
//! A target that is down holds its queue, in order, until it is back; an item the
//! target refuses (a 4xx) is marked FAILED and handed to a retry job so the items
//! behind it move on.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::{StreamExt, stream};
use hafiz_jobs::{Backoff, Handler, JobContext, JobFailure, KindLimits, now_millis};
use hafiz_meta::jobs::NewJob;
use hafiz_meta::replication::{
    QueuedReplication, RETRY_JOB, ReplicationCommand, ReplicationOp, VersionStatus,
};
use hafiz_meta::{Command, Metadata, ObjectVersion, ReplicationStatus, RetentionMode};
use hafiz_tier::DataSources;
use hafiz_tier::remote::{S3Client, xml_field};
use reqwest::Method;
use tokio::sync::watch;

use crate::protocol;
use crate::target::{Target, Targets};

/// Items per batch, and keys replicated at once within a batch.
const BATCH: usize = 64;
const PARALLEL_KEYS: usize = 8;
const IDLE_POLL: Duration = Duration::from_millis(5);
const SUPERVISE: Duration = Duration::from_millis(500);
/// S3's limit for one PUT; larger versions are refused (FAILED) for now.
const SINGLE_PUT_MAX: u64 = 5 << 30;

/// Why an item did not replicate.
#[derive(Debug)]
pub enum PushError {
    /// Worth trying again: the target is down, slow or overloaded.
    Transient(String),
    /// The target refused it; trying again the same way will not help.
    Rejected(String),
}

pub struct Replicator {
    meta: Arc<dyn Metadata>,
    targets: Arc<Targets>,
    data: DataSources,
    /// Opens encrypted versions (SSE-S3, SSE-KMS): replicas travel as plaintext and
    /// the destination encrypts them again.
    keys: Arc<hafiz_crypto::KeyService>,
    leads: Arc<dyn Fn() -> bool + Send + Sync>,
    running: Mutex<HashSet<String>>,
    backoff: Backoff,
}

impl Replicator {
    pub fn new(
        meta: Arc<dyn Metadata>,
        targets: Arc<Targets>,
        data: DataSources,
        keys: Arc<hafiz_crypto::KeyService>,
        leads: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Arc<Replicator> {
        Arc::new(Replicator {
            meta,
            targets,
            data,
            keys,
            leads: Arc::new(leads),
            running: Mutex::new(HashSet::new()),
            backoff: Backoff {
                base: Duration::from_millis(200),
                max: Duration::from_secs(10),
            },
        })
    }

    /// Register the retry job kind (and the resync kind) with the job engine.
    pub fn install(self: &Arc<Self>, jobs: &hafiz_jobs::Engine) {
        jobs.register(
            RETRY_JOB,
            Arc::new(RetryHandler { r: self.clone() }),
            KindLimits {
                concurrency: 4,
                leader_only: true,
                backoff: Backoff {
                    base: Duration::from_secs(2),
                    max: Duration::from_secs(300),
                },
            },
        );
        crate::resync::install(self.meta.clone(), jobs);
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

    async fn supervise(self: &Arc<Self>, shutdown: &watch::Receiver<bool>) {
        let queues = match self.meta.replication_queues().await {
            Ok(q) => q,
            Err(e) => {
                tracing::debug!(error = %e, "replication queues");
                return;
            }
        };
        for (target, state) in queues {
            metrics::gauge!("hafiz_replication_queued_ops", "target" => target.clone())
                .set(state.queued as f64);
            metrics::gauge!("hafiz_replication_queued_bytes", "target" => target.clone())
                .set(state.bytes as f64);
            if state.queued == 0 {
                metrics::gauge!("hafiz_replication_lag_seconds", "target" => target.clone())
                    .set(0.0);
                continue;
            }
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

    /// Replicate `arn`'s queue while this node leads, until it is empty.
    async fn drain(&self, arn: &str, shutdown: watch::Receiver<bool>) {
        let mut from = 0u64;
        let mut failures = 0u32;
        let mut seen_generation = None;
        let mut last_read = Instant::now();
        loop {
            if *shutdown.borrow() || !(self.leads)() {
                return;
            }
            let Some(target) = self.targets.get(arn).await else {
                // Removed (its queue goes with it) or not readable yet.
                return;
            };
            let generation = self.meta.events_generation();
            if seen_generation == Some(generation) && last_read.elapsed() < Duration::from_secs(1) {
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            let batch = match self.meta.queued_replications(arn, from, BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::debug!(target = arn, error = %e, "reading the replication queue");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            last_read = Instant::now();
            let lag = metrics::gauge!("hafiz_replication_lag_seconds", "target" => arn.to_string());
            let Some(head) = batch.first() else {
                lag.set(0.0);
                seen_generation = Some(generation);
                continue;
            };
            lag.set((now_millis() - head.at).max(0) as f64 / 1000.0);
            let results = self.push_batch(&target, &batch).await;
            // The items before the first transient failure are settled: replicated,
            // or refused (then failed into a retry job).
            let settled = results
                .iter()
                .position(|r| matches!(r, Some(Err(PushError::Transient(_))) | None))
                .unwrap_or(batch.len());
            let mut statuses = Vec::new();
            let mut failed_ok = true;
            for (item, r) in batch.iter().zip(&results) {
                match r {
                    Some(Ok(())) => {
                        record_done(arn, item);
                        statuses.push(VersionStatus {
                            bucket: item.bucket.clone(),
                            key: item.key.clone(),
                            version_id: item.version_id.clone(),
                            status: ReplicationStatus::Completed,
                        });
                    }
                    Some(Err(PushError::Rejected(msg))) if item.seq < seq_at(&batch, settled) => {
                        failed_ok &= self.fail(item, msg).await.is_ok();
                    }
                    _ => {}
                }
            }
            if !failed_ok {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let upto = settled.checked_sub(1).map(|i| batch[i].seq);
            if upto.is_some() || !statuses.is_empty() {
                let done = Command::Replication(ReplicationCommand::Done {
                    target: arn.to_string(),
                    upto,
                    statuses,
                });
                if let Err(e) = self.meta.apply(done).await {
                    // Replicated but not acknowledged: sent again (at least once).
                    tracing::debug!(target = arn, error = %e, "acknowledging replications");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
            if let Some(upto) = upto {
                from = upto + 1;
            }
            let transient = results.iter().find_map(|r| match r {
                Some(Err(PushError::Transient(m))) => Some(m),
                _ => None,
            });
            match transient {
                Some(msg) => {
                    failures += 1;
                    tracing::warn!(target = arn, failures, error = %msg, "replication target failing; retrying");
                    tokio::time::sleep(self.backoff.delay(failures)).await;
                }
                None => failures = 0,
            }
        }
    }

    /// Push a batch: keys in parallel, each key's items in order; an item after a
    /// failed one of its key is not tried (None).
    async fn push_batch(
        &self,
        target: &Target,
        batch: &[QueuedReplication],
    ) -> Vec<Option<Result<(), PushError>>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut by_key: std::collections::HashMap<(&str, &str), usize> = Default::default();
        for (i, item) in batch.iter().enumerate() {
            let g = *by_key
                .entry((item.bucket.as_str(), item.key.as_str()))
                .or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
            groups[g].push(i);
        }
        let mut results: Vec<Option<Result<(), PushError>>> =
            (0..batch.len()).map(|_| None).collect();
        let done: Vec<Vec<(usize, Result<(), PushError>)>> = stream::iter(groups)
            .map(|group| async move {
                let mut out = Vec::new();
                for i in group {
                    let r = self.push(target, &batch[i]).await;
                    let failed = r.is_err();
                    out.push((i, r));
                    if failed {
                        break;
                    }
                }
                out
            })
            .buffer_unordered(PARALLEL_KEYS)
            .collect()
            .await;
        for (i, r) in done.into_iter().flatten() {
            results[i] = Some(r);
        }
        results
    }

    /// Replicate one item, within the target's timeout.
    pub async fn push(&self, target: &Target, item: &QueuedReplication) -> Result<(), PushError> {
        match tokio::time::timeout(target.config.timeout(), self.push_inner(target, item)).await {
            Ok(r) => r,
            Err(_) => Err(PushError::Transient("timed out".into())),
        }
    }

    /// The version's bytes as the destination gets them: opened when encrypted at
    /// rest, and asked to be encrypted there with the destination's own key (SSE-C
    /// objects are refused: their key is never kept here).
    async fn plaintext(
        &self,
        v: &ObjectVersion,
        req: &mut reqwest::Request,
    ) -> Result<hafiz_storage::ByteStream, PushError> {
        let read = |e: String| PushError::Transient(format!("reading the source: {e}"));
        let Some(enc) = &v.encryption else {
            return self
                .data
                .stream(&v.data, 0, v.size)
                .await
                .map_err(|e| read(e.to_string()));
        };
        let (Some(id), Some(version)) = (&enc.key_id, &enc.key_version) else {
            return Err(PushError::Rejected(
                "SSE-C objects are not replicated: their key is never stored".into(),
            ));
        };
        let key = self
            .keys
            .open(
                id,
                version,
                &enc.wrapped_key,
                enc.context.as_deref().unwrap_or("").as_bytes(),
            )
            .await
            .map_err(|e| read(e.to_string()))?;
        let opener = hafiz_crypto::RangeOpener::new(&key, hafiz_crypto::segments(v), 0, v.size);
        let (from, len) = opener.cipher_range();
        let cipher = self
            .data
            .stream(&v.data, from, len)
            .await
            .map_err(|e| read(e.to_string()))?;
        if let Ok(h) = reqwest::header::HeaderValue::from_str("AES256") {
            req.headers_mut().insert("x-amz-server-side-encryption", h);
        }
        Ok(hafiz_crypto::decrypting(cipher, opener, |e| {
            hafiz_storage::StorageError::Corrupt(e.to_string())
        }))
    }

    async fn push_inner(&self, target: &Target, item: &QueuedReplication) -> Result<(), PushError> {
        let v = match self
            .meta
            .object_version(&item.bucket, &item.key, &item.version_id)
            .await
        {
            Ok(Some(v)) => v,
            // Deleted since it was queued: nothing left to replicate.
            Ok(None) => return Ok(()),
            Err(e) => return Err(PushError::Transient(e.to_string())),
        };
        let c = &target.client;
        let bucket = &target.config.bucket;
        match item.op {
            ReplicationOp::DeleteMarker => {
                let mut req = request(c, Method::DELETE, &c.url(bucket, Some(&v.key), ""))?;
                replica_headers(&mut req, &v);
                send(c, req, "DeleteObject").await
            }
            ReplicationOp::Version => {
                if v.size > SINGLE_PUT_MAX {
                    return Err(PushError::Rejected(
                        "versions over 5 GiB are not replicated".into(),
                    ));
                }
                let mut req = request(c, Method::PUT, &c.url(bucket, Some(&v.key), ""))?;
                object_headers(&mut req, &v, item.storage_class.as_deref());
                replica_headers(&mut req, &v);
                let body = self.plaintext(&v, &mut req).await?;
                *req.body_mut() = Some(reqwest::Body::wrap_stream(body));
                send(c, req, "PutObject").await
            }
            ReplicationOp::Metadata => {
                let q = |sub: &str| format!("{sub}&versionId={}", v.version_id);
                let mut req = request(c, Method::PUT, &c.url(bucket, Some(&v.key), &q("tagging")))?;
                replica_headers(&mut req, &v);
                *req.body_mut() = Some(tagging_xml(&v.tags).into());
                send(c, req, "PutObjectTagging").await?;
                if let Some(r) = v.retention {
                    let mut req = request(
                        c,
                        Method::PUT,
                        &c.url(bucket, Some(&v.key), &q("retention")),
                    )?;
                    replica_headers(&mut req, &v);
                    let mode = match r.mode {
                        RetentionMode::Governance => "GOVERNANCE",
                        RetentionMode::Compliance => "COMPLIANCE",
                    };
                    *req.body_mut() = Some(
                        format!(
                            "<Retention><Mode>{mode}</Mode><RetainUntilDate>{}</RetainUntilDate></Retention>",
                            iso8601(r.until)
                        )
                        .into(),
                    );
                    send(c, req, "PutObjectRetention").await?;
                }
                if let Some(on) = v.legal_hold {
                    let mut req = request(
                        c,
                        Method::PUT,
                        &c.url(bucket, Some(&v.key), &q("legal-hold")),
                    )?;
                    replica_headers(&mut req, &v);
                    let status = if on { "ON" } else { "OFF" };
                    *req.body_mut() =
                        Some(format!("<LegalHold><Status>{status}</Status></LegalHold>").into());
                    send(c, req, "PutObjectLegalHold").await?;
                }
                Ok(())
            }
        }
    }

    /// Mark `item` FAILED and hand it to a retry job.
    async fn fail(&self, item: &QueuedReplication, why: &str) -> Result<(), hafiz_meta::MetaError> {
        let now = now_millis();
        let job = NewJob {
            id: format!("{:012x}{:016x}", now.max(0), item.seq ^ fnv(&item.target)),
            kind: RETRY_JOB.to_string(),
            payload: serde_json::to_vec(item).unwrap_or_default(),
            sealed: false,
            priority: 50,
            max_attempts: 5,
            timeout_ms: 300_000,
            run_at: now + 1_000,
            depends_on: Vec::new(),
            unique: Some(format!("replicate/{}/{}", item.target, item.seq)),
        };
        metrics::counter!("hafiz_replication_failures_total", "target" => item.target.clone())
            .increment(1);
        tracing::warn!(target = %item.target, bucket = %item.bucket, key = %item.key, why, "replication refused: FAILED, handed to a retry job");
        self.meta
            .apply(Command::Replication(ReplicationCommand::Fail {
                target: item.target.clone(),
                seq: item.seq,
                job,
                now,
            }))
            .await
            .map(|_| ())
    }
}

fn seq_at(batch: &[QueuedReplication], i: usize) -> u64 {
    batch.get(i).map(|b| b.seq).unwrap_or(u64::MAX)
}

fn record_done(target: &str, item: &QueuedReplication) {
    let op = match item.op {
        ReplicationOp::Version => "version",
        ReplicationOp::DeleteMarker => "delete-marker",
        ReplicationOp::Metadata => "metadata",
    };
    metrics::counter!("hafiz_replication_ops_total", "target" => target.to_string(), "op" => op)
        .increment(1);
    metrics::counter!("hafiz_replication_bytes_total", "target" => target.to_string())
        .increment(item.size);
    metrics::histogram!("hafiz_replication_latency_seconds", "target" => target.to_string())
        .record((now_millis() - item.at).max(0) as f64 / 1000.0);
}

fn request(c: &S3Client, method: Method, url: &str) -> Result<reqwest::Request, PushError> {
    c.request(method, url)
        .map_err(|e| PushError::Rejected(e.to_string()))
}

async fn send(c: &S3Client, req: reqwest::Request, what: &str) -> Result<(), PushError> {
    let resp = c
        .send(req)
        .await
        .map_err(|e| PushError::Transient(format!("{what}: {e}")))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    let msg = format!(
        "{what}: HTTP {status} {}",
        xml_field(&body, "Code").unwrap_or_default()
    );
    // Overload, timeouts and server faults pass; other refusals do not.
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Err(PushError::Transient(msg))
    } else {
        Err(PushError::Rejected(msg))
    }
}

fn set(req: &mut reqwest::Request, name: &'static str, value: &str) {
    if let Ok(v) = reqwest::header::HeaderValue::from_str(value) {
        req.headers_mut().insert(name, v);
    }
}

fn replica_headers(req: &mut reqwest::Request, v: &ObjectVersion) {
    set(req, protocol::VERSION_HEADER, &v.version_id);
    set(req, protocol::MTIME_HEADER, &v.last_modified.to_string());
    if !v.delete_marker {
        set(req, protocol::ETAG_HEADER, &v.etag);
    }
}

fn object_headers(req: &mut reqwest::Request, v: &ObjectVersion, storage_class: Option<&str>) {
    req.headers_mut()
        .insert(reqwest::header::CONTENT_LENGTH, v.size.into());
    let h = &v.headers;
    for (name, value) in [
        ("content-type", &h.content_type),
        ("content-encoding", &h.content_encoding),
        ("content-disposition", &h.content_disposition),
        ("content-language", &h.content_language),
        ("cache-control", &h.cache_control),
        ("expires", &h.expires),
        ("x-amz-website-redirect-location", &h.website_redirect),
    ] {
        if let Some(value) = value {
            set(req, name, value);
        }
    }
    for (k, val) in &v.user_meta {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()),
            reqwest::header::HeaderValue::from_str(val),
        ) {
            req.headers_mut().insert(name, value);
        }
    }
    if !v.tags.is_empty() {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let tagging: Vec<String> = v
            .tags
            .iter()
            .map(|(k, val)| format!("{}={}", enc(k), enc(val)))
            .collect();
        set(req, "x-amz-tagging", &tagging.join("&"));
    }
    if let Some(sc) = storage_class {
        set(req, "x-amz-storage-class", sc);
    }
    if let Some(r) = v.retention {
        let mode = match r.mode {
            RetentionMode::Governance => "GOVERNANCE",
            RetentionMode::Compliance => "COMPLIANCE",
        };
        set(req, "x-amz-object-lock-mode", mode);
        set(
            req,
            "x-amz-object-lock-retain-until-date",
            &iso8601(r.until),
        );
    }
    if let Some(on) = v.legal_hold {
        set(
            req,
            "x-amz-object-lock-legal-hold",
            if on { "ON" } else { "OFF" },
        );
    }
}

fn tagging_xml(tags: &[(String, String)]) -> String {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut x = String::from("<Tagging><TagSet>");
    for (k, v) in tags {
        x.push_str(&format!(
            "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
            esc(k),
            esc(v)
        ));
    }
    x.push_str("</TagSet></Tagging>");
    x
}

/// An instant as S3's lock headers write it (`2030-01-01T00:00:00.000Z`).
fn iso8601(ms: i64) -> String {
    use time::macros::format_description;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A short stable hash (job ids must differ between targets with equal sequences).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Replicates one item that failed in the queue (the `replicate-retry` job kind):
/// retried by the job engine with its backoff, dead when attempts run out (the
/// operator sees it in `hafiz admin jobs --state dead` and can retry it there).
struct RetryHandler {
    r: Arc<Replicator>,
}

#[async_trait]
impl Handler for RetryHandler {
    async fn run(&self, job: JobContext) -> Result<Option<String>, JobFailure> {
        let item: QueuedReplication = job.json()?;
        let target = self
            .r
            .targets
            .get(&item.target)
            .await
            .ok_or_else(|| JobFailure::Permanent(format!("no target {}", item.target)))?;
        match self.r.push(&target, &item).await {
            Ok(()) => {
                record_done(&item.target, &item);
                self.r
                    .meta
                    .apply(Command::Replication(ReplicationCommand::Done {
                        target: item.target.clone(),
                        upto: None,
                        statuses: vec![VersionStatus {
                            bucket: item.bucket.clone(),
                            key: item.key.clone(),
                            version_id: item.version_id.clone(),
                            status: ReplicationStatus::Completed,
                        }],
                    }))
                    .await
                    .map_err(|e| JobFailure::Retry(e.to_string()))?;
                Ok(Some(format!(r#"{{"replicated":true,"seq":{}}}"#, item.seq)))
            }
            Err(PushError::Transient(m)) | Err(PushError::Rejected(m)) => {
                metrics::counter!("hafiz_replication_failures_total", "target" => item.target.clone())
                    .increment(1);
                Err(JobFailure::Retry(m))
            }
        }
    }
}
