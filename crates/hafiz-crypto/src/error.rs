use thiserror::Error;

#[derive(Debug, Error)]
pub enum CryptoError {
    /// A sealed chunk or wrapped key failed authentication: tampered, truncated, or
    /// opened with the wrong key. Never turned into bytes.
    #[error("sealed data failed authentication (tampered, truncated or wrong key)")]
    Unauthentic,
    #[error("the ciphertext ended before the range it holds")]
    Truncated,
    #[error("no key {0} in the key service")]
    NoSuchKey(String),
    #[error("key {0} is disabled")]
    Disabled(String),
    #[error("key {key} has no version {version}")]
    NoSuchVersion { key: String, version: String },
    #[error("invalid key: {0}")]
    Invalid(String),
    #[error("key {0} exists")]
    Exists(String),
    #[error("master key: {0}")]
    Master(String),
    /// The master key is the operator's (environment or cluster secret): the server
    /// cannot replace it.
    #[error("{0}")]
    MasterNotOurs(String),
    /// The external KMS refused, failed or could not be reached.
    #[error("KMIP: {0}")]
    Kmip(String),
    /// Nothing answered at the KMIP server's address (it may be starting).
    #[error("KMIP: {0}")]
    KmipUnreachable(String),
    #[error("metadata: {0}")]
    Meta(#[from] hafiz_meta::MetaError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type CryptoResult<T> = Result<T, CryptoError>;
