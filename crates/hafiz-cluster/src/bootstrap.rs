//! Forming the cluster with no separate bootstrap step.
//!
//! Only the node with the lowest id in the peer list initializes Raft, and only
//! when (1) its own Raft state is empty (openraft refuses to initialize a node that
//! has a log or a vote), (2) no reachable peer is initialized, and (3) a majority of
//! the peer list, itself included, answered that it is uninitialized. Every other
//! node waits to be contacted by a leader. So two initializations cannot happen:
//! one node alone may initialize, and it cannot do so while a cluster exists,
//! because a cluster that committed anything holds it on a majority, and a majority
//! answering "uninitialized" excludes that.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hafiz_meta::MetaStore;
use openraft::BasicNode;

use crate::network::PeerClient;
use crate::peers::PeerList;
use crate::rpc::NodeStatus;
use crate::storage::CLUSTER_ID;
use crate::types::{NodeId, Raft};

/// The statuses of the other peers that answered.
pub(crate) async fn poll_peers(
    client: &PeerClient,
    peers: &PeerList,
    me: NodeId,
) -> Vec<Result<NodeStatus, (NodeId, crate::network::CallError)>> {
    let mut set = tokio::task::JoinSet::new();
    for (id, addr) in peers.as_pairs().into_iter().filter(|(id, _)| *id != me) {
        let client = client.clone();
        set.spawn(async move {
            client
                .call::<_, NodeStatus>(&addr, "/cluster/status", &(), Duration::from_secs(1))
                .await
                .map_err(|e| (id, e))
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            out.push(r);
        }
    }
    out
}

pub(crate) async fn run(
    raft: Raft,
    store: MetaStore,
    peers: PeerList,
    me: NodeId,
    client: PeerClient,
    cluster: Arc<RwLock<String>>,
) {
    if raft.is_initialized().await.unwrap_or(true) || peers.initializer() != Some(me) {
        return;
    }
    loop {
        let statuses = poll_peers(&client, &peers, me).await;
        if statuses
            .iter()
            .any(|s| matches!(s, Ok(st) if st.initialized))
        {
            tracing::info!("a peer is already initialized: waiting to be added by its leader");
            return;
        }
        let uninitialized = 1 + statuses.iter().filter(|s| s.is_ok()).count();
        if uninitialized > peers.len() / 2 {
            break;
        }
        tracing::info!(
            up = uninitialized,
            of = peers.len(),
            "waiting for a majority of the peers before initializing the cluster"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if raft.is_initialized().await.unwrap_or(true) {
        return;
    }
    // Kept if set by an earlier attempt that crashed before initializing.
    let id = {
        let current = cluster.read().unwrap_or_else(|e| e.into_inner()).clone();
        if current.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            current
        }
    };
    let s = store.clone();
    let id_bytes = id.clone().into_bytes();
    match tokio::task::spawn_blocking(move || s.set_raft_state(CLUSTER_ID, Some(id_bytes))).await {
        Ok(Ok(())) => {}
        other => {
            tracing::error!(?other, "cannot record the cluster id; not initializing");
            return;
        }
    }
    *cluster.write().unwrap_or_else(|e| e.into_inner()) = id.clone();
    let members: BTreeMap<NodeId, BasicNode> = peers
        .as_pairs()
        .into_iter()
        .map(|(i, addr)| (i, BasicNode { addr }))
        .collect();
    match raft.initialize(members).await {
        Ok(()) => tracing::info!(cluster = %id, nodes = peers.len(), "cluster initialized"),
        Err(e) => tracing::warn!(error = %e, "cluster not initialized"),
    }
}
