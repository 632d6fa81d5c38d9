//! Group commit through Raft: commands proposed while earlier proposals are in
//! flight are gathered into one log entry, so a burst of writes costs one log
//! append (one fsync) and one round of replication, not one per request.
//! openraft 0.9 appends each entry synchronously in its core, so batching here is
//! what keeps a PUT-heavy load from being bounded by one fsync per request.

use std::sync::Arc;

use hafiz_meta::Command;
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::rpc::WriteAnswer;
use crate::types::{Proposal, Raft};

/// Commands per entry at most (bounds an entry's size and apply time).
const MAX_BATCH: usize = 256;
/// Entries in flight at once: the next batch is appended while the previous one
/// is replicated and applied.
const IN_FLIGHT: usize = 2;

type Pending = (Command, oneshot::Sender<WriteAnswer>);

#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Pending>,
}

impl Proposer {
    pub fn start(raft: Raft) -> Proposer {
        let (tx, rx) = mpsc::channel::<Pending>(4096);
        tokio::spawn(run(raft, rx));
        Proposer { tx }
    }

    /// Propose one command on this node's Raft (the answer says when this node is
    /// not the leader).
    pub async fn propose(&self, cmd: Command) -> WriteAnswer {
        let (tx, rx) = oneshot::channel();
        if self.tx.send((cmd, tx)).await.is_err() {
            return WriteAnswer::Unavailable("the proposer stopped".into());
        }
        rx.await
            .unwrap_or_else(|_| WriteAnswer::Unavailable("the proposer stopped".into()))
    }
}

async fn run(raft: Raft, mut rx: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for a slot first: what arrives meanwhile joins this batch.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let (commands, waiters): (Vec<Command>, Vec<_>) = batch.into_iter().unzip();
            metrics::histogram!("hafiz_cluster_commands_per_entry").record(commands.len() as f64);
            match raft.client_write(Proposal { commands }).await {
                Ok(r) => {
                    for (reply, w) in r.data.into_iter().zip(waiters) {
                        let _ = w.send(WriteAnswer::Done(reply));
                    }
                }
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                    for w in waiters {
                        let _ = w.send(WriteAnswer::NotLeader(f.leader_id));
                    }
                }
                Err(e) => {
                    for w in waiters {
                        let _ = w.send(WriteAnswer::Unavailable(e.to_string()));
                    }
                }
            }
            drop(permit);
        });
    }
}
