//! Who is calling: every request (but `/openapi.json`) is SigV4-signed for service
//! `hafiz-admin` with the same keys as the S3 endpoint; each handler then asks
//! whether the caller may perform its operation (`admin:<OperationId>`).

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hafiz_s3::access::{self, Principal};
use hafiz_s3::audit::{AuditRecord, RequestFacts, UserIdentity};
use hafiz_s3::auth::{self, Identity, PayloadCheck};
use http::HeaderValue;
use sha2::{Digest, Sha256};

use crate::AdminState;
use crate::error::{AdminError, Failure, REQUEST_ID};

/// The SigV4 service name admin requests are signed for.
pub const SERVICE: &str = "hafiz-admin";

/// Admin request bodies are small JSON documents (policies are at most a few KiB).
const MAX_BODY: usize = 1 << 20;

/// The authenticated caller, handed to handlers.
#[derive(Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The operation the handler asked permission for: the audit record's eventName.
    operation: Arc<OnceLock<&'static str>>,
}

impl Caller {
    /// Fail unless the caller may perform `operation` (an OpenAPI operation id).
    pub async fn require(
        &self,
        st: &AdminState,
        operation: &'static str,
    ) -> Result<(), AdminError> {
        let _ = self.operation.set(operation);
        let allowed = access::authorize_operator(
            &st.s3,
            &self.principal,
            &format!("admin:{operation}"),
            "arn:hafiz:admin:::*".to_string(),
        )
        .await;
        if allowed {
            Ok(())
        } else {
            Err(AdminError::AccessDenied(operation))
        }
    }
}

/// Middleware: read the body, check the signature and the payload hash, and run the
/// handler with a [`Caller`] and a request id.
pub async fn authenticate(State(st): State<Arc<AdminState>>, req: Request, next: Next) -> Response {
    let request_id = hex::encode_upper(&uuid::Uuid::new_v4().as_bytes()[..8]);
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let facts = st.s3.audit.as_ref().map(|log| {
        let mut f = RequestFacts::of(&parts, log.mask());
        f.params
            .insert("method".into(), parts.method.as_str().into());
        f.params.insert("path".into(), parts.uri.path().into());
        f
    });
    let req = Request::from_parts(parts, body);
    let operation = Arc::new(OnceLock::new());
    let (mut resp, principal) = REQUEST_ID
        .scope(request_id.clone(), {
            let (st, operation) = (st.clone(), operation.clone());
            async move {
                match check(&st, req, operation).await {
                    Ok((req, principal)) => (next.run(req).await, Some(principal)),
                    Err(e) => (e.into_response(), None),
                }
            }
        })
        .await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    if let (Some(log), Some(facts)) = (&st.s3.audit, facts) {
        let account_id = access::account_id_of(&st.s3, principal.as_ref()).await;
        log.record(audit_record(
            &st,
            facts,
            (&account_id, principal.as_ref()),
            operation.get().copied(),
            &request_id,
            &resp,
            started.elapsed(),
        ));
    }
    resp
}

/// The audit record of an admin request. Request bodies (policy documents, new users'
/// details) are not recorded: the method and path name what was changed.
fn audit_record(
    st: &AdminState,
    facts: RequestFacts,
    who: (&str, Option<&Principal>),
    operation: Option<&'static str>,
    request_id: &str,
    resp: &Response,
    elapsed: std::time::Duration,
) -> AuditRecord {
    let sent = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let mut record = facts.into_record(
        "hafiz-admin",
        operation.unwrap_or("Unknown").to_string(),
        st.s3.config.region.clone(),
        UserIdentity::of(who.0, who.1),
        request_id,
        resp.status().as_u16(),
        sent,
        elapsed,
    );
    if let Some(f) = resp.extensions().get::<Failure>() {
        record.error_code = Some(f.code.to_string());
        record.error_message = Some(f.message.clone());
    }
    record
}

async fn check(
    st: &AdminState,
    req: Request,
    operation: Arc<OnceLock<&'static str>>,
) -> Result<(Request, Principal), AdminError> {
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| AdminError::InvalidRequest("the body is too large or incomplete".into()))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let raw_query = parts.uri.query();
    let auth_err = |e: hafiz_s3::S3Error| AdminError::Auth {
        code: e.code.as_str(),
        message: e.message,
    };
    let secrets = access::request_secrets(&st.s3, &parts.headers, raw_query).await;
    secrets
        .check_session(&parts.headers, raw_query)
        .map_err(auth_err)?;
    let authed = auth::authenticate_service(
        &parts.method,
        parts.uri.path(),
        raw_query,
        &parts.headers,
        &st.s3.config.region,
        SystemTime::now(),
        &secrets,
        Some(&sha),
    )
    .map_err(auth_err)?;
    let key = match &authed.auth.identity {
        Identity::AccessKey(k) => k.clone(),
        Identity::Anonymous => {
            return Err(AdminError::Auth {
                code: "MissingAuthentication",
                message: "Admin requests must be signed (SigV4, service hafiz-admin).".into(),
            });
        }
    };
    if authed.service.as_deref() != Some(SERVICE) {
        return Err(AdminError::Auth {
            code: "SignatureDoesNotMatch",
            message: format!("Admin requests must be signed for service {SERVICE}."),
        });
    }
    // The signature covers the declared hash; the body must match it.
    match &authed.auth.payload {
        PayloadCheck::Sha256(h) if *h == sha => {}
        PayloadCheck::Sha256(_) => {
            return Err(AdminError::Auth {
                code: "XAmzContentSHA256Mismatch",
                message: "The body does not match its x-amz-content-sha256.".into(),
            });
        }
        _ => {
            return Err(AdminError::InvalidRequest(
                "Admin requests must carry the hex SHA-256 of their body in x-amz-content-sha256."
                    .into(),
            ));
        }
    }
    let principal = secrets.principal(&key);
    parts.extensions.insert(Caller {
        principal: principal.clone(),
        operation,
    });
    Ok((Request::from_parts(parts, Body::from(bytes)), principal))
}
