//! The JSON shapes of the admin API (docs/admin.md), with their OpenAPI schemas.

use hafiz_meta::iam::{AccessKey, Account as MetaAccount, IamGroup, IamUser, ManagedPolicy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 3339 in UTC, as every time in the API.
pub fn rfc3339(millis: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub name: String,
    pub id: String,
    /// The owning account's name ("" is the default account).
    pub account: String,
    pub arn: String,
    pub created: String,
    pub groups: Vec<String>,
    /// Attached managed policies.
    pub policies: Vec<String>,
    /// Names of inline policies.
    pub inline_policies: Vec<String>,
}

impl User {
    pub fn of(u: IamUser, account_id: &str) -> User {
        User {
            arn: format!("arn:aws:iam::{account_id}:user{}{}", u.path, u.name),
            created: rfc3339(u.created),
            inline_policies: u.inline_policies.into_keys().collect(),
            name: u.name,
            id: u.id,
            account: u.account,
            groups: u.groups,
            policies: u.attached_policies,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    pub name: String,
    /// The account the user belongs to (default: the default account).
    #[serde(default)]
    pub account: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Key {
    pub access_key_id: String,
    pub user: String,
    /// Active or Inactive.
    pub status: &'static str,
    pub created: String,
    /// Only in the answer to CreateAccessKey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
}

impl Key {
    pub fn of(k: &AccessKey, with_secret: bool) -> Key {
        Key {
            access_key_id: k.access_key_id.clone(),
            user: k.user.clone(),
            status: if k.active { "Active" } else { "Inactive" },
            created: rfc3339(k.created),
            secret_key: with_secret.then(|| k.secret_key.clone()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct KeyStatus {
    /// Active or Inactive.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    pub name: String,
    pub id: String,
    pub created: String,
    pub members: Vec<String>,
    pub policies: Vec<String>,
}

impl From<IamGroup> for Group {
    fn from(g: IamGroup) -> Group {
        Group {
            name: g.name,
            id: g.id,
            created: rfc3339(g.created),
            members: g.members,
            policies: g.attached_policies,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewGroup {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Policy {
    pub name: String,
    pub id: String,
    pub created: String,
    pub attachments: u32,
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

impl From<ManagedPolicy> for Policy {
    fn from(p: ManagedPolicy) -> Policy {
        Policy {
            document: serde_json::from_str(&p.document)
                .unwrap_or(serde_json::Value::String(p.document)),
            name: p.name,
            id: p.id,
            created: rfc3339(p.created),
            attachments: p.attachments,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPolicy {
    pub name: String,
    /// An IAM policy document (a JSON object).
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

/// UpdatePolicy's body: the new document.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PolicyDocument {
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct Quota {
    pub max_bytes: Option<u64>,
    pub max_objects: Option<u64>,
}

impl From<hafiz_meta::Quota> for Quota {
    fn from(q: hafiz_meta::Quota) -> Quota {
        Quota {
            max_bytes: q.max_bytes,
            max_objects: q.max_objects,
        }
    }
}

impl From<Quota> for hafiz_meta::Quota {
    fn from(q: Quota) -> hafiz_meta::Quota {
        hafiz_meta::Quota {
            max_bytes: q.max_bytes,
            max_objects: q.max_objects,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Usage {
    /// Bytes of object versions.
    pub bytes: u64,
    /// Object versions (delete markers not counted).
    pub objects: u64,
    /// Bytes of parts of multipart uploads not completed or aborted yet (they count
    /// against byte quotas too).
    pub multipart_bytes: u64,
}

impl From<hafiz_meta::Usage> for Usage {
    fn from(u: hafiz_meta::Usage) -> Usage {
        Usage {
            bytes: u.bytes,
            objects: u.objects,
            multipart_bytes: u.pending_bytes,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    pub name: String,
    pub account: String,
    pub created: String,
    /// Enabled, Suspended, or null (never enabled).
    pub versioning: Option<&'static str>,
    pub object_lock: bool,
    pub usage: Usage,
    pub quota: Option<Quota>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewBucket {
    pub name: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub versioning: bool,
    #[serde(default)]
    pub object_lock: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct VersioningStatus {
    /// Enabled or Suspended.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    pub name: String,
    /// 12 digits, as in its users' ARNs.
    pub id: String,
    pub created: String,
    pub quota: Option<Quota>,
    pub usage: Usage,
    pub users: usize,
    pub buckets: usize,
}

impl Account {
    pub fn of(a: MetaAccount, usage: hafiz_meta::Usage, users: usize, buckets: usize) -> Account {
        Account {
            name: a.name,
            id: a.id,
            created: rfc3339(a.created),
            quota: a.quota.map(Quota::from),
            usage: usage.into(),
            users,
            buckets,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAccount {
    pub name: String,
    #[serde(default)]
    pub quota: Option<Quota>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimit {
    /// keys or buckets.
    pub scope: &'static str,
    pub name: String,
    pub requests_per_second: Option<f64>,
    pub bytes_per_second: Option<u64>,
}

impl From<hafiz_meta::iam::RateLimit> for RateLimit {
    fn from(l: hafiz_meta::iam::RateLimit) -> RateLimit {
        RateLimit {
            scope: l.scope.as_str(),
            name: l.name,
            requests_per_second: l.requests_per_second,
            bytes_per_second: l.bytes_per_second,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RateLimitSpec {
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    #[serde(default)]
    pub bytes_per_second: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerInfo {
    pub version: &'static str,
    pub region: String,
    pub s3_address: String,
    pub admin_address: String,
    pub uptime_seconds: u64,
    pub buckets: usize,
    pub objects: u64,
    pub bytes: u64,
    pub drives: DriveCounts,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DriveCounts {
    pub total: usize,
    pub online: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DriveInfo {
    pub set: usize,
    pub slot: usize,
    pub path: String,
    /// online, blank, missing, unreadable, healing.
    pub state: String,
    pub free_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NodeStatus {
    pub id: String,
    pub address: String,
    pub state: &'static str,
    pub drives: Vec<DriveInfo>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterStatus {
    /// This node and its drives (erasure set and slot of each).
    pub nodes: Vec<NodeStatus>,
    /// The metadata Raft group as this node sees it.
    pub raft: RaftStatus,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct RaftStatus {
    pub node_id: u64,
    pub cluster_id: String,
    pub leader: Option<u64>,
    pub term: u64,
    /// leader, follower, candidate, learner or shutdown.
    pub state: String,
    /// Index of the last entry in this node's log.
    pub last_log_index: Option<u64>,
    /// Index of the last entry applied here (the commit index this node knows).
    pub last_applied: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub members: Vec<RaftMember>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RaftMember {
    pub id: u64,
    pub rpc_address: String,
    /// voter or learner.
    pub role: String,
    /// Its own answer: leader, follower, candidate, learner; or unreachable.
    pub state: String,
    pub term: Option<u64>,
    pub last_applied: Option<u64>,
    /// Entries behind the leader's log (None: unknown).
    pub lag: Option<u64>,
}

/// `POST /v1/cluster/nodes`: add a node (as a learner, then a voter once it has
/// caught up).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewClusterNode {
    pub id: u64,
    /// HOST:PORT of the node's rpc listener.
    pub rpc_address: String,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct HealStatus {
    /// idle, running, done or failed.
    pub state: &'static str,
    pub bucket: Option<String>,
    pub dry_run: bool,
    pub checked: u64,
    pub damaged: u64,
    pub rebuilt: u64,
    pub failed: u64,
    pub started: Option<String>,
    pub finished: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct HealRequest {
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

/// A JSON request body, or InvalidRequest saying what is wrong with it.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> crate::AdminResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| crate::AdminError::InvalidRequest(format!("invalid JSON body: {e}")))
}

/// A policy document sent as a JSON object (or as a string holding one), as text.
pub fn policy_text(doc: &serde_json::Value) -> crate::AdminResult<String> {
    match doc {
        serde_json::Value::Object(_) => Ok(doc.to_string()),
        serde_json::Value::String(s) => Ok(s.clone()),
        _ => Err(crate::AdminError::MalformedPolicy(
            "the policy document must be a JSON object".into(),
        )),
    }
}
