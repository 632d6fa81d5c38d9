//! Metadata errors as they cross the wire (a forwarded write's refusal) and the
//! Raft log (an entry's recorded answer). Storage faults lose their RocksDB detail
//! and become `Internal`.

use hafiz_meta::{Entity, MetaError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireError {
    NoSuchBucket(String),
    BucketExists(String),
    BucketNotEmpty(String),
    NoSuchKey,
    NoSuchVersion,
    DeleteMarker,
    ObjectLocked,
    InvalidBucketState(String),
    NoSuchEntity { kind: Entity, message: String },
    EntityAlreadyExists(String),
    DeleteConflict(String),
    LimitExceeded(String),
    QuotaExceeded(String),
    NoSuchUpload,
    NoSuchJob(String),
    JobConflict(String),
    PreconditionFailed,
    InvalidPart(u32),
    Unavailable(String),
    Internal(String),
}

impl From<MetaError> for WireError {
    fn from(e: MetaError) -> WireError {
        use MetaError as M;
        match e {
            M::NoSuchBucket(b) => WireError::NoSuchBucket(b),
            M::BucketExists(b) => WireError::BucketExists(b),
            M::BucketNotEmpty(b) => WireError::BucketNotEmpty(b),
            M::NoSuchKey => WireError::NoSuchKey,
            M::NoSuchVersion => WireError::NoSuchVersion,
            M::DeleteMarker => WireError::DeleteMarker,
            M::ObjectLocked => WireError::ObjectLocked,
            M::InvalidBucketState(m) => WireError::InvalidBucketState(m),
            M::NoSuchEntity { kind, message } => WireError::NoSuchEntity { kind, message },
            M::EntityAlreadyExists(m) => WireError::EntityAlreadyExists(m),
            M::DeleteConflict(m) => WireError::DeleteConflict(m),
            M::LimitExceeded(m) => WireError::LimitExceeded(m),
            M::QuotaExceeded(m) => WireError::QuotaExceeded(m),
            M::NoSuchUpload => WireError::NoSuchUpload,
            M::NoSuchJob(m) => WireError::NoSuchJob(m),
            M::JobConflict(m) => WireError::JobConflict(m),
            M::PreconditionFailed => WireError::PreconditionFailed,
            M::InvalidPart(n) => WireError::InvalidPart(n),
            M::Unavailable(m) => WireError::Unavailable(m),
            other => WireError::Internal(other.to_string()),
        }
    }
}

impl From<WireError> for MetaError {
    fn from(e: WireError) -> MetaError {
        use WireError as W;
        match e {
            W::NoSuchBucket(b) => MetaError::NoSuchBucket(b),
            W::BucketExists(b) => MetaError::BucketExists(b),
            W::BucketNotEmpty(b) => MetaError::BucketNotEmpty(b),
            W::NoSuchKey => MetaError::NoSuchKey,
            W::NoSuchVersion => MetaError::NoSuchVersion,
            W::DeleteMarker => MetaError::DeleteMarker,
            W::ObjectLocked => MetaError::ObjectLocked,
            W::InvalidBucketState(m) => MetaError::InvalidBucketState(m),
            W::NoSuchEntity { kind, message } => MetaError::NoSuchEntity { kind, message },
            W::EntityAlreadyExists(m) => MetaError::EntityAlreadyExists(m),
            W::DeleteConflict(m) => MetaError::DeleteConflict(m),
            W::LimitExceeded(m) => MetaError::LimitExceeded(m),
            W::QuotaExceeded(m) => MetaError::QuotaExceeded(m),
            W::NoSuchUpload => MetaError::NoSuchUpload,
            W::NoSuchJob(m) => MetaError::NoSuchJob(m),
            W::JobConflict(m) => MetaError::JobConflict(m),
            W::PreconditionFailed => MetaError::PreconditionFailed,
            W::InvalidPart(n) => MetaError::InvalidPart(n),
            W::Unavailable(m) => MetaError::Unavailable(m),
            W::Internal(m) => MetaError::Codec(m),
        }
    }
}
