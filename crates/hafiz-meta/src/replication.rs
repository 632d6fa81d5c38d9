//! Replication queues. An object command on a bucket with a replication
//! configuration marks the version PENDING for each destination its rules select and
//! queues the work for that destination's target in the same batch as the change:
//! a crash after the commit cannot lose a replication, and a refused write queues
//! none. Writes that are themselves replicas (made by another cluster's replication)
//! queue nothing, so two clusters replicating both ways never loop. The worker in
//! `hafiz-replication` drains each target's queue and reports with
//! [`ReplicationCommand`]s. The queues are [`crate::queue::Queues`] in table
//! `replication`.

use serde::{Deserialize, Serialize};

use crate::error::MetaResult;
use crate::events::Origin;
use crate::kv::{Kv, Op, Table};
use crate::model::{
    BucketInfo, Millis, ObjectVersion, ReplicationRule, ReplicationState, ReplicationStatus,
};
pub use crate::queue::QueueState;
use crate::queue::Queues;

const QUEUES: Queues = Queues(Table::Replication);

/// Settings keys of replication targets: `replicate/<ARN>`, the target as
/// `hafiz-replication` writes it.
pub const TARGET_SETTING_PREFIX: &str = "replicate/";

/// The job kind a replication becomes when its target refused it or it failed too
/// often in a row: retried by the job engine, then dead. Payload: the
/// [`QueuedReplication`] as JSON.
pub const RETRY_JOB: &str = "replicate-retry";

/// The job kind that queues the replication of versions written before a rule
/// (ExistingObjectReplication, or `hafiz admin replicate resync`).
pub const RESYNC_JOB: &str = "replicate-resync";

/// What is to be done at the destination.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ReplicationOp {
    /// Copy the version: bytes, metadata, tags, lock settings.
    Version,
    /// Add the delete marker.
    DeleteMarker,
    /// The version's tags, retention or legal hold changed.
    Metadata,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueuedReplication {
    pub target: String,
    pub seq: u64,
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub op: ReplicationOp,
    /// Bytes to copy (0 for markers and metadata).
    pub size: u64,
    /// When the change was made (replication lag counts from here).
    pub at: Millis,
    /// The rule's destination storage class, if it sets one.
    pub storage_class: Option<String>,
}

/// Which existing versions a resync queues.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum ResyncScope {
    /// What rules with ExistingObjectReplication select and has not been
    /// replicated there (the resync a configuration starts).
    #[default]
    ExistingObjectRules,
    /// What any rule selects and has not been replicated there, or failed.
    Missing,
    /// Everything any rule selects, replicated already or not.
    All,
}

/// The status one replication attempt left a version in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VersionStatus {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub status: ReplicationStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ReplicationCommand {
    /// Replicated: drop the target's items up to `upto` (inclusive; None drops
    /// nothing, for work done outside the queue) and record each version's status.
    Done {
        target: String,
        upto: Option<u64>,
        statuses: Vec<VersionStatus>,
    },
    /// Take item `seq` out of the queue (its target refused it, or it failed too
    /// often), mark its version FAILED and queue `job` to retry it, so the items
    /// behind it are no longer held up.
    Fail {
        target: String,
        seq: u64,
        job: crate::jobs::NewJob,
        now: Millis,
    },
    /// Queue the replication of existing versions of `bucket` (a resync): those
    /// `scope` takes among what the bucket's rules select (replicas never).
    Enqueue {
        bucket: String,
        versions: Vec<(String, String)>,
        scope: ResyncScope,
        now: Millis,
    },
    /// Drop a target's whole queue (the target is being removed).
    Purge { target: String },
}

/// The version a replication is about.
#[derive(Debug)]
pub(crate) struct VersionRef {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub size: u64,
}

impl VersionRef {
    pub fn of(bucket: &str, v: &ObjectVersion) -> VersionRef {
        VersionRef {
            bucket: bucket.to_string(),
            key: v.key.clone(),
            version_id: v.version_id.clone(),
            size: v.size,
        }
    }
}

/// A replication a command decided on, queued once its version row is planned.
#[derive(Debug)]
pub(crate) struct Planned {
    target: String,
    storage_class: Option<String>,
    op: ReplicationOp,
}

/// Decide the replication of `v`, written (or changed) by a command from `origin`:
/// mark it PENDING for each destination (of the rules `keep` keeps) and return
/// what to queue.
pub(crate) fn mark(
    b: &BucketInfo,
    v: &mut ObjectVersion,
    origin: Option<&Origin>,
    op: ReplicationOp,
    keep: &dyn Fn(&ReplicationRule) -> bool,
) -> Vec<Planned> {
    let Some(cfg) = &b.replication else {
        return Vec::new();
    };
    // Replicas are never sent onward; lifecycle actions are not replicated (AWS:
    // the destination applies its own lifecycle rules).
    if origin.is_some_and(|o| o.replica || (o.lifecycle && op == ReplicationOp::DeleteMarker)) {
        return Vec::new();
    }
    let replica = v.replication.as_ref().is_some_and(|r| r.replica);
    if replica && op != ReplicationOp::Metadata {
        return Vec::new();
    }
    // A version never sent to a destination (written before the rule) is not there:
    // a change to its tags or lock sends it whole.
    let sent = |target: &str| {
        v.replication
            .as_ref()
            .is_some_and(|r| r.targets.iter().any(|(t, _)| t == target))
    };
    let op_for = |target: &str| {
        if op == ReplicationOp::Metadata && !replica && !sent(target) {
            ReplicationOp::Version
        } else {
            op
        }
    };
    let planned: Vec<Planned> = cfg
        .targets_for(&v.key, &v.tags)
        .into_iter()
        .filter(|r| op != ReplicationOp::DeleteMarker || r.delete_markers)
        .filter(|r| !replica || r.replica_modifications)
        .filter(|r| keep(r))
        .map(|r| Planned {
            target: r.target.clone(),
            storage_class: r.storage_class.clone(),
            op: op_for(&r.target),
        })
        .collect();
    if !planned.is_empty() && !replica {
        let state = v.replication.get_or_insert_with(ReplicationState::default);
        for p in &planned {
            state.set(&p.target, ReplicationStatus::Pending);
        }
    }
    planned
}

/// Queue what [`mark`] planned for `v`, changed `at`.
pub(crate) fn queue(
    kv: &Kv,
    ops: &mut Vec<Op>,
    v: &VersionRef,
    planned: Vec<Planned>,
    at: Millis,
) -> MetaResult<usize> {
    let n = planned.len();
    for p in planned {
        let size = if p.op == ReplicationOp::Version {
            v.size
        } else {
            0
        };
        QUEUES.push(kv, ops, &p.target, size, |seq| QueuedReplication {
            target: p.target.clone(),
            seq,
            bucket: v.bucket.clone(),
            key: v.key.clone(),
            version_id: v.version_id.clone(),
            op: p.op,
            size,
            at,
            storage_class: p.storage_class,
        })?;
    }
    Ok(n)
}

pub(crate) fn item_size(i: &QueuedReplication) -> u64 {
    i.size
}

pub(crate) fn ack(kv: &Kv, ops: &mut Vec<Op>, target: &str, upto: u64) -> MetaResult<()> {
    QUEUES.ack(kv, ops, target, upto, item_size)
}

pub(crate) fn take(
    kv: &Kv,
    ops: &mut Vec<Op>,
    target: &str,
    seq: u64,
) -> MetaResult<Option<QueuedReplication>> {
    QUEUES.take(kv, ops, target, seq, item_size)
}

pub(crate) fn purge(kv: &Kv, ops: &mut Vec<Op>, target: &str) -> MetaResult<()> {
    QUEUES.purge(kv, ops, target)
}

/// Up to `limit` items of `target` with a sequence number of at least `from`.
pub(crate) fn queued(
    kv: &Kv,
    target: &str,
    from: u64,
    limit: usize,
) -> MetaResult<Vec<QueuedReplication>> {
    QUEUES.items(kv, target, from, limit)
}

/// Every target that ever had a queue, with its state.
pub(crate) fn queues(kv: &Kv) -> MetaResult<Vec<(String, QueueState)>> {
    QUEUES.states(kv)
}
