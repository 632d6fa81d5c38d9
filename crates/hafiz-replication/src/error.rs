use hafiz_meta::MetaError;

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error("{0}")]
    Invalid(String),
    #[error("replication target {0} exists")]
    Exists(String),
    #[error("no replication target {0}")]
    NotFound(String),
    #[error("replication target in use: {0}")]
    InUse(String),
    #[error("replication target unreachable: {0}")]
    Unreachable(String),
    #[error("cannot open the target's sealed secret")]
    Unseal,
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("job engine: {0}")]
    Jobs(String),
}

pub type ReplicationResult<T> = Result<T, ReplicationError>;
