//! Why a certificate, key or CA bundle could not be used.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid PEM", path.display())]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("no PEM certificate (BEGIN CERTIFICATE) in {}", path.display())]
    NoCertificate { path: PathBuf },
    #[error("no PEM private key (PKCS#8, RSA or SEC1) in {}", path.display())]
    NoKey { path: PathBuf },
    #[error("the key in {} cannot be used with the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("TLS configuration")]
    Config(#[source] rustls::Error),
    #[error("cannot watch for SIGHUP")]
    Signal(#[source] std::io::Error),
}

/// `error: cause: cause ...`, for log lines (tracing shows only the top message).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
