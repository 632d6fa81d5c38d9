//! Single sign-on by OpenID Connect: the authorization-code flow with PKCE against
//! the provider the server already trusts for STS (`--oidc-issuer`). The console
//! trades the code for an ID token, then hands the token to STS
//! AssumeRoleWithWebIdentity, in process: the server's own verifier checks its
//! signature, issuer, audience and expiry, and the token's policy claim names the
//! session's policies, exactly as for an SDK user. The session signs with the
//! temporary credentials STS returns.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::backend::{Api, Keys, enc};
use crate::error::{ConsoleError, ConsoleResult};
use crate::{Console, Peer};

/// How long a sign-in may take at the provider.
const PENDING_TTL: Duration = Duration::from_secs(600);

/// The console as an OIDC client.
#[derive(Debug, Clone)]
pub struct OidcClient {
    /// The provider (`--oidc-issuer`): its discovery document is read from here.
    pub issuer: String,
    pub client_id: String,
    /// For confidential clients; PKCE is used either way.
    pub client_secret: Option<String>,
    /// The console's public URL (for the redirect URI); else the request's Host.
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    authorization_endpoint: String,
    token_endpoint: String,
}

struct Pending {
    verifier: String,
    nonce: String,
    next: String,
    redirect_uri: String,
    created: Instant,
}

/// The SSO state of a console: the provider's endpoints once read, and the
/// sign-ins under way (each `state` is good once, for ten minutes).
pub struct Sso {
    pub client: OidcClient,
    http: reqwest::Client,
    discovery: tokio::sync::Mutex<Option<Discovery>>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Sso {
    pub fn new(client: OidcClient) -> ConsoleResult<Sso> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(ConsoleError::internal)?;
        Ok(Sso {
            client,
            http,
            discovery: Default::default(),
            pending: Default::default(),
        })
    }

    async fn discovery(&self) -> ConsoleResult<Discovery> {
        let mut cached = self.discovery.lock().await;
        if let Some(d) = cached.as_ref() {
            return Ok(d.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.client.issuer.trim_end_matches('/')
        );
        let body = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| sso_error(format!("cannot read {url}: {e}")))?
            .bytes()
            .await
            .map_err(|e| sso_error(format!("{url}: {e}")))?;
        let d: Discovery =
            serde_json::from_slice(&body).map_err(|e| sso_error(format!("{url}: {e}")))?;
        *cached = Some(d.clone());
        Ok(d)
    }
}

fn sso_error(message: String) -> ConsoleError {
    ConsoleError::Api {
        status: 502,
        code: "SsoProviderError".into(),
        message,
    }
}

fn refused(message: impl Into<String>) -> ConsoleError {
    ConsoleError::Api {
        status: 400,
        code: "InvalidSsoResponse".into(),
        message: message.into(),
    }
}

fn random(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn redirect_uri(c: &OidcClient, headers: &HeaderMap, tls: bool) -> String {
    let base = match &c.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            format!("{}://{host}", if tls { "https" } else { "http" })
        }
    };
    format!("{base}/sso/callback")
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Starts a sign-in: a fresh state, nonce and PKCE verifier, then off to the provider.
pub async fn login(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let Some(sso) = c.sso.as_ref() else {
        return super::error_page(
            None,
            &ConsoleError::BadInput("single sign-on is not configured".into()),
        );
    };
    let d = match sso.discovery().await {
        Ok(d) => d,
        Err(e) => return super::error_page(None, &e),
    };
    let (state, nonce, verifier) = (random(24), random(24), random(48));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let redirect = redirect_uri(&sso.client, &headers, c.opts.tls);
    let url = format!(
        "{}{}{}",
        d.authorization_endpoint,
        if d.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        },
        form_encode(&[
            ("response_type", "code"),
            ("client_id", &sso.client.client_id),
            ("redirect_uri", &redirect),
            ("scope", "openid profile email"),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    {
        let mut p = sso.pending.lock().expect("lock");
        p.retain(|_, v| v.created.elapsed() < PENDING_TTL);
        p.insert(
            state,
            Pending {
                verifier,
                nonce,
                next: super::signin::safe_next(q.next.as_deref()),
                redirect_uri: redirect,
                created: Instant::now(),
            },
        );
    }
    Redirect::to(&url).into_response()
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The claims of a JWT's payload, unverified: only to compare the nonce and name the
/// user. The token's signature and the rest are checked by STS.
fn claims(token: &str) -> ConsoleResult<serde_json::Value> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| refused("the ID token is not a JWT"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| refused("the ID token is not a JWT"))?;
    serde_json::from_slice(&bytes).map_err(|_| refused("the ID token is not a JWT"))
}

/// The provider sends the browser back here with a code.
pub async fn callback(
    State(c): State<Console>,
    Peer(peer): Peer,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(sso) = c.sso.as_ref() else {
        return super::error_page(
            None,
            &ConsoleError::BadInput("single sign-on is not configured".into()),
        );
    };
    match finish(&c, sso, peer, q).await {
        Ok((keys, who, next, ttl)) => {
            let s = c.sessions.create(keys, who.clone(), ttl);
            tracing::info!(%who, %peer, "console sign-in by SSO");
            super::saml::landing(&s.id, ttl, c.opts.tls, &next)
        }
        Err(e) => super::redirect_with("/signin", Err(e)),
    }
}

async fn finish(
    c: &Console,
    sso: &Sso,
    peer: std::net::SocketAddr,
    q: CallbackQuery,
) -> ConsoleResult<(Keys, String, String, Duration)> {
    if let Some(e) = q.error {
        return Err(refused(format!(
            "the provider refused: {e} {}",
            q.error_description.unwrap_or_default()
        )));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return Err(refused("the provider's answer has no code or state"));
    };
    // Each state is good once: a replayed or forged callback finds nothing.
    let pending = sso
        .pending
        .lock()
        .expect("lock")
        .remove(&state)
        .filter(|p| p.created.elapsed() < PENDING_TTL)
        .ok_or_else(|| refused("unknown or used sign-in state: start again"))?;
    let d = sso.discovery().await?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", pending.redirect_uri.as_str()),
        ("client_id", sso.client.client_id.as_str()),
        ("code_verifier", pending.verifier.as_str()),
    ];
    if let Some(secret) = &sso.client.client_secret {
        form.push(("client_secret", secret));
    }
    let body = sso
        .http
        .post(&d.token_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form_encode(&form))
        .send()
        .await
        .map_err(|e| sso_error(format!("token endpoint: {e}")))?
        .bytes()
        .await
        .map_err(|e| sso_error(format!("token endpoint: {e}")))?;
    let answer: TokenAnswer =
        serde_json::from_slice(&body).map_err(|e| sso_error(format!("token endpoint: {e}")))?;
    let token = match (answer.id_token, answer.error) {
        (Some(t), None) => t,
        (_, e) => {
            return Err(refused(format!(
                "the token endpoint refused: {} {}",
                e.unwrap_or_else(|| "no id_token".into()),
                answer.error_description.unwrap_or_default()
            )));
        }
    };
    let claims = claims(&token)?;
    if claims["nonce"].as_str() != Some(pending.nonce.as_str()) {
        return Err(refused("the ID token's nonce is not this sign-in's"));
    }
    let who = claims["preferred_username"]
        .as_str()
        .or(claims["email"].as_str())
        .or(claims["sub"].as_str())
        .unwrap_or("sso")
        .to_string();
    let session_name: String = who
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || "=,.@-_".contains(ch) {
                ch
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let body = form_encode(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::000000000000:role/hafiz-console"),
        (
            "RoleSessionName",
            if session_name.len() >= 2 {
                &session_name
            } else {
                "console"
            },
        ),
        ("DurationSeconds", "3600"),
        ("WebIdentityToken", &token),
    ]);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let (_, xml) = c
        .backend
        .unsigned(Api::S3, peer, Method::POST, "/", headers, Bytes::from(body))
        .await?;
    let creds = crate::s3xml::sts_credentials(&xml).map_err(ConsoleError::internal)?;
    let keys = Keys {
        access_key: creds.access_key_id,
        secret_key: creds.secret_access_key,
        session_token: Some(creds.session_token),
    };
    // The session ends with its credentials.
    let ttl = Duration::from_secs(3600).min(c.opts.session_ttl);
    Ok((keys, format!("sso:{who}"), pending.next, ttl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u1","nonce":"n"}"#);
        let c = claims(&format!("h.{payload}.s")).unwrap();
        assert_eq!(c["nonce"], "n");
        assert!(claims("not-a-jwt").is_err());
    }

    #[test]
    fn the_redirect_uri_follows_the_public_url_or_the_host() {
        let mut client = OidcClient {
            issuer: "http://idp".into(),
            client_id: "c".into(),
            client_secret: None,
            public_url: None,
        };
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:9002".parse().unwrap());
        assert_eq!(
            redirect_uri(&client, &h, false),
            "http://127.0.0.1:9002/sso/callback"
        );
        client.public_url = Some("https://console.example/".into());
        assert_eq!(
            redirect_uri(&client, &h, false),
            "https://console.example/sso/callback"
        );
    }
}
