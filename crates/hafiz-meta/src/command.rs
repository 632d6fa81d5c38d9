//! Metadata mutations. Each is applied atomically (one RocksDB write batch) by
//! [`crate::MetaStore::apply`]; preconditions are checked inside `apply` so that they
//! hold against concurrent writers (and, later, against the Raft log order).

use serde::{Deserialize, Serialize};

use crate::model::{BucketInfo, ObjectVersion, PartInfo, UploadInfo};

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
    /// Make `version` the current version of its key (replacing the `null` version).
    PutObject {
        bucket: String,
        version: ObjectVersion,
        condition: WriteCondition,
    },
    DeleteObject {
        bucket: String,
        key: String,
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
}

/// What an applied command left behind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Blob ids no longer referenced: the caller deletes them from the data store
    /// after the commit (a crash in between leaves orphans, collected on start).
    pub released_blobs: Vec<String>,
    /// For DeleteObject: whether a version was removed.
    pub removed: bool,
}
