//! The file sink: JSON lines in `DIR/audit.log`, rotated by size to
//! `DIR/audit-<millis>.log` (the millis of the rotation, so no record in a rotated
//! file was written after it), rotated files removed past their retention.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::queue::{Rx, SinkQueue, SinkStats};
use super::{AuditConfig, AuditError};

pub(super) const CURRENT: &str = "audit.log";
pub(super) const ROTATED_PREFIX: &str = "audit-";
pub(super) const ROTATED_SUFFIX: &str = ".log";

pub(super) fn start(cfg: AuditConfig) -> Result<SinkQueue, AuditError> {
    std::fs::create_dir_all(&cfg.dir).map_err(|source| AuditError::Dir {
        dir: cfg.dir.clone(),
        source,
    })?;
    let (queue, rx, stats) = SinkQueue::new("file");
    // Blocking file I/O on its own thread keeps the runtime's workers free.
    tokio::task::spawn_blocking(move || writer(cfg, rx, stats));
    Ok(queue)
}

fn current(dir: &Path) -> PathBuf {
    dir.join(CURRENT)
}

fn open(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(current(dir))
}

/// Drains the queue, writes a batch, flushes, rotates by size and removes rotated
/// files past their retention.
fn writer(cfg: AuditConfig, mut rx: Rx, stats: Arc<SinkStats>) {
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
            if serde_json::to_writer(&mut buf, r.as_ref()).is_ok() {
                buf.push(b'\n');
            }
        }
        if let Err(e) = file.write_all(&buf).and_then(|_| file.flush()) {
            tracing::error!(error = %e, "audit log write failed");
            stats.failed(batch.len() as u64, "write failed");
            continue;
        }
        stats.delivered(batch.len() as u64);
        size += buf.len() as u64;
        if size >= cfg.max_file_bytes {
            let rotated = cfg.dir.join(format!(
                "{ROTATED_PREFIX}{}{ROTATED_SUFFIX}",
                crate::timefmt::now_millis()
            ));
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
        if name.starts_with(ROTATED_PREFIX)
            && name.ends_with(ROTATED_SUFFIX)
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
