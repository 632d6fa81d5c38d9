//! The audit log: one CloudTrail-shaped JSON record per S3, IAM or STS request,
//! written as JSON lines to rotating files by a background task. The request path
//! only hands a record to a bounded queue; when the writer falls behind, records are
//! dropped and counted (`hafiz_audit_dropped_total`), never waited for.
//!
//! Records carry no secrets: no signatures, credentials, session tokens, request
//! headers beyond the user agent, or user metadata.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

/// How many records may wait for the writer.
const QUEUE: usize = 8192;

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

/// Query parameters that authenticate a request: never recorded.
pub fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("x-amz-signature")
        || n.starts_with("x-amz-credential")
        || n.starts_with("x-amz-security-token")
        || n == "signature"
        || n == "awsaccesskeyid"
}

/// Where records go and how long files are kept.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub dir: PathBuf,
    /// A file is rotated once it holds this many bytes.
    pub max_file_bytes: u64,
    /// Rotated files older than this are deleted.
    pub retention: Duration,
}

#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<AuditRecord>,
}

impl AuditLog {
    /// Start the writer task; records go to `dir/audit.log`, rotated files to
    /// `dir/audit-<millis>.log`.
    pub fn start(cfg: AuditConfig) -> std::io::Result<AuditLog> {
        std::fs::create_dir_all(&cfg.dir)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::task::spawn_blocking(move || writer(cfg, rx));
        Ok(AuditLog { tx })
    }

    /// Queue a record without waiting.
    pub fn record(&self, r: AuditRecord) {
        if self.tx.try_send(r).is_err() {
            metrics::counter!("hafiz_audit_dropped_total").increment(1);
            tracing::warn!("audit queue full: record dropped");
        }
    }
}

fn current(dir: &Path) -> PathBuf {
    dir.join("audit.log")
}

fn open(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(current(dir))
}

/// The writer: drains the queue, writes a batch, flushes, rotates by size and
/// removes rotated files past their retention.
fn writer(cfg: AuditConfig, mut rx: mpsc::Receiver<AuditRecord>) {
    let mut file = match open(&cfg.dir) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(dir = %cfg.dir.display(), error = %e, "cannot open the audit log");
            return;
        }
    };
    let mut size = file.metadata().map(|m| m.len()).unwrap_or(0);
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while let Ok(r) = rx.try_recv() {
            batch.push(r);
        }
        let mut buf = Vec::new();
        for r in &batch {
            if serde_json::to_writer(&mut buf, r).is_ok() {
                buf.push(b'\n');
            }
        }
        if let Err(e) = file.write_all(&buf).and_then(|_| file.flush()) {
            tracing::error!(error = %e, "audit log write failed");
            metrics::counter!("hafiz_audit_dropped_total").increment(batch.len() as u64);
            continue;
        }
        metrics::counter!("hafiz_audit_records_total").increment(batch.len() as u64);
        size += buf.len() as u64;
        if size >= cfg.max_file_bytes {
            let rotated = cfg
                .dir
                .join(format!("audit-{}.log", crate::timefmt::now_millis()));
            if std::fs::rename(current(&cfg.dir), &rotated).is_ok()
                && let Ok(f) = open(&cfg.dir)
            {
                file = f;
                size = 0;
            }
            remove_expired(&cfg);
        }
    }
    let _ = file.sync_all();
}

fn remove_expired(cfg: &AuditConfig) {
    let Ok(entries) = std::fs::read_dir(&cfg.dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("audit-")
            && name.ends_with(".log")
            && e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > cfg.retention)
        {
            let _ = std::fs::remove_file(e.path());
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
