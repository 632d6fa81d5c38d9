//! Where a tier keeps copies: a set of local drives (erasure-coded like the hot
//! drives) or a bucket of an S3 endpoint. Copies are named by the job that writes
//! them, so writing a name again (a job run again after a crash) replaces the copy
//! instead of leaving a second one behind.

use std::path::PathBuf;

use async_trait::async_trait;
use futures_util::StreamExt;
use hafiz_storage::{BlobStore, ByteStream, ErasureStore, StorageError, StorageResult};

/// Bytes to copy into a tier, readable by range (a multipart remote write reads
/// each part on its own).
#[async_trait]
pub trait Source: Send + Sync {
    async fn read(&self, offset: u64, len: u64) -> StorageResult<ByteStream>;
}

#[async_trait]
pub trait TierStore: Send + Sync + 'static {
    /// Write copy `name` of `size` bytes from `src`, replacing one of that name.
    async fn put(&self, name: &str, size: u64, src: &dyn Source) -> StorageResult<()>;
    /// Stream `len` bytes from `offset` of copy `name` (whose size is `size`).
    async fn read(&self, name: &str, size: u64, offset: u64, len: u64)
    -> StorageResult<ByteStream>;
    /// Remove a copy; removing a missing one is not an error.
    async fn delete(&self, name: &str) -> StorageResult<()>;
}

/// A tier on local drives.
pub struct LocalTier {
    store: ErasureStore,
}

impl LocalTier {
    pub async fn open(drives: Vec<PathBuf>, parity: Option<usize>) -> StorageResult<LocalTier> {
        let store = tokio::task::spawn_blocking(move || ErasureStore::open(&drives, parity))
            .await
            .map_err(|e| StorageError::Join(e.to_string()))??;
        Ok(LocalTier { store })
    }

    fn id(&self, name: &str) -> String {
        self.store.id_for(name)
    }
}

#[async_trait]
impl TierStore for LocalTier {
    async fn put(&self, name: &str, size: u64, src: &dyn Source) -> StorageResult<()> {
        let mut w = self.store.writer_with_id(&self.id(name))?;
        let mut body = src.read(0, size).await?;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => {
                    if let Err(e) = w.write(c).await {
                        w.abort().await;
                        return Err(e);
                    }
                }
                Err(e) => {
                    w.abort().await;
                    return Err(e);
                }
            }
        }
        w.finish().await.map(|_| ())
    }

    async fn read(
        &self,
        name: &str,
        size: u64,
        offset: u64,
        len: u64,
    ) -> StorageResult<ByteStream> {
        self.store.read(&self.id(name), size, offset, len).await
    }

    async fn delete(&self, name: &str) -> StorageResult<()> {
        self.store.delete(&self.id(name)).await
    }
}
