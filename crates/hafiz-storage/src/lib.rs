//! Hafiz object data storage. The S3 layer streams bodies into a [`BlobWriter`] and
//! reads them back as byte streams; where the bytes live (inline in metadata, a local
//! file, erasure-coded shards) is the store's business.

pub mod codec;
pub mod drive;
pub mod erasure;
pub mod error;
pub mod layout;
pub mod release;
pub mod shard;

pub use drive::DriveStatus;
pub use erasure::{ErasureStore, HealReport};
pub use error::{StorageError, StorageResult};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

/// Objects at or below this size are kept inside their metadata row: one write and one
/// read instead of a file plus a row, and no fsync of a data file.
pub const INLINE_THRESHOLD: usize = 128 * 1024;

/// The result of a finished write.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredBlob {
    Inline(Bytes),
    Stored { id: String, size: u64 },
}

pub type ByteStream = BoxStream<'static, StorageResult<Bytes>>;

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Start writing a new blob; `placement` (bucket/key) picks where it goes, stably.
    async fn writer(&self, placement: &str) -> StorageResult<Box<dyn BlobWriter>>;
    /// Stream `len` bytes from `offset` of blob `id`, whose full size is `size`.
    async fn read(&self, id: &str, size: u64, offset: u64, len: u64) -> StorageResult<ByteStream>;
    /// Remove a blob; removing a missing blob is not an error.
    async fn delete(&self, id: &str) -> StorageResult<()>;
    /// Every stored blob id with its last modification (for orphan collection).
    async fn blob_ids(&self) -> StorageResult<Vec<(String, std::time::SystemTime)>>;
    /// Whether the store can take writes.
    async fn ready(&self) -> bool;
}

#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> StorageResult<()>;
    /// Make the blob durable and return where it is. Nothing is visible to readers
    /// before the caller commits the returned reference in metadata.
    async fn finish(self: Box<Self>) -> StorageResult<StoredBlob>;
    /// Drop what was written.
    async fn abort(self: Box<Self>);
}
