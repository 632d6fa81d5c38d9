//! Where the KMS master key comes from, in order: a KMIP server (`--kms-kmip-*`),
//! `HAFIZ_KMS_MASTER_KEY` (never a flag: a flag shows in `ps`),
//! `--kms-master-key-file`, the cluster secret (every node of a cluster must hold the
//! same key), or a key generated on first start in the first system directory,
//! beside the root credentials (mode 0600).

use std::path::{Path, PathBuf};

use anyhow::Context;
use hafiz_crypto::kmip::KmipSettings;
use hafiz_crypto::master;
use hafiz_crypto::{MasterKey, MasterSource};

pub struct MasterKeys {
    pub current: MasterKey,
    pub previous: Vec<MasterKey>,
    /// The key files (`hafiz admin kms rotate-master` rewrites them).
    pub files: Vec<PathBuf>,
    pub source: MasterSource,
}

/// The master key on a KMIP server: its key id, and older ones whose key versions
/// are re-sealed with it on start.
#[derive(Debug, Clone)]
pub struct KmipMaster {
    pub settings: KmipSettings,
    pub key_id: String,
    pub previous_key_ids: Vec<String>,
}

/// A KMS that is starting with us may not answer at once: a few tries, then the
/// server refuses to start (it cannot open any encrypted object without the key).
const KMIP_ATTEMPTS: u32 = 5;

async fn fetch_kmip(k: &KmipMaster, key_id: &str) -> anyhow::Result<MasterKey> {
    let mut attempt = 1;
    loop {
        let (settings, id) = (k.settings.clone(), key_id.to_string());
        let got =
            tokio::task::spawn_blocking(move || hafiz_crypto::kmip::fetch_master(&settings, &id))
                .await
                .context("KMIP task")?;
        match got {
            Ok(key) => return Ok(key),
            // A refusal (no such key, not ours, not AES-256) will not change.
            Err(e @ hafiz_crypto::CryptoError::KmipUnreachable(_)) if attempt < KMIP_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "KMIP server not reachable yet");
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot fetch the KMS master key {key_id} from the KMIP server {}",
                        k.settings.endpoint
                    )
                });
            }
        }
        attempt += 1;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

async fn kmip_keys(k: &KmipMaster) -> anyhow::Result<MasterKeys> {
    let current = fetch_kmip(k, &k.key_id).await?;
    tracing::info!(endpoint = %k.settings.endpoint, key = %k.key_id, id = current.id(), "KMS master key fetched from the KMIP server");
    let mut previous = Vec::new();
    for id in &k.previous_key_ids {
        previous.push(fetch_kmip(k, id).await?);
    }
    Ok(MasterKeys {
        current,
        previous,
        files: Vec::new(),
        source: MasterSource::Kmip {
            endpoint: k.settings.endpoint.clone(),
            key_id: k.key_id.clone(),
        },
    })
}

fn previous_from_env() -> anyhow::Result<Vec<MasterKey>> {
    std::env::var("HAFIZ_KMS_PREVIOUS_MASTER_KEYS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| MasterKey::parse(s).context("HAFIZ_KMS_PREVIOUS_MASTER_KEYS"))
        .collect()
}

pub async fn master_keys(
    system_dirs: &[PathBuf],
    kmip: Option<&KmipMaster>,
    key_file: Option<&Path>,
    cluster_secret: Option<&[u8]>,
) -> anyhow::Result<MasterKeys> {
    if let Some(k) = kmip {
        if std::env::var("HAFIZ_KMS_MASTER_KEY").is_ok_and(|v| !v.trim().is_empty())
            || key_file.is_some()
        {
            anyhow::bail!(
                "the KMS master key is on the KMIP server: unset HAFIZ_KMS_MASTER_KEY and --kms-master-key-file"
            );
        }
        return kmip_keys(k).await;
    }
    if let Ok(text) = std::env::var("HAFIZ_KMS_MASTER_KEY")
        && !text.trim().is_empty()
    {
        return Ok(MasterKeys {
            current: MasterKey::parse(&text).context("HAFIZ_KMS_MASTER_KEY")?,
            previous: previous_from_env()?,
            files: Vec::new(),
            source: MasterSource::Environment,
        });
    }
    if let Some(path) = key_file {
        let (current, mut previous) = master::read_file(path)
            .with_context(|| format!("cannot read the KMS master key file {}", path.display()))?;
        previous.extend(previous_from_env()?);
        return Ok(MasterKeys {
            current,
            previous,
            files: vec![path.to_path_buf()],
            source: MasterSource::File,
        });
    }
    if let Some(secret) = cluster_secret {
        return Ok(MasterKeys {
            current: MasterKey::from_secret(secret),
            previous: previous_from_env()?,
            files: Vec::new(),
            source: MasterSource::ClusterSecret,
        });
    }
    // Generated: one copy on every metadata drive, as the root credentials, so
    // that losing a drive does not lose the key (and with it every encrypted object).
    let paths: Vec<PathBuf> = system_dirs
        .iter()
        .map(|d| d.join(master::FILE_NAME))
        .collect();
    let found = paths.iter().find(|p| p.exists());
    let (current, mut previous) = match found {
        Some(p) => master::read_file(p)
            .with_context(|| format!("cannot read the KMS master key {}", p.display()))?,
        None => {
            let key = MasterKey::generate();
            tracing::info!(id = key.id(), "generated the KMS master key");
            (key, Vec::new())
        }
    };
    for p in &paths {
        let same = p.exists() && master::read_file(p).is_ok_and(|(c, _)| c.id() == current.id());
        if !same {
            master::write_file(p, &current, &previous)
                .with_context(|| format!("cannot write the KMS master key {}", p.display()))?;
        }
    }
    previous.extend(previous_from_env()?);
    Ok(MasterKeys {
        current,
        previous,
        files: paths,
        source: MasterSource::Generated,
    })
}
