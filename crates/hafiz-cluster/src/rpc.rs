//! The server side of node-to-node RPC (on `--rpc-address`): Raft's messages, and
//! what other nodes ask the leader (forwarded writes, read indexes, membership
//! changes) or any node (its status). Every request must carry a valid signature
//! (see [`crate::auth`]); refusals are counted in
//! `hafiz_cluster_rpc_rejected_total{reason}`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hafiz_meta::{Command, MetaStore};
use openraft::BasicNode;
use openraft::error::{ClientWriteError, RaftError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::{self, ClusterKey, Rejection, Signed};
use crate::peers::PeerList;
use crate::storage::CLUSTER_ID;
use crate::types::{NodeId, Raft, Reply};

/// The answer to a forwarded write.
#[derive(Debug, Serialize, Deserialize)]
pub enum WriteAnswer {
    Done(Reply),
    /// This node is not the leader; the leader it knows of, if any.
    NotLeader(Option<NodeId>),
    Unavailable(String),
}

/// The answer to a read-index request: the log index a linearizable read must wait
/// for (applied on the reader) before reading locally.
#[derive(Debug, Serialize, Deserialize)]
pub enum ReadIndexAnswer {
    Index(Option<u64>),
    NotLeader(Option<NodeId>),
    Unavailable(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Add as a learner, wait until it caught up, then make it a voter.
    Add {
        id: NodeId,
        addr: String,
    },
    Remove {
        id: NodeId,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum ChangeAnswer {
    Done,
    NotLeader(Option<NodeId>),
    Failed(String),
}

/// What a node says of itself (`/cluster/status`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    pub id: NodeId,
    pub peers: Vec<(NodeId, String)>,
    pub initialized: bool,
    pub cluster_id: String,
    pub state: String,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
}

pub struct RpcState {
    pub raft: Raft,
    pub key: Arc<ClusterKey>,
    pub id: NodeId,
    pub cluster: Arc<RwLock<String>>,
    pub store: MetaStore,
    pub peers: PeerList,
    /// This node's drives, serving the shards other nodes keep here.
    pub blobs: hafiz_storage::ErasureStore,
    pub proposer: crate::propose::Proposer,
}

pub fn router(state: Arc<RpcState>) -> axum::Router {
    axum::Router::new()
        .route("/shard/put", axum::routing::post(crate::data::serve_put))
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::max(512 << 20))
        .with_state(state)
}

pub(crate) fn refuse(status: StatusCode, msg: String) -> Response {
    (status, msg).into_response()
}

fn answer<T: Serialize>(v: &T) -> Response {
    match rmp_serde::to_vec_named(v) {
        Ok(b) => (StatusCode::OK, b).into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

// An early return of the refusal itself; not worth boxing on this path.
#[allow(clippy::result_large_err)]
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    rmp_serde::from_slice(body).map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))
}

fn reject(r: Rejection) -> Response {
    metrics::counter!("hafiz_cluster_rpc_rejected_total", "reason" => r.reason()).increment(1);
    tracing::warn!(reason = r.reason(), "node-to-node request refused: {r}");
    refuse(StatusCode::UNAUTHORIZED, r.to_string())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn handle(
    State(st): State<Arc<RpcState>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if let Err(r) = authenticate(&st, &method, &uri, &headers, &body) {
        return r;
    }
    match dispatch(&st, path, &body).await {
        Ok(r) | Err(r) => r,
    }
}

/// Check a request's signature and cluster; a node new to any cluster joins the
/// cluster of the first Raft message it accepts.
#[allow(clippy::result_large_err)]
pub(crate) fn authenticate(
    st: &RpcState,
    method: &axum::http::Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Response> {
    let path = uri.path();
    let signed_path = uri.path_and_query().map(|p| p.as_str()).unwrap_or(path);
    let (Some(time), Some(nonce), Some(from), Some(cluster), Some(sig)) = (
        header(headers, auth::H_TIME).and_then(|t| t.parse().ok()),
        header(headers, auth::H_NONCE),
        header(headers, auth::H_FROM).and_then(|f| f.parse::<NodeId>().ok()),
        header(headers, auth::H_CLUSTER),
        header(headers, auth::H_SIGNATURE),
    ) else {
        return Err(reject(Rejection::Malformed));
    };
    let signed = Signed {
        method: method.as_str(),
        path: signed_path,
        from,
        cluster,
        time_ms: time,
        nonce,
    };
    if let Err(r) = st.key.verify(&signed, sig, body) {
        return Err(reject(r));
    }
    let ours = st.cluster.read().unwrap_or_else(|e| e.into_inner()).clone();
    if !ours.is_empty() && !cluster.is_empty() && ours != cluster {
        metrics::counter!("hafiz_cluster_rpc_rejected_total", "reason" => "cluster").increment(1);
        return Err(refuse(
            StatusCode::CONFLICT,
            format!("node {} belongs to cluster {ours}, not {cluster}", st.id),
        ));
    }
    if ours.is_empty() && !cluster.is_empty() && path.starts_with("/raft/") {
        // A node that has never been part of a cluster joins the one that
        // replicates to it first.
        if let Err(e) = st
            .store
            .set_raft_state(CLUSTER_ID, Some(cluster.as_bytes().to_vec()))
        {
            return Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
        }
        *st.cluster.write().unwrap_or_else(|e| e.into_inner()) = cluster.to_string();
        tracing::info!(cluster, "joined cluster");
    }
    Ok(())
}

#[allow(clippy::result_large_err)]
async fn dispatch(st: &RpcState, path: &str, body: &[u8]) -> Result<Response, Response> {
    Ok(match path {
        "/raft/append" => answer(&st.raft.append_entries(decode(body)?).await),
        "/raft/vote" => answer(&st.raft.vote(decode(body)?).await),
        "/raft/snapshot" => answer(&st.raft.install_snapshot(decode(body)?).await),
        "/cluster/write" => {
            let cmd: Command = decode(body)?;
            answer(&st.proposer.propose(cmd).await)
        }
        "/cluster/read-index" => answer(&read_index_here(&st.raft).await),
        "/cluster/membership" => {
            let change: MembershipChange = decode(body)?;
            answer(&change_here(&st.raft, change).await)
        }
        "/cluster/status" => answer(&status_of(st).await),
        "/shard/get" => {
            let req: crate::data::ShardRead = decode(body)?;
            answer(&crate::data::serve_read(&st.blobs, req).await)
        }
        "/shard/delete" => {
            let id: String = decode(body)?;
            answer(&crate::data::serve_delete(&st.blobs, &id).await)
        }
        _ => refuse(StatusCode::NOT_FOUND, format!("no rpc {path}")),
    })
}

pub async fn read_index_here(raft: &Raft) -> ReadIndexAnswer {
    use openraft::error::CheckIsLeaderError;
    match raft.ensure_linearizable().await {
        Ok(id) => ReadIndexAnswer::Index(id.map(|l| l.index)),
        Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
            ReadIndexAnswer::NotLeader(f.leader_id)
        }
        Err(e) => ReadIndexAnswer::Unavailable(e.to_string()),
    }
}

/// How long a new node may take to catch up before it is made a voter.
const CATCH_UP: Duration = Duration::from_secs(120);

pub async fn change_here(raft: &Raft, change: MembershipChange) -> ChangeAnswer {
    let not_leader = |e: &RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>| match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => Some(f.leader_id),
        _ => None,
    };
    let result = match change {
        MembershipChange::Add { id, addr } => {
            // Blocking: returns once the learner has the log (or a snapshot).
            let added =
                tokio::time::timeout(CATCH_UP, raft.add_learner(id, BasicNode { addr }, true))
                    .await;
            match added {
                Err(_) => {
                    return ChangeAnswer::Failed(format!(
                        "node {id} did not catch up within {CATCH_UP:?}"
                    ));
                }
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => {
                    let voters = openraft::ChangeMembers::AddVoterIds([id].into());
                    raft.change_membership(voters, false).await.map(|_| ())
                }
            }
        }
        MembershipChange::Remove { id } => {
            let voters = openraft::ChangeMembers::RemoveVoters([id].into());
            match raft.change_membership(voters, false).await {
                Ok(_) => {
                    let learners = openraft::ChangeMembers::RemoveNodes([id].into());
                    raft.change_membership(learners, false).await.map(|_| ())
                }
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => ChangeAnswer::Done,
        Err(e) => match not_leader(&e) {
            Some(l) => ChangeAnswer::NotLeader(l),
            None => ChangeAnswer::Failed(e.to_string()),
        },
    }
}

pub async fn status_of(st: &RpcState) -> NodeStatus {
    let m = st.raft.metrics().borrow().clone();
    NodeStatus {
        id: st.id,
        peers: st.peers.as_pairs(),
        initialized: st.raft.is_initialized().await.unwrap_or(false),
        cluster_id: st.cluster.read().unwrap_or_else(|e| e.into_inner()).clone(),
        state: format!("{:?}", m.state),
        term: m.current_term,
        leader: m.current_leader,
        last_log_index: m.last_log_index,
        last_applied: m.last_applied.map(|l| l.index),
    }
}
