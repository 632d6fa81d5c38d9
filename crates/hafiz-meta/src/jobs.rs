//! Background jobs as metadata: the durable queue of `hafiz-jobs`. Jobs are rows of
//! their own table, changed only by [`JobCommand`]s, so on a cluster they are Raft
//! state like buckets and IAM: a job leased on one node is leased everywhere, and a
//! node that dies takes no job with it (its lease expires and another node runs it).
//!
//! Every time a command needs (lease expiry, retry time) is carried in the command,
//! minted by the node that proposes it: applying a command is deterministic.
//!
//! Rows (table `jobs`):
//! - `j\0<id>`: the [`Job`].
//! - `r\0<255-priority><run-at be64><id>`: runnable (queued or failed, awaiting a
//!   retry), by priority then time, so a lease scan stops at the first future job of
//!   each priority band.
//! - `l\0<lease-until be64><id>`: leased, by lease expiry.
//! - `u\0<unique>`: the id of the job holding a deduplication key.
//! - `s\0<name>`: a [`Schedule`].
//! - `c\0<kind>\0<state>`: how many jobs of a kind are in a state (for metrics).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::{MetaError, MetaResult};
use crate::kv::{Kv, Op, Table};
use crate::model::Millis;
use crate::store::{decode, encode};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    Queued,
    Leased,
    Succeeded,
    /// The last attempt failed; runnable again at `next_run`.
    Failed,
    /// Out of attempts (or a permanent failure): kept for the operator.
    Dead,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Leased,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Dead,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Leased => "leased",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Finished: nothing runs it again unless an operator retries it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Dead | JobState::Cancelled
        )
    }

    fn runnable(self) -> bool {
        matches!(self, JobState::Queued | JobState::Failed)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lease {
    pub worker: String,
    pub until: Millis,
}

/// A job to create.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct NewJob {
    /// Minted by the proposer; ordered by creation time.
    pub id: String,
    pub kind: String,
    /// The handler's input, opaque here (sealed by `hafiz-jobs` when it carries user
    /// data).
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    pub sealed: bool,
    /// Higher runs first.
    pub priority: u8,
    pub max_attempts: u32,
    pub timeout_ms: u64,
    /// Not before.
    pub run_at: Millis,
    /// Runs once every one of these succeeded; dead once any of them is dead or
    /// cancelled.
    pub depends_on: Vec<String>,
    /// At most one unfinished job holds a key: enqueuing another is a no-op.
    pub unique: Option<String>,
}

impl std::fmt::Debug for NewJob {
    // Payloads may carry user data: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewJob")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub id: String,
    pub kind: String,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    pub sealed: bool,
    pub priority: u8,
    pub state: JobState,
    /// Attempts started (a lease is an attempt, whether it ends or expires).
    pub attempts: u32,
    pub max_attempts: u32,
    pub timeout_ms: u64,
    pub next_run: Millis,
    pub depends_on: Vec<String>,
    pub unique: Option<String>,
    pub lease: Option<Lease>,
    pub created: Millis,
    pub updated: Millis,
    pub last_error: Option<String>,
    /// What the handler reported on success (JSON text, for export).
    pub result: Option<String>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// A recurring job: `spec` is a cron expression or `every <N>s|m|h|d`, parsed by
/// `hafiz-jobs`; here only its last tick matters (one run per tick).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Schedule {
    pub name: String,
    pub spec: String,
    pub kind: String,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    pub last_tick: Option<Millis>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum JobCommand {
    Enqueue {
        jobs: Vec<NewJob>,
        now: Millis,
    },
    /// Take up to `max` due jobs for `worker`, at most `slots[kind]` of each kind
    /// (kinds not listed are left alone), leased until `until`. Leases that expired
    /// by `now` are released first (counted as failed attempts).
    Lease {
        worker: String,
        slots: BTreeMap<String, u32>,
        max: u32,
        now: Millis,
        until: Millis,
    },
    Heartbeat {
        id: String,
        worker: String,
        until: Millis,
    },
    /// Progress of a long job (a scan's cursor): replaces the payload, so that the
    /// next attempt resumes where this one got to.
    Checkpoint {
        id: String,
        worker: String,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
        now: Millis,
    },
    Complete {
        id: String,
        worker: String,
        result: Option<String>,
        now: Millis,
    },
    /// A failed attempt: retried at `retry_at` while attempts remain, dead otherwise
    /// (or at once when `retry_at` is None: a permanent failure).
    Fail {
        id: String,
        worker: String,
        error: String,
        retry_at: Option<Millis>,
        now: Millis,
    },
    /// Operator: run a failed, dead or cancelled job again, with fresh attempts.
    Retry {
        id: String,
        now: Millis,
    },
    Cancel {
        id: String,
        now: Millis,
    },
    /// Operator: delete finished jobs (in `states`, all terminal ones when empty) last
    /// changed before `before`; at most `max` per command.
    Purge {
        states: Vec<JobState>,
        kind: Option<String>,
        before: Millis,
        max: u32,
    },
    PutSchedule(Schedule),
    RemoveSchedule {
        name: String,
    },
    /// A schedule's tick came: enqueue `job` unless this tick (or a later one) was
    /// already taken. This is what makes "one run per tick" hold cluster-wide.
    Tick {
        name: String,
        tick: Millis,
        job: NewJob,
    },
}

/// Filter of a job listing.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub state: Option<JobState>,
    pub kind: Option<String>,
    /// Ids greater than this (pagination).
    pub after: Option<String>,
    pub limit: usize,
}

/// How many jobs of each kind are in each state.
pub type JobCounts = BTreeMap<(String, JobState), u64>;

pub(crate) mod rows {
    use super::*;

    pub const JOB: &[u8] = b"j\0";
    pub const RUNNABLE: &[u8] = b"r\0";
    pub const LEASED: &[u8] = b"l\0";
    pub const UNIQUE: &[u8] = b"u\0";
    pub const SCHEDULE: &[u8] = b"s\0";
    pub const COUNT: &[u8] = b"c\0";

    fn cat(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut k = prefix.to_vec();
        for p in parts {
            k.extend_from_slice(p);
        }
        k
    }

    fn time(t: Millis) -> [u8; 8] {
        (t.max(0) as u64).to_be_bytes()
    }

    pub fn job(id: &str) -> Vec<u8> {
        cat(JOB, &[id.as_bytes()])
    }
    pub fn runnable(j: &Job) -> Vec<u8> {
        cat(
            RUNNABLE,
            &[&[255 - j.priority], &time(j.next_run), j.id.as_bytes()],
        )
    }
    pub fn leased(until: Millis, id: &str) -> Vec<u8> {
        cat(LEASED, &[&time(until), id.as_bytes()])
    }
    pub fn unique(key: &str) -> Vec<u8> {
        cat(UNIQUE, &[key.as_bytes()])
    }
    pub fn schedule(name: &str) -> Vec<u8> {
        cat(SCHEDULE, &[name.as_bytes()])
    }
    pub fn count(kind: &str, state: JobState) -> Vec<u8> {
        cat(COUNT, &[kind.as_bytes(), b"\0", state.as_str().as_bytes()])
    }
    /// (band, run-at, id) of a runnable row.
    pub fn parse_runnable(row: &[u8]) -> Option<(u8, Millis, &str)> {
        let rest = row.strip_prefix(RUNNABLE)?;
        let band = *rest.first()?;
        let at = u64::from_be_bytes(rest.get(1..9)?.try_into().ok()?) as Millis;
        Some((band, at, std::str::from_utf8(rest.get(9..)?).ok()?))
    }
    pub fn parse_leased(row: &[u8]) -> Option<(Millis, &str)> {
        let rest = row.strip_prefix(LEASED)?;
        let at = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?) as Millis;
        Some((at, std::str::from_utf8(rest.get(8..)?).ok()?))
    }
}

/// Most rows one lease command looks at, so one command stays a bounded batch however
/// long the queue is.
const LEASE_SCAN: usize = 512;
const EXPIRE_SCAN: usize = 256;

/// The rows one job command writes, checked against `kv` (the apply lock held).
/// Jobs the command created, leased or changed are returned in `changed`.
pub(crate) fn plan(
    kv: &Kv,
    cmd: JobCommand,
    ops: &mut Vec<Op>,
    changed: &mut Vec<Job>,
) -> MetaResult<()> {
    let mut p = Planner {
        kv,
        ops,
        counts: HashMap::new(),
    };
    match cmd {
        JobCommand::Enqueue { jobs, now } => {
            let mut taken = HashSet::new();
            for nj in jobs {
                if let Some(j) = p.enqueue(nj, now, &mut taken)? {
                    changed.push(j);
                }
            }
        }
        JobCommand::Lease {
            worker,
            slots,
            max,
            now,
            until,
        } => p.lease(&worker, slots, max, now, until, changed)?,
        JobCommand::Heartbeat { id, worker, until } => {
            let mut j = p.held(&id, &worker)?;
            let old = j.clone();
            j.lease = Some(Lease { worker, until });
            p.save(Some(&old), &j);
            changed.push(j);
        }
        JobCommand::Checkpoint {
            id,
            worker,
            payload,
            now,
        } => {
            let mut j = p.held(&id, &worker)?;
            let old = j.clone();
            j.payload = payload;
            j.updated = now;
            p.save(Some(&old), &j);
            changed.push(j);
        }
        JobCommand::Complete {
            id,
            worker,
            result,
            now,
        } => {
            let mut j = p.held(&id, &worker)?;
            let old = j.clone();
            j.state = JobState::Succeeded;
            j.lease = None;
            j.result = result;
            j.last_error = None;
            j.updated = now;
            p.save(Some(&old), &j);
            changed.push(j);
        }
        JobCommand::Fail {
            id,
            worker,
            error,
            retry_at,
            now,
        } => {
            let mut j = p.held(&id, &worker)?;
            let old = j.clone();
            j.lease = None;
            j.last_error = Some(error);
            j.updated = now;
            match retry_at {
                Some(at) if j.attempts < j.max_attempts => {
                    j.state = JobState::Failed;
                    j.next_run = at;
                }
                _ => j.state = JobState::Dead,
            }
            p.save(Some(&old), &j);
            changed.push(j);
        }
        JobCommand::Retry { id, now } => {
            let mut j = p.require(&id)?;
            if !matches!(
                j.state,
                JobState::Failed | JobState::Dead | JobState::Cancelled
            ) {
                return Err(MetaError::JobConflict(format!(
                    "job {id} is {}: only failed, dead or cancelled jobs can be retried",
                    j.state.as_str()
                )));
            }
            let old = j.clone();
            j.state = JobState::Queued;
            j.attempts = 0;
            j.next_run = now;
            j.updated = now;
            p.save(Some(&old), &j);
            changed.push(j);
        }
        JobCommand::Cancel { id, now } => {
            let mut j = p.require(&id)?;
            if j.state.is_terminal() {
                return Err(MetaError::JobConflict(format!(
                    "job {id} is {}: only queued, leased or failed jobs can be cancelled",
                    j.state.as_str()
                )));
            }
            let old = j.clone();
            j.state = JobState::Cancelled;
            j.lease = None;
            j.updated = now;
            p.save(Some(&old), &j);
            changed.push(j);
        }
        JobCommand::Purge {
            states,
            kind,
            before,
            max,
        } => {
            let states: Vec<JobState> = if states.is_empty() {
                JobState::ALL
                    .into_iter()
                    .filter(|s| s.is_terminal())
                    .collect()
            } else {
                states.into_iter().filter(|s| s.is_terminal()).collect()
            };
            for row in kv.scan(Table::Jobs, rows::JOB, rows::JOB) {
                if changed.len() >= max as usize {
                    break;
                }
                let (_, v) = row?;
                let j: Job = decode(&v)?;
                if states.contains(&j.state)
                    && j.updated < before
                    && kind.as_ref().is_none_or(|k| *k == j.kind)
                {
                    p.remove(&j);
                    changed.push(j);
                }
            }
        }
        JobCommand::PutSchedule(s) => {
            p.ops
                .push(Op::Put(Table::Jobs, rows::schedule(&s.name), encode(&s)?))
        }
        JobCommand::RemoveSchedule { name } => {
            if kv.get(Table::Jobs, &rows::schedule(&name))?.is_none() {
                return Err(MetaError::NoSuchJob(format!("no schedule named {name}")));
            }
            p.ops.push(Op::Delete(Table::Jobs, rows::schedule(&name)));
        }
        JobCommand::Tick { name, tick, job } => {
            let Some(raw) = kv.get(Table::Jobs, &rows::schedule(&name))? else {
                return Err(MetaError::NoSuchJob(format!("no schedule named {name}")));
            };
            let mut s: Schedule = decode(&raw)?;
            if s.last_tick.is_some_and(|t| t >= tick) {
                return Ok(());
            }
            s.last_tick = Some(tick);
            p.ops
                .push(Op::Put(Table::Jobs, rows::schedule(&name), encode(&s)?));
            if let Some(j) = p.enqueue(job, tick, &mut HashSet::new())? {
                changed.push(j);
            }
        }
    }
    p.flush_counts()
}

struct Planner<'a> {
    kv: &'a Kv,
    ops: &'a mut Vec<Op>,
    counts: HashMap<(String, JobState), i64>,
}

impl Planner<'_> {
    fn get(&self, id: &str) -> MetaResult<Option<Job>> {
        self.kv
            .get(Table::Jobs, &rows::job(id))?
            .map(|v| decode(&v))
            .transpose()
    }

    fn require(&self, id: &str) -> MetaResult<Job> {
        self.get(id)?
            .ok_or_else(|| MetaError::NoSuchJob(format!("no job with id {id}")))
    }

    /// The job, if `worker` holds its lease (a worker whose lease expired and was
    /// taken over must not complete or fail the new attempt).
    fn held(&self, id: &str, worker: &str) -> MetaResult<Job> {
        let j = self.require(id)?;
        match &j.lease {
            Some(l) if j.state == JobState::Leased && l.worker == worker => Ok(j),
            _ => Err(MetaError::JobConflict(format!(
                "job {id} is not leased by {worker}"
            ))),
        }
    }

    fn enqueue(
        &mut self,
        nj: NewJob,
        now: Millis,
        taken: &mut HashSet<String>,
    ) -> MetaResult<Option<Job>> {
        if let Some(key) = &nj.unique {
            if !taken.insert(key.clone()) {
                return Ok(None);
            }
            if let Some(holder) = self.kv.get(Table::Jobs, &rows::unique(key))? {
                let holder = String::from_utf8_lossy(&holder).into_owned();
                if let Some(h) = self.get(&holder)?
                    && !h.state.is_terminal()
                {
                    return Ok(None);
                }
            }
            self.ops.push(Op::Put(
                Table::Jobs,
                rows::unique(key),
                nj.id.as_bytes().to_vec(),
            ));
        }
        if self.get(&nj.id)?.is_some() {
            // A proposal retried after an uncertain outcome: already applied.
            return Ok(None);
        }
        let j = Job {
            id: nj.id,
            kind: nj.kind,
            payload: nj.payload,
            sealed: nj.sealed,
            priority: nj.priority,
            state: JobState::Queued,
            attempts: 0,
            max_attempts: nj.max_attempts.max(1),
            timeout_ms: nj.timeout_ms,
            next_run: nj.run_at.max(now),
            depends_on: nj.depends_on,
            unique: nj.unique,
            lease: None,
            created: now,
            updated: now,
            last_error: None,
            result: None,
        };
        self.save(None, &j);
        Ok(Some(j))
    }

    fn lease(
        &mut self,
        worker: &str,
        mut slots: BTreeMap<String, u32>,
        max: u32,
        now: Millis,
        until: Millis,
        out: &mut Vec<Job>,
    ) -> MetaResult<()> {
        // Expired leases first: their workers died or stalled.
        let mut expired = Vec::new();
        let kv = self.kv;
        for row in kv.scan(Table::Jobs, rows::LEASED, rows::LEASED) {
            let (k, _) = row?;
            let Some((at, id)) = rows::parse_leased(&k) else {
                continue;
            };
            if at > now || expired.len() >= EXPIRE_SCAN {
                break;
            }
            expired.push(id.to_string());
        }
        let mut released = HashSet::new();
        for id in expired {
            let Some(mut j) = self.get(&id)? else {
                continue;
            };
            let old = j.clone();
            j.lease = None;
            j.updated = now;
            j.last_error = Some(format!("lease expired (attempt {})", j.attempts));
            j.state = if j.attempts >= j.max_attempts {
                JobState::Dead
            } else {
                JobState::Failed
            };
            j.next_run = now;
            self.save(Some(&old), &j);
            released.insert(id);
        }

        let mut from = rows::RUNNABLE.to_vec();
        let mut seen = 0;
        'scan: while out.len() < max as usize && seen < LEASE_SCAN {
            let mut next_band = None;
            let mut progressed = false;
            for row in kv.scan(Table::Jobs, rows::RUNNABLE, &from) {
                let (k, _) = row?;
                seen += 1;
                progressed = true;
                let Some((band, at, id)) = rows::parse_runnable(&k) else {
                    continue;
                };
                if at > now {
                    // Every later row of this band is in the future too.
                    next_band = band.checked_add(1);
                    break;
                }
                if out.len() >= max as usize || seen >= LEASE_SCAN {
                    break 'scan;
                }
                if released.contains(id) {
                    continue;
                }
                let Some(mut j) = self.get(id)? else {
                    continue;
                };
                let Some(free) = slots.get_mut(&j.kind).filter(|f| **f > 0) else {
                    continue;
                };
                match self.dependencies(&j)? {
                    Deps::Waiting => continue,
                    Deps::Failed(dep) => {
                        let old = j.clone();
                        j.state = JobState::Dead;
                        j.updated = now;
                        j.last_error = Some(format!("dependency {dep} did not succeed"));
                        self.save(Some(&old), &j);
                        continue;
                    }
                    Deps::Done => {}
                }
                *free -= 1;
                let old = j.clone();
                j.state = JobState::Leased;
                j.attempts += 1;
                j.lease = Some(Lease {
                    worker: worker.to_string(),
                    until,
                });
                j.updated = now;
                self.save(Some(&old), &j);
                out.push(j);
            }
            match next_band {
                Some(b) if progressed => {
                    from = rows::RUNNABLE.to_vec();
                    from.push(b);
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn dependencies(&self, j: &Job) -> MetaResult<Deps> {
        for dep in &j.depends_on {
            // A dependency purged after it finished no longer holds anything back.
            match self.get(dep)?.map(|d| d.state) {
                None | Some(JobState::Succeeded) => {}
                Some(JobState::Dead | JobState::Cancelled) => return Ok(Deps::Failed(dep.clone())),
                Some(_) => return Ok(Deps::Waiting),
            }
        }
        Ok(Deps::Done)
    }

    /// Write `new` (replacing `old`): the job row, its index rows and the counters.
    fn save(&mut self, old: Option<&Job>, new: &Job) {
        if let Some(old) = old {
            self.unindex(old);
            *self
                .counts
                .entry((old.kind.clone(), old.state))
                .or_default() -= 1;
        }
        if new.state.runnable() {
            self.ops
                .push(Op::Put(Table::Jobs, rows::runnable(new), Vec::new()));
        }
        if let (JobState::Leased, Some(l)) = (new.state, &new.lease) {
            self.ops.push(Op::Put(
                Table::Jobs,
                rows::leased(l.until, &new.id),
                Vec::new(),
            ));
        }
        *self
            .counts
            .entry((new.kind.clone(), new.state))
            .or_default() += 1;
        match encode(new) {
            Ok(v) => self.ops.push(Op::Put(Table::Jobs, rows::job(&new.id), v)),
            Err(e) => tracing::error!(job = %new.id, error = %e, "job row not encodable"),
        }
    }

    fn unindex(&mut self, j: &Job) {
        if j.state.runnable() {
            self.ops.push(Op::Delete(Table::Jobs, rows::runnable(j)));
        }
        if let (JobState::Leased, Some(l)) = (j.state, &j.lease) {
            self.ops
                .push(Op::Delete(Table::Jobs, rows::leased(l.until, &j.id)));
        }
    }

    fn remove(&mut self, j: &Job) {
        self.unindex(j);
        *self.counts.entry((j.kind.clone(), j.state)).or_default() -= 1;
        self.ops.push(Op::Delete(Table::Jobs, rows::job(&j.id)));
        if let Some(key) = &j.unique
            && let Ok(Some(holder)) = self.kv.get(Table::Jobs, &rows::unique(key))
            && holder == j.id.as_bytes()
        {
            self.ops.push(Op::Delete(Table::Jobs, rows::unique(key)));
        }
    }

    fn flush_counts(self) -> MetaResult<()> {
        for ((kind, state), delta) in self.counts {
            if delta == 0 {
                continue;
            }
            let row = rows::count(&kind, state);
            let current = self
                .kv
                .get(Table::Jobs, &row)?
                .and_then(|v| v.try_into().ok().map(u64::from_be_bytes))
                .unwrap_or(0);
            let n = (current as i64 + delta).max(0) as u64;
            self.ops.push(if n == 0 {
                Op::Delete(Table::Jobs, row)
            } else {
                Op::Put(Table::Jobs, row, n.to_be_bytes().to_vec())
            });
        }
        Ok(())
    }
}

enum Deps {
    Done,
    Waiting,
    Failed(String),
}

/// Reads of the job table (the store's side of the `Metadata` job methods).
pub(crate) fn job(kv: &Kv, id: &str) -> MetaResult<Option<Job>> {
    kv.get(Table::Jobs, &rows::job(id))?
        .map(|v| decode(&v))
        .transpose()
}

pub(crate) fn list(kv: &Kv, q: &JobQuery) -> MetaResult<Vec<Job>> {
    let mut from = rows::JOB.to_vec();
    if let Some(after) = &q.after {
        from.extend_from_slice(after.as_bytes());
        from.push(0);
    }
    let mut out = Vec::new();
    for row in kv.scan(Table::Jobs, rows::JOB, &from) {
        if out.len() >= q.limit {
            break;
        }
        let (_, v) = row?;
        let j: Job = decode(&v)?;
        if q.state.is_none_or(|s| s == j.state) && q.kind.as_ref().is_none_or(|k| *k == j.kind) {
            out.push(j);
        }
    }
    Ok(out)
}

pub(crate) fn counts(kv: &Kv) -> MetaResult<JobCounts> {
    let mut out = JobCounts::new();
    for row in kv.scan(Table::Jobs, rows::COUNT, rows::COUNT) {
        let (k, v) = row?;
        let rest = &k[rows::COUNT.len()..];
        let Some(sep) = rest.iter().position(|b| *b == 0) else {
            continue;
        };
        let kind = String::from_utf8_lossy(&rest[..sep]).into_owned();
        let Some(state) = std::str::from_utf8(&rest[sep + 1..])
            .ok()
            .and_then(JobState::parse)
        else {
            continue;
        };
        let n = v[..].try_into().map(u64::from_be_bytes).unwrap_or(0);
        out.insert((kind, state), n);
    }
    Ok(out)
}

pub(crate) fn schedules(kv: &Kv) -> MetaResult<Vec<Schedule>> {
    kv.scan(Table::Jobs, rows::SCHEDULE, rows::SCHEDULE)
        .map(|r| r.and_then(|(_, v)| decode(&v)))
        .collect()
}
