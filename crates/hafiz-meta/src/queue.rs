//! Durable per-target queues in one table: what a command queues is written in the
//! same batch as the change itself, so a crash after the commit cannot lose an item
//! and a refused write queues none. Every replica applies the same commands in the
//! same order, so sequence numbers are the same everywhere. Notification events
//! (`events.rs`) and replication work (`replication.rs`) each keep one.
//!
//! Rows of a queue table:
//! - `q\0<target>\0<seq be64>`: an item, in delivery order.
//! - `n\0<target>`: the target's [`QueueState`].

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::MetaResult;
use crate::kv::{Kv, Op, Table};
use crate::store::{decode, encode};

/// A target's queue: the next sequence number, how many items wait, and (where
/// items have a size) how many bytes they stand for.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct QueueState {
    pub next: u64,
    pub queued: u64,
    #[serde(default)]
    pub bytes: u64,
}

mod rows {
    pub fn item_prefix(target: &str) -> Vec<u8> {
        let mut k = b"q\0".to_vec();
        k.extend_from_slice(target.as_bytes());
        k.push(0);
        k
    }
    pub fn item(target: &str, seq: u64) -> Vec<u8> {
        let mut k = item_prefix(target);
        k.extend_from_slice(&seq.to_be_bytes());
        k
    }
    pub const STATE_PREFIX: &[u8] = b"n\0";
    pub fn state(target: &str) -> Vec<u8> {
        let mut k = STATE_PREFIX.to_vec();
        k.extend_from_slice(target.as_bytes());
        k
    }
}

/// The queues of one table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queues(pub Table);

impl Queues {
    /// The state of `target`'s queue as this batch leaves it (several items of one
    /// command may go to one target).
    fn state(&self, kv: &Kv, ops: &[Op], target: &str) -> MetaResult<QueueState> {
        let row = rows::state(target);
        let pending = ops.iter().rev().find_map(|op| match op {
            Op::Put(t, k, v) if *t == self.0 && *k == row => Some(v),
            _ => None,
        });
        match pending {
            Some(v) => decode(v),
            None => match kv.get(self.0, &row)? {
                Some(v) => decode(&v),
                None => Ok(QueueState::default()),
            },
        }
    }

    /// Queue the item `make(seq)` (of `bytes` bytes) for `target`; returns its
    /// sequence number.
    pub fn push<T: Serialize>(
        &self,
        kv: &Kv,
        ops: &mut Vec<Op>,
        target: &str,
        bytes: u64,
        make: impl FnOnce(u64) -> T,
    ) -> MetaResult<u64> {
        let mut state = self.state(kv, ops, target)?;
        let seq = state.next;
        state.next += 1;
        state.queued += 1;
        state.bytes += bytes;
        ops.push(Op::Put(
            self.0,
            rows::item(target, seq),
            encode(&make(seq))?,
        ));
        ops.push(Op::Put(self.0, rows::state(target), encode(&state)?));
        Ok(seq)
    }

    /// Drop `target`'s items up to `upto` (inclusive); `size` tells an item's bytes.
    pub fn ack<T: DeserializeOwned>(
        &self,
        kv: &Kv,
        ops: &mut Vec<Op>,
        target: &str,
        upto: u64,
        size: impl Fn(&T) -> u64,
    ) -> MetaResult<()> {
        let prefix = rows::item_prefix(target);
        let (mut dropped, mut bytes) = (0, 0);
        for row in kv.scan(self.0, &prefix, &prefix) {
            let (k, v) = row?;
            if seq_of(&k[prefix.len()..]) > upto {
                break;
            }
            bytes += decode::<T>(&v).map(|i| size(&i)).unwrap_or(0);
            ops.push(Op::Delete(self.0, k.to_vec()));
            dropped += 1;
        }
        self.shrink(kv, ops, target, dropped, bytes)
    }

    /// Take item `seq` out of the queue; None when it is gone already (a retried
    /// proposal).
    pub fn take<T: DeserializeOwned>(
        &self,
        kv: &Kv,
        ops: &mut Vec<Op>,
        target: &str,
        seq: u64,
        size: impl Fn(&T) -> u64,
    ) -> MetaResult<Option<T>> {
        let row = rows::item(target, seq);
        let Some(v) = kv.get(self.0, &row)? else {
            return Ok(None);
        };
        let item: T = decode(&v)?;
        ops.push(Op::Delete(self.0, row));
        self.shrink(kv, ops, target, 1, size(&item))?;
        Ok(Some(item))
    }

    /// Drop a target's whole queue.
    pub fn purge(&self, kv: &Kv, ops: &mut Vec<Op>, target: &str) -> MetaResult<()> {
        let prefix = rows::item_prefix(target);
        for row in kv.scan(self.0, &prefix, &prefix) {
            ops.push(Op::Delete(self.0, row?.0.to_vec()));
        }
        ops.push(Op::Delete(self.0, rows::state(target)));
        Ok(())
    }

    fn shrink(
        &self,
        kv: &Kv,
        ops: &mut Vec<Op>,
        target: &str,
        dropped: u64,
        bytes: u64,
    ) -> MetaResult<()> {
        if dropped == 0 {
            return Ok(());
        }
        let mut state = self.state(kv, ops, target)?;
        state.queued = state.queued.saturating_sub(dropped);
        state.bytes = state.bytes.saturating_sub(bytes);
        ops.push(Op::Put(self.0, rows::state(target), encode(&state)?));
        Ok(())
    }

    /// Up to `limit` items of `target` with a sequence number of at least `from`.
    pub fn items<T: DeserializeOwned>(
        &self,
        kv: &Kv,
        target: &str,
        from: u64,
        limit: usize,
    ) -> MetaResult<Vec<T>> {
        let prefix = rows::item_prefix(target);
        let start = rows::item(target, from);
        kv.scan(self.0, &prefix, &start)
            .take(limit)
            .map(|r| r.and_then(|(_, v)| decode(&v)))
            .collect()
    }

    /// Every target that ever had a queue, with its state.
    pub fn states(&self, kv: &Kv) -> MetaResult<Vec<(String, QueueState)>> {
        kv.scan(self.0, rows::STATE_PREFIX, rows::STATE_PREFIX)
            .map(|r| {
                r.and_then(|(k, v)| {
                    Ok((
                        String::from_utf8_lossy(&k[rows::STATE_PREFIX.len()..]).into_owned(),
                        decode(&v)?,
                    ))
                })
            })
            .collect()
    }
}

fn seq_of(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(a)
}
