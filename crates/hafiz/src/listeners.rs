//! The node's HTTP listeners (S3, admin): plain TCP, or TLS with the node's
//! certificate (docs/tls.md).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::extract::Request;
use axum::http::{HeaderValue, header::HOST};
use hafiz_tls::ServerTls;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::TlsFiles;

/// How often the certificate files are checked for changes (SIGHUP reloads at
/// once).
const CERT_POLL: Duration = Duration::from_secs(2);

/// A node's TLS: the certificate of its listeners, and the settings of its rpc.
pub struct NodeTls {
    pub server: ServerTls,
    pub rpc: hafiz_cluster::RpcTls,
}

/// Reads the certificate, key and CA bundle (a bad one stops the start) and
/// starts watching them for changes.
pub fn load(files: &TlsFiles) -> anyhow::Result<NodeTls> {
    let server = ServerTls::load(&files.cert, &files.key)
        .context("cannot load the TLS certificate (--tls-cert, --tls-key)")?;
    let ca = match &files.ca {
        Some(path) => {
            hafiz_tls::pem::certificates(path).context("cannot load the CA bundle (--tls-ca)")?
        }
        None => Vec::new(),
    };
    server
        .cert()
        .spawn_watcher(CERT_POLL)
        .context("cannot watch the TLS certificate")?;
    Ok(NodeTls {
        rpc: hafiz_cluster::RpcTls {
            server: server.clone(),
            ca,
        },
        server,
    })
}

/// Serves `app` on `listener` until `stop` fires or is dropped; requests in
/// flight then finish. Handlers see the peer's address (`aws:SourceIp`).
pub fn spawn(
    listener: TcpListener,
    tls: Option<&ServerTls>,
    app: axum::Router,
    stop: oneshot::Receiver<()>,
) -> JoinHandle<std::io::Result<()>> {
    let app = app
        .layer(axum::middleware::map_request(host_from_authority))
        .into_make_service_with_connect_info::<SocketAddr>();
    let stop = async move {
        let _ = stop.await;
    };
    match tls {
        Some(tls) => tokio::spawn(
            axum::serve(tls.listener(listener).with_peer_addr(), app)
                .with_graceful_shutdown(stop)
                .into_future(),
        ),
        None => tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .into_future(),
        ),
    }
}

/// An HTTP/2 request carries its host in `:authority` (the URI), without a `Host`
/// header, yet SigV4 signs `host` and virtual-host buckets are read from it: the
/// header is made from the authority when missing. (HTTP/1.1 requests have a Host
/// header, and usually no authority in their URI.)
async fn host_from_authority(mut req: Request) -> Request {
    if !req.headers().contains_key(HOST)
        && let Some(host) = req
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(HOST, host);
    }
    req
}
