//! Node configuration: command-line flags over `HAFIZ_<FLAG>` environment variables
//! over an optional TOML file over built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// What a config file may contain. Unknown keys are errors, so a typo is not silently
/// ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub address: Option<String>,
    pub data: Option<PathBuf>,
    pub region: Option<String>,
    pub domain: Option<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let cfg: FileConfig = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(a) = &self.address {
            a.parse::<SocketAddr>()
                .with_context(|| format!("address: {a:?} is not HOST:PORT"))?;
        }
        if let Some(r) = &self.region {
            validate_region(r)?;
        }
        Ok(())
    }
}

pub fn validate_region(r: &str) -> anyhow::Result<()> {
    if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        bail!("region: {r:?} is not a valid region name");
    }
    Ok(())
}

/// The resolved settings a node runs with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub address: SocketAddr,
    pub data: PathBuf,
    pub region: String,
    pub domain: Option<String>,
}
