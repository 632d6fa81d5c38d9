//! STS on the S3 endpoint (SigV4 service `sts`), as MinIO and Garage clients use it:
//! AssumeRole hands the caller temporary credentials (access key, secret, session
//! token, expiry) that act with the caller's own permissions, narrowed by an optional
//! session policy.

use axum::body::Body;
use axum::response::Response;
use hafiz_meta::Command;
use hafiz_meta::iam::{AccessKey, IamCommand, Session, WebIdentity};
use http::{HeaderValue, StatusCode};
use quick_xml::escape::escape;

use crate::access::{Principal, SessionGrant};
use crate::iam_api::{IamError, random_id, random_secret};
use crate::server::S3State;
use crate::timefmt::{iso8601, now_millis};

pub(crate) const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// AWS's shortest session; `HAFIZ_STS_MIN_DURATION` lowers it (tests of expiry).
const MIN_DURATION: i64 = 900;
const MAX_DURATION: i64 = 43_200;
const DEFAULT_DURATION: i64 = 3_600;

pub(crate) fn error(request_id: &str, e: IamError) -> Response {
    let body = format!(
        "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        e.code,
        escape(&e.message)
    );
    xml(e.status, body)
}

pub(crate) fn xml(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    r
}

pub(crate) fn invalid(message: impl Into<String>) -> IamError {
    IamError {
        status: StatusCode::BAD_REQUEST,
        code: "ValidationError",
        message: message.into(),
    }
}

pub async fn handle(
    state: &S3State,
    principal: &Principal,
    signer: Option<&str>,
    form: &[(String, String)],
    request_id: &str,
) -> Response {
    match assume_role(state, principal, signer, form, request_id).await {
        Ok(r) => r,
        Err(e) => error(request_id, e),
    }
}

async fn assume_role(
    state: &S3State,
    principal: &Principal,
    signer: Option<&str>,
    form: &[(String, String)],
    request_id: &str,
) -> Result<Response, IamError> {
    let field = |f: &str| form.iter().find(|(k, _)| k == f).map(|(_, v)| v.as_str());
    match field("Action") {
        Some("AssumeRole") => {}
        Some(other) => {
            return Err(IamError {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidAction",
                message: format!("Could not find operation {other} for version 2011-06-15"),
            });
        }
        None => {
            return Err(IamError {
                status: StatusCode::BAD_REQUEST,
                code: "MissingAction",
                message: "Missing Action".into(),
            });
        }
    }
    // Temporary credentials are issued for a long-term identity only.
    let user = match principal {
        Principal::Root => String::new(),
        Principal::User {
            name,
            session: None,
            ..
        } => name.clone(),
        _ => return Err(IamError::access_denied_sts()),
    };
    let duration = duration(state, field("DurationSeconds"))?;
    let session_name = session_name(field("RoleSessionName"))?;
    let policy = session_policy(field("Policy"))?;
    // A root session's limits are the root key's; a user's, the key it signed with.
    let key = issue_session_key(
        state,
        user,
        duration,
        policy,
        session_name.clone(),
        None,
        signer.map(str::to_string),
    )
    .await?;
    let session = key.session.as_ref().expect("just set");
    let account = &state.owner.account_id;
    let role = role_name(field("RoleArn"));
    let body = format!(
        "<AssumeRoleResponse xmlns=\"{NS}\"><AssumeRoleResult><Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>{}:{}</AssumedRoleId><Arn>arn:aws:sts::{account}:assumed-role/{}/{}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleResponse>",
        key.access_key_id,
        escape(&key.secret_key),
        escape(&session.token),
        iso8601(session.expires),
        key.access_key_id,
        escape(&session_name),
        escape(role),
        escape(&session_name),
    );
    Ok(xml(StatusCode::OK, body))
}

/// `DurationSeconds`: 900..=43200 (the lower bound lowered only by the test knob).
pub(crate) fn duration(state: &S3State, value: Option<&str>) -> Result<i64, IamError> {
    let min = state.config.sts_min_duration.unwrap_or(MIN_DURATION);
    match value {
        None => Ok(DEFAULT_DURATION),
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (min..=MAX_DURATION).contains(d))
            .ok_or_else(|| {
                invalid(format!(
                    "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value between {min} and {MAX_DURATION}"
                ))
            }),
    }
}

/// `RoleSessionName`: at most 64 of AWS's `[\w+=,.@-]`; a default when absent.
pub(crate) fn session_name(value: Option<&str>) -> Result<String, IamError> {
    let name = value.filter(|n| !n.is_empty()).unwrap_or("hafiz-session");
    if name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        return Err(invalid(
            "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ));
    }
    Ok(name.to_string())
}

/// `Policy`: a session policy, which must parse as an identity policy.
pub(crate) fn session_policy(value: Option<&str>) -> Result<Option<String>, IamError> {
    match value.filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => {
            crate::access::validate_identity_policy(p).map_err(|m| IamError {
                status: StatusCode::BAD_REQUEST,
                code: "MalformedPolicyDocument",
                message: m,
            })?;
            Ok(Some(p.to_string()))
        }
    }
}

/// The role name in a `RoleArn` (roles are not entities here: only the session's ARN
/// shows it).
pub(crate) fn role_name(arn: Option<&str>) -> &str {
    arn.and_then(|a| a.rsplit('/').next())
        .filter(|r| !r.is_empty())
        .unwrap_or("hafiz")
}

/// Creates and stores temporary credentials.
pub(crate) async fn issue_session_key(
    state: &S3State,
    user: String,
    duration: i64,
    policy: Option<String>,
    name: String,
    web_identity: Option<WebIdentity>,
    parent_key: Option<String>,
) -> Result<AccessKey, IamError> {
    let now = now_millis();
    let key = AccessKey {
        access_key_id: random_id("ASIA", 16),
        secret_key: random_secret(),
        user,
        active: true,
        created: now,
        session: Some(Session {
            token: format!("{}{}", random_secret(), random_secret()),
            expires: now + duration * 1000,
            policy,
            name,
            web_identity,
            parent_key,
        }),
    };
    state
        .meta
        .apply(Command::Iam(IamCommand::CreateSessionKey(key.clone())))
        .await?;
    Ok(key)
}

/// A federated sign-in's proven identity (a web identity token's or a SAML
/// assertion's), before any credentials exist.
pub(crate) struct Federation {
    /// "web identity" or "SAML": for the log.
    pub kind: &'static str,
    pub identity: WebIdentity,
    pub session_name: String,
    pub duration: i64,
    pub policy: Option<String>,
    /// AccessDenied's message when none of the identity's policies exists.
    pub refused: String,
}

/// What AssumeRoleWithWebIdentity and AssumeRoleWithSAML share once the identity is
/// proven: credentials only when one of its policies exists (refused up front, as
/// MinIO does: credentials that can do nothing are a misconfiguration the caller
/// should hear about now), the session key, and the `AssumedRoleUser` and
/// `Credentials` elements of the answer.
pub(crate) async fn federated_session(
    state: &S3State,
    f: Federation,
) -> Result<(String, Principal), IamError> {
    let mut known = false;
    for name in &f.identity.policies {
        if state.meta.iam_policy(name).await?.is_some() {
            known = true;
            break;
        }
    }
    if !known {
        tracing::info!(subject = %f.identity.subject, kind = f.kind, "federated sign-in refused: it names no existing policy");
        return Err(IamError {
            status: StatusCode::FORBIDDEN,
            code: "AccessDenied",
            message: f.refused,
        });
    }
    let key = issue_session_key(
        state,
        String::new(),
        f.duration,
        f.policy,
        f.session_name.clone(),
        Some(f.identity.clone()),
        None,
    )
    .await?;
    let session = key.session.as_ref().expect("a session key");
    tracing::info!(subject = %f.identity.subject, access_key_id = %key.access_key_id, policies = ?f.identity.policies, kind = f.kind, "issued federated credentials");
    let account = &state.owner.account_id;
    let name = escape(&f.session_name);
    let elements = format!(
        "<AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/{}/{name}</Arn><AssumedRoleId>{}:{name}</AssumedRoleId></AssumedRoleUser><Credentials><SessionToken>{}</SessionToken><SecretAccessKey>{}</SecretAccessKey><Expiration>{}</Expiration><AccessKeyId>{}</AccessKeyId></Credentials>",
        escape(&f.identity.role),
        key.access_key_id,
        escape(&session.token),
        escape(&key.secret_key),
        iso8601(session.expires),
        key.access_key_id,
    );
    let principal = Principal::Federated {
        access_key_id: key.access_key_id.clone(),
        session_name: f.session_name,
        identity: f.identity,
        session: SessionGrant { policy: None },
    };
    Ok((elements, principal))
}
