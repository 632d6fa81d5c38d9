//! The audit log: one CloudTrail-shaped JSON record per S3, IAM or STS request,
//! handed to independent sinks: rotating JSON-lines files ([`file`]) and an HTTP
//! webhook ([`webhook`]). The request path only offers a record to each sink's
//! bounded queue; a sink that falls behind loses records (counted per sink in
//! `hafiz_audit_dropped_total{sink}`), it never slows requests or another sink.
//!
//! Records carry no secrets: no signatures, credentials, session tokens or request
//! headers beyond the user agent. User metadata is recorded with the configured
//! names masked, and configured object keys are replaced by a hash ([`mask`]) before
//! a record leaves the request path.

pub mod export;
mod file;
pub mod mask;
mod queue;
pub mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::access::Principal;

pub use export::{ExportError, ExportStats, export, parse_time};
pub use mask::{AuditMask, MaskConfig};
pub use webhook::WebhookConfig;

use queue::SinkQueue;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub event_version: &'static str,
    pub event_time: String,
    pub event_source: &'static str,
    pub event_name: String,
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_identity: UserIdentity,
    pub request_parameters: serde_json::Map<String, serde_json::Value>,
    pub response_elements: Option<serde_json::Value>,
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub event_type: &'static str,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub resources: Vec<AuditResource>,
    pub additional_event_data: AdditionalData,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub principal_id: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub access_key_id: Option<String>,
    pub user_name: Option<String>,
}

impl UserIdentity {
    /// Who a request came from, as CloudTrail says it (`account`: the default
    /// account's id, for ARNs).
    pub fn of(account: &str, principal: Option<&Principal>) -> UserIdentity {
        let account = account.to_string();
        match principal {
            None | Some(Principal::Anonymous) => UserIdentity {
                kind: "AnonymousUser",
                principal_id: None,
                arn: None,
                account_id: None,
                access_key_id: None,
                user_name: None,
            },
            Some(Principal::Root) => UserIdentity {
                kind: "Root",
                principal_id: Some(account.clone()),
                arn: Some(format!("arn:aws:iam::{account}:root")),
                account_id: Some(account.clone()),
                access_key_id: None,
                user_name: None,
            },
            Some(Principal::RootSession { access_key_id, .. }) => UserIdentity {
                kind: "AssumedRole",
                principal_id: Some(account.clone()),
                arn: Some(format!("arn:aws:iam::{account}:root")),
                account_id: Some(account.clone()),
                access_key_id: Some(access_key_id.clone()),
                user_name: None,
            },
            Some(Principal::Federated {
                access_key_id,
                session_name,
                identity,
                ..
            }) => UserIdentity {
                kind: "WebIdentityUser",
                principal_id: Some(format!("{}:{}", identity.issuer, identity.subject)),
                arn: Some(Principal::federated_principal(&account, identity, session_name).arn),
                account_id: Some(account.clone()),
                access_key_id: Some(access_key_id.clone()),
                user_name: Some(identity.subject.clone()),
            },
            Some(Principal::User {
                name,
                access_key_id,
                session,
            }) => UserIdentity {
                kind: if session.is_some() {
                    "AssumedRole"
                } else {
                    "IAMUser"
                },
                principal_id: Some(name.clone()),
                arn: Some(format!("arn:aws:iam::{account}:user/{name}")),
                account_id: Some(account.clone()),
                access_key_id: Some(access_key_id.clone()),
                user_name: Some(name.clone()),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditResource {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "ARN")]
    pub arn: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalData {
    pub bytes_transferred_in: u64,
    pub bytes_transferred_out: u64,
    pub duration_ms: f64,
    pub http_status: u16,
}

/// What an audit record needs from a request, taken before the request is consumed
/// (S3, IAM and STS in the gateway; the admin API's middleware).
pub struct RequestFacts {
    time: String,
    peer: Option<String>,
    user_agent: Option<String>,
    /// Query parameters (minus secrets) and user metadata; callers add their own.
    pub params: serde_json::Map<String, serde_json::Value>,
    received: u64,
}

impl RequestFacts {
    pub fn of(parts: &http::request::Parts, mask: &AuditMask) -> RequestFacts {
        use mask::is_metadata;
        let mut params = serde_json::Map::new();
        let mut metadata = serde_json::Map::new();
        // A presigned URL may carry user metadata in its query: masked like headers.
        for (k, v) in crate::router::Query::parse(parts.uri.query()).0 {
            if is_metadata(&k) {
                mask.add_metadata(&mut metadata, &k, &v);
            } else if !is_secret_param(&k) {
                params.insert(k, serde_json::Value::String(v));
            }
        }
        for (name, value) in &parts.headers {
            if is_metadata(name.as_str()) {
                mask.add_metadata(
                    &mut metadata,
                    name.as_str(),
                    &String::from_utf8_lossy(value.as_bytes()),
                );
            }
        }
        if mask.masks_keys() {
            // Listing parameters that name keys, masked like the key itself.
            for p in ["prefix", "start-after", "marker", "key-marker"] {
                if let Some(serde_json::Value::String(v)) = params.get_mut(p)
                    && let std::borrow::Cow::Owned(m) = mask.key(v)
                {
                    *v = m;
                }
            }
        }
        if !metadata.is_empty() {
            params.insert("metadata".into(), metadata.into());
        }
        RequestFacts {
            time: crate::timefmt::iso8601(crate::timefmt::now_millis()),
            peer: parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
            user_agent: parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            params,
            received: parts
                .headers
                .get("x-amz-decoded-content-length")
                .or_else(|| parts.headers.get(http::header::CONTENT_LENGTH))
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0),
        }
    }

    /// The record of the request, answered with `status` after `sent` bytes and
    /// `elapsed`; errors and resources are the caller's to add.
    #[allow(clippy::too_many_arguments)]
    pub fn into_record(
        self,
        source: &'static str,
        name: String,
        region: String,
        identity: UserIdentity,
        request_id: &str,
        status: u16,
        sent: u64,
        elapsed: Duration,
    ) -> AuditRecord {
        AuditRecord {
            event_version: "1.09",
            event_time: self.time,
            event_source: source,
            event_name: name,
            aws_region: region,
            source_ip_address: self.peer,
            user_agent: self.user_agent,
            user_identity: identity,
            request_parameters: self.params,
            response_elements: None,
            request_id: request_id.to_string(),
            event_id: uuid::Uuid::new_v4().to_string(),
            event_type: "AwsApiCall",
            error_code: None,
            error_message: None,
            resources: Vec::new(),
            additional_event_data: AdditionalData {
                bytes_transferred_in: self.received,
                bytes_transferred_out: sent,
                duration_ms: elapsed.as_secs_f64() * 1000.0,
                http_status: status,
            },
        }
    }
}

/// Query parameters that authenticate a request: never recorded.
pub fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("x-amz-signature")
        || n.starts_with("x-amz-credential")
        || n.starts_with("x-amz-security-token")
        || n == "signature"
        || n == "awsaccesskeyid"
}

/// The file sink: where records go and how long files are kept.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub dir: PathBuf,
    /// A file is rotated once it holds this many bytes.
    pub max_file_bytes: u64,
    /// Rotated files older than this are deleted.
    pub retention: Duration,
}

/// Which sinks run, and what is masked in every record.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    pub file: Option<AuditConfig>,
    pub webhook: Option<WebhookConfig>,
    pub mask: MaskConfig,
}

impl AuditOptions {
    pub fn has_sink(&self) -> bool {
        self.file.is_some() || self.webhook.is_some()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open the audit log directory {dir}: {source}")]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Webhook(#[from] webhook::WebhookError),
}

#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    sinks: Vec<SinkQueue>,
    mask: AuditMask,
}

impl AuditLog {
    /// Start one background task per configured sink. Must run inside a Tokio
    /// runtime.
    pub fn start(opts: AuditOptions) -> Result<AuditLog, AuditError> {
        let mut sinks = Vec::new();
        if let Some(cfg) = opts.file {
            sinks.push(file::start(cfg)?);
        }
        if let Some(cfg) = opts.webhook {
            sinks.push(webhook::start(cfg)?);
        }
        Ok(AuditLog {
            inner: Arc::new(Inner {
                sinks,
                mask: AuditMask::new(&opts.mask),
            }),
        })
    }

    /// What records built for this log must mask.
    pub fn mask(&self) -> &AuditMask {
        &self.inner.mask
    }

    /// Waits until every record offered so far has been delivered or lost, at most
    /// `timeout`; false if some are still pending then. For shutdown: the webhook
    /// task does not outlive the runtime.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.inner.sinks.iter().all(|s| s.pending() == 0) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Offer a record to every sink without waiting.
    pub fn record(&self, r: AuditRecord) {
        let r = Arc::new(r);
        for sink in &self.inner.sinks {
            sink.offer(r.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_parameters_are_secret() {
        for p in [
            "X-Amz-Signature",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
            "Signature",
            "AWSAccessKeyId",
        ] {
            assert!(is_secret_param(p), "{p}");
        }
        assert!(!is_secret_param("prefix"));
        assert!(!is_secret_param("versionId"));
    }
}
