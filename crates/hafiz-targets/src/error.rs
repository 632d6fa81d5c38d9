use thiserror::Error;

#[derive(Debug, Error)]
pub enum TargetError {
    #[error("{0}")]
    Invalid(String),
    #[error("notification target {0} exists")]
    Exists(String),
    #[error("no notification target {0}")]
    NotFound(String),
    #[error("{0}")]
    InUse(String),
    #[error("target unreachable: {0}")]
    Unreachable(String),
    #[error("a target's sealed secret cannot be opened (was the root secret changed?)")]
    Unseal,
    #[error(transparent)]
    Meta(#[from] hafiz_meta::MetaError),
}

pub type TargetResult<T> = Result<T, TargetError>;
