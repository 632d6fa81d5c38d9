//! Metadata sharding, designed in: every key of the metadata space belongs to one
//! shard (one Raft group) by range of `bucket/key`, the way TiKV splits regions.
//! Today the map holds a single shard covering everything; `docs/cluster.md` says
//! where a split goes and what moves.

/// A Raft group of the metadata space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId(pub u32);

/// Ranges of the `bucket \0 key` space, each owned by a shard: shard `i` owns keys
/// from `starts[i]` (inclusive) to `starts[i + 1]` (exclusive). The first start is
/// always empty, so every key has a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaShard {
    starts: Vec<(Vec<u8>, ShardId)>,
}

impl Default for MetaShard {
    fn default() -> MetaShard {
        MetaShard {
            starts: vec![(Vec::new(), ShardId(0))],
        }
    }
}

impl MetaShard {
    /// The range key of an object: bucket, a 0 byte (never in a bucket name), key.
    pub fn range_key(bucket: &str, key: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(bucket.len() + 1 + key.len());
        k.extend_from_slice(bucket.as_bytes());
        k.push(0);
        k.extend_from_slice(key.as_bytes());
        k
    }

    pub fn shard_of(&self, bucket: &str, key: &str) -> ShardId {
        let k = Self::range_key(bucket, key);
        let i = self
            .starts
            .partition_point(|(s, _)| s.as_slice() <= k.as_slice());
        self.starts[i.saturating_sub(1)].1
    }

    /// The shard holding a bucket's row (and its first keys): bucket-level
    /// commands (create, delete, configuration) go there.
    pub fn shard_of_bucket(&self, bucket: &str) -> ShardId {
        self.shard_of(bucket, "")
    }

    /// Split the range containing `at` so that keys from `at` on belong to `to`.
    pub fn split(&mut self, at: Vec<u8>, to: ShardId) {
        let i = self
            .starts
            .partition_point(|(s, _)| s.as_slice() <= at.as_slice());
        if self.starts[i - 1].0 == at {
            self.starts[i - 1].1 = to;
        } else {
            self.starts.insert(i, (at, to));
        }
    }

    pub fn shards(&self) -> Vec<ShardId> {
        let mut v: Vec<ShardId> = self.starts.iter().map(|(_, s)| *s).collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shard_owns_everything_until_a_split() {
        let mut m = MetaShard::default();
        assert_eq!(m.shard_of("photos", "a"), ShardId(0));
        assert_eq!(m.shards(), vec![ShardId(0)]);
        m.split(MetaShard::range_key("photos", "m"), ShardId(1));
        assert_eq!(m.shard_of("photos", "a"), ShardId(0));
        assert_eq!(m.shard_of("photos", "m"), ShardId(1));
        assert_eq!(m.shard_of("photos", "zz"), ShardId(1));
        // Bucket "photosa" sorts after every key of "photos" (0 < 'a').
        assert_eq!(m.shard_of("photosa", ""), ShardId(1));
        assert_eq!(m.shard_of_bucket("music"), ShardId(0));
        assert_eq!(m.shards(), vec![ShardId(0), ShardId(1)]);
    }
}
