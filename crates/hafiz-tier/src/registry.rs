//! The tiers of the cluster: kept as settings in metadata (so every node sees the
//! same ones), opened once per node and reopened when the settings change.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use hafiz_jobs::Sealer;
use hafiz_meta::jobs::{JobQuery, JobState};
use hafiz_meta::{Command, Metadata, TIER_DELETE_JOB, TierCopy};
use tokio::sync::{Mutex, RwLock};

use crate::config::{
    SETTINGS_PREFIX, TierConfig, TierKind, TierSpec, TierView, secret_aad, setting_key,
};
use crate::error::{TierError, TierResult};
use crate::remote::RemoteTier;
use crate::store::{LocalTier, TierStore};

/// An opened tier.
pub struct Tier {
    pub config: TierConfig,
    pub store: Arc<dyn TierStore>,
}

pub struct Tiers {
    meta: Arc<dyn Metadata>,
    sealer: Sealer,
    /// Local tiers live on one node's drives, so a cluster of several nodes (where
    /// any node serves any read) takes only remote ones.
    local_allowed: bool,
    loaded: RwLock<Loaded>,
    reload: Mutex<()>,
}

struct Loaded {
    generation: Option<u64>,
    tiers: BTreeMap<String, Arc<Tier>>,
    /// Configured tiers that could not be opened (a drive missing, an endpoint
    /// down at start), tried again after [`REOPEN_AFTER`].
    failed: BTreeMap<String, TierConfig>,
    failed_at: Option<std::time::Instant>,
}

const REOPEN_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

impl Tiers {
    pub fn new(meta: Arc<dyn Metadata>, secret: &[u8], local_allowed: bool) -> Arc<Tiers> {
        Arc::new(Tiers {
            meta,
            sealer: Sealer::derive(secret, b"tier secret v1"),
            local_allowed,
            loaded: RwLock::new(Loaded {
                generation: None,
                tiers: BTreeMap::new(),
                failed: BTreeMap::new(),
                failed_at: None,
            }),
            reload: Mutex::new(()),
        })
    }

    /// Reload when the settings changed since the last load (one atomic read when
    /// they did not).
    async fn fresh(&self) {
        let now = self.meta.settings_generation();
        let current = |l: &Loaded| {
            l.generation == Some(now) && l.failed_at.is_none_or(|t| t.elapsed() < REOPEN_AFTER)
        };
        if current(&*self.loaded.read().await) {
            return;
        }
        let _one = self.reload.lock().await;
        if current(&*self.loaded.read().await) {
            return;
        }
        let rows = match self.meta.settings(SETTINGS_PREFIX).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the tiers");
                return;
            }
        };
        let old = self.loaded.read().await.tiers.clone();
        let mut tiers = BTreeMap::new();
        let mut failed = BTreeMap::new();
        for (_, value) in rows {
            let cfg: TierConfig = match serde_json::from_slice(&value) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable tier setting");
                    continue;
                }
            };
            if let Some(t) = old.get(&cfg.name).filter(|t| t.config == cfg) {
                tiers.insert(cfg.name.clone(), t.clone());
                continue;
            }
            match self.open(&cfg, false).await {
                Ok(store) => {
                    tiers.insert(cfg.name.clone(), Arc::new(Tier { config: cfg, store }));
                }
                Err(e) => {
                    tracing::warn!(tier = %cfg.name, error = %e, "cannot open tier");
                    failed.insert(cfg.name.clone(), cfg);
                }
            }
        }
        let failed_at = (!failed.is_empty()).then(std::time::Instant::now);
        *self.loaded.write().await = Loaded {
            generation: Some(now),
            tiers,
            failed,
            failed_at,
        };
    }

    /// Whether `name` is a configured tier that cannot be used right now (its
    /// copies exist; work on them waits).
    pub async fn unavailable(&self, name: &str) -> bool {
        self.fresh().await;
        self.loaded.read().await.failed.contains_key(name)
    }

    /// Open a tier's store; with `check`, a remote tier's bucket must answer.
    async fn open(&self, cfg: &TierConfig, check: bool) -> TierResult<Arc<dyn TierStore>> {
        Ok(match &cfg.kind {
            TierKind::Local { drives, parity } => {
                if !self.local_allowed {
                    return Err(TierError::Invalid(
                        "local tiers need a single-node deployment; use an s3 tier".into(),
                    ));
                }
                Arc::new(LocalTier::open(drives.clone(), *parity).await?)
            }
            TierKind::S3(r) => {
                let secret = self.secret_of(cfg)?;
                let remote = RemoteTier::new(
                    &r.endpoint,
                    &r.bucket,
                    &r.prefix,
                    &r.region,
                    &r.access_key,
                    &secret,
                )?;
                if check {
                    remote
                        .check()
                        .await
                        .map_err(|e| TierError::Unreachable(e.to_string()))?;
                }
                Arc::new(remote)
            }
        })
    }

    /// A remote tier's secret key, opened.
    fn secret_of(&self, cfg: &TierConfig) -> TierResult<String> {
        let TierKind::S3(r) = &cfg.kind else {
            return Ok(String::new());
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&r.secret_sealed)
            .map_err(|_| TierError::Unseal)?;
        let secret = self
            .sealer
            .open(&secret_aad(&cfg.name), &sealed)
            .map_err(|_| TierError::Unseal)?;
        String::from_utf8(secret).map_err(|_| TierError::Unseal)
    }

    pub async fn get(&self, name: &str) -> Option<Arc<Tier>> {
        self.fresh().await;
        self.loaded.read().await.tiers.get(name).cloned()
    }

    /// The tier whose storage class is `class`.
    pub async fn by_class(&self, class: &str) -> Option<Arc<Tier>> {
        self.fresh().await;
        self.loaded
            .read()
            .await
            .tiers
            .values()
            .find(|t| t.config.storage_class == class)
            .cloned()
    }

    pub async fn all(&self) -> Vec<Arc<Tier>> {
        self.fresh().await;
        self.loaded.read().await.tiers.values().cloned().collect()
    }

    /// The storage classes lifecycle transitions may name.
    pub async fn classes(&self) -> Vec<String> {
        self.all()
            .await
            .iter()
            .map(|t| t.config.storage_class.clone())
            .collect()
    }

    /// Every tier as stored, opened or not, with its usage.
    pub async fn views(&self) -> TierResult<Vec<TierView>> {
        let mut out = Vec::new();
        for cfg in self.configs().await? {
            let usage = self.meta.tier_usage(&cfg.name).await?;
            out.push(cfg.view(usage));
        }
        Ok(out)
    }

    async fn configs(&self) -> TierResult<Vec<TierConfig>> {
        Ok(self
            .meta
            .settings(SETTINGS_PREFIX)
            .await?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect())
    }

    /// Add a tier (or, with `replace`, change one: the config file at start). The
    /// tier is opened and, if remote, its bucket checked before it is saved.
    pub async fn add(&self, spec: TierSpec, replace: bool) -> TierResult<TierView> {
        let cfg = spec.validate(|aad, plain| self.sealer.seal(aad, plain))?;
        let configs = self.configs().await?;
        let existing = configs.iter().find(|c| c.name == cfg.name);
        if let Some(e) = existing {
            if !replace {
                return Err(TierError::Exists(cfg.name));
            }
            let usage = self.meta.tier_usage(&e.name).await?;
            if e.same_as(&cfg) && self.secret_of(e).ok() == self.secret_of(&cfg).ok() {
                return Ok(e.view(usage));
            }
            if !e.same_place(&cfg) && usage.objects > 0 {
                return Err(TierError::InUse(format!(
                    "tier {} holds {} objects: its drives, endpoint, bucket and prefix cannot change",
                    e.name, usage.objects
                )));
            }
        }
        if let Some(other) = configs
            .iter()
            .find(|c| c.storage_class == cfg.storage_class && c.name != cfg.name)
        {
            return Err(TierError::Invalid(format!(
                "storage class {} is tier {}'s",
                cfg.storage_class, other.name
            )));
        }
        // Opened (and a remote bucket checked) before it is saved.
        self.open(&cfg, true).await?;
        let value = serde_json::to_vec(&cfg).map_err(|e| TierError::Invalid(e.to_string()))?;
        self.meta
            .apply(Command::PutSetting {
                key: setting_key(&cfg.name),
                value: Some(value),
            })
            .await?;
        let usage = self.meta.tier_usage(&cfg.name).await?;
        Ok(cfg.view(usage))
    }

    /// Remove a tier that holds no copy and has no copy deletion pending.
    pub async fn remove(&self, name: &str) -> TierResult<()> {
        if !self.configs().await?.iter().any(|c| c.name == name) {
            return Err(TierError::NotFound(name.to_string()));
        }
        let usage = self.meta.tier_usage(name).await?;
        // Checked again by the metadata command itself, against concurrent transitions.
        if usage.objects > 0 {
            return Err(TierError::InUse(format!(
                "tier {name} holds {} objects ({} bytes); transition them elsewhere or delete them first",
                usage.objects, usage.bytes
            )));
        }
        if self.pending_deletes(name).await? > 0 {
            return Err(TierError::InUse(format!(
                "copies in tier {name} are still being deleted; try again shortly"
            )));
        }
        match self
            .meta
            .apply(Command::PutSetting {
                key: setting_key(name),
                value: None,
            })
            .await
        {
            Err(hafiz_meta::MetaError::DeleteConflict(m)) => Err(TierError::InUse(m)),
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    async fn pending_deletes(&self, tier: &str) -> TierResult<usize> {
        let mut n = 0;
        for state in [JobState::Queued, JobState::Leased, JobState::Failed] {
            let mut after = None;
            loop {
                let page = self
                    .meta
                    .jobs(JobQuery {
                        state: Some(state),
                        kind: Some(TIER_DELETE_JOB.to_string()),
                        after: after.clone(),
                        limit: 1000,
                    })
                    .await?;
                n += page
                    .iter()
                    .filter(|j| {
                        serde_json::from_slice::<TierCopy>(&j.payload).is_ok_and(|c| c.tier == tier)
                    })
                    .count();
                match page.last() {
                    Some(j) if page.len() == 1000 => after = Some(j.id.clone()),
                    _ => break,
                }
            }
        }
        Ok(n)
    }
}
