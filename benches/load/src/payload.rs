//! Object bodies: zero-copy slices of one shared pseudo-random buffer.
//!
//! Object `i` holds `size` bytes starting at offset `(i % variants) * STRIDE` of the buffer.
//! Every shift of a pseudo-random buffer is a different byte string, so up to `variants`
//! objects have distinct, reproducible contents without a per-object allocation: a PUT
//! sends a `Bytes` slice (a reference count, no copy) and a GET compares what arrives
//! chunk by chunk against the slice the object was written from.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Offset between consecutive variants (bytes).
const STRIDE: usize = 64;
/// Upper bound on distinct bodies (keeps the extra buffer at `MAX_VARIANTS * STRIDE` = 4 MiB).
const MAX_VARIANTS: u64 = 65_536;

pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub struct Payload {
    buf: Bytes,
    size: usize,
    variants: u64,
    /// SHA-256 (hex) of `(offset, len)` slices already hashed: a body is hashed once, not
    /// once per request, so the client's CPU (shared with the server on one machine)
    /// goes to moving bytes. The server still receives and checks the signed hash.
    sha_cache: Mutex<HashMap<(usize, usize), String>>,
}

impl Payload {
    /// Bodies of `size` bytes for `objects` keys, generated from `seed`.
    pub fn new(size: u64, objects: u64, seed: u64) -> Payload {
        let variants = objects.clamp(1, MAX_VARIANTS);
        let size = usize::try_from(size).expect("size fits in memory");
        let len = size + (variants as usize - 1) * STRIDE;
        let mut buf = Vec::with_capacity(len + 8);
        // xorshift64*: fast, deterministic, and incompressible enough for a store that
        // might compress or deduplicate.
        let mut x = seed | 1;
        while buf.len() < len {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        buf.truncate(len);
        Payload {
            buf: Bytes::from(buf),
            size,
            variants,
            sha_cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    fn offset(&self, key: u64) -> usize {
        (key % self.variants) as usize * STRIDE
    }

    /// The whole body of object `key` (zero-copy).
    pub fn body(&self, key: u64) -> Bytes {
        let off = self.offset(key);
        self.buf.slice(off..off + self.size)
    }

    /// Bytes `start..end` of object `key`'s body (zero-copy), e.g. one multipart part.
    pub fn range(&self, key: u64, start: usize, end: usize) -> Bytes {
        let off = self.offset(key);
        self.buf.slice(off + start..off + end)
    }

    /// Hex SHA-256 of bytes `start..end` of object `key`'s body, computed once per distinct slice.
    pub fn sha256(&self, key: u64, start: usize, end: usize) -> String {
        if start == end {
            return EMPTY_SHA256.to_string();
        }
        let k = (self.offset(key) + start, end - start);
        if let Some(h) = self.sha_cache.lock().expect("sha cache").get(&k) {
            return h.clone();
        }
        // Hash outside the lock: a 64 MiB body must not stall the other workers.
        let h = hex::encode(Sha256::digest(&self.buf[k.0..k.0 + k.1]));
        self.sha_cache
            .lock()
            .expect("sha cache")
            .insert(k, h.clone());
        h
    }

    /// Hashes, before the clock starts, the bodies (or `part_size` parts of them) of the
    /// first `keys` objects, up to `MAX_PREHASH` bytes: the client's SHA-256 work is not
    /// what is being measured. What is left is hashed on first use.
    pub fn prehash(&self, keys: u64, part_size: usize) {
        const MAX_PREHASH: usize = 8 << 30;
        let part_size = part_size.clamp(1, self.size.max(1));
        let mut ranges = Vec::new();
        let mut total = 0usize;
        'keys: for key in 0..keys.min(self.variants) {
            let mut start = 0;
            while start < self.size {
                let end = (start + part_size).min(self.size);
                total += end - start;
                if total > MAX_PREHASH {
                    break 'keys;
                }
                ranges.push((key, start, end));
                start = end;
            }
        }
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        std::thread::scope(|s| {
            for t in 0..threads {
                let ranges = &ranges;
                s.spawn(move || {
                    for &(key, start, end) in ranges.iter().skip(t).step_by(threads) {
                        self.sha256(key, start, end);
                    }
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_distinct_and_reproducible() {
        let p = Payload::new(4096, 10, 7);
        let q = Payload::new(4096, 10, 7);
        assert_eq!(p.body(3), q.body(3));
        assert_ne!(p.body(3), p.body(4));
        assert_eq!(p.body(3), p.body(13));
        assert_eq!(p.body(3).len(), 4096);
        assert_eq!(p.range(3, 100, 200), p.body(3).slice(100..200));
        assert_eq!(p.sha256(3, 0, 4096), hex::encode(Sha256::digest(p.body(3))));
        assert_eq!(p.sha256(3, 0, 0), hex::encode(Sha256::digest(b"")));
    }

    #[test]
    fn prehash_parts() {
        let p = Payload::new(10_000, 4, 3);
        p.prehash(100, 4096);
        assert_eq!(p.sha_cache.lock().unwrap().len(), 4 * 3);
        assert_eq!(
            p.sha256(2, 8192, 10_000),
            hex::encode(Sha256::digest(p.range(2, 8192, 10_000)))
        );
        let q = Payload::new(0, 4, 3);
        q.prehash(u64::MAX, usize::MAX);
        assert!(q.sha_cache.lock().unwrap().is_empty());
    }

    #[test]
    fn zero_size() {
        let p = Payload::new(0, 100_000, 1);
        assert!(p.body(99_999).is_empty());
    }
}
