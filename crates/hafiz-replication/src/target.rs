//! Replication targets: a bucket of another Hafiz cluster (or any S3 endpoint) with
//! the credentials to write it, registered by the operator and named by rules as
//! `arn:hafiz:replication::ID:BUCKET`. Stored as cluster settings
//! (`replicate/<ARN>`), the secret key sealed with a key derived from the root
//! secret and bound to the ARN; it never appears in an answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hafiz_jobs::Sealer;
use hafiz_meta::replication::{QueueState, ReplicationCommand, TARGET_SETTING_PREFIX};
use hafiz_meta::settings::SettingsCache;
use hafiz_meta::{Command, Metadata};
use hafiz_tier::remote::S3Client;
use serde::{Deserialize, Serialize};

use crate::error::{ReplicationError, ReplicationResult};

/// A target as the operator gives it (admin API, CLI, `[[replication_target]]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TargetSpec {
    pub id: String,
    pub endpoint: String,
    pub bucket: String,
    #[serde(default)]
    pub region: Option<String>,
    pub access_key: String,
    pub secret_key: String,
    /// Per-request timeout (default 60 s).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// A target as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetConfig {
    pub arn: String,
    pub id: String,
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key_sealed: String,
    pub timeout_ms: u64,
}

/// A target as shown: never its secret.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetView {
    pub arn: String,
    pub id: String,
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub timeout_ms: u64,
    /// Replications waiting, and the bytes they will copy.
    pub queued: u64,
    pub queued_bytes: u64,
}

pub fn arn(id: &str, bucket: &str) -> String {
    format!("arn:hafiz:replication::{id}:{bucket}")
}

fn setting_key(arn: &str) -> String {
    format!("{TARGET_SETTING_PREFIX}{arn}")
}

impl TargetSpec {
    /// Check the spec and make the stored form, sealing the secret with `seal`.
    pub fn validate(
        &self,
        seal: impl Fn(&str, &[u8]) -> String,
    ) -> ReplicationResult<TargetConfig> {
        let invalid = |m: &str| Err(ReplicationError::Invalid(m.to_string()));
        if self.id.is_empty()
            || self.id.len() > 64
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return invalid("id: 1 to 64 letters, digits, '-' or '_'");
        }
        if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            return invalid("endpoint: an http:// or https:// URL");
        }
        if self.bucket.len() < 3
            || self.bucket.len() > 63
            || !self
                .bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return invalid("bucket: a valid S3 bucket name");
        }
        if self.access_key.is_empty() || self.secret_key.is_empty() {
            return invalid("access_key and secret_key are required");
        }
        let arn = arn(&self.id, &self.bucket);
        Ok(TargetConfig {
            secret_key_sealed: seal(&arn, self.secret_key.as_bytes()),
            arn,
            id: self.id.clone(),
            endpoint: self.endpoint.trim_end_matches('/').to_string(),
            bucket: self.bucket.clone(),
            region: self.region.clone().unwrap_or_else(|| "us-east-1".into()),
            access_key: self.access_key.clone(),
            timeout_ms: self.timeout_ms.unwrap_or(60_000),
        })
    }
}

impl TargetConfig {
    fn view(&self, q: QueueState) -> TargetView {
        TargetView {
            arn: self.arn.clone(),
            id: self.id.clone(),
            endpoint: self.endpoint.clone(),
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            access_key: self.access_key.clone(),
            timeout_ms: self.timeout_ms,
            queued: q.queued,
            queued_bytes: q.bytes,
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }
}

/// An opened target.
pub struct Target {
    pub config: TargetConfig,
    pub client: S3Client,
}

pub struct Targets {
    meta: Arc<dyn Metadata>,
    sealer: Sealer,
    opened: SettingsCache<TargetConfig, Target>,
}

/// Open a target: its client, with the secret unsealed.
fn open(sealer: &Sealer, cfg: &TargetConfig) -> ReplicationResult<Target> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&cfg.secret_key_sealed)
        .map_err(|_| ReplicationError::Unseal)?;
    let secret = sealer
        .open(&cfg.arn, &raw)
        .map_err(|_| ReplicationError::Unseal)?;
    let secret = String::from_utf8(secret).map_err(|_| ReplicationError::Unseal)?;
    let client = S3Client::new(&cfg.endpoint, &cfg.region, &cfg.access_key, &secret)
        .map_err(|e| ReplicationError::Invalid(e.to_string()))?;
    Ok(Target {
        config: cfg.clone(),
        client,
    })
}

impl Targets {
    pub fn new(meta: Arc<dyn Metadata>, secret: &[u8]) -> Arc<Targets> {
        let sealer = Sealer::derive(secret, b"replication target secret v1");
        let opener = sealer.clone();
        Arc::new(Targets {
            opened: SettingsCache::new(
                meta.clone(),
                TARGET_SETTING_PREFIX,
                "replication target",
                |c: &TargetConfig| c.arn.clone(),
                move |c| open(&opener, c).map_err(|e| e.to_string()),
            ),
            meta,
            sealer,
        })
    }

    pub async fn get(&self, arn: &str) -> Option<Arc<Target>> {
        self.opened.get(arn).await
    }

    pub async fn all(&self) -> Vec<Arc<Target>> {
        self.opened.all().await
    }

    async fn configs(&self) -> ReplicationResult<Vec<TargetConfig>> {
        Ok(self.opened.configs().await?)
    }

    pub async fn views(&self) -> ReplicationResult<Vec<TargetView>> {
        let queues: BTreeMap<String, QueueState> =
            self.meta.replication_queues().await?.into_iter().collect();
        Ok(self
            .configs()
            .await?
            .into_iter()
            .map(|c| {
                let q = queues.get(&c.arn).copied().unwrap_or_default();
                c.view(q)
            })
            .collect())
    }

    pub async fn view(&self, arn: &str) -> ReplicationResult<TargetView> {
        self.views()
            .await?
            .into_iter()
            .find(|v| v.arn == arn)
            .ok_or_else(|| ReplicationError::NotFound(arn.to_string()))
    }

    /// Add a target (with `replace`, change one: the config file at start). With
    /// `check`, the target's bucket must answer HeadBucket with these credentials.
    pub async fn add(
        &self,
        spec: TargetSpec,
        replace: bool,
        check: bool,
    ) -> ReplicationResult<TargetView> {
        let cfg = spec.validate(|aad, plain| {
            base64::engine::general_purpose::STANDARD.encode(self.sealer.seal(aad, plain))
        })?;
        if !replace && self.configs().await?.iter().any(|c| c.arn == cfg.arn) {
            return Err(ReplicationError::Exists(cfg.arn));
        }
        if check {
            let t = open(&self.sealer, &cfg)?;
            let url = t.client.url(&cfg.bucket, None, "");
            let req = t
                .client
                .request(reqwest::Method::HEAD, &url)
                .map_err(|e| ReplicationError::Unreachable(e.to_string()))?;
            let resp = tokio::time::timeout(cfg.timeout(), t.client.send(req))
                .await
                .map_err(|_| ReplicationError::Unreachable("timed out".into()))?
                .map_err(|e| ReplicationError::Unreachable(e.to_string()))?;
            S3Client::expect_ok(resp, "HeadBucket")
                .await
                .map_err(|e| ReplicationError::Unreachable(e.to_string()))?;
        }
        let value =
            serde_json::to_vec(&cfg).map_err(|e| ReplicationError::Invalid(e.to_string()))?;
        self.meta
            .apply(Command::PutSetting {
                key: setting_key(&cfg.arn),
                value: Some(value),
            })
            .await?;
        self.view(&cfg.arn).await
    }

    /// Remove a target no bucket's rule names; its queue goes with it.
    pub async fn remove(&self, arn: &str) -> ReplicationResult<()> {
        if !self.configs().await?.iter().any(|c| c.arn == arn) {
            return Err(ReplicationError::NotFound(arn.to_string()));
        }
        for b in self.meta.buckets().await? {
            if b.replication
                .as_ref()
                .is_some_and(|c| c.rules.iter().any(|r| r.target == arn))
            {
                return Err(ReplicationError::InUse(format!(
                    "bucket {} replicates to {arn}",
                    b.name
                )));
            }
        }
        self.meta
            .apply(Command::PutSetting {
                key: setting_key(arn),
                value: None,
            })
            .await?;
        self.meta
            .apply(Command::Replication(ReplicationCommand::Purge {
                target: arn.to_string(),
            }))
            .await?;
        Ok(())
    }
}
