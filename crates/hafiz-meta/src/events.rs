//! Event queues of bucket notifications. An object command on a bucket whose
//! notification configuration matches the change writes its events into the queues
//! of their targets in the same batch as the change itself: a crash after the
//! commit cannot lose an event, and a refused or aborted write queues none. Every
//! replica applies the same commands in the same order, so the queues (and their
//! sequence numbers) are the same everywhere; the delivery side (`hafiz-targets`)
//! drains them in order and acknowledges with [`EventCommand`]s. The queues are
//! [`crate::queue::Queues`] in table `events`.

use std::collections::HashMap;
use std::sync::Arc;

use hafiz_notify::{EventRecord, NotificationConfig, Route, event_matches};
use serde::{Deserialize, Serialize};

use crate::error::MetaResult;
use crate::kv::{Kv, Op, Table};
use crate::model::{Millis, ObjectVersion, RestoreState};
pub use crate::queue::QueueState;
use crate::queue::Queues;

const QUEUES: Queues = Queues(Table::Events);

/// Settings keys of notification targets: `notify/<ARN>`, the target's
/// configuration as `hafiz-targets` writes it.
pub const TARGET_SETTING_PREFIX: &str = "notify/";

/// The job kind an event becomes when its target refused it for good or too many
/// times in a row: retried by the job engine, then dead (the dead-letter state the
/// operator sees in `hafiz admin jobs`). Its payload is the [`QueuedEvent`] as JSON.
pub const REDELIVER_JOB: &str = "notify-redeliver";

/// Who made a change, for the events it causes (the request's id, principal and
/// address; the API when the command alone does not tell).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Origin {
    /// The last segment of an `s3:ObjectCreated:` event (`Put`, `Post`, `Copy`); the
    /// command's own (`Put`, `CompleteMultipartUpload`) when None.
    pub api: Option<String>,
    /// A lifecycle rule made the change (expirations report `s3:LifecycleExpiration:`).
    pub lifecycle: bool,
    pub request_id: String,
    pub principal: String,
    pub source_ip: String,
    pub region: String,
    /// The change is a replica another cluster's replication wrote: it is never
    /// replicated onward (two clusters replicating both ways do not loop).
    #[serde(default)]
    pub replica: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueuedEvent {
    pub target: String,
    pub seq: u64,
    pub record: EventRecord,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum EventCommand {
    /// Delivered: drop the target's events up to `upto` (inclusive).
    Ack { target: String, upto: u64 },
    /// Take event `seq` out of the queue (its target refused it) and queue `job` for
    /// it instead: the events behind it are no longer held up.
    DeadLetter {
        target: String,
        seq: u64,
        job: crate::jobs::NewJob,
        now: Millis,
    },
    /// Drop a target's whole queue (the target is being removed).
    Purge { target: String },
}

/// What an object command changes, as its events describe it; taken before the
/// command is planned (the command is consumed), completed from its outcome.
#[derive(Debug)]
pub(crate) struct Change {
    pub bucket: String,
    pub key: String,
    kind: ChangeKind,
    size: Option<u64>,
    etag: Option<String>,
    version_id: Option<String>,
}

#[derive(Debug)]
enum ChangeKind {
    Created(&'static str),
    /// `named`: a version id was given (a removal, never a new marker).
    Removed {
        named: bool,
    },
    Tagging {
        put: bool,
    },
    Acl,
    Transition,
    Restore {
        from: Option<RestoreState>,
        to: Option<RestoreState>,
    },
}

impl Change {
    pub(crate) fn of(cmd: &crate::Command) -> Option<Change> {
        use crate::Command as C;
        use crate::command::ObjectChange as O;
        let created = |bucket: &str, v: &ObjectVersion, api| Change {
            bucket: bucket.to_string(),
            key: v.key.clone(),
            kind: ChangeKind::Created(api),
            size: Some(v.size),
            etag: Some(v.etag.clone()),
            version_id: None,
        };
        let plain = |bucket: &str, key: &str, kind| Change {
            bucket: bucket.to_string(),
            key: key.to_string(),
            kind,
            size: None,
            etag: None,
            version_id: None,
        };
        Some(match cmd {
            C::PutObject {
                bucket, version, ..
            } => created(bucket, version, "Put"),
            C::CompleteUpload {
                bucket, version, ..
            } => created(bucket, version, "CompleteMultipartUpload"),
            C::DeleteObject {
                bucket,
                key,
                version_id,
                ..
            } => plain(
                bucket,
                key,
                ChangeKind::Removed {
                    named: version_id.is_some(),
                },
            ),
            C::UpdateObject {
                bucket,
                key,
                change,
                ..
            } => plain(
                bucket,
                key,
                match change {
                    O::Tags(t) => ChangeKind::Tagging { put: !t.is_empty() },
                    O::Acl(_) | O::Grants(_) => ChangeKind::Acl,
                    O::Retention(_) | O::LegalHold(_) => return None,
                },
            ),
            C::SetObjectData {
                bucket,
                key,
                data: crate::ObjectData::Tiered(_),
                ..
            } => plain(bucket, key, ChangeKind::Transition),
            C::SetRestore {
                bucket,
                key,
                expect,
                restore,
                ..
            } => plain(
                bucket,
                key,
                ChangeKind::Restore {
                    from: expect.clone(),
                    to: restore.clone(),
                },
            ),
            _ => return None,
        })
    }

    /// The event type, or None when the change reports nothing.
    fn event_name(&self, origin: &Origin, delete_marker: bool) -> Option<String> {
        Some(match &self.kind {
            ChangeKind::Created(api) => {
                format!("s3:ObjectCreated:{}", origin.api.as_deref().unwrap_or(api))
            }
            ChangeKind::Removed { named } => {
                let what = if delete_marker && !named {
                    "DeleteMarkerCreated"
                } else {
                    "Delete"
                };
                if origin.lifecycle {
                    format!("s3:LifecycleExpiration:{what}")
                } else {
                    format!("s3:ObjectRemoved:{what}")
                }
            }
            ChangeKind::Tagging { put: true } => "s3:ObjectTagging:Put".into(),
            ChangeKind::Tagging { put: false } => "s3:ObjectTagging:Delete".into(),
            ChangeKind::Acl => "s3:ObjectAcl:Put".into(),
            ChangeKind::Transition => "s3:LifecycleTransition".into(),
            ChangeKind::Restore { from, to } => match (from, to) {
                (None, Some(_)) => "s3:ObjectRestore:Post".into(),
                (Some(f), Some(t)) if f.ongoing && !t.ongoing => {
                    "s3:ObjectRestore:Completed".into()
                }
                (Some(_), None) => "s3:ObjectRestore:Delete".into(),
                _ => return None,
            },
        })
    }
}

/// Parsed notification configurations by bucket, kept while the stored JSON is the
/// same (parsing per command would cost more than the command).
#[derive(Default)]
pub(crate) struct ConfigCache {
    parsed: std::sync::Mutex<HashMap<String, (String, Arc<NotificationConfig>)>>,
}

impl ConfigCache {
    fn get(&self, bucket: &str, json: &str) -> Option<Arc<NotificationConfig>> {
        let mut m = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((j, c)) = m.get(bucket)
            && j == json
        {
            return Some(c.clone());
        }
        let c = Arc::new(NotificationConfig::from_json(json)?);
        m.insert(bucket.to_string(), (json.to_string(), c.clone()));
        Some(c)
    }
}

/// Everything an event needs besides the change.
pub(crate) struct EventContext<'a> {
    pub kv: &'a Kv,
    pub cache: &'a ConfigCache,
    /// The bucket's notification configuration (JSON) and owner.
    pub config: &'a str,
    pub owner: &'a str,
    pub origin: Option<&'a Origin>,
    pub at: Millis,
    /// From the outcome: the version written or removed, and whether it is a marker.
    pub version_id: Option<&'a str>,
    pub delete_marker: bool,
}

/// Queue the events of `change` into their targets' queues (`ops`); returns how
/// many were queued.
pub(crate) fn queue(change: Change, cx: EventContext<'_>, ops: &mut Vec<Op>) -> MetaResult<usize> {
    let Some(config) = cx.cache.get(&change.bucket, cx.config) else {
        return Ok(0);
    };
    let default_origin = Origin::default();
    let origin = cx.origin.unwrap_or(&default_origin);
    let Some(name) = change.event_name(origin, cx.delete_marker) else {
        return Ok(0);
    };
    // `s3:ObjectTransition` (MinIO's name) selects what AWS calls LifecycleTransition.
    let mut targets: Vec<(String, String)> = Vec::new();
    for rule in config.rules.iter().filter(|r| {
        r.filter.selects(&change.key)
            && r.events.iter().any(|e| {
                event_matches(e, &name)
                    || (name == "s3:LifecycleTransition" && e == "s3:ObjectTransition")
            })
    }) {
        for target in expand(cx.kv, &rule.arn, &name, &change.key)? {
            if !targets.iter().any(|(t, _)| *t == target) {
                targets.push((target, rule.id.clone()));
            }
        }
    }
    if targets.is_empty() {
        return Ok(0);
    }
    let version_id = change
        .version_id
        .clone()
        .or(cx.version_id.map(str::to_string));
    let n = targets.len();
    for (target, configuration_id) in targets {
        QUEUES.push(cx.kv, ops, &target, 0, |seq| QueuedEvent {
            target: target.clone(),
            seq,
            record: EventRecord {
                event_name: name.clone(),
                region: if origin.region.is_empty() {
                    "us-east-1".into()
                } else {
                    origin.region.clone()
                },
                time: cx.at,
                principal: origin.principal.clone(),
                source_ip: origin.source_ip.clone(),
                request_id: origin.request_id.clone(),
                host_id: String::new(),
                configuration_id,
                bucket: change.bucket.clone(),
                owner: cx.owner.to_string(),
                key: change.key.clone(),
                size: change.size,
                etag: change.etag.clone(),
                version_id: version_id.clone(),
                sequencer: format!("{seq:016X}"),
            },
        })?;
    }
    Ok(n)
}

/// The targets `arn` stands for: itself, or, when it is a chain (a target whose
/// setting lists routes), the routes' targets whose rules select the event.
fn expand(kv: &Kv, arn: &str, event: &str, key: &str) -> MetaResult<Vec<String>> {
    let setting = format!("{TARGET_SETTING_PREFIX}{arn}");
    let Some(raw) = kv.get(Table::Settings, setting.as_bytes())? else {
        // Removed since the bucket was configured: nothing will deliver it.
        return Ok(Vec::new());
    };
    let routes = Route::of_target(&raw);
    if routes.is_empty() {
        return Ok(vec![arn.to_string()]);
    }
    Ok(routes
        .into_iter()
        .filter(|r| r.selects(event, key))
        .map(|r| r.target)
        .collect())
}

pub(crate) fn plan(kv: &Kv, cmd: EventCommand, ops: &mut Vec<Op>) -> MetaResult<()> {
    match cmd {
        EventCommand::Ack { target, upto } => {
            QUEUES.ack(kv, ops, &target, upto, |_: &QueuedEvent| 0)
        }
        EventCommand::DeadLetter {
            target,
            seq,
            job,
            now,
        } => {
            if QUEUES
                .take(kv, ops, &target, seq, |_: &QueuedEvent| 0)?
                .is_none()
            {
                // Acknowledged or dead-lettered already (a retried proposal).
                return Ok(());
            }
            let mut created = Vec::new();
            crate::jobs::plan(
                kv,
                crate::jobs::JobCommand::Enqueue {
                    jobs: vec![job],
                    now,
                },
                ops,
                &mut created,
            )
        }
        EventCommand::Purge { target } => QUEUES.purge(kv, ops, &target),
    }
}

/// Up to `limit` events of `target` with a sequence number of at least `from`.
pub(crate) fn queued(
    kv: &Kv,
    target: &str,
    from: u64,
    limit: usize,
) -> MetaResult<Vec<QueuedEvent>> {
    QUEUES.items(kv, target, from, limit)
}

/// Every target that ever had a queue, with its state.
pub(crate) fn queues(kv: &Kv) -> MetaResult<Vec<(String, QueueState)>> {
    QUEUES.states(kv)
}
