//! The shard file format. A shard file holds one shard of every block of a blob:
//!
//! ```text
//! header (32 bytes): magic "HZSHARD1", format version, codec, checksum kind,
//!                    k, m, shard index, reserved, block size (u32 LE), reserved
//! then per block b:  chunk (ceil(len_b / k) bytes) followed by its CRC32C (4 bytes LE)
//! ```
//!
//! Every chunk carries its own checksum so a read verifies exactly the blocks it
//! touches, and a rotten chunk is detected and rebuilt from parity.

use crate::error::{StorageError, StorageResult};

pub const MAGIC: &[u8; 8] = b"HZSHARD1";
pub const HEADER_LEN: u64 = 32;
pub const FORMAT_VERSION: u8 = 1;
/// Reed-Solomon, GF(2^8), Vandermonde-derived matrix (reed-solomon-erasure).
pub const CODEC_RS_GF8: u8 = 1;
/// CRC32C (Castagnoli): hardware-accelerated, chosen by `benches/checksum.rs`.
pub const CHECKSUM_CRC32C: u8 = 1;
pub const CHECKSUM_LEN: u64 = 4;
/// Object bytes per erasure-coded block.
pub const BLOCK_SIZE: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardHeader {
    pub k: u8,
    pub m: u8,
    pub index: u8,
    pub block_size: u32,
}

impl ShardHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut h = [0u8; HEADER_LEN as usize];
        h[..8].copy_from_slice(MAGIC);
        h[8] = FORMAT_VERSION;
        h[9] = CODEC_RS_GF8;
        h[10] = CHECKSUM_CRC32C;
        h[11] = self.k;
        h[12] = self.m;
        h[13] = self.index;
        h[16..20].copy_from_slice(&self.block_size.to_le_bytes());
        h
    }

    pub fn decode(b: &[u8]) -> StorageResult<ShardHeader> {
        if b.len() < HEADER_LEN as usize || &b[..8] != MAGIC {
            return Err(StorageError::Corrupt("bad shard header magic".into()));
        }
        if b[8] != FORMAT_VERSION || b[9] != CODEC_RS_GF8 || b[10] != CHECKSUM_CRC32C {
            return Err(StorageError::Corrupt(format!(
                "unsupported shard format {}/{}/{}",
                b[8], b[9], b[10]
            )));
        }
        Ok(ShardHeader {
            k: b[11],
            m: b[12],
            index: b[13],
            block_size: u32::from_le_bytes([b[16], b[17], b[18], b[19]]),
        })
    }
}

pub fn checksum(chunk: &[u8]) -> [u8; 4] {
    (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, chunk) as u32).to_le_bytes()
}

/// Where blocks are, for a blob of `size` bytes coded k ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLayout {
    pub size: u64,
    pub k: u64,
    pub block_size: u64,
}

impl BlockLayout {
    pub fn new(size: u64, k: usize, block_size: u64) -> BlockLayout {
        BlockLayout {
            size,
            k: k as u64,
            block_size,
        }
    }

    pub fn blocks(&self) -> u64 {
        self.size.div_ceil(self.block_size)
    }

    /// Object bytes in block `b`.
    pub fn block_len(&self, b: u64) -> u64 {
        (self.size - b * self.block_size).min(self.block_size)
    }

    /// Bytes of one shard's chunk for block `b`.
    pub fn chunk_len(&self, b: u64) -> u64 {
        self.block_len(b).div_ceil(self.k)
    }

    /// Offset of block `b`'s chunk inside a shard file.
    pub fn chunk_offset(&self, b: u64) -> u64 {
        HEADER_LEN + b * (self.block_size.div_ceil(self.k) + CHECKSUM_LEN)
    }

    /// The size a complete shard file has.
    pub fn shard_file_len(&self) -> u64 {
        let b = self.blocks();
        if b == 0 {
            HEADER_LEN
        } else {
            self.chunk_offset(b - 1) + self.chunk_len(b - 1) + CHECKSUM_LEN
        }
    }
}

/// Split one block into k equal data shards (the last padded with zeros) plus m
/// zeroed parity shards, ready for encoding.
pub fn split_block(block: &[u8], k: usize, m: usize) -> Vec<Vec<u8>> {
    let len = block.len().div_ceil(k).max(1);
    let mut shards = Vec::with_capacity(k + m);
    for i in 0..k {
        let start = (i * len).min(block.len());
        let end = ((i + 1) * len).min(block.len());
        let mut s = Vec::with_capacity(len);
        s.extend_from_slice(&block[start..end]);
        s.resize(len, 0);
        shards.push(s);
    }
    shards.extend((0..m).map(|_| vec![0u8; len]));
    shards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_rejects_garbage() {
        let h = ShardHeader {
            k: 4,
            m: 2,
            index: 5,
            block_size: 1 << 20,
        };
        assert_eq!(ShardHeader::decode(&h.encode()).unwrap(), h);
        let mut bad = h.encode();
        bad[0] ^= 1;
        assert!(ShardHeader::decode(&bad).is_err());
        assert!(ShardHeader::decode(&[0u8; 4]).is_err());
    }

    #[test]
    fn layout_math() {
        let l = BlockLayout::new(2 * 1024 * 1024 + 1, 4, 1024 * 1024);
        assert_eq!(l.blocks(), 3);
        assert_eq!(l.block_len(2), 1);
        assert_eq!(l.chunk_len(0), 262144);
        assert_eq!(l.chunk_len(2), 1);
        assert_eq!(l.chunk_offset(1), HEADER_LEN + 262144 + 4);
        assert_eq!(l.shard_file_len(), HEADER_LEN + 2 * (262144 + 4) + 1 + 4);
        assert_eq!(BlockLayout::new(0, 4, 1 << 20).shard_file_len(), HEADER_LEN);
        let s = split_block(b"abcdefghij", 4, 2);
        assert_eq!(s.len(), 6);
        assert_eq!(s[0], b"abc");
        assert_eq!(s[3], b"j\0\0");
    }
}
