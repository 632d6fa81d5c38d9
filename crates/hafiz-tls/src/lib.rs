//! TLS for Hafiz's listeners (S3, admin, node-to-node RPC), with rustls and the
//! `ring` provider (aws-lc-rs, rustls' default, needs cmake and a long C build).
//!
//! - [`pem`]: certificate chains, private keys and CA bundles read from PEM files.
//! - [`reload`]: the server certificate, swapped in place on SIGHUP or when its
//!   files change, so established connections are untouched.
//! - [`listener`]: an `axum::serve::Listener` that does the handshakes.

pub mod error;
pub mod listener;
pub mod pem;
pub mod reload;

use std::path::Path;
use std::sync::Arc;

pub use error::TlsError;
pub use listener::{PeerAddrTlsListener, TlsListener};
pub use reload::ReloadableCert;
pub use rustls::pki_types::CertificateDer;

/// ALPN protocols the listeners offer, preferred first: HTTP/2, then HTTP/1.1.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The crypto provider every TLS endpoint of the process uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process's default provider, which reqwest (built without
/// one) needs before any client is built. Calling it again is harmless.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A node's server side of TLS: its reloadable certificate and the acceptor built
/// on it. Cheap to clone; every listener of the node shares one certificate.
#[derive(Clone)]
pub struct ServerTls {
    cert: Arc<ReloadableCert>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Reads the certificate chain and key; fails if either is missing, unreadable
    /// or does not match the other.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<ServerTls, TlsError> {
        let cert = Arc::new(ReloadableCert::load(cert_file, key_file)?);
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            // Asked at every handshake: a reload reaches new connections only.
            .with_cert_resolver(cert.clone());
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(ServerTls {
            cert,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// `tcp` with TLS on every connection it accepts.
    pub fn listener(&self, tcp: tokio::net::TcpListener) -> TlsListener {
        TlsListener::new(tcp, self.acceptor.clone())
    }

    /// The certificate the listeners present.
    pub fn cert(&self) -> &Arc<ReloadableCert> {
        &self.cert
    }
}
