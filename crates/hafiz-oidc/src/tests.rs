use std::sync::OnceLock;

use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::*;

const ISSUER: &str = "https://idp.example.test/realms/hafiz";
const AUDIENCE: &str = "hafiz-client";

struct Keys {
    rsa: EncodingKey,
    /// Another RSA key the provider does not publish.
    rogue: EncodingKey,
    ec: EncodingKey,
    jwks: JwkSet,
}

fn rsa_key() -> EncodingKey {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("rsa key");
    EncodingKey::from_rsa_der(key.to_pkcs1_der().expect("der").as_bytes())
}

fn ec_key() -> EncodingKey {
    use p256::pkcs8::EncodePrivateKey;
    let key = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    EncodingKey::from_ec_der(key.to_pkcs8_der().expect("der").as_bytes())
}

fn public(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).expect("jwk");
    jwk.common.key_id = Some(kid.to_string());
    jwk
}

/// Generated once per test run: RSA key generation is slow in debug builds.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = rsa_key();
        let ec = ec_key();
        let jwks = JwkSet {
            keys: vec![
                public(&rsa, Algorithm::RS256, "rsa-1"),
                public(&ec, Algorithm::ES256, "ec-1"),
            ],
        };
        Keys {
            rsa,
            rogue: rsa_key(),
            ec,
            jwks,
        }
    })
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn claims() -> serde_json::Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice-subject",
        "exp": now() + 600,
        "iat": now(),
        "policy": "readonly, audit",
    })
}

fn sign(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &serde_json::Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

struct Fixture {
    verifier: WebIdentityVerifier,
    _dir: tempfile::TempDir,
}

async fn verifier(audience: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, serde_json::to_vec(&keys().jwks).unwrap()).unwrap();
    let verifier = WebIdentityVerifier::new(OidcConfig {
        issuer: ISSUER.into(),
        jwks: JwksSource::File(path),
        audience: audience.map(str::to_string),
        policy_claim: "policy".into(),
    })
    .unwrap();
    assert_eq!(verifier.load_keys().await.unwrap(), 2);
    Fixture {
        verifier,
        _dir: dir,
    }
}

async fn verify(token: &str) -> Result<VerifiedToken, WebIdentityError> {
    verifier(Some(AUDIENCE)).await.verifier.verify(token).await
}

fn assert_invalid(r: Result<VerifiedToken, WebIdentityError>) {
    match r {
        Err(e @ WebIdentityError::Invalid(_)) => assert_eq!(e.code(), "InvalidIdentityToken"),
        other => panic!("expected InvalidIdentityToken, got {other:?}"),
    }
}

#[tokio::test]
async fn good_rs256_and_es256_tokens_pass() {
    let k = keys();
    let rs = verify(&sign(Algorithm::RS256, "rsa-1", &k.rsa, &claims()))
        .await
        .unwrap();
    assert_eq!(
        rs,
        VerifiedToken {
            subject: "alice-subject".into(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            policies: vec!["readonly".into(), "audit".into()],
        }
    );
    let mut c = claims();
    c["policy"] = json!(["a", "b,c", "a"]);
    c["aud"] = json!(["other", AUDIENCE]);
    let es = verify(&sign(Algorithm::ES256, "ec-1", &k.ec, &c))
        .await
        .unwrap();
    assert_eq!(es.policies, ["a", "b", "c"]);
    assert_eq!(es.audience, AUDIENCE);
}

#[tokio::test]
async fn a_token_without_kid_is_checked_against_keys_of_its_family() {
    let k = keys();
    let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims(), &k.ec).unwrap();
    assert_eq!(verify(&token).await.unwrap().subject, "alice-subject");
}

#[tokio::test]
async fn a_key_the_provider_does_not_publish_is_refused() {
    let k = keys();
    assert_invalid(verify(&sign(Algorithm::RS256, "rsa-1", &k.rogue, &claims())).await);
}

#[tokio::test]
async fn wrong_issuer_or_audience_is_refused() {
    let k = keys();
    let mut c = claims();
    c["iss"] = json!("https://evil.example.test");
    assert_invalid(verify(&sign(Algorithm::RS256, "rsa-1", &k.rsa, &c)).await);
    let mut c = claims();
    c["aud"] = json!("someone-else");
    assert_invalid(verify(&sign(Algorithm::RS256, "rsa-1", &k.rsa, &c)).await);
    // With an audience configured the claim is required.
    let mut c = claims();
    c.as_object_mut().unwrap().remove("aud");
    assert_invalid(verify(&sign(Algorithm::RS256, "rsa-1", &k.rsa, &c)).await);
    // Without one, any audience is accepted.
    let f = verifier(None).await;
    let mut c = claims();
    c["aud"] = json!("someone-else");
    let ok = f
        .verifier
        .verify(&sign(Algorithm::RS256, "rsa-1", &k.rsa, &c))
        .await
        .unwrap();
    assert_eq!(ok.audience, "someone-else");
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let k = keys();
    let mut c = claims();
    c["exp"] = json!(now() - 3600);
    let e = verify(&sign(Algorithm::RS256, "rsa-1", &k.rsa, &c))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ExpiredTokenException");
    let mut c = claims();
    c["nbf"] = json!(now() + 3600);
    assert_invalid(verify(&sign(Algorithm::RS256, "rsa-1", &k.rsa, &c)).await);
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_invalid(verify(&sign(Algorithm::RS256, "rsa-1", &k.rsa, &c)).await);
}

#[tokio::test]
async fn alg_none_is_refused() {
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    };
    let token = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"})),
        b64(claims())
    );
    assert_invalid(verify(&token).await);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    // The classic confusion: the public key (public knowledge) used as an HMAC secret.
    let jwk = &keys().jwks.keys[0];
    let secret = serde_json::to_vec(jwk).unwrap();
    let token = sign(
        Algorithm::HS256,
        "rsa-1",
        &EncodingKey::from_secret(&secret),
        &claims(),
    );
    assert_invalid(verify(&token).await);
    let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        panic!("an RSA key");
    };
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&rsa.n)
        .unwrap();
    let token = sign(
        Algorithm::HS256,
        "rsa-1",
        &EncodingKey::from_secret(&n),
        &claims(),
    );
    assert_invalid(verify(&token).await);
}

#[tokio::test]
async fn an_algorithm_the_key_is_not_for_is_refused() {
    // RS512 with the RS256-only key: same family, but the JWK names its algorithm.
    let k = keys();
    assert_invalid(verify(&sign(Algorithm::RS512, "rsa-1", &k.rsa, &claims())).await);
    // An EC token naming the RSA key.
    assert_invalid(verify(&sign(Algorithm::ES256, "rsa-1", &k.ec, &claims())).await);
}

#[tokio::test]
async fn unknown_kid_and_garbage_are_refused() {
    let k = keys();
    assert_invalid(verify(&sign(Algorithm::RS256, "rotated-away", &k.rsa, &claims())).await);
    assert_invalid(verify("not-a-jwt").await);
    assert_invalid(verify("a.b.c").await);
}

#[tokio::test]
async fn a_rotated_key_is_found_by_reading_the_jwks_again() {
    let k = keys();
    let mut f = verifier(Some(AUDIENCE)).await;
    let path = match &f.verifier.config().jwks {
        JwksSource::File(p) => p.clone(),
        JwksSource::Url(_) => unreachable!("a file fixture"),
    };
    // The provider adds a key; Hafiz still has the old set.
    let mut rotated = k.jwks.clone();
    rotated
        .keys
        .push(public(&k.rogue, Algorithm::RS256, "rsa-2"));
    std::fs::write(&path, serde_json::to_vec(&rotated).unwrap()).unwrap();
    let token = sign(Algorithm::RS256, "rsa-2", &k.rogue, &claims());
    // Read moments ago: not read again yet.
    assert_invalid(f.verifier.verify(&token).await);
    f.verifier.set_refresh_interval(std::time::Duration::ZERO);
    assert_eq!(
        f.verifier.verify(&token).await.unwrap().subject,
        "alice-subject"
    );
}

#[tokio::test]
async fn an_unreachable_jwks_url_is_an_idp_communication_error() {
    // A port just bound and released: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let verifier = WebIdentityVerifier::new(OidcConfig {
        issuer: ISSUER.into(),
        jwks: JwksSource::parse(&format!("http://127.0.0.1:{port}/jwks")),
        audience: None,
        policy_claim: "policy".into(),
    })
    .unwrap();
    let k = keys();
    let e = verifier
        .verify(&sign(Algorithm::RS256, "rsa-1", &k.rsa, &claims()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "IDPCommunicationError", "{e}");
}

#[test]
fn policy_claim_forms() {
    assert_eq!(policy_names(Some(&json!("a,b , ,c"))), ["a", "b", "c"]);
    assert_eq!(policy_names(Some(&json!(["x", 3, "y"]))), ["x", "y"]);
    assert!(policy_names(Some(&json!(7))).is_empty());
    assert!(policy_names(None).is_empty());
}
