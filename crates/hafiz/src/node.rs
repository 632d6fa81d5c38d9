//! Opening a node's storage: drives into erasure sets, and the metadata store on its
//! mirror drives (or on `--meta-dir`).

use std::path::PathBuf;

use anyhow::Context;
use hafiz_meta::MetaStore;
use hafiz_storage::ErasureStore;

use crate::config::StorageConfig;

/// Metadata is mirrored on this many drives (of the first erasure set) by default, so
/// that losing the first drive does not lose the node's metadata.
const META_MIRRORS: usize = 3;

pub struct Node {
    /// Exclusive locks on the drives, held while the node is open.
    _locks: Vec<std::fs::File>,
    pub blobs: ErasureStore,
    pub meta: MetaStore,
    /// The drive roots that hold metadata mirrors and the root credentials.
    pub system_dirs: Vec<PathBuf>,
}

/// Lock every drive directory that exists, before anything on them is touched: a
/// second process (an `admin heal` next to a running server) must refuse cleanly
/// rather than format, clean or heal drives the server is using.
fn lock_drives(drives: &[PathBuf]) -> anyhow::Result<Vec<std::fs::File>> {
    let mut locks = Vec::new();
    // Missing drive directories are created here, as assembling would (a wiped drive
    // comes back blank), so that they are locked too.
    for d in drives.iter().filter(|d| std::fs::create_dir_all(d).is_ok()) {
        let path = d.join(LOCK_FILE);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match f.try_lock() {
            Ok(()) => locks.push(f),
            Err(std::fs::TryLockError::WouldBlock) => {
                anyhow::bail!(
                    "drive {} is in use by another hafiz process (is the server running?)",
                    d.display()
                )
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
    Ok(locks)
}

/// The lock file in each drive's root.
pub const LOCK_FILE: &str = "node.lock";

pub fn open(cfg: &StorageConfig) -> anyhow::Result<Node> {
    let locks = lock_drives(&cfg.drives)?;
    let blobs =
        ErasureStore::open(&cfg.drives, cfg.parity).context("cannot assemble the drives")?;
    let mut first_set: Vec<_> = blobs.drives().into_iter().filter(|d| d.set == 0).collect();
    first_set.sort_by_key(|d| d.slot);
    let mirror_drives: Vec<PathBuf> = first_set
        .iter()
        .filter(|d| d.state != "offline")
        .take(META_MIRRORS)
        .map(|d| PathBuf::from(&d.path))
        .collect();
    let meta_dirs: Vec<PathBuf> = match &cfg.meta_dir {
        Some(dir) => vec![dir.clone()],
        None => mirror_drives.iter().map(|d| d.join("meta")).collect(),
    };
    let system_dirs = match &cfg.meta_dir {
        Some(dir) => vec![dir.clone()],
        None => mirror_drives,
    };
    let meta = MetaStore::open_mirrored(&meta_dirs).context("cannot open the metadata store")?;
    Ok(Node {
        _locks: locks,
        blobs,
        meta,
        system_dirs,
    })
}
