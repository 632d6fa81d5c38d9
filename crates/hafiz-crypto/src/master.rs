//! The master key: it seals the key service's key material and nothing else. It
//! comes from `HAFIZ_KMS_MASTER_KEY`, a key file, or (single node) a file generated
//! on first start beside the root credentials, mode 0600. Never stored in metadata.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::keys::{DataKey, KEY_LEN};
use crate::{CryptoError, CryptoResult};

/// The generated key file's name in the first system directory.
pub const FILE_NAME: &str = "kms-master.key";

#[derive(Clone)]
pub struct MasterKey {
    key: DataKey,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    pub fn from_bytes(b: [u8; KEY_LEN]) -> MasterKey {
        // The id names the key in sealed records without revealing it.
        let id =
            hex::encode(&Sha256::digest([b"hafiz master key id".as_slice(), &b].concat())[..8]);
        MasterKey {
            key: DataKey::from_bytes(b),
            id,
        }
    }

    pub fn generate() -> MasterKey {
        MasterKey::from_bytes(*DataKey::generate().as_bytes())
    }

    /// A key given as text: 64 hex digits, base64 of 32 bytes, or MinIO's
    /// `name:base64`.
    pub fn parse(text: &str) -> CryptoResult<MasterKey> {
        let t = text.trim();
        let t = t.split_once(':').map_or(t, |(_, b)| b);
        let raw = if t.len() == 2 * KEY_LEN && t.bytes().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(t).ok()
        } else {
            B64.decode(t).ok()
        };
        raw.and_then(|r| <[u8; KEY_LEN]>::try_from(r).ok())
            .map(MasterKey::from_bytes)
            .ok_or_else(|| CryptoError::Master("not 32 bytes as 64 hex digits or base64".into()))
    }

    /// Derived from a secret every node shares (a cluster with no master key set).
    pub fn from_secret(secret: &[u8]) -> MasterKey {
        let seed = DataKey::from_bytes(Sha256::digest(secret).into());
        MasterKey::from_bytes(*seed.derive(b"kms master key v1").as_bytes())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn key(&self) -> &DataKey {
        &self.key
    }

    pub fn to_text(&self) -> String {
        B64.encode(self.key.as_bytes())
    }
}

/// A key file: the current key on the first line, older ones (still able to open
/// what they sealed, until re-sealed) on the lines after.
pub fn read_file(path: &Path) -> CryptoResult<(MasterKey, Vec<MasterKey>)> {
    let text = std::fs::read_to_string(path)?;
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(MasterKey::parse);
    let current = keys
        .next()
        .ok_or_else(|| CryptoError::Master(format!("{} holds no key", path.display())))??;
    Ok((current, keys.collect::<CryptoResult<_>>()?))
}

/// Write a key file (0600, replaced atomically).
pub fn write_file(path: &Path, current: &MasterKey, previous: &[MasterKey]) -> CryptoResult<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        writeln!(
            f,
            "# Hafiz KMS master key (first line: current). Keep it secret and backed up:"
        )?;
        writeln!(f, "# without it no encrypted object can be read.")?;
        for k in std::iter::once(current).chain(previous) {
            writeln!(f, "{}", k.to_text())?;
        }
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The key in `path`, generated there on first use. Returns whether it was made now.
pub fn load_or_create(path: &Path) -> CryptoResult<(MasterKey, Vec<MasterKey>, bool)> {
    if path.exists() {
        let (c, p) = read_file(path)?;
        return Ok((c, p, false));
    }
    let key = MasterKey::generate();
    write_file(path, &key, &[])?;
    Ok((key, Vec::new(), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_base64_and_minio_form() {
        let k = MasterKey::generate();
        let hex_form = hex::encode(k.key().as_bytes());
        assert_eq!(MasterKey::parse(&hex_form).unwrap().id(), k.id());
        assert_eq!(MasterKey::parse(&k.to_text()).unwrap().id(), k.id());
        assert_eq!(
            MasterKey::parse(&format!("my-key:{}", k.to_text()))
                .unwrap()
                .id(),
            k.id()
        );
        assert!(MasterKey::parse("short").is_err());
    }

    #[test]
    fn generated_file_is_private_and_reloads() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        let (k, prev, made) = load_or_create(&p).unwrap();
        assert!(made && prev.is_empty());
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (again, _, made) = load_or_create(&p).unwrap();
        assert!(!made);
        assert_eq!(again.id(), k.id());
    }
}

/// Where the master key came from: what `GET /v1/kms/status` reports, and what
/// decides who may replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterSource {
    /// `HAFIZ_KMS_MASTER_KEY`.
    Environment,
    /// `--kms-master-key-file`.
    File,
    /// Derived from the cluster secret.
    ClusterSecret,
    /// Generated on first start, a copy on every metadata drive.
    Generated,
    /// An AES-256 key held by a KMIP server.
    Kmip { endpoint: String, key_id: String },
}

impl MasterSource {
    pub fn label(&self) -> &'static str {
        match self {
            MasterSource::Environment => "environment",
            MasterSource::File => "file",
            MasterSource::ClusterSecret => "cluster-secret",
            MasterSource::Generated => "generated",
            MasterSource::Kmip { .. } => "kmip",
        }
    }

    /// Why the server cannot replace this key itself, and what the operator does
    /// instead; None when the server can (its own key files).
    pub fn rotation_refusal(&self) -> Option<String> {
        match self {
            MasterSource::File | MasterSource::Generated => None,
            MasterSource::Kmip { key_id, .. } => Some(format!(
                "the master key is KMIP key {key_id}: create a new AES-256 key on the KMIP server, set HAFIZ_KMS_KMIP_KEY_ID to it and add {key_id} to HAFIZ_KMS_KMIP_PREVIOUS_KEY_IDS, then restart"
            )),
            _ => Some("the master key comes from HAFIZ_KMS_MASTER_KEY (or a cluster secret): set the new key there and the old one in HAFIZ_KMS_PREVIOUS_MASTER_KEYS, then restart".into()),
        }
    }
}
