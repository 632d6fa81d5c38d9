//! The Raft type configuration: entries carry metadata [`Command`]s and answer with
//! the command's outcome or its refusal; snapshots are files.

use hafiz_meta::{Command, Outcome};

use crate::wire::WireError;

/// What applying one entry answers: the outcome, or the domain error the state
/// machine refused it with (the same on every node, since `apply` is deterministic).
pub type Reply = Result<Outcome, WireError>;

/// One log entry's payload: commands applied in order, each atomically (see
/// [`crate::propose`] for why there are several).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Proposal {
    pub commands: Vec<Command>,
}

openraft::declare_raft_types!(
    /// Hafiz's Raft types.
    pub TypeConfig:
        D = Proposal,
        R = Vec<Reply>,
        NodeId = u64,
        Node = openraft::BasicNode,
        SnapshotData = tokio::fs::File,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
pub type StorageError = openraft::StorageError<NodeId>;
