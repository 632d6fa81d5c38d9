//! openraft's log and state machine on the node's `MetaStore`: log entries and Raft's
//! own rows in their own column families of the same mirrored RocksDB, and the state
//! machine applying each entry with `MetaStore::apply_entry`.
//!
//! Durability: an append returns once its batch is in the WAL of every mirror and
//! synced (appends that arrive together share one fsync). State-machine writes are
//! not synced: an entry's rows and the applied marker are one batch, so after a
//! crash the store is at some earlier applied entry and Raft applies the rest again
//! from the log. Before a snapshot is taken (which lets Raft purge the log) the
//! store is synced.

// openraft fixes the storage error type (224 bytes); boxing it is not ours to do.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;

use hafiz_meta::MetaStore;
use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftLogReader, RaftSnapshotBuilder,
    StorageIOError, Vote,
};
use serde::{Deserialize, Serialize};

use crate::types::{
    Entry, LogId, NodeId, Reply, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

const VOTE: &str = "vote";
const PURGED: &str = "purged";
const SNAPSHOT_META: &str = "snapshot_meta";
pub(crate) const CLUSTER_ID: &str = "cluster_id";

fn read_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::new(
        ErrorSubject::Store,
        ErrorVerb::Read,
        openraft::AnyError::error(e.to_string()),
    )
    .into()
}

fn write_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::new(
        ErrorSubject::Store,
        ErrorVerb::Write,
        openraft::AnyError::error(e.to_string()),
    )
    .into()
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StorageError> {
    rmp_serde::to_vec(v).map_err(write_err)
}

fn dec<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T, StorageError> {
    rmp_serde::from_slice(b).map_err(read_err)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(f).await.map_err(read_err)?
}

/// The applied position the state machine records with each command's rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Applied {
    /// The last entry whose every command is applied.
    log_id: Option<LogId>,
    membership: StoredMembership,
    /// An entry applied in part: its id and how many of its commands are in. Each
    /// command is its own atomic batch (a command's checks must see the rows of the
    /// ones before it), so a crash can fall between two; applying the entry again
    /// then skips the commands already in.
    #[serde(default)]
    partial: Option<(LogId, usize)>,
}

#[derive(Clone)]
pub struct LogStore {
    store: MetaStore,
}

impl LogStore {
    pub fn new(store: MetaStore) -> LogStore {
        LogStore { store }
    }

    fn state<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>, StorageError> {
        match self.store.raft_state(key).map_err(read_err)? {
            Some(b) => Ok(Some(dec(&b)?)),
            None => Ok(None),
        }
    }
}

fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let from = match range.start_bound() {
        Bound::Included(i) => *i,
        Bound::Excluded(i) => i.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let to = match range.end_bound() {
        Bound::Included(i) => i.saturating_add(1),
        Bound::Excluded(i) => *i,
        Bound::Unbounded => u64::MAX,
    };
    (from, to)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (from, to) = bounds(&range);
        let store = self.store.clone();
        blocking(move || {
            store
                .log_entries(from, to)
                .map_err(read_err)?
                .into_iter()
                .map(|(_, b)| dec(&b))
                .collect()
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let purged: Option<LogId> = self.state(PURGED)?;
        let store = self.store.clone();
        let last = blocking(move || store.log_last().map_err(read_err)).await?;
        let last_log_id = match last {
            Some((_, b)) => Some(dec::<Entry>(&b)?.log_id),
            None => purged,
        };
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let (store, b) = (self.store.clone(), enc(vote)?);
        blocking(move || store.set_raft_state(VOTE, Some(b)).map_err(write_err)).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.state(VOTE)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let rows = entries
            .into_iter()
            .map(|e| Ok((e.log_id.index, enc(&e)?)))
            .collect::<Result<Vec<_>, StorageError>>()?;
        // openraft 0.9 waits for this append before it takes the next message, so
        // batching happens a level up (`propose`: many commands per entry); the
        // sync itself is shared with whatever else writes the store meanwhile.
        let store = self.store.clone();
        let result = blocking(move || store.log_append(rows).map_err(write_err)).await;
        callback.log_io_completed(
            result
                .as_ref()
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string())),
        );
        result
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let store = self.store.clone();
        blocking(move || store.log_truncate(log_id.index).map_err(write_err)).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let (store, b) = (self.store.clone(), enc(&log_id)?);
        blocking(move || {
            store
                .set_raft_state(PURGED, Some(b))
                .and_then(|_| store.log_purge(log_id.index))
                .map_err(write_err)
        })
        .await
    }
}

#[derive(Clone)]
pub struct StateMachine {
    store: MetaStore,
    /// Where snapshot files live (`current.snap` and incoming ones).
    dir: PathBuf,
    membership: StoredMembership,
}

impl StateMachine {
    pub fn open(store: MetaStore, dir: PathBuf) -> Result<StateMachine, StorageError> {
        std::fs::create_dir_all(&dir).map_err(write_err)?;
        let membership = match store.applied_marker().map_err(read_err)? {
            Some(b) => dec::<Applied>(&b)?.membership,
            None => StoredMembership::default(),
        };
        Ok(StateMachine {
            store,
            dir,
            membership,
        })
    }

    fn current(&self) -> PathBuf {
        self.dir.join("current.snap")
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (store, dir, current) = (self.store.clone(), self.dir.clone(), self.current());
        let meta = blocking(move || {
            // Everything the snapshot covers must be on disk before Raft may purge
            // the log entries that produced it.
            store.flush().map_err(write_err)?;
            let tmp = dir.join(format!("build-{}.snap", uuid::Uuid::new_v4()));
            // A snapshot must not catch an entry half applied (its meta could not
            // say which of its commands are in): take it again until it does not.
            let applied = loop {
                let mut file =
                    std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(write_err)?);
                let marker = store.export_state(&mut file).map_err(write_err)?;
                let file = file.into_inner().map_err(write_err)?;
                let applied: Applied = match marker {
                    Some(b) => dec(&b)?,
                    None => Applied::default(),
                };
                if applied.partial.is_none() {
                    file.sync_all().map_err(write_err)?;
                    break applied;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            };
            std::fs::rename(&tmp, &current).map_err(write_err)?;
            let meta = SnapshotMeta {
                last_log_id: applied.log_id,
                last_membership: applied.membership,
                snapshot_id: format!(
                    "{}-{}",
                    applied.log_id.map(|l| l.index).unwrap_or(0),
                    uuid::Uuid::new_v4().simple()
                ),
            };
            store
                .set_raft_state(SNAPSHOT_META, Some(enc(&meta)?))
                .map_err(write_err)?;
            Ok(meta)
        })
        .await?;
        let file = tokio::fs::File::open(self.current())
            .await
            .map_err(read_err)?;
        tracing::info!(snapshot = %meta.snapshot_id, "metadata snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = match self.store.applied_marker().map_err(read_err)? {
            Some(b) => dec::<Applied>(&b)?,
            None => Applied::default(),
        };
        Ok((applied.log_id, applied.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Reply>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let store = self.store.clone();
        let mut applied = match self.store.applied_marker().map_err(read_err)? {
            Some(b) => dec::<Applied>(&b)?,
            None => Applied {
                membership: self.membership.clone(),
                ..Applied::default()
            },
        };
        // One hop to the blocking pool for the whole batch.
        let (replies, membership) = blocking(move || {
            let mut replies = Vec::with_capacity(entries.len());
            for e in entries {
                let commands = match e.payload {
                    EntryPayload::Blank => Vec::new(),
                    EntryPayload::Normal(p) => p.commands,
                    EntryPayload::Membership(m) => {
                        applied.membership = StoredMembership::new(Some(e.log_id), m);
                        Vec::new()
                    }
                };
                let done = match applied.partial {
                    Some((id, n)) if id == e.log_id => n,
                    _ => 0,
                };
                let n = commands.len();
                let mut answers = Vec::with_capacity(n);
                if n == 0 {
                    applied.log_id = Some(e.log_id);
                    applied.partial = None;
                    store
                        .apply_entry(None, enc(&applied)?)
                        .map_err(write_err)?
                        .ok();
                }
                for (i, cmd) in commands.into_iter().enumerate() {
                    if i < done {
                        // Applied before a crash; nobody waits for its answer now.
                        answers.push(Ok(hafiz_meta::Outcome::default()));
                        continue;
                    }
                    if i + 1 == n {
                        applied.log_id = Some(e.log_id);
                        applied.partial = None;
                    } else {
                        applied.partial = Some((e.log_id, i + 1));
                    }
                    let reply = store
                        .apply_entry(Some(cmd), enc(&applied)?)
                        .map_err(write_err)?;
                    answers.push(reply.map_err(Into::into));
                }
                replies.push(answers);
            }
            Ok((replies, applied.membership))
        })
        .await?;
        self.membership = membership;
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let path = self
            .dir
            .join(format!("incoming-{}.snap", uuid::Uuid::new_v4()));
        let file = tokio::fs::OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)
            .await
            .map_err(write_err)?;
        // The open handle keeps the data; the name is not needed once installed.
        let _ = tokio::fs::remove_file(&path).await;
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        use tokio::io::AsyncSeekExt;
        let mut file = *snapshot;
        file.seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(read_err)?;
        let file = file.into_std().await;
        let (store, current, meta_c) = (self.store.clone(), self.current(), meta.clone());
        blocking(move || {
            let mut reader = std::io::BufReader::new(&file);
            store.import_state(&mut reader).map_err(write_err)?;
            // Keep a copy to serve to nodes that lag behind this one later.
            let mut src = &file;
            use std::io::Seek;
            src.seek(std::io::SeekFrom::Start(0)).map_err(read_err)?;
            let tmp = current.with_extension("tmp");
            let mut dst = std::fs::File::create(&tmp).map_err(write_err)?;
            std::io::copy(&mut src, &mut dst).map_err(write_err)?;
            dst.sync_all().map_err(write_err)?;
            std::fs::rename(&tmp, &current).map_err(write_err)?;
            store
                .set_raft_state(SNAPSHOT_META, Some(enc(&meta_c)?))
                .map_err(write_err)
        })
        .await?;
        self.membership = meta.last_membership.clone();
        tracing::info!(snapshot = %meta.snapshot_id, "metadata snapshot installed");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(b) = self.store.raft_state(SNAPSHOT_META).map_err(read_err)? else {
            return Ok(None);
        };
        let meta: SnapshotMeta = dec(&b)?;
        match tokio::fs::File::open(self.current()).await {
            Ok(file) => Ok(Some(Snapshot {
                meta,
                snapshot: Box::new(file),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_err(e)),
        }
    }
}
