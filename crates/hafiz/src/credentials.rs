//! Root credentials: from `HAFIZ_ROOT_ACCESS_KEY` / `HAFIZ_ROOT_SECRET_KEY`, else from
//! the data directory, else generated on first start, stored (mode 0600) and printed
//! once.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, bail};
use hafiz_s3::auth::SecretLookup;
use rand::Rng;
use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "root-credentials.toml";

#[derive(Clone, Serialize, Deserialize)]
pub struct RootCredentials {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl SecretLookup for RootCredentials {
    fn secret_key(&self, access_key: &str) -> Option<String> {
        // Access keys are identifiers, not secrets: a plain comparison is fine here.
        (access_key == self.access_key).then(|| self.secret_key.clone())
    }
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// Resolve the root credentials; the bool says whether they were generated just now.
/// They are kept on every drive in `dirs` (the drives that mirror metadata), so losing
/// one drive does not lose them.
pub fn load_or_create(dirs: &[std::path::PathBuf]) -> anyhow::Result<(RootCredentials, bool)> {
    let env_ak = std::env::var("HAFIZ_ROOT_ACCESS_KEY")
        .ok()
        .filter(|s| !s.is_empty());
    let env_sk = std::env::var("HAFIZ_ROOT_SECRET_KEY")
        .ok()
        .filter(|s| !s.is_empty());
    match (env_ak, env_sk) {
        (Some(access_key), Some(secret_key)) => {
            return Ok((
                RootCredentials {
                    access_key,
                    secret_key,
                },
                false,
            ));
        }
        (None, None) => {}
        _ => bail!("set both HAFIZ_ROOT_ACCESS_KEY and HAFIZ_ROOT_SECRET_KEY, or neither"),
    }
    for d in dirs {
        let path = d.join(FILE_NAME);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let creds: RootCredentials =
                toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
            // Put them back on mirror drives that lost them.
            for other in dirs.iter().filter(|o| !o.join(FILE_NAME).exists()) {
                store(other, &creds)?;
            }
            return Ok((creds, false));
        }
    }
    let creds = RootCredentials {
        access_key: random_string(20, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
        secret_key: random_string(
            40,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        ),
    };
    for d in dirs {
        store(d, &creds)?;
    }
    Ok((creds, true))
}

pub fn store(data: &Path, creds: &RootCredentials) -> anyhow::Result<()> {
    let text = toml::to_string(creds)?;
    let tmp = data.join(format!("{FILE_NAME}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, data.join(FILE_NAME))?;
    Ok(())
}

/// In a cluster the root credentials are metadata: the first node to propose its
/// own (from the environment, its file, or generated) sets them for all; every node
/// then uses, and keeps in its file, the cluster's. Waits for the cluster to form.
pub async fn cluster_wide(
    meta: &dyn hafiz_meta::Metadata,
    mine: RootCredentials,
    dirs: &[std::path::PathBuf],
) -> anyhow::Result<RootCredentials> {
    use hafiz_meta::MetaError;
    use hafiz_meta::iam::{IamCommand, RootCredentials as Row};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let answer = match meta.root_credentials().await {
            Ok(Some(row)) => Ok(Some(row)),
            Ok(None) => meta
                .apply(hafiz_meta::Command::Iam(IamCommand::SetRootIfAbsent(Row {
                    access_key: mine.access_key.clone(),
                    secret_key: mine.secret_key.clone(),
                })))
                .await
                .map(|_| None),
            Err(e) => Err(e),
        };
        match answer {
            Ok(Some(row)) => {
                let theirs = RootCredentials {
                    access_key: row.access_key,
                    secret_key: row.secret_key,
                };
                if theirs.access_key != mine.access_key || theirs.secret_key != mine.secret_key {
                    tracing::warn!(
                        access_key = %theirs.access_key,
                        "this node's root credentials differ from the cluster's; using the cluster's"
                    );
                    for d in dirs {
                        store(d, &theirs)?;
                    }
                }
                return Ok(theirs);
            }
            Ok(None) => {}
            Err(MetaError::Unavailable(_)) if std::time::Instant::now() < deadline => {}
            Err(e) => return Err(e).context("cannot read the cluster's root credentials"),
        }
    }
}
