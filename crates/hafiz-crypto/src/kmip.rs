//! The master key held by an external KMS over KMIP (OASIS KMIP 1.x, TTLV over
//! mutually authenticated TLS): an AES-256 symmetric key on the KMIP server, fetched
//! by its unique identifier when the server starts and held only in memory, so that
//! no drive ever holds it. What it seals (the key service's key versions) stays in
//! the metadata, as with a local master key.
//!
//! The TTLV messages are `kmip-protocol`'s and `kmip-ttlv`'s (NLnet Labs, tested
//! against PyKMIP); the connection is ours (rustls, as every other one Hafiz makes:
//! the crate's own client needs one of its TLS plug-ins, which bring an older rustls).

use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::io::Write;

use kmip_protocol::types::common::{
    KeyCompressionType, KeyFormatType, KeyMaterial, UniqueIdentifier,
};
use kmip_protocol::types::request::{KeyWrappingSpecification, RequestPayload};
use kmip_protocol::types::response::{
    ManagedObject, ResponseMessage, ResponsePayload, ResultStatus,
};
use rustls::pki_types::ServerName;

use crate::error::{CryptoError, CryptoResult};
use crate::keys::KEY_LEN;
use crate::master::MasterKey;

/// How to reach the KMIP server.
#[derive(Debug, Clone)]
pub struct KmipSettings {
    /// HOST:PORT (5696 is KMIP's registered port).
    pub endpoint: String,
    /// PEM client certificate and key: KMIP servers identify clients by certificate.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// PEM CA bundle the server's certificate is verified against.
    pub ca: PathBuf,
    /// How long one connection attempt (and each read or write) may take.
    pub timeout: Duration,
}

fn err(what: impl std::fmt::Display) -> CryptoError {
    CryptoError::Kmip(what.to_string())
}

/// A blocking TLS stream to the KMIP server (the messages are few and small, sent at
/// start-up: run this on a blocking thread).
type Stream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect(s: &KmipSettings) -> CryptoResult<Stream> {
    let mut roots = rustls::RootCertStore::empty();
    let cas = hafiz_tls::pem::certificates(&s.ca).map_err(err)?;
    for ca in cas {
        roots.add(ca).map_err(err)?;
    }
    let chain = hafiz_tls::pem::certificates(&s.client_cert).map_err(err)?;
    let key = hafiz_tls::pem::private_key(&s.client_key).map_err(err)?;
    let config = rustls::ClientConfig::builder_with_provider(hafiz_tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(err)?;
    let host = s
        .endpoint
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .ok_or_else(|| err(format!("{:?} is not HOST:PORT", s.endpoint)))?;
    let name = ServerName::try_from(host.to_string()).map_err(err)?;
    let addr = s
        .endpoint
        .to_socket_addrs()
        .map_err(|e| err(format!("{}: {e}", s.endpoint)))?
        .next()
        .ok_or_else(|| err(format!("{}: no address", s.endpoint)))?;
    let tcp = TcpStream::connect_timeout(&addr, s.timeout).map_err(|e| {
        CryptoError::KmipUnreachable(format!("cannot connect to {}: {e}", s.endpoint))
    })?;
    tcp.set_read_timeout(Some(s.timeout))?;
    tcp.set_write_timeout(Some(s.timeout))?;
    tcp.set_nodelay(true)?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(err)?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    // Handshake now, so that a refused certificate is reported as such rather than
    // as a failed KMIP request.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| err(format!("TLS with {}: {e}", s.endpoint)))?;
    }
    Ok(stream)
}

/// Responses larger than this are refused (a key is a few hundred bytes).
const MAX_RESPONSE: usize = 64 * 1024;

/// Sends one request and returns its one response payload.
fn call(stream: &mut Stream, payload: RequestPayload) -> CryptoResult<ResponsePayload> {
    let operation = payload.operation();
    let bytes = kmip_protocol::request::to_vec(payload, None).map_err(err)?;
    stream.write_all(&bytes)?;
    stream.flush()?;
    let config = kmip_ttlv::Config::new().with_max_bytes(MAX_RESPONSE as u32);
    let mut res: ResponseMessage = kmip_ttlv::from_reader(&mut *stream, &config).map_err(err)?;
    let [item] = res.batch_items.as_mut_slice() else {
        return Err(err(format!(
            "{operation}: expected one batch item, got {}",
            res.batch_items.len()
        )));
    };
    match item.result_status {
        ResultStatus::Success if item.operation == Some(operation) => item
            .payload
            .take()
            .ok_or_else(|| err(format!("{operation}: a success without a payload"))),
        ResultStatus::Success => Err(err(format!(
            "{operation}: the response is for {:?}",
            item.operation
        ))),
        status => Err(err(format!(
            "{operation} failed ({status:?}, {:?}): {}",
            item.result_reason,
            item.result_message.as_deref().unwrap_or("")
        ))),
    }
}

/// Fetches the AES-256 key `uid` from the KMIP server: the master key.
pub fn fetch_master(s: &KmipSettings, uid: &str) -> CryptoResult<MasterKey> {
    let mut stream = connect(s)?;
    let request = RequestPayload::Get(
        Some(UniqueIdentifier(uid.to_string())),
        Option::<KeyFormatType>::None,
        Option::<KeyCompressionType>::None,
        Option::<KeyWrappingSpecification>::None,
    );
    let ResponsePayload::Get(got) = call(&mut stream, request)
        .map_err(|e| err(format!("Get {uid} from {}: {e}", s.endpoint)))?
    else {
        return Err(err(format!("Get {uid}: not a Get response")));
    };
    let ManagedObject::SymmetricKey(key) = got.cryptographic_object else {
        return Err(err(format!(
            "KMIP object {uid} is a {:?}, not a symmetric key",
            got.object_type
        )));
    };
    let bytes = match key.key_block.key_value.key_material {
        KeyMaterial::Bytes(b) => b,
        KeyMaterial::TransparentSymmetricKey(t) => t.key,
        _ => {
            return Err(err(format!(
                "KMIP key {uid} is not in raw or transparent symmetric form"
            )));
        }
    };
    let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|b: Vec<u8>| {
        err(format!(
            "KMIP key {uid} has {} bits; the master key is AES-256",
            b.len() * 8
        ))
    })?;
    Ok(MasterKey::from_bytes(bytes))
}
