//! The provider block: where the server is and which keys to use, from HCL or from
//! `HAFIZ_ENDPOINT`, `HAFIZ_ADMIN_ENDPOINT`, `HAFIZ_ACCESS_KEY`, `HAFIZ_SECRET_KEY`
//! and `HAFIZ_REGION`.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::api::{Api, Endpoints};
use crate::schema::{block, optional, schema, sensitive, string};
use crate::state::{Shared, invalid};
use crate::{data_sources, resources};

#[derive(Default)]
pub struct HafizProvider {
    shared: Shared,
}

#[derive(Serialize, Deserialize, Default)]
pub struct Config {
    pub endpoint: Value<String>,
    pub admin_endpoint: Value<String>,
    pub access_key: Value<String>,
    pub secret_key: Value<String>,
    pub region: Value<String>,
}

/// The attribute's value from HCL, else from the environment variable.
fn setting(v: &Value<String>, env: &str) -> Option<String> {
    match v {
        Value::Value(s) if !s.is_empty() => Some(s.clone()),
        _ => std::env::var(env).ok().filter(|s| !s.is_empty()),
    }
}

/// The admin listener by default: the S3 endpoint's port plus one (the server's
/// defaults are 9000 and 9001).
fn default_admin(s3: &str) -> Option<String> {
    let url = reqwest::Url::parse(s3).ok()?;
    let port = url.port_or_known_default()?;
    let mut admin = url.clone();
    admin.set_port(Some(port.checked_add(1)?)).ok()?;
    Some(admin.as_str().trim_end_matches('/').to_string())
}

fn check_url(diags: &mut Diagnostics, attr: &'static str, url: &str) -> bool {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => true,
        _ => {
            invalid(
                diags,
                AttributePath::new(attr),
                "Invalid endpoint",
                format!("{attr} must be an http:// or https:// URL with a host, not {url:?}."),
            );
            false
        }
    }
}

#[async_trait]
impl Provider for HafizProvider {
    type Config<'a> = Config;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        schema(block(
            "Manages a Hafiz server's buckets, IAM and targets.",
            [
                (
                    "endpoint",
                    optional(
                        string(),
                        "The S3 endpoint, e.g. http://127.0.0.1:9000 (HAFIZ_ENDPOINT).",
                    ),
                ),
                (
                    "admin_endpoint",
                    optional(
                        string(),
                        "The admin API endpoint (HAFIZ_ADMIN_ENDPOINT); default: the S3 endpoint's port + 1.",
                    ),
                ),
                (
                    "access_key",
                    optional(string(), "Access key id (HAFIZ_ACCESS_KEY)."),
                ),
                (
                    "secret_key",
                    sensitive(optional(string(), "Secret access key (HAFIZ_SECRET_KEY).")),
                ),
                (
                    "region",
                    optional(
                        string(),
                        "Region the server signs with (HAFIZ_REGION; default us-east-1).",
                    ),
                ),
            ],
            [],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Config) -> Option<()> {
        if let Value::Value(u) = &config.endpoint {
            check_url(diags, "endpoint", u);
        }
        if let Value::Value(u) = &config.admin_endpoint {
            check_url(diags, "admin_endpoint", u);
        }
        diags.errors.is_empty().then_some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Config,
    ) -> Option<()> {
        let mut missing = Vec::new();
        let endpoint = setting(&config.endpoint, "HAFIZ_ENDPOINT");
        let access_key = setting(&config.access_key, "HAFIZ_ACCESS_KEY");
        let secret_key = setting(&config.secret_key, "HAFIZ_SECRET_KEY");
        for (name, env, v) in [
            ("endpoint", "HAFIZ_ENDPOINT", &endpoint),
            ("access_key", "HAFIZ_ACCESS_KEY", &access_key),
            ("secret_key", "HAFIZ_SECRET_KEY", &secret_key),
        ] {
            if v.is_none() {
                missing.push(format!("{name} (or {env})"));
            }
        }
        if !missing.is_empty() {
            crate::state::error(
                diags,
                "The hafiz provider needs more settings",
                format!("Missing: {}.", missing.join(", ")),
            );
            return None;
        }
        let s3 = endpoint.unwrap_or_default();
        if !check_url(diags, "endpoint", &s3) {
            return None;
        }
        let admin = match setting(&config.admin_endpoint, "HAFIZ_ADMIN_ENDPOINT") {
            Some(a) => a,
            None => default_admin(&s3)?,
        };
        if !check_url(diags, "admin_endpoint", &admin) {
            return None;
        }
        let endpoints = Endpoints {
            s3,
            admin,
            access_key: access_key.unwrap_or_default(),
            secret_key: secret_key.unwrap_or_default(),
            region: setting(&config.region, "HAFIZ_REGION").unwrap_or_else(|| "us-east-1".into()),
        };
        match Api::new(&endpoints) {
            Ok(api) => {
                self.shared.set(api);
                Some(())
            }
            Err(e) => {
                crate::state::error(diags, "Cannot build the HTTP client", e.to_string());
                None
            }
        }
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(resources::all(&self.shared))
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(data_sources::all(&self.shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_endpoint_defaults_to_the_next_port() {
        assert_eq!(
            default_admin("http://127.0.0.1:9000").as_deref(),
            Some("http://127.0.0.1:9001")
        );
        assert_eq!(
            default_admin("https://s3.example/").as_deref(),
            Some("https://s3.example:444")
        );
    }
}
