//! The metadata rows. Serialized with MessagePack (named fields) so that rows can gain
//! fields without a migration.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The version id of objects written while a bucket was not versioning.
pub const NULL_VERSION: &str = "null";

/// A new version id for a version of row order `order`: 16 hex digits of the inverted
/// order (so ids of one key sort newest first, and the row of an id is found without
/// an index), then 16 of `nonce` (unique across writers of the same microsecond).
pub fn mint_version_id(order: u64, nonce: u64) -> String {
    format!("{:016x}{nonce:016x}", u64::MAX - order)
}

/// The row order a minted version id carries (None for `null` and ids we did not mint).
pub fn version_id_order(id: &str) -> Option<u64> {
    if id.len() != 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    u64::from_str_radix(&id[..16], 16)
        .ok()
        .map(|inv| u64::MAX - inv)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BucketInfo {
    pub name: String,
    pub created: Millis,
    pub region: String,
    #[serde(default)]
    pub versioning: Versioning,
    /// Some once object lock is enabled (at creation; it cannot be turned off).
    #[serde(default)]
    pub object_lock: Option<ObjectLockConfig>,
    /// Bucket tags (None: no tag set, as opposed to an empty one).
    #[serde(default)]
    pub tags: Option<Vec<(String, String)>>,
    #[serde(default)]
    pub cors: Option<Vec<CorsRule>>,
    #[serde(default)]
    pub website: Option<WebsiteConfig>,
    /// The bucket policy, as the JSON the owner put.
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub public_access_block: Option<PublicAccessBlock>,
    #[serde(default)]
    pub acl: CannedAcl,
    /// An ACL of explicit grants (PutBucketAcl with grants), in place of `acl`.
    #[serde(default)]
    pub grants: Option<Vec<AclGrant>>,
    /// Object Ownership (None: ObjectWriter, ACLs enabled).
    #[serde(default)]
    pub ownership: Option<ObjectOwnership>,
    /// The account (tenant) that owns the bucket; "" is the default account.
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub quota: Option<Quota>,
    /// The lifecycle configuration, as `hafiz-lifecycle` serializes it (JSON).
    #[serde(default)]
    pub lifecycle: Option<String>,
    /// The notification configuration, as `hafiz-notify` serializes it (JSON).
    #[serde(default)]
    pub notification: Option<String>,
    /// The replication configuration (PutBucketReplication).
    #[serde(default)]
    pub replication: Option<ReplicationConfig>,
    /// Default encryption of new objects (PutBucketEncryption).
    #[serde(default)]
    pub encryption: Option<BucketEncryption>,
}

/// A bucket's default encryption: what a write that asks for none gets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketEncryption {
    /// S3, Kms or KmsDsse (never Customer).
    pub kind: SseKind,
    #[serde(default)]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub bucket_key: bool,
}

/// A bucket's replication configuration, as PutBucketReplication gives it (the XML
/// lives in `hafiz-replication`). The state machine matches its rules while it
/// plans an object command, so a change and its replication work commit together.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReplicationConfig {
    pub role: String,
    pub rules: Vec<ReplicationRule>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReplicationRule {
    pub id: String,
    /// Higher wins when several rules send one object to the same destination.
    pub priority: Option<i32>,
    pub enabled: bool,
    /// The schema's first version: a `Prefix` on the rule, no `Filter`. Such rules
    /// replicate delete markers (AWS's V1 behaviour).
    pub v1: bool,
    pub prefix: String,
    /// Every tag must be on the object (Filter's `Tag` or `And`).
    pub tags: Vec<(String, String)>,
    /// How the filter was written (`Prefix`, `Tag` or `And`), to answer it back as given.
    pub filter_form: FilterForm,
    pub delete_markers: bool,
    pub existing_objects: bool,
    /// Replicate changes made to replicas (two-way setups that sync tag and lock
    /// changes back).
    pub replica_modifications: bool,
    /// The destination: a replication target's ARN
    /// (`arn:hafiz:replication::ID:BUCKET`).
    pub target: String,
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum FilterForm {
    #[default]
    Empty,
    Prefix,
    Tag,
    And,
}

impl ReplicationRule {
    /// Whether the rule applies to an object with `key` and `tags`.
    pub fn selects(&self, key: &str, tags: &[(String, String)]) -> bool {
        self.enabled && key.starts_with(&self.prefix) && self.tags.iter().all(|t| tags.contains(t))
    }
}

impl ReplicationConfig {
    /// The targets an object goes to, each with the rule that sends it there (the
    /// rule of highest priority when several do).
    pub fn targets_for<'a>(
        &'a self,
        key: &str,
        tags: &[(String, String)],
    ) -> Vec<&'a ReplicationRule> {
        let mut chosen: Vec<&ReplicationRule> = Vec::new();
        for r in self.rules.iter().filter(|r| r.selects(key, tags)) {
            match chosen.iter_mut().find(|c| c.target == r.target) {
                Some(c) if r.priority.unwrap_or(0) > c.priority.unwrap_or(0) => *c = r,
                Some(_) => {}
                None => chosen.push(r),
            }
        }
        chosen
    }
}

/// Where one version stands with replication: a replica written by another
/// cluster, or the status of its copy at each destination.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReplicationState {
    pub replica: bool,
    pub targets: Vec<(String, ReplicationStatus)>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ReplicationStatus {
    Pending,
    Completed,
    Failed,
}

impl ReplicationState {
    /// `x-amz-replication-status` as AWS reports it: a replica is REPLICA; a source
    /// is FAILED if any destination failed, PENDING while any is pending, else
    /// COMPLETED.
    pub fn header(&self) -> Option<&'static str> {
        if self.replica {
            return Some("REPLICA");
        }
        let has = |s| self.targets.iter().any(|(_, t)| *t == s);
        if self.targets.is_empty() {
            None
        } else if has(ReplicationStatus::Failed) {
            Some("FAILED")
        } else if has(ReplicationStatus::Pending) {
            Some("PENDING")
        } else {
            Some("COMPLETED")
        }
    }

    pub fn set(&mut self, target: &str, status: ReplicationStatus) {
        match self.targets.iter_mut().find(|(t, _)| t == target) {
            Some((_, s)) => *s = status,
            None => self.targets.push((target.to_string(), status)),
        }
    }
}

/// Limits on what a bucket or an account holds; None is unlimited.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Quota {
    pub max_bytes: Option<u64>,
    /// Object versions (delete markers do not count).
    pub max_objects: Option<u64>,
}

impl Quota {
    /// Whether `usage` is over a limit (bytes of incomplete multipart uploads count).
    pub fn exceeded_by(&self, usage: Usage) -> bool {
        self.max_bytes.is_some_and(|m| usage.stored() > m)
            || self.max_objects.is_some_and(|m| usage.objects > m)
    }
}

/// What a bucket or an account holds: bytes and object versions, every version
/// counted, delete markers not; and the parts of incomplete multipart uploads.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub objects: u64,
    /// Bytes of uploaded parts of multipart uploads not yet completed or aborted.
    #[serde(default)]
    pub pending_bytes: u64,
}

impl Usage {
    /// Every byte held: object versions and pending parts.
    pub fn stored(&self) -> u64 {
        self.bytes.saturating_add(self.pending_bytes)
    }
}

/// A change to a [`Usage`], as one command makes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDelta {
    pub bytes: i64,
    pub objects: i64,
    pub pending: i64,
}

impl UsageDelta {
    pub fn is_zero(self) -> bool {
        self.bytes == 0 && self.objects == 0 && self.pending == 0
    }

    /// Whether the change adds anything (and so must respect quotas).
    pub fn grows(self) -> bool {
        self.bytes > 0 || self.objects > 0 || self.pending > 0
    }

    /// Count a multipart part coming (`sign` 1) or going (`sign` -1).
    pub fn count_part(&mut self, size: u64, sign: i64) {
        self.pending += sign * size as i64;
    }

    /// Count `v` coming (`sign` 1) or going (`sign` -1).
    pub fn count(&mut self, v: &ObjectVersion, sign: i64) {
        if !v.delete_marker {
            self.bytes += sign * v.size as i64;
            self.objects += sign;
        }
    }

    pub fn applied_to(self, u: Usage) -> Usage {
        Usage {
            bytes: u.bytes.saturating_add_signed(self.bytes),
            objects: u.objects.saturating_add_signed(self.objects),
            pending_bytes: u.pending_bytes.saturating_add_signed(self.pending),
        }
    }
}

/// What a canned ACL grants beyond the owner's FULL_CONTROL. The other canned ACLs
/// (`bucket-owner-read`, `bucket-owner-full-control`, `aws-exec-read`,
/// `log-delivery-write`) grant to principals that do not exist in a one-account store
/// (another bucket owner, EC2, S3 log delivery), so they leave the resource private.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum CannedAcl {
    #[default]
    Private,
    /// Everyone may read (objects) or list (buckets).
    PublicRead,
    /// Also: everyone may write objects into the bucket.
    PublicReadWrite,
    /// Every authenticated principal may read or list.
    AuthenticatedRead,
}

impl CannedAcl {
    /// Whether Block Public Access counts it as public.
    pub fn is_public(self) -> bool {
        self != CannedAcl::Private
    }
}

/// What an ACL grant allows.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum AclPermission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

/// Whom an ACL grant names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum AclGrantee {
    /// An account by name ("" is the default account); S3 shows its canonical id.
    Account(String),
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AclGrant {
    pub grantee: AclGrantee,
    pub permission: AclPermission,
}

/// S3 Object Ownership of a bucket.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ObjectOwnership {
    /// ACLs are disabled; the bucket owner owns every object.
    BucketOwnerEnforced,
    /// Objects written with `bucket-owner-full-control` belong to the bucket owner.
    BucketOwnerPreferred,
    /// The writing account owns the object (S3's behaviour before 2023).
    ObjectWriter,
}

/// S3 Block Public Access settings of a bucket.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// One CORS rule as PutBucketCors gives it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
}

/// Static website hosting: either every request redirects elsewhere, or objects are
/// served with index and error documents and routing rules.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebsiteConfig {
    pub index_suffix: Option<String>,
    pub error_key: Option<String>,
    pub redirect_all: Option<RedirectAll>,
    pub routing_rules: Vec<RoutingRule>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RedirectAll {
    pub host_name: String,
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoutingRule {
    pub key_prefix_equals: Option<String>,
    pub http_error_code_equals: Option<u16>,
    pub host_name: Option<String>,
    pub protocol: Option<String>,
    pub replace_key_prefix_with: Option<String>,
    pub replace_key_with: Option<String>,
    pub http_redirect_code: Option<u16>,
}

/// A bucket's versioning state. Once enabled it can be suspended but never return
/// to unversioned.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum RetentionMode {
    Governance,
    Compliance,
}

/// A version's retention: it cannot be deleted before `until` (GOVERNANCE can be
/// bypassed with permission; COMPLIANCE by no one).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Retention {
    pub mode: RetentionMode,
    pub until: Millis,
}

/// The retention given to new versions that do not set their own.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    /// Exactly one of days and years is set.
    pub days: Option<u32>,
    pub years: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectLockConfig {
    pub default_retention: Option<DefaultRetention>,
}

/// Where an object's bytes are.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ObjectData {
    /// Small objects live in the row: one write, one read.
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Bytes in the data store, as consecutive blobs (one for a simple PUT, one per part
    /// for a multipart object).
    Blobs(Vec<BlobSpan>),
    /// Bytes moved to a tier by a transition (see `hafiz-tier`).
    Tiered(TierCopy),
}

/// How an object is encrypted at rest, as S3 names it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum SseKind {
    /// SSE-S3 (`AES256`): a key of the server's own.
    S3,
    /// SSE-KMS (`aws:kms`) with a key of the key service.
    Kms,
    /// DSSE-KMS (`aws:kms:dsse`); sealed as SSE-KMS, reported as asked.
    KmsDsse,
    /// SSE-C: a key the client sends with every request and Hafiz never stores.
    Customer,
}

/// What decrypts an object: its data key, wrapped by the key that `kind` names,
/// and what S3 reports about it. Never any key in the clear.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Encryption {
    pub kind: SseKind,
    /// The key service's key (SSE-S3 uses a key of its own there too).
    #[serde(default)]
    pub key_id: Option<String>,
    /// The key's version that wrapped the data key.
    #[serde(default)]
    pub key_version: Option<String>,
    /// SSE-KMS encryption context, as the JSON object the client gave (or AWS's
    /// default, the object's ARN); bound to the wrapped key.
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub bucket_key: bool,
    /// SSE-C: base64 MD5 of the customer's key (what S3 returns; not the key).
    #[serde(default)]
    pub customer_key_md5: Option<String>,
    #[serde(with = "serde_bytes")]
    pub wrapped_key: Vec<u8>,
    /// Each part was sealed on its own (a completed multipart upload): the parts are
    /// the sealed segments; otherwise the object is one.
    #[serde(default)]
    pub parts_sealed: bool,
}

/// An object's bytes kept in a tier: a set of local drives or a remote S3 endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct TierCopy {
    pub tier: String,
    /// The copy's name inside the tier (32 hex digits), fixed by the job that wrote
    /// it, so that a transition run again after a crash overwrites its own copy.
    pub name: String,
    pub size: u64,
}

/// A temporary copy of an archived object brought back by RestoreObject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RestoreState {
    /// The restore job has not finished yet.
    pub ongoing: bool,
    pub days: u32,
    /// When the copy goes (set once the copy is there).
    pub expiry: Option<Millis>,
    /// The copy (Inline or Blobs), once restored.
    pub data: Option<ObjectData>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum BlobLocation {
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    Stored(String),
}

/// One piece of an object's data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BlobSpan {
    pub location: BlobLocation,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ChecksumType {
    FullObject,
    Composite,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    /// Base64 as S3 shows it; composite values carry the `-N` suffix.
    pub value: String,
    pub kind: ChecksumType,
}

/// A part of a completed multipart object, kept for `partNumber` reads and
/// GetObjectAttributes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartSummary {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub checksum: Option<String>,
}

/// System headers stored with an object and returned on GET/HEAD.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContentHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    /// `x-amz-website-redirect-location`: the website endpoint redirects here.
    #[serde(default)]
    pub website_redirect: Option<String>,
}

/// One version of one object. Unversioned buckets hold a single `null` version per key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub last_modified: Millis,
    pub headers: ContentHeaders,
    /// `x-amz-meta-*` pairs, names lower-cased without the prefix.
    pub user_meta: Vec<(String, String)>,
    pub storage_class: String,
    pub tags: Vec<(String, String)>,
    pub checksum: Option<Checksum>,
    /// Present for multipart objects.
    pub parts: Option<Vec<PartSummary>>,
    pub data: ObjectData,
    /// A delete marker: no data; the key reads as absent while it is the latest.
    #[serde(default)]
    pub delete_marker: bool,
    /// Where the version sorts among the versions of its key (microseconds, from a
    /// clock that never repeats a value); newer versions have larger values.
    #[serde(default)]
    pub order: u64,
    #[serde(default)]
    pub retention: Option<Retention>,
    /// None until a legal hold is first set (S3 tells "never set" from OFF).
    #[serde(default)]
    pub legal_hold: Option<bool>,
    #[serde(default)]
    pub acl: CannedAcl,
    /// An ACL of explicit grants, in place of `acl`.
    #[serde(default)]
    pub grants: Option<Vec<AclGrant>>,
    /// The account that wrote the version when it is not the bucket's (an
    /// ObjectWriter bucket written by another account): it owns the object.
    #[serde(default)]
    pub owner: Option<String>,
    /// Set while RestoreObject's temporary copy is asked for or present.
    #[serde(default)]
    pub restore: Option<RestoreState>,
    /// When reads last promoted the data back from a tier: age-based placement
    /// counts from here (not from the last modification), so that a promoted
    /// object is not sent back at once.
    #[serde(default)]
    pub promoted_at: Option<Millis>,
    /// Replication status (None: no rule selected it, and it is no replica).
    #[serde(default)]
    pub replication: Option<ReplicationState>,
    /// Server-side encryption: the stored bytes are sealed chunks (see `hafiz-crypto`)
    /// and `size` counts the plaintext.
    #[serde(default)]
    pub encryption: Option<Encryption>,
}

impl ObjectVersion {
    /// The row order of this version (rows written before `order` existed sort by
    /// their modification time).
    pub fn sort_order(&self) -> u64 {
        if self.order != 0 {
            self.order
        } else {
            (self.last_modified.max(0) as u64).saturating_mul(1000)
        }
    }

    /// Whether a retention or legal hold forbids deleting this version at `now`;
    /// `bypass_governance` lifts GOVERNANCE retention (not COMPLIANCE, not a hold).
    pub fn locked(&self, now: Millis, bypass_governance: bool) -> bool {
        if self.legal_hold == Some(true) {
            return true;
        }
        match self.retention {
            Some(r) if r.until > now => !(bypass_governance && r.mode == RetentionMode::Governance),
            _ => false,
        }
    }

    /// Blob ids this version references in the data store, with their sizes: its
    /// data's and those of a restored temporary copy.
    pub fn blob_spans(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        let restored = self.restore.as_ref().and_then(|r| r.data.as_ref());
        for data in std::iter::once(&self.data).chain(restored) {
            if let ObjectData::Blobs(spans) = data {
                out.extend(spans.iter().filter_map(|s| match &s.location {
                    BlobLocation::Stored(id) => Some((id.clone(), s.size)),
                    BlobLocation::Inline(_) => None,
                }));
            }
        }
        out
    }

    /// Blob ids this version references in the data store.
    pub fn blob_ids(&self) -> Vec<String> {
        self.blob_spans().into_iter().map(|(id, _)| id).collect()
    }

    /// The tier copy holding this version's bytes, if it was transitioned.
    pub fn tier_copy(&self) -> Option<&TierCopy> {
        match &self.data {
            ObjectData::Tiered(c) => Some(c),
            _ => None,
        }
    }
}

/// An in-progress multipart upload: everything CreateMultipartUpload fixed for the
/// object that Complete will create.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadInfo {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiated: Millis,
    pub headers: ContentHeaders,
    pub user_meta: Vec<(String, String)>,
    pub storage_class: String,
    pub tags: Vec<(String, String)>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    /// Object lock asked for at creation, given to the completed object.
    #[serde(default)]
    pub retention: Option<Retention>,
    #[serde(default)]
    pub legal_hold: Option<bool>,
    #[serde(default)]
    pub acl: CannedAcl,
    #[serde(default)]
    pub grants: Option<Vec<AclGrant>>,
    #[serde(default)]
    pub owner: Option<String>,
    /// Fixed at creation: every part is sealed with the upload's data key.
    #[serde(default)]
    pub encryption: Option<Encryption>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartInfo {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub last_modified: Millis,
    pub checksum: Option<Checksum>,
    pub data: BlobSpan,
}

impl ObjectData {
    /// Bytes as stored (ciphertext for an encrypted object; its `size` counts the
    /// plaintext).
    pub fn stored_len(&self) -> u64 {
        match self {
            ObjectData::Inline(b) => b.len() as u64,
            ObjectData::Blobs(spans) => spans.iter().map(|s| s.size).sum(),
            ObjectData::Tiered(copy) => copy.size,
        }
    }
}

impl Default for ObjectData {
    fn default() -> ObjectData {
        ObjectData::Inline(Vec::new())
    }
}
