//! Admin API errors: JSON bodies with a stable `code`, the status that goes with it,
//! and the request id.

use axum::Json;
use axum::response::{IntoResponse, Response};
use hafiz_meta::{Entity, MetaError};
use http::StatusCode;
use serde::Serialize;

tokio::task_local! {
    /// The id of the request being served, for error bodies.
    pub static REQUEST_ID: String;
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Authentication failed (the S3 error code says how).
    #[error("{message}")]
    Auth { code: &'static str, message: String },
    #[error("you are not allowed to call {0}")]
    AccessDenied(&'static str),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    MalformedPolicy(String),
    #[error("the server keeps no audit log (start it with --audit-dir)")]
    AuditDisabled,
    #[error("the resource does not support this method")]
    MethodNotAllowed,
    /// A missing entity: `code` is NoSuchUser, NoSuchBucket, ...
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// EntityAlreadyExists, BucketAlreadyExists, DeleteConflict, BucketNotEmpty,
    /// LimitExceeded.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    Internal(String),
}

impl AdminError {
    pub fn not_found(code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Auth { code, .. } => code,
            AdminError::AccessDenied(_) => "AccessDenied",
            AdminError::InvalidRequest(_) => "InvalidRequest",
            AdminError::MalformedPolicy(_) => "MalformedPolicy",
            AdminError::AuditDisabled => "AuditDisabled",
            AdminError::MethodNotAllowed => "MethodNotAllowed",
            AdminError::NotFound { code, .. } | AdminError::Conflict { code, .. } => code,
            AdminError::Internal(_) => "InternalError",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AdminError::Auth { .. } | AdminError::AccessDenied(_) => StatusCode::FORBIDDEN,
            AdminError::InvalidRequest(_)
            | AdminError::MalformedPolicy(_)
            | AdminError::AuditDisabled => StatusCode::BAD_REQUEST,
            AdminError::NotFound { .. } => StatusCode::NOT_FOUND,
            AdminError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AdminError::Conflict { .. } => StatusCode::CONFLICT,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The JSON body of every failure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: NoSuchUser, AccessDenied, ...
    pub code: String,
    pub message: String,
    pub request_id: String,
}

/// A failure's code and message, carried on the response for the audit record.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        if let AdminError::Internal(m) = &self {
            tracing::error!(error = %m, "admin request failed");
        }
        let body = ErrorBody {
            code: self.code().to_string(),
            message: self.to_string(),
            request_id: REQUEST_ID.try_with(Clone::clone).unwrap_or_default(),
        };
        let failure = Failure {
            code: self.code(),
            message: body.message.clone(),
        };
        let mut r = (self.status(), Json(body)).into_response();
        r.extensions_mut().insert(failure);
        r
    }
}

impl From<MetaError> for AdminError {
    fn from(e: MetaError) -> AdminError {
        match e {
            MetaError::NoSuchBucket(b) => {
                AdminError::not_found("NoSuchBucket", format!("The bucket {b} does not exist."))
            }
            MetaError::BucketExists(b) => {
                AdminError::conflict("BucketAlreadyExists", format!("The bucket {b} exists."))
            }
            MetaError::BucketNotEmpty(b) => {
                AdminError::conflict("BucketNotEmpty", format!("The bucket {b} is not empty."))
            }
            MetaError::NoSuchEntity { kind, message } => {
                AdminError::not_found(missing_code(kind), message)
            }
            MetaError::EntityAlreadyExists(m) => AdminError::conflict("EntityAlreadyExists", m),
            MetaError::DeleteConflict(m) => AdminError::conflict("DeleteConflict", m),
            MetaError::LimitExceeded(m) => AdminError::conflict("LimitExceeded", m),
            MetaError::InvalidBucketState(m) => AdminError::InvalidRequest(m),
            MetaError::NoSuchJob(m) => AdminError::not_found("NoSuchJob", m),
            MetaError::JobConflict(m) => AdminError::conflict("InvalidJobState", m),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

impl From<hafiz_s3::S3Error> for AdminError {
    fn from(e: hafiz_s3::S3Error) -> AdminError {
        AdminError::Internal(e.to_string())
    }
}

/// The stable code for a missing IAM entity.
fn missing_code(kind: Entity) -> &'static str {
    match kind {
        Entity::User | Entity::GroupMember => "NoSuchUser",
        Entity::Group => "NoSuchGroup",
        Entity::Policy | Entity::UserPolicy | Entity::GroupPolicy | Entity::AttachedPolicy => {
            "NoSuchPolicy"
        }
        Entity::AccessKey => "NoSuchAccessKey",
        Entity::Account => "NoSuchAccount",
        Entity::RateLimit => "NoSuchRateLimit",
    }
}

pub type AdminResult<T> = Result<T, AdminError>;
