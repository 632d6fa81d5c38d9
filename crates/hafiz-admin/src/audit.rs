//! Exporting the audit log as one CloudTrail file, streamed: the records are read
//! from the rotated files on a blocking thread and sent to the client as they come,
//! never held in memory whole.

use std::io::Write;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::AdminState;
use crate::auth::Caller;
use crate::error::{AdminError, AdminResult, ErrorBody};

/// Chunks handed to the client at a time.
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportRange {
    /// RFC 3339; records with `from <= eventTime`.
    pub from: String,
    /// RFC 3339; records with `eventTime < to`.
    pub to: String,
}

#[utoipa::path(get, path = "/v1/audit/export", operation_id = "ExportAudit", tag = "audit",
    params(ExportRange),
    responses((status = 200, description = "A CloudTrail file: {\"Records\":[...]}", content_type = "application/json"),
        (status = 400, body = ErrorBody)))]
pub async fn export(
    State(st): State<Arc<AdminState>>,
    Extension(c): Extension<Caller>,
    range: Result<Query<ExportRange>, QueryRejection>,
) -> AdminResult<Response> {
    c.require(&st, "ExportAudit").await?;
    let Ok(Query(range)) = range else {
        return Err(AdminError::InvalidRequest(
            "from and to (RFC 3339) are required".into(),
        ));
    };
    let dir = st.node.audit_dir().ok_or(AdminError::AuditDisabled)?;
    let time = |s: &str| {
        hafiz_s3::audit::parse_time(s).map_err(|e| AdminError::InvalidRequest(e.to_string()))
    };
    let (from, to) = (time(&range.from)?, time(&range.to)?);
    if from > to {
        return Err(AdminError::InvalidRequest("from is after to".into()));
    }
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = hafiz_s3::audit::export(&dir, from, to, &mut out).and_then(|stats| {
            out.flush().map_err(hafiz_s3::audit::ExportError::Write)?;
            Ok(stats)
        });
        match result {
            Ok(stats) if stats.skipped > 0 => {
                tracing::warn!(
                    skipped = stats.skipped,
                    "audit export left out malformed lines"
                );
            }
            Ok(_) => {}
            // The answer has started: cutting the body short is how the client learns.
            Err(e) => {
                tracing::error!(error = %e, "audit export failed");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// A `Write` that hands full chunks to the response body.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
