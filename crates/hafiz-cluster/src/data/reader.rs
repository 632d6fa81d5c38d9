//! Reads across nodes: for each block a range touches, the chunks of k shards
//! (data shards first, so a healthy read never decodes; nodes that just failed
//! last), fetched concurrently, reconstructed from parity when some are missing.
//! The next block is fetched while the current one is sent.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use hafiz_storage::codec::ErasureCodec;
use hafiz_storage::{BlobStore, ByteStream, StorageError, StorageResult};

use super::serve::ShardRead;
use super::{BlobName, DataInner, Geometry};

const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Chunk `b` of shard `i` (None: that node or shard cannot give it now).
async fn fetch_chunk(
    data: &DataInner,
    name: &BlobName,
    g: Geometry,
    i: usize,
    b: u64,
) -> Option<Bytes> {
    let node = name.nodes[i];
    let (offset, len) = (g.chunk_offset(b), g.chunk_len(b));
    let id = data.local.id_for(&name.uuid);
    let shard_size = g.shard_size();
    if node == data.me() {
        let mut s = data.local.read(&id, shard_size, offset, len).await.ok()?;
        let mut out = BytesMut::with_capacity(len as usize);
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.ok()?);
        }
        return (out.len() as u64 == len).then(|| out.freeze());
    }
    let addr = data.shared.addr_of(node)?;
    let req = ShardRead {
        id,
        size: shard_size,
        offset,
        len,
    };
    let r: Result<Result<serde_bytes::ByteBuf, String>, _> = data
        .shared
        .client
        .call(&addr, "/shard/get", &req, FETCH_TIMEOUT)
        .await;
    match r {
        Ok(Ok(b)) if b.len() as u64 == len => Some(Bytes::from(b.into_vec())),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(node, error = %e, "shard read failed");
            if matches!(e, crate::network::CallError::Unreachable(_)) {
                data.mark_down(node);
            }
            None
        }
    }
}

/// The k data chunks of block `b` (zero-padded to the chunk length), read from
/// any k shards other than `skip`.
async fn data_chunks(
    data: &DataInner,
    name: &BlobName,
    g: Geometry,
    b: u64,
    skip: Option<usize>,
) -> StorageResult<Vec<Vec<u8>>> {
    let (k, m) = (name.k, name.m);
    let n = k + m;
    // Data shards first, then parity; nodes known to be down last.
    let mut order: Vec<usize> = (0..n).filter(|i| Some(*i) != skip).collect();
    order.sort_by_key(|i| (data.is_down(name.nodes[*i]), *i >= k));
    let mut got: Vec<Option<Vec<u8>>> = vec![None; n];
    let mut have = 0;
    let mut next = 0;
    while have < k && next < order.len() {
        let want = (k - have).min(order.len() - next);
        let batch: Vec<usize> = order[next..next + want].to_vec();
        next += want;
        let results =
            futures_util::future::join_all(batch.iter().map(|i| fetch_chunk(data, name, g, *i, b)))
                .await;
        for (i, r) in batch.into_iter().zip(results) {
            if let Some(c) = r {
                got[i] = Some(c.to_vec());
                have += 1;
            }
        }
    }
    if have < k {
        return Err(StorageError::NotEnoughShards { have, need: k });
    }
    if got[..k].iter().all(Option::is_some) {
        return Ok(got
            .into_iter()
            .take(k)
            .map(|c| c.unwrap_or_default())
            .collect());
    }
    let codec = data.codec(k, m)?;
    tokio::task::spawn_blocking(move || {
        codec.reconstruct_data(&mut got)?;
        Ok(got
            .into_iter()
            .take(k)
            .map(|c| c.unwrap_or_default())
            .collect())
    })
    .await
    .map_err(|e| StorageError::Join(e.to_string()))?
}

async fn block_bytes(
    data: Arc<DataInner>,
    name: BlobName,
    g: Geometry,
    b: u64,
) -> StorageResult<Bytes> {
    let chunks = data_chunks(&data, &name, g, b, None).await?;
    let len = g.block_len(b) as usize;
    let mut out = BytesMut::with_capacity(len);
    for c in chunks {
        let room = len - out.len();
        out.extend_from_slice(&c[..c.len().min(room)]);
    }
    Ok(out.freeze())
}

pub(crate) fn read(
    data: Arc<DataInner>,
    name: BlobName,
    size: u64,
    offset: u64,
    len: u64,
) -> StorageResult<ByteStream> {
    let g = Geometry {
        size,
        k: name.k as u64,
    };
    if len == 0 || offset >= size {
        return Ok(futures_util::stream::empty().boxed());
    }
    let end = (offset + len).min(size);
    let (first, last) = (offset / super::BLOCK, (end - 1) / super::BLOCK);
    type Pending = tokio::task::JoinHandle<StorageResult<Bytes>>;
    let spawn = {
        let (data, name) = (data.clone(), name.clone());
        move |b: u64| -> Pending { tokio::spawn(block_bytes(data.clone(), name.clone(), g, b)) }
    };
    let first_task = spawn(first);
    let stream = futures_util::stream::unfold((first, Some(first_task)), move |(b, task)| {
        let spawn = spawn.clone();
        async move {
            let task = task?;
            let next = (b < last).then(|| spawn(b + 1));
            let block = match task.await {
                Ok(Ok(block)) => block,
                Ok(Err(e)) => return Some((Err(e), (b, None))),
                Err(e) => return Some((Err(StorageError::Join(e.to_string())), (b, None))),
            };
            let start = b * super::BLOCK;
            let from = offset.saturating_sub(start) as usize;
            let to = ((end - start) as usize).min(block.len());
            Some((Ok(block.slice(from..to)), (b + 1, next)))
        }
    });
    Ok(stream.boxed())
}

/// Write this node's shard `i` of a blob anew, from the other nodes' shards.
pub(crate) async fn rebuild_shard(
    data: &DataInner,
    name: &BlobName,
    size: u64,
    i: usize,
) -> StorageResult<()> {
    let g = Geometry {
        size,
        k: name.k as u64,
    };
    let (k, m) = (name.k, name.m);
    let codec = data.codec(k, m)?;
    let mut w = data.local.writer_with_id(&data.local.id_for(&name.uuid))?;
    for b in 0..g.blocks() {
        let chunks = match data_chunks(data, name, g, b, Some(i)).await {
            Ok(c) => c,
            Err(e) => {
                w.abort().await;
                return Err(e);
            }
        };
        let chunk = if i < k {
            chunks[i].clone()
        } else {
            let codec = codec.clone();
            tokio::task::spawn_blocking(move || {
                let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
                let mut parity = vec![vec![0u8; refs[0].len()]; m];
                codec.encode_sep(&refs, &mut parity)?;
                Ok::<_, StorageError>(parity.swap_remove(i - k))
            })
            .await
            .map_err(|e| StorageError::Join(e.to_string()))??
        };
        w.write(Bytes::from(chunk)).await?;
    }
    w.finish().await?;
    Ok(())
}
