//! Object data across nodes: each block of an object is Reed-Solomon coded into
//! k data + m parity chunks, and chunk i of every block goes to the i-th node of
//! the object's placement: shard i lives on that node as a blob of its local
//! erasure store (which checksums it, and codes it again across that node's drives
//! when it has several). Up to m nodes of a placement can be lost or down.
//!
//! A blob's id names its layout, so nodes added later or removed never change how
//! an existing blob is read: `x<k><m>-<node>.<node>...-<uuid>` (k and m one hex
//! digit each; nodes in shard order, rotated per blob so that parity and load
//! spread). Ids without the `x` are blobs of this node's local store alone (written
//! before the node joined a cluster) and are read locally.
//!
//! Shard traffic is node-to-node RPC, never Raft: writes stream each shard to its
//! node over one HTTP/2 request (a MAC trailer authenticates the body), reads
//! fetch the chunks of the blocks a range needs, k at a time, data shards first.

mod reader;
mod serve;
mod writer;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use hafiz_storage::codec::{ErasureCodec, ReedSolomonCodec};
use hafiz_storage::{BlobStore, BlobWriter, ByteStream, ErasureStore, StorageError, StorageResult};

use crate::metadata::Shared;
use crate::types::NodeId;

pub(crate) use serve::{ShardRead, serve_delete, serve_put, serve_read};

/// Object bytes per coded block.
pub const BLOCK: u64 = 1024 * 1024;
/// Placements use at most this many nodes (larger clusters: several per blob).
const MAX_PLACEMENT: usize = 16;
/// A node that did not answer is skipped (tried last) for this long.
const DOWN_FOR: Duration = Duration::from_secs(5);

/// The layout a blob id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobName {
    pub k: usize,
    pub m: usize,
    pub nodes: Vec<NodeId>,
    pub uuid: String,
}

impl BlobName {
    pub fn parse(id: &str) -> Option<BlobName> {
        let rest = id.strip_prefix('x')?;
        let mut parts = rest.splitn(3, '-');
        let km = parts.next()?.as_bytes();
        let nodes = parts.next()?;
        let uuid = parts.next()?;
        if km.len() != 2 || uuid.len() != 32 || !uuid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |b: u8| (b as char).to_digit(16).map(|d| d as usize);
        let (k, m) = (digit(km[0])?, digit(km[1])?);
        let nodes: Vec<NodeId> = nodes
            .split('.')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        (k >= 1 && nodes.len() == k + m).then_some(BlobName {
            k,
            m,
            nodes,
            uuid: uuid.into(),
        })
    }

    pub fn id(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(|n| n.to_string()).collect();
        format!(
            "x{:x}{:x}-{}-{}",
            self.k,
            self.m,
            nodes.join("."),
            self.uuid
        )
    }
}

/// The sizes of a blob's blocks and of its shards.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub size: u64,
    pub k: u64,
}

impl Geometry {
    pub fn blocks(&self) -> u64 {
        self.size.div_ceil(BLOCK)
    }
    pub fn block_len(&self, b: u64) -> u64 {
        BLOCK.min(self.size - b * BLOCK)
    }
    pub fn chunk_len(&self, b: u64) -> u64 {
        self.block_len(b).div_ceil(self.k)
    }
    /// Where block `b`'s chunk starts in a shard.
    pub fn chunk_offset(&self, b: u64) -> u64 {
        b * BLOCK.div_ceil(self.k)
    }
    pub fn shard_size(&self) -> u64 {
        match self.blocks() {
            0 => 0,
            n => self.chunk_offset(n - 1) + self.chunk_len(n - 1),
        }
    }
}

pub(crate) struct DataInner {
    pub shared: Arc<Shared>,
    pub local: ErasureStore,
    codecs: Mutex<HashMap<(usize, usize), Arc<ReedSolomonCodec>>>,
    /// Nodes that failed to answer, until when they are tried last.
    down: Mutex<HashMap<NodeId, Instant>>,
}

impl DataInner {
    pub fn codec(&self, k: usize, m: usize) -> StorageResult<Arc<ReedSolomonCodec>> {
        let mut c = self.codecs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(codec) = c.get(&(k, m)) {
            return Ok(codec.clone());
        }
        let codec = Arc::new(ReedSolomonCodec::new(k, m)?);
        c.insert((k, m), codec.clone());
        Ok(codec)
    }

    pub fn me(&self) -> NodeId {
        self.shared.id
    }

    pub fn mark_down(&self, node: NodeId) {
        self.down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node, Instant::now() + DOWN_FOR);
    }

    pub fn is_down(&self, node: NodeId) -> bool {
        let mut d = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match d.get(&node) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                d.remove(&node);
                false
            }
            None => false,
        }
    }

    /// The placement of a new blob: the voters, rotated by the blob's uuid.
    fn placement(&self, uuid: &str) -> BlobName {
        let m = self
            .shared
            .raft
            .metrics()
            .borrow()
            .membership_config
            .clone();
        let mut nodes: Vec<NodeId> = m.membership().voter_ids().collect();
        if nodes.is_empty() {
            nodes.push(self.me());
        }
        nodes.sort_unstable();
        let rot = u64::from_str_radix(&uuid[24..], 16).unwrap_or(0) as usize % nodes.len();
        nodes.rotate_left(rot);
        nodes.truncate(MAX_PLACEMENT);
        let n = nodes.len();
        let parity = hafiz_storage::layout::default_parity(n);
        BlobName {
            k: n - parity,
            m: parity,
            nodes,
            uuid: uuid.to_string(),
        }
    }
}

/// The cluster's `BlobStore`: what the gateway writes and reads in a cluster of
/// more than one node.
#[derive(Clone)]
pub struct ClusterBlobs {
    pub(crate) inner: Arc<DataInner>,
}

impl ClusterBlobs {
    pub(crate) fn new(shared: Arc<Shared>, local: ErasureStore) -> ClusterBlobs {
        ClusterBlobs {
            inner: Arc::new(DataInner {
                shared,
                local,
                codecs: Mutex::new(HashMap::new()),
                down: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Rebuild the shards this node should hold but does not (it was down or its
    /// drives were replaced when they were written), from the other nodes.
    /// `referenced` is every blob metadata references, with its size.
    pub async fn repair_local(&self, referenced: &HashMap<String, u64>) -> StorageResult<usize> {
        let present: HashSet<String> = self
            .inner
            .local
            .blob_ids()
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut rebuilt = 0;
        for (id, size) in referenced {
            let Some(name) = BlobName::parse(id) else {
                continue;
            };
            let Some(i) = name.nodes.iter().position(|n| *n == self.inner.me()) else {
                continue;
            };
            if *size <= hafiz_storage::INLINE_THRESHOLD as u64
                || present.contains(&self.inner.local.id_for(&name.uuid))
            {
                continue;
            }
            match reader::rebuild_shard(&self.inner, &name, *size, i).await {
                Ok(()) => rebuilt += 1,
                Err(e) => {
                    tracing::warn!(blob = %id, error = %e, "cannot rebuild this node's shard yet")
                }
            }
        }
        if rebuilt > 0 {
            tracing::info!(
                rebuilt,
                "rebuilt this node's missing shards from the other nodes"
            );
            metrics::counter!("hafiz_cluster_shards_rebuilt_total").increment(rebuilt as u64);
        }
        Ok(rebuilt)
    }
}

/// What this node's local store holds of `referenced` (blob id → size): its shard
/// of each cluster blob placed on it, under the local id and shard size, and local
/// blobs as they are. Orphan collection and the local scanner work on this view.
pub fn local_view(
    me: NodeId,
    local: &ErasureStore,
    referenced: HashMap<String, u64>,
) -> HashMap<String, u64> {
    referenced
        .into_iter()
        .filter_map(|(id, size)| match BlobName::parse(&id) {
            None => Some((id, size)),
            Some(name) if name.nodes.contains(&me) => {
                let g = Geometry {
                    size,
                    k: name.k as u64,
                };
                Some((local.id_for(&name.uuid), g.shard_size()))
            }
            Some(_) => None,
        })
        .collect()
}

#[async_trait]
impl BlobStore for ClusterBlobs {
    async fn writer(&self, _placement: &str) -> StorageResult<Box<dyn BlobWriter>> {
        let uuid = uuid::Uuid::new_v4().simple().to_string();
        let name = self.inner.placement(&uuid);
        Ok(Box::new(writer::ClusterWriter::new(
            self.inner.clone(),
            name,
        )?))
    }

    async fn read(&self, id: &str, size: u64, offset: u64, len: u64) -> StorageResult<ByteStream> {
        match BlobName::parse(id) {
            Some(name) => reader::read(self.inner.clone(), name, size, offset, len),
            None => self.inner.local.read(id, size, offset, len).await,
        }
    }

    async fn delete(&self, id: &str) -> StorageResult<()> {
        let Some(name) = BlobName::parse(id) else {
            return self.inner.local.delete(id).await;
        };
        let local_id = self.inner.local.id_for(&name.uuid);
        for node in &name.nodes {
            if *node == self.inner.me() {
                self.inner.local.delete(&local_id).await?;
                continue;
            }
            // A node that is down keeps its shard; its orphan sweep removes it.
            if let Some(addr) = self.inner.shared.addr_of(*node) {
                let r: Result<Result<(), String>, _> = self
                    .inner
                    .shared
                    .client
                    .call(&addr, "/shard/delete", &local_id, Duration::from_secs(10))
                    .await;
                if let Err(e) = r {
                    tracing::debug!(node, error = %e, "shard not deleted");
                }
            }
        }
        Ok(())
    }

    async fn blob_ids(&self) -> StorageResult<Vec<(String, std::time::SystemTime)>> {
        self.inner.local.blob_ids().await
    }

    async fn ready(&self) -> bool {
        self.inner.local.ready().await
    }
}

/// Zero-padded data chunks of one block.
pub(crate) fn split(block: &[u8], k: usize) -> Vec<Vec<u8>> {
    hafiz_storage::shard::split_block(block, k, 0)
}

/// The k data chunks (and the parity ones when `with_parity`) of a block, coded.
pub(crate) fn encode(
    codec: &dyn ErasureCodec,
    block: &[u8],
    k: usize,
    m: usize,
) -> StorageResult<Vec<Bytes>> {
    let data = split(block, k);
    let len = data.first().map(Vec::len).unwrap_or(0);
    let mut parity = vec![vec![0u8; len]; m];
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    codec.encode_sep(&refs, &mut parity)?;
    Ok(data.into_iter().chain(parity).map(Bytes::from).collect())
}

pub(crate) fn quorum_error(online: usize, k: usize, m: usize) -> StorageError {
    StorageError::WriteQuorum {
        online,
        need: hafiz_storage::layout::write_quorum(k, m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_names_round_trip_and_reject_junk() {
        let n = BlobName {
            k: 2,
            m: 1,
            nodes: vec![3, 1, 2],
            uuid: "0123456789abcdef0123456789abcdef".into(),
        };
        assert_eq!(n.id(), "x21-3.1.2-0123456789abcdef0123456789abcdef");
        assert_eq!(BlobName::parse(&n.id()), Some(n));
        for bad in [
            "0000aaaa",
            "x21-3.1-0123456789abcdef0123456789abcdef",
            "x21-3.1.2-0123",
            "x2-3.1.2-0123456789abcdef0123456789abcdef",
            "x01-1-0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(BlobName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn geometry_of_blocks_and_shards() {
        let g = Geometry {
            size: 2 * BLOCK + 10,
            k: 2,
        };
        assert_eq!(g.blocks(), 3);
        assert_eq!(g.chunk_len(0), BLOCK / 2);
        assert_eq!(g.chunk_len(2), 5);
        assert_eq!(g.chunk_offset(2), BLOCK);
        assert_eq!(g.shard_size(), BLOCK + 5);
        let odd = Geometry {
            size: BLOCK + 1,
            k: 3,
        };
        assert_eq!(odd.chunk_len(0), BLOCK.div_ceil(3));
        assert_eq!(odd.shard_size(), BLOCK.div_ceil(3) + 1);
    }
}
