//! Healing: verify every chunk of every shard of a blob and rebuild the shards that
//! are missing, truncated, misplaced or rotten, from the good ones.

use std::fs::File;
use std::io::Write;

use serde::Serialize;

use super::Inner;
use super::reader::{open_shard, read_chunk, shared_block_size};
use crate::error::{StorageError, StorageResult};
use crate::shard::{self, BlockLayout, ShardHeader};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct HealReport {
    /// Shard indexes found missing or damaged.
    pub damaged: Vec<usize>,
    /// Shards rewritten.
    pub rebuilt: usize,
}

fn shard_ok(f: Option<&File>, layout: &BlockLayout) -> bool {
    let Some(f) = f else { return false };
    if f.metadata().map(|m| m.len()).ok() != Some(layout.shard_file_len()) {
        return false;
    }
    (0..layout.blocks()).all(|b| read_chunk(Some(f), layout, b).is_some())
}

pub(crate) fn heal_blob(
    inner: &Inner,
    id: &str,
    size: u64,
    dry_run: bool,
) -> StorageResult<HealReport> {
    let set = inner.set_of(id)?;
    let (k, m) = (set.k, set.m);
    let n = k + m;
    let opened: Vec<Option<(File, u64)>> = (0..n)
        .map(|i| open_shard(inner, set.index, id, i))
        .collect();
    let block_size = shared_block_size(&opened).unwrap_or(set.block_size);
    let files: Vec<Option<File>> = opened
        .into_iter()
        .map(|o| o.filter(|(_, bs)| *bs == block_size).map(|(f, _)| f))
        .collect();
    let layout = BlockLayout::new(size, k, block_size);
    let damaged: Vec<usize> = (0..n)
        .filter(|i| !shard_ok(files[*i].as_ref(), &layout))
        .collect();
    let mut report = HealReport {
        damaged: damaged.clone(),
        rebuilt: 0,
    };
    if damaged.is_empty() || dry_run {
        return Ok(report);
    }
    // Rebuild into temporaries on the damaged shards' drives (where those are online).
    let mut outputs: Vec<(usize, File, std::path::PathBuf)> = Vec::new();
    for &i in &damaged {
        let d = set.drive_for(id, i);
        if !d.online() {
            continue;
        }
        let tmp = d.tmp_path(&format!("{id}.heal"));
        let header = ShardHeader {
            k: k as u8,
            m: m as u8,
            index: i as u8,
            block_size: block_size as u32,
        };
        let mut f = File::create(&tmp).map_err(|e| StorageError::io(&tmp, e))?;
        f.write_all(&header.encode())
            .map_err(|e| StorageError::io(&tmp, e))?;
        outputs.push((i, f, tmp));
    }
    let discard = |outputs: &[(usize, File, std::path::PathBuf)]| {
        for (_, _, tmp) in outputs {
            let _ = std::fs::remove_file(tmp);
        }
    };
    // Block by block, from every good chunk, including the good blocks of shards that
    // are damaged elsewhere: rot scattered over more than m shards is still healable
    // as long as no single block lost more than m chunks.
    for b in 0..layout.blocks() {
        let mut shards: Vec<Option<Vec<u8>>> = (0..n)
            .map(|i| read_chunk(files[i].as_ref(), &layout, b))
            .collect();
        let good = shards.iter().filter(|s| s.is_some()).count();
        if good < k {
            discard(&outputs);
            return Err(StorageError::NotEnoughShards {
                have: good,
                need: k,
            });
        }
        if let Err(e) = set.codec.reconstruct(&mut shards) {
            discard(&outputs);
            return Err(e);
        }
        for (i, f, tmp) in outputs.iter_mut() {
            let chunk = shards[*i].as_ref().expect("reconstructed");
            if let Err(e) = f
                .write_all(chunk)
                .and_then(|_| f.write_all(&shard::checksum(chunk)))
            {
                let err = StorageError::io(&*tmp, e);
                discard(&outputs);
                return Err(err);
            }
        }
    }
    for (i, f, tmp) in outputs {
        f.sync_all().map_err(|e| StorageError::io(&tmp, e))?;
        let dest = set.drive_for(id, i).shard_path(id);
        let dir = dest.parent().expect("shard paths have a parent");
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        std::fs::rename(&tmp, &dest).map_err(|e| StorageError::io(&dest, e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StorageError::io(dir, e))?;
        report.rebuilt += 1;
    }
    Ok(report)
}
