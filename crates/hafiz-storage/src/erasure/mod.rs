//! The erasure-coded store: blobs cut into blocks, each block Reed-Solomon coded into
//! k data + m parity shards on the k+m drives of one erasure set, every chunk
//! checksummed. Writes are acknowledged at write quorum; reads reconstruct around
//! missing or rotten shards and queue the blob for healing.

mod heal;
mod reader;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

pub use heal::HealReport;

use crate::codec::{ErasureCodec, ReedSolomonCodec};
use crate::drive::{self, Drive, DriveStatus, Topology};
use crate::error::{StorageError, StorageResult};
use crate::layout;
use crate::{BlobStore, BlobWriter, ByteStream};

pub(crate) struct ErasureSet {
    pub index: usize,
    pub drives: Vec<Arc<Drive>>,
    pub k: usize,
    pub m: usize,
    pub codec: Arc<dyn ErasureCodec>,
    /// Object bytes per coded block for new writes (reads use each blob's header).
    pub block_size: u64,
}

impl ErasureSet {
    /// The drive holding shard `shard` of blob `id`. Shards are rotated by a hash of the
    /// id so parity (and read load) spreads over every drive of the set.
    pub fn drive_for(&self, id: &str, shard: usize) -> &Arc<Drive> {
        let n = self.drives.len();
        let rot = u64::from_str_radix(&id[id.len() - 8..], 16).unwrap_or(0) as usize % n;
        &self.drives[(shard + rot) % n]
    }

    pub fn write_quorum(&self) -> usize {
        layout::write_quorum(self.k, self.m)
    }

    pub fn online(&self) -> usize {
        self.drives.iter().filter(|d| d.online()).count()
    }
}

pub(crate) struct Inner {
    pub sets: Vec<ErasureSet>,
    /// Blobs a read found damaged, waiting for the healer: id → size.
    pub damaged: Mutex<HashMap<String, u64>>,
}

impl Inner {
    pub fn set_of(&self, id: &str) -> StorageResult<&ErasureSet> {
        if !valid_id(id) {
            return Err(StorageError::InvalidId);
        }
        let s = usize::from_str_radix(&id[..4], 16).map_err(|_| StorageError::InvalidId)?;
        self.sets.get(s).ok_or(StorageError::InvalidId)
    }

    pub fn report_damage(&self, id: &str, size: u64) {
        self.damaged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), size);
    }
}

/// Blob ids: 4 hex digits of erasure set, then a random UUID (32 hex digits).
pub(crate) fn valid_id(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Clone)]
pub struct ErasureStore {
    inner: Arc<Inner>,
}

impl ErasureStore {
    pub fn new(topology: &Topology) -> StorageResult<ErasureStore> {
        ErasureStore::with_block_size(topology, crate::shard::BLOCK_SIZE)
    }

    /// A store writing blocks of `block_size` bytes (benchmarks compare sizes).
    pub fn with_block_size(topology: &Topology, block_size: u64) -> StorageResult<ErasureStore> {
        if block_size == 0 || block_size > u32::MAX as u64 {
            return Err(StorageError::Layout(format!(
                "block size {block_size} out of range"
            )));
        }
        let mut sets = Vec::new();
        for (index, drives) in topology.sets.iter().enumerate() {
            let n = drives.len();
            let m = topology.parity;
            layout::validate_parity(n, m)?;
            let k = n - m;
            sets.push(ErasureSet {
                index,
                drives: drives.clone(),
                k,
                m,
                codec: Arc::new(ReedSolomonCodec::new(k, m)?),
                block_size,
            });
        }
        Ok(ErasureStore {
            inner: Arc::new(Inner {
                sets,
                damaged: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Open (formatting if needed) the drives and build the store.
    pub fn open(paths: &[PathBuf], parity: Option<usize>) -> StorageResult<ErasureStore> {
        let topology = drive::assemble(paths, parity)?;
        ErasureStore::new(&topology)
    }

    pub fn drives(&self) -> Vec<DriveStatus> {
        self.inner
            .sets
            .iter()
            .flat_map(|s| s.drives.iter().map(|d| d.status()))
            .collect()
    }

    /// "k+m" per set, for logs.
    pub fn layout_summary(&self) -> String {
        let s = &self.inner.sets[0];
        format!("{} set(s) of {}+{}", self.inner.sets.len(), s.k, s.m)
    }

    /// Re-check every drive; a drive directory that reappears empty (a replaced disk)
    /// is formatted into its old slot and marked for healing.
    pub fn refresh_drives(&self) {
        for d in self.inner.sets.iter().flat_map(|s| s.drives.iter()) {
            let was = d.online();
            if d.refresh() {
                if !was {
                    tracing::info!(drive = %d.path.display(), "drive back online");
                }
                continue;
            }
            if drive::reformat_if_empty(d) {
                tracing::warn!(drive = %d.path.display(), "empty drive formatted into its slot; healing it");
                d.set_healing(true);
                d.refresh();
            } else if was {
                tracing::warn!(drive = %d.path.display(), "drive offline");
            }
        }
    }

    /// Whether any drive is waiting to be rebuilt.
    pub fn needs_full_heal(&self) -> bool {
        self.inner
            .sets
            .iter()
            .flat_map(|s| s.drives.iter())
            .any(|d| d.online() && d.healing())
    }

    /// Mark healing drives as done (after a complete heal pass).
    pub fn finish_full_heal(&self) {
        for d in self.inner.sets.iter().flat_map(|s| s.drives.iter()) {
            if d.healing() {
                tracing::info!(drive = %d.path.display(), "drive healed");
                d.set_healing(false);
            }
        }
    }

    /// Blobs found damaged by reads since the last call.
    pub fn take_damaged(&self) -> Vec<(String, u64)> {
        std::mem::take(&mut *self.inner.damaged.lock().unwrap_or_else(|e| e.into_inner()))
            .into_iter()
            .collect()
    }

    /// The id under which this store keeps a blob named `name` (32 hex digits, e.g.
    /// a UUID) by another layer: its set is chosen from the name, stably.
    pub fn id_for(&self, name: &str) -> String {
        format!("{:04x}{name}", placement_set(name, self.inner.sets.len()))
    }

    /// A writer for a blob of a given id (from [`ErasureStore::id_for`]) that is
    /// always stored in shard files, however small: the cluster layer keeps its
    /// shards here and must find them by id.
    pub fn writer_with_id(&self, id: &str) -> StorageResult<Box<dyn BlobWriter>> {
        let set = self.inner.set_of(id)?.index;
        Ok(Box::new(writer::ErasureWriter::with_id(
            self.inner.clone(),
            set,
            id.to_string(),
        )))
    }

    /// Verify every shard of a blob and rebuild the missing or rotten ones.
    pub async fn heal(&self, id: &str, size: u64, dry_run: bool) -> StorageResult<HealReport> {
        let inner = self.inner.clone();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || heal::heal_blob(&inner, &id, size, dry_run))
            .await
            .map_err(|e| StorageError::Join(e.to_string()))?
    }
}

fn placement_set(hint: &str, sets: usize) -> usize {
    // A stable hash (not std's randomized one): the same bucket/key always maps to
    // the same set, across restarts and versions.
    (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, hint.as_bytes()) % sets as u64) as usize
}

#[async_trait]
impl BlobStore for ErasureStore {
    async fn writer(&self, placement: &str) -> StorageResult<Box<dyn BlobWriter>> {
        let set = placement_set(placement, self.inner.sets.len());
        Ok(Box::new(writer::ErasureWriter::new(
            self.inner.clone(),
            set,
        )))
    }

    async fn read(&self, id: &str, size: u64, offset: u64, len: u64) -> StorageResult<ByteStream> {
        reader::read(self.inner.clone(), id, size, offset, len).await
    }

    async fn delete(&self, id: &str) -> StorageResult<()> {
        let set = self.inner.set_of(id)?;
        let paths: Vec<PathBuf> = set.drives.iter().map(|d| d.shard_path(id)).collect();
        tokio::task::spawn_blocking(move || {
            for p in paths {
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    // An offline drive keeps its copy; the orphan sweep removes it later.
                    Err(e) => {
                        tracing::warn!(path = %p.display(), error = %e, "cannot delete shard")
                    }
                }
            }
        })
        .await
        .map_err(|e| StorageError::Join(e.to_string()))
    }

    async fn blob_ids(&self) -> StorageResult<Vec<(String, std::time::SystemTime)>> {
        let dirs: Vec<PathBuf> = self
            .inner
            .sets
            .iter()
            .flat_map(|s| s.drives.iter())
            .filter(|d| d.online())
            .map(|d| d.path.join(drive::SHARDS_DIR))
            .collect();
        tokio::task::spawn_blocking(move || {
            let mut ids: HashMap<String, std::time::SystemTime> = HashMap::new();
            for root in dirs {
                let Ok(rd) = std::fs::read_dir(&root) else {
                    continue;
                };
                for sub in rd.flatten() {
                    let Ok(files) = std::fs::read_dir(sub.path()) else {
                        continue;
                    };
                    for f in files.flatten() {
                        let name = f.file_name();
                        let Some(n) = name.to_str().filter(|n| valid_id(n)) else {
                            continue;
                        };
                        let mtime = f
                            .metadata()
                            .and_then(|m| m.modified())
                            .unwrap_or(std::time::SystemTime::now());
                        let e = ids.entry(n.to_string()).or_insert(mtime);
                        *e = (*e).max(mtime);
                    }
                }
            }
            ids.into_iter().collect()
        })
        .await
        .map_err(|e| StorageError::Join(e.to_string()))
    }

    async fn ready(&self) -> bool {
        self.inner
            .sets
            .iter()
            .all(|s| s.online() >= s.write_quorum())
    }
}
