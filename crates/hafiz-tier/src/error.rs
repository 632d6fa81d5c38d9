use hafiz_meta::MetaError;
use hafiz_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// The operator's tier description is wrong (the message says how).
    #[error("{0}")]
    Invalid(String),
    #[error("tier {0} exists")]
    Exists(String),
    #[error("no tier {0}")]
    NotFound(String),
    /// The tier still holds copies, or deletions of copies are pending.
    #[error("{0}")]
    InUse(String),
    /// The remote endpoint refused the tier's bucket or credentials.
    #[error("the tier's endpoint is not usable: {0}")]
    Unreachable(String),
    #[error("the tier's secret cannot be opened with this server's keys")]
    Unseal,
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type TierResult<T> = Result<T, TierError>;
