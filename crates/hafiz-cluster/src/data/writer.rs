//! Streaming writes across nodes: the body is gathered into blocks, each coded into
//! k+m chunks, chunk i sent down shard i's stream (to this node's store, or over
//! one HTTP/2 request to its node). The write succeeds once a write quorum of
//! shards is durable; a shard lost on the way is rebuilt later by its node.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use hafiz_storage::{BlobWriter, INLINE_THRESHOLD, StorageError, StorageResult, StoredBlob};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{BLOCK, BlobName, DataInner, encode, quorum_error};
use crate::network::Frame;

enum Sink {
    Local(Box<dyn BlobWriter>),
    Remote {
        tx: mpsc::Sender<Frame>,
        done: JoinHandle<Result<(), crate::network::CallError>>,
    },
}

pub(crate) struct ClusterWriter {
    data: Arc<DataInner>,
    name: BlobName,
    buf: BytesMut,
    /// One per shard, None once it failed; empty until the body outgrew the inline
    /// threshold.
    sinks: Vec<Option<Sink>>,
    spilled: bool,
    size: u64,
}

impl ClusterWriter {
    pub fn new(data: Arc<DataInner>, name: BlobName) -> StorageResult<ClusterWriter> {
        Ok(ClusterWriter {
            data,
            name,
            buf: BytesMut::new(),
            sinks: Vec::new(),
            spilled: false,
            size: 0,
        })
    }

    fn alive(&self) -> usize {
        self.sinks.iter().filter(|s| s.is_some()).count()
    }

    fn check_quorum(&self) -> StorageResult<()> {
        let need = hafiz_storage::layout::write_quorum(self.name.k, self.name.m);
        if self.alive() < need {
            return Err(quorum_error(self.alive(), self.name.k, self.name.m));
        }
        Ok(())
    }

    fn open(&mut self) -> StorageResult<()> {
        let local_id = self.data.local.id_for(&self.name.uuid);
        let me = self.data.me();
        for node in self.name.nodes.clone() {
            let sink = if node == me {
                self.data
                    .local
                    .writer_with_id(&local_id)
                    .ok()
                    .map(Sink::Local)
            } else if self.data.is_down(node) {
                None
            } else {
                self.data.shared.addr_of(node).map(|addr| {
                    let (tx, rx) = mpsc::channel(4);
                    let client = self.data.shared.client.clone();
                    let path = format!("/shard/put?id={local_id}");
                    let done =
                        tokio::spawn(async move { client.stream_post(&addr, &path, rx).await });
                    Sink::Remote { tx, done }
                })
            };
            self.sinks.push(sink);
        }
        self.spilled = true;
        self.check_quorum()
    }

    async fn write_block(&mut self, block: Bytes) -> StorageResult<()> {
        let (k, m) = (self.name.k, self.name.m);
        let codec = self.data.codec(k, m)?;
        let chunks = tokio::task::spawn_blocking(move || encode(codec.as_ref(), &block, k, m))
            .await
            .map_err(|e| StorageError::Join(e.to_string()))??;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let ok = match &mut self.sinks[i] {
                None => continue,
                Some(Sink::Local(w)) => w.write(chunk).await.is_ok(),
                Some(Sink::Remote { tx, .. }) => tx.send(Frame::Data(chunk)).await.is_ok(),
            };
            if !ok {
                tracing::warn!(
                    shard = i,
                    node = self.name.nodes[i],
                    "shard write failed; continuing on the other nodes"
                );
                if let Some(Sink::Local(w)) = self.sinks[i].take() {
                    w.abort().await;
                }
            }
        }
        self.check_quorum()
    }

    async fn drop_shards(&mut self) {
        for s in std::mem::take(&mut self.sinks).into_iter().flatten() {
            match s {
                Sink::Local(w) => w.abort().await,
                // Dropping the sender without `End` abandons the body: the peer
                // commits nothing.
                Sink::Remote { tx, done } => {
                    drop(tx);
                    let _ = done.await;
                }
            }
        }
    }
}

#[async_trait]
impl BlobWriter for ClusterWriter {
    async fn write(&mut self, chunk: Bytes) -> StorageResult<()> {
        self.size += chunk.len() as u64;
        self.buf.extend_from_slice(&chunk);
        if !self.spilled {
            if self.buf.len() <= INLINE_THRESHOLD {
                return Ok(());
            }
            self.open()?;
        }
        while self.buf.len() as u64 >= BLOCK {
            let block = self.buf.split_to(BLOCK as usize).freeze();
            self.write_block(block).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StorageResult<StoredBlob> {
        if !self.spilled {
            return Ok(StoredBlob::Inline(self.buf.split().freeze()));
        }
        if !self.buf.is_empty() {
            let block = self.buf.split().freeze();
            self.write_block(block).await?;
        }
        let mut finishing = Vec::new();
        for (i, s) in std::mem::take(&mut self.sinks).into_iter().enumerate() {
            let Some(s) = s else { continue };
            let node = self.name.nodes[i];
            finishing.push(tokio::spawn(async move {
                let r = match s {
                    Sink::Local(w) => w.finish().await.map(|_| ()).map_err(|e| e.to_string()),
                    Sink::Remote { tx, done } => {
                        let sent = tx.send(Frame::End).await;
                        drop(tx);
                        match (sent, done.await) {
                            (Ok(()), Ok(Ok(()))) => Ok(()),
                            (_, Ok(Err(e))) => Err(e.to_string()),
                            (_, Err(e)) => Err(e.to_string()),
                            (Err(_), Ok(Ok(()))) => Err("stream closed early".into()),
                        }
                    }
                };
                if let Err(e) = &r {
                    tracing::warn!(node, error = %e, "shard not committed");
                }
                r.is_ok()
            }));
        }
        let mut committed = 0;
        for f in finishing {
            if f.await.unwrap_or(false) {
                committed += 1;
            }
        }
        let (k, m) = (self.name.k, self.name.m);
        if committed < hafiz_storage::layout::write_quorum(k, m) {
            // Shards that did land are unreferenced: the nodes' orphan sweeps take them.
            return Err(quorum_error(committed, k, m));
        }
        Ok(StoredBlob::Stored {
            id: self.name.id(),
            size: self.size,
        })
    }

    async fn abort(mut self: Box<Self>) {
        self.drop_shards().await;
    }
}
