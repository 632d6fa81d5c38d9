//! The first storage backend: one file per blob under a data directory.
//!
//! Crash safety: a blob is written to `tmp/`, fsynced, renamed into `blobs/xx/`, and
//! the directory fsynced, all before `finish` returns; only then does the caller
//! commit metadata. A crash leaves either a temporary (removed on start) or an
//! unreferenced blob (collected on start), never a half-written visible object. Blob
//! ids are generated here (UUIDs), so object keys never become paths.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::error::{StorageError, StorageResult};
use crate::{BlobStore, BlobWriter, ByteStream, INLINE_THRESHOLD, StoredBlob};

const READ_CHUNK: usize = 256 * 1024;
/// Writes are gathered to this size before they reach the file, so that a body arriving
/// in small network frames costs few syscalls.
const WRITE_BUFFER: usize = 1024 * 1024;

#[derive(Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

impl LocalBlobStore {
    /// Open (creating if needed) the store under `root`, and remove temporaries left by
    /// a crash.
    pub fn open(root: &Path) -> StorageResult<LocalBlobStore> {
        let store = LocalBlobStore {
            root: root.to_path_buf(),
        };
        for dir in [store.tmp_dir(), store.root.join("blobs")] {
            std::fs::create_dir_all(&dir).map_err(|e| StorageError::io(&dir, e))?;
        }
        let tmp = store.tmp_dir();
        let mut removed = 0;
        for entry in std::fs::read_dir(&tmp).map_err(|e| StorageError::io(&tmp, e))? {
            let entry = entry.map_err(|e| StorageError::io(&tmp, e))?;
            std::fs::remove_file(entry.path()).map_err(|e| StorageError::io(entry.path(), e))?;
            removed += 1;
        }
        if removed > 0 {
            tracing::info!(
                removed,
                "removed temporary files left by an interrupted write"
            );
        }
        Ok(store)
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn blob_path(&self, id: &str) -> PathBuf {
        self.root.join("blobs").join(&id[..2]).join(id)
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

struct LocalWriter {
    store: LocalBlobStore,
    id: String,
    buf: BytesMut,
    file: Option<tokio::fs::File>,
    written: u64,
}

impl LocalWriter {
    fn tmp_path(&self) -> PathBuf {
        self.store.tmp_dir().join(&self.id)
    }

    async fn spill(&mut self) -> StorageResult<()> {
        if self.file.is_none() {
            let path = self.tmp_path();
            let f = tokio::fs::File::create(&path)
                .await
                .map_err(|e| StorageError::io(&path, e))?;
            self.file = Some(f);
        }
        let chunk = self.buf.split().freeze();
        if let Some(f) = self.file.as_mut() {
            f.write_all(&chunk)
                .await
                .map_err(|e| StorageError::io(self.store.tmp_dir(), e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, chunk: Bytes) -> StorageResult<()> {
        self.written += chunk.len() as u64;
        self.buf.extend_from_slice(&chunk);
        let limit = if self.file.is_none() {
            INLINE_THRESHOLD
        } else {
            WRITE_BUFFER
        };
        if self.buf.len() > limit {
            self.spill().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StorageResult<StoredBlob> {
        if self.file.is_none() {
            return Ok(StoredBlob::Inline(self.buf.split().freeze()));
        }
        self.spill().await?;
        let tmp = self.tmp_path();
        let mut file = self.file.take().expect("spilled");
        file.flush().await.map_err(|e| StorageError::io(&tmp, e))?;
        file.sync_all()
            .await
            .map_err(|e| StorageError::io(&tmp, e))?;
        drop(file);
        let dest = self.store.blob_path(&self.id);
        let (id, size) = (self.id.clone(), self.written);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = dest.parent().expect("blob paths have a parent");
            if !dir.exists() {
                std::fs::create_dir_all(dir)?;
                sync_dir(dir.parent().expect("blobs dir"))?;
            }
            std::fs::rename(&tmp, &dest)?;
            sync_dir(dir)
        })
        .await
        .map_err(|e| StorageError::io(&self.store.root, std::io::Error::other(e)))?
        .map_err(|e| StorageError::io(&self.store.root, e))?;
        Ok(StoredBlob::Stored { id, size })
    }

    async fn abort(mut self: Box<Self>) {
        if self.file.take().is_some() {
            let _ = tokio::fs::remove_file(self.tmp_path()).await;
        }
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        // A writer dropped mid-stream (client went away) must not leave its temporary
        // behind until the next restart.
        if self.file.take().is_some() {
            let path = self.tmp_path();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = tokio::fs::remove_file(path).await;
                });
            }
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn writer(&self) -> StorageResult<Box<dyn BlobWriter>> {
        Ok(Box::new(LocalWriter {
            store: self.clone(),
            id: uuid::Uuid::new_v4().simple().to_string(),
            buf: BytesMut::new(),
            file: None,
            written: 0,
        }))
    }

    async fn read(&self, id: &str, offset: u64, len: u64) -> StorageResult<ByteStream> {
        if !valid_id(id) {
            return Err(StorageError::InvalidId);
        }
        let path = self.blob_path(id);
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => StorageError::NotFound(id.to_string()),
                _ => StorageError::io(&path, e),
            })?;
        if offset > 0 {
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|e| StorageError::io(&path, e))?;
        }
        let id = id.to_string();
        let reader = tokio_util::io::ReaderStream::with_capacity(file.take(len), READ_CHUNK);
        // A file shorter than its metadata says (lost or truncated data) must end the
        // stream with an error, never with silently short content.
        let stream = reader
            .map(move |r| r.map_err(|e| StorageError::io(&path, e)))
            .chain(futures_util::stream::once(async { Ok(Bytes::new()) }))
            .scan(0u64, move |count, item| {
                let out = match item {
                    Ok(b) if b.is_empty() && *count < len => {
                        Err(StorageError::Truncated { id: id.clone() })
                    }
                    Ok(b) => {
                        *count += b.len() as u64;
                        Ok(b)
                    }
                    Err(e) => Err(e),
                };
                futures_util::future::ready(Some(out))
            })
            .filter(|item| futures_util::future::ready(!matches!(item, Ok(b) if b.is_empty())));
        Ok(stream.boxed())
    }

    async fn delete(&self, id: &str) -> StorageResult<()> {
        if !valid_id(id) {
            return Err(StorageError::InvalidId);
        }
        let path = self.blob_path(id);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::io(&path, e)),
        }
    }

    async fn blob_ids(&self) -> StorageResult<Vec<String>> {
        let root = self.root.join("blobs");
        tokio::task::spawn_blocking(move || -> StorageResult<Vec<String>> {
            let mut ids = Vec::new();
            for dir in std::fs::read_dir(&root).map_err(|e| StorageError::io(&root, e))? {
                let dir = dir.map_err(|e| StorageError::io(&root, e))?.path();
                for f in std::fs::read_dir(&dir).map_err(|e| StorageError::io(&dir, e))? {
                    let name = f.map_err(|e| StorageError::io(&dir, e))?.file_name();
                    if let Some(n) = name.to_str().filter(|n| valid_id(n)) {
                        ids.push(n.to_string());
                    }
                }
            }
            Ok(ids)
        })
        .await
        .map_err(|e| StorageError::io("blobs", std::io::Error::other(e)))?
    }

    async fn ready(&self) -> bool {
        tokio::fs::metadata(self.tmp_dir()).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(s: ByteStream) -> StorageResult<Vec<u8>> {
        let mut out = Vec::new();
        let mut s = s;
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn small_writes_stay_inline_large_ones_become_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let mut w = store.writer().await.unwrap();
        w.write(Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(
            w.finish().await.unwrap(),
            StoredBlob::Inline(Bytes::from_static(b"hello"))
        );

        let data: Vec<u8> = (0..(INLINE_THRESHOLD * 3))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut w = store.writer().await.unwrap();
        for c in data.chunks(10_000) {
            w.write(Bytes::copy_from_slice(c)).await.unwrap();
        }
        let StoredBlob::Stored { id, size } = w.finish().await.unwrap() else {
            panic!("inline")
        };
        assert_eq!(size, data.len() as u64);
        assert_eq!(
            collect(store.read(&id, 0, size).await.unwrap())
                .await
                .unwrap(),
            data
        );
        let part = collect(store.read(&id, 1000, 5000).await.unwrap())
            .await
            .unwrap();
        assert_eq!(part, &data[1000..6000]);
        assert!(
            std::fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none()
        );
        store.delete(&id).await.unwrap();
        assert!(matches!(
            store.read(&id, 0, 1).await,
            Err(StorageError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn reading_past_the_end_is_an_error_not_short_data() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let mut w = store.writer().await.unwrap();
        w.write(Bytes::from(vec![7u8; INLINE_THRESHOLD + 1]))
            .await
            .unwrap();
        let StoredBlob::Stored { id, size } = w.finish().await.unwrap() else {
            panic!()
        };
        assert!(
            collect(store.read(&id, 0, size + 10).await.unwrap())
                .await
                .is_err()
        );
        assert!(store.read("../../etc/passwd", 0, 1).await.is_err());
    }

    #[tokio::test]
    async fn leftover_temporaries_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let mut w = store.writer().await.unwrap();
        w.write(Bytes::from(vec![1u8; INLINE_THRESHOLD + 1]))
            .await
            .unwrap();
        std::mem::forget(w); // as if the process died mid-write
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            1
        );
        LocalBlobStore::open(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
