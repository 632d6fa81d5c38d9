//! The provider's signing keys (a JWKS document), from a file or a URL, cached; read
//! again when a token names a key id the cache does not hold (the provider rotated
//! its keys), but at most once per `REFRESH_INTERVAL` so that tokens with made-up
//! key ids cannot make Hafiz hammer the provider.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;

use super::WebIdentityError;

const REFRESH_INTERVAL: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// A JWKS is a few kilobytes; anything far larger is not one.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// Where the keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    File(PathBuf),
    Url(String),
}

impl JwksSource {
    /// `http://` and `https://` values are URLs, anything else a file path.
    pub fn parse(value: &str) -> JwksSource {
        if value.starts_with("http://") || value.starts_with("https://") {
            JwksSource::Url(value.to_string())
        } else {
            JwksSource::File(PathBuf::from(value))
        }
    }

    fn describe(&self) -> String {
        match self {
            JwksSource::File(p) => p.display().to_string(),
            JwksSource::Url(u) => u.clone(),
        }
    }
}

pub struct KeyStore {
    source: JwksSource,
    http: reqwest::Client,
    cache: std::sync::Mutex<Cache>,
    refresh_interval: Duration,
}

#[derive(Default)]
struct Cache {
    keys: Option<Arc<JwkSet>>,
    fetched: Option<Instant>,
}

impl KeyStore {
    pub fn new(source: JwksSource) -> Result<KeyStore, WebIdentityError> {
        hafiz_tls::install_default_provider();
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| WebIdentityError::Config(format!("HTTP client: {e}")))?;
        Ok(KeyStore {
            source,
            http,
            cache: Default::default(),
            refresh_interval: REFRESH_INTERVAL,
        })
    }

    /// Reads the keys now: a startup check that the file is there and valid.
    pub async fn load(&self) -> Result<usize, WebIdentityError> {
        let keys = self.read().await?;
        let n = keys.keys.len();
        let mut cache = self.lock();
        cache.keys = Some(Arc::new(keys));
        cache.fetched = Some(Instant::now());
        Ok(n)
    }

    /// The key set, read again first when `kid` is not in it and the last read is
    /// older than the refresh interval.
    pub async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<JwkSet>, WebIdentityError> {
        {
            let mut cache = self.lock();
            let known = |keys: &JwkSet| match kid {
                Some(k) => keys.find(k).is_some(),
                None => !keys.keys.is_empty(),
            };
            if let Some(keys) = &cache.keys
                && known(keys)
            {
                return Ok(keys.clone());
            }
            if cache
                .fetched
                .is_some_and(|t| t.elapsed() < self.refresh_interval)
            {
                return match &cache.keys {
                    Some(keys) => Ok(keys.clone()),
                    None => Err(WebIdentityError::Fetch(format!(
                        "the keys of {} could not be read recently",
                        self.source.describe()
                    ))),
                };
            }
            // Counted as a read even when it fails, so an unreachable provider is not
            // retried on every request. The lock is not held across the read: tokens
            // with known key ids are not held up by a slow provider.
            cache.fetched = Some(Instant::now());
        }
        let keys = Arc::new(self.read().await?);
        tracing::info!(source = %self.source.describe(), keys = keys.keys.len(), "read the OIDC provider's signing keys");
        self.lock().keys = Some(keys.clone());
        Ok(keys)
    }

    /// Tests of key rotation cannot wait 30 s.
    #[cfg(test)]
    pub(crate) fn set_refresh_interval(&mut self, interval: Duration) {
        self.refresh_interval = interval;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn read(&self) -> Result<JwkSet, WebIdentityError> {
        let bytes = match &self.source {
            JwksSource::File(path) => tokio::fs::read(path).await.map_err(|e| {
                WebIdentityError::Fetch(format!("cannot read {}: {e}", path.display()))
            })?,
            JwksSource::Url(url) => self.fetch(url).await?,
        };
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(WebIdentityError::Fetch(format!(
                "{} is larger than {MAX_JWKS_BYTES} bytes",
                self.source.describe()
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            WebIdentityError::Fetch(format!(
                "{} is not a JWKS document: {e}",
                self.source.describe()
            ))
        })
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, WebIdentityError> {
        let fail = |e: String| {
            tracing::warn!(url, error = %e, "cannot fetch the OIDC provider's signing keys");
            WebIdentityError::Fetch(format!("cannot fetch {url}: {e}"))
        };
        let mut resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("status {}", resp.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(fail(format!("larger than {MAX_JWKS_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
