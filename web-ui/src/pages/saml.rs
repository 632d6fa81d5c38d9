//! Single sign-on by SAML 2.0: the console as a service provider. It publishes its
//! metadata, sends an AuthnRequest to the IdP (HTTP-POST binding), and takes the
//! signed Response at its assertion consumer service: checked here (signature,
//! audience, recipient, times, and InResponseTo against the request it sent), then
//! handed to STS AssumeRoleWithSAML in process, which checks it again, refuses a
//! replay, and maps the policy attribute to the session's policies.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use leptos::prelude::*;
use rand::RngCore;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Notice, shell};
use crate::backend::{Api, Keys, enc};
use crate::error::ConsoleError;
use crate::{Console, Peer};

const PENDING_TTL: Duration = Duration::from_secs(600);

/// The console as a SAML service provider.
#[derive(Debug, Clone)]
pub struct SamlSp {
    /// The IdP's single sign-on URL (HTTP-POST binding).
    pub idp_url: String,
    /// The IdP's signing certificate (PEM).
    pub idp_cert_pem: String,
    /// The IdP's entity id, when the Issuer must be checked.
    pub idp_issuer: Option<String>,
    /// The console's entity id (the Audience) and assertion consumer service URL.
    pub entity_id: String,
    pub acs_url: String,
}

struct Pending {
    request_id: String,
    next: String,
    created: Instant,
}

/// Sign-ins under way, by RelayState (each good once, for ten minutes).
#[derive(Default)]
pub struct SamlState {
    pending: Mutex<HashMap<String, Pending>>,
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

pub async fn metadata(State(c): State<Console>) -> Response {
    let Some(sp) = c.opts.saml.as_ref() else {
        return super::not_found().await;
    };
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{}"><md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{}" index="0" isDefault="true"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
        xml_attr(&sp.entity_id),
        xml_attr(&sp.acs_url)
    );
    (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        xml,
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Sends the browser to the IdP with an AuthnRequest: a form the console's script
/// submits at once (a button without it).
pub async fn login(State(c): State<Console>, Query(q): Query<LoginQuery>) -> Response {
    let Some(sp) = c.opts.saml.as_ref() else {
        return super::error_page(
            None,
            &ConsoleError::BadInput("SAML sign-in is not configured".into()),
        );
    };
    let request_id = format!("_{}", random_hex(20));
    let relay = random_hex(20);
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let request = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{request_id}" Version="2.0" IssueInstant="{now}" Destination="{}" AssertionConsumerServiceURL="{}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>{}</saml:Issuer></samlp:AuthnRequest>"#,
        xml_attr(&sp.idp_url),
        xml_attr(&sp.acs_url),
        xml_attr(&sp.entity_id)
    );
    {
        let mut p = c.saml.pending.lock().expect("lock");
        p.retain(|_, v| v.created.elapsed() < PENDING_TTL);
        p.insert(
            relay.clone(),
            Pending {
                request_id,
                next: super::signin::safe_next(q.next.as_deref()),
                created: Instant::now(),
            },
        );
    }
    let body = view! {
        <h1>"Signing in"</h1>
        <form method="post" action=sp.idp_url.clone() class="autosubmit" id="saml-request">
            <input type="hidden" name="SAMLRequest" value=STANDARD.encode(request)/>
            <input type="hidden" name="RelayState" value=relay/>
            <button type="submit">"Continue to the identity provider"</button>
        </form>
    }
    .into_any();
    let mut resp = shell("Signing in", None, Notice::None, body).into_response();
    // This one form goes to the IdP: the policy allows its origin as a form target.
    let origin = sp.idp_url.split('/').take(3).collect::<Vec<_>>().join("/");
    let csp = crate::security::CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState", default)]
    relay_state: String,
}

/// The IdP posts the signed Response here.
pub async fn acs(
    State(c): State<Console>,
    Peer(peer): Peer,
    form: Result<Form<AcsForm>, FormRejection>,
) -> Response {
    let Some(sp) = c.opts.saml.as_ref() else {
        return super::error_page(
            None,
            &ConsoleError::BadInput("SAML sign-in is not configured".into()),
        );
    };
    let refused = |m: String| ConsoleError::Api {
        status: 400,
        code: "InvalidSamlResponse".into(),
        message: m,
    };
    let done = async {
        let Ok(Form(f)) = form else {
            return Err(refused("no SAMLResponse".into()));
        };
        let pending = c
            .saml
            .pending
            .lock()
            .expect("lock")
            .remove(&f.relay_state)
            .filter(|p| p.created.elapsed() < PENDING_TTL)
            .ok_or_else(|| refused("unknown or used sign-in state: start again".into()))?;
        let exp = hafiz_saml::Expectations {
            idp_cert_pem: &sp.idp_cert_pem,
            issuer: sp.idp_issuer.as_deref(),
            audience: &sp.entity_id,
            recipient: &sp.acs_url,
            in_response_to: Some(&pending.request_id),
            now: OffsetDateTime::now_utc(),
            clock_skew: Duration::from_secs(120),
        };
        let assertion = hafiz_saml::verify_response(&f.saml_response, &exp)
            .map_err(|e| refused(format!("the SAML response is not valid: {e}")))?;
        let body = format!(
            "Action=AssumeRoleWithSAML&Version=2011-06-15&RoleArn={}&PrincipalArn={}&DurationSeconds=3600&SAMLAssertion={}",
            enc("arn:aws:iam::000000000000:role/hafiz-console"),
            enc("arn:aws:iam::000000000000:saml-provider/hafiz"),
            enc(&f.saml_response)
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        let (_, xml) = c.backend.unsigned(Api::S3, peer, Method::POST, "/", headers, Bytes::from(body)).await?;
        let creds = crate::s3xml::saml_credentials(&xml).map_err(ConsoleError::internal)?;
        let keys = Keys { access_key: creds.access_key_id, secret_key: creds.secret_access_key, session_token: Some(creds.session_token) };
        Ok::<_, ConsoleError>((keys, format!("saml:{}", assertion.name_id), pending.next))
    }
    .await;
    match done {
        Ok((keys, who, next)) => {
            let ttl = Duration::from_secs(3600).min(c.opts.session_ttl);
            let s = c.sessions.create(keys, who.clone(), ttl);
            tracing::info!(%who, %peer, "console sign-in by SAML");
            landing(&s.id, ttl, c.opts.tls, &next)
        }
        Err(e) => super::redirect_with("/signin", Err(e)),
    }
}

/// The answer that sets a new session's cookie after a cross-site step (the IdP's
/// POST or redirect): a page of this origin that moves on by itself, because a
/// SameSite=Strict cookie is not sent on a redirect that a cross-site request began.
pub fn landing(id: &str, ttl: Duration, tls: bool, next: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={0}\"><title>Signed in · Hafiz</title></head><body><p><a href=\"{0}\">Continue</a></p></body></html>",
        xml_attr(next)
    );
    (
        [(
            header::SET_COOKIE,
            crate::session::set_cookie(id, Some(ttl), tls),
        )],
        Html(page),
    )
        .into_response()
}
