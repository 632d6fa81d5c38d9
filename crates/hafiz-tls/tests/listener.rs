//! The TLS listener end to end on loopback: ALPN, certificate reload, and that
//! neither a silent client nor a failed handshake stops it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use hafiz_tls::{ServerTls, TlsError};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A client trusting the fixtures' CA, offering `alpn`.
fn connector(alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in hafiz_tls::pem::certificates(&fixture("ca.pem")).unwrap() {
        roots.add(c).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(hafiz_tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Serves an echo of one line per connection; returns the address.
async fn serve(tls: &ServerTls) -> std::net::SocketAddr {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut listener = tls.listener(tcp);
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut io, _peer) = listener.accept().await;
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

type Client = tokio_rustls::client::TlsStream<TcpStream>;

async fn connect(addr: std::net::SocketAddr, alpn: &[&[u8]]) -> Client {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        connector(alpn).connect(ServerName::try_from("localhost").unwrap(), tcp),
    )
    .await
    .expect("handshake in time")
    .expect("handshake")
}

fn served_cert(c: &Client) -> Vec<u8> {
    c.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

async fn echo(c: &mut Client, msg: &[u8]) {
    c.write_all(msg).await.unwrap();
    let mut back = vec![0u8; msg.len()];
    c.read_exact(&mut back).await.unwrap();
    assert_eq!(back, msg);
}

fn copy(from: &str, to: &Path) {
    std::fs::copy(fixture(from), to).unwrap();
}

#[tokio::test]
async fn alpn_prefers_h2_and_falls_back_to_http1() {
    let tls = ServerTls::load(&fixture("a.pem"), &fixture("a.key")).unwrap();
    let addr = serve(&tls).await;
    let c = connect(addr, &[b"h2", b"http/1.1"]).await;
    assert_eq!(c.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let c = connect(addr, &[b"http/1.1"]).await;
    assert_eq!(c.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn reload_reaches_new_connections_only_and_bad_pem_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    copy("a.pem", &cert);
    copy("a.key", &key);
    let tls = ServerTls::load(&cert, &key).unwrap();
    let addr = serve(&tls).await;
    let mut before = connect(addr, &[b"h2"]).await;
    let first = served_cert(&before);

    // An RSA PKCS#8 key replacing an EC SEC1 one.
    copy("b.pem", &cert);
    copy("b.key", &key);
    tls.cert().reload().unwrap();
    let after = connect(addr, &[b"h2"]).await;
    assert_ne!(served_cert(&after), first);
    // The connection made before still works, with its certificate.
    echo(&mut before, b"still here").await;

    std::fs::write(&cert, b"-----BEGIN CERTIFICATE-----\ngarbage\n").unwrap();
    assert!(matches!(tls.cert().reload(), Err(TlsError::Pem { .. })));
    std::fs::write(&cert, b"no pem here").unwrap();
    assert!(matches!(
        tls.cert().reload(),
        Err(TlsError::NoCertificate { .. })
    ));
    // A key of another certificate.
    copy("a.pem", &cert);
    assert!(matches!(
        tls.cert().reload(),
        Err(TlsError::KeyMismatch { .. })
    ));
    let still = connect(addr, &[b"h2"]).await;
    assert_eq!(served_cert(&still), served_cert(&after));
}

#[tokio::test]
async fn silent_clients_and_failed_handshakes_do_not_block_others() {
    let tls = ServerTls::load(&fixture("b.pem"), &fixture("b.key")).unwrap();
    let addr = serve(&tls).await;
    // Connected, never says anything.
    let _silent = TcpStream::connect(addr).await.unwrap();
    // Plain HTTP to the TLS port: its handshake fails.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut sink)).await;
    let mut c = connect(addr, &[b"http/1.1"]).await;
    echo(&mut c, b"hello").await;
}

#[test]
fn missing_files_and_keys_are_reported_by_path() {
    let err = ServerTls::load(Path::new("/nonexistent/c.pem"), &fixture("a.key")).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err}");
    let err = ServerTls::load(&fixture("a.pem"), &fixture("a.pem")).unwrap_err();
    assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
    assert!(err.to_string().contains("a.pem"));
}
