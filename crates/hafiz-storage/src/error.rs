#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("i/o on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("blob not found: {0}")]
    NotFound(String),
    #[error("invalid blob id")]
    InvalidId,
    #[error("drive layout: {0}")]
    Layout(String),
    #[error("erasure code: {0}")]
    Codec(String),
    #[error("corrupt shard: {0}")]
    Corrupt(String),
    #[error("only {have} of the {need} shards needed are readable")]
    NotEnoughShards { have: usize, need: usize },
    #[error("only {online} drives of the {need} needed for a write are available")]
    WriteQuorum { online: usize, need: usize },
    #[error("background task: {0}")]
    Join(String),
    /// A remote tier (an S3 endpoint) failed or could not be reached.
    #[error("remote tier: {0}")]
    Remote(String),
}

impl StorageError {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// Failures that mean "not enough drives right now" rather than a fault of the data.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StorageError::NotEnoughShards { .. } | StorageError::WriteQuorum { .. }
        )
    }
}

pub type StorageResult<T> = Result<T, StorageError>;
