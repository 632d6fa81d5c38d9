//! The small key-value surface the store needs from RocksDB, so that moving to another
//! RocksDB binding (or version) touches only this file.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch,
    WriteOptions,
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
}

impl Table {
    const ALL: [Table; 5] = [
        Table::Buckets,
        Table::Objects,
        Table::Uploads,
        Table::Parts,
        Table::System,
    ];

    fn cf_name(self) -> &'static str {
        match self {
            Table::Buckets => "buckets",
            Table::Objects => "objects",
            Table::Uploads => "uploads",
            Table::Parts => "parts",
            Table::System => "system",
        }
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
}

impl Kv {
    pub fn open(path: &Path) -> MetaResult<Kv> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
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
        Ok(Kv { db })
    }

    fn cf(&self, t: Table) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(t.cf_name())
            .expect("column families are created at open")
    }

    pub fn get(&self, t: Table, key: &[u8]) -> MetaResult<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(t), key)?)
    }

    /// One atomic, durable (WAL fsync) write.
    pub fn write(&self, ops: Vec<Op>) -> MetaResult<()> {
        let mut batch = WriteBatch::default();
        for op in ops {
            match op {
                Op::Put(t, k, v) => batch.put_cf(self.cf(t), k, v),
                Op::Delete(t, k) => batch.delete_cf(self.cf(t), k),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// Rows with key >= `from` that start with `prefix`, in order.
    pub fn scan<'a>(
        &'a self,
        t: Table,
        prefix: &'a [u8],
        from: &[u8],
    ) -> impl Iterator<Item = MetaResult<Row>> + 'a {
        let start: &[u8] = if from < prefix { prefix } else { from };
        self.db
            .iterator_cf(self.cf(t), IteratorMode::From(start, Direction::Forward))
            .map(|r| r.map_err(Into::into))
            .take_while(move |r| match r {
                Ok((k, _)) => k.starts_with(prefix),
                Err(_) => true,
            })
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
