//! The server certificate, replaced without a restart: on SIGHUP, and when its
//! files change (certificate managers such as cert-manager or certbot rewrite them
//! in place). rustls asks the resolver for the certificate at every handshake, so
//! a new one reaches new connections while established ones keep theirs.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::{TlsError, pem};

/// What tells a file was replaced or rewritten: inode (a rename onto it), size
/// and modification time (a rewrite in place). None: not readable now.
type FileStamp = Option<(u64, u64, u64, i64, i64)>;

fn stamp(path: &Path) -> FileStamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// The certificate chain and key the listeners present, with the files they come
/// from.
pub struct ReloadableCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableCert")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl ReloadableCert {
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<ReloadableCert, TlsError> {
        let key = pem::certified_key(cert_file, key_file)?;
        tracing::info!(
            cert = %cert_file.display(),
            sha256 = %pem::fingerprint(&key),
            chain = key.cert.len(),
            "TLS certificate loaded"
        );
        Ok(ReloadableCert {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Reads the files again and serves what they hold from the next handshake on.
    /// On failure (a bad PEM, a key that does not match) the certificate in use
    /// stays. Returns the new certificate's SHA-256 fingerprint.
    pub fn reload(&self) -> Result<String, TlsError> {
        let key = pem::certified_key(&self.cert_file, &self.key_file)?;
        let fingerprint = pem::fingerprint(&key);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(fingerprint)
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn stamps(&self) -> (FileStamp, FileStamp) {
        (stamp(&self.cert_file), stamp(&self.key_file))
    }

    /// Reloads on SIGHUP and when the files' stamps change (checked every `poll`),
    /// until the runtime stops. Failures are logged as warnings: the certificate in
    /// use stays, and a later change or SIGHUP tries again.
    pub fn spawn_watcher(
        self: &Arc<Self>,
        poll: Duration,
    ) -> Result<tokio::task::JoinHandle<()>, TlsError> {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered here, not in the task: a SIGHUP sent right after start must not
        // find the default action (exit) still in place.
        let mut hup = signal(SignalKind::hangup()).map_err(TlsError::Signal)?;
        let cert = self.clone();
        Ok(tokio::spawn(async move {
            let mut seen = cert.stamps();
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let trigger = tokio::select! {
                    got = hup.recv() => match got {
                        Some(()) => "SIGHUP",
                        None => return,
                    },
                    _ = tick.tick() => {
                        if cert.stamps() == seen {
                            continue;
                        }
                        "files changed"
                    }
                };
                // Taken before reading: a change made while reading is seen next time.
                seen = cert.stamps();
                match cert.reload() {
                    Ok(sha256) => tracing::info!(
                        trigger,
                        cert = %cert.cert_file.display(),
                        %sha256,
                        "TLS certificate reloaded"
                    ),
                    Err(e) => tracing::warn!(
                        trigger,
                        error = %crate::error::chain(&e),
                        "TLS certificate not reloaded; the previous one stays in use"
                    ),
                }
            }
        }))
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}
