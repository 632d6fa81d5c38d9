//! Errors of the metadata layer. Domain outcomes (a missing bucket, a failed
//! precondition) are variants the S3 layer maps to S3 error codes; storage faults are
//! `Store`/`Codec`.

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("no such bucket: {0}")]
    NoSuchBucket(String),
    #[error("bucket already exists: {0}")]
    BucketExists(String),
    #[error("bucket not empty: {0}")]
    BucketNotEmpty(String),
    #[error("no such key")]
    NoSuchKey,
    #[error("no such version")]
    NoSuchVersion,
    /// The version is a delete marker, which has no tags, retention or data.
    #[error("the version is a delete marker")]
    DeleteMarker,
    /// Retention or a legal hold forbids the change.
    #[error("object locked")]
    ObjectLocked,
    #[error("invalid bucket state: {0}")]
    InvalidBucketState(String),
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    /// A bucket or account quota would be exceeded.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("no such upload")]
    NoSuchUpload,
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("invalid part {0}")]
    InvalidPart(u32),
    #[error("rocksdb: {0}")]
    Store(rocksdb::Error),
    /// A [`crate::kv::ReadMode::MemoryOnly`] read needed disk I/O.
    #[error("row not in memory")]
    NotInMemory,
    #[error("row encoding: {0}")]
    Codec(String),
    #[error("no metadata mirror could be opened")]
    NoMirror,
    #[error("background task: {0}")]
    Join(String),
}

pub type MetaResult<T> = Result<T, MetaError>;

impl From<rocksdb::Error> for MetaError {
    fn from(e: rocksdb::Error) -> MetaError {
        match e.kind() {
            rocksdb::ErrorKind::Incomplete => MetaError::NotInMemory,
            _ => MetaError::Store(e),
        }
    }
}
