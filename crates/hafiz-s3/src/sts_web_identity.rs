//! STS AssumeRoleWithWebIdentity: an unsigned request whose credential is a JWT from
//! the configured OpenID Connect provider. The session acts with the managed policies
//! the token's policy claim names (as MinIO does), narrowed by an optional session
//! policy; roles are not entities here, so `RoleArn` only names the session.

use axum::response::Response;
use hafiz_meta::iam::WebIdentity;
use http::StatusCode;
use quick_xml::escape::escape;

use crate::access::Principal;
use crate::iam_api::IamError;
use crate::server::S3State;
use crate::sts_api::{
    Federation, NS, duration, federated_session, invalid, role_name, session_name, xml,
};
use hafiz_oidc::WebIdentityError;

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
    let role = role_name(field("RoleArn")).to_string();
    let claim = verifier.config().policy_claim.clone();
    let refused = format!(
        "The web identity token's '{claim}' claim names no existing managed policy (no policy)"
    );
    let (elements, principal) = federated_session(
        state,
        Federation {
            kind: "web identity",
            identity: WebIdentity {
                subject: verified.subject.clone(),
                issuer: verified.issuer.clone(),
                role,
                policies: verified.policies.clone(),
            },
            session_name,
            duration,
            policy,
            refused,
        },
    )
    .await?;
    let body = format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{NS}\"><AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken><Audience>{}</Audience>{elements}<Provider>{}</Provider></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>",
        escape(&verified.subject),
        escape(&verified.audience),
        escape(&verified.issuer),
    );
    Ok((xml(StatusCode::OK, body), principal))
}
