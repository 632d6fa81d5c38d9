//! What an operator says about a tier, as the admin API and the config file take it
//! ([`TierSpec`], with the remote secret in the clear), as metadata keeps it
//! ([`TierConfig`], the secret sealed) and as it is shown ([`TierView`], no secret).

use std::path::PathBuf;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{TierError, TierResult};

/// The class of data that never left the gateway's own drives.
pub const HOT_CLASS: &str = "STANDARD";

/// Storage classes that are archives unless the operator says otherwise: reads need
/// a RestoreObject first, as on AWS.
const ARCHIVE_CLASSES: [&str; 2] = ["GLACIER", "DEEP_ARCHIVE"];

/// The tier as the admin API and the config file describe it.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub name: String,
    /// The storage class objects in this tier show (`STANDARD_IA`, `GLACIER`, or a
    /// custom name).
    pub storage_class: String,
    #[serde(rename = "type")]
    pub kind: TierKindSpec,
    /// Reads need RestoreObject (default: true for GLACIER and DEEP_ARCHIVE).
    #[serde(default)]
    pub archive: Option<bool>,
    /// Operator-wide age policy: versions older than this many lifecycle days move
    /// here unless a bucket rule places them.
    #[serde(default)]
    pub after_days: Option<u32>,
    /// Access-based placement (local, non-archive tiers): a version read this many
    /// times within one lifecycle day is promoted back to the hot drives.
    #[serde(default)]
    pub promote_reads: Option<u32>,
    // Local tiers.
    #[serde(default)]
    pub drives: Vec<PathBuf>,
    #[serde(default)]
    pub parity: Option<usize>,
    // Remote (S3) tiers.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub access_key: Option<String>,
    #[serde(default)]
    pub secret_key: Option<String>,
}

impl std::fmt::Debug for TierSpec {
    // The config file's structs are Debug: the secret must not follow.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TierSpec")
            .field("name", &self.name)
            .field("storage_class", &self.storage_class)
            .field("kind", &self.kind)
            .field("drives", &self.drives)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TierKindSpec {
    Local,
    S3,
}

/// A tier as metadata keeps it (`tier/NAME`, JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TierConfig {
    pub name: String,
    pub storage_class: String,
    pub kind: TierKind,
    pub archive: bool,
    pub after_days: Option<u32>,
    pub promote_reads: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum TierKind {
    Local {
        drives: Vec<PathBuf>,
        parity: Option<usize>,
    },
    S3(RemoteConfig),
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct RemoteConfig {
    /// `http(s)://host:port`, no trailing slash.
    pub endpoint: String,
    pub bucket: String,
    /// Prepended to every copy's name (ends with `/` when not empty).
    pub prefix: String,
    pub region: String,
    pub access_key: String,
    /// The secret key sealed with the server's key material (base64).
    pub secret_sealed: String,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// What `tier list` shows: everything but the secret, with the tier's usage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TierView {
    pub name: String,
    pub storage_class: String,
    #[serde(rename = "type")]
    pub kind: TierKindSpec,
    pub archive: bool,
    pub after_days: Option<u32>,
    pub promote_reads: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub drives: Vec<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_key: Option<String>,
    /// Copies the tier holds, and their bytes.
    pub objects: u64,
    pub bytes: u64,
}

/// The settings key of a tier.
pub fn setting_key(name: &str) -> String {
    format!("{}{name}", SETTINGS_PREFIX)
}

pub const SETTINGS_PREFIX: &str = hafiz_meta::TIER_SETTING_PREFIX;

/// The associated data a tier's sealed secret is bound to: a sealed secret copied
/// to another tier's row does not open.
pub fn secret_aad(name: &str) -> String {
    format!("tier/{name}")
}

fn invalid(msg: impl Into<String>) -> TierError {
    TierError::Invalid(msg.into())
}

impl TierSpec {
    /// Check the spec and turn it into what metadata keeps; `seal` seals the secret.
    pub fn validate(self, seal: impl Fn(&str, &[u8]) -> Vec<u8>) -> TierResult<TierConfig> {
        let name = self.name;
        if name.is_empty()
            || name.len() > 32
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                "a tier name is 1 to 32 characters of a-z, 0-9 and '-'",
            ));
        }
        let class = self.storage_class;
        if class.is_empty()
            || class.len() > 64
            || !class
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(invalid(
                "a storage class is 1 to 64 characters of A-Z, 0-9 and '_'",
            ));
        }
        if class == HOT_CLASS {
            return Err(invalid(
                "STANDARD is the hot drives' class; a tier needs another one",
            ));
        }
        let archive = self
            .archive
            .unwrap_or(ARCHIVE_CLASSES.contains(&class.as_str()));
        let kind = match self.kind {
            TierKindSpec::Local => {
                if self.drives.is_empty() {
                    return Err(invalid("a local tier needs at least one drive path"));
                }
                if let Some(p) = self.drives.iter().find(|p| !p.is_absolute()) {
                    return Err(invalid(format!(
                        "drive path {} is not absolute",
                        p.display()
                    )));
                }
                if self.endpoint.is_some() || self.secret_key.is_some() {
                    return Err(invalid("endpoint and keys are for s3 tiers"));
                }
                TierKind::Local {
                    drives: self.drives,
                    parity: self.parity,
                }
            }
            TierKindSpec::S3 => {
                let endpoint = self
                    .endpoint
                    .ok_or_else(|| invalid("an s3 tier needs an endpoint"))?
                    .trim_end_matches('/')
                    .to_string();
                if !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
                    || endpoint.len() < "http://x".len()
                {
                    return Err(invalid("the endpoint is http(s)://host[:port]"));
                }
                let bucket = self
                    .bucket
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| invalid("an s3 tier needs a bucket"))?;
                let mut prefix = self.prefix.unwrap_or_default();
                if !prefix.is_empty() && !prefix.ends_with('/') {
                    prefix.push('/');
                }
                let access_key = self
                    .access_key
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| invalid("an s3 tier needs an access key"))?;
                let secret = self
                    .secret_key
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| invalid("an s3 tier needs a secret key"))?;
                if !self.drives.is_empty() {
                    return Err(invalid("drives are for local tiers"));
                }
                let sealed = seal(&secret_aad(&name), secret.as_bytes());
                TierKind::S3(RemoteConfig {
                    endpoint,
                    bucket,
                    prefix,
                    region: self.region.unwrap_or_else(|| "us-east-1".into()),
                    access_key,
                    secret_sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
                })
            }
        };
        if self.promote_reads == Some(0) {
            return Err(invalid("promote_reads must be at least 1"));
        }
        if self.promote_reads.is_some() && (archive || !matches!(kind, TierKind::Local { .. })) {
            return Err(invalid(
                "promotion on reads is for local tiers that are not archives",
            ));
        }
        Ok(TierConfig {
            name,
            storage_class: class,
            kind,
            archive,
            after_days: self.after_days,
            promote_reads: self.promote_reads,
        })
    }
}

impl TierConfig {
    pub fn view(&self, usage: hafiz_meta::Usage) -> TierView {
        let (kind, drives, remote) = match &self.kind {
            TierKind::Local { drives, .. } => (TierKindSpec::Local, drives.clone(), None),
            TierKind::S3(r) => (TierKindSpec::S3, Vec::new(), Some(r)),
        };
        TierView {
            name: self.name.clone(),
            storage_class: self.storage_class.clone(),
            kind,
            archive: self.archive,
            after_days: self.after_days,
            promote_reads: self.promote_reads,
            drives,
            endpoint: remote.map(|r| r.endpoint.clone()),
            bucket: remote.map(|r| r.bucket.clone()),
            prefix: remote.map(|r| r.prefix.clone()),
            access_key: remote.map(|r| r.access_key.clone()),
            objects: usage.objects,
            bytes: usage.bytes,
        }
    }

    /// Whether two configs describe the same tier in the same place, secrets aside
    /// (they are sealed with a fresh nonce each time; the caller compares them open).
    pub fn same_as(&self, other: &TierConfig) -> bool {
        let strip = |c: &TierConfig| {
            let mut c = c.clone();
            if let TierKind::S3(r) = &mut c.kind {
                r.secret_sealed.clear();
            }
            c
        };
        strip(self) == strip(other)
    }
}

impl TierConfig {
    /// Whether `other` keeps the copies where this one has them (same drives, or
    /// same endpoint, bucket and prefix): what may change while a tier holds copies.
    pub fn same_place(&self, other: &TierConfig) -> bool {
        match (&self.kind, &other.kind) {
            (TierKind::Local { drives: a, .. }, TierKind::Local { drives: b, .. }) => a == b,
            (TierKind::S3(a), TierKind::S3(b)) => {
                a.endpoint == b.endpoint && a.bucket == b.bucket && a.prefix == b.prefix
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(name: &str, class: &str) -> TierSpec {
        TierSpec {
            name: name.into(),
            storage_class: class.into(),
            kind: TierKindSpec::S3,
            archive: None,
            after_days: None,
            promote_reads: None,
            drives: vec![],
            parity: None,
            endpoint: Some("http://127.0.0.1:9000/".into()),
            bucket: Some("cold".into()),
            prefix: Some("hafiz".into()),
            region: None,
            access_key: Some("AK".into()),
            secret_key: Some("SECRET".into()),
        }
    }

    #[test]
    fn archive_by_class_and_sealed_secret() {
        let spec = s3("cold", "GLACIER");
        assert!(!format!("{spec:?}").contains("SECRET"));
        let c = spec
            .validate(|aad, s| [aad.as_bytes(), b":", s].concat())
            .unwrap();
        assert!(c.archive);
        let TierKind::S3(r) = &c.kind else { panic!() };
        assert_eq!(r.endpoint, "http://127.0.0.1:9000");
        assert_eq!(r.prefix, "hafiz/");
        assert!(
            !format!("{c:?}").contains("SECRET"),
            "secrets stay out of logs"
        );
        let v = serde_json::to_string(&c.view(Default::default())).unwrap();
        assert!(!v.contains("SECRET") && !v.contains(&r.secret_sealed));
        assert!(
            !s3("warm", "STANDARD_IA")
                .validate(|_, s| s.to_vec())
                .unwrap()
                .archive
        );
    }

    #[test]
    fn refusals() {
        let seal = |_: &str, s: &[u8]| s.to_vec();
        assert!(s3("Cold", "GLACIER").validate(seal).is_err());
        assert!(s3("cold", "STANDARD").validate(seal).is_err());
        assert!(s3("cold", "glacier").validate(seal).is_err());
        let mut t = s3("cold", "GLACIER");
        t.secret_key = None;
        assert!(t.validate(seal).is_err());
        let mut t = s3("cold", "GLACIER");
        t.promote_reads = Some(3);
        assert!(t.validate(seal).is_err(), "promotion is for local tiers");
        let local = TierSpec {
            kind: TierKindSpec::Local,
            drives: vec!["relative".into()],
            endpoint: None,
            secret_key: None,
            ..s3("warm", "WARM")
        };
        assert!(local.clone().validate(seal).is_err());
        let ok = TierSpec {
            drives: vec!["/srv/hdd1".into()],
            promote_reads: Some(3),
            ..local
        };
        assert!(ok.validate(seal).is_ok());
    }
}
