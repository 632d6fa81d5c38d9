//! Get/Put/DeleteBucketReplication, and the receiving side of replication: writes
//! another cluster's replicator makes here carry the source's version id, date and
//! ETag in `x-hafiz-replication-*` headers (see `hafiz_replication::protocol`), and
//! are stored as REPLICA versions that are never replicated onward.

use axum::response::Response;
use hafiz_meta::{BucketChange, ObjectVersion, ReplicationState, Versioning, version_id_order};
use hafiz_replication::config::{ConfigError, from_xml, to_xml};
use hafiz_replication::protocol;
use http::{HeaderMap, StatusCode};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::{header_str, require_bucket};
use crate::server::{Ctx, empty_response};

fn refused(e: ConfigError) -> S3Error {
    match e {
        ConfigError::MalformedXml => S3Error::new(S3ErrorCode::MalformedXML),
        ConfigError::InvalidRequest(m) => S3Error::with_message(S3ErrorCode::InvalidRequest, m),
        ConfigError::InvalidArgument(m) => S3Error::with_message(S3ErrorCode::InvalidArgument, m),
    }
}

pub async fn get(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let cfg = b
        .replication
        .ok_or_else(|| S3Error::new(S3ErrorCode::ReplicationConfigurationNotFoundError))?;
    Ok(crate::server::xml_text_response(to_xml(&cfg)))
}

pub async fn put(mut ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let body = ctx.body.collect_limited(1024 * 1024).await?;
    let known = ctx.state.replication.target_arns().await;
    let cfg = from_xml(&body, |arn| known.contains(arn)).map_err(refused)?;
    if b.versioning != Versioning::Enabled {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
        ));
    }
    let existing = cfg.rules.iter().any(|r| r.enabled && r.existing_objects);
    crate::ops::update_bucket(&ctx, BucketChange::Replication(Some(cfg))).await?;
    if existing {
        // Objects written before the rule: a resync job, as MinIO does for
        // ExistingObjectReplication (AWS runs it as a Batch Replication job).
        if let Err(e) = ctx
            .state
            .replication
            .resync(
                &ctx.bucket,
                hafiz_replication::ResyncScope::ExistingObjectRules,
            )
            .await
        {
            tracing::warn!(bucket = %ctx.bucket, error = %e, "existing-object replication not started");
        }
    }
    Ok(empty_response(StatusCode::OK))
}

pub async fn delete(ctx: Ctx) -> S3Result<Response> {
    require_bucket(&ctx).await?;
    crate::ops::update_bucket(&ctx, BucketChange::Replication(None)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// The facts of a replica write: the source version's id (which carries its row
/// order), modification time and ETag.
pub(crate) struct Replica {
    version_id: String,
    order: u64,
    last_modified: i64,
    etag: Option<String>,
}

impl Replica {
    /// Whether the request says it is a replica write (authorized as
    /// `s3:ReplicateObject` and friends).
    pub fn requested(h: &HeaderMap) -> bool {
        h.contains_key(protocol::VERSION_HEADER)
    }

    pub fn of(h: &HeaderMap) -> S3Result<Option<Replica>> {
        let Some(id) = header_str(h, protocol::VERSION_HEADER) else {
            return Ok(None);
        };
        let bad = |what: &str| {
            S3Error::with_message(S3ErrorCode::InvalidArgument, format!("Invalid {what}"))
        };
        let order = version_id_order(id).ok_or_else(|| bad(protocol::VERSION_HEADER))?;
        let last_modified = header_str(h, protocol::MTIME_HEADER)
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| bad(protocol::MTIME_HEADER))?;
        Ok(Some(Replica {
            version_id: id.to_string(),
            order,
            last_modified,
            etag: header_str(h, protocol::ETAG_HEADER).map(|e| e.trim_matches('"').to_string()),
        }))
    }

    /// Make `v` the replica: the source's id, place among versions, date and ETag.
    pub fn apply(&self, v: &mut ObjectVersion) {
        v.version_id = self.version_id.clone();
        v.order = self.order;
        v.last_modified = self.last_modified;
        if let Some(e) = &self.etag {
            v.etag = e.clone();
        }
        v.replication = Some(ReplicationState {
            replica: true,
            targets: Vec::new(),
        });
    }
}
