//! Replication targets (add, list with their queues, get, remove) and resyncs of a
//! bucket's existing objects. Secret keys go in and never come out: sealed before
//! they are stored, absent from every answer.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hafiz_replication::{ReplicationError, TargetSpec, TargetView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::error::{AdminError, AdminResult, ErrorBody};

type St = State<Arc<AdminState>>;

/// A target as `replicate add` sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NewReplicationTarget {
    /// With the bucket, becomes the ARN: `arn:hafiz:replication::ID:BUCKET`.
    pub id: String,
    /// The S3 endpoint of the other cluster, e.g. `http://dr.example:9000`.
    pub endpoint: String,
    /// The destination bucket there (versioning enabled).
    pub bucket: String,
    pub region: Option<String>,
    pub access_key: String,
    pub secret_key: String,
    pub timeout_ms: Option<u64>,
}

/// A target as shown (never with its secret key).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ReplicationTarget {
    pub arn: String,
    pub id: String,
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub timeout_ms: u64,
    /// Replications waiting, and the bytes they will copy.
    pub queued: u64,
    pub queued_bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplicationTargetList {
    #[schema(value_type = Vec<ReplicationTarget>)]
    pub targets: Vec<TargetView>,
}

#[derive(Debug, Deserialize)]
pub struct AddOptions {
    /// `false` saves the target without reaching its bucket first.
    pub check: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewResync {
    pub bucket: String,
    /// Also versions replicated already (default: versions not replicated yet, or
    /// failed), by every rule.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resync {
    /// The resync job (see `/v1/jobs/{id}` for its progress).
    pub job: String,
}

impl From<ReplicationError> for AdminError {
    fn from(e: ReplicationError) -> AdminError {
        match e {
            ReplicationError::Invalid(m) => AdminError::InvalidRequest(m),
            ReplicationError::Unreachable(_) => AdminError::InvalidRequest(e.to_string()),
            ReplicationError::Exists(_) => {
                AdminError::conflict("ReplicationTargetExists", e.to_string())
            }
            ReplicationError::NotFound(_) => {
                AdminError::not_found("NoSuchReplicationTarget", e.to_string())
            }
            ReplicationError::InUse(m) => AdminError::conflict("ReplicationTargetInUse", m),
            ReplicationError::Meta(m) => m.into(),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

#[utoipa::path(get, path = "/v1/replication/targets", operation_id = "ListReplicationTargets", tag = "replication",
    responses((status = 200, body = ReplicationTargetList)))]
pub async fn list(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<ReplicationTargetList>> {
    c.require(&st, "ListReplicationTargets").await?;
    Ok(Json(ReplicationTargetList {
        targets: st.s3.replication.targets.views().await?,
    }))
}

#[utoipa::path(post, path = "/v1/replication/targets", operation_id = "AddReplicationTarget", tag = "replication",
    request_body = NewReplicationTarget,
    params(("check" = Option<bool>, Query, description = "reach the bucket before saving (default true)")),
    responses((status = 201, body = ReplicationTarget), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn add(
    State(st): St,
    Extension(c): Extension<Caller>,
    Query(opts): Query<AddOptions>,
    body: Result<Json<TargetSpec>, JsonRejection>,
) -> AdminResult<(StatusCode, Json<TargetView>)> {
    c.require(&st, "AddReplicationTarget").await?;
    let Json(spec) = body.map_err(|e| AdminError::InvalidRequest(e.body_text()))?;
    let view = st
        .s3
        .replication
        .targets
        .add(spec, false, opts.check.unwrap_or(true))
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/v1/replication/targets/{arn}", operation_id = "GetReplicationTarget", tag = "replication",
    params(("arn" = String, Path)),
    responses((status = 200, body = ReplicationTarget), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(arn): Path<String>,
) -> AdminResult<Json<TargetView>> {
    c.require(&st, "GetReplicationTarget").await?;
    Ok(Json(st.s3.replication.targets.view(&arn).await?))
}

#[utoipa::path(delete, path = "/v1/replication/targets/{arn}", operation_id = "RemoveReplicationTarget", tag = "replication",
    params(("arn" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(arn): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "RemoveReplicationTarget").await?;
    st.s3.replication.targets.remove(&arn).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/replication/resync", operation_id = "ResyncReplication", tag = "replication",
    request_body = NewResync,
    responses((status = 202, body = Resync), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn resync(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Result<Json<NewResync>, JsonRejection>,
) -> AdminResult<(StatusCode, Json<Resync>)> {
    c.require(&st, "ResyncReplication").await?;
    let Json(req) = body.map_err(|e| AdminError::InvalidRequest(e.body_text()))?;
    let b = st.s3.meta.bucket(&req.bucket).await?.ok_or_else(|| {
        AdminError::not_found("NoSuchBucket", format!("no bucket {}", req.bucket))
    })?;
    if b.replication.is_none() {
        return Err(AdminError::InvalidRequest(format!(
            "bucket {} has no replication configuration",
            req.bucket
        )));
    }
    let scope = if req.all {
        hafiz_replication::ResyncScope::All
    } else {
        hafiz_replication::ResyncScope::Missing
    };
    let job = st.s3.replication.resync(&req.bucket, scope).await?;
    Ok((StatusCode::ACCEPTED, Json(Resync { job })))
}
