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
    pub blobs: ErasureStore,
    pub meta: MetaStore,
    /// The drive roots that hold metadata mirrors and the root credentials.
    pub system_dirs: Vec<PathBuf>,
}

pub fn open(cfg: &StorageConfig) -> anyhow::Result<Node> {
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
        blobs,
        meta,
        system_dirs,
    })
}
