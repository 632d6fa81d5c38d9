//! The erasure code behind a small trait, so the library can be swapped on the
//! strength of a benchmark (`benches/ec.rs`) without touching the data path.

use crate::error::{StorageError, StorageResult};

/// Reed-Solomon over k data + m parity shards of equal length.
pub trait ErasureCodec: Send + Sync {
    fn data_shards(&self) -> usize;
    fn parity_shards(&self) -> usize;
    /// Fill the parity shards (`shards[k..]`) from the data shards (`shards[..k]`).
    fn encode(&self, shards: &mut [Vec<u8>]) -> StorageResult<()>;
    /// Compute `parity` from `data` kept elsewhere (no copy of the data shards).
    fn encode_sep(&self, data: &[&[u8]], parity: &mut [Vec<u8>]) -> StorageResult<()>;
    /// Rebuild only the missing data shards (reads do not need parity back).
    fn reconstruct_data(&self, shards: &mut [Option<Vec<u8>>]) -> StorageResult<()>;
    /// Rebuild every `None` shard from at least k present ones.
    fn reconstruct(&self, shards: &mut [Option<Vec<u8>>]) -> StorageResult<()>;
}

/// `reed-solomon-erasure` (GF(2^8), SIMD-accelerated): symmetric encode and
/// reconstruct speed, which matters because degraded reads and healing reconstruct.
pub struct ReedSolomonCodec {
    k: usize,
    m: usize,
    rs: Option<reed_solomon_erasure::galois_8::ReedSolomon>,
}

impl ReedSolomonCodec {
    pub fn new(k: usize, m: usize) -> StorageResult<ReedSolomonCodec> {
        if k == 0 || k + m > 256 {
            return Err(StorageError::Layout(format!(
                "unsupported erasure layout {k}+{m}"
            )));
        }
        // m = 0 (a single drive) needs no code; the library refuses it anyway.
        let rs = if m == 0 {
            None
        } else {
            Some(
                reed_solomon_erasure::galois_8::ReedSolomon::new(k, m)
                    .map_err(|e| StorageError::Layout(format!("{k}+{m}: {e:?}")))?,
            )
        };
        Ok(ReedSolomonCodec { k, m, rs })
    }
}

impl ErasureCodec for ReedSolomonCodec {
    fn data_shards(&self) -> usize {
        self.k
    }

    fn parity_shards(&self) -> usize {
        self.m
    }

    fn encode(&self, shards: &mut [Vec<u8>]) -> StorageResult<()> {
        match &self.rs {
            None => Ok(()),
            Some(rs) => rs
                .encode(shards)
                .map_err(|e| StorageError::Codec(format!("{e:?}"))),
        }
    }

    fn encode_sep(&self, data: &[&[u8]], parity: &mut [Vec<u8>]) -> StorageResult<()> {
        match &self.rs {
            None => Ok(()),
            Some(rs) => rs
                .encode_sep(data, parity)
                .map_err(|e| StorageError::Codec(format!("{e:?}"))),
        }
    }

    fn reconstruct_data(&self, shards: &mut [Option<Vec<u8>>]) -> StorageResult<()> {
        let present = shards.iter().filter(|s| s.is_some()).count();
        if present < self.k {
            return Err(StorageError::NotEnoughShards {
                have: present,
                need: self.k,
            });
        }
        match &self.rs {
            None => Ok(()),
            Some(rs) => rs
                .reconstruct_data(shards)
                .map_err(|e| StorageError::Codec(format!("{e:?}"))),
        }
    }

    fn reconstruct(&self, shards: &mut [Option<Vec<u8>>]) -> StorageResult<()> {
        let present = shards.iter().filter(|s| s.is_some()).count();
        if present < self.k {
            return Err(StorageError::NotEnoughShards {
                have: present,
                need: self.k,
            });
        }
        match &self.rs {
            None => Ok(()),
            Some(rs) => rs
                .reconstruct(shards)
                .map_err(|e| StorageError::Codec(format!("{e:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(k: usize, m: usize, len: usize, missing: &[usize]) {
        let codec = ReedSolomonCodec::new(k, m).unwrap();
        let mut shards: Vec<Vec<u8>> = (0..k + m)
            .map(|i| {
                if i < k {
                    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
                } else {
                    vec![0; len]
                }
            })
            .collect();
        codec.encode(&mut shards).unwrap();
        // encode_sep gives the same parity without copying the data shards
        let data: Vec<&[u8]> = shards[..k].iter().map(|s| s.as_slice()).collect();
        let mut parity = vec![vec![0u8; len]; m];
        codec.encode_sep(&data, &mut parity).unwrap();
        assert_eq!(parity, shards[k..]);
        let mut only_data: Vec<Option<Vec<u8>>> = shards.iter().cloned().map(Some).collect();
        for &i in missing {
            only_data[i] = None;
        }
        codec.reconstruct_data(&mut only_data).unwrap();
        for i in 0..k {
            assert_eq!(only_data[i].as_ref().unwrap(), &shards[i]);
        }
        let mut partial: Vec<Option<Vec<u8>>> = shards.iter().cloned().map(Some).collect();
        for &i in missing {
            partial[i] = None;
        }
        codec.reconstruct(&mut partial).unwrap();
        for (i, s) in partial.iter().enumerate() {
            assert_eq!(
                s.as_ref().unwrap(),
                &shards[i],
                "{k}+{m} missing {missing:?} shard {i}"
            );
        }
    }

    /// Every combination of up to m missing shards, for every default layout.
    #[test]
    fn every_combination_of_up_to_m_missing_shards() {
        for (k, m) in [
            (1, 0),
            (1, 1),
            (2, 1),
            (2, 2),
            (3, 2),
            (4, 2),
            (5, 2),
            (4, 4),
            (8, 4),
            (12, 4),
        ] {
            let n = k + m;
            for mask in 0u32..(1 << n) {
                if mask.count_ones() as usize <= m {
                    let missing: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
                    round_trip(k, m, 64, &missing);
                }
            }
        }
    }

    #[test]
    fn more_than_m_missing_is_an_error() {
        let codec = ReedSolomonCodec::new(4, 2).unwrap();
        let mut shards: Vec<Option<Vec<u8>>> = (0..6).map(|_| Some(vec![1u8; 8])).collect();
        shards[0] = None;
        shards[1] = None;
        shards[5] = None;
        assert!(matches!(
            codec.reconstruct(&mut shards),
            Err(StorageError::NotEnoughShards { have: 3, need: 4 })
        ));
    }

    proptest! {
        #[test]
        fn random_layouts_and_losses(k in 1usize..10, m in 0usize..5, len in 1usize..300, seed in any::<u64>()) {
            let n = k + m;
            let mut missing: Vec<usize> = (0..n).collect();
            // a seed-chosen subset of at most m shards
            let mut s = seed;
            missing.retain(|_| { s = s.wrapping_mul(6364136223846793005).wrapping_add(1); (s >> 33) % 2 == 0 });
            missing.truncate(m);
            round_trip(k, m, len, &missing);
        }
    }
}
