//! What the admin API asks of a running node: drive status, background healing, and
//! where the audit log is.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hafiz_admin::{
    AdminError, AdminResult, ClusterStatus, DriveInfo, HealStatus, NodeStatus, RaftMember,
    RaftStatus,
};
use hafiz_meta::{MetaStore, Metadata};
use hafiz_storage::ErasureStore;

/// Counts of one heal pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct HealCounts {
    pub checked: u64,
    pub damaged: u64,
    pub rebuilt: u64,
    pub failed: u64,
}

/// What a heal pass reports as it goes.
pub enum HealEvent<'a> {
    Damaged {
        id: &'a str,
        shards: &'a [usize],
        rebuilt: usize,
    },
    Failed {
        id: &'a str,
        error: String,
    },
}

/// Verify (and unless `dry_run`, repair) every blob metadata references, or those of
/// one bucket. Shared by `hafiz admin heal` on a stopped node and the admin API.
pub async fn heal_pass(
    meta: &MetaStore,
    blobs: &ErasureStore,
    me: Option<u64>,
    bucket: Option<String>,
    dry_run: bool,
    mut on_event: impl FnMut(HealEvent<'_>),
    mut progress: impl FnMut(HealCounts),
) -> anyhow::Result<HealCounts> {
    let whole = bucket.is_none();
    // This node's shards of cluster blobs, under their local ids; offline (`me`
    // unknown) only the node's own blobs.
    let ids =
        hafiz_cluster::local_view(me.unwrap_or(0), blobs, meta.referenced_blobs(bucket).await?);
    let mut c = HealCounts::default();
    for (id, size) in &ids {
        c.checked += 1;
        match blobs.heal(id, *size, dry_run).await {
            Ok(r) if !r.damaged.is_empty() => {
                c.damaged += 1;
                c.rebuilt += r.rebuilt as u64;
                on_event(HealEvent::Damaged {
                    id,
                    shards: &r.damaged,
                    rebuilt: r.rebuilt,
                });
            }
            Ok(_) => {}
            Err(e) => {
                c.failed += 1;
                on_event(HealEvent::Failed {
                    id,
                    error: e.to_string(),
                });
            }
        }
        progress(c);
    }
    // Only a complete, successful pass over everything makes replaced drives whole.
    if whole && !dry_run && c.failed == 0 {
        blobs.finish_full_heal();
    }
    Ok(c)
}

pub struct NodeControl {
    pub meta: MetaStore,
    pub blobs: ErasureStore,
    pub cluster: Arc<hafiz_cluster::ClusterNode>,
    pub address: String,
    pub audit_dir: Option<PathBuf>,
    heal: Arc<Mutex<HealStatus>>,
}

impl NodeControl {
    pub fn new(
        meta: MetaStore,
        blobs: ErasureStore,
        cluster: Arc<hafiz_cluster::ClusterNode>,
        address: String,
        audit_dir: Option<PathBuf>,
    ) -> NodeControl {
        NodeControl {
            meta,
            blobs,
            cluster,
            address,
            audit_dir,
            heal: Arc::new(Mutex::new(HealStatus {
                state: "idle",
                ..Default::default()
            })),
        }
    }
}

fn now() -> Option<String> {
    Some(hafiz_s3::timefmt::iso8601(hafiz_s3::timefmt::now_millis()))
}

fn membership_error(e: hafiz_cluster::ClusterError) -> AdminError {
    use hafiz_cluster::ClusterError as E;
    match e {
        E::NoLeader => AdminError::conflict("NoLeader", "The cluster has no leader right now."),
        other => AdminError::conflict("MembershipChangeFailed", other.to_string()),
    }
}

#[async_trait::async_trait]
impl hafiz_admin::NodeControl for NodeControl {
    async fn add_node(&self, id: u64, rpc_address: String) -> AdminResult<()> {
        let peer: hafiz_cluster::Peer = format!("{id}={rpc_address}")
            .parse()
            .map_err(|e: hafiz_cluster::ClusterError| AdminError::InvalidRequest(e.to_string()))?;
        self.cluster
            .change(hafiz_cluster::node::MembershipChange::Add {
                id: peer.id,
                addr: peer.addr,
            })
            .await
            .map_err(membership_error)
    }

    async fn remove_node(&self, id: u64) -> AdminResult<()> {
        self.cluster
            .change(hafiz_cluster::node::MembershipChange::Remove { id })
            .await
            .map_err(membership_error)
    }

    async fn cluster(&self) -> ClusterStatus {
        let r = self.cluster.status().await;
        let raft = RaftStatus {
            node_id: r.node_id,
            cluster_id: r.cluster_id,
            leader: r.leader,
            term: r.term,
            state: r.state,
            last_log_index: r.last_log_index,
            last_applied: r.last_applied,
            snapshot_index: r.snapshot_index,
            members: r
                .members
                .into_iter()
                .map(|m| RaftMember {
                    id: m.id,
                    rpc_address: m.rpc_address,
                    role: m.role,
                    state: m.state,
                    term: m.term,
                    last_applied: m.last_applied,
                    lag: m.lag,
                })
                .collect(),
        };
        let drives = self
            .blobs
            .drives()
            .into_iter()
            .map(|d| DriveInfo {
                set: d.set,
                slot: d.slot,
                path: d.path,
                state: d.state.to_string(),
                free_bytes: d.free_bytes,
            })
            .collect();
        ClusterStatus {
            raft,
            nodes: vec![NodeStatus {
                id: self.cluster.node_id().to_string(),
                address: self.address.clone(),
                state: "online",
                drives,
            }],
        }
    }

    fn start_heal(&self, bucket: Option<String>, dry_run: bool) -> AdminResult<HealStatus> {
        let started = {
            let mut s = self.heal.lock().unwrap_or_else(|e| e.into_inner());
            if s.state == "running" {
                return Err(AdminError::conflict(
                    "HealInProgress",
                    "A heal is already running.",
                ));
            }
            *s = HealStatus {
                state: "running",
                bucket: bucket.clone(),
                dry_run,
                started: now(),
                ..Default::default()
            };
            s.clone()
        };
        let (meta, blobs, status) = (self.meta.clone(), self.blobs.clone(), self.heal.clone());
        let me = self.cluster.node_id();
        tokio::spawn(async move {
            let set = |f: &dyn Fn(&mut HealStatus)| {
                f(&mut status.lock().unwrap_or_else(|e| e.into_inner()))
            };
            let result = heal_pass(
                &meta,
                &blobs,
                Some(me),
                bucket,
                dry_run,
                |e| {
                    if let HealEvent::Failed { id, error } = e {
                        tracing::warn!(blob = id, error, "cannot heal");
                    }
                },
                |c| {
                    set(&|s| {
                        s.checked = c.checked;
                        s.damaged = c.damaged;
                        s.rebuilt = c.rebuilt;
                        s.failed = c.failed;
                    })
                },
            )
            .await;
            set(&|s| {
                s.state = if result.is_ok() { "done" } else { "failed" };
                s.finished = now();
            });
            if let Err(e) = result {
                tracing::error!(error = %e, "heal failed");
            }
        });
        Ok(started)
    }

    fn heal_status(&self) -> HealStatus {
        self.heal.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn audit_dir(&self) -> Option<PathBuf> {
        self.audit_dir.clone()
    }
}
