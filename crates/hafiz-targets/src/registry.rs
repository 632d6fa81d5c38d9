//! The targets of the cluster: settings rows (every node sees the same), opened once
//! per node and reopened when the settings change. Opening never connects: a sink
//! connects on its first delivery, so a target that is down at start costs nothing
//! until it has events.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use hafiz_jobs::Sealer;
use hafiz_meta::events::{EventCommand, QueueState, TARGET_SETTING_PREFIX};
use hafiz_meta::settings::SettingsCache;
use hafiz_meta::{Command, Metadata};

use crate::breaker::Breaker;
use crate::config::{TargetConfig, TargetKind, TargetSpec, TargetView, secret_aad, setting_key};
use crate::error::{TargetError, TargetResult};
use crate::sink::{self, Sink};

/// An opened target.
pub struct Target {
    pub config: TargetConfig,
    /// None for a chain (the store routes its events to its members).
    pub sink: Option<Arc<dyn Sink>>,
    pub breaker: Breaker,
}

pub struct Targets {
    meta: Arc<dyn Metadata>,
    sealer: Sealer,
    opened: SettingsCache<TargetConfig, Target>,
}

/// Open a target: its sink (connected on first use), secrets unsealed.
fn open(sealer: &Sealer, cfg: &TargetConfig) -> TargetResult<Target> {
    let password = unseal(sealer, cfg, "password", cfg.password_sealed.as_deref())?;
    let hmac = unseal(sealer, cfg, "hmac", cfg.hmac_secret_sealed.as_deref())?;
    Ok(Target {
        config: cfg.clone(),
        sink: sink::open(cfg, password, hmac)?,
        breaker: Breaker::default(),
    })
}

fn unseal(
    sealer: &Sealer,
    cfg: &TargetConfig,
    what: &str,
    sealed: Option<&str>,
) -> TargetResult<Option<String>> {
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| TargetError::Unseal)?;
    let plain = sealer
        .open(&secret_aad(&cfg.arn, what), &raw)
        .map_err(|_| TargetError::Unseal)?;
    String::from_utf8(plain)
        .map(Some)
        .map_err(|_| TargetError::Unseal)
}

impl Targets {
    pub fn new(meta: Arc<dyn Metadata>, secret: &[u8]) -> Arc<Targets> {
        let sealer = Sealer::derive(secret, b"notify target secret v1");
        let opener = sealer.clone();
        Arc::new(Targets {
            opened: SettingsCache::new(
                meta.clone(),
                TARGET_SETTING_PREFIX,
                "notification target",
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

    pub async fn exists(&self, arn: &str) -> bool {
        self.get(arn).await.is_some()
    }

    pub async fn all(&self) -> Vec<Arc<Target>> {
        self.opened.all().await
    }

    async fn configs(&self) -> TargetResult<Vec<TargetConfig>> {
        Ok(self.opened.configs().await?)
    }

    async fn queues(&self) -> TargetResult<BTreeMap<String, QueueState>> {
        Ok(self.meta.event_queues().await?.into_iter().collect())
    }

    pub async fn views(&self) -> TargetResult<Vec<TargetView>> {
        let queues = self.queues().await?;
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

    pub async fn view(&self, arn: &str) -> TargetResult<TargetView> {
        self.views()
            .await?
            .into_iter()
            .find(|v| v.arn == arn)
            .ok_or_else(|| TargetError::NotFound(arn.to_string()))
    }

    /// Add a target (or, with `replace`, change one: the config file at start). With
    /// `check`, the target must answer before it is saved.
    pub async fn add(
        &self,
        spec: TargetSpec,
        replace: bool,
        check: bool,
    ) -> TargetResult<TargetView> {
        let cfg = spec.validate(|aad, plain| {
            base64::engine::general_purpose::STANDARD.encode(self.sealer.seal(aad, plain))
        })?;
        let configs = self.configs().await?;
        if !replace && configs.iter().any(|c| c.arn == cfg.arn) {
            return Err(TargetError::Exists(cfg.arn));
        }
        if cfg.kind == TargetKind::Chain {
            for r in &cfg.routes {
                match configs.iter().find(|c| c.arn == r.target) {
                    None => {
                        return Err(TargetError::Invalid(format!(
                            "routes: no target {}",
                            r.target
                        )));
                    }
                    Some(c) if c.kind == TargetKind::Chain => {
                        return Err(TargetError::Invalid(format!(
                            "routes: {} is a chain (chains route to delivering targets only)",
                            r.target
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        if check {
            let opened = open(&self.sealer, &cfg)?;
            if let Some(s) = &opened.sink {
                s.check()
                    .await
                    .map_err(|e| TargetError::Unreachable(e.to_string()))?;
            }
        }
        let value = serde_json::to_vec(&cfg).map_err(|e| TargetError::Invalid(e.to_string()))?;
        self.meta
            .apply(Command::PutSetting {
                key: setting_key(&cfg.arn),
                value: Some(value),
            })
            .await?;
        let queued = self
            .queues()
            .await?
            .get(&cfg.arn)
            .copied()
            .unwrap_or_default();
        Ok(cfg.view(queued))
    }

    /// Remove a target no bucket rule and no chain names; its queue goes with it.
    pub async fn remove(&self, arn: &str) -> TargetResult<()> {
        let configs = self.configs().await?;
        if !configs.iter().any(|c| c.arn == arn) {
            return Err(TargetError::NotFound(arn.to_string()));
        }
        if let Some(chain) = configs
            .iter()
            .find(|c| c.routes.iter().any(|r| r.target == arn))
        {
            return Err(TargetError::InUse(format!(
                "chain {} routes to {arn}",
                chain.arn
            )));
        }
        for b in self.meta.buckets().await? {
            let uses = b
                .notification
                .as_deref()
                .and_then(hafiz_notify::NotificationConfig::from_json)
                .is_some_and(|c| c.rules.iter().any(|r| r.arn == arn));
            if uses {
                return Err(TargetError::InUse(format!(
                    "bucket {} sends events to {arn}",
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
            .apply(Command::Events(EventCommand::Purge {
                target: arn.to_string(),
            }))
            .await?;
        Ok(())
    }
}
