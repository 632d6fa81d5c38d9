//! The single-node metadata store: RocksDB rows, the `apply` function every mutation
//! goes through, and the read interface.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Metadata;
use crate::command::{BucketChange, Command, ObjectChange, Outcome, WriteCondition};
use crate::completed::{self, COMPLETED_TTL, CompletedUpload, EXPIRE_PER_COMMIT};
use crate::error::{MetaError, MetaResult};
use crate::iam::{
    self, AccessKey, Account, IamCommand, IamGroup, IamRows, IamUser, IamWrite, ManagedPolicy,
    RateLimit, RateScope,
};
use crate::keys;
use crate::kv::{Kv, KvStats, Op, ReadMode, Table};
use crate::list::{
    self, ListPage, ListQuery, UploadListPage, UploadListQuery, VersionListPage, VersionListQuery,
};
use crate::model::{
    BlobLocation, BucketInfo, Millis, NULL_VERSION, ObjectData, ObjectVersion, PartInfo, Retention,
    RetentionMode, TierCopy, UploadInfo, Usage, UsageDelta, Versioning, version_id_order,
};
use crate::replication::{self, ReplicationOp};

pub(crate) fn encode<T: Serialize>(v: &T) -> MetaResult<Vec<u8>> {
    rmp_serde::to_vec_named(v).map_err(|e| MetaError::Codec(e.to_string()))
}

pub(crate) fn decode<T: DeserializeOwned>(b: &[u8]) -> MetaResult<T> {
    rmp_serde::from_slice(b).map_err(|e| MetaError::Codec(e.to_string()))
}

/// One copy of the store. Every command is written to every healthy mirror, so
/// losing the drive of one (the first drive, say) loses no metadata.
struct Mirror {
    path: PathBuf,
    /// Swapped when the mirror is rebuilt (its drive was replaced while running).
    kv: RwLock<Option<Arc<Kv>>>,
    healthy: AtomicBool,
}

impl Mirror {
    /// The open store (None only while the mirror is being rebuilt).
    fn kv(&self) -> Option<Arc<Kv>> {
        self.kv.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the mirror's files are still there (a drive replaced or wiped while
    /// running leaves RocksDB writing into deleted files).
    fn files_present(&self) -> bool {
        self.path.join("CURRENT").is_file()
    }
}

const SEQ_KEY: &[u8] = b"applied_seq";
/// The log id of the last Raft entry applied (opaque to this crate; written in the
/// same batch as the entry's rows).
const RAFT_APPLIED_KEY: &[u8] = b"raft_applied";
/// Present once the usage counters cover every row (stores from before the
/// counters existed are recounted when opened).
const USAGE_COUNTED_KEY: &[u8] = b"usage_counted";

fn read_seq(kv: &Kv) -> MetaResult<u64> {
    Ok(kv
        .get(Table::System, SEQ_KEY)?
        .map(|v| u64::from_be_bytes(v.try_into().unwrap_or([0; 8])))
        .unwrap_or(0))
}

pub(crate) struct Inner {
    mirrors: Vec<Mirror>,
    /// Serializes apply: preconditions are read and the batch written under it, so a
    /// check can never be invalidated by a concurrent command.
    apply_lock: Mutex<u64>,
    /// The last sequence number written to the mirrors (synced or not).
    written: AtomicU64,
    /// Group commit: commands are written under the apply lock without an fsync, then
    /// wait here until one WAL sync per mirror covers them. Concurrent commands share
    /// that sync, so a burst of small PUTs pays one fsync, not one each.
    durability: Mutex<Durability>,
    synced: Condvar,
    /// Group syncs run (commands per sync = written / wal_syncs).
    wal_syncs: AtomicU64,
    /// Commands applied (a Raft log append is a write, not a command).
    commands: AtomicU64,
    /// Bumped by every IAM command (see `Metadata::iam_generation`).
    iam_generation: AtomicU64,
    /// Bumped by every setting written (see `Metadata::settings_generation`).
    settings_generation: AtomicU64,
    /// Bumped after every batch that queued events (see `Metadata::events_generation`).
    events_generation: AtomicU64,
    notify_configs: crate::events::ConfigCache,
}

/// What `/metrics` shows of the metadata store.
#[derive(Debug, Clone)]
pub struct MetaStats {
    pub applied_commands: u64,
    pub wal_syncs: u64,
    pub mirrors: Vec<(PathBuf, KvStats)>,
}

struct Durability {
    /// Every command up to this sequence number is on stable storage.
    synced_seq: u64,
    /// A sync is running; the others wait for it rather than starting their own.
    syncing: bool,
}

#[derive(Clone)]
pub struct MetaStore {
    inner: Arc<Inner>,
}

impl MetaStore {
    pub fn open(path: &Path) -> MetaResult<MetaStore> {
        MetaStore::open_mirrored(&[path.to_path_buf()])
    }

    /// Open the store mirrored in `paths`. Mirrors that cannot be opened (an offline
    /// drive) are skipped; a mirror behind the others (blank, or offline while
    /// commands were applied) is rebuilt from the most recent one.
    pub fn open_mirrored(paths: &[PathBuf]) -> MetaResult<MetaStore> {
        let mut opened: Vec<(PathBuf, Kv, u64)> = Vec::new();
        for p in paths {
            let kv = std::fs::create_dir_all(p)
                .map_err(|e| MetaError::Codec(format!("{}: {e}", p.display())))
                .and_then(|_| Kv::open(p));
            match kv.and_then(|kv| read_seq(&kv).map(|s| (kv, s))) {
                Ok((kv, seq)) => opened.push((p.clone(), kv, seq)),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "metadata mirror unavailable")
                }
            }
        }
        let newest = opened
            .iter()
            .map(|(_, _, s)| *s)
            .max()
            .ok_or(MetaError::NoMirror)?;
        let stale: Vec<PathBuf> = opened
            .iter()
            .filter(|(_, _, s)| *s < newest)
            .map(|(p, _, _)| p.clone())
            .collect();
        for p in stale {
            let seq = opened
                .iter()
                .find(|(q, _, _)| *q == p)
                .map(|(_, _, s)| *s)
                .unwrap_or(0);
            tracing::warn!(path = %p.display(), seq, newest, "metadata mirror is behind; rebuilding it from a current one");
            opened.retain(|(q, _, _)| *q != p);
            let source = opened
                .iter()
                .find(|(_, _, s)| *s == newest)
                .expect("the newest mirror is open");
            let staging = p.with_extension("rebuild");
            let _ = std::fs::remove_dir_all(&staging);
            source.1.checkpoint(&staging)?;
            std::fs::remove_dir_all(&p)
                .map_err(|e| MetaError::Codec(format!("{}: {e}", p.display())))?;
            std::fs::rename(&staging, &p)
                .map_err(|e| MetaError::Codec(format!("{}: {e}", p.display())))?;
            let kv = Kv::open(&p)?;
            opened.push((p, kv, newest));
        }
        // Keep the caller's order, so the primary (read) mirror is stable.
        opened.sort_by_key(|(p, _, _)| paths.iter().position(|q| q == p));
        let mirrors = opened
            .into_iter()
            .map(|(path, kv, _)| Mirror {
                path,
                kv: RwLock::new(Some(Arc::new(kv))),
                healthy: AtomicBool::new(true),
            })
            .collect();
        let store = MetaStore {
            inner: Arc::new(Inner {
                mirrors,
                apply_lock: Mutex::new(newest),
                written: AtomicU64::new(newest),
                durability: Mutex::new(Durability {
                    synced_seq: newest,
                    syncing: false,
                }),
                synced: Condvar::new(),
                wal_syncs: AtomicU64::new(0),
                commands: AtomicU64::new(0),
                iam_generation: AtomicU64::new(0),
                settings_generation: AtomicU64::new(0),
                events_generation: AtomicU64::new(0),
                notify_configs: Default::default(),
            }),
        };
        if store
            .inner
            .kv()
            .get(Table::System, USAGE_COUNTED_KEY)?
            .is_none()
        {
            tracing::info!("counting bucket and account usage (first start with usage counters)");
            store.apply_sync(Command::RecountUsage)?;
        }
        Ok(store)
    }

    pub fn flush(&self) -> MetaResult<()> {
        for m in self
            .inner
            .mirrors
            .iter()
            .filter(|m| m.healthy.load(Ordering::Relaxed))
        {
            if let Some(kv) = m.kv() {
                kv.flush()?;
            }
        }
        Ok(())
    }

    /// Rebuild mirrors whose files vanished (a drive replaced or wiped while the node
    /// runs) from a mirror that is intact, so the node keeps its metadata redundancy
    /// without a restart. Returns how many were rebuilt.
    pub fn repair_mirrors(&self) -> MetaResult<usize> {
        let inner = &self.inner;
        let broken: Vec<usize> = (0..inner.mirrors.len())
            .filter(|i| !inner.mirrors[*i].files_present())
            .collect();
        if broken.is_empty() {
            return Ok(0);
        }
        // Writes wait while the copy is taken, so the rebuilt mirror misses nothing.
        let _seq = inner.apply_lock.lock().unwrap_or_else(|e| e.into_inner());
        let Some(source) = inner
            .mirrors
            .iter()
            .find(|m| m.files_present() && m.healthy.load(Ordering::Relaxed))
        else {
            tracing::error!("no intact metadata mirror left to rebuild from");
            return Ok(0);
        };
        let mut rebuilt = 0;
        for i in broken {
            let m = &inner.mirrors[i];
            m.healthy.store(false, Ordering::Relaxed);
            if !m.path.parent().is_some_and(|p| p.is_dir()) {
                continue; // the drive itself is gone; retried when it is back
            }
            // The old instance must be closed before a store is opened at the same
            // path (RocksDB locks paths per process); readers holding it finish first.
            let old = m.kv.write().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(old) = old {
                for _ in 0..500 {
                    if Arc::strong_count(&old) == 1 {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                drop(old);
            }
            let staging = m.path.with_extension("rebuild");
            let _ = std::fs::remove_dir_all(&staging);
            let Some(source_kv) = source.kv() else {
                continue;
            };
            let result = source_kv.checkpoint(&staging).and_then(|_| {
                let _ = std::fs::remove_dir_all(&m.path);
                std::fs::rename(&staging, &m.path)
                    .map_err(|e| MetaError::Codec(format!("{}: {e}", m.path.display())))?;
                Kv::open(&m.path)
            });
            match result {
                Ok(kv) => {
                    *m.kv.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(kv));
                    m.healthy.store(true, Ordering::Relaxed);
                    tracing::warn!(path = %m.path.display(), "metadata mirror rebuilt");
                    rebuilt += 1;
                }
                Err(e) => {
                    tracing::warn!(path = %m.path.display(), error = %e, "cannot rebuild metadata mirror")
                }
            }
        }
        Ok(rebuilt)
    }

    /// How many commands this store has applied since it was created (0: brand new).
    pub fn applied_seq(&self) -> u64 {
        *self
            .inner
            .apply_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Engine figures of each open mirror, and how many WAL group syncs ran.
    pub fn stats(&self) -> MetaStats {
        MetaStats {
            applied_commands: self.inner.commands.load(Ordering::Relaxed),
            wal_syncs: self.inner.wal_syncs.load(Ordering::Relaxed),
            mirrors: self
                .inner
                .mirrors
                .iter()
                .filter_map(|m| Some((m.path.clone(), m.kv()?.stats())))
                .collect(),
        }
    }

    /// Mirror paths and whether each is healthy.
    pub fn mirrors(&self) -> Vec<(PathBuf, bool)> {
        self.inner
            .mirrors
            .iter()
            .map(|m| (m.path.clone(), m.healthy.load(Ordering::Relaxed)))
            .collect()
    }

    async fn blocking<T, F>(&self, f: F) -> MetaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> MetaResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| MetaError::Join(e.to_string()))?
    }

    /// A point read: inline when memory answers it, on the blocking pool when it
    /// needs disk I/O.
    async fn read<T, F>(&self, f: F) -> MetaResult<T>
    where
        T: Send + 'static,
        F: Fn(&Inner, ReadMode) -> MetaResult<T> + Send + 'static,
    {
        match f(&self.inner, ReadMode::MemoryOnly) {
            Err(MetaError::NotInMemory) => self.blocking(move |i| f(i, ReadMode::Any)).await,
            r => r,
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Apply one command synchronously. See [`Command`].
    pub fn apply_sync(&self, cmd: Command) -> MetaResult<Outcome> {
        self.inner.apply(cmd)
    }
}

fn part_blob(p: &PartInfo) -> Option<String> {
    match &p.data.location {
        BlobLocation::Stored(id) => Some(id.clone()),
        BlobLocation::Inline(_) => None,
    }
}

impl Inner {
    fn iam_row<T: DeserializeOwned>(&self, mode: ReadMode, row: &[u8]) -> MetaResult<Option<T>> {
        self.kv()
            .get_in(mode, Table::Iam, row)?
            .map(|v| decode(&v))
            .transpose()
    }

    fn iam_rows<T: DeserializeOwned>(&self, prefix: &[u8]) -> MetaResult<Vec<T>> {
        self.kv()
            .scan(Table::Iam, prefix, prefix)
            .map(|r| r.and_then(|(_, v)| decode(&v)))
            .collect()
    }

    /// Write `ops` as one batch on every mirror and return once it is durable
    /// (sharing the WAL sync with concurrent writers).
    pub(crate) fn write_durable(&self, ops: Vec<Op>) -> MetaResult<()> {
        let mut seq = self.apply_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.write_all(ops, *seq + 1)?;
        *seq += 1;
        let mine = *seq;
        self.written.store(mine, Ordering::Release);
        drop(seq);
        self.wait_durable(mine)
    }

    /// Readers caching IAM-derived data must drop it (the rows were replaced).
    pub(crate) fn iam_changed(&self) {
        self.iam_generation.fetch_add(1, Ordering::Release);
    }

    /// After a snapshot replaced the settings wholesale.
    pub(crate) fn settings_changed(&self) {
        self.settings_generation.fetch_add(1, Ordering::Release);
    }

    /// Reads go to the first healthy mirror.
    pub(crate) fn kv(&self) -> Arc<Kv> {
        self.mirrors
            .iter()
            .filter(|m| m.healthy.load(Ordering::Relaxed))
            .chain(self.mirrors.iter())
            .find_map(|m| m.kv())
            .expect("a rebuild never takes the last open mirror")
    }

    /// Write one command's batch to every healthy mirror (into the WAL, not yet
    /// synced: see [`Inner::wait_durable`]). A mirror that fails is taken out of
    /// service (and rebuilt on the next start); the command fails only if no mirror
    /// took it.
    fn write_all(&self, ops: Vec<Op>, seq: u64) -> MetaResult<()> {
        let mut ops = ops;
        ops.push(Op::Put(
            Table::System,
            SEQ_KEY.to_vec(),
            seq.to_be_bytes().to_vec(),
        ));
        self.on_each_mirror(|kv| kv.write(ops.clone()), false)
    }

    /// Run `f` on every healthy mirror (in parallel when asked and there are several),
    /// taking failed mirrors out of service. Fails only if no mirror succeeded.
    fn on_each_mirror<F>(&self, f: F, parallel: bool) -> MetaResult<()>
    where
        F: Fn(&Kv) -> MetaResult<()> + Sync,
    {
        let healthy: Vec<&Mirror> = self
            .mirrors
            .iter()
            .filter(|m| m.healthy.load(Ordering::Relaxed))
            .collect();
        let run = |m: &Mirror| m.kv().ok_or(MetaError::NoMirror).and_then(|kv| f(&kv));
        let results: Vec<MetaResult<()>> = if parallel && healthy.len() > 1 {
            std::thread::scope(|scope| {
                let handles: Vec<_> = healthy.iter().map(|m| scope.spawn(|| run(m))).collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(MetaError::Join("mirror write panicked".into()))
                        })
                    })
                    .collect()
            })
        } else {
            healthy.iter().map(|m| run(m)).collect()
        };
        let mut ok = 0;
        let mut last_err = None;
        for (m, r) in healthy.iter().zip(results) {
            match r {
                Ok(()) => ok += 1,
                Err(e) => {
                    tracing::error!(path = %m.path.display(), error = %e, "metadata mirror write failed; taking it out of service");
                    m.healthy.store(false, Ordering::Relaxed);
                    last_err = Some(e);
                }
            }
        }
        match (ok, last_err) {
            (0, Some(e)) => Err(e),
            (0, None) => Err(MetaError::NoMirror),
            _ => Ok(()),
        }
    }

    /// Return once command `seq` is durable on every healthy mirror. The first caller
    /// to find no sync running syncs everything written so far; callers arriving
    /// meanwhile wait and are covered by it or by the next one.
    ///
    /// Commands are visible to readers as soon as they are written, a sync before
    /// they are acknowledged, so a GET may see an object whose PUT is not yet
    /// acknowledged (as with any write racing a read); nothing acknowledged is lost.
    fn wait_durable(&self, seq: u64) -> MetaResult<()> {
        let mut d = self.durability.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if d.synced_seq >= seq {
                return Ok(());
            }
            if d.syncing {
                d = self.synced.wait(d).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            d.syncing = true;
            let target = self.written.load(Ordering::Acquire);
            drop(d);
            let result = self.on_each_mirror(Kv::sync_wal, true);
            self.wal_syncs.fetch_add(1, Ordering::Relaxed);
            d = self.durability.lock().unwrap_or_else(|e| e.into_inner());
            d.syncing = false;
            if result.is_ok() {
                d.synced_seq = d.synced_seq.max(target);
            }
            self.synced.notify_all();
            result?;
        }
    }

    pub(crate) fn bucket(&self, name: &str) -> MetaResult<Option<BucketInfo>> {
        self.bucket_in(ReadMode::Any, name)
    }

    fn bucket_in(&self, mode: ReadMode, name: &str) -> MetaResult<Option<BucketInfo>> {
        self.kv()
            .get_in(mode, Table::Buckets, name.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    fn require_bucket(&self, name: &str) -> MetaResult<BucketInfo> {
        self.bucket(name)?
            .ok_or_else(|| MetaError::NoSuchBucket(name.to_string()))
    }

    /// All version rows of a key, newest first.
    fn versions(&self, bucket: &str, key: &str) -> MetaResult<Vec<(Box<[u8]>, ObjectVersion)>> {
        let prefix = keys::object_key_prefix(bucket, key);
        self.kv()
            .scan(Table::Objects, &prefix, &prefix)
            .map(|r| r.and_then(|(k, v)| Ok((k, decode(&v)?))))
            .collect()
    }

    fn object(&self, bucket: &str, key: &str) -> MetaResult<Option<ObjectVersion>> {
        self.object_in(ReadMode::Any, bucket, key)
    }

    /// The newest version of a key (possibly a delete marker).
    fn object_in(
        &self,
        mode: ReadMode,
        bucket: &str,
        key: &str,
    ) -> MetaResult<Option<ObjectVersion>> {
        Ok(self.latest(mode, bucket, key)?.map(|(_, v)| v))
    }

    fn latest(
        &self,
        mode: ReadMode,
        bucket: &str,
        key: &str,
    ) -> MetaResult<Option<(Vec<u8>, ObjectVersion)>> {
        let prefix = keys::object_key_prefix(bucket, key);
        match self
            .kv()
            .scan_in(mode, Table::Objects, &prefix, &prefix)
            .next()
        {
            Some(r) => {
                let (k, v) = r?;
                Ok(Some((k.into_vec(), decode(&v)?)))
            }
            None => Ok(None),
        }
    }

    /// One version by id, with its row key. A minted id names its row (a point
    /// read); `null` is found by stepping over the key's rows without decoding them.
    fn find_version(
        &self,
        mode: ReadMode,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> MetaResult<Option<(Vec<u8>, ObjectVersion)>> {
        if version_id == NULL_VERSION {
            let prefix = keys::object_key_prefix(bucket, key);
            for r in self.kv().scan_in(mode, Table::Objects, &prefix, &prefix) {
                let (k, v) = r?;
                if keys::is_null_row(prefix.len(), &k) {
                    return Ok(Some((k.into_vec(), decode(&v)?)));
                }
            }
            return Ok(None);
        }
        let Some(order) = version_id_order(version_id) else {
            return Ok(None);
        };
        let row = keys::object_row_key(bucket, key, order, version_id);
        match self.kv().get_in(mode, Table::Objects, &row)? {
            Some(v) => Ok(Some((row, decode(&v)?))),
            None => Ok(None),
        }
    }

    fn upload(&self, bucket: &str, key: &str, id: &str) -> MetaResult<Option<UploadInfo>> {
        self.upload_in(ReadMode::Any, bucket, key, id)
    }

    fn upload_in(
        &self,
        mode: ReadMode,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> MetaResult<Option<UploadInfo>> {
        self.kv()
            .get_in(mode, Table::Uploads, &keys::upload_row_key(bucket, key, id))?
            .map(|v| decode(&v))
            .transpose()
    }

    fn parts(&self, upload_id: &str, after: u32, max: usize) -> MetaResult<Vec<PartInfo>> {
        let prefix = keys::part_prefix(upload_id);
        let from = keys::part_row_key(upload_id, after.saturating_add(1));
        self.kv()
            .scan(Table::Parts, &prefix, &from)
            .take(max)
            .map(|r| r.and_then(|(_, v)| decode(&v)))
            .collect()
    }

    /// Ops that remember a completed upload, and forget a few expired ones. Time is
    /// the completion's own (in the command), so every replica expires the same rows.
    fn record_completed(&self, record: CompletedUpload, ops: &mut Vec<Op>) -> MetaResult<()> {
        let now = record.completed;
        for row in self
            .kv()
            .scan(Table::Completed, completed::rows::BY_TIME, &[])
            .take(EXPIRE_PER_COMMIT)
        {
            let (row, _) = row?;
            let Some((time, id)) = completed::rows::parse_by_time(&row) else {
                continue;
            };
            if time.saturating_add(COMPLETED_TTL) > now {
                break;
            }
            ops.push(Op::Delete(Table::Completed, completed::rows::by_id(id)));
            ops.push(Op::Delete(Table::Completed, row.to_vec()));
        }
        ops.push(Op::Put(
            Table::Completed,
            completed::rows::by_time(now, &record.upload_id),
            Vec::new(),
        ));
        ops.push(Op::Put(
            Table::Completed,
            completed::rows::by_id(&record.upload_id),
            encode(&record)?,
        ));
        Ok(())
    }

    fn completed_upload_in(
        &self,
        mode: ReadMode,
        upload_id: &str,
    ) -> MetaResult<Option<CompletedUpload>> {
        self.kv()
            .get_in(mode, Table::Completed, &completed::rows::by_id(upload_id))?
            .map(|v| decode(&v))
            .transpose()
    }

    fn check_condition(&self, bucket: &str, key: &str, cond: &WriteCondition) -> MetaResult<()> {
        let current = || -> MetaResult<Option<ObjectVersion>> {
            Ok(self.object(bucket, key)?.filter(|v| !v.delete_marker))
        };
        let ok = match cond {
            WriteCondition::None => true,
            WriteCondition::Absent => current()?.is_none(),
            WriteCondition::EtagMatches(etag) => match current()? {
                Some(cur) => &cur.etag == etag,
                None => return Err(MetaError::NoSuchKey),
            },
        };
        if ok {
            Ok(())
        } else {
            Err(MetaError::PreconditionFailed)
        }
    }

    /// Ops that drop the `null` version of a key, if it has one.
    fn drop_null_version(
        &self,
        bucket: &str,
        key: &str,
        now: Millis,
        ops: &mut Vec<Op>,
        out: &mut Outcome,
    ) -> MetaResult<()> {
        if let Some((row, v)) = self.find_version(ReadMode::Any, bucket, key, NULL_VERSION)? {
            if v.locked(now, false) {
                return Err(MetaError::ObjectLocked);
            }
            ops.push(Op::Delete(Table::Objects, row));
            out.release(&v);
            out.usage.count(&v, -1);
            out.removed = true;
        }
        Ok(())
    }

    /// Ops that add `version` as the newest version of its key, as the bucket's
    /// versioning state says: under its own id, or as the `null` version replacing
    /// the previous one.
    fn put_version(
        &self,
        b: &BucketInfo,
        mut version: ObjectVersion,
        ops: &mut Vec<Op>,
        out: &mut Outcome,
    ) -> MetaResult<()> {
        if b.versioning != Versioning::Enabled {
            version.version_id = NULL_VERSION.to_string();
            self.drop_null_version(&b.name, &version.key, version.last_modified, ops, out)?;
        }
        if version.retention.is_none()
            && !version.delete_marker
            && let Some(d) = b.object_lock.as_ref().and_then(|l| l.default_retention)
        {
            const DAY: Millis = 86_400_000;
            let days = d.days.map(Millis::from).unwrap_or(0)
                + d.years.map(|y| Millis::from(y) * 365).unwrap_or(0);
            version.retention = Some(Retention {
                mode: d.mode,
                until: version.last_modified + days * DAY,
            });
        }
        ops.push(Op::Put(
            Table::Objects,
            keys::version_row_key(&b.name, &version),
            encode(&version)?,
        ));
        out.usage.count(&version, 1);
        out.version_id = Some(version.version_id);
        Ok(())
    }

    /// A replica written again (replication is at least once) replaces the copy
    /// written before under the same version id, rather than leaving its blobs.
    fn replace_replica(
        &self,
        b: &BucketInfo,
        v: &ObjectVersion,
        ops: &mut Vec<Op>,
        out: &mut Outcome,
    ) -> MetaResult<()> {
        if b.versioning != Versioning::Enabled || !v.replication.as_ref().is_some_and(|r| r.replica)
        {
            return Ok(());
        }
        if let Some((row, old)) =
            self.find_version(ReadMode::Any, &b.name, &v.key, &v.version_id)?
        {
            ops.push(Op::Delete(Table::Objects, row));
            out.release(&old);
            out.usage.count(&old, -1);
        }
        Ok(())
    }

    /// The rows of a [`replication::ReplicationCommand`].
    fn plan_replication(
        &self,
        cmd: replication::ReplicationCommand,
        ops: &mut Vec<Op>,
        out: &mut Outcome,
    ) -> MetaResult<()> {
        use crate::model::ReplicationStatus;
        use replication::ReplicationCommand as R;
        let kv = self.kv();
        // Versions changed by this command, by row (one may be named twice).
        let mut changed: Vec<(Vec<u8>, ObjectVersion)> = Vec::new();
        let mut set_status = |this: &Self,
                              bucket: &str,
                              key: &str,
                              id: &str,
                              target: &str,
                              status: ReplicationStatus|
         -> MetaResult<()> {
            let found = match this.find_version(ReadMode::Any, bucket, key, id)? {
                Some((row, v)) => match changed.iter().position(|(r, _)| *r == row) {
                    Some(i) => Some(i),
                    None => {
                        changed.push((row, v));
                        Some(changed.len() - 1)
                    }
                },
                // Deleted since: nothing to record.
                None => None,
            };
            if let Some(i) = found
                && let Some(state) = changed[i].1.replication.as_mut()
                && !state.replica
            {
                state.set(target, status);
            }
            Ok(())
        };
        match cmd {
            R::Done {
                target,
                upto,
                statuses,
            } => {
                if let Some(upto) = upto {
                    replication::ack(&kv, ops, &target, upto)?;
                }
                for s in statuses {
                    set_status(self, &s.bucket, &s.key, &s.version_id, &target, s.status)?;
                }
            }
            R::Fail {
                target,
                seq,
                job,
                now,
            } => {
                let Some(item) = replication::take(&kv, ops, &target, seq)? else {
                    // Done or failed already (a retried proposal).
                    return Ok(());
                };
                set_status(
                    self,
                    &item.bucket,
                    &item.key,
                    &item.version_id,
                    &target,
                    ReplicationStatus::Failed,
                )?;
                crate::jobs::plan(
                    &kv,
                    crate::jobs::JobCommand::Enqueue {
                        jobs: vec![job],
                        now,
                    },
                    ops,
                    &mut out.jobs,
                )?;
            }
            R::Enqueue {
                bucket,
                versions,
                scope,
                now,
            } => {
                use replication::ResyncScope;
                let b = self.require_bucket(&bucket)?;
                for (key, id) in versions {
                    let Some((row, mut v)) =
                        self.find_version(ReadMode::Any, &bucket, &key, &id)?
                    else {
                        continue;
                    };
                    let before = v.replication.clone();
                    let missing = |r: &crate::model::ReplicationRule| {
                        before.as_ref().is_none_or(|s| {
                            s.targets
                                .iter()
                                .all(|(t, st)| *t != r.target || *st == ReplicationStatus::Failed)
                        })
                    };
                    let keep = |r: &crate::model::ReplicationRule| match scope {
                        ResyncScope::ExistingObjectRules => r.existing_objects && missing(r),
                        ResyncScope::Missing => missing(r),
                        ResyncScope::All => true,
                    };
                    let op = if v.delete_marker {
                        ReplicationOp::DeleteMarker
                    } else {
                        ReplicationOp::Version
                    };
                    let planned = replication::mark(&b, &mut v, None, op, &keep);
                    if planned.is_empty() {
                        continue;
                    }
                    let r = replication::VersionRef::of(&bucket, &v);
                    out.replications += replication::queue(&kv, ops, &r, planned, now)?;
                    ops.push(Op::Put(Table::Objects, row, encode(&v)?));
                }
            }
            R::Purge { target } => replication::purge(&kv, ops, &target)?,
        }
        for (row, v) in changed {
            ops.push(Op::Put(Table::Objects, row, encode(&v)?));
        }
        Ok(())
    }

    /// Ops that drop every version of a key (unversioned buckets hold just one).
    fn drop_versions(
        &self,
        bucket: &str,
        key: &str,
        ops: &mut Vec<Op>,
        out: &mut Outcome,
    ) -> MetaResult<()> {
        for (row, v) in self.versions(bucket, key)? {
            ops.push(Op::Delete(Table::Objects, row.into_vec()));
            out.release(&v);
            out.usage.count(&v, -1);
            out.removed = true;
        }
        Ok(())
    }

    fn drop_upload(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        ops: &mut Vec<Op>,
        out: &mut Outcome,
    ) -> MetaResult<()> {
        ops.push(Op::Delete(
            Table::Uploads,
            keys::upload_row_key(bucket, key, id),
        ));
        for p in self.parts(id, 0, usize::MAX)? {
            ops.push(Op::Delete(Table::Parts, keys::part_row_key(id, p.number)));
            out.released_blobs.extend(part_blob(&p));
            out.usage.count_part(p.size, -1);
        }
        Ok(())
    }

    fn usage_of(&self, row: &[u8]) -> MetaResult<Usage> {
        Ok(self
            .kv()
            .get(Table::Usage, row)?
            .map(|v| decode(&v))
            .transpose()?
            .unwrap_or_default())
    }

    /// Ops that move the bucket's (and its account's) usage by `delta`; refused when
    /// the change grows past a quota. Runs under the apply lock, so counters are exact.
    fn charge_usage(
        &self,
        b: &BucketInfo,
        delta: UsageDelta,
        bucket_deleted: bool,
        ops: &mut Vec<Op>,
    ) -> MetaResult<()> {
        if !bucket_deleted {
            let row = usage_row::bucket(&b.name);
            let usage = delta.applied_to(self.usage_of(&row)?);
            if delta.grows() && b.quota.is_some_and(|q| q.exceeded_by(usage)) {
                return Err(MetaError::QuotaExceeded(format!(
                    "The bucket quota of {} is exceeded.",
                    b.name
                )));
            }
            ops.push(Op::Put(Table::Usage, row, encode(&usage)?));
        }
        if !b.account.is_empty() {
            let row = usage_row::account(&b.account);
            let usage = delta.applied_to(self.usage_of(&row)?);
            if delta.grows()
                && IamRows::account(self, &b.account)?
                    .and_then(|a| a.quota)
                    .is_some_and(|q| q.exceeded_by(usage))
            {
                return Err(MetaError::QuotaExceeded(format!(
                    "The quota of account {} is exceeded.",
                    b.account
                )));
            }
            ops.push(Op::Put(Table::Usage, row, encode(&usage)?));
        }
        Ok(())
    }

    /// Ops that replace every usage counter with a count of the rows.
    fn recount_usage(&self, ops: &mut Vec<Op>) -> MetaResult<()> {
        for row in self.kv().scan(Table::Usage, b"", b"") {
            let key = row?.0.into_vec();
            // Tier counters are kept by transitions and releases, not by bucket rows.
            if !key.starts_with(b"t/") {
                ops.push(Op::Delete(Table::Usage, key));
            }
        }
        let mut accounts: HashMap<String, Usage> = HashMap::new();
        for b in self.all_buckets()? {
            let mut delta = UsageDelta::default();
            let prefix = keys::bucket_prefix(&b.name);
            for row in self.kv().scan(Table::Objects, &prefix, &prefix) {
                delta.count(&decode::<ObjectVersion>(&row?.1)?, 1);
            }
            for row in self.kv().scan(Table::Uploads, &prefix, &prefix) {
                let u: UploadInfo = decode(&row?.1)?;
                for p in self.parts(&u.upload_id, 0, usize::MAX)? {
                    delta.count_part(p.size, 1);
                }
            }
            let usage = delta.applied_to(Usage::default());
            ops.push(Op::Put(
                Table::Usage,
                usage_row::bucket(&b.name),
                encode(&usage)?,
            ));
            if !b.account.is_empty() {
                let a = accounts.entry(b.account.clone()).or_default();
                *a = delta.applied_to(*a);
            }
        }
        for (name, usage) in accounts {
            ops.push(Op::Put(
                Table::Usage,
                usage_row::account(&name),
                encode(&usage)?,
            ));
        }
        ops.push(Op::Put(
            Table::System,
            USAGE_COUNTED_KEY.to_vec(),
            Vec::new(),
        ));
        Ok(())
    }

    fn all_buckets(&self) -> MetaResult<Vec<BucketInfo>> {
        self.kv()
            .scan(Table::Buckets, b"", b"")
            .map(|r| r.and_then(|(_, v)| decode(&v)))
            .collect()
    }

    fn apply(&self, cmd: Command) -> MetaResult<Outcome> {
        let mut seq = self.apply_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut ops = Vec::new();
        let mut out = Outcome::default();
        self.plan(cmd, &mut ops, &mut out)?;
        self.write_all(ops, *seq + 1)?;
        self.commands.fetch_add(1, Ordering::Relaxed);
        *seq += 1;
        let mine = *seq;
        self.written.store(mine, Ordering::Release);
        drop(seq);
        self.wait_durable(mine)?;
        if out.events > 0 || out.replications > 0 {
            self.events_generation.fetch_add(1, Ordering::Release);
        }
        Ok(out)
    }

    /// Apply a command taken from the Raft log: the same checks and rows as
    /// [`Inner::apply`], plus `marker` (the entry's log id) in the same batch, so the
    /// state machine's applied position can never disagree with its rows. Not synced:
    /// the log entry is already durable and is applied again after a crash. A refused
    /// command (a domain error) still moves the marker; only storage faults are `Err`.
    pub(crate) fn apply_replicated(
        &self,
        cmd: Option<Command>,
        marker: Vec<u8>,
    ) -> MetaResult<Result<Outcome, MetaError>> {
        let mut seq = self.apply_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut ops = Vec::new();
        let mut out = Outcome::default();
        let mut queued_events = false;
        let reply = match cmd {
            Some(cmd) => match self.plan(cmd, &mut ops, &mut out) {
                Ok(()) => {
                    self.commands.fetch_add(1, Ordering::Relaxed);
                    queued_events = out.events > 0 || out.replications > 0;
                    Ok(out)
                }
                Err(e) if e.is_fault() => return Err(e),
                Err(e) => {
                    ops.clear();
                    Err(e)
                }
            },
            None => Ok(out),
        };
        ops.push(Op::Put(Table::System, RAFT_APPLIED_KEY.to_vec(), marker));
        self.write_all(ops, *seq + 1)?;
        *seq += 1;
        self.written.store(*seq, Ordering::Release);
        if queued_events {
            self.events_generation.fetch_add(1, Ordering::Release);
        }
        Ok(reply)
    }

    /// The rows `cmd` writes, checked against the current state (the apply lock held).
    fn plan(&self, cmd: Command, ops: &mut Vec<Op>, out: &mut Outcome) -> MetaResult<()> {
        self.plan_from(cmd, None, ops, out)
    }

    /// [`Inner::plan`], with the origin of the change for the events it queues.
    fn plan_from(
        &self,
        cmd: Command,
        origin: Option<&crate::events::Origin>,
        ops: &mut Vec<Op>,
        out: &mut Outcome,
    ) -> MetaResult<()> {
        // What the events of an object command report, and the bucket's notification
        // configuration and owner (set by the arms that read the bucket, when it has
        // one).
        let change = crate::events::Change::of(&cmd);
        let mut notify: Option<(String, String)> = None;
        let ops_before = ops.len();
        let notify_of = |b: &BucketInfo| b.notification.clone().map(|c| (c, b.account.clone()));
        // The bucket whose objects or parts the command adds or removes (for usage
        // counters), and whether the command deletes the bucket itself.
        let mut counted: Option<BucketInfo> = None;
        let mut bucket_deleted = false;
        // When the command happens, for the jobs it queues.
        let mut at: Millis = 0;
        // Tier copies the command adds a reference to.
        let mut adopted: Vec<TierCopy> = Vec::new();
        // Replications decided on: the bucket, key, version id and size, and where to.
        let mut replicate: Option<(replication::VersionRef, Vec<replication::Planned>)> = None;
        let mut decide = |b: &BucketInfo, v: &mut ObjectVersion, op| {
            let planned = replication::mark(b, v, origin, op, &|_| true);
            if !planned.is_empty() {
                replicate = Some((replication::VersionRef::of(&b.name, v), planned));
            }
        };
        match cmd {
            Command::CreateBucket(info) => {
                if self.bucket(&info.name)?.is_some() {
                    return Err(MetaError::BucketExists(info.name));
                }
                ops.push(Op::Put(
                    Table::Buckets,
                    info.name.as_bytes().to_vec(),
                    encode(&info)?,
                ));
            }
            Command::DeleteBucket { name } => {
                let b = self.require_bucket(&name)?;
                let prefix = keys::bucket_prefix(&name);
                if self
                    .kv()
                    .scan(Table::Objects, &prefix, &prefix)
                    .next()
                    .transpose()?
                    .is_some()
                {
                    return Err(MetaError::BucketNotEmpty(name));
                }
                // Incomplete multipart uploads do not keep a bucket alive; they go with it.
                for row in self.kv().scan(Table::Uploads, &prefix, &prefix) {
                    let u: UploadInfo = decode(&row?.1)?;
                    self.drop_upload(&name, &u.key, &u.upload_id, ops, out)?;
                }
                ops.push(Op::Delete(Table::Usage, usage_row::bucket(&name)));
                ops.push(Op::Delete(Table::Buckets, name.into_bytes()));
                // Its dropped uploads' parts leave the account's usage.
                counted = Some(b);
                bucket_deleted = true;
            }
            Command::PutObject {
                bucket,
                mut version,
                condition,
            } => {
                let b = self.require_bucket(&bucket)?;
                self.check_condition(&bucket, &version.key, &condition)?;
                at = version.last_modified;
                self.replace_replica(&b, &version, ops, out)?;
                decide(&b, &mut version, ReplicationOp::Version);
                self.put_version(&b, version, ops, out)?;
                notify = notify_of(&b);
                counted = Some(b);
            }
            Command::DeleteObject {
                bucket,
                key,
                version_id,
                marker,
                bypass_governance,
                now,
            } => {
                let b = self.require_bucket(&bucket)?;
                at = now;
                match version_id {
                    Some(id) => {
                        if let Some((row, v)) =
                            self.find_version(ReadMode::Any, &bucket, &key, &id)?
                        {
                            if v.locked(now, bypass_governance) {
                                return Err(MetaError::ObjectLocked);
                            }
                            ops.push(Op::Delete(Table::Objects, row));
                            out.release(&v);
                            out.usage.count(&v, -1);
                            out.removed = true;
                            out.delete_marker = v.delete_marker;
                        }
                        out.version_id = Some(id);
                    }
                    None if b.versioning == Versioning::Unversioned => {
                        self.drop_versions(&bucket, &key, ops, out)?;
                    }
                    None => {
                        let mut m = marker.ok_or_else(|| {
                            MetaError::Codec("a versioning bucket's delete needs a marker".into())
                        })?;
                        m.key = key;
                        m.delete_marker = true;
                        m.data = ObjectData::Inline(Vec::new());
                        m.size = 0;
                        decide(&b, &mut m, ReplicationOp::DeleteMarker);
                        self.put_version(&b, m, ops, out)?;
                        out.delete_marker = true;
                    }
                }
                notify = notify_of(&b);
                counted = Some(b);
            }
            Command::UpdateBucket { name, change } => {
                let mut b = self.require_bucket(&name)?;
                match change {
                    BucketChange::Versioning(v) => {
                        if v == Versioning::Unversioned {
                            return Err(MetaError::InvalidBucketState(
                                "versioning cannot be turned off, only suspended".into(),
                            ));
                        }
                        if b.replication.is_some() && v != Versioning::Enabled {
                            return Err(MetaError::InvalidBucketState(
                                "A replication configuration is present on this bucket, so the versioning state cannot be changed.".into(),
                            ));
                        }
                        if b.object_lock.is_some() && v != Versioning::Enabled {
                            return Err(MetaError::InvalidBucketState(
                                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.".into(),
                            ));
                        }
                        b.versioning = v;
                    }
                    BucketChange::Tags(tags) => b.tags = tags,
                    BucketChange::Cors(rules) => b.cors = rules,
                    BucketChange::Lifecycle(cfg) => b.lifecycle = cfg,
                    BucketChange::Notification(cfg) => b.notification = cfg,
                    BucketChange::Replication(cfg) => {
                        if cfg.is_some() && b.versioning != Versioning::Enabled {
                            return Err(MetaError::InvalidBucketState(
                                "Versioning must be 'Enabled' on the bucket to apply a replication configuration".into(),
                            ));
                        }
                        b.replication = cfg;
                    }
                    BucketChange::Encryption(e) => b.encryption = e,
                    BucketChange::Website(w) => b.website = w,
                    BucketChange::Policy(p) => b.policy = p,
                    BucketChange::Acl(a) => {
                        b.acl = a;
                        b.grants = None;
                    }
                    BucketChange::Grants(g) => {
                        b.acl = crate::model::CannedAcl::Private;
                        b.grants = Some(g);
                    }
                    BucketChange::Ownership(o) => b.ownership = o,
                    BucketChange::PublicAccessBlock(p) => b.public_access_block = p,
                    BucketChange::Quota(q) => b.quota = q,
                    BucketChange::ObjectLock(cfg) => {
                        if b.object_lock.is_none() && b.versioning != Versioning::Enabled {
                            return Err(MetaError::InvalidBucketState(
                                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration".into(),
                            ));
                        }
                        b.object_lock = Some(cfg);
                    }
                }
                ops.push(Op::Put(Table::Buckets, name.into_bytes(), encode(&b)?));
            }
            Command::UpdateObject {
                bucket,
                key,
                version_id,
                change,
                bypass_governance,
                now,
            } => {
                let b = self.require_bucket(&bucket)?;
                notify = notify_of(&b);
                at = now;
                let (row, mut v) = match &version_id {
                    Some(id) => self
                        .find_version(ReadMode::Any, &bucket, &key, id)?
                        .ok_or(MetaError::NoSuchVersion)?,
                    None => self
                        .latest(ReadMode::Any, &bucket, &key)?
                        .ok_or(MetaError::NoSuchKey)?,
                };
                if v.delete_marker {
                    return Err(MetaError::DeleteMarker);
                }
                // AWS replicates ACLs with the object only, never an ACL change.
                let acl_change = matches!(change, ObjectChange::Acl(_) | ObjectChange::Grants(_));
                match change {
                    ObjectChange::Tags(tags) => v.tags = tags,
                    ObjectChange::LegalHold(on) => v.legal_hold = Some(on),
                    ObjectChange::Acl(a) => {
                        v.acl = a;
                        v.grants = None;
                    }
                    ObjectChange::Grants(g) => {
                        v.acl = crate::model::CannedAcl::Private;
                        v.grants = Some(g);
                    }
                    ObjectChange::Retention(new) => {
                        if let Some(old) = v.retention.filter(|r| r.until > now) {
                            let weakens = match new {
                                None => true,
                                Some(n) => {
                                    n.until < old.until
                                        || (old.mode == RetentionMode::Compliance
                                            && n.mode != RetentionMode::Compliance)
                                }
                            };
                            if weakens
                                && (old.mode == RetentionMode::Compliance || !bypass_governance)
                            {
                                return Err(MetaError::ObjectLocked);
                            }
                        }
                        v.retention = new;
                    }
                }
                if !acl_change {
                    decide(&b, &mut v, ReplicationOp::Metadata);
                }
                out.version_id = Some(v.version_id.clone());
                ops.push(Op::Put(Table::Objects, row, encode(&v)?));
            }
            Command::CreateUpload(info) => {
                self.require_bucket(&info.bucket)?;
                let row = keys::upload_row_key(&info.bucket, &info.key, &info.upload_id);
                ops.push(Op::Put(Table::Uploads, row, encode(&info)?));
            }
            Command::PutPart {
                bucket,
                key,
                upload_id,
                part,
            } => {
                let b = self.require_bucket(&bucket)?;
                if self.upload(&bucket, &key, &upload_id)?.is_none() {
                    return Err(MetaError::NoSuchUpload);
                }
                let row = keys::part_row_key(&upload_id, part.number);
                if let Some(old) = self.kv().get(Table::Parts, &row)? {
                    let old: PartInfo = decode(&old)?;
                    out.released_blobs.extend(part_blob(&old));
                    out.usage.count_part(old.size, -1);
                }
                out.usage.count_part(part.size, 1);
                ops.push(Op::Put(Table::Parts, row, encode(&part)?));
                counted = Some(b);
            }
            Command::CompleteUpload {
                bucket,
                upload_id,
                parts,
                mut version,
                condition,
            } => {
                let b = self.require_bucket(&bucket)?;
                let Some(upload) = self.upload(&bucket, &version.key, &upload_id)? else {
                    return Err(MetaError::NoSuchUpload);
                };
                let stored = self.parts(&upload_id, 0, usize::MAX)?;
                let mut spans = Vec::with_capacity(parts.len());
                for (number, etag) in &parts {
                    match stored.iter().find(|p| p.number == *number) {
                        Some(p) if &p.etag == etag => spans.push(p.data.clone()),
                        _ => return Err(MetaError::InvalidPart(*number)),
                    }
                }
                // The object's data is what the part rows hold now, under the apply
                // lock: a part re-uploaded (same bytes, same ETag, new blob) since the
                // caller read the parts must not leave the object on a released blob.
                version.data = ObjectData::Blobs(spans);
                self.check_condition(&bucket, &version.key, &condition)?;
                // Drop the upload but keep the blobs of the parts the object now uses.
                let mut dropped = Outcome::default();
                self.drop_upload(&bucket, &version.key, &upload_id, ops, &mut dropped)?;
                let used: HashSet<String> = version.blob_ids().into_iter().collect();
                out.released_blobs.extend(
                    dropped
                        .released_blobs
                        .into_iter()
                        .filter(|b| !used.contains(b)),
                );
                // The parts stop being pending; the version counts their bytes.
                out.usage.pending += dropped.usage.pending;
                at = version.last_modified;
                let record = CompletedUpload {
                    bucket: bucket.clone(),
                    key: version.key.clone(),
                    upload_id: upload_id.clone(),
                    version_id: None,
                    etag: version.etag.clone(),
                    checksum: upload.checksum_algorithm.and(version.checksum.clone()),
                    completed: version.last_modified,
                };
                decide(&b, &mut version, ReplicationOp::Version);
                self.put_version(&b, version, ops, out)?;
                self.record_completed(
                    CompletedUpload {
                        version_id: out.version_id.clone(),
                        ..record
                    },
                    ops,
                )?;
                notify = notify_of(&b);
                counted = Some(b);
            }
            Command::Iam(cmd) => {
                if let IamCommand::DeleteAccount { name } = &cmd
                    && self.all_buckets()?.iter().any(|b| &b.account == name)
                {
                    return Err(MetaError::DeleteConflict(format!(
                        "Cannot delete account {name}: it still owns buckets."
                    )));
                }
                for w in iam::plan(self, cmd)? {
                    let (row, value) = match w {
                        IamWrite::User(n, v) => {
                            (iam::rows::user(&n), v.map(|v| encode(&v)).transpose()?)
                        }
                        IamWrite::Group(n, v) => {
                            (iam::rows::group(&n), v.map(|v| encode(&v)).transpose()?)
                        }
                        IamWrite::Policy(n, v) => {
                            (iam::rows::policy(&n), v.map(|v| encode(&v)).transpose()?)
                        }
                        IamWrite::Key(n, v) => {
                            (iam::rows::key(&n), v.map(|v| encode(&v)).transpose()?)
                        }
                        IamWrite::Account(n, v) => {
                            (iam::rows::account(&n), v.map(|v| encode(&v)).transpose()?)
                        }
                        IamWrite::RateLimit(scope, n, v) => (
                            iam::rows::rate_limit(scope, &n),
                            v.map(|v| encode(&v)).transpose()?,
                        ),
                        IamWrite::Root(r) => (iam::rows::ROOT.to_vec(), Some(encode(&r)?)),
                    };
                    ops.push(match value {
                        Some(v) => Op::Put(Table::Iam, row, v),
                        None => Op::Delete(Table::Iam, row),
                    });
                }
                self.iam_generation.fetch_add(1, Ordering::Release);
            }
            Command::SetObjectData {
                bucket,
                key,
                version_id,
                order,
                expect,
                data,
                storage_class,
                now,
            } => {
                notify = notify_of(&self.require_bucket(&bucket)?);
                at = now;
                let (row, mut v) = self
                    .find_version(ReadMode::Any, &bucket, &key, &version_id)?
                    .filter(|(_, v)| v.sort_order() == order)
                    .ok_or(MetaError::PreconditionFailed)?;
                if v.data == data {
                    // Applied already (a proposal sent again, a job run again).
                    out.version_id = Some(v.version_id.clone());
                    return Ok(());
                }
                if v.data != expect {
                    return Err(MetaError::PreconditionFailed);
                }
                if let ObjectData::Tiered(c) = &data
                    && self
                        .kv()
                        .get(Table::Settings, &tier_setting_key(&c.tier))?
                        .is_none()
                {
                    // The tier was removed while the copy was written.
                    return Err(MetaError::PreconditionFailed);
                }
                let old = ObjectVersion {
                    data: std::mem::replace(&mut v.data, data),
                    restore: v.restore.take(),
                    ..ObjectVersion::default()
                };
                out.release(&old);
                adopted.extend(v.tier_copy().cloned());
                if v.tier_copy().is_none() {
                    v.promoted_at = Some(now);
                }
                v.storage_class = storage_class;
                out.version_id = Some(v.version_id.clone());
                ops.push(Op::Put(Table::Objects, row, encode(&v)?));
            }
            Command::SetRestore {
                bucket,
                key,
                version_id,
                order,
                expect,
                restore,
                now,
            } => {
                notify = notify_of(&self.require_bucket(&bucket)?);
                at = now;
                let (row, mut v) = self
                    .find_version(ReadMode::Any, &bucket, &key, &version_id)?
                    .filter(|(_, v)| v.sort_order() == order && v.tier_copy().is_some())
                    .ok_or(MetaError::PreconditionFailed)?;
                if v.restore == restore {
                    out.version_id = Some(v.version_id.clone());
                    return Ok(());
                }
                if v.restore != expect {
                    return Err(MetaError::PreconditionFailed);
                }
                let old = ObjectVersion {
                    restore: std::mem::replace(&mut v.restore, restore),
                    ..ObjectVersion::default()
                };
                let kept: HashSet<String> = v.blob_ids().into_iter().collect();
                out.released_blobs
                    .extend(old.blob_ids().into_iter().filter(|b| !kept.contains(b)));
                out.version_id = Some(v.version_id.clone());
                ops.push(Op::Put(Table::Objects, row, encode(&v)?));
            }
            Command::PutSetting { key, value } => {
                if value.is_none()
                    && let Some(tier) = key.strip_prefix(crate::command::TIER_SETTING_PREFIX)
                    && self.usage_of(&usage_row::tier(tier))?.objects > 0
                {
                    return Err(MetaError::DeleteConflict(format!(
                        "tier {tier} still holds objects"
                    )));
                }
                ops.push(match value {
                    Some(v) => Op::Put(Table::Settings, key.into_bytes(), v),
                    None => Op::Delete(Table::Settings, key.into_bytes()),
                });
                self.settings_generation.fetch_add(1, Ordering::Release);
            }
            Command::RecountUsage => self.recount_usage(ops)?,
            Command::Traced { origin, command } => {
                return self.plan_from(*command, Some(&origin), ops, out);
            }
            Command::Events(cmd) => crate::events::plan(&self.kv(), cmd, ops)?,
            Command::Replication(cmd) => self.plan_replication(cmd, ops, out)?,
            Command::Jobs(cmd) => crate::jobs::plan(&self.kv(), cmd, ops, &mut out.jobs)?,
            Command::AbortUpload {
                bucket,
                key,
                upload_id,
            } => {
                let b = self.require_bucket(&bucket)?;
                if self.upload(&bucket, &key, &upload_id)?.is_none() {
                    return Err(MetaError::NoSuchUpload);
                }
                self.drop_upload(&bucket, &key, &upload_id, ops, out)?;
                counted = Some(b);
            }
        }
        if let Some(b) = counted
            && !out.usage.is_zero()
        {
            self.charge_usage(&b, out.usage, bucket_deleted, ops)?;
        }
        self.track_copies(&adopted, &out.released_copies, at, ops, &mut out.jobs)?;
        if let Some((v, planned)) = replicate
            && ops.len() > ops_before
        {
            out.replications += replication::queue(&self.kv(), ops, &v, planned, at)?;
        }
        if let (Some(change), Some((config, owner))) = (change, notify)
            && ops.len() > ops_before
        {
            out.events = crate::events::queue(
                change,
                crate::events::EventContext {
                    kv: &self.kv(),
                    cache: &self.notify_configs,
                    config: &config,
                    owner: &owner,
                    origin,
                    at,
                    version_id: out.version_id.as_deref(),
                    delete_marker: out.delete_marker,
                },
                ops,
            )?;
        }
        Ok(())
    }

    /// Count the tier copies a command adopts and releases (a tier in use cannot be
    /// removed), and queue the deletion of each released one in the same batch: a
    /// crash after the commit cannot leave a copy nothing will delete.
    fn track_copies(
        &self,
        adopted: &[TierCopy],
        released: &[TierCopy],
        now: Millis,
        ops: &mut Vec<Op>,
        jobs: &mut Vec<crate::jobs::Job>,
    ) -> MetaResult<()> {
        if adopted.is_empty() && released.is_empty() {
            return Ok(());
        }
        let mut counts: HashMap<&str, UsageDelta> = HashMap::new();
        for (copies, sign) in [(adopted, 1i64), (released, -1)] {
            for c in copies {
                let d = counts.entry(c.tier.as_str()).or_default();
                d.objects += sign;
                d.bytes += sign * c.size as i64;
            }
        }
        for (tier, d) in counts {
            let row = usage_row::tier(tier);
            let usage = d.applied_to(self.usage_of(&row)?);
            ops.push(Op::Put(Table::Usage, row, encode(&usage)?));
        }
        if released.is_empty() {
            return Ok(());
        }
        let new_jobs = released
            .iter()
            .map(|c| {
                Ok(crate::jobs::NewJob {
                    // Deterministic: every replica applying this command writes the
                    // same rows. Copy names are unique, so the ids are too.
                    id: format!("{:012x}{}", now.max(0), &c.name[..c.name.len().min(20)]),
                    kind: crate::command::TIER_DELETE_JOB.to_string(),
                    payload: serde_json::to_vec(c).map_err(|e| MetaError::Codec(e.to_string()))?,
                    sealed: false,
                    priority: 0,
                    max_attempts: 1000,
                    timeout_ms: 300_000,
                    // Reads that found the copy just before the commit may still
                    // be streaming it.
                    run_at: now + 10_000,
                    depends_on: Vec::new(),
                    unique: Some(format!("tier-delete/{}/{}", c.tier, c.name)),
                })
            })
            .collect::<MetaResult<Vec<_>>>()?;
        crate::jobs::plan(
            &self.kv(),
            crate::jobs::JobCommand::Enqueue {
                jobs: new_jobs,
                now,
            },
            ops,
            jobs,
        )
    }

    fn referenced_blobs(&self, bucket: Option<&str>) -> MetaResult<HashMap<String, u64>> {
        let mut ids = HashMap::new();
        // Parts before objects: CompleteMultipartUpload moves a blob from a part row to
        // an object row atomically, so scanning in this order sees it in one or the
        // other even when a Complete lands between the two scans.
        if bucket.is_none() {
            for row in self.kv().scan(Table::Parts, &[], &[]) {
                let p: PartInfo = decode(&row?.1)?;
                if let Some(id) = part_blob(&p) {
                    ids.insert(id, p.size);
                }
            }
        }
        let prefix = bucket.map(keys::bucket_prefix).unwrap_or_default();
        for row in self.kv().scan(Table::Objects, &prefix, &prefix) {
            let v: ObjectVersion = decode(&row?.1)?;
            ids.extend(v.blob_spans());
        }
        Ok(ids)
    }
}

impl IamRows for Inner {
    fn user(&self, name: &str) -> MetaResult<Option<IamUser>> {
        self.iam_row(ReadMode::Any, &iam::rows::user(name))
    }
    fn group(&self, name: &str) -> MetaResult<Option<IamGroup>> {
        self.iam_row(ReadMode::Any, &iam::rows::group(name))
    }
    fn policy(&self, name: &str) -> MetaResult<Option<ManagedPolicy>> {
        self.iam_row(ReadMode::Any, &iam::rows::policy(name))
    }
    fn key(&self, id: &str) -> MetaResult<Option<AccessKey>> {
        self.iam_row(ReadMode::Any, &iam::rows::key(id))
    }
    fn keys_of(&self, user: &str) -> MetaResult<Vec<AccessKey>> {
        Ok(self
            .all_keys()?
            .into_iter()
            .filter(|k| k.user == user)
            .collect())
    }
    fn all_keys(&self) -> MetaResult<Vec<AccessKey>> {
        self.iam_rows::<AccessKey>(iam::rows::KEYS)
    }
    fn account(&self, name: &str) -> MetaResult<Option<Account>> {
        self.iam_row(ReadMode::Any, &iam::rows::account(name))
    }
    fn all_users(&self) -> MetaResult<Vec<IamUser>> {
        self.iam_rows(iam::rows::USERS)
    }
    fn rate_limit(&self, scope: RateScope, name: &str) -> MetaResult<Option<RateLimit>> {
        self.iam_row(ReadMode::Any, &iam::rows::rate_limit(scope, name))
    }
    fn root(&self) -> MetaResult<Option<iam::RootCredentials>> {
        self.iam_row(ReadMode::Any, iam::rows::ROOT)
    }
}

/// Row keys in the usage table.
fn tier_setting_key(tier: &str) -> Vec<u8> {
    format!("{}{tier}", crate::command::TIER_SETTING_PREFIX).into_bytes()
}

mod usage_row {
    pub fn bucket(name: &str) -> Vec<u8> {
        format!("b/{name}").into_bytes()
    }
    pub fn account(name: &str) -> Vec<u8> {
        format!("a/{name}").into_bytes()
    }
    /// Copies held by a tier (objects) and their bytes.
    pub fn tier(name: &str) -> Vec<u8> {
        format!("t/{name}").into_bytes()
    }
}

#[async_trait]
impl Metadata for MetaStore {
    async fn iam_user(&self, name: &str) -> MetaResult<Option<IamUser>> {
        let row = iam::rows::user(name);
        self.read(move |i, mode| i.iam_row(mode, &row)).await
    }

    async fn iam_users(&self) -> MetaResult<Vec<IamUser>> {
        self.blocking(|i| i.iam_rows(iam::rows::USERS)).await
    }

    async fn iam_group(&self, name: &str) -> MetaResult<Option<IamGroup>> {
        let row = iam::rows::group(name);
        self.read(move |i, mode| i.iam_row(mode, &row)).await
    }

    async fn iam_policy(&self, name: &str) -> MetaResult<Option<ManagedPolicy>> {
        let row = iam::rows::policy(name);
        self.read(move |i, mode| i.iam_row(mode, &row)).await
    }

    async fn iam_policies(&self) -> MetaResult<Vec<ManagedPolicy>> {
        self.blocking(|i| i.iam_rows(iam::rows::POLICIES)).await
    }

    async fn access_key(&self, id: &str) -> MetaResult<Option<AccessKey>> {
        let row = iam::rows::key(id);
        self.read(move |i, mode| i.iam_row(mode, &row)).await
    }

    async fn access_keys(&self, user: &str) -> MetaResult<Vec<AccessKey>> {
        let user = user.to_string();
        self.blocking(move |i| i.keys_of(&user)).await
    }

    fn iam_generation(&self) -> u64 {
        self.inner.iam_generation.load(Ordering::Acquire)
    }

    async fn iam_groups(&self) -> MetaResult<Vec<IamGroup>> {
        self.blocking(|i| i.iam_rows(iam::rows::GROUPS)).await
    }

    async fn account(&self, name: &str) -> MetaResult<Option<Account>> {
        let row = iam::rows::account(name);
        self.read(move |i, mode| i.iam_row(mode, &row)).await
    }

    async fn accounts(&self) -> MetaResult<Vec<Account>> {
        self.blocking(|i| i.iam_rows(iam::rows::ACCOUNTS)).await
    }

    async fn root_credentials(&self) -> MetaResult<Option<iam::RootCredentials>> {
        self.blocking(IamRows::root).await
    }

    async fn job(&self, id: &str) -> MetaResult<Option<crate::jobs::Job>> {
        let id = id.to_string();
        self.blocking(move |i| crate::jobs::job(&i.kv(), &id)).await
    }

    async fn jobs(&self, query: crate::jobs::JobQuery) -> MetaResult<Vec<crate::jobs::Job>> {
        self.blocking(move |i| crate::jobs::list(&i.kv(), &query))
            .await
    }

    async fn job_counts(&self) -> MetaResult<crate::jobs::JobCounts> {
        self.blocking(|i| crate::jobs::counts(&i.kv())).await
    }

    async fn job_schedules(&self) -> MetaResult<Vec<crate::jobs::Schedule>> {
        self.blocking(|i| crate::jobs::schedules(&i.kv())).await
    }

    async fn rate_limits(&self) -> MetaResult<Vec<RateLimit>> {
        self.blocking(|i| i.iam_rows(iam::rows::RATE_LIMITS)).await
    }

    async fn bucket_usage(&self, bucket: &str) -> MetaResult<Usage> {
        let row = usage_row::bucket(bucket);
        self.blocking(move |i| i.usage_of(&row)).await
    }

    async fn account_usage(&self, account: &str) -> MetaResult<Usage> {
        let row = usage_row::account(account);
        self.blocking(move |i| i.usage_of(&row)).await
    }

    async fn apply(&self, cmd: Command) -> MetaResult<Outcome> {
        self.blocking(move |i| i.apply(cmd)).await
    }

    async fn settings(&self, prefix: &str) -> MetaResult<Vec<(String, Vec<u8>)>> {
        let prefix = prefix.as_bytes().to_vec();
        self.blocking(move |i| {
            i.kv()
                .scan(Table::Settings, &prefix, &prefix)
                .map(|r| r.map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.to_vec())))
                .collect()
        })
        .await
    }

    fn settings_generation(&self) -> u64 {
        self.inner.settings_generation.load(Ordering::Acquire)
    }

    async fn tier_usage(&self, tier: &str) -> MetaResult<Usage> {
        let row = usage_row::tier(tier);
        self.blocking(move |i| i.usage_of(&row)).await
    }

    async fn queued_events(
        &self,
        target: &str,
        from: u64,
        limit: usize,
    ) -> MetaResult<Vec<crate::events::QueuedEvent>> {
        let target = target.to_string();
        self.blocking(move |i| crate::events::queued(&i.kv(), &target, from, limit))
            .await
    }

    async fn event_queues(&self) -> MetaResult<Vec<(String, crate::events::QueueState)>> {
        self.blocking(|i| crate::events::queues(&i.kv())).await
    }

    async fn queued_replications(
        &self,
        target: &str,
        from: u64,
        limit: usize,
    ) -> MetaResult<Vec<replication::QueuedReplication>> {
        let target = target.to_string();
        self.blocking(move |i| replication::queued(&i.kv(), &target, from, limit))
            .await
    }

    async fn replication_queues(&self) -> MetaResult<Vec<(String, replication::QueueState)>> {
        self.blocking(|i| replication::queues(&i.kv())).await
    }

    fn events_generation(&self) -> u64 {
        self.inner.events_generation.load(Ordering::Acquire)
    }

    async fn bucket(&self, name: &str) -> MetaResult<Option<BucketInfo>> {
        let name = name.to_string();
        self.read(move |i, mode| i.bucket_in(mode, &name)).await
    }

    async fn buckets(&self) -> MetaResult<Vec<BucketInfo>> {
        self.blocking(|i| i.all_buckets()).await
    }

    async fn object(&self, bucket: &str, key: &str) -> MetaResult<Option<ObjectVersion>> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.read(move |i, mode| i.object_in(mode, &bucket, &key))
            .await
    }

    async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> MetaResult<Option<ObjectVersion>> {
        let (b, k, id) = (bucket.to_string(), key.to_string(), version_id.to_string());
        self.read(move |i, mode| Ok(i.find_version(mode, &b, &k, &id)?.map(|(_, v)| v)))
            .await
    }

    async fn list_versions(
        &self,
        bucket: &str,
        query: VersionListQuery,
    ) -> MetaResult<VersionListPage> {
        let bucket = bucket.to_string();
        self.blocking(move |i| {
            let after = match (&query.key_marker, &query.version_id_marker) {
                (Some(k), Some(id)) => i
                    .find_version(ReadMode::Any, &bucket, k, id)?
                    .map(|(row, _)| row),
                _ => None,
            };
            list::list_versions(&i.kv(), &bucket, &query, after)
        })
        .await
    }

    async fn list_objects(&self, bucket: &str, query: ListQuery) -> MetaResult<ListPage> {
        let bucket = bucket.to_string();
        self.blocking(move |i| list::list_objects(&i.kv(), &bucket, &query))
            .await
    }

    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> MetaResult<Option<UploadInfo>> {
        let (b, k, u) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        self.read(move |i, mode| i.upload_in(mode, &b, &k, &u))
            .await
    }

    async fn completed_upload(&self, upload_id: &str) -> MetaResult<Option<CompletedUpload>> {
        let u = upload_id.to_string();
        self.read(move |i, mode| i.completed_upload_in(mode, &u))
            .await
    }

    async fn parts(&self, upload_id: &str, after: u32, max: usize) -> MetaResult<Vec<PartInfo>> {
        let u = upload_id.to_string();
        self.blocking(move |i| i.parts(&u, after, max)).await
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        query: UploadListQuery,
    ) -> MetaResult<UploadListPage> {
        let bucket = bucket.to_string();
        self.blocking(move |i| list::list_uploads(&i.kv(), &bucket, &query))
            .await
    }

    async fn referenced_blobs(&self, bucket: Option<String>) -> MetaResult<HashMap<String, u64>> {
        self.blocking(move |i| i.referenced_blobs(bucket.as_deref()))
            .await
    }

    async fn ready(&self) -> bool {
        true
    }
}
