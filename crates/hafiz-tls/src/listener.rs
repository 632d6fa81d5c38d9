//! An `axum::serve` listener that terminates TLS.
//!
//! Handshakes run in their own tasks, not in `accept`: a client that connects and
//! then stays silent must not hold up everyone behind it. A failed or timed-out
//! handshake is logged at debug level and skipped; `accept` never fails, so no
//! client can stop the server.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::{Listener, ListenerExt, TapIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at most; beyond, new connections wait in the kernel's
/// backlog rather than cost memory here.
const MAX_HANDSHAKES: usize = 1024;

type Handshake = Option<(TlsStream<TcpStream>, SocketAddr)>;

pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Handshake>,
}

/// [`TlsListener`] as `into_make_service_with_connect_info::<SocketAddr>()` takes
/// it. axum implements `Connected` for `SocketAddr` on its own listeners only, and
/// the orphan rule forbids that impl here; axum's `TapIo` wrapper forwards the
/// listener's address type, so a no-op tap gives handlers the peer address
/// (`aws:SourceIp`).
pub type PeerAddrTlsListener = TapIo<TlsListener, fn(&mut TlsStream<TcpStream>)>;

impl TlsListener {
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        TlsListener {
            tcp,
            acceptor,
            handshakes: JoinSet::new(),
        }
    }

    /// This listener with `ConnectInfo<SocketAddr>` for handlers.
    pub fn with_peer_addr(self) -> PeerAddrTlsListener {
        fn untouched(_: &mut TlsStream<TcpStream>) {}
        self.tap_io(untouched as fn(&mut TlsStream<TcpStream>))
    }
}

async fn handshake(acceptor: TlsAcceptor, tcp: TcpStream, peer: SocketAddr) -> Handshake {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some((tls, peer)),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// As axum's own TCP listener: errors of one connection are ignored; others
/// (out of file descriptors) are logged and accepting pauses for a second.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept error");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    // Cancel safe, as axum requires (it drops `accept` at shutdown): a TCP accept
    // and a `join_next` lose nothing when dropped, and handshakes live in the set.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept(), if self.handshakes.len() < MAX_HANDSHAKES => {
                    match accepted {
                        Ok((tcp, peer)) => {
                            self.handshakes.spawn(handshake(self.acceptor.clone(), tcp, peer));
                        }
                        Err(e) => accept_error(e).await,
                    }
                }
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(conn)) = done {
                        return conn;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
