//! Tiers: add (a local drive set or a remote S3 bucket, exposed as a storage
//! class), list with usage, get, remove. Secrets go in and never come out: they are
//! sealed before they are stored and no answer carries them.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hafiz_tier::{TierError, TierSpec, TierView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::error::{AdminError, AdminResult, ErrorBody};

type St = State<Arc<AdminState>>;

/// A tier as `tier add` sends it (`type` is `local` or `s3`).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NewTier {
    pub name: String,
    pub storage_class: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub archive: Option<bool>,
    pub after_days: Option<u32>,
    pub promote_reads: Option<u32>,
    pub drives: Option<Vec<String>>,
    pub parity: Option<usize>,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub region: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
}

/// A tier as shown (never with its secret).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Tier {
    pub name: String,
    pub storage_class: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub archive: bool,
    pub after_days: Option<u32>,
    pub promote_reads: Option<u32>,
    pub drives: Option<Vec<String>>,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub access_key: Option<String>,
    /// Copies held and their bytes.
    pub objects: u64,
    pub bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierList {
    #[schema(value_type = Vec<Tier>)]
    pub tiers: Vec<TierView>,
}

impl From<TierError> for AdminError {
    fn from(e: TierError) -> AdminError {
        match e {
            TierError::Invalid(m) => AdminError::InvalidRequest(m),
            TierError::Unreachable(_) => AdminError::InvalidRequest(e.to_string()),
            TierError::Exists(_) => AdminError::conflict("TierAlreadyExists", e.to_string()),
            TierError::NotFound(_) => AdminError::not_found("NoSuchTier", e.to_string()),
            TierError::InUse(m) => AdminError::conflict("TierInUse", m),
            TierError::Meta(m) => m.into(),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

#[utoipa::path(get, path = "/v1/tiers", operation_id = "ListTiers", tag = "tiers",
    responses((status = 200, body = TierList)))]
pub async fn list(State(st): St, Extension(c): Extension<Caller>) -> AdminResult<Json<TierList>> {
    c.require(&st, "ListTiers").await?;
    Ok(Json(TierList {
        tiers: st.s3.tiering.tiers().views().await?,
    }))
}

#[utoipa::path(post, path = "/v1/tiers", operation_id = "AddTier", tag = "tiers",
    request_body = NewTier,
    responses((status = 201, body = Tier), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn add(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Result<Json<TierSpec>, JsonRejection>,
) -> AdminResult<(StatusCode, Json<TierView>)> {
    c.require(&st, "AddTier").await?;
    let Json(spec) = body.map_err(|e| AdminError::InvalidRequest(e.body_text()))?;
    let view = st.s3.tiering.tiers().add(spec, false).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/v1/tiers/{name}", operation_id = "GetTier", tag = "tiers",
    params(("name" = String, Path)),
    responses((status = 200, body = Tier), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<Json<TierView>> {
    c.require(&st, "GetTier").await?;
    st.s3
        .tiering
        .tiers()
        .views()
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .map(Json)
        .ok_or_else(|| AdminError::not_found("NoSuchTier", format!("no tier {name}")))
}

#[utoipa::path(delete, path = "/v1/tiers/{name}", operation_id = "RemoveTier", tag = "tiers",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "RemoveTier").await?;
    st.s3.tiering.tiers().remove(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
