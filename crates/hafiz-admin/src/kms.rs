//! The built-in key service of server-side encryption: its keys (list, create, get,
//! enable, disable, rotate) and its master key (rotate, status). Key material never
//! comes out: answers carry ids, states and version names only.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hafiz_crypto::{CryptoError, KeyInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::error::{AdminError, AdminResult, ErrorBody};
use crate::model::rfc3339;

type St = State<Arc<AdminState>>;

/// Every key, the built-in ones included: the server makes those in the background
/// once it starts, and a listing right after the start shows them too.
async fn all_keys(st: &AdminState) -> AdminResult<Vec<KeyInfo>> {
    if let Err(e) = st.s3.kms.ensure_builtin().await {
        tracing::debug!(error = %e, "built-in KMS keys not made yet");
    }
    Ok(st.s3.kms.list().await?)
}

/// A key of the key service (never its material).
#[derive(Debug, Serialize, ToSchema)]
pub struct KmsKey {
    pub id: String,
    pub description: String,
    /// A disabled key neither encrypts nor decrypts (`KMS.DisabledException`).
    pub enabled: bool,
    pub created: String,
    /// One of the server's own keys (SSE-S3's, and the default SSE-KMS key).
    pub builtin: bool,
    /// Version names, oldest first; the last is current (new objects use it, older
    /// ones keep the version that encrypted them).
    pub versions: Vec<String>,
}

impl From<KeyInfo> for KmsKey {
    fn from(k: KeyInfo) -> KmsKey {
        KmsKey {
            id: k.id,
            description: k.description,
            enabled: k.enabled,
            created: rfc3339(k.created),
            builtin: k.builtin,
            versions: k.versions,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KmsKeyList {
    pub keys: Vec<KmsKey>,
}

/// A key to create; without an id the server makes one (a UUID).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKmsKey {
    /// 1-128 of `A-Z a-z 0-9 - _ / .`, not starting with `hafiz-` or `alias/`.
    pub id: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MasterKeyRotation {
    /// The new master key's id (a fingerprint, not the key).
    pub master_key_id: String,
    /// Key versions re-sealed with it.
    pub resealed: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KmsStatus {
    pub master_key_id: String,
    /// Where the master key comes from: environment, file, cluster-secret,
    /// generated or kmip.
    pub master_source: String,
    /// The KMIP server and key id, when the master key is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kmip_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kmip_key_id: Option<String>,
    /// Keys in the service, built-in ones included.
    pub keys: usize,
}

impl From<CryptoError> for AdminError {
    fn from(e: CryptoError) -> AdminError {
        match e {
            CryptoError::NoSuchKey(id) => {
                AdminError::not_found("NoSuchKmsKey", format!("no key {id} in the key service"))
            }
            CryptoError::Exists(_) => AdminError::conflict("KmsKeyExists", e.to_string()),
            CryptoError::Invalid(m) => AdminError::InvalidRequest(m),
            CryptoError::Disabled(_) => AdminError::conflict("KmsKeyDisabled", e.to_string()),
            CryptoError::Meta(m) => m.into(),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

#[utoipa::path(get, path = "/v1/kms/keys", operation_id = "ListKmsKeys", tag = "kms",
    responses((status = 200, body = KmsKeyList)))]
pub async fn list(State(st): St, Extension(c): Extension<Caller>) -> AdminResult<Json<KmsKeyList>> {
    c.require(&st, "ListKmsKeys").await?;
    let keys = all_keys(&st).await?;
    Ok(Json(KmsKeyList {
        keys: keys.into_iter().map(KmsKey::from).collect(),
    }))
}

#[utoipa::path(post, path = "/v1/kms/keys", operation_id = "CreateKmsKey", tag = "kms",
    request_body = NewKmsKey,
    responses((status = 201, body = KmsKey), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn create(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<KmsKey>)> {
    c.require(&st, "CreateKmsKey").await?;
    // The body is optional: none makes a key with a generated id.
    let req: NewKmsKey = if body.iter().all(u8::is_ascii_whitespace) {
        NewKmsKey::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AdminError::InvalidRequest(e.to_string()))?
    };
    let info = st
        .s3
        .kms
        .create(req.id, req.description.unwrap_or_default())
        .await?;
    Ok((StatusCode::CREATED, Json(info.into())))
}

#[utoipa::path(get, path = "/v1/kms/keys/{id}", operation_id = "GetKmsKey", tag = "kms",
    params(("id" = String, Path)),
    responses((status = 200, body = KmsKey), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> AdminResult<Json<KmsKey>> {
    c.require(&st, "GetKmsKey").await?;
    Ok(Json(st.s3.kms.info(&id).await?.into()))
}

#[utoipa::path(post, path = "/v1/kms/keys/{id}/enable", operation_id = "EnableKmsKey", tag = "kms",
    params(("id" = String, Path)),
    responses((status = 200, body = KmsKey), (status = 404, body = ErrorBody)))]
pub async fn enable(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> AdminResult<Json<KmsKey>> {
    c.require(&st, "EnableKmsKey").await?;
    Ok(Json(st.s3.kms.set_enabled(&id, true).await?.into()))
}

#[utoipa::path(post, path = "/v1/kms/keys/{id}/disable", operation_id = "DisableKmsKey", tag = "kms",
    params(("id" = String, Path)),
    responses((status = 200, body = KmsKey), (status = 404, body = ErrorBody)))]
pub async fn disable(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> AdminResult<Json<KmsKey>> {
    c.require(&st, "DisableKmsKey").await?;
    Ok(Json(st.s3.kms.set_enabled(&id, false).await?.into()))
}

#[utoipa::path(post, path = "/v1/kms/keys/{id}/rotate", operation_id = "RotateKmsKey", tag = "kms",
    params(("id" = String, Path)),
    responses((status = 200, body = KmsKey), (status = 404, body = ErrorBody)))]
pub async fn rotate(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> AdminResult<Json<KmsKey>> {
    c.require(&st, "RotateKmsKey").await?;
    Ok(Json(st.s3.kms.rotate(&id).await?.into()))
}

#[utoipa::path(post, path = "/v1/kms/master/rotate", operation_id = "RotateKmsMasterKey", tag = "kms",
    responses((status = 200, body = MasterKeyRotation), (status = 409, body = ErrorBody)))]
pub async fn rotate_master(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<MasterKeyRotation>> {
    c.require(&st, "RotateKmsMasterKey").await?;
    match st.s3.kms.rotate_master().await {
        Ok((master_key_id, resealed)) => Ok(Json(MasterKeyRotation {
            master_key_id,
            resealed,
        })),
        // The key is not the server's to replace (its refusal names the variables to
        // set instead); any other master key failure is the server's own.
        Err(CryptoError::MasterNotOurs(m)) => {
            Err(AdminError::conflict("MasterKeyFromEnvironment", m))
        }
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/v1/kms/status", operation_id = "GetKmsStatus", tag = "kms",
    responses((status = 200, body = KmsStatus)))]
pub async fn status(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<KmsStatus>> {
    c.require(&st, "GetKmsStatus").await?;
    let source = st.s3.kms.master_source();
    let (kmip_endpoint, kmip_key_id) = match source {
        hafiz_crypto::MasterSource::Kmip { endpoint, key_id } => {
            (Some(endpoint.clone()), Some(key_id.clone()))
        }
        _ => (None, None),
    };
    Ok(Json(KmsStatus {
        master_key_id: st.s3.kms.master_id(),
        master_source: source.label().to_string(),
        kmip_endpoint,
        kmip_key_id,
        keys: all_keys(&st).await?.len(),
    }))
}
