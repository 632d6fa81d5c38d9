//! Named admin endpoints with their credentials, kept in
//! `$HAFIZ_CONFIG_DIR/aliases.json` (default `~/.hafiz/aliases.json`).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const DEFAULT_REGION: &str = "us-east-1";
const FILE_NAME: &str = "aliases.json";

#[derive(Debug, thiserror::Error)]
pub enum AliasError {
    #[error("no alias named {0:?} (see `hafiz admin alias list`)")]
    NotFound(String),
    #[error("neither HAFIZ_CONFIG_DIR nor HOME is set: cannot locate the aliases file")]
    NoConfigDir,
    #[error("invalid alias name {0:?}: use letters, digits, '-', '_' or '.'")]
    InvalidName(String),
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid aliases file", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// `http(s)://host:port` without a trailing slash.
    pub url: String,
    pub access_key: String,
    pub secret_key: String,
    #[serde(default = "default_region")]
    pub region: String,
}

fn default_region() -> String {
    DEFAULT_REGION.to_string()
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AliasFile {
    #[serde(default)]
    pub aliases: BTreeMap<String, Alias>,
}

/// The directory holding `aliases.json`.
pub fn config_dir() -> Result<PathBuf, AliasError> {
    if let Some(dir) = std::env::var_os("HAFIZ_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".hafiz"))
        .ok_or(AliasError::NoConfigDir)
}

pub fn validate_name(name: &str) -> Result<(), AliasError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AliasError::InvalidName(name.to_string()))
    }
}

/// Checks the URL and returns it without a trailing slash, so paths append cleanly.
pub fn normalize_url(url: &str) -> Result<String, AliasError> {
    let invalid = |reason: &str| AliasError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    // https:// for a listener with --tls-cert (see --ca-bundle for a private CA).
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("only http:// and https:// are supported"));
    }
    if parsed.host_str().is_none() {
        return Err(invalid("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a query or fragment has no meaning here"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

impl AliasFile {
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    /// A missing file is an empty set of aliases.
    pub fn load(dir: &Path) -> Result<AliasFile, AliasError> {
        let path = Self::path_in(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AliasFile::default()),
            Err(source) => return Err(AliasError::Read { path, source }),
        };
        serde_json::from_str(&text).map_err(|source| AliasError::Parse { path, source })
    }

    /// Replaces the file atomically; it holds secret keys, so it is created 0600 (and
    /// its directory 0700) before any byte is written.
    pub fn save(&self, dir: &Path) -> Result<(), AliasError> {
        let path = Self::path_in(dir);
        let write_err = |source| AliasError::Write {
            path: path.clone(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(write_err)?;
        let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            let mut text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
            text.push(b'\n');
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(write_err)
    }

    pub fn get(&self, name: &str) -> Result<&Alias, AliasError> {
        self.aliases
            .get(name)
            .ok_or_else(|| AliasError::NotFound(name.to_string()))
    }
}

/// Looks an alias up in the default configuration directory.
pub fn resolve(name: &str) -> Result<Alias, AliasError> {
    AliasFile::load(&config_dir()?)?.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn sample() -> Alias {
        Alias {
            url: "http://127.0.0.1:9001".into(),
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("nested");
        assert!(AliasFile::load(&conf).unwrap().aliases.is_empty());

        let mut file = AliasFile::default();
        file.aliases.insert("local".into(), sample());
        file.save(&conf).unwrap();

        let mode = std::fs::metadata(AliasFile::path_in(&conf))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(&conf).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);

        let back = AliasFile::load(&conf).unwrap();
        assert_eq!(back.get("local").unwrap(), &sample());
        assert!(matches!(back.get("other"), Err(AliasError::NotFound(_))));

        let mut back = back;
        back.aliases.remove("local");
        back.save(&conf).unwrap();
        assert!(AliasFile::load(&conf).unwrap().aliases.is_empty());
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&conf).unwrap().count(), 1);
    }

    #[test]
    fn region_defaults_when_absent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            AliasFile::path_in(dir.path()),
            r#"{"aliases":{"a":{"url":"http://h:1","access_key":"k","secret_key":"s"}}}"#,
        )
        .unwrap();
        let file = AliasFile::load(dir.path()).unwrap();
        assert_eq!(file.get("a").unwrap().region, DEFAULT_REGION);
    }

    #[test]
    fn urls_and_names_are_checked() {
        assert_eq!(
            normalize_url("http://127.0.0.1:9001/").unwrap(),
            "http://127.0.0.1:9001"
        );
        assert_eq!(
            normalize_url("https://example.com:9001/").unwrap(),
            "https://example.com:9001"
        );
        assert!(normalize_url("ftp://example.com").is_err());
        assert!(normalize_url("127.0.0.1:9001").is_err());
        assert!(validate_name("prod-1.eu").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a b").is_err());
    }
}
