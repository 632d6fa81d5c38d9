//! Hafiz metadata: the model (buckets, object versions, multipart uploads), the
//! commands that change it, and the RocksDB-backed store that applies them.
//!
//! Every mutation is a serializable [`Command`] applied by one function
//! ([`MetaStore::apply`]), one RocksDB write batch per command. The cluster work puts
//! openraft in front of `apply` without the S3 layer noticing: handlers only see the
//! [`Metadata`] trait.

pub mod command;
pub mod completed;
pub mod days;
pub mod error;
pub mod events;
pub mod iam;
pub mod jobs;
mod keys;
mod kv;
pub mod list;
pub mod model;
mod queue;
mod replicated;
pub mod replication;
pub mod settings;
mod stamp;
mod store;

pub use command::{
    BucketChange, Command, ObjectChange, Outcome, TIER_DELETE_JOB, TIER_SETTING_PREFIX,
    WriteCondition,
};
pub use error::{Entity, MetaError, MetaResult};
pub use kv::KvStats;
pub use list::{
    ListPage, ListQuery, ListedEntry, UploadListPage, UploadListQuery, VersionEntry,
    VersionListPage, VersionListQuery,
};
pub use model::*;
pub use stamp::{Stamp, new_delete_marker, stamp};
pub use store::{MetaStats, MetaStore};

use async_trait::async_trait;

/// What the S3 layer needs from metadata. One implementation today (a single node's
/// RocksDB); the Raft-replicated store implements the same trait.
#[async_trait]
pub trait Metadata: Send + Sync + 'static {
    /// Apply one mutation atomically and durably.
    async fn apply(&self, cmd: Command) -> MetaResult<Outcome>;
    async fn bucket(&self, name: &str) -> MetaResult<Option<BucketInfo>>;
    async fn buckets(&self) -> MetaResult<Vec<BucketInfo>>;
    /// The current version of a key (None if absent).
    async fn object(&self, bucket: &str, key: &str) -> MetaResult<Option<ObjectVersion>>;
    /// One version by id (`null` included); None if the key has no such version.
    async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> MetaResult<Option<ObjectVersion>>;
    async fn list_objects(&self, bucket: &str, query: ListQuery) -> MetaResult<ListPage>;
    async fn list_versions(
        &self,
        bucket: &str,
        query: VersionListQuery,
    ) -> MetaResult<VersionListPage>;
    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> MetaResult<Option<UploadInfo>>;
    /// The record of a multipart upload completed within [`completed::COMPLETED_TTL`]
    /// (expired records may still be returned: check [`completed::CompletedUpload::live`]).
    async fn completed_upload(
        &self,
        upload_id: &str,
    ) -> MetaResult<Option<completed::CompletedUpload>>;
    /// Parts of an upload with number > `after`, at most `max`.
    async fn parts(&self, upload_id: &str, after: u32, max: usize) -> MetaResult<Vec<PartInfo>>;
    async fn list_uploads(
        &self,
        bucket: &str,
        query: UploadListQuery,
    ) -> MetaResult<UploadListPage>;
    /// Blob ids referenced by metadata, with their sizes: of one bucket's objects, or
    /// of everything (objects and multipart parts) when `bucket` is None. Used to find
    /// orphans and to drive healing.
    async fn referenced_blobs(
        &self,
        bucket: Option<String>,
    ) -> MetaResult<std::collections::HashMap<String, u64>>;
    /// Whether the store can take writes.
    async fn ready(&self) -> bool;
    async fn iam_user(&self, name: &str) -> MetaResult<Option<iam::IamUser>>;
    async fn iam_users(&self) -> MetaResult<Vec<iam::IamUser>>;
    async fn iam_group(&self, name: &str) -> MetaResult<Option<iam::IamGroup>>;
    async fn iam_policy(&self, name: &str) -> MetaResult<Option<iam::ManagedPolicy>>;
    async fn iam_policies(&self) -> MetaResult<Vec<iam::ManagedPolicy>>;
    async fn access_key(&self, id: &str) -> MetaResult<Option<iam::AccessKey>>;
    async fn access_keys(&self, user: &str) -> MetaResult<Vec<iam::AccessKey>>;
    /// Changes whenever an IAM command is applied: callers cache what they derive
    /// from IAM rows (parsed policies) and drop it when this moves.
    fn iam_generation(&self) -> u64;
    async fn iam_groups(&self) -> MetaResult<Vec<iam::IamGroup>>;
    async fn account(&self, name: &str) -> MetaResult<Option<iam::Account>>;
    async fn accounts(&self) -> MetaResult<Vec<iam::Account>>;
    async fn rate_limits(&self) -> MetaResult<Vec<iam::RateLimit>>;
    /// The cluster's root credentials, once recorded (`IamCommand::SetRootIfAbsent`).
    async fn root_credentials(&self) -> MetaResult<Option<iam::RootCredentials>>;
    /// Bytes and object versions a bucket holds (exact: kept by `apply`).
    async fn bucket_usage(&self, bucket: &str) -> MetaResult<Usage>;
    /// The sum of the usage of an account's buckets.
    async fn account_usage(&self, account: &str) -> MetaResult<Usage>;
    async fn job(&self, id: &str) -> MetaResult<Option<jobs::Job>>;
    /// Jobs in id (creation) order.
    async fn jobs(&self, query: jobs::JobQuery) -> MetaResult<Vec<jobs::Job>>;
    async fn job_counts(&self) -> MetaResult<jobs::JobCounts>;
    async fn job_schedules(&self) -> MetaResult<Vec<jobs::Schedule>>;
    /// Cluster-wide settings whose keys start with `prefix`, in key order.
    async fn settings(&self, prefix: &str) -> MetaResult<Vec<(String, Vec<u8>)>>;
    /// Changes whenever a setting is written (caches of settings compare it).
    fn settings_generation(&self) -> u64;
    /// The copies a tier holds (objects) and their bytes.
    async fn tier_usage(&self, tier: &str) -> MetaResult<Usage>;
    /// Up to `limit` events queued for `target`, from sequence number `from` on.
    async fn queued_events(
        &self,
        target: &str,
        from: u64,
        limit: usize,
    ) -> MetaResult<Vec<events::QueuedEvent>>;
    /// Every target's event queue.
    async fn event_queues(&self) -> MetaResult<Vec<(String, events::QueueState)>>;
    /// Changes whenever a command queues events or replications (deliverers wait on it).
    fn events_generation(&self) -> u64;
    /// Up to `limit` replications queued for `target`, from sequence number `from` on.
    async fn queued_replications(
        &self,
        target: &str,
        from: u64,
        limit: usize,
    ) -> MetaResult<Vec<replication::QueuedReplication>>;
    /// Every replication target that has (or had) a queue, with its state.
    async fn replication_queues(&self) -> MetaResult<Vec<(String, replication::QueueState)>>;
}
