//! What a replicated front (the Raft group in `hafiz-cluster`) needs from the store:
//! the log's rows, Raft's own durable state, applying entries together with their
//! log position, and whole-state snapshots.
//!
//! The log lives in the same mirrored RocksDB as the rows it produces: one WAL sync
//! makes an append durable on every mirror, concurrent appends share that sync (the
//! group commit of [`MetaStore::apply`]), and a mirror rebuilt from another carries
//! the log along.

use std::io::{Read, Write};

use crate::command::{Command, Outcome};
use crate::error::{MetaError, MetaResult};
use crate::kv::{Op, Table};
use crate::store::MetaStore;

/// System rows that describe this copy of the store rather than the replicated
/// state, so snapshots neither carry nor overwrite them.
const LOCAL_SYSTEM_ROWS: [&[u8]; 1] = [b"applied_seq"];

fn io(e: std::io::Error) -> MetaError {
    MetaError::Codec(format!("snapshot: {e}"))
}

impl MetaStore {
    /// Apply one log entry (`None`: an entry with no command, such as a membership
    /// change) and record `marker` as the applied position in the same batch. The
    /// inner result is the command's answer; the outer one a storage fault.
    pub fn apply_entry(
        &self,
        cmd: Option<Command>,
        marker: Vec<u8>,
    ) -> MetaResult<Result<Outcome, MetaError>> {
        self.inner().apply_replicated(cmd, marker)
    }

    /// The marker of the last applied entry (None: nothing applied yet).
    pub fn applied_marker(&self) -> MetaResult<Option<Vec<u8>>> {
        self.inner().kv().get(Table::System, b"raft_applied")
    }

    /// Append log entries `(index, bytes)` and make them durable.
    pub fn log_append(&self, entries: Vec<(u64, Vec<u8>)>) -> MetaResult<()> {
        let ops = entries
            .into_iter()
            .map(|(i, e)| Op::Put(Table::RaftLog, i.to_be_bytes().to_vec(), e))
            .collect();
        self.inner().write_durable(ops)
    }

    /// Entries with `from <= index < to`, in order.
    pub fn log_entries(&self, from: u64, to: u64) -> MetaResult<Vec<(u64, Vec<u8>)>> {
        let kv = self.inner().kv();
        let mut out = Vec::new();
        for row in kv.scan(Table::RaftLog, b"", &from.to_be_bytes()) {
            let (k, v) = row?;
            let i = index_of(&k)?;
            if i >= to {
                break;
            }
            out.push((i, v.into_vec()));
        }
        Ok(out)
    }

    /// The last entry of the log, if any.
    pub fn log_last(&self) -> MetaResult<Option<(u64, Vec<u8>)>> {
        let kv = self.inner().kv();
        match kv.last_row(Table::RaftLog)? {
            Some((k, v)) => Ok(Some((index_of(&k)?, v.into_vec()))),
            None => Ok(None),
        }
    }

    /// Delete entries with index >= `from` (a conflicting suffix), durably.
    pub fn log_truncate(&self, from: u64) -> MetaResult<()> {
        let ops = self.log_keys(from, u64::MAX)?;
        self.inner().write_durable(ops)
    }

    /// Delete entries with index <= `upto` (covered by a snapshot).
    pub fn log_purge(&self, upto: u64) -> MetaResult<()> {
        let ops = self.log_keys(0, upto.saturating_add(1))?;
        self.inner().write_durable(ops)
    }

    fn log_keys(&self, from: u64, to: u64) -> MetaResult<Vec<Op>> {
        let kv = self.inner().kv();
        let mut ops = Vec::new();
        for row in kv.scan(Table::RaftLog, b"", &from.to_be_bytes()) {
            let (k, _) = row?;
            if index_of(&k)? >= to {
                break;
            }
            ops.push(Op::Delete(Table::RaftLog, k.into_vec()));
        }
        Ok(ops)
    }

    /// One of Raft's own rows (vote, committed, cluster id, ...).
    pub fn raft_state(&self, key: &str) -> MetaResult<Option<Vec<u8>>> {
        self.inner().kv().get(Table::RaftState, key.as_bytes())
    }

    /// Set (or with None, delete) one of Raft's rows, durably.
    pub fn set_raft_state(&self, key: &str, value: Option<Vec<u8>>) -> MetaResult<()> {
        let k = key.as_bytes().to_vec();
        let op = match value {
            Some(v) => Op::Put(Table::RaftState, k, v),
            None => Op::Delete(Table::RaftState, k),
        };
        self.inner().write_durable(vec![op])
    }

    /// Write the replicated state (every table but the log and Raft's rows) to `w`,
    /// as of one point in time. Returns the applied marker of that point: the
    /// snapshot covers exactly the entries up to it.
    ///
    /// Format: records of `table tag (1) | key length (4, BE) | key | value length
    /// (4, BE) | value`, streamed, so memory does not grow with the store.
    pub fn export_state(&self, w: &mut impl Write) -> MetaResult<Option<Vec<u8>>> {
        let kv = self.inner().kv();
        let mut marker = None;
        kv.for_each_row(&Table::STATE, |t, k, v| {
            if t == Table::System {
                if LOCAL_SYSTEM_ROWS.contains(&k) {
                    return Ok(());
                }
                if k == b"raft_applied" {
                    marker = Some(v.to_vec());
                }
            }
            w.write_all(&[t.tag()]).map_err(io)?;
            w.write_all(&(k.len() as u32).to_be_bytes()).map_err(io)?;
            w.write_all(k).map_err(io)?;
            w.write_all(&(v.len() as u32).to_be_bytes()).map_err(io)?;
            w.write_all(v).map_err(io)
        })?;
        w.flush().map_err(io)?;
        Ok(marker)
    }

    /// Replace the replicated state with a snapshot written by
    /// [`MetaStore::export_state`], atomically (one write batch per mirror) and
    /// durably. Raft's log and rows are left alone.
    pub fn import_state(&self, r: &mut impl Read) -> MetaResult<()> {
        let inner = self.inner();
        let mut ops = Vec::new();
        let kv = inner.kv();
        kv.for_each_row(&Table::STATE, |t, k, _| {
            if !(t == Table::System && LOCAL_SYSTEM_ROWS.contains(&k)) {
                ops.push(Op::Delete(t, k.to_vec()));
            }
            Ok(())
        })?;
        drop(kv);
        loop {
            let mut tag = [0u8; 1];
            match r.read_exact(&mut tag) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(io(e)),
            }
            let table = Table::from_tag(tag[0])
                .filter(|t| Table::STATE.contains(t))
                .ok_or_else(|| MetaError::Codec(format!("snapshot: bad table {}", tag[0])))?;
            let key = read_chunk(r)?;
            let value = read_chunk(r)?;
            if table == Table::System && LOCAL_SYSTEM_ROWS.contains(&key.as_slice()) {
                continue;
            }
            ops.push(Op::Put(table, key, value));
        }
        inner.write_durable(ops)?;
        inner.iam_changed();
        inner.settings_changed();
        Ok(())
    }
}

fn read_chunk(r: &mut impl Read) -> MetaResult<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(io)?;
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    r.read_exact(&mut buf).map_err(io)?;
    Ok(buf)
}

fn index_of(key: &[u8]) -> MetaResult<u64> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| MetaError::Codec("raft log key is not 8 bytes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BucketInfo, Versioning};

    fn bucket(name: &str) -> Command {
        Command::CreateBucket(BucketInfo {
            name: name.into(),
            created: 1,
            versioning: Versioning::Unversioned,
            ..Default::default()
        })
    }

    #[test]
    fn log_rows_append_read_truncate_purge() {
        let dir = tempfile::tempdir().unwrap();
        let s = MetaStore::open(dir.path()).unwrap();
        assert_eq!(s.log_last().unwrap(), None);
        s.log_append((1..=5).map(|i| (i, vec![i as u8])).collect())
            .unwrap();
        assert_eq!(
            s.log_entries(2, 4).unwrap(),
            vec![(2, vec![2]), (3, vec![3])]
        );
        assert_eq!(s.log_last().unwrap(), Some((5, vec![5])));
        s.log_truncate(4).unwrap();
        assert_eq!(s.log_last().unwrap(), Some((3, vec![3])));
        s.log_purge(2).unwrap();
        assert_eq!(s.log_entries(0, 10).unwrap(), vec![(3, vec![3])]);
    }

    #[test]
    fn refused_entries_move_the_marker_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = MetaStore::open(dir.path()).unwrap();
        assert!(
            s.apply_entry(Some(bucket("a")), b"m1".to_vec())
                .unwrap()
                .is_ok()
        );
        let again = s.apply_entry(Some(bucket("a")), b"m2".to_vec()).unwrap();
        assert!(matches!(again, Err(MetaError::BucketExists(_))));
        assert_eq!(s.applied_marker().unwrap(), Some(b"m2".to_vec()));
    }

    #[test]
    fn a_snapshot_replaces_the_state_and_keeps_the_log() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = MetaStore::open(d1.path()).unwrap();
        a.apply_entry(Some(bucket("x")), b"m7".to_vec())
            .unwrap()
            .unwrap();
        let mut snap = Vec::new();
        assert_eq!(a.export_state(&mut snap).unwrap(), Some(b"m7".to_vec()));

        let b = MetaStore::open(d2.path()).unwrap();
        b.apply_entry(Some(bucket("stale")), b"m1".to_vec())
            .unwrap()
            .unwrap();
        b.log_append(vec![(9, b"e".to_vec())]).unwrap();
        b.import_state(&mut snap.as_slice()).unwrap();
        assert_eq!(b.applied_marker().unwrap(), Some(b"m7".to_vec()));
        assert!(b.inner().bucket("x").unwrap().is_some());
        assert!(b.inner().bucket("stale").unwrap().is_none());
        assert_eq!(b.log_last().unwrap(), Some((9, b"e".to_vec())));
        // A truncated snapshot is an error, not a partial state.
        let mut cut = &snap[..snap.len() - 1];
        assert!(b.import_state(&mut cut).is_err());
        assert!(b.inner().bucket("x").unwrap().is_some());
    }
}
