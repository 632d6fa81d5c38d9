//! Reads: only the blocks a range touches, k shards per block (data shards first, so
//! a healthy read never decodes), every chunk verified against its checksum, missing
//! or rotten shards reconstructed from parity. The next block is read while the
//! current one is being sent.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::Inner;
use crate::ByteStream;
use crate::error::{StorageError, StorageResult};
use crate::shard::{self, BlockLayout, HEADER_LEN, ShardHeader};

/// Open shard `i` of `id` if its header says it is that shard of this layout; with
/// the block size the blob was written with.
pub(crate) fn open_shard(inner: &Inner, set_idx: usize, id: &str, i: usize) -> Option<(File, u64)> {
    let set = &inner.sets[set_idx];
    let d = set.drive_for(id, i);
    if !d.online() {
        return None;
    }
    let f = File::open(d.shard_path(id)).ok()?;
    let mut h = [0u8; HEADER_LEN as usize];
    f.read_exact_at(&mut h, 0).ok()?;
    let h = ShardHeader::decode(&h).ok()?;
    (h.index as usize == i && h.k as usize == set.k && h.m as usize == set.m && h.block_size > 0)
        .then_some((f, h.block_size as u64))
}

/// Read one verified chunk (None if unreadable or its checksum fails).
pub(crate) fn read_chunk(f: Option<&File>, layout: &BlockLayout, b: u64) -> Option<Vec<u8>> {
    let f = f?;
    let len = layout.chunk_len(b) as usize;
    let mut buf = vec![0u8; len + shard::CHECKSUM_LEN as usize];
    f.read_exact_at(&mut buf, layout.chunk_offset(b)).ok()?;
    let (data, sum) = buf.split_at(len);
    if shard::checksum(data) != sum {
        return None;
    }
    buf.truncate(len);
    Some(buf)
}

/// The block size most shards agree on (a shard claiming another is treated as bad).
pub(crate) fn shared_block_size(opened: &[Option<(File, u64)>]) -> Option<u64> {
    let mut counts: Vec<(u64, usize)> = Vec::new();
    for (_, bs) in opened.iter().flatten() {
        match counts.iter_mut().find(|(b, _)| b == bs) {
            Some((_, c)) => *c += 1,
            None => counts.push((*bs, 1)),
        }
    }
    counts.into_iter().max_by_key(|(_, c)| *c).map(|(b, _)| b)
}

struct ReadCtx {
    inner: Arc<Inner>,
    set_idx: usize,
    id: String,
    files: Vec<Option<File>>,
    layout: BlockLayout,
}

fn read_block(ctx: &ReadCtx, b: u64) -> StorageResult<Bytes> {
    let set = &ctx.inner.sets[ctx.set_idx];
    let (k, n) = (set.k, set.k + set.m);
    let len = ctx.layout.chunk_len(b) as usize;
    let block_len = ctx.layout.block_len(b) as usize;
    // Healthy path: the k data chunks are read straight into their place in the block
    // (each chunk's checksum lands where the next chunk goes, and is checked first).
    let mut out = vec![0u8; k * len + shard::CHECKSUM_LEN as usize];
    let mut healthy = true;
    for i in 0..k {
        let Some(f) = ctx.files[i].as_ref() else {
            healthy = false;
            break;
        };
        let region = &mut out[i * len..(i + 1) * len + shard::CHECKSUM_LEN as usize];
        if f.read_exact_at(region, ctx.layout.chunk_offset(b)).is_err() {
            healthy = false;
            break;
        }
        let (data, sum) = region.split_at(len);
        if shard::checksum(data) != sum {
            healthy = false;
            break;
        }
    }
    if healthy {
        out.truncate(block_len);
        return Ok(Bytes::from(out));
    }
    // Degraded path: collect any k good chunks and decode the missing data. Damage
    // is reported for healing only where healing can help: a shard missing or rotten
    // on a drive that is online (an offline drive is not damage).
    let mut shards: Vec<Option<Vec<u8>>> = vec![None; n];
    let mut good = 0;
    let mut damaged = false;
    for (i, slot) in shards.iter_mut().enumerate() {
        if good == k {
            break;
        }
        if let Some(c) = read_chunk(ctx.files[i].as_ref(), &ctx.layout, b) {
            *slot = Some(c);
            good += 1;
        } else if ctx.files[i].is_some() || set.drive_for(&ctx.id, i).online() {
            damaged = true;
        }
    }
    if damaged {
        ctx.inner.report_damage(&ctx.id, ctx.layout.size);
    }
    if good < k {
        return Err(StorageError::NotEnoughShards {
            have: good,
            need: k,
        });
    }
    set.codec.reconstruct_data(&mut shards)?;
    let mut out = Vec::with_capacity(k * len);
    for s in shards.into_iter().take(k) {
        out.extend_from_slice(&s.expect("reconstructed"));
    }
    out.truncate(block_len);
    Ok(Bytes::from(out))
}

struct Cursor {
    ctx: Arc<ReadCtx>,
    next: u64,
    last: u64,
    start: u64,
    end: u64,
    /// Blocks being read ahead, in order.
    pending: std::collections::VecDeque<(u64, JoinHandle<StorageResult<Bytes>>)>,
}

/// Blocks read ahead of the one being sent.
const READ_AHEAD: usize = 2;

impl Cursor {
    fn spawn(&mut self) -> Option<(u64, JoinHandle<StorageResult<Bytes>>)> {
        if self.next > self.last {
            return None;
        }
        let b = self.next;
        self.next += 1;
        let ctx = self.ctx.clone();
        Some((b, tokio::task::spawn_blocking(move || read_block(&ctx, b))))
    }
}

pub(crate) async fn read(
    inner: Arc<Inner>,
    id: &str,
    size: u64,
    offset: u64,
    len: u64,
) -> StorageResult<ByteStream> {
    let set_idx = inner.set_of(id)?.index;
    if len == 0 {
        return Ok(futures_util::stream::empty().boxed());
    }
    if offset.checked_add(len).is_none_or(|e| e > size) {
        return Err(StorageError::Corrupt(format!(
            "range {offset}+{len} beyond blob of {size} bytes"
        )));
    }
    let k = inner.sets[set_idx].k;
    let n = k + inner.sets[set_idx].m;
    let (inner2, id2) = (inner.clone(), id.to_string());
    let opened = tokio::task::spawn_blocking(move || {
        (0..n)
            .map(|i| open_shard(&inner2, set_idx, &id2, i))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| StorageError::Join(e.to_string()))?;
    let block_size = shared_block_size(&opened);
    let files: Vec<Option<File>> = opened
        .into_iter()
        .map(|o| o.filter(|(_, bs)| Some(*bs) == block_size).map(|(f, _)| f))
        .collect();
    let present = files.iter().filter(|f| f.is_some()).count();
    let set = &inner.sets[set_idx];
    if (0..n).any(|i| files[i].is_none() && set.drive_for(id, i).online()) {
        inner.report_damage(id, size);
    }
    if present < k {
        // Fail before any byte is sent, so the client gets an S3 error, not a cut body.
        return Err(StorageError::NotEnoughShards {
            have: present,
            need: k,
        });
    }
    let block_size = block_size.expect("k > 0 shards are present");
    let layout = BlockLayout::new(size, k, block_size);
    let ctx = Arc::new(ReadCtx {
        inner,
        set_idx,
        id: id.to_string(),
        files,
        layout,
    });
    let mut cursor = Cursor {
        ctx,
        next: offset / block_size,
        last: (offset + len - 1) / block_size,
        start: offset,
        end: offset + len,
        pending: Default::default(),
    };
    while cursor.pending.len() < READ_AHEAD {
        match cursor.spawn() {
            Some(p) => cursor.pending.push_back(p),
            None => break,
        }
    }
    let stream = futures_util::stream::unfold(cursor, |mut c| async move {
        let (b, handle) = c.pending.pop_front()?;
        if let Some(p) = c.spawn() {
            c.pending.push_back(p);
        }
        let block = match handle.await {
            Ok(Ok(block)) => block,
            Ok(Err(e)) => {
                c.pending.clear();
                c.next = c.last + 1;
                return Some((Err(e), c));
            }
            Err(e) => {
                c.pending.clear();
                c.next = c.last + 1;
                return Some((Err(StorageError::Join(e.to_string())), c));
            }
        };
        let bstart = b * c.ctx.layout.block_size;
        let from = c.start.max(bstart) - bstart;
        let to = c.end.min(bstart + block.len() as u64) - bstart;
        Some((Ok(block.slice(from as usize..to as usize)), c))
    });
    Ok(stream.boxed())
}
