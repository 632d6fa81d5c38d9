//! Errors of the cluster layer.

use crate::types::NodeId;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("metadata store: {0}")]
    Meta(#[from] hafiz_meta::MetaError),
    #[error("raft: {0}")]
    Raft(String),
    #[error("invalid peer {0:?}: expected ID=HOST:PORT with ID >= 1")]
    BadPeer(String),
    #[error("node id {0} is given twice in the peer list")]
    DuplicatePeer(NodeId),
    #[error("node id {0} is not in the peer list (--peer must name every node, itself included)")]
    NotInPeers(NodeId),
    #[error("HAFIZ_CLUSTER_SECRET is required when the cluster has more than one node")]
    NoSecret,
    #[error("the cluster secret does not match node {0}'s (its RPC refused our signature)")]
    SecretMismatch(NodeId),
    #[error("the peer list disagrees with node {node}'s: {detail}")]
    PeerListMismatch { node: NodeId, detail: String },
    #[error(
        "this data directory belongs to cluster {ours}, but node {node} is in cluster {theirs}: refusing to join"
    )]
    ForeignCluster {
        node: NodeId,
        ours: String,
        theirs: String,
    },
    #[error("cannot listen on {addr} (rpc): {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot build the rpc client: {0}")]
    Client(String),
    #[error("rpc to node {node}: {detail}")]
    Rpc { node: NodeId, detail: String },
    #[error("no leader")]
    NoLeader,
}
