//! The sealed-chunk format of an encrypted object. The plaintext of each segment (a
//! PutObject body, or one part of a multipart upload) is cut into 64 KiB chunks, and
//! each chunk is sealed on its own with AES-256-GCM under the object's data key:
//!
//! ```text
//! chunk = nonce (12, random) || ciphertext (<= 64 KiB) || tag (16)
//! AAD   = "hafiz-sse-v1" || segment number (u32 BE) || chunk index (u64 BE) || last (u8)
//! ```
//!
//! Sealed chunks have a fixed size (all but a segment's last), so a plaintext range
//! maps to a ciphertext range by arithmetic: a ranged GET reads and opens only the
//! chunks it needs. The AAD pins every chunk to its place: a chunk moved, swapped
//! between parts, dropped from the end or altered fails to open, and nothing it
//! holds is ever returned. Random nonces (not counters) keep a part uploaded twice
//! under the same data key from reusing one.

use bytes::{Bytes, BytesMut};
use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};

use crate::keys::{DataKey, random};
use crate::{CryptoError, CryptoResult};

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// What sealing adds to each chunk.
pub const OVERHEAD: usize = NONCE_LEN + TAG;
/// A full chunk, sealed.
pub const SEALED_CHUNK: usize = CHUNK + OVERHEAD;
const DOMAIN: &[u8] = b"hafiz-sse-v1";

/// Stored length of a segment of `plain` bytes.
pub fn sealed_len(plain: u64) -> u64 {
    plain + plain.div_ceil(CHUNK as u64) * OVERHEAD as u64
}

fn chunks_of(plain: u64) -> u64 {
    plain.div_ceil(CHUNK as u64)
}

fn aad(segment: u32, index: u64, last: bool) -> [u8; 25] {
    let mut a = [0u8; 25];
    a[..12].copy_from_slice(DOMAIN);
    a[12..16].copy_from_slice(&segment.to_be_bytes());
    a[16..24].copy_from_slice(&index.to_be_bytes());
    a[24] = u8::from(last);
    a
}

/// Seals a segment's plaintext as it streams in. A full chunk is held back until
/// more data comes, since only `finish` knows which chunk is the last.
pub struct ChunkSealer {
    key: LessSafeKey,
    segment: u32,
    index: u64,
    buf: BytesMut,
}

impl ChunkSealer {
    pub fn new(key: &DataKey, segment: u32) -> ChunkSealer {
        ChunkSealer {
            key: key.aead(),
            segment,
            index: 0,
            buf: BytesMut::with_capacity(CHUNK * 2),
        }
    }

    /// Take plaintext; returns the chunks it completed, sealed.
    pub fn push(&mut self, data: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut data = data;
        while !data.is_empty() {
            if self.buf.len() == CHUNK {
                out.push(self.seal_buffered(false));
            }
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        out
    }

    /// The last chunk, sealed as the last (None for an empty segment).
    pub fn finish(mut self) -> Option<Bytes> {
        (!self.buf.is_empty()).then(|| self.seal_buffered(true))
    }

    fn seal_buffered(&mut self, last: bool) -> Bytes {
        let nonce: [u8; NONCE_LEN] = random();
        let mut out = BytesMut::with_capacity(self.buf.len() + OVERHEAD);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&self.buf);
        self.buf.clear();
        let mut body = out.split_off(NONCE_LEN);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(self.segment, self.index, last)),
                &mut body,
            )
            .expect("AES-GCM sealing of an in-memory buffer cannot fail");
        out.unsplit(body);
        out.extend_from_slice(tag.as_ref());
        self.index += 1;
        out.freeze()
    }
}

/// A sealed segment of an object: its number (in the AAD) and plaintext length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub number: u32,
    pub plain_len: u64,
}

/// Opens the chunks that hold plaintext `[start, end)` of an object made of
/// `segments`, fed the ciphertext from `cipher_range().0` on.
pub struct RangeOpener {
    key: LessSafeKey,
    segments: Vec<Segment>,
    /// Position of the next chunk to open.
    seg: usize,
    index: u64,
    /// Plaintext still to return, and bytes to drop from the next opened chunk.
    remaining: u64,
    skip: usize,
    buf: BytesMut,
    cipher_start: u64,
    cipher_len: u64,
}

impl RangeOpener {
    /// `end` is exclusive and within the object.
    pub fn new(key: &DataKey, segments: Vec<Segment>, start: u64, end: u64) -> RangeOpener {
        let mut seg = 0;
        let mut seg_plain = 0u64;
        let mut seg_cipher = 0u64;
        // The segment that holds `start` (skipping empty ones).
        while seg < segments.len() && seg_plain + segments[seg].plain_len <= start {
            seg_plain += segments[seg].plain_len;
            seg_cipher += sealed_len(segments[seg].plain_len);
            seg += 1;
        }
        let local = start - seg_plain;
        let index = local / CHUNK as u64;
        let cipher_start = seg_cipher + index * SEALED_CHUNK as u64;
        // And where the chunk holding `end - 1` ends.
        let mut cipher_end = cipher_start;
        if end > start {
            let (mut p, mut c, mut s) = (seg_plain, seg_cipher, seg);
            while s < segments.len() && p + segments[s].plain_len < end {
                p += segments[s].plain_len;
                c += sealed_len(segments[s].plain_len);
                s += 1;
            }
            if s < segments.len() {
                let last_local = end - 1 - p;
                let last_index = last_local / CHUNK as u64;
                cipher_end = (c + (last_index + 1) * SEALED_CHUNK as u64)
                    .min(c + sealed_len(segments[s].plain_len));
            }
        }
        RangeOpener {
            key: key.aead(),
            segments,
            seg,
            index,
            remaining: end.saturating_sub(start),
            skip: (local % CHUNK as u64) as usize,
            buf: BytesMut::new(),
            cipher_start,
            cipher_len: cipher_end - cipher_start,
        }
    }

    /// The ciphertext to read: offset and length in the stored bytes.
    pub fn cipher_range(&self) -> (u64, u64) {
        (self.cipher_start, self.cipher_len)
    }

    /// Sealed length of the next chunk, and whether it is its segment's last.
    fn next_chunk(&mut self) -> Option<(usize, bool)> {
        loop {
            let s = self.segments.get(self.seg)?;
            let n = chunks_of(s.plain_len);
            if self.index >= n {
                self.seg += 1;
                self.index = 0;
                continue;
            }
            let last = self.index + 1 == n;
            let plain = if last {
                s.plain_len - self.index * CHUNK as u64
            } else {
                CHUNK as u64
            };
            return Some((plain as usize + OVERHEAD, last));
        }
    }

    /// Take ciphertext; returns the plaintext of the chunks it completed (trimmed to
    /// the range), or the error of the first chunk that fails to open.
    ///
    /// Chunks are opened in place in the buffer that brought them (no copy when the
    /// reader hands over a buffer it no longer shares, as the block reader does) and
    /// the plaintext pieces are slices of it. Only a chunk split across two buffers
    /// is copied, into a buffer of its own.
    pub fn push(&mut self, data: Bytes) -> CryptoResult<Vec<Bytes>> {
        let mut m = data
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            // Complete the chunk the last buffer began.
            let Some((len, _)) = self.next_chunk() else {
                return Ok(out);
            };
            let need = (len - self.buf.len()).min(m.len());
            self.buf.extend_from_slice(&m.split_to(need));
            if self.buf.len() < len {
                return Ok(out);
            }
            let mut whole = std::mem::take(&mut self.buf);
            out.extend(self.open_chunks(&mut whole)?);
        }
        out.extend(self.open_chunks(&mut m)?);
        Ok(out)
    }

    /// Open the whole chunks at the start of `m`; a partial one left at its end is
    /// kept for the next buffer.
    fn open_chunks(&mut self, m: &mut BytesMut) -> CryptoResult<Vec<Bytes>> {
        let mut at = 0usize;
        let mut pieces: Vec<(usize, usize)> = Vec::new();
        while self.remaining > 0 {
            let Some((len, last)) = self.next_chunk() else {
                break;
            };
            if m.len() - at < len {
                break;
            }
            let segment = self.segments[self.seg].number;
            let nonce = Nonce::try_assume_unique_for_key(&m[at..at + NONCE_LEN])
                .map_err(|_| CryptoError::Unauthentic)?;
            let body = &mut m[at + NONCE_LEN..at + len];
            let plain_len = self
                .key
                .open_in_place(nonce, Aad::from(aad(segment, self.index, last)), body)
                .map_err(|_| CryptoError::Unauthentic)?
                .len();
            self.index += 1;
            let skip = self.skip.min(plain_len);
            self.skip = 0;
            let take = ((plain_len - skip) as u64).min(self.remaining) as usize;
            if take > 0 {
                pieces.push((at + NONCE_LEN + skip, take));
            }
            self.remaining -= take as u64;
            at += len;
        }
        if self.remaining > 0 && at < m.len() {
            self.buf = m.split_off(at);
        }
        let opened = std::mem::take(m).freeze();
        Ok(pieces
            .into_iter()
            .map(|(from, len)| opened.slice(from..from + len))
            .collect())
    }

    /// After the last ciphertext: an error unless the whole range was opened.
    pub fn finish(&self) -> CryptoResult<()> {
        if self.remaining > 0 {
            Err(CryptoError::Truncated)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seal(key: &DataKey, number: u32, plain: &[u8], feed: usize) -> Vec<u8> {
        let mut s = ChunkSealer::new(key, number);
        let mut out = Vec::new();
        for piece in plain.chunks(feed.max(1)) {
            for c in s.push(piece) {
                out.extend_from_slice(&c);
            }
        }
        if let Some(c) = s.finish() {
            out.extend_from_slice(&c);
        }
        out
    }

    fn open(
        key: &DataKey,
        segments: &[Segment],
        stored: &[u8],
        start: u64,
        end: u64,
        feed: usize,
    ) -> CryptoResult<Vec<u8>> {
        let mut o = RangeOpener::new(key, segments.to_vec(), start, end);
        let (cs, cl) = o.cipher_range();
        let slice = &stored[cs as usize..(cs + cl) as usize];
        let mut out = Vec::new();
        for piece in slice.chunks(feed.max(1)) {
            for b in o.push(Bytes::copy_from_slice(piece))? {
                out.extend_from_slice(&b);
            }
        }
        o.finish()?;
        Ok(out)
    }

    fn object(parts: &[usize]) -> (DataKey, Vec<Segment>, Vec<u8>, Vec<u8>) {
        let key = DataKey::generate();
        let (mut plain, mut stored, mut segs) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &n) in parts.iter().enumerate() {
            let p: Vec<u8> = (0..n).map(|j| (j * 7 + i * 13) as u8).collect();
            let sealed = seal(&key, i as u32 + 1, &p, 10_000);
            assert_eq!(sealed.len() as u64, sealed_len(n as u64));
            stored.extend_from_slice(&sealed);
            plain.extend_from_slice(&p);
            segs.push(Segment {
                number: i as u32 + 1,
                plain_len: n as u64,
            });
        }
        (key, segs, plain, stored)
    }

    #[test]
    fn whole_object_and_chunk_boundaries() {
        for parts in [
            vec![0],
            vec![1],
            vec![CHUNK],
            vec![CHUNK + 1],
            vec![3 * CHUNK, 5, CHUNK * 2 + 7],
        ] {
            let (key, segs, plain, stored) = object(&parts);
            let n = plain.len() as u64;
            assert_eq!(open(&key, &segs, &stored, 0, n, 4096).unwrap(), plain);
            assert!(
                !stored
                    .windows(16)
                    .any(|w| plain.len() >= 16 && w == &plain[..16])
            );
        }
    }

    #[test]
    fn tampering_truncation_and_swaps_fail() {
        let (key, segs, plain, stored) = object(&[CHUNK * 2 + 10, CHUNK * 2 + 10]);
        let n = plain.len() as u64;
        let mut bad = stored.clone();
        bad[SEALED_CHUNK + 100] ^= 0x40;
        assert!(matches!(
            open(&key, &segs, &bad, 0, n, 999),
            Err(CryptoError::Unauthentic)
        ));
        // The first two chunks swapped.
        let mut swapped = stored.clone();
        swapped[..SEALED_CHUNK * 2].rotate_left(SEALED_CHUNK);
        assert!(open(&key, &segs, &swapped, 0, CHUNK as u64, 999).is_err());
        // A part's chunk presented as another part's.
        let seg2 = sealed_len(segs[0].plain_len) as usize;
        let mut moved = stored.clone();
        moved.copy_within(seg2..seg2 + SEALED_CHUNK, 0);
        assert!(open(&key, &segs, &moved, 0, 10, 999).is_err());
        // The stored bytes cut short.
        let mut o = RangeOpener::new(&key, segs.clone(), 0, n);
        let _ = o
            .push(Bytes::copy_from_slice(&stored[..stored.len() - 1]))
            .unwrap();
        assert!(matches!(o.finish(), Err(CryptoError::Truncated)));
        // A non-last chunk cut off where a last one would be.
        let short = Segment {
            number: 1,
            plain_len: CHUNK as u64,
        };
        assert!(
            open(
                &key,
                &[short],
                &stored[..SEALED_CHUNK],
                0,
                CHUNK as u64,
                999
            )
            .is_err()
        );
        // The wrong key.
        assert!(open(&DataKey::generate(), &segs, &stored, 0, 5, 999).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn every_range_reads_back(
            parts in proptest::collection::vec(0usize..(3 * CHUNK), 1..4),
            a in 0.0f64..1.0, b in 0.0f64..1.0, feed in 1usize..100_000,
        ) {
            let (key, segs, plain, stored) = object(&parts);
            let n = plain.len() as u64;
            prop_assume!(n > 0);
            let (mut s, mut e) = ((a * n as f64) as u64, (b * n as f64) as u64);
            if s > e { std::mem::swap(&mut s, &mut e); }
            let e = (e + 1).min(n);
            let got = open(&key, &segs, &stored, s, e, feed).unwrap();
            prop_assert_eq!(&got[..], &plain[s as usize..e as usize]);
        }
    }
}
