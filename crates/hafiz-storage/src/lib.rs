//! Hafiz object data storage. The S3 layer streams bodies into a [`BlobWriter`] and
//! reads them back as byte streams; where the bytes live (inline in metadata, a local
//! file, erasure-coded shards) is the store's business.

pub mod error;
pub mod local;

pub use error::{StorageError, StorageResult};
pub use local::LocalBlobStore;

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
    /// Start writing a new blob.
    async fn writer(&self) -> StorageResult<Box<dyn BlobWriter>>;
    /// Stream `len` bytes of blob `id` from `offset`.
    async fn read(&self, id: &str, offset: u64, len: u64) -> StorageResult<ByteStream>;
    /// Remove a blob; removing a missing blob is not an error.
    async fn delete(&self, id: &str) -> StorageResult<()>;
    /// Every stored blob id (for orphan collection).
    async fn blob_ids(&self) -> StorageResult<Vec<String>>;
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
