//! What a node opens from the cluster's settings rows under one prefix (notification
//! targets, replication targets): read once, kept while the settings generation
//! stays the same (one atomic read per use), reopened only for the rows that
//! changed, so an unchanged entry keeps its connections and state.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, RwLock};

use crate::Metadata;

type Opener<C, T> = Box<dyn Fn(&C) -> Result<T, String> + Send + Sync>;

struct Loaded<C, T> {
    generation: Option<u64>,
    entries: BTreeMap<String, (C, Arc<T>)>,
}

pub struct SettingsCache<C, T> {
    meta: Arc<dyn Metadata>,
    prefix: &'static str,
    /// What the rows are, for logs.
    what: &'static str,
    key: fn(&C) -> String,
    open: Opener<C, T>,
    loaded: RwLock<Loaded<C, T>>,
    reload: Mutex<()>,
}

impl<C, T> SettingsCache<C, T>
where
    C: DeserializeOwned + PartialEq + Clone + Send + Sync,
    T: Send + Sync,
{
    /// Rows under `prefix` are JSON `C`s, known by `key`; `open` makes a `T` of one.
    pub fn new(
        meta: Arc<dyn Metadata>,
        prefix: &'static str,
        what: &'static str,
        key: fn(&C) -> String,
        open: impl Fn(&C) -> Result<T, String> + Send + Sync + 'static,
    ) -> SettingsCache<C, T> {
        SettingsCache {
            meta,
            prefix,
            what,
            key,
            open: Box::new(open),
            loaded: RwLock::new(Loaded {
                generation: None,
                entries: BTreeMap::new(),
            }),
            reload: Mutex::new(()),
        }
    }

    /// The stored configurations (unreadable rows skipped).
    pub async fn configs(&self) -> crate::MetaResult<Vec<C>> {
        Ok(self
            .meta
            .settings(self.prefix)
            .await?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect())
    }

    async fn fresh(&self) {
        let now = self.meta.settings_generation();
        if self.loaded.read().await.generation == Some(now) {
            return;
        }
        let _one = self.reload.lock().await;
        if self.loaded.read().await.generation == Some(now) {
            return;
        }
        let configs = match self.configs().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the {}s", self.what);
                return;
            }
        };
        let old = self.loaded.read().await.entries.clone();
        let mut entries = BTreeMap::new();
        for cfg in configs {
            let key = (self.key)(&cfg);
            if let Some((c, t)) = old.get(&key).filter(|(c, _)| *c == cfg) {
                entries.insert(key, (c.clone(), t.clone()));
                continue;
            }
            match (self.open)(&cfg) {
                Ok(t) => {
                    entries.insert(key, (cfg, Arc::new(t)));
                }
                Err(e) => tracing::warn!(key = %key, error = %e, "cannot open {}", self.what),
            }
        }
        *self.loaded.write().await = Loaded {
            generation: Some(now),
            entries,
        };
    }

    pub async fn get(&self, key: &str) -> Option<Arc<T>> {
        self.fresh().await;
        self.loaded
            .read()
            .await
            .entries
            .get(key)
            .map(|(_, t)| t.clone())
    }

    pub async fn all(&self) -> Vec<Arc<T>> {
        self.fresh().await;
        self.loaded
            .read()
            .await
            .entries
            .values()
            .map(|(_, t)| t.clone())
            .collect()
    }
}
