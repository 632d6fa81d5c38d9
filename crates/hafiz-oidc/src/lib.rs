//! OpenID Connect web identities for STS AssumeRoleWithWebIdentity: a JWT from the
//! configured provider is checked (signature against the provider's JWKS, `iss`,
//! `aud`, `exp`, `nbf`) and yields the subject and the managed policies it names.

pub mod jwks;

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

pub use jwks::JwksSource;

/// Clock skew tolerated between the provider and Hafiz for `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 60;

/// Asymmetric algorithms only: an HMAC algorithm would let anyone who knows a public
/// key from the JWKS sign tokens with it as the "secret".
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The token's `iss` must equal it.
    pub issuer: String,
    pub jwks: JwksSource,
    /// When set, the token's `aud` must contain it.
    pub audience: Option<String>,
    /// The claim naming the managed policies of the session (MinIO's `policy`).
    pub policy_claim: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WebIdentityError {
    #[error("No OpenID Connect provider is configured on this server (--oidc-issuer, --oidc-jwks)")]
    NotConfigured,
    #[error("{0}")]
    Invalid(String),
    #[error("Token is expired")]
    Expired,
    /// The JWKS could not be read.
    #[error("{0}")]
    Fetch(String),
    #[error("{0}")]
    Config(String),
}

impl WebIdentityError {
    /// The STS error code AWS answers with.
    pub fn code(&self) -> &'static str {
        match self {
            WebIdentityError::NotConfigured | WebIdentityError::Invalid(_) => {
                "InvalidIdentityToken"
            }
            WebIdentityError::Expired => "ExpiredTokenException",
            WebIdentityError::Fetch(_) => "IDPCommunicationError",
            WebIdentityError::Config(_) => "InternalFailure",
        }
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub subject: String,
    pub issuer: String,
    /// The configured audience when there is one, else the token's first `aud`.
    pub audience: String,
    /// Managed policy names from the policy claim, in order, without duplicates.
    pub policies: Vec<String>,
}

pub struct WebIdentityVerifier {
    config: OidcConfig,
    keys: jwks::KeyStore,
}

impl WebIdentityVerifier {
    pub fn new(config: OidcConfig) -> Result<WebIdentityVerifier, WebIdentityError> {
        if config.issuer.is_empty() {
            return Err(WebIdentityError::Config("the OIDC issuer is empty".into()));
        }
        Ok(WebIdentityVerifier {
            keys: jwks::KeyStore::new(config.jwks.clone())?,
            config,
        })
    }

    #[cfg(test)]
    pub(crate) fn set_refresh_interval(&mut self, interval: std::time::Duration) {
        self.keys.set_refresh_interval(interval);
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Reads the keys now (at startup); returns how many there are.
    pub async fn load_keys(&self) -> Result<usize, WebIdentityError> {
        self.keys.load().await
    }

    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, WebIdentityError> {
        let invalid = |m: &str| WebIdentityError::Invalid(m.to_string());
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("The web identity token is not a well-formed JWT"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(invalid(
                "The web identity token is signed with an unsupported algorithm",
            ));
        }
        let keys = self.keys.keys_for(header.kid.as_deref()).await?;
        let candidates: Vec<DecodingKey> = keys
            .keys
            .iter()
            .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
            .filter_map(|k| usable_key(k, header.alg))
            .collect();
        if candidates.is_empty() {
            return Err(invalid(
                "No key of the identity provider matches the web identity token's key id and algorithm",
            ));
        }
        let validation = self.validation(header.alg);
        let mut last = invalid("Invalid signature");
        for key in &candidates {
            match jsonwebtoken::decode::<serde_json::Value>(token, key, &validation) {
                Ok(data) => return Ok(self.read_claims(&data.claims)),
                Err(e) => {
                    last = map_error(&e);
                    // Another key of the same id-less set may have signed it.
                    if !matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECONDS;
        v.validate_nbf = true;
        v.set_issuer(&[&self.config.issuer]);
        // `sub` is what `aws:userid` becomes: a token without one identifies no one.
        let mut required = vec!["exp", "iss", "sub"];
        match &self.config.audience {
            Some(aud) => {
                v.set_audience(&[aud]);
                required.push("aud");
            }
            None => v.validate_aud = false,
        }
        v.set_required_spec_claims(&required);
        v
    }

    fn read_claims(&self, claims: &serde_json::Value) -> VerifiedToken {
        let string = |name: &str| claims.get(name).and_then(|v| v.as_str()).unwrap_or("");
        let audience = match &self.config.audience {
            Some(a) => a.clone(),
            None => match claims.get("aud") {
                Some(serde_json::Value::String(a)) => a.clone(),
                Some(serde_json::Value::Array(a)) => {
                    a.first().and_then(|v| v.as_str()).unwrap_or("").to_string()
                }
                _ => String::new(),
            },
        };
        VerifiedToken {
            subject: string("sub").to_string(),
            issuer: string("iss").to_string(),
            audience,
            policies: policy_names(claims.get(&self.config.policy_claim)),
        }
    }
}

/// A JWKS key that may verify a token signed with `alg`: a signing key of the same
/// family, and of the same algorithm when the key names one.
fn usable_key(k: &Jwk, alg: Algorithm) -> Option<DecodingKey> {
    if matches!(&k.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    if let Some(key_alg) = k.common.key_algorithm
        && key_alg != KeyAlgorithm::from(alg)
    {
        return None;
    }
    let key = DecodingKey::from_jwk(k).ok()?;
    (key.family() == alg.family()).then_some(key)
}

fn map_error(e: &jsonwebtoken::errors::Error) -> WebIdentityError {
    use jsonwebtoken::errors::ErrorKind as K;
    let m = |s: &str| WebIdentityError::Invalid(s.to_string());
    match e.kind() {
        K::ExpiredSignature => WebIdentityError::Expired,
        K::ImmatureSignature => m("The web identity token is not valid yet (nbf)"),
        K::InvalidIssuer => m("Incorrect token issuer (iss)"),
        K::InvalidAudience => m("Incorrect token audience (aud)"),
        K::MissingRequiredClaim(c) => {
            WebIdentityError::Invalid(format!("The web identity token has no {c} claim"))
        }
        K::InvalidSignature => m("Invalid signature"),
        _ => m("The web identity token is not a valid JWT"),
    }
}

/// The policy claim: `"a,b"` or `["a", "b"]`.
fn policy_names(claim: Option<&serde_json::Value>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        for n in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
    };
    match claim {
        Some(serde_json::Value::String(s)) => add(s),
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).for_each(add),
        _ => {}
    }
    names
}

#[cfg(test)]
mod tests;
