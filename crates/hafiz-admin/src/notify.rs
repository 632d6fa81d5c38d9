//! Notification targets: add (webhook, Redis, NATS, MQTT, AMQP, Kafka, PostgreSQL, or a
//! chain routing to them), list with their queues, get, remove. Passwords and HMAC keys
//! go in and never come out: sealed before they are stored, absent from every answer.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hafiz_targets::{TargetError, TargetSpec, TargetView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::error::{AdminError, AdminResult, ErrorBody};

type St = State<Arc<AdminState>>;

/// A target as `notify add` sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NewTarget {
    /// Becomes the ARN: `arn:hafiz:sqs::ID:KIND`.
    pub id: String,
    /// webhook, redis, nats, mqtt, amqp, kafka, postgres or chain.
    pub kind: String,
    pub endpoint: Option<String>,
    /// Redis key, NATS subject, MQTT topic, AMQP exchange, Kafka topic, PostgreSQL table.
    pub destination: Option<String>,
    pub routing_key: Option<String>,
    /// Redis: stream or list; PostgreSQL: namespace or access.
    pub format: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub hmac_secret: Option<String>,
    pub timeout_ms: Option<u64>,
    pub max_attempts: Option<u32>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub routes: Option<Vec<serde_json::Value>>,
}

/// A target as shown (never with a secret).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Target {
    pub arn: String,
    pub id: String,
    pub kind: String,
    pub endpoint: String,
    pub destination: String,
    pub routing_key: String,
    pub format: String,
    pub username: String,
    pub has_password: bool,
    pub has_hmac_secret: bool,
    pub timeout_ms: u64,
    pub max_attempts: u32,
    #[schema(value_type = Vec<Object>)]
    pub routes: Vec<serde_json::Value>,
    /// Events waiting for delivery.
    pub queued: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetList {
    #[schema(value_type = Vec<Target>)]
    pub targets: Vec<TargetView>,
}

#[derive(Debug, Deserialize)]
pub struct AddOptions {
    /// `false` saves the target without connecting to it first.
    pub check: Option<bool>,
}

impl From<TargetError> for AdminError {
    fn from(e: TargetError) -> AdminError {
        match e {
            TargetError::Invalid(m) => AdminError::InvalidRequest(m),
            TargetError::Unreachable(_) => AdminError::InvalidRequest(e.to_string()),
            TargetError::Exists(_) => AdminError::conflict("TargetAlreadyExists", e.to_string()),
            TargetError::NotFound(_) => AdminError::not_found("NoSuchTarget", e.to_string()),
            TargetError::InUse(m) => AdminError::conflict("TargetInUse", m),
            TargetError::Meta(m) => m.into(),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

#[utoipa::path(get, path = "/v1/notify/targets", operation_id = "ListNotifyTargets", tag = "notify",
    responses((status = 200, body = TargetList)))]
pub async fn list(State(st): St, Extension(c): Extension<Caller>) -> AdminResult<Json<TargetList>> {
    c.require(&st, "ListNotifyTargets").await?;
    Ok(Json(TargetList {
        targets: st.s3.targets.views().await?,
    }))
}

#[utoipa::path(post, path = "/v1/notify/targets", operation_id = "AddNotifyTarget", tag = "notify",
    request_body = NewTarget,
    params(("check" = Option<bool>, Query, description = "connect before saving (default true)")),
    responses((status = 201, body = Target), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn add(
    State(st): St,
    Extension(c): Extension<Caller>,
    Query(opts): Query<AddOptions>,
    body: Result<Json<TargetSpec>, JsonRejection>,
) -> AdminResult<(StatusCode, Json<TargetView>)> {
    c.require(&st, "AddNotifyTarget").await?;
    let Json(spec) = body.map_err(|e| AdminError::InvalidRequest(e.body_text()))?;
    let view = st
        .s3
        .targets
        .add(spec, false, opts.check.unwrap_or(true))
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/v1/notify/targets/{arn}", operation_id = "GetNotifyTarget", tag = "notify",
    params(("arn" = String, Path)),
    responses((status = 200, body = Target), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(arn): Path<String>,
) -> AdminResult<Json<TargetView>> {
    c.require(&st, "GetNotifyTarget").await?;
    Ok(Json(st.s3.targets.view(&arn).await?))
}

#[utoipa::path(delete, path = "/v1/notify/targets/{arn}", operation_id = "RemoveNotifyTarget", tag = "notify",
    params(("arn" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(arn): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "RemoveNotifyTarget").await?;
    st.s3.targets.remove(&arn).await?;
    Ok(StatusCode::NO_CONTENT)
}
