//! Job payloads that carry user data (object keys, target credentials) are sealed
//! before they become metadata rows: ChaCha20-Poly1305 under a key derived (HKDF-SHA256)
//! from the cluster's key material, with the job id as associated data so a sealed
//! payload cannot be moved to another job.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::error::{JobError, JobsResult};

const NONCE: usize = 12;

#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// The same `secret` on every node gives the same key.
    pub fn from_secret(secret: &[u8]) -> Sealer {
        Sealer::derive(secret, b"job payload v1")
    }

    /// A key of its own for another use of the same secret (`purpose` names it, e.g.
    /// `b"tier secret v1"`), so that no two uses share a key.
    pub fn derive(secret: &[u8], purpose: &[u8]) -> Sealer {
        let hk = Hkdf::<Sha256>::new(Some(b"hafiz-jobs"), secret);
        let mut key = [0u8; 32];
        hk.expand(purpose, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    pub fn seal(&self, job_id: &str, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE] = rand::random();
        let mut out = nonce.to_vec();
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: job_id.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, job_id: &str, sealed: &[u8]) -> JobsResult<Vec<u8>> {
        if sealed.len() < NONCE {
            return Err(JobError::Unseal);
        }
        let (nonce, ct) = sealed.split_at(NONCE);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: job_id.as_bytes(),
                },
            )
            .map_err(|_| JobError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let s = Sealer::from_secret(b"root secret");
        let sealed = s.seal("job-1", b"bucket/key with user data");
        assert!(!sealed.windows(9).any(|w| w == b"user data"));
        assert_eq!(
            s.open("job-1", &sealed).unwrap(),
            b"bucket/key with user data"
        );
        // Another job's id, another key, a flipped bit: all refused.
        assert!(s.open("job-2", &sealed).is_err());
        assert!(
            Sealer::from_secret(b"other")
                .open("job-1", &sealed)
                .is_err()
        );
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(s.open("job-1", &bad).is_err());
        assert!(s.open("job-1", b"short").is_err());
    }
}
