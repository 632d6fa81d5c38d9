//! The client side of node-to-node RPC: signed HTTP/2 requests (h2c, or h2 over
//! TLS) with MessagePack bodies, and openraft's network on top of it.

use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::ClusterKey;
use crate::error::ClusterError;
use crate::node::RpcTls;
use crate::types::{NodeId, TypeConfig};

/// Why a call did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Not connected, timed out, or the connection broke: the peer may be down.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The peer refused our signature (401) or our cluster (409).
    #[error("refused ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("bad answer: {0}")]
    Decode(String),
}

/// A signed-RPC client shared by every peer connection (one HTTP/2 pool).
#[derive(Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    /// `http` (h2c), or `https` when the nodes speak TLS.
    scheme: &'static str,
    key: Arc<ClusterKey>,
    from: NodeId,
    /// The cluster id this node belongs to, once known (sent with every call).
    cluster: Arc<std::sync::RwLock<String>>,
}

impl PeerClient {
    pub fn new(
        key: Arc<ClusterKey>,
        from: NodeId,
        cluster: Arc<std::sync::RwLock<String>>,
        tls: Option<&RpcTls>,
    ) -> Result<PeerClient, ClusterError> {
        // reqwest is built with rustls but no provider of its own.
        hafiz_tls::install_default_provider();
        let mut builder = reqwest::Client::builder()
            .http2_prior_knowledge()
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60));
        if let Some(tls) = tls
            && !tls.ca.is_empty()
        {
            let roots = tls
                .ca
                .iter()
                .map(|c| reqwest::Certificate::from_der(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ClusterError::Client(e.to_string()))?;
            // The cluster's own CA only: a node certificate from a public CA must
            // not be enough to pose as a peer (the secret still signs every call).
            builder = builder.tls_certs_only(roots);
        }
        let http = builder
            .build()
            .map_err(|e| ClusterError::Client(e.to_string()))?;
        Ok(PeerClient {
            http,
            scheme: if tls.is_some() { "https" } else { "http" },
            key,
            from,
            cluster,
        })
    }

    pub fn cluster_id(&self) -> String {
        self.cluster
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// POST `req` to `addr` + `path` and decode the answer.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, CallError> {
        let body = rmp_serde::to_vec_named(req).map_err(|e| CallError::Decode(e.to_string()))?;
        let cluster = self.cluster_id();
        let mut rb = self
            .http
            .post(format!("{}://{addr}{path}", self.scheme))
            .timeout(timeout);
        for (k, v) in self.key.sign("POST", path, self.from, &cluster, &body) {
            rb = rb.header(k, v);
        }
        let resp = rb
            .body(body)
            .send()
            .await
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        if !status.is_success() {
            return Err(CallError::Refused {
                status: status.as_u16(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        rmp_serde::from_slice(&bytes).map_err(|e| CallError::Decode(e.to_string()))
    }
}

/// One frame of a streamed request body: data, or the end of a complete body
/// (a stream that stops without `End` was abandoned and must not be committed).
pub enum Frame {
    Data(bytes::Bytes),
    End,
}

impl PeerClient {
    /// POST a body streamed from `rx` to `addr` + `path_and_query`, followed by its
    /// MAC trailer (see [`ClusterKey::stream_mac`]); resolves when the peer answers.
    pub async fn stream_post(
        &self,
        addr: &str,
        path_and_query: &str,
        rx: tokio::sync::mpsc::Receiver<Frame>,
    ) -> Result<(), CallError> {
        let cluster = self.cluster_id();
        let headers = self
            .key
            .sign("POST", path_and_query, self.from, &cluster, b"");
        let nonce = headers
            .iter()
            .find(|(k, _)| *k == crate::auth::H_NONCE)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mac = self.key.stream_mac(&nonce);
        let body = futures_util::stream::unfold((rx, Some(mac)), |(mut rx, mac)| async move {
            use hmac::Mac;
            let mut mac = mac?;
            match rx.recv().await {
                Some(Frame::Data(b)) => {
                    mac.update(&b);
                    Some((Ok::<_, std::io::Error>(b), (rx, Some(mac))))
                }
                Some(Frame::End) => {
                    let tag = bytes::Bytes::copy_from_slice(&mac.finalize().into_bytes());
                    Some((Ok(tag), (rx, None)))
                }
                None => Some((Err(std::io::Error::other("body abandoned")), (rx, None))),
            }
        });
        let mut rb = self
            .http
            .post(format!("{}://{addr}{path_and_query}", self.scheme));
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        let resp = rb
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let message = resp.text().await.unwrap_or_default();
        Err(CallError::Refused {
            status: status.as_u16(),
            message,
        })
    }
}

/// openraft's view of the network: one [`PeerConnection`] per target.
#[derive(Clone)]
pub struct Network {
    pub client: PeerClient,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerConnection {
        PeerConnection {
            client: self.client.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

pub struct PeerConnection {
    client: PeerClient,
    target: NodeId,
    addr: String,
}

impl PeerConnection {
    async fn raft_call<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        ttl: Duration,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let answer: Result<Resp, RaftError<NodeId, E>> = self
            .client
            .call(&self.addr, path, req, ttl)
            .await
            .map_err(|e| match e {
                CallError::Unreachable(_) => RPCError::Unreachable(Unreachable::new(&e)),
                other => RPCError::Network(NetworkError::new(&other)),
            })?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.raft_call("/raft/append", &rpc, option.hard_ttl())
            .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.raft_call("/raft/snapshot", &rpc, option.hard_ttl())
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.raft_call("/raft/vote", &rpc, option.hard_ttl()).await
    }
}
