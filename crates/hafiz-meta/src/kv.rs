//! The small key-value surface the store needs from RocksDB, so that moving to another
//! RocksDB binding (or version) touches only this file.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, ReadOptions,
    WriteBatch, WriteOptions,
};

use crate::error::MetaResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Buckets,
    Objects,
    Uploads,
    Parts,
    /// Store bookkeeping: the applied-command sequence number of this mirror.
    System,
    /// IAM users, groups, managed policies and access keys; accounts; rate limits.
    Iam,
    /// Usage counters of buckets (`b/NAME`) and accounts (`a/NAME`).
    Usage,
    /// The Raft log: entries by big-endian index (see `hafiz-cluster`).
    RaftLog,
    /// Raft's own durable state: vote, committed and purged log ids, membership,
    /// cluster id, snapshot metadata.
    RaftState,
    /// Background jobs, their schedules and counters (see `jobs.rs`).
    Jobs,
    /// Cluster-wide settings by key (tiers: `tier/NAME`).
    Settings,
    /// Notification event queues (see `events.rs`).
    Events,
    /// Replication queues (see `replication.rs`).
    Replication,
    /// Recently completed multipart uploads (see `completed.rs`).
    Completed,
}

impl Table {
    const ALL: [Table; 14] = [
        Table::Buckets,
        Table::Objects,
        Table::Uploads,
        Table::Parts,
        Table::System,
        Table::Iam,
        Table::Usage,
        Table::RaftLog,
        Table::RaftState,
        Table::Jobs,
        Table::Settings,
        Table::Events,
        Table::Replication,
        Table::Completed,
    ];

    /// The tables a state-machine snapshot carries (everything but Raft's own).
    pub const STATE: [Table; 12] = [
        Table::Buckets,
        Table::Objects,
        Table::Uploads,
        Table::Parts,
        Table::System,
        Table::Iam,
        Table::Usage,
        Table::Jobs,
        Table::Settings,
        Table::Events,
        Table::Replication,
        Table::Completed,
    ];

    pub fn tag(self) -> u8 {
        Table::ALL.iter().position(|t| *t == self).unwrap_or(0) as u8
    }

    pub fn from_tag(tag: u8) -> Option<Table> {
        Table::ALL.get(tag as usize).copied()
    }

    fn cf_name(self) -> &'static str {
        match self {
            Table::Buckets => "buckets",
            Table::Objects => "objects",
            Table::Uploads => "uploads",
            Table::Parts => "parts",
            Table::System => "system",
            Table::Iam => "iam",
            Table::Usage => "usage",
            Table::RaftLog => "raft_log",
            Table::RaftState => "raft_state",
            Table::Jobs => "jobs",
            Table::Settings => "settings",
            Table::Events => "events",
            Table::Replication => "replication",
            Table::Completed => "completed",
        }
    }
}

/// Where a read may look. Reads answered from memory (memtable, block cache) run
/// inline on the async runtime; only those that need disk I/O pay for a hop to the
/// blocking pool, which costs more than the read itself when the row is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    Any,
    /// Fail with `MetaError::NotInMemory` rather than read from disk.
    MemoryOnly,
}

impl ReadMode {
    // The one unsafe block in the workspace; see below.
    #[allow(unsafe_code, clippy::missing_transmute_annotations)]
    fn options(self) -> ReadOptions {
        let mut ro = ReadOptions::default();
        if self == ReadMode::MemoryOnly {
            // rocksdb 0.20.1 (pinned to match Debian's librocksdb) takes a `ReadTier`
            // but does not export the type, so it cannot be named here. It is
            // `#[repr(i32)]` with `BlockCache = 1` (memtable or block cache only).
            // SAFETY: 1 is a valid discriminant of that repr(i32) enum.
            ro.set_read_tier(unsafe { std::mem::transmute::<i32, _>(1) });
        }
        ro
    }
}

/// One row as the iterator yields it.
pub type Row = (Box<[u8]>, Box<[u8]>);

#[derive(Clone)]
pub enum Op {
    Put(Table, Vec<u8>, Vec<u8>),
    Delete(Table, Vec<u8>),
}

pub struct Kv {
    db: DB,
    /// Kept for its statistics object (block cache hits, stalls).
    opts: Options,
}

/// Engine figures of one store for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvStats {
    pub block_cache_hits: u64,
    pub block_cache_misses: u64,
    pub block_cache_usage_bytes: u64,
    pub memtable_bytes: u64,
    pub pending_compaction_bytes: u64,
    pub running_compactions: u64,
    pub write_stopped: bool,
    pub stall_micros: u64,
}

/// A ticker's count in RocksDB's statistics dump (`name COUNT : n`).
fn ticker(dump: &str, name: &str) -> u64 {
    dump.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(name)?.trim_start();
            rest.strip_prefix("COUNT : ")?.trim().parse().ok()
        })
        .unwrap_or(0)
}

impl Kv {
    pub fn open(path: &Path) -> MetaResult<Kv> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // WAL records stay in RocksDB's buffer until `sync_wal`, so a group commit
        // costs one write and one fsync per mirror instead of a write per command.
        opts.set_manual_wal_flush(true);
        opts.enable_statistics();
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        let cache = rocksdb::Cache::new_lru_cache(64 << 20)?;
        table.set_block_cache(&cache);
        let cfs = Table::ALL.iter().map(|t| {
            let mut cf_opts = Options::default();
            cf_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
            cf_opts.set_block_based_table_factory(&table);
            ColumnFamilyDescriptor::new(t.cf_name(), cf_opts)
        });
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(Kv { db, opts })
    }

    fn cf(&self, t: Table) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(t.cf_name())
            .expect("column families are created at open")
    }

    pub fn get(&self, t: Table, key: &[u8]) -> MetaResult<Option<Vec<u8>>> {
        self.get_in(ReadMode::Any, t, key)
    }

    pub fn get_in(&self, mode: ReadMode, t: Table, key: &[u8]) -> MetaResult<Option<Vec<u8>>> {
        Ok(self.db.get_cf_opt(self.cf(t), key, &mode.options())?)
    }

    /// One atomic write, in the WAL but not yet synced: callers group concurrent
    /// writes under one [`Kv::sync_wal`] (group commit).
    pub fn write(&self, ops: Vec<Op>) -> MetaResult<()> {
        let mut batch = WriteBatch::default();
        for op in ops {
            match op {
                Op::Put(t, k, v) => batch.put_cf(self.cf(t), k, v),
                Op::Delete(t, k) => batch.delete_cf(self.cf(t), k),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// Make every write made so far durable (one fsync of the WAL).
    pub fn sync_wal(&self) -> MetaResult<()> {
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// Rows with key >= `from` that start with `prefix`, in order.
    pub fn scan<'a>(
        &'a self,
        t: Table,
        prefix: &'a [u8],
        from: &[u8],
    ) -> impl Iterator<Item = MetaResult<Row>> + 'a {
        self.scan_in(ReadMode::Any, t, prefix, from)
    }

    pub fn scan_in<'a>(
        &'a self,
        mode: ReadMode,
        t: Table,
        prefix: &'a [u8],
        from: &[u8],
    ) -> impl Iterator<Item = MetaResult<Row>> + 'a {
        let start: &[u8] = if from < prefix { prefix } else { from };
        // The upper bound lets RocksDB stop at the end of the prefix instead of
        // stepping over the tombstones and rows that follow it.
        let mut ro = mode.options();
        if let Some(end) = prefix_end(prefix) {
            ro.set_iterate_upper_bound(end);
        }
        self.db
            .iterator_cf_opt(
                self.cf(t),
                ro,
                IteratorMode::From(start, Direction::Forward),
            )
            .map(|r| r.map_err(Into::into))
            .take_while(move |r| match r {
                Ok((k, _)) => k.starts_with(prefix),
                Err(_) => true,
            })
    }

    /// Every row of `tables` as of one consistent point in time (a RocksDB snapshot:
    /// writes made meanwhile are not seen), in table then key order.
    pub fn for_each_row(
        &self,
        tables: &[Table],
        mut f: impl FnMut(Table, &[u8], &[u8]) -> MetaResult<()>,
    ) -> MetaResult<()> {
        let snap = self.db.snapshot();
        for t in tables {
            for row in snap.iterator_cf(self.cf(*t), IteratorMode::Start) {
                let (k, v) = row?;
                f(*t, &k, &v)?;
            }
        }
        Ok(())
    }

    /// The row with the greatest key of a table.
    pub fn last_row(&self, t: Table) -> MetaResult<Option<Row>> {
        match self.db.iterator_cf(self.cf(t), IteratorMode::End).next() {
            Some(r) => Ok(Some(r?)),
            None => Ok(None),
        }
    }

    pub fn stats(&self) -> KvStats {
        let dump = self.opts.get_statistics().unwrap_or_default();
        let mut s = KvStats {
            block_cache_hits: ticker(&dump, "rocksdb.block.cache.hit"),
            block_cache_misses: ticker(&dump, "rocksdb.block.cache.miss"),
            stall_micros: ticker(&dump, "rocksdb.stall.micros"),
            ..KvStats::default()
        };
        let int = |name: &str| self.db.property_int_value(name).ok().flatten().unwrap_or(0);
        s.block_cache_usage_bytes = int("rocksdb.block-cache-usage");
        s.running_compactions = int("rocksdb.num-running-compactions");
        s.write_stopped = int("rocksdb.is-write-stopped") != 0;
        for t in Table::ALL {
            let cf = self.cf(t);
            let int = |name: &str| {
                self.db
                    .property_int_value_cf(cf, name)
                    .ok()
                    .flatten()
                    .unwrap_or(0)
            };
            s.memtable_bytes += int("rocksdb.cur-size-all-mem-tables");
            s.pending_compaction_bytes += int("rocksdb.estimate-pending-compaction-bytes");
        }
        s
    }

    /// A consistent copy of the whole store at `dest` (which must not exist).
    pub fn checkpoint(&self, dest: &Path) -> MetaResult<()> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dest)?;
        Ok(())
    }

    pub fn flush(&self) -> MetaResult<()> {
        self.db.flush_wal(true)?;
        Ok(())
    }
}

/// The first key after every key that starts with `prefix` (None: no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn memory_only_reads_refuse_disk_io() {
        use super::{Kv, Op, ReadMode, Table};
        use crate::error::MetaError;
        let dir = tempfile::tempdir().unwrap();
        {
            let kv = Kv::open(dir.path()).unwrap();
            kv.write(vec![Op::Put(Table::Objects, b"k".to_vec(), b"v".to_vec())])
                .unwrap();
            // From the memtable.
            assert_eq!(
                kv.get_in(ReadMode::MemoryOnly, Table::Objects, b"k")
                    .unwrap(),
                Some(b"v".to_vec())
            );
            kv.db.flush_cf(kv.cf(Table::Objects)).unwrap();
        }
        // Reopened: the row is only in an SST file, not in any cache.
        let kv = Kv::open(dir.path()).unwrap();
        assert!(matches!(
            kv.get_in(ReadMode::MemoryOnly, Table::Objects, b"k"),
            Err(MetaError::NotInMemory)
        ));
        assert!(matches!(
            kv.scan_in(ReadMode::MemoryOnly, Table::Objects, b"k", b"k")
                .next(),
            Some(Err(MetaError::NotInMemory))
        ));
        assert_eq!(kv.get(Table::Objects, b"k").unwrap(), Some(b"v".to_vec()));
        // Now the block is cached.
        assert_eq!(
            kv.get_in(ReadMode::MemoryOnly, Table::Objects, b"k")
                .unwrap(),
            Some(b"v".to_vec())
        );
    }

    #[test]
    fn statistics_count_cache_hits() {
        use super::{Kv, Op, Table, ticker};
        let dump = "rocksdb.block.cache.miss COUNT : 7\nrocksdb.block.cache.hit COUNT : 42\n";
        assert_eq!(ticker(dump, "rocksdb.block.cache.hit"), 42);
        assert_eq!(ticker(dump, "rocksdb.block.cache.miss"), 7);
        let dir = tempfile::tempdir().unwrap();
        let kv = Kv::open(dir.path()).unwrap();
        kv.write(vec![Op::Put(Table::Objects, b"k".to_vec(), vec![1; 4096])])
            .unwrap();
        assert!(kv.stats().memtable_bytes > 4096);
        kv.db.flush_cf(kv.cf(Table::Objects)).unwrap();
        for _ in 0..3 {
            kv.get(Table::Objects, b"k").unwrap();
        }
        let s = kv.stats();
        assert!(s.block_cache_hits + s.block_cache_misses >= 3, "{s:?}");
        assert!(s.block_cache_usage_bytes > 0, "{s:?}");
    }

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
