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
    /// A missing IAM entity: what kind, and AWS IAM's message about it.
    #[error("{message}")]
    NoSuchEntity { kind: Entity, message: String },
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    /// A bucket or account quota would be exceeded.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    NoSuchJob(String),
    /// A job is not in a state the command can act on (or its lease is another's).
    #[error("{0}")]
    JobConflict(String),
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
    /// The metadata cluster cannot take or answer the request now (no leader, no
    /// quorum, shutting down): retryable.
    #[error("metadata unavailable: {0}")]
    Unavailable(String),
}

pub type MetaResult<T> = Result<T, MetaError>;

impl MetaError {
    /// A fault of the store itself rather than an answer about the data: a
    /// replicated state machine must stop on these instead of recording them as the
    /// command's result.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            MetaError::Store(_)
                | MetaError::Codec(_)
                | MetaError::NoMirror
                | MetaError::Join(_)
                | MetaError::NotInMemory
        )
    }
}

/// The kinds of IAM rows a command can find missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Entity {
    User,
    Group,
    Policy,
    AccessKey,
    /// An inline policy of a user.
    UserPolicy,
    /// An inline policy of a group.
    GroupPolicy,
    /// A managed policy named as attached that is not.
    AttachedPolicy,
    /// A user named as a group member that is not.
    GroupMember,
    Account,
    RateLimit,
}

impl Entity {
    /// How AWS IAM's messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Group => "group",
            Entity::Policy => "policy",
            Entity::AccessKey => "Access Key",
            Entity::UserPolicy => "user policy",
            Entity::GroupPolicy => "group policy",
            Entity::AttachedPolicy => "attached policy",
            Entity::GroupMember => "group member",
            Entity::Account => "account",
            Entity::RateLimit => "rate limit",
        }
    }
}

impl From<rocksdb::Error> for MetaError {
    fn from(e: rocksdb::Error) -> MetaError {
        match e.kind() {
            rocksdb::ErrorKind::Incomplete => MetaError::NotInMemory,
            _ => MetaError::Store(e),
        }
    }
}
