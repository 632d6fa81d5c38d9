//! The command line of `hafiz admin` for the admin API (docs/admin.md, "The CLI").

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::alias::DEFAULT_REGION;
use super::size::parse_size;

#[derive(Subcommand)]
pub enum ClusterAction {
    /// Add a running node (started with the cluster's secret): as a learner, then a
    /// voter once it has caught up.
    Add {
        /// Its --node-id
        id: u64,
        /// Its --rpc-address as the other nodes reach it (HOST:PORT)
        rpc_address: String,
    },
    /// Remove a node from the metadata group.
    Remove { id: u64 },
}

#[derive(Subcommand)]
pub enum ApiCmd {
    /// Named admin endpoints and their keys, kept in $HAFIZ_CONFIG_DIR/aliases.json.
    Alias {
        #[command(subcommand)]
        command: AliasCmd,
    },
    /// Server version, uptime, usage and drive count.
    Info { alias: String },
    /// Nodes, the metadata Raft group (roles, term, applied index, lag) and drives;
    /// `add`/`remove` change the membership.
    Cluster {
        alias: String,
        #[command(subcommand)]
        action: Option<ClusterAction>,
    },
    /// IAM users.
    User {
        #[command(subcommand)]
        command: UserCmd,
    },
    /// Access keys of IAM users.
    Key {
        #[command(subcommand)]
        command: KeyCmd,
    },
    /// IAM groups.
    Group {
        #[command(subcommand)]
        command: GroupCmd,
    },
    /// Managed IAM policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCmd,
    },
    /// Buckets, their versioning, quota and policy.
    Bucket {
        #[command(subcommand)]
        command: BucketCmd,
    },
    /// Accounts (tenants) and their quotas.
    Account {
        #[command(subcommand)]
        command: AccountCmd,
    },
    /// Request and bandwidth limits per access key or bucket.
    Ratelimit {
        #[command(subcommand)]
        command: RateLimitCmd,
    },
    /// The background job queue (lifecycle, transitions, deliveries, ...).
    Jobs {
        #[command(subcommand)]
        command: JobsCmd,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCmd,
    },
    /// Tiers: local drive sets and remote S3 buckets, exposed as storage classes.
    Tier {
        #[command(subcommand)]
        command: TierCmd,
    },
    /// Notification targets: where bucket events are delivered (webhook, Redis,
    /// NATS, MQTT, AMQP, Kafka, PostgreSQL, or a chain of routes to them).
    Notify {
        #[command(subcommand)]
        command: NotifyCmd,
    },
    /// Replication targets (buckets of other clusters or S3 endpoints) and resyncs.
    Replicate {
        #[command(subcommand)]
        command: ReplicateCmd,
    },
    /// The built-in key service of server-side encryption: its keys and master key.
    Kms {
        #[command(subcommand)]
        command: KmsCmd,
    },
}

#[derive(Subcommand)]
pub enum KmsCmd {
    /// Every key (built-in ones too) with its state and current version.
    List { alias: String },
    /// Create a key (SSE-KMS requests name it as SSEKMSKeyId).
    Create {
        alias: String,
        /// 1-128 of A-Z a-z 0-9 - _ / . (default: a generated UUID)
        id: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// One key and its versions.
    Info { alias: String, id: String },
    /// Let a disabled key encrypt and decrypt again.
    Enable { alias: String, id: String },
    /// Refuse every read and write of the objects the key protects (KMS.DisabledException).
    Disable { alias: String, id: String },
    /// A new current version of the key; objects keep the version that encrypted them.
    Rotate { alias: String, id: String },
    /// Replace the generated master key and re-seal every key with the new one.
    RotateMaster { alias: String },
    /// The master key's id and the number of keys.
    Status { alias: String },
}

#[derive(Args)]
pub struct ReplicateAdd {
    pub alias: String,
    /// The target's id: its ARN is arn:hafiz:replication::ID:BUCKET
    pub id: String,
    /// The other cluster's S3 endpoint, e.g. http://dr.example:9000
    #[arg(long)]
    pub endpoint: String,
    /// The destination bucket there (versioning enabled)
    #[arg(long)]
    pub bucket: String,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub access_key: String,
    /// Better from the environment
    #[arg(long, env = "HAFIZ_REPLICATION_SECRET_KEY", hide_env_values = true)]
    pub secret_key: String,
    /// Per request, in milliseconds (default 60000)
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Save without reaching the bucket first
    #[arg(long)]
    pub no_check: bool,
}

#[derive(Subcommand)]
pub enum ReplicateCmd {
    /// Add a replication target (checked with HeadBucket, unless --no-check).
    Add(Box<ReplicateAdd>),
    /// Every target with its ARN and the replications waiting for it.
    List { alias: String },
    /// One target, by ARN.
    Info { alias: String, arn: String },
    /// Remove a target no bucket replicates to (its queue goes with it).
    Remove { alias: String, arn: String },
    /// Replicate a bucket's existing objects (a job; `hafiz admin jobs` shows it).
    Resync {
        alias: String,
        bucket: String,
        /// Also objects replicated already (default: those not replicated yet, or failed)
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args)]
pub struct NotifyAdd {
    pub alias: String,
    /// The target's id: its ARN is arn:hafiz:sqs::ID:KIND
    pub id: String,
    #[arg(long, value_parser = ["webhook", "redis", "nats", "mqtt", "amqp", "kafka", "postgres", "chain"])]
    pub kind: String,
    /// http(s)://…, redis://host:port, nats://host:port, mqtt://host:port, amqp://host:port/vhost,
    /// kafka://host:port[,host:port…] (bootstrap brokers), postgres://host:port/dbname (no TLS)
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Redis key, NATS subject, MQTT topic, AMQP exchange, Kafka topic or PostgreSQL table
    /// (table or schema.table)
    #[arg(long)]
    pub destination: Option<String>,
    /// AMQP routing key (a queue's name with the default exchange)
    #[arg(long)]
    pub routing_key: Option<String>,
    /// Redis: stream (XADD, the default) or list (RPUSH); PostgreSQL: namespace (a row per
    /// object, the default) or access (a row per event)
    #[arg(long)]
    pub format: Option<String>,
    #[arg(long)]
    pub username: Option<String>,
    /// Broker password or the webhook's Authorization value (better from the environment)
    #[arg(long, env = "HAFIZ_NOTIFY_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Webhook: key of the X-Hafiz-Signature HMAC-SHA256 header
    #[arg(long, env = "HAFIZ_NOTIFY_HMAC_SECRET", hide_env_values = true)]
    pub hmac_secret: Option<String>,
    /// Per delivery attempt, in milliseconds (default 5000)
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Failed attempts in a row before the head event is dead-lettered (0: wait for the target)
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Chain: the routes as JSON, e.g. '[{"target":"arn:hafiz:sqs::a:webhook","events":["s3:ObjectCreated:*"],"key":"images/**"}]'
    #[arg(long)]
    pub routes: Option<String>,
    /// Save without connecting to the target first
    #[arg(long)]
    pub no_check: bool,
}

#[derive(Subcommand)]
pub enum NotifyCmd {
    /// Add a notification target (checked by connecting to it, unless --no-check).
    Add(Box<NotifyAdd>),
    /// Every target with its ARN and the events waiting for it (secrets are never shown).
    List { alias: String },
    /// One target, by ARN.
    Info { alias: String, arn: String },
    /// Remove a target no bucket and no chain sends to (its queue goes with it).
    Remove { alias: String, arn: String },
}

#[derive(Subcommand)]
pub enum AliasCmd {
    /// Add or replace an alias.
    Set {
        name: String,
        /// The admin listener, e.g. http://127.0.0.1:9001 (https:// when it has --tls-cert)
        url: String,
        access_key: String,
        secret_key: String,
        /// The server's region, part of every signature
        #[arg(long, default_value = DEFAULT_REGION)]
        region: String,
    },
    List,
    Remove {
        name: String,
    },
}

#[derive(Subcommand)]
pub enum UserCmd {
    Add {
        alias: String,
        name: String,
        /// Account (tenant) of the user [default: the default account]
        #[arg(long)]
        account: Option<String>,
    },
    List {
        alias: String,
    },
    Info {
        alias: String,
        name: String,
    },
    /// Delete a user with its keys; its policies and groups are detached.
    Remove {
        alias: String,
        name: String,
    },
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create an access key; its secret is shown this once.
    Add {
        alias: String,
        user: String,
    },
    List {
        alias: String,
        user: String,
    },
    Enable(KeyRef),
    Disable(KeyRef),
    Remove(KeyRef),
}

#[derive(Args)]
pub struct KeyRef {
    pub alias: String,
    pub user: String,
    pub key_id: String,
}

#[derive(Subcommand)]
pub enum GroupCmd {
    Add {
        alias: String,
        name: String,
    },
    List {
        alias: String,
    },
    Info {
        alias: String,
        name: String,
    },
    Remove {
        alias: String,
        name: String,
    },
    /// Group membership.
    Member {
        #[command(subcommand)]
        command: MemberCmd,
    },
}

#[derive(Subcommand)]
pub enum MemberCmd {
    Add(Membership),
    Remove(Membership),
}

#[derive(Args)]
pub struct Membership {
    pub alias: String,
    pub group: String,
    pub user: String,
}

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Create a policy from a JSON document file ("-" reads standard input).
    Add {
        alias: String,
        name: String,
        file: PathBuf,
    },
    List {
        alias: String,
    },
    Info {
        alias: String,
        name: String,
    },
    /// Delete a policy (refused while it is attached).
    Remove {
        alias: String,
        name: String,
    },
    Attach(Attachment),
    Detach(Attachment),
}

#[derive(Args)]
pub struct Attachment {
    pub alias: String,
    pub policy: String,
    #[command(flatten)]
    pub target: PolicyTarget,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct PolicyTarget {
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub group: Option<String>,
}

#[derive(Subcommand)]
pub enum BucketCmd {
    Add {
        alias: String,
        name: String,
        /// Owning account [default: the default account]
        #[arg(long)]
        account: Option<String>,
        /// Enable versioning from the start
        #[arg(long)]
        versioning: bool,
        /// Enable object lock (implies versioning)
        #[arg(long)]
        object_lock: bool,
    },
    List {
        alias: String,
    },
    Info {
        alias: String,
        name: String,
    },
    /// Delete an empty bucket.
    Remove {
        alias: String,
        name: String,
    },
    Versioning {
        alias: String,
        name: String,
        state: VersioningState,
    },
    /// The bucket's size and object-count limits.
    Quota {
        #[command(subcommand)]
        command: BucketQuotaCmd,
    },
    /// The bucket policy.
    Policy {
        #[command(subcommand)]
        command: BucketPolicyCmd,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum VersioningState {
    Enable,
    Suspend,
}

#[derive(Subcommand)]
pub enum BucketQuotaCmd {
    /// Replace the quota (a limit left out is removed).
    Set {
        alias: String,
        name: String,
        #[command(flatten)]
        limits: QuotaArgs,
    },
    Info {
        alias: String,
        name: String,
    },
    Clear {
        alias: String,
        name: String,
    },
}

#[derive(Args, Default)]
pub struct QuotaArgs {
    /// Bytes, with an optional K, M, G or T suffix (powers of 1024)
    #[arg(long, value_parser = parse_size)]
    pub max_bytes: Option<u64>,
    /// Object versions (delete markers do not count)
    #[arg(long)]
    pub max_objects: Option<u64>,
}

#[derive(Subcommand)]
pub enum BucketPolicyCmd {
    /// Set the policy from a JSON document file ("-" reads standard input).
    Set {
        alias: String,
        name: String,
        file: PathBuf,
    },
    Get {
        alias: String,
        name: String,
    },
    Remove {
        alias: String,
        name: String,
    },
}

#[derive(Subcommand)]
pub enum AccountCmd {
    Add {
        alias: String,
        name: String,
        #[command(flatten)]
        quota: QuotaArgs,
    },
    List {
        alias: String,
    },
    Info {
        alias: String,
        name: String,
    },
    /// Delete an account that owns no users and no buckets.
    Remove {
        alias: String,
        name: String,
    },
    /// The account's limits over all its buckets.
    Quota {
        #[command(subcommand)]
        command: AccountQuotaCmd,
    },
}

#[derive(Subcommand)]
pub enum AccountQuotaCmd {
    /// Replace the quota (a limit left out is removed).
    Set {
        alias: String,
        name: String,
        #[command(flatten)]
        limits: QuotaArgs,
    },
    Clear {
        alias: String,
        name: String,
    },
}

#[derive(Subcommand)]
pub enum RateLimitCmd {
    /// Add or replace a limit (a rate left out is unlimited).
    Set {
        alias: String,
        #[command(flatten)]
        target: RateTarget,
        #[arg(long)]
        requests_per_second: Option<f64>,
        /// Bytes received plus sent per second, with an optional K, M, G or T suffix
        #[arg(long, value_parser = parse_size)]
        bytes_per_second: Option<u64>,
    },
    List {
        alias: String,
    },
    Info {
        alias: String,
        #[command(flatten)]
        target: RateTarget,
    },
    Remove {
        alias: String,
        #[command(flatten)]
        target: RateTarget,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct RateTarget {
    /// An access key id
    #[arg(long)]
    pub key: Option<String>,
    #[arg(long)]
    pub bucket: Option<String>,
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Records with FROM <= eventTime < TO, as a CloudTrail file ({"Records":[...]}).
    Export {
        alias: String,
        /// RFC 3339 time, e.g. 2026-01-01T00:00:00Z
        #[arg(long)]
        from: String,
        /// RFC 3339 time (exclusive)
        #[arg(long)]
        to: String,
        /// Write here instead of standard output
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct JobFilter {
    /// queued, leased, succeeded, failed, dead or cancelled
    #[arg(long)]
    pub state: Option<String>,
    /// Only jobs of this kind
    #[arg(long)]
    pub kind: Option<String>,
}

#[derive(Args)]
pub struct TierAdd {
    pub alias: String,
    pub name: String,
    #[arg(long = "type", value_parser = ["local", "s3"])]
    pub kind: String,
    /// The storage class its objects show (STANDARD_IA, GLACIER, or your own name)
    #[arg(long)]
    pub storage_class: String,
    /// Reads need RestoreObject (default: yes for GLACIER and DEEP_ARCHIVE)
    #[arg(long)]
    pub archive: Option<bool>,
    /// Operator-wide age policy: versions older than this many days move here
    #[arg(long)]
    pub after_days: Option<u32>,
    /// Promote a version read this many times within a day back to the hot drives
    #[arg(long)]
    pub promote_reads: Option<u32>,
    /// A drive path of a local tier (repeat for several)
    #[arg(long = "drive")]
    pub drives: Vec<String>,
    #[arg(long)]
    pub parity: Option<usize>,
    #[arg(long)]
    pub endpoint: Option<String>,
    #[arg(long)]
    pub bucket: Option<String>,
    #[arg(long)]
    pub prefix: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub access_key: Option<String>,
    /// The remote secret key (better from the environment than the command line)
    #[arg(long, env = "HAFIZ_TIER_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
}

#[derive(Subcommand)]
pub enum TierCmd {
    /// Add a tier (`--type local` with `--drive`s, or `--type s3` with an endpoint,
    /// a bucket and keys).
    Add(Box<TierAdd>),
    /// Every tier with the objects and bytes it holds (secrets are never shown).
    List { alias: String },
    /// One tier.
    Info { alias: String, name: String },
    /// Remove a tier that holds nothing.
    Remove { alias: String, name: String },
}

#[derive(Subcommand)]
pub enum JobsCmd {
    /// Jobs in creation order (all pages), with counts per kind and state.
    List {
        alias: String,
        #[command(flatten)]
        filter: JobFilter,
        /// Print the jobs as CSV (an export of their results)
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// One job: its state, attempts, lease, last error and result.
    Info { alias: String, id: String },
    /// Run a failed, dead or cancelled job again, with fresh attempts.
    Retry { alias: String, id: String },
    /// Stop a queued, leased or failed job (a running attempt is abandoned).
    Cancel { alias: String, id: String },
    /// Delete finished jobs (succeeded, dead, cancelled).
    Purge {
        alias: String,
        #[command(flatten)]
        filter: JobFilter,
        /// RFC 3339: only jobs finished before this
        #[arg(long)]
        before: Option<String>,
    },
}
