//! Hafiz as a cluster: the metadata store replicated by one openraft group, the
//! node-to-node RPC that carries Raft and forwarded requests, and the formation and
//! membership of the cluster.
//!
//! The seam is `hafiz_meta::Metadata`: [`ClusterMeta`] implements it by turning every
//! mutation into a Raft entry (forwarded to the leader when this node is not it) and
//! every read into a linearizable read (read-index). The state machine is the
//! unchanged `MetaStore::apply`, so a 1-node cluster and a 5-node cluster run the
//! same code.

pub mod auth;
mod bootstrap;
pub mod data;
pub mod error;
mod metadata;
mod network;
pub mod node;
pub mod peers;
mod propose;
mod rpc;
mod shard;
mod storage;
pub mod types;
mod wire;

pub use data::{ClusterBlobs, local_view};
pub use error::ClusterError;
pub use metadata::ClusterMeta;
pub use node::{ClusterConfig, ClusterNode, ClusterStatus, MemberStatus, RpcTls};
pub use peers::{Peer, PeerList};
pub use shard::{MetaShard, ShardId};
