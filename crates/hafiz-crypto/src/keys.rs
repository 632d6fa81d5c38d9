//! Data keys and key wrapping: AES-256-GCM with a random nonce, bound to what the
//! key is for by the associated data.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::{CryptoError, CryptoResult};

pub const KEY_LEN: usize = 32;

/// An object's data key (or any 256-bit key). Zeroed when dropped.
#[derive(Clone)]
pub struct DataKey(pub(crate) [u8; KEY_LEN]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        // Volatile-free best effort: the compiler may elide it, but it costs nothing
        // and keeps freed pages from holding keys in the common case.
        self.0 = [0; KEY_LEN];
    }
}

impl DataKey {
    pub fn generate() -> DataKey {
        DataKey(random())
    }

    pub fn from_bytes(b: [u8; KEY_LEN]) -> DataKey {
        DataKey(b)
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    pub(crate) fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.0).expect("32 bytes is an AES-256 key"),
        )
    }

    /// Seal `plain` under this key: nonce || ciphertext || tag.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = random();
        let mut buf = plain.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .expect("AES-GCM sealing of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> CryptoResult<Vec<u8>> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError::Unauthentic);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Unauthentic)?;
        let mut buf = ct.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| CryptoError::Unauthentic)?;
        Ok(plain.to_vec())
    }

    /// Wrap another key under this one.
    pub fn wrap(&self, key: &DataKey, aad: &[u8]) -> Vec<u8> {
        self.seal(&key.0, aad)
    }

    pub fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> CryptoResult<DataKey> {
        let plain = self.open(wrapped, aad)?;
        let arr: [u8; KEY_LEN] = plain.try_into().map_err(|_| CryptoError::Unauthentic)?;
        Ok(DataKey(arr))
    }

    /// A key of its own for `purpose`, derived from this one (HKDF-SHA256).
    pub fn derive(&self, purpose: &[u8]) -> DataKey {
        struct Len;
        impl ring::hkdf::KeyType for Len {
            fn len(&self) -> usize {
                KEY_LEN
            }
        }
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"hafiz-crypto");
        let prk = salt.extract(&self.0);
        let mut out = [0u8; KEY_LEN];
        prk.expand(&[purpose], Len)
            .and_then(|okm| okm.fill(&mut out))
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        DataKey(out)
    }
}

pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system's random source is available");
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trips_and_binds_its_context() {
        let kek = DataKey::generate();
        let dek = DataKey::generate();
        let w = kek.wrap(&dek, b"ctx");
        assert_eq!(kek.unwrap(&w, b"ctx").unwrap().0, dek.0);
        assert!(matches!(
            kek.unwrap(&w, b"other"),
            Err(CryptoError::Unauthentic)
        ));
        assert!(DataKey::generate().unwrap(&w, b"ctx").is_err());
        let mut bad = w.clone();
        bad[20] ^= 1;
        assert!(kek.unwrap(&bad, b"ctx").is_err());
        assert!(!w.windows(8).any(|x| x == &dek.0[..8]));
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_repeat() {
        let k = DataKey::from_bytes([7; 32]);
        assert_eq!(k.derive(b"a").0, k.derive(b"a").0);
        assert_ne!(k.derive(b"a").0, k.derive(b"b").0);
    }
}
