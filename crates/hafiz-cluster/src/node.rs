//! Starting a node of the cluster: its Raft group on the local store, its RPC
//! listener, the checks against the peers, and cluster formation.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hafiz_meta::MetaStore;
use serde::{Deserialize, Serialize};

use crate::auth::ClusterKey;
use crate::bootstrap;
use crate::error::ClusterError;
use crate::metadata::{ClusterMeta, Shared};
use crate::network::{CallError, Network, PeerClient};
use crate::peers::{Peer, PeerList};
pub use crate::rpc::MembershipChange;
use crate::rpc::{self, ChangeAnswer, NodeStatus, RpcState};
use crate::storage::{CLUSTER_ID, LogStore, StateMachine};
use crate::types::{NodeId, Raft};

/// The default RPC address of a node given no `--rpc-address`.
pub const DEFAULT_RPC_ADDRESS: &str = "127.0.0.1:9003";

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub node_id: NodeId,
    /// Where to listen for other nodes; None: do not listen (a 1-node cluster
    /// needs no RPC).
    pub rpc_listen: Option<SocketAddr>,
    /// Every node with its RPC address, this one included. Empty: a 1-node cluster
    /// of this node at `rpc_listen` (or the default address).
    pub peers: Vec<Peer>,
    pub secret: Option<Vec<u8>>,
    /// Where snapshot files are kept (beside the metadata store).
    pub snapshot_dir: PathBuf,
    /// TLS between the nodes; None: h2c in the clear.
    pub tls: Option<RpcTls>,
}

/// TLS between the nodes: the RPC listener serves `server`'s certificate (the
/// node's S3 one), and calls to peers use https, verified against `ca` (the
/// system's roots when empty). Peers' addresses (`--peer ID=HOST:PORT`) must be
/// names or IPs their certificates hold.
#[derive(Debug, Clone)]
pub struct RpcTls {
    pub server: hafiz_tls::ServerTls,
    pub ca: Vec<hafiz_tls::CertificateDer<'static>>,
}

pub struct ClusterNode {
    shared: Arc<Shared>,
    /// Object data across the nodes (None in a 1-node cluster: the local store
    /// is used as it is).
    blobs: Option<crate::data::ClusterBlobs>,
    rpc: Arc<RpcState>,
    rpc_addr: Option<SocketAddr>,
}

/// One member as `hafiz admin cluster` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberStatus {
    pub id: NodeId,
    pub rpc_address: String,
    /// voter or learner
    pub role: String,
    /// leader, follower, candidate, learner, or unreachable
    pub state: String,
    pub term: Option<u64>,
    pub last_applied: Option<u64>,
    /// Entries the member is behind the leader's log (None when unknown).
    pub lag: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub node_id: NodeId,
    pub cluster_id: String,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub state: String,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub members: Vec<MemberStatus>,
}

fn raft_config() -> Result<openraft::Config, ClusterError> {
    let c = openraft::Config {
        cluster_name: "hafiz".into(),
        // Failover: followers notice a dead leader after 0.5–1 s without
        // heartbeats (5–10 missed), and grant votes once the old leader's lease
        // (the maximum timeout) ran out: about 1–2 s to a new leader.
        heartbeat_interval: 100,
        election_timeout_min: 500,
        election_timeout_max: 1000,
        install_snapshot_timeout: 10_000,
        max_payload_entries: 64,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(20_000),
        max_in_snapshot_log_to_keep: 1_000,
        ..Default::default()
    };
    c.validate().map_err(|e| ClusterError::Raft(e.to_string()))
}

/// Log leadership changes and export the Raft figures as metrics.
async fn watch_leadership(raft: Raft, me: NodeId, shared: Arc<Shared>) {
    let mut rx = raft.metrics();
    let mut last: Option<(Option<NodeId>, u64)> = None;
    loop {
        let (leader, term, applied, log, state) = {
            let m = rx.borrow_and_update();
            (
                m.current_leader,
                m.current_term,
                m.last_applied.map(|l| l.index).unwrap_or(0),
                m.last_log_index.unwrap_or(0),
                m.state,
            )
        };
        metrics::gauge!("hafiz_cluster_term").set(term as f64);
        metrics::gauge!("hafiz_cluster_last_applied").set(applied as f64);
        metrics::gauge!("hafiz_cluster_last_log_index").set(log as f64);
        metrics::gauge!("hafiz_cluster_is_leader").set(if state == openraft::ServerState::Leader {
            1.0
        } else {
            0.0
        });
        if last != Some((leader, term)) {
            shared.lead_from.store(
                if leader == Some(me) { log } else { u64::MAX },
                Ordering::Release,
            );
            if leader == Some(me) {
                tracing::info!(node = me, term, "became metadata leader");
            } else if let Some(l) = leader {
                tracing::info!(node = me, leader = l, term, "following metadata leader");
            }
            last = Some((leader, term));
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

impl ClusterNode {
    pub async fn start(
        cfg: ClusterConfig,
        store: MetaStore,
        local_blobs: hafiz_storage::ErasureStore,
    ) -> Result<ClusterNode, ClusterError> {
        let me = cfg.node_id;
        let peers = if cfg.peers.is_empty() {
            let addr = cfg
                .rpc_listen
                .map(|a| a.to_string())
                .unwrap_or_else(|| DEFAULT_RPC_ADDRESS.into());
            PeerList::new(vec![Peer { id: me, addr }])?
        } else {
            PeerList::new(cfg.peers.clone())?
        };
        if peers.addr(me).is_none() {
            return Err(ClusterError::NotInPeers(me));
        }
        let secret = match cfg.secret.clone() {
            Some(s) if !s.is_empty() => s,
            _ if peers.len() > 1 => return Err(ClusterError::NoSecret),
            // A node alone never talks to another; a random key refuses everyone.
            _ => rand::random::<[u8; 32]>().to_vec(),
        };
        let key = Arc::new(ClusterKey::new(&secret));
        let cluster_id = store
            .raft_state(CLUSTER_ID)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let cluster = Arc::new(RwLock::new(cluster_id));
        let client = PeerClient::new(key.clone(), me, cluster.clone(), cfg.tls.as_ref())?;
        let sm = StateMachine::open(store.clone(), cfg.snapshot_dir.clone())
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let raft = Raft::new(
            me,
            Arc::new(raft_config()?),
            Network {
                client: client.clone(),
            },
            LogStore::new(store.clone()),
            sm,
        )
        .await
        .map_err(|e| ClusterError::Raft(e.to_string()))?;

        let proposer = crate::propose::Proposer::start(raft.clone());
        let rpc = Arc::new(RpcState {
            proposer: proposer.clone(),
            raft: raft.clone(),
            key,
            id: me,
            cluster: cluster.clone(),
            store: store.clone(),
            peers: peers.clone(),
            blobs: local_blobs.clone(),
        });
        let mut rpc_addr = None;
        if let Some(addr) = cfg.rpc_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ClusterError::Listen {
                    addr: addr.to_string(),
                    source,
                })?;
            rpc_addr = listener.local_addr().ok();
            tracing::info!(address = %addr, node = me, peers = peers.len(), tls = cfg.tls.is_some(), "hafiz cluster rpc listening");
            let app = rpc::router(rpc.clone());
            let tls = cfg.tls.as_ref().map(|t| t.server.clone());
            tokio::spawn(async move {
                let served = match tls {
                    Some(tls) => axum::serve(tls.listener(listener), app).await,
                    None => axum::serve(listener, app).await,
                };
                if let Err(e) = served {
                    tracing::error!(error = %e, "cluster rpc listener failed");
                }
            });
        }
        let shared = Arc::new(Shared {
            raft: raft.clone(),
            store: store.clone(),
            client: client.clone(),
            id: me,
            peers: peers.clone(),
            proposer,
            lead_from: std::sync::atomic::AtomicU64::new(u64::MAX),
            stopped: AtomicBool::new(false),
        });
        let blobs =
            (peers.len() > 1).then(|| crate::data::ClusterBlobs::new(shared.clone(), local_blobs));
        let node = ClusterNode {
            shared,
            blobs,
            rpc,
            rpc_addr,
        };
        if peers.len() > 1 {
            node.check_peers().await?;
        }
        tokio::spawn(watch_leadership(raft.clone(), me, node.shared.clone()));
        let single = peers.len() == 1;
        tokio::spawn(bootstrap::run(
            raft.clone(),
            store,
            peers,
            me,
            client,
            cluster,
        ));
        if single {
            // A node alone need not wait out an election timeout after a restart.
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && raft.metrics().borrow().current_leader.is_none() {
                if raft.is_initialized().await.unwrap_or(false) {
                    let _ = raft.trigger().elect().await;
                }
                let mut rx = raft.metrics();
                let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
            }
        }
        Ok(node)
    }

    /// Refuse to start next to peers that use another secret, another cluster id,
    /// or a peer list that contradicts ours. Peers that are down are not checked.
    async fn check_peers(&self) -> Result<(), ClusterError> {
        let ours = self.shared.client.cluster_id();
        for r in
            bootstrap::poll_peers(&self.shared.client, &self.shared.peers, self.shared.id).await
        {
            match r {
                Ok(st) => {
                    let theirs = PeerList {
                        peers: st.peers.iter().cloned().collect(),
                    };
                    if let Some(detail) = self.shared.peers.conflict(&theirs) {
                        return Err(ClusterError::PeerListMismatch {
                            node: st.id,
                            detail,
                        });
                    }
                    if !ours.is_empty() && !st.cluster_id.is_empty() && ours != st.cluster_id {
                        return Err(ClusterError::ForeignCluster {
                            node: st.id,
                            ours,
                            theirs: st.cluster_id,
                        });
                    }
                }
                Err((id, CallError::Refused { status: 401, .. })) => {
                    return Err(ClusterError::SecretMismatch(id));
                }
                Err((
                    id,
                    CallError::Refused {
                        status: 409,
                        message,
                    },
                )) => {
                    return Err(ClusterError::ForeignCluster {
                        node: id,
                        ours,
                        theirs: message,
                    });
                }
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// The data store of a cluster of several nodes (None: one node).
    pub fn blobs(&self) -> Option<crate::data::ClusterBlobs> {
        self.blobs.clone()
    }

    /// Rebuild, now and then every `interval`, the shards this node should hold
    /// but does not (written while it was down), once it has caught up.
    pub fn spawn_shard_repair(&self, interval: Duration) {
        let Some(blobs) = self.blobs.clone() else {
            return;
        };
        let meta = self.metadata();
        tokio::spawn(async move {
            use hafiz_meta::Metadata;
            while !meta.caught_up(Duration::from_secs(30)).await {}
            loop {
                match meta.referenced_blobs(None).await {
                    Ok(refs) => {
                        if let Err(e) = blobs.repair_local(&refs).await {
                            tracing::warn!(error = %e, "shard repair pass failed");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "shard repair waits for the cluster"),
                }
                tokio::time::sleep(interval).await;
            }
        });
    }

    pub fn metadata(&self) -> ClusterMeta {
        ClusterMeta {
            shared: self.shared.clone(),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.shared.id
    }

    pub fn rpc_address(&self) -> Option<SocketAddr> {
        self.rpc_addr
    }

    pub fn raft(&self) -> &Raft {
        &self.shared.raft
    }

    /// Whether this node leads the metadata group right now (for leader-only work).
    pub fn leader_probe(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let raft = self.shared.raft.clone();
        move || raft.metrics().borrow().state == openraft::ServerState::Leader
    }

    /// This node's view of the cluster, with each member's own answer.
    pub async fn status(&self) -> ClusterStatus {
        let m = self.shared.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership().clone();
        let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut members = Vec::new();
        let leader_log = m.last_log_index;
        for (id, node) in membership.nodes() {
            let (state, term, applied) = if *id == self.shared.id {
                let st = rpc::status_of(&self.rpc).await;
                (st.state, Some(st.term), st.last_applied)
            } else {
                match self
                    .shared
                    .client
                    .call::<_, NodeStatus>(
                        &node.addr,
                        "/cluster/status",
                        &(),
                        Duration::from_secs(1),
                    )
                    .await
                {
                    Ok(st) => (st.state, Some(st.term), st.last_applied),
                    Err(_) => ("Unreachable".to_string(), None, None),
                }
            };
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(id).cloned().flatten())
                .map(|l| l.index);
            let lag = match (leader_log, matched.or(applied)) {
                (Some(l), Some(a)) => Some(l.saturating_sub(a)),
                (Some(l), None) if state != "Unreachable" => Some(l),
                _ => None,
            };
            members.push(MemberStatus {
                id: *id,
                rpc_address: node.addr.clone(),
                role: if voters.contains(id) {
                    "voter"
                } else {
                    "learner"
                }
                .into(),
                state: state.to_lowercase(),
                term,
                last_applied: applied,
                lag,
            });
        }
        ClusterStatus {
            node_id: self.shared.id,
            cluster_id: self.shared.client.cluster_id(),
            leader: m.current_leader,
            term: m.current_term,
            state: format!("{:?}", m.state).to_lowercase(),
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            members,
        }
    }

    /// Add or remove a member (through the leader, wherever it is).
    pub async fn change(&self, change: MembershipChange) -> Result<(), ClusterError> {
        let deadline = Instant::now() + Duration::from_secs(150);
        loop {
            let leader = self
                .shared
                .leader(Instant::now() + Duration::from_secs(10))
                .await
                .ok_or(ClusterError::NoLeader)?;
            let answer = if leader == self.shared.id {
                rpc::change_here(&self.shared.raft, change.clone()).await
            } else {
                let addr = self.shared.addr_of(leader).ok_or(ClusterError::NoLeader)?;
                self.shared
                    .client
                    .call(
                        &addr,
                        "/cluster/membership",
                        &change,
                        Duration::from_secs(150),
                    )
                    .await
                    .map_err(|e| ClusterError::Rpc {
                        node: leader,
                        detail: e.to_string(),
                    })?
            };
            match answer {
                ChangeAnswer::Done => return Ok(()),
                ChangeAnswer::NotLeader(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                ChangeAnswer::NotLeader(_) => return Err(ClusterError::NoLeader),
                ChangeAnswer::Failed(e) => return Err(ClusterError::Raft(e)),
            }
        }
    }

    /// Step down before a stop: a leader with other voters stops its Raft so that
    /// they elect a new leader at once (openraft 0.9 has no leadership transfer; a
    /// stopped leader sends no more heartbeats or entries, so followers' leases run
    /// out), then waits until another node leads. Requests still in flight here
    /// are forwarded to it. Returns how long the handoff took.
    pub async fn step_down(&self, wait: Duration) -> Option<Duration> {
        let m = self.shared.raft.metrics().borrow().clone();
        let others = m
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v != self.shared.id);
        if m.current_leader != Some(self.shared.id) || !others {
            return None;
        }
        let started = Instant::now();
        self.shared.stopped.store(true, Ordering::Release);
        let _ = self.shared.raft.shutdown().await;
        let deadline = started + wait;
        while Instant::now() < deadline {
            if self
                .shared
                .leader(Instant::now() + Duration::from_millis(300))
                .await
                .is_some()
            {
                tracing::info!(after = ?started.elapsed(), "leadership handed off");
                return Some(started.elapsed());
            }
        }
        tracing::warn!("no new leader within {wait:?} of stepping down");
        None
    }

    pub async fn shutdown(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        let _ = self.shared.raft.shutdown().await;
    }
}
