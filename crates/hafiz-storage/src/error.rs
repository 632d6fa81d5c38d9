#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("i/o on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("blob not found: {0}")]
    NotFound(String),
    #[error("blob {id} is shorter than expected")]
    Truncated { id: String },
    #[error("invalid blob id")]
    InvalidId,
}

impl StorageError {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;
