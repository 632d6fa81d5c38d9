//! Metadata mutations. Each is applied atomically (one RocksDB write batch) by
//! [`crate::MetaStore::apply`]; preconditions are checked inside `apply` so that they
//! hold against concurrent writers (and, later, against the Raft log order).

use serde::{Deserialize, Serialize};

use crate::model::{
    BucketInfo, CorsRule, Millis, ObjectData, ObjectLockConfig, ObjectVersion, PartInfo,
    RestoreState, Retention, TierCopy, UploadInfo, Versioning, WebsiteConfig,
};

/// The job kind that removes a tier copy no version refers to any more. Queued by
/// the store in the same commit that drops the reference (see `hafiz-tier`, which
/// runs it); its payload is the [`TierCopy`] as JSON.
pub const TIER_DELETE_JOB: &str = "tier-delete";

/// Settings keys of tiers (`tier/NAME`): a copy is only adopted into a tier that has
/// one, and a tier's row only goes once the tier holds nothing.
pub const TIER_SETTING_PREFIX: &str = "tier/";

/// A condition on the current version of a key, checked atomically with a write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum WriteCondition {
    None,
    /// `If-None-Match: *`: the key must not exist.
    Absent,
    /// `If-Match: etag`: the current version must have this ETag (unquoted).
    EtagMatches(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Command {
    CreateBucket(BucketInfo),
    DeleteBucket {
        name: String,
    },
    /// Make `version` the current version of its key. In a versioning bucket it is
    /// added under its (minted) id; otherwise it becomes the `null` version, replacing
    /// the previous `null` version. A bucket's default retention applies to it.
    PutObject {
        bucket: String,
        version: ObjectVersion,
        condition: WriteCondition,
    },
    /// With `version_id`: remove that version (refused while locked at `now`). Without:
    /// remove the `null` version (unversioned, suspended) and, in a bucket that has
    /// versioning on or suspended, add `marker` as the new current version: a delete
    /// marker (with id `null` when suspended).
    DeleteObject {
        bucket: String,
        key: String,
        version_id: Option<String>,
        marker: Option<ObjectVersion>,
        bypass_governance: bool,
        now: Millis,
    },
    /// Bucket configuration.
    UpdateBucket {
        name: String,
        change: BucketChange,
    },
    /// Tags, retention or legal hold of one version (the current one when None).
    UpdateObject {
        bucket: String,
        key: String,
        version_id: Option<String>,
        change: ObjectChange,
        bypass_governance: bool,
        now: Millis,
    },
    CreateUpload(UploadInfo),
    PutPart {
        bucket: String,
        key: String,
        upload_id: String,
        part: PartInfo,
    },
    /// Stitch the listed parts into `version`. Each listed part must still carry the
    /// given ETag; parts not listed are released.
    CompleteUpload {
        bucket: String,
        upload_id: String,
        parts: Vec<(u32, String)>,
        version: ObjectVersion,
        condition: WriteCondition,
    },
    AbortUpload {
        bucket: String,
        key: String,
        upload_id: String,
    },
    /// Move a version's bytes: into a tier (a transition) or back (a promotion).
    /// Refused with `PreconditionFailed` unless the version still has row order
    /// `order` and data `expect`, so a transition racing an overwrite, a delete or
    /// another transition of the same version changes nothing; a success when the
    /// version already holds `data` (the same command applied twice). A copy is only
    /// adopted into a tier that still exists. The data it held is released (blobs to
    /// the caller, tier copies to a [`TIER_DELETE_JOB`]).
    SetObjectData {
        bucket: String,
        key: String,
        version_id: String,
        order: u64,
        expect: ObjectData,
        data: ObjectData,
        storage_class: String,
        now: Millis,
    },
    /// RestoreObject's state of one version: the same check on `order`, and the
    /// state must still be `expect` (so an expiry and an extension cannot undo each
    /// other). The blobs of a temporary copy it replaces are released.
    SetRestore {
        bucket: String,
        key: String,
        version_id: String,
        order: u64,
        expect: Option<RestoreState>,
        restore: Option<RestoreState>,
        /// When (for the event it reports); absent in commands logged before events.
        #[serde(default)]
        now: Millis,
    },
    /// A cluster-wide setting (tiers, later notification and replication targets):
    /// opaque bytes under a key, removed when None.
    PutSetting {
        key: String,
        value: Option<Vec<u8>>,
    },
    Iam(crate::iam::IamCommand),
    /// The background job queue (see `crate::jobs`).
    Jobs(crate::jobs::JobCommand),
    /// Count every bucket's and account's usage from the rows themselves, replacing
    /// the counters (run once when a store written before the counters opens).
    RecountUsage,
    /// `command`, with who made it: the events it queues carry the origin.
    Traced {
        origin: crate::events::Origin,
        command: Box<Command>,
    },
    /// The notification event queues (see `crate::events`).
    Events(crate::events::EventCommand),
    /// The replication queues and statuses (see `crate::replication`).
    Replication(crate::replication::ReplicationCommand),
}

impl Command {
    /// This command, carrying `origin` into the events it causes.
    pub fn traced(self, origin: crate::events::Origin) -> Command {
        Command::Traced {
            origin,
            command: Box::new(self),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum BucketChange {
    /// Enabled or Suspended (never back to Unversioned).
    Versioning(Versioning),
    Tags(Option<Vec<(String, String)>>),
    /// Turn object lock on (a versioning bucket only) or change its default retention.
    ObjectLock(ObjectLockConfig),
    Cors(Option<Vec<CorsRule>>),
    Website(Option<WebsiteConfig>),
    Policy(Option<String>),
    Acl(crate::model::CannedAcl),
    PublicAccessBlock(Option<crate::model::PublicAccessBlock>),
    Quota(Option<crate::model::Quota>),
    Lifecycle(Option<String>),
    Notification(Option<String>),
    Replication(Option<crate::model::ReplicationConfig>),
    Encryption(Option<crate::model::BucketEncryption>),
    /// An ACL of explicit grants (the canned `Acl` change clears them).
    Grants(Vec<crate::model::AclGrant>),
    Ownership(Option<crate::model::ObjectOwnership>),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ObjectChange {
    Tags(Vec<(String, String)>),
    /// Set, extend or (GOVERNANCE, with bypass) shorten or remove the retention.
    Retention(Option<Retention>),
    LegalHold(bool),
    Acl(crate::model::CannedAcl),
    Grants(Vec<crate::model::AclGrant>),
}

/// What an applied command left behind (sent back to the node that proposed it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Blob ids no longer referenced: the caller deletes them from the data store
    /// after the commit (a crash in between leaves orphans, collected on start).
    pub released_blobs: Vec<String>,
    /// For DeleteObject: whether a version was removed.
    pub removed: bool,
    /// The version written or removed (PutObject, CompleteUpload, DeleteObject,
    /// UpdateObject).
    pub version_id: Option<String>,
    /// DeleteObject: the version removed or added was a delete marker.
    pub delete_marker: bool,
    /// How the bucket's usage changed.
    pub usage: crate::model::UsageDelta,
    /// Job commands: the jobs created, leased or changed.
    pub jobs: Vec<crate::jobs::Job>,
    /// Tier copies no longer referenced; a [`TIER_DELETE_JOB`] for each was queued in
    /// the same commit.
    pub released_copies: Vec<TierCopy>,
    /// Notification events the command queued.
    #[serde(default)]
    pub events: usize,
    /// Replications the command queued.
    #[serde(default)]
    pub replications: usize,
}

impl Outcome {
    /// Everything `v` held: its blobs, a restored copy's blobs, its tier copy.
    pub fn release(&mut self, v: &ObjectVersion) {
        self.released_blobs.extend(v.blob_ids());
        if let Some(c) = v.tier_copy() {
            self.released_copies.push(c.clone());
        }
    }
}
