//! Metadata mutations. Each is applied atomically (one RocksDB write batch) by
//! [`crate::MetaStore::apply`]; preconditions are checked inside `apply` so that they
//! hold against concurrent writers (and, later, against the Raft log order).

use serde::{Deserialize, Serialize};

use crate::model::{
    BucketInfo, CorsRule, Millis, ObjectLockConfig, ObjectVersion, PartInfo, Retention, UploadInfo,
    Versioning, WebsiteConfig,
};

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
    Iam(crate::iam::IamCommand),
    /// The background job queue (see `crate::jobs`).
    Jobs(crate::jobs::JobCommand),
    /// Count every bucket's and account's usage from the rows themselves, replacing
    /// the counters (run once when a store written before the counters opens).
    RecountUsage,
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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ObjectChange {
    Tags(Vec<(String, String)>),
    /// Set, extend or (GOVERNANCE, with bypass) shorten or remove the retention.
    Retention(Option<Retention>),
    LegalHold(bool),
    Acl(crate::model::CannedAcl),
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
}
