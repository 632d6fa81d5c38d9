//! Where the KMS master key comes from, in order: `HAFIZ_KMS_MASTER_KEY` (never a
//! flag: a flag shows in `ps`), `--kms-master-key-file`, the cluster secret (every
//! node of a cluster must hold the same key), or a key generated on first start in
//! the first system directory, beside the root credentials (mode 0600).

use std::path::{Path, PathBuf};

use anyhow::Context;
use hafiz_crypto::MasterKey;
use hafiz_crypto::master;

pub struct MasterKeys {
    pub current: MasterKey,
    pub previous: Vec<MasterKey>,
    /// The generated file (`hafiz admin kms rotate-master` rewrites it).
    pub file: Option<PathBuf>,
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

pub fn master_keys(
    system_dir: &Path,
    key_file: Option<&Path>,
    cluster_secret: Option<&[u8]>,
) -> anyhow::Result<MasterKeys> {
    if let Ok(text) = std::env::var("HAFIZ_KMS_MASTER_KEY")
        && !text.trim().is_empty()
    {
        return Ok(MasterKeys {
            current: MasterKey::parse(&text).context("HAFIZ_KMS_MASTER_KEY")?,
            previous: previous_from_env()?,
            file: None,
        });
    }
    if let Some(path) = key_file {
        let (current, mut previous) = master::read_file(path)
            .with_context(|| format!("cannot read the KMS master key file {}", path.display()))?;
        previous.extend(previous_from_env()?);
        return Ok(MasterKeys {
            current,
            previous,
            file: Some(path.to_path_buf()),
        });
    }
    if let Some(secret) = cluster_secret {
        return Ok(MasterKeys {
            current: MasterKey::from_secret(secret),
            previous: previous_from_env()?,
            file: None,
        });
    }
    let path = system_dir.join(master::FILE_NAME);
    let (current, mut previous, made) = master::load_or_create(&path)
        .with_context(|| format!("cannot open the KMS master key {}", path.display()))?;
    if made {
        tracing::info!(path = %path.display(), id = current.id(), "generated the KMS master key");
    }
    previous.extend(previous_from_env()?);
    Ok(MasterKeys {
        current,
        previous,
        file: Some(path),
    })
}
