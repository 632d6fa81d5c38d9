//! STS AssumeRoleWithSAML: an unsigned request whose credential is a SAML 2.0
//! Response signed by the configured identity provider (`--saml-idp-cert`). The
//! session acts with the managed policies the assertion's policy attribute names (as
//! AssumeRoleWithWebIdentity does with its claim); roles are not entities here, so
//! `RoleArn` and `PrincipalArn` only name the session. Every assertion is accepted
//! once: its id is remembered until it expires.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::response::Response;
use hafiz_meta::iam::WebIdentity;
use hafiz_saml::{Expectations, SamlError};
use http::StatusCode;
use quick_xml::escape::escape;
use time::OffsetDateTime;

use crate::access::Principal;
use crate::iam_api::IamError;
use crate::server::S3State;
use crate::sts_api::{
    Federation, NS, duration, federated_session, invalid, role_name, session_name, xml,
};

pub const ACTION: &str = "AssumeRoleWithSAML";

/// AWS's recipient for assertions meant for STS.
pub const AWS_RECIPIENT: &str = "https://signin.aws.amazon.com/saml";

/// Clock difference tolerated between the IdP and this server.
const SKEW: std::time::Duration = std::time::Duration::from_secs(120);

/// The identity provider the server trusts for SAML.
#[derive(Debug)]
pub struct SamlConfig {
    /// The IdP's signing certificate (PEM).
    pub idp_cert_pem: String,
    /// The IdP's entity id, when the Issuer must be checked.
    pub issuer: Option<String>,
    /// This service provider's entity id: every AudienceRestriction must name it.
    pub audience: String,
    /// Where assertions may be addressed (SubjectConfirmationData Recipient):
    /// AWS's STS URL and the console's assertion consumer service.
    pub recipients: Vec<String>,
    /// The attribute naming the session's managed policies (values, or
    /// comma-separated names in one value).
    pub policy_attribute: String,
    /// Assertion ids seen, until they expire (replay protection).
    seen: Mutex<HashMap<String, OffsetDateTime>>,
}

impl SamlConfig {
    pub fn new(
        idp_cert_pem: String,
        issuer: Option<String>,
        audience: String,
        recipients: Vec<String>,
        policy_attribute: String,
    ) -> SamlConfig {
        SamlConfig {
            idp_cert_pem,
            issuer,
            audience,
            recipients,
            policy_attribute,
            seen: Default::default(),
        }
    }

    /// Verifies a base64 SAML Response for one of the recipients.
    pub fn verify(
        &self,
        response: &str,
        in_response_to: Option<&str>,
    ) -> Result<hafiz_saml::Assertion, SamlError> {
        let now = OffsetDateTime::now_utc();
        let mut last = SamlError::InvalidExpectations("no recipient configured".into());
        for recipient in &self.recipients {
            let exp = Expectations {
                idp_cert_pem: &self.idp_cert_pem,
                issuer: self.issuer.as_deref(),
                audience: &self.audience,
                recipient,
                in_response_to,
                now,
                clock_skew: SKEW,
            };
            match hafiz_saml::verify_response(response, &exp) {
                Ok(a) => return Ok(a),
                // Another recipient may match; any other failure is final.
                Err(
                    e @ (SamlError::SubjectConfirmation(_) | SamlError::DestinationMismatch(_)),
                ) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Records an assertion as used; false when it was used before.
    pub fn first_use(&self, a: &hafiz_saml::Assertion) -> bool {
        let now = OffsetDateTime::now_utc();
        let mut seen = self.seen.lock().expect("lock");
        seen.retain(|_, until| *until + SKEW > now);
        match seen.entry(a.id.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(a.not_on_or_after);
                true
            }
        }
    }

    /// The managed policy names the assertion's attribute carries.
    pub fn policies(&self, a: &hafiz_saml::Assertion) -> Vec<String> {
        a.attributes
            .get(&self.policy_attribute)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

fn refused(e: SamlError) -> IamError {
    let (status, code) = match e {
        SamlError::Expired => (StatusCode::BAD_REQUEST, "ExpiredTokenException"),
        _ => (StatusCode::BAD_REQUEST, "InvalidIdentityToken"),
    };
    IamError {
        status,
        code,
        message: format!("The SAML assertion is not valid: {e}"),
    }
}

/// The response, and the principal the new credentials stand for (for the audit log).
pub async fn assume(
    state: &S3State,
    form: &[(String, String)],
    request_id: &str,
) -> Result<(Response, Principal), IamError> {
    let field = |f: &str| form.iter().find(|(k, _)| k == f).map(|(_, v)| v.as_str());
    let saml = state.saml.as_ref().ok_or_else(|| IamError {
        status: StatusCode::BAD_REQUEST,
        code: "InvalidIdentityToken",
        message: "No SAML identity provider is configured on this server (--saml-idp-cert)".into(),
    })?;
    let assertion_b64 = field("SAMLAssertion").ok_or_else(|| {
        invalid("1 validation error detected: Value null at 'sAMLAssertion' failed to satisfy constraint: Member must not be null")
    })?;
    let duration = duration(state, field("DurationSeconds"))?;
    let policy = crate::sts_api::session_policy(field("Policy"))?;
    let assertion = saml.verify(assertion_b64, None).map_err(refused)?;
    if !saml.first_use(&assertion) {
        return Err(IamError {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidIdentityToken",
            message: "The SAML assertion has been used already".into(),
        });
    }
    let role = role_name(field("RoleArn")).to_string();
    // AWS names the session after the RoleSessionName attribute; the subject will do.
    let sanitized: String = assertion
        .name_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "=,.@-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let session_name = session_name(Some(&sanitized))?;
    let attribute = saml.policy_attribute.clone();
    let refused =
        format!("The SAML assertion's '{attribute}' attribute names no existing managed policy");
    let (elements, principal) = federated_session(
        state,
        Federation {
            kind: "SAML",
            identity: WebIdentity {
                subject: assertion.name_id.clone(),
                issuer: assertion.issuer.clone(),
                role,
                policies: saml.policies(&assertion),
            },
            session_name,
            duration,
            policy,
            refused,
        },
    )
    .await?;
    let body = format!(
        "<AssumeRoleWithSAMLResponse xmlns=\"{NS}\"><AssumeRoleWithSAMLResult><Issuer>{}</Issuer><Audience>{}</Audience>{elements}<Subject>{}</Subject><SubjectType>persistent</SubjectType><NameQualifier>{}</NameQualifier></AssumeRoleWithSAMLResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleWithSAMLResponse>",
        escape(&assertion.issuer),
        escape(&saml.audience),
        escape(&assertion.name_id),
        escape(&assertion.issuer),
    );
    Ok((xml(StatusCode::OK, body), principal))
}
