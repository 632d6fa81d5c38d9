//! STS AssumeRoleWithWebIdentity: an unsigned request whose credential is a JWT from
//! the configured OpenID Connect provider. The session acts with the managed policies
//! the token's policy claim names (as MinIO does), narrowed by an optional session
//! policy; roles are not entities here, so `RoleArn` only names the session.

use axum::response::Response;
use hafiz_meta::iam::WebIdentity;
use http::StatusCode;
use quick_xml::escape::escape;

use crate::access::{Principal, SessionGrant};
use crate::iam_api::IamError;
use crate::oidc::WebIdentityError;
use crate::server::S3State;
use crate::sts_api::{NS, duration, invalid, issue_session_key, role_name, session_name, xml};
use crate::timefmt::iso8601;

pub const ACTION: &str = "AssumeRoleWithWebIdentity";

/// AWS's bounds on `WebIdentityToken`.
const TOKEN_LENGTH: std::ops::RangeInclusive<usize> = 4..=20_000;

impl From<WebIdentityError> for IamError {
    fn from(e: WebIdentityError) -> IamError {
        let status = match e {
            WebIdentityError::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        IamError {
            status,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// The response, and the principal the new credentials stand for (for the audit log).
pub async fn assume(
    state: &S3State,
    form: &[(String, String)],
    request_id: &str,
) -> Result<(Response, Principal), IamError> {
    let field = |f: &str| form.iter().find(|(k, _)| k == f).map(|(_, v)| v.as_str());
    let verifier = state
        .web_identity
        .as_ref()
        .ok_or(WebIdentityError::NotConfigured)?;
    let token = field("WebIdentityToken").ok_or_else(|| {
        invalid("1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null")
    })?;
    if !TOKEN_LENGTH.contains(&token.len()) {
        return Err(invalid(format!(
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between {} and {}",
            TOKEN_LENGTH.start(),
            TOKEN_LENGTH.end()
        )));
    }
    let duration = duration(state, field("DurationSeconds"))?;
    let session_name = session_name(field("RoleSessionName"))?;
    let policy = crate::sts_api::session_policy(field("Policy"))?;
    let verified = verifier.verify(token).await?;
    // Refused up front, as MinIO does: credentials that can do nothing are a
    // misconfiguration the caller should hear about now.
    let mut known = false;
    for name in &verified.policies {
        if state.meta.iam_policy(name).await?.is_some() {
            known = true;
            break;
        }
    }
    if !known {
        tracing::info!(subject = %verified.subject, claim = %verifier.config().policy_claim, "web identity refused: its token names no existing policy");
        return Err(IamError {
            status: StatusCode::FORBIDDEN,
            code: "AccessDenied",
            message: format!(
                "The web identity token's '{}' claim names no existing managed policy (no policy)",
                verifier.config().policy_claim
            ),
        });
    }
    let role = role_name(field("RoleArn")).to_string();
    let identity = WebIdentity {
        subject: verified.subject.clone(),
        issuer: verified.issuer.clone(),
        role: role.clone(),
        policies: verified.policies.clone(),
    };
    let key = issue_session_key(
        state,
        String::new(),
        duration,
        policy,
        session_name.clone(),
        Some(identity.clone()),
        None,
    )
    .await?;
    let session = key.session.as_ref().expect("a session key");
    tracing::info!(subject = %verified.subject, access_key_id = %key.access_key_id, policies = ?verified.policies, "issued web identity credentials");
    let account = &state.owner.account_id;
    let body = format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{NS}\"><AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken><Audience>{}</Audience><AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/{}/{}</Arn><AssumedRoleId>{}:{}</AssumedRoleId></AssumedRoleUser><Credentials><SessionToken>{}</SessionToken><SecretAccessKey>{}</SecretAccessKey><Expiration>{}</Expiration><AccessKeyId>{}</AccessKeyId></Credentials><Provider>{}</Provider></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>",
        escape(&verified.subject),
        escape(&verified.audience),
        escape(&role),
        escape(&session_name),
        key.access_key_id,
        escape(&session_name),
        escape(&session.token),
        escape(&key.secret_key),
        iso8601(session.expires),
        key.access_key_id,
        escape(&verified.issuer),
    );
    let principal = Principal::Federated {
        access_key_id: key.access_key_id.clone(),
        session_name,
        identity,
        session: SessionGrant { policy: None },
    };
    Ok((xml(StatusCode::OK, body), principal))
}
