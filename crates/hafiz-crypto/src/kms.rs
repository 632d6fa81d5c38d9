//! The built-in key service: named 256-bit keys with versions, kept as cluster
//! settings (`kms-key/ID`, `kms-version/ID/VERSION`), their material sealed by the
//! master key. A data key is wrapped by a key's current version; what it wrapped
//! stays readable after a rotation through the version the object names. A disabled
//! key neither wraps nor unwraps, as in AWS KMS.
//!
//! Two keys are the server's own, made on first use with material derived from the
//! master key (so that nodes starting together make the same one): SSE-S3's key and
//! the default SSE-KMS key (AWS's `aws/s3`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hafiz_meta::{Command, Metadata};
use serde::{Deserialize, Serialize};

use crate::keys::DataKey;
use crate::master::{self, MasterKey, MasterSource};
use crate::{CryptoError, CryptoResult};

/// SSE-S3's key.
pub const SSE_S3_KEY: &str = "hafiz-sse-s3";
/// The key of `aws:kms` requests that name none.
pub const DEFAULT_KMS_KEY: &str = "hafiz-default-kms";
const BUILTIN: [&str; 2] = [SSE_S3_KEY, DEFAULT_KMS_KEY];
const KEY_PREFIX: &str = "kms-key/";
const VERSION_PREFIX: &str = "kms-version/";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct KeyRecord {
    id: String,
    description: String,
    enabled: bool,
    created: i64,
    builtin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct VersionRecord {
    key: String,
    version: String,
    created: i64,
    /// Id of the master key that sealed `sealed`.
    master: String,
    sealed: String,
}

/// What the admin API shows of a key (never its material).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyInfo {
    pub id: String,
    pub description: String,
    pub enabled: bool,
    pub created: i64,
    pub builtin: bool,
    /// Oldest first; the last is current.
    pub versions: Vec<String>,
}

/// A data key wrapped by a key service key.
#[derive(Debug, Clone)]
pub struct Wrapped {
    pub key_id: String,
    pub version: String,
    pub wrapped: Vec<u8>,
}

#[derive(Default)]
struct Loaded {
    generation: Option<u64>,
    keys: BTreeMap<String, KeyRecord>,
    /// Per key, oldest first.
    versions: BTreeMap<String, Vec<VersionRecord>>,
}

struct Masters {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

pub struct KeyService {
    meta: Arc<dyn Metadata>,
    masters: std::sync::RwLock<Masters>,
    /// Where the master key was generated, one copy per metadata drive (rotation
    /// rewrites them); empty when it comes from the environment or a cluster secret.
    master_files: Vec<PathBuf>,
    master_source: MasterSource,
    loaded: tokio::sync::RwLock<Loaded>,
    /// Unsealed version material: a version's material never changes.
    opened: std::sync::Mutex<HashMap<(String, String), DataKey>>,
    /// Serializes rotations and re-sealing.
    admin: tokio::sync::Mutex<()>,
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn version_aad(key: &str, version: &str) -> Vec<u8> {
    format!("kms-version:{key}/{version}").into_bytes()
}

fn data_key_aad(key: &str, version: &str, context: &[u8]) -> Vec<u8> {
    let mut a = format!("data-key:{key}/{version}:").into_bytes();
    a.extend_from_slice(context);
    a
}

/// Key ids: what AWS allows in an alias name, without the `alias/` prefix.
pub fn valid_key_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'/' | b'.'))
}

impl KeyService {
    pub fn new(
        meta: Arc<dyn Metadata>,
        current: MasterKey,
        previous: Vec<MasterKey>,
        master_files: Vec<PathBuf>,
        master_source: MasterSource,
    ) -> KeyService {
        KeyService {
            meta,
            masters: std::sync::RwLock::new(Masters { current, previous }),
            master_files,
            master_source,
            loaded: Default::default(),
            opened: Default::default(),
            admin: Default::default(),
        }
    }

    pub fn master_source(&self) -> &MasterSource {
        &self.master_source
    }

    pub fn master_id(&self) -> String {
        self.masters.read().expect("lock").current.id().to_string()
    }

    async fn fresh(&self) -> CryptoResult<()> {
        let now = self.meta.settings_generation();
        if self.loaded.read().await.generation == Some(now) {
            return Ok(());
        }
        let mut keys = BTreeMap::new();
        for (_, v) in self.meta.settings(KEY_PREFIX).await? {
            if let Ok(r) = serde_json::from_slice::<KeyRecord>(&v) {
                keys.insert(r.id.clone(), r);
            }
        }
        let mut versions: BTreeMap<String, Vec<VersionRecord>> = BTreeMap::new();
        for (_, v) in self.meta.settings(VERSION_PREFIX).await? {
            if let Ok(r) = serde_json::from_slice::<VersionRecord>(&v) {
                versions.entry(r.key.clone()).or_default().push(r);
            }
        }
        for v in versions.values_mut() {
            v.sort_by(|a, b| (a.created, &a.version).cmp(&(b.created, &b.version)));
        }
        *self.loaded.write().await = Loaded {
            generation: Some(now),
            keys,
            versions,
        };
        Ok(())
    }

    async fn put(&self, key: String, value: &impl Serialize) -> CryptoResult<()> {
        let value = serde_json::to_vec(value).map_err(|e| CryptoError::Invalid(e.to_string()))?;
        self.meta
            .apply(Command::PutSetting {
                key,
                value: Some(value),
            })
            .await?;
        Ok(())
    }

    fn seal_material(&self, key: &str, version: &str, material: &DataKey) -> VersionRecord {
        let m = self.masters.read().expect("lock");
        VersionRecord {
            key: key.to_string(),
            version: version.to_string(),
            created: now_millis(),
            master: m.current.id().to_string(),
            sealed: B64.encode(m.current.key().wrap(material, &version_aad(key, version))),
        }
    }

    fn unseal_material(&self, v: &VersionRecord) -> CryptoResult<DataKey> {
        let m = self.masters.read().expect("lock");
        let master = std::iter::once(&m.current)
            .chain(&m.previous)
            .find(|k| k.id() == v.master)
            .ok_or_else(|| {
                CryptoError::Master(format!(
                    "key {}/{} is sealed by master key {}, which this node does not have",
                    v.key, v.version, v.master
                ))
            })?;
        let sealed = B64
            .decode(&v.sealed)
            .map_err(|_| CryptoError::Unauthentic)?;
        master
            .key()
            .unwrap(&sealed, &version_aad(&v.key, &v.version))
    }

    /// Write a key and its first version (the version first: a version without a
    /// key is never seen).
    async fn write_new(
        &self,
        rec: KeyRecord,
        version: &str,
        material: &DataKey,
    ) -> CryptoResult<()> {
        let v = self.seal_material(&rec.id, version, material);
        self.put(format!("{VERSION_PREFIX}{}/{version}", rec.id), &v)
            .await?;
        self.put(format!("{KEY_PREFIX}{}", rec.id), &rec).await
    }

    /// Make the built-in keys that are missing (idempotent; the same on every node).
    pub async fn ensure_builtin(&self) -> CryptoResult<()> {
        self.fresh().await?;
        for id in BUILTIN {
            if self.loaded.read().await.keys.contains_key(id) {
                continue;
            }
            let material = {
                let m = self.masters.read().expect("lock");
                m.current
                    .key()
                    .derive(format!("builtin key v0:{id}").as_bytes())
            };
            let rec = KeyRecord {
                id: id.to_string(),
                description: if id == SSE_S3_KEY {
                    "SSE-S3 (AES256) objects".into()
                } else {
                    "SSE-KMS objects that name no key".into()
                },
                enabled: true,
                created: now_millis(),
                builtin: true,
            };
            self.write_new(rec, "v0", &material).await?;
        }
        self.fresh().await
    }

    pub async fn create(&self, id: Option<String>, description: String) -> CryptoResult<KeyInfo> {
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if !valid_key_id(&id) || id.starts_with("hafiz-") || id.starts_with("alias/") {
            return Err(CryptoError::Invalid(format!(
                "key id {id:?}: 1-128 of A-Z a-z 0-9 - _ / ., not starting with hafiz- or alias/"
            )));
        }
        self.fresh().await?;
        if self.loaded.read().await.keys.contains_key(&id) {
            return Err(CryptoError::Exists(id));
        }
        let rec = KeyRecord {
            id: id.clone(),
            description,
            enabled: true,
            created: now_millis(),
            builtin: false,
        };
        self.write_new(rec, &new_version(), &DataKey::generate())
            .await?;
        self.info(&id).await
    }

    pub async fn list(&self) -> CryptoResult<Vec<KeyInfo>> {
        self.fresh().await?;
        let l = self.loaded.read().await;
        Ok(l.keys.values().map(|k| info_of(k, &l)).collect())
    }

    pub async fn info(&self, id: &str) -> CryptoResult<KeyInfo> {
        let id = strip_arn(id);
        if BUILTIN.contains(&id) {
            self.ensure_builtin().await?;
        }
        self.fresh().await?;
        let l = self.loaded.read().await;
        l.keys
            .get(id)
            .map(|k| info_of(k, &l))
            .ok_or_else(|| CryptoError::NoSuchKey(id.to_string()))
    }

    pub async fn set_enabled(&self, id: &str, enabled: bool) -> CryptoResult<KeyInfo> {
        let _one = self.admin.lock().await;
        self.fresh().await?;
        let rec = self.loaded.read().await.keys.get(id).cloned();
        let mut rec = rec.ok_or_else(|| CryptoError::NoSuchKey(id.to_string()))?;
        rec.enabled = enabled;
        self.put(format!("{KEY_PREFIX}{id}"), &rec).await?;
        self.info(id).await
    }

    /// A new current version; earlier ones still open what they wrapped.
    pub async fn rotate(&self, id: &str) -> CryptoResult<KeyInfo> {
        let _one = self.admin.lock().await;
        let info = self.info(id).await?;
        let version = new_version();
        let v = self.seal_material(&info.id, &version, &DataKey::generate());
        self.put(format!("{VERSION_PREFIX}{}/{version}", info.id), &v)
            .await?;
        self.info(id).await
    }

    async fn usable(&self, id: &str) -> CryptoResult<KeyRecord> {
        if BUILTIN.contains(&id) && !self.loaded.read().await.keys.contains_key(id) {
            self.ensure_builtin().await?;
        }
        self.fresh().await?;
        let rec = self.loaded.read().await.keys.get(id).cloned();
        let rec = rec.ok_or_else(|| CryptoError::NoSuchKey(id.to_string()))?;
        if !rec.enabled {
            return Err(CryptoError::Disabled(id.to_string()));
        }
        Ok(rec)
    }

    fn material(&self, v: &VersionRecord) -> CryptoResult<DataKey> {
        let k = (v.key.clone(), v.version.clone());
        if let Some(m) = self.opened.lock().expect("lock").get(&k) {
            return Ok(m.clone());
        }
        let m = self.unseal_material(v)?;
        self.opened.lock().expect("lock").insert(k, m.clone());
        Ok(m)
    }

    /// A new data key, wrapped by key `id`'s current version and bound to `context`.
    pub async fn generate(&self, id: &str, context: &[u8]) -> CryptoResult<(DataKey, Wrapped)> {
        let id = strip_arn(id);
        self.usable(id).await?;
        let current = self
            .loaded
            .read()
            .await
            .versions
            .get(id)
            .and_then(|v| v.last().cloned())
            .ok_or_else(|| CryptoError::NoSuchKey(id.to_string()))?;
        let kek = self.material(&current)?;
        let dek = DataKey::generate();
        let wrapped = kek.wrap(&dek, &data_key_aad(id, &current.version, context));
        Ok((
            dek,
            Wrapped {
                key_id: id.to_string(),
                version: current.version,
                wrapped,
            },
        ))
    }

    /// The data key `wrapped` holds.
    pub async fn open(
        &self,
        id: &str,
        version: &str,
        wrapped: &[u8],
        context: &[u8],
    ) -> CryptoResult<DataKey> {
        self.usable(id).await?;
        let v = self
            .loaded
            .read()
            .await
            .versions
            .get(id)
            .and_then(|vs| vs.iter().find(|v| v.version == version).cloned())
            .ok_or_else(|| CryptoError::NoSuchVersion {
                key: id.to_string(),
                version: version.to_string(),
            })?;
        self.material(&v)?
            .unwrap(wrapped, &data_key_aad(id, version, context))
    }

    /// Re-seal every key version sealed by an older master key with the current one.
    /// Returns how many it re-sealed.
    pub async fn reseal(&self) -> CryptoResult<usize> {
        let _one = self.admin.lock().await;
        self.reseal_locked().await
    }

    async fn reseal_locked(&self) -> CryptoResult<usize> {
        self.fresh().await?;
        let current = self.master_id();
        let stale: Vec<VersionRecord> = self
            .loaded
            .read()
            .await
            .versions
            .values()
            .flatten()
            .filter(|v| v.master != current)
            .cloned()
            .collect();
        for v in &stale {
            let material = self.unseal_material(v)?;
            let mut fresh = self.seal_material(&v.key, &v.version, &material);
            fresh.created = v.created;
            self.put(format!("{VERSION_PREFIX}{}/{}", v.key, v.version), &fresh)
                .await?;
        }
        self.fresh().await?;
        Ok(stale.len())
    }

    /// Replace a generated master key with a new one: the key file first holds both
    /// (a crash midway loses nothing), then every key version is re-sealed, then the
    /// file keeps only the new key. Objects are not touched.
    pub async fn rotate_master(&self) -> CryptoResult<(String, usize)> {
        if let Some(why) = self.master_source.rotation_refusal() {
            return Err(CryptoError::MasterNotOurs(why));
        }
        let _one = self.admin.lock().await;
        let new = MasterKey::generate();
        let old: Vec<MasterKey> = {
            let m = self.masters.read().expect("lock");
            std::iter::once(m.current.clone())
                .chain(m.previous.iter().cloned())
                .collect()
        };
        for path in &self.master_files {
            master::write_file(path, &new, &old)?;
        }
        {
            let mut m = self.masters.write().expect("lock");
            m.current = new.clone();
            m.previous = old;
        }
        let n = self.reseal_locked().await?;
        for path in &self.master_files {
            master::write_file(path, &new, &[])?;
        }
        self.masters.write().expect("lock").previous.clear();
        tracing::info!(master = new.id(), resealed = n, "KMS master key rotated");
        Ok((new.id().to_string(), n))
    }
}

fn new_version() -> String {
    format!(
        "v{}-{}",
        now_millis(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// `arn:aws:kms:REGION:ACCOUNT:key/ID` (or `alias/ID`) names key ID.
pub fn strip_arn(id: &str) -> &str {
    let id = match id.strip_prefix("arn:") {
        Some(rest) => rest.rsplit_once(':').map_or(id, |(_, r)| r),
        None => id,
    };
    id.strip_prefix("key/")
        .or_else(|| id.strip_prefix("alias/"))
        .unwrap_or(id)
}

fn info_of(k: &KeyRecord, l: &Loaded) -> KeyInfo {
    KeyInfo {
        id: k.id.clone(),
        description: k.description.clone(),
        enabled: k.enabled,
        created: k.created,
        builtin: k.builtin,
        versions: l
            .versions
            .get(&k.id)
            .map(|v| v.iter().map(|v| v.version.clone()).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_aliases_name_the_key() {
        assert_eq!(strip_arn("arn:aws:kms:us-east-1:123:key/abc"), "abc");
        assert_eq!(strip_arn("alias/abc"), "abc");
        assert_eq!(strip_arn("abc"), "abc");
        assert!(valid_key_id("my-key_1"));
        assert!(!valid_key_id("bad key"));
    }
}
