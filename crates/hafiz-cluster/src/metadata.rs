//! [`ClusterMeta`]: the `Metadata` the gateway sees in a cluster. Writes become Raft
//! entries, proposed here when this node leads and forwarded to the leader
//! otherwise; reads are linearizable (S3's read-after-write): the leader confirms
//! its leadership with a quorum (read-index) and the read waits until this node has
//! applied up to that index, then reads the local store.

use hafiz_meta::jobs::{Job, JobCounts, JobQuery, Schedule};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hafiz_meta::iam::{AccessKey, Account, IamGroup, IamUser, ManagedPolicy, RateLimit};
use hafiz_meta::{
    BucketInfo, Command, ListPage, ListQuery, MetaError, MetaResult, MetaStore, Metadata,
    ObjectVersion, Outcome, PartInfo, UploadInfo, UploadListPage, UploadListQuery, Usage,
    VersionListPage, VersionListQuery,
};

use crate::network::PeerClient;
use crate::peers::PeerList;
use crate::rpc::{self, NodeStatus, ReadIndexAnswer, WriteAnswer};
use crate::types::{NodeId, Raft};

/// How long a request waits for a leader (an election, a partition healing) before
/// it is answered 503.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const RETRY: Duration = Duration::from_millis(50);

pub(crate) struct Shared {
    pub raft: Raft,
    pub store: MetaStore,
    pub client: PeerClient,
    pub id: NodeId,
    pub peers: PeerList,
    pub proposer: crate::propose::Proposer,
    /// While this node leads: the last log index it held when it took the lead
    /// (u64::MAX otherwise). Entries up to there may have been acknowledged by an
    /// earlier incarnation (before a restart) without being applied here yet.
    pub lead_from: AtomicU64,
    /// Set once this node stepped down (its Raft stopped at shutdown): requests
    /// still in flight find the leader by asking the peers.
    pub stopped: AtomicBool,
}

#[derive(Clone)]
pub struct ClusterMeta {
    pub(crate) shared: Arc<Shared>,
}

fn unavailable(what: &str) -> MetaError {
    MetaError::Unavailable(format!("{what}: no leader answered in time"))
}

impl Shared {
    /// The address of a member's RPC listener: from the Raft membership, else from
    /// the peer list.
    pub fn addr_of(&self, id: NodeId) -> Option<String> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        m.membership()
            .get_node(&id)
            .map(|n| n.addr.clone())
            .or_else(|| self.peers.addr(id).map(str::to_string))
    }

    /// Ask every peer who leads (when this node's own view is gone).
    async fn leader_from_peers(&self) -> Option<NodeId> {
        let calls = self
            .peers
            .as_pairs()
            .into_iter()
            .filter(|(id, _)| *id != self.id)
            .map(|(_, addr)| {
                let client = self.client.clone();
                async move {
                    client
                        .call::<_, NodeStatus>(
                            &addr,
                            "/cluster/status",
                            &(),
                            Duration::from_secs(1),
                        )
                        .await
                        .ok()
                        .and_then(|s| s.leader)
                }
            });
        futures_first(calls).await.filter(|l| *l != self.id)
    }

    /// The current leader, waiting for one until `deadline`.
    pub async fn leader(&self, deadline: Instant) -> Option<NodeId> {
        let mut rx = self.raft.metrics();
        loop {
            if self.stopped.load(Ordering::Acquire) {
                if let Some(l) = self.leader_from_peers().await {
                    return Some(l);
                }
            } else if let Some(l) = rx.borrow_and_update().current_leader {
                return Some(l);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let wait = left.min(Duration::from_millis(200));
            let _ = tokio::time::timeout(wait, rx.changed()).await;
        }
    }

    pub async fn write(&self, cmd: Command) -> MetaResult<Outcome> {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        loop {
            let Some(leader) = self.leader(deadline).await else {
                return Err(unavailable("write"));
            };
            let answer = if leader == self.id && !self.stopped.load(Ordering::Acquire) {
                self.proposer.propose(cmd.clone()).await
            } else {
                match self.addr_of(leader) {
                    Some(addr) => self
                        .client
                        .call(&addr, "/cluster/write", &cmd, WRITE_TIMEOUT)
                        .await
                        .unwrap_or_else(|e| WriteAnswer::Unavailable(e.to_string())),
                    None => WriteAnswer::NotLeader(None),
                }
            };
            match answer {
                WriteAnswer::Done(reply) => return reply.map_err(Into::into),
                WriteAnswer::NotLeader(_) | WriteAnswer::Unavailable(_)
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(RETRY).await
                }
                WriteAnswer::NotLeader(_) => return Err(unavailable("write")),
                WriteAnswer::Unavailable(e) => return Err(MetaError::Unavailable(e)),
            }
        }
    }

    /// Whether this node is a cluster of one that has applied everything committed
    /// before its current term: then the local store is linearizable as it is. No
    /// other node can lead, and every write acknowledged since was applied here
    /// before it was acknowledged.
    fn sole_voter_caught_up(&self) -> bool {
        if self.stopped.load(Ordering::Acquire) {
            return false;
        }
        let m = self.raft.metrics();
        let m = m.borrow();
        m.current_leader == Some(self.id)
            && m.last_applied
                .is_some_and(|l| l.leader_id.term == m.current_term)
            && {
                let mut voters = m.membership_config.membership().voter_ids();
                voters.next() == Some(self.id) && voters.next().is_none()
            }
    }

    /// Return once a read of the local store is linearizable.
    pub async fn linearize(&self) -> MetaResult<()> {
        if self.sole_voter_caught_up() {
            return Ok(());
        }
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            let Some(leader) = self.leader(deadline).await else {
                return Err(unavailable("read"));
            };
            let local = leader == self.id && !self.stopped.load(Ordering::Acquire);
            let answer = if local {
                // Waits for the local apply itself.
                rpc::read_index_here(&self.raft).await
            } else {
                match self.addr_of(leader) {
                    Some(addr) => self
                        .client
                        .call(&addr, "/cluster/read-index", &(), READ_TIMEOUT)
                        .await
                        .unwrap_or_else(|e| ReadIndexAnswer::Unavailable(e.to_string())),
                    None => ReadIndexAnswer::NotLeader(None),
                }
            };
            match answer {
                ReadIndexAnswer::Index(index) => {
                    // A leader also waits for the entries it held when it took the
                    // lead: openraft's read index is its commit index, which after a
                    // restart may not cover entries acknowledged before it.
                    let from = self.lead_from.load(Ordering::Acquire);
                    let index = if local && from != u64::MAX {
                        index.max(Some(from))
                    } else {
                        index
                    };
                    if index.is_some() {
                        let left = deadline.saturating_duration_since(Instant::now());
                        self.raft
                            .wait(Some(left))
                            .applied_index_at_least(index, "linearizable read")
                            .await
                            .map_err(|_| unavailable("read (catching up)"))?;
                    }
                    return Ok(());
                }
                _ if Instant::now() < deadline => tokio::time::sleep(RETRY).await,
                ReadIndexAnswer::Unavailable(e) => return Err(MetaError::Unavailable(e)),
                ReadIndexAnswer::NotLeader(_) => return Err(unavailable("read")),
            }
        }
    }
}

/// The first `Some` of several concurrent lookups (None when all say None).
async fn futures_first<F>(calls: impl Iterator<Item = F>) -> Option<NodeId>
where
    F: std::future::Future<Output = Option<NodeId>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for c in calls {
        set.spawn(c);
    }
    while let Some(r) = set.join_next().await {
        if let Ok(Some(l)) = r {
            return Some(l);
        }
    }
    None
}

impl Shared {
    /// Wait until this node has applied every entry its log holds now (at start:
    /// what an earlier run of the node may have acknowledged). Bounded by `timeout`.
    pub async fn applied_own_log(&self, timeout: Duration) -> bool {
        let last = self.raft.metrics().borrow().last_log_index;
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(last, "own log applied")
            .await
            .is_ok()
    }
}

impl ClusterMeta {
    /// Wait until this node has applied every entry of its own log (see
    /// [`Shared::applied_own_log`]); before that its store may miss writes that
    /// were acknowledged.
    pub async fn caught_up(&self, timeout: Duration) -> bool {
        self.shared.applied_own_log(timeout).await
    }

    /// The node's local store (for what is node-local: mirrors, engine stats).
    pub fn local(&self) -> &MetaStore {
        &self.shared.store
    }
}

#[async_trait]
impl Metadata for ClusterMeta {
    async fn apply(&self, cmd: Command) -> MetaResult<Outcome> {
        self.shared.write(cmd).await
    }
    async fn bucket(&self, name: &str) -> MetaResult<Option<BucketInfo>> {
        self.shared.linearize().await?;
        self.shared.store.bucket(name).await
    }
    async fn buckets(&self) -> MetaResult<Vec<BucketInfo>> {
        self.shared.linearize().await?;
        self.shared.store.buckets().await
    }
    async fn object(&self, bucket: &str, key: &str) -> MetaResult<Option<ObjectVersion>> {
        self.shared.linearize().await?;
        self.shared.store.object(bucket, key).await
    }
    async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> MetaResult<Option<ObjectVersion>> {
        self.shared.linearize().await?;
        self.shared
            .store
            .object_version(bucket, key, version_id)
            .await
    }
    async fn list_objects(&self, bucket: &str, query: ListQuery) -> MetaResult<ListPage> {
        self.shared.linearize().await?;
        self.shared.store.list_objects(bucket, query).await
    }
    async fn list_versions(
        &self,
        bucket: &str,
        query: VersionListQuery,
    ) -> MetaResult<VersionListPage> {
        self.shared.linearize().await?;
        self.shared.store.list_versions(bucket, query).await
    }
    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> MetaResult<Option<UploadInfo>> {
        self.shared.linearize().await?;
        self.shared.store.upload(bucket, key, upload_id).await
    }
    async fn completed_upload(
        &self,
        upload_id: &str,
    ) -> MetaResult<Option<hafiz_meta::completed::CompletedUpload>> {
        self.shared.linearize().await?;
        self.shared.store.completed_upload(upload_id).await
    }
    async fn parts(&self, upload_id: &str, after: u32, max: usize) -> MetaResult<Vec<PartInfo>> {
        self.shared.linearize().await?;
        self.shared.store.parts(upload_id, after, max).await
    }
    async fn list_uploads(
        &self,
        bucket: &str,
        query: UploadListQuery,
    ) -> MetaResult<UploadListPage> {
        self.shared.linearize().await?;
        self.shared.store.list_uploads(bucket, query).await
    }
    async fn referenced_blobs(&self, bucket: Option<String>) -> MetaResult<HashMap<String, u64>> {
        self.shared.linearize().await?;
        self.shared.store.referenced_blobs(bucket).await
    }
    async fn ready(&self) -> bool {
        !self.shared.stopped.load(Ordering::Acquire)
            && self.shared.raft.metrics().borrow().current_leader.is_some()
    }
    async fn iam_user(&self, name: &str) -> MetaResult<Option<IamUser>> {
        self.shared.linearize().await?;
        self.shared.store.iam_user(name).await
    }
    async fn iam_users(&self) -> MetaResult<Vec<IamUser>> {
        self.shared.linearize().await?;
        self.shared.store.iam_users().await
    }
    async fn iam_group(&self, name: &str) -> MetaResult<Option<IamGroup>> {
        self.shared.linearize().await?;
        self.shared.store.iam_group(name).await
    }
    async fn iam_policy(&self, name: &str) -> MetaResult<Option<ManagedPolicy>> {
        self.shared.linearize().await?;
        self.shared.store.iam_policy(name).await
    }
    async fn iam_policies(&self) -> MetaResult<Vec<ManagedPolicy>> {
        self.shared.linearize().await?;
        self.shared.store.iam_policies().await
    }
    async fn access_key(&self, id: &str) -> MetaResult<Option<AccessKey>> {
        self.shared.linearize().await?;
        self.shared.store.access_key(id).await
    }
    async fn access_keys(&self, user: &str) -> MetaResult<Vec<AccessKey>> {
        self.shared.linearize().await?;
        self.shared.store.access_keys(user).await
    }
    fn iam_generation(&self) -> u64 {
        self.shared.store.iam_generation()
    }
    async fn iam_groups(&self) -> MetaResult<Vec<IamGroup>> {
        self.shared.linearize().await?;
        self.shared.store.iam_groups().await
    }
    async fn account(&self, name: &str) -> MetaResult<Option<Account>> {
        self.shared.linearize().await?;
        self.shared.store.account(name).await
    }
    async fn accounts(&self) -> MetaResult<Vec<Account>> {
        self.shared.linearize().await?;
        self.shared.store.accounts().await
    }
    async fn rate_limits(&self) -> MetaResult<Vec<RateLimit>> {
        self.shared.linearize().await?;
        self.shared.store.rate_limits().await
    }
    async fn root_credentials(&self) -> MetaResult<Option<hafiz_meta::iam::RootCredentials>> {
        self.shared.linearize().await?;
        self.shared.store.root_credentials().await
    }
    async fn bucket_usage(&self, bucket: &str) -> MetaResult<Usage> {
        self.shared.linearize().await?;
        self.shared.store.bucket_usage(bucket).await
    }
    async fn account_usage(&self, account: &str) -> MetaResult<Usage> {
        self.shared.linearize().await?;
        self.shared.store.account_usage(account).await
    }
    async fn job(&self, id: &str) -> MetaResult<Option<Job>> {
        self.shared.linearize().await?;
        self.shared.store.job(id).await
    }
    async fn jobs(&self, query: JobQuery) -> MetaResult<Vec<Job>> {
        self.shared.linearize().await?;
        self.shared.store.jobs(query).await
    }
    async fn job_counts(&self) -> MetaResult<JobCounts> {
        self.shared.linearize().await?;
        self.shared.store.job_counts().await
    }
    async fn job_schedules(&self) -> MetaResult<Vec<Schedule>> {
        self.shared.linearize().await?;
        self.shared.store.job_schedules().await
    }
    async fn settings(&self, prefix: &str) -> MetaResult<Vec<(String, Vec<u8>)>> {
        self.shared.linearize().await?;
        self.shared.store.settings(prefix).await
    }
    fn settings_generation(&self) -> u64 {
        self.shared.store.settings_generation()
    }
    async fn tier_usage(&self, tier: &str) -> MetaResult<Usage> {
        self.shared.linearize().await?;
        self.shared.store.tier_usage(tier).await
    }
    async fn queued_events(
        &self,
        target: &str,
        from: u64,
        limit: usize,
    ) -> MetaResult<Vec<hafiz_meta::events::QueuedEvent>> {
        // The deliverer runs on the leader, whose applied state holds every
        // committed event; no read barrier per batch.
        self.shared.store.queued_events(target, from, limit).await
    }
    async fn event_queues(&self) -> MetaResult<Vec<(String, hafiz_meta::events::QueueState)>> {
        self.shared.linearize().await?;
        self.shared.store.event_queues().await
    }
    fn events_generation(&self) -> u64 {
        self.shared.store.events_generation()
    }
    async fn queued_replications(
        &self,
        target: &str,
        from: u64,
        limit: usize,
    ) -> MetaResult<Vec<hafiz_meta::replication::QueuedReplication>> {
        // Drained on the leader, like the event queues: no read barrier per batch.
        self.shared
            .store
            .queued_replications(target, from, limit)
            .await
    }
    async fn replication_queues(
        &self,
    ) -> MetaResult<Vec<(String, hafiz_meta::replication::QueueState)>> {
        self.shared.linearize().await?;
        self.shared.store.replication_queues().await
    }
}
