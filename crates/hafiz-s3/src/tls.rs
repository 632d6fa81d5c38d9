//! TLS for outgoing HTTP (OIDC JWKS, audit webhook, the admin CLI, OTLP).

/// reqwest is built with rustls but without a crypto provider (its default,
/// aws-lc-rs, needs cmake and a long C build): ring is installed as the process's
/// provider. Every reqwest client must be built after this; calling it again is
/// harmless.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
