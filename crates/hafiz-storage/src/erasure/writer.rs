//! Streaming writes: body bytes are gathered into blocks, each block is coded and its
//! chunks appended to k+m temporary shard files; at the end the shards are fsynced
//! and renamed into place on every drive, and the write succeeds only if a write
//! quorum of drives made it.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use super::Inner;
use crate::error::{StorageError, StorageResult};
use crate::shard::{self, ShardHeader};
use crate::{BlobWriter, INLINE_THRESHOLD, StoredBlob};

/// The shard files, one per shard (None once its drive failed).
type ShardFiles = Vec<Option<File>>;
/// A block being coded and written: hands the files back with its outcome.
type BlockTask = tokio::task::JoinHandle<(ShardFiles, StorageResult<()>)>;

pub(crate) struct ErasureWriter {
    inner: Arc<Inner>,
    set: usize,
    id: String,
    buf: BytesMut,
    /// One temporary file per shard; None once its drive failed. None overall until the
    /// body outgrew the inline threshold.
    files: Option<Vec<Option<File>>>,
    /// The block being coded and written while the next one is gathered; it holds
    /// the files until it is settled.
    inflight: Option<BlockTask>,
    /// The body outgrew the inline threshold and shard files exist.
    spilled: bool,
    /// Never inline, even a small body (a shard of the cluster layer).
    always_store: bool,
    size: u64,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> StorageResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Join(e.to_string()))
}

impl ErasureWriter {
    pub fn new(inner: Arc<Inner>, set: usize) -> ErasureWriter {
        let id = format!("{set:04x}{}", uuid::Uuid::new_v4().simple());
        ErasureWriter {
            inner,
            set,
            id,
            buf: BytesMut::new(),
            files: None,
            inflight: None,
            spilled: false,
            always_store: false,
            size: 0,
        }
    }

    pub fn with_id(inner: Arc<Inner>, set: usize, id: String) -> ErasureWriter {
        let mut w = ErasureWriter::new(inner, set);
        w.id = id;
        w.always_store = true;
        w
    }

    fn check_quorum(&self, files: &[Option<File>]) -> StorageResult<()> {
        let set = &self.inner.sets[self.set];
        let alive = files.iter().filter(|f| f.is_some()).count();
        if alive < set.write_quorum() {
            return Err(StorageError::WriteQuorum {
                online: alive,
                need: set.write_quorum(),
            });
        }
        Ok(())
    }

    async fn open_files(&mut self) -> StorageResult<()> {
        let inner = self.inner.clone();
        let (set_idx, id) = (self.set, self.id.clone());
        let files = blocking(move || {
            let set = &inner.sets[set_idx];
            (0..set.k + set.m)
                .map(|i| {
                    let d = set.drive_for(&id, i);
                    if !d.online() {
                        return None;
                    }
                    let header = ShardHeader { k: set.k as u8, m: set.m as u8, index: i as u8, block_size: set.block_size as u32 };
                    let path = d.tmp_path(&id);
                    let r = File::create(&path).and_then(|mut f| f.write_all(&header.encode()).map(|_| f));
                    match r {
                        Ok(f) => Some(f),
                        Err(e) => {
                            tracing::warn!(path = %path.display(), error = %e, "shard write failed");
                            None
                        }
                    }
                })
                .collect::<Vec<_>>()
        })
        .await?;
        // Keep the files even when quorum is missed, so abort/drop remove what was
        // created instead of leaving temporaries until the next restart.
        let quorum = self.check_quorum(&files);
        self.files = Some(files);
        self.spilled = true;
        quorum?;
        Ok(())
    }

    /// Wait for the block in flight and take its files back.
    async fn settle(&mut self) -> StorageResult<()> {
        if let Some(h) = self.inflight.take() {
            let (files, result) = h.await.map_err(|e| StorageError::Join(e.to_string()))?;
            self.files = Some(files);
            result?;
            self.check_quorum(self.files.as_deref().unwrap_or(&[]))?;
        }
        Ok(())
    }

    async fn write_block(&mut self, block: Bytes) -> StorageResult<()> {
        self.settle().await?;
        let Some(mut files) = self.files.take() else {
            // Never silently drop a block: no files means the write cannot continue.
            let need = self.inner.sets[self.set].write_quorum();
            return Err(StorageError::WriteQuorum { online: 0, need });
        };
        let inner = self.inner.clone();
        let set_idx = self.set;
        self.inflight = Some(tokio::task::spawn_blocking(move || {
            let set = &inner.sets[set_idx];
            let (k, m) = (set.k, set.m);
            let len = block.len().div_ceil(k);
            // Full blocks split evenly: the data shards are slices of the block, not
            // copies. Only a short last block needs padded copies.
            let padded: Vec<Vec<u8>> = if block.len() == k * len {
                Vec::new()
            } else {
                shard::split_block(&block, k, 0)
            };
            let data: Vec<&[u8]> = if padded.is_empty() {
                block.chunks(len).collect()
            } else {
                padded.iter().map(Vec::as_slice).collect()
            };
            let mut parity = vec![vec![0u8; len]; m];
            if let Err(e) = set.codec.encode_sep(&data, &mut parity) {
                return (files, Err(e));
            }
            let chunks: Vec<&[u8]> = data
                .iter()
                .copied()
                .chain(parity.iter().map(Vec::as_slice))
                .collect();
            // One thread per drive: the drives are written in parallel.
            std::thread::scope(|scope| {
                for (f, chunk) in files.iter_mut().zip(&chunks) {
                    if f.is_none() {
                        continue;
                    }
                    scope.spawn(move || {
                        let file = f.as_mut().expect("checked");
                        let sum = shard::checksum(chunk);
                        if let Err(e) = file.write_all(chunk).and_then(|_| file.write_all(&sum)) {
                            tracing::warn!(error = %e, "shard write failed; continuing on the other drives");
                            *f = None;
                        }
                    });
                }
            });
            (files, Ok(()))
        }));
        Ok(())
    }

    fn cleanup_paths(&self) -> Vec<std::path::PathBuf> {
        self.inner.sets[self.set]
            .drives
            .iter()
            .map(|d| d.tmp_path(&self.id))
            .collect()
    }
}

#[async_trait]
impl BlobWriter for ErasureWriter {
    async fn write(&mut self, chunk: Bytes) -> StorageResult<()> {
        self.size += chunk.len() as u64;
        self.buf.extend_from_slice(&chunk);
        if !self.spilled {
            if self.buf.len() <= INLINE_THRESHOLD && !self.always_store {
                return Ok(());
            }
            self.open_files().await?;
        }
        let block_size = self.inner.sets[self.set].block_size as usize;
        while self.buf.len() >= block_size {
            let block = self.buf.split_to(block_size).freeze();
            self.write_block(block).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StorageResult<StoredBlob> {
        if !self.spilled && !self.always_store {
            return Ok(StoredBlob::Inline(self.buf.split().freeze()));
        }
        if !self.spilled {
            self.open_files().await?;
        }
        if !self.buf.is_empty() {
            let block = self.buf.split().freeze();
            self.write_block(block).await?;
        }
        self.settle().await?;
        let files = self.files.take().expect("files are open");
        let inner = self.inner.clone();
        let (set_idx, id) = (self.set, self.id.clone());
        let committed = blocking(move || {
            let set = &inner.sets[set_idx];
            // fsync and rename on every drive in parallel: the slowest drive, not the
            // sum of them, bounds the write.
            std::thread::scope(|scope| {
                let handles: Vec<_> = files
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, f)| f.map(|f| (i, f)))
                    .map(|(i, f)| {
                        let d = set.drive_for(&id, i).clone();
                        let id = id.clone();
                        scope.spawn(move || -> std::io::Result<()> {
                            f.sync_all()?;
                            drop(f);
                            let dest = d.shard_path(&id);
                            let dir = dest.parent().expect("shard paths have a parent");
                            if !dir.exists() {
                                std::fs::create_dir_all(dir)?;
                            }
                            std::fs::rename(d.tmp_path(&id), &dest)?;
                            File::open(dir)?.sync_all()
                        })
                    })
                    .collect();
                for h in handles {
                    match h.join() {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::warn!(error = %e, "shard commit failed; continuing on the other drives"),
                        Err(_) => tracing::warn!("shard commit thread panicked"),
                    }
                }
            });
            // count what is in place now
            (0..set.k + set.m).filter(|i| set.drive_for(&id, *i).shard_path(&id).exists()).count()
        })
        .await?;
        let set = &self.inner.sets[self.set];
        if committed < set.write_quorum() {
            let paths: Vec<_> = set.drives.iter().map(|d| d.shard_path(&self.id)).collect();
            let _ =
                blocking(move || paths.iter().for_each(|p| drop(std::fs::remove_file(p)))).await;
            return Err(StorageError::WriteQuorum {
                online: committed,
                need: set.write_quorum(),
            });
        }
        Ok(StoredBlob::Stored {
            id: self.id.clone(),
            size: self.size,
        })
    }

    async fn abort(mut self: Box<Self>) {
        let _ = self.settle().await;
        if self.files.take().is_some() {
            let paths = self.cleanup_paths();
            let _ =
                blocking(move || paths.iter().for_each(|p| drop(std::fs::remove_file(p)))).await;
        }
    }
}

impl Drop for ErasureWriter {
    fn drop(&mut self) {
        // A writer dropped mid-stream (the client went away) must not leave its
        // temporaries behind until the next restart.
        if self.files.take().is_some() || self.inflight.take().is_some() {
            let paths = self.cleanup_paths();
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn_blocking(move || paths.iter().for_each(|p| drop(std::fs::remove_file(p))));
            }
        }
    }
}
