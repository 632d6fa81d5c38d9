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
    /// The key files (`hafiz admin kms rotate-master` rewrites them).
    pub files: Vec<PathBuf>,
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
    system_dirs: &[PathBuf],
    key_file: Option<&Path>,
    cluster_secret: Option<&[u8]>,
) -> anyhow::Result<MasterKeys> {
    if let Ok(text) = std::env::var("HAFIZ_KMS_MASTER_KEY")
        && !text.trim().is_empty()
    {
        return Ok(MasterKeys {
            current: MasterKey::parse(&text).context("HAFIZ_KMS_MASTER_KEY")?,
            previous: previous_from_env()?,
            files: Vec::new(),
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
        });
    }
    if let Some(secret) = cluster_secret {
        return Ok(MasterKeys {
            current: MasterKey::from_secret(secret),
            previous: previous_from_env()?,
            files: Vec::new(),
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
    })
}
