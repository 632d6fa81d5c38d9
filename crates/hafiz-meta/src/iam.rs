//! IAM entities (users, groups, access keys, managed policies) and the commands that
//! change them, with AWS's rules: unique names, at most two access keys per user, no
//! deleting a user or policy that still has attachments (DeleteConflict).
//!
//! Policy documents are stored as the JSON text the client sent; they are parsed and
//! validated by the caller (hafiz-iam) before a command is built.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Entity, MetaError, MetaResult};
use crate::model::Millis;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IamUser {
    pub name: String,
    /// Stable id (`AIDA…`), what `aws:userid` is.
    pub id: String,
    pub path: String,
    pub created: Millis,
    pub groups: Vec<String>,
    /// Inline policies: name → JSON document.
    pub inline_policies: BTreeMap<String, String>,
    /// Names of attached managed policies.
    pub attached_policies: Vec<String>,
    /// The account (tenant) the user belongs to; "" is the default account.
    #[serde(default)]
    pub account: String,
}

/// A tenant: it owns users and buckets, and may have a quota over all its buckets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    /// 12 digits, what ARNs of its users carry.
    pub id: String,
    pub created: Millis,
    pub quota: Option<crate::model::Quota>,
}

/// What a rate limit applies to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum RateScope {
    /// Requests signed with one access key.
    Key,
    /// Requests to one bucket.
    Bucket,
}

impl RateScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RateScope::Key => "keys",
            RateScope::Bucket => "buckets",
        }
    }
}

/// Token-bucket limits; None is unlimited.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RateLimit {
    pub scope: RateScope,
    pub name: String,
    pub requests_per_second: Option<f64>,
    pub bytes_per_second: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IamGroup {
    pub name: String,
    pub id: String,
    pub path: String,
    pub created: Millis,
    pub members: Vec<String>,
    pub inline_policies: BTreeMap<String, String>,
    pub attached_policies: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub name: String,
    pub id: String,
    pub path: String,
    pub description: String,
    pub document: String,
    pub created: Millis,
    /// Users and groups it is attached to.
    pub attachments: u32,
}

#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_key: String,
    pub user: String,
    pub active: bool,
    pub created: Millis,
    /// Temporary credentials (STS): their session and expiry.
    #[serde(default)]
    pub session: Option<Session>,
}

/// What STS AssumeRole gave a temporary key: it acts for `user` (or for the root
/// account when `user` is empty, or for a web identity), at most with `policy`, until
/// `expires`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub expires: Millis,
    pub policy: Option<String>,
    pub name: String,
    /// Set for sessions from AssumeRoleWithWebIdentity: they act for no IAM user (and
    /// not for root) but with the managed policies the identity provider named.
    #[serde(default)]
    pub web_identity: Option<WebIdentity>,
    /// The long-term access key that asked for the session: rate limits set on it
    /// apply to the session too.
    #[serde(default)]
    pub parent_key: Option<String>,
}

/// Who an OIDC provider vouched for, and what the session may do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebIdentity {
    /// The token's `sub`.
    pub subject: String,
    /// The token's `iss`.
    pub issuer: String,
    /// The role name from `RoleArn` (only part of the session's ARN).
    pub role: String,
    /// Names of managed policies, looked up on every request so that a changed or
    /// deleted policy takes effect at once.
    pub policies: Vec<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("expires", &self.expires)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret (logs, panics, test failures).
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("user", &self.user)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// AWS allows two access keys per user.
pub const MAX_KEYS_PER_USER: usize = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum IamCommand {
    CreateUser(IamUser),
    /// Refused while the user has keys, policies or groups, unless `detach` (the
    /// admin API) takes them with it.
    DeleteUser {
        name: String,
        detach: bool,
    },
    CreateAccessKey(AccessKey),
    /// Temporary credentials from STS (not counted against the user's two keys).
    CreateSessionKey(AccessKey),
    /// Remove temporary credentials that expired before `now` (the scanner's sweep).
    RemoveExpiredSessions {
        now: Millis,
    },
    UpdateAccessKey {
        user: String,
        access_key_id: String,
        active: bool,
    },
    DeleteAccessKey {
        user: String,
        access_key_id: String,
    },
    PutUserPolicy {
        user: String,
        name: String,
        document: String,
    },
    DeleteUserPolicy {
        user: String,
        name: String,
    },
    CreatePolicy(ManagedPolicy),
    DeletePolicy {
        name: String,
    },
    AttachUserPolicy {
        user: String,
        policy: String,
    },
    DetachUserPolicy {
        user: String,
        policy: String,
    },
    CreateGroup(IamGroup),
    DeleteGroup {
        name: String,
    },
    AddUserToGroup {
        group: String,
        user: String,
    },
    RemoveUserFromGroup {
        group: String,
        user: String,
    },
    PutGroupPolicy {
        group: String,
        name: String,
        document: String,
    },
    DeleteGroupPolicy {
        group: String,
        name: String,
    },
    AttachGroupPolicy {
        group: String,
        policy: String,
    },
    DetachGroupPolicy {
        group: String,
        policy: String,
    },
    CreateAccount(Account),
    /// Refused while the account owns users (buckets are checked by the store).
    DeleteAccount {
        name: String,
    },
    SetAccountQuota {
        name: String,
        quota: Option<crate::model::Quota>,
    },
    PutRateLimit(RateLimit),
    DeleteRateLimit {
        scope: RateScope,
        name: String,
    },
    /// Record the root credentials of a cluster, unless some are recorded already
    /// (the first node to propose its keys sets them for every node).
    SetRootIfAbsent(RootCredentials),
    /// Replace a managed policy's document (its attachments stay). Last, so logs
    /// written before it existed still decode.
    UpdatePolicyDocument {
        name: String,
        document: String,
    },
}

/// The root user's key pair, cluster-wide.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RootCredentials {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// Row keys in the IAM table: one namespace per kind.
pub(crate) mod rows {
    pub fn user(name: &str) -> Vec<u8> {
        format!("u/{name}").into_bytes()
    }
    pub fn group(name: &str) -> Vec<u8> {
        format!("g/{name}").into_bytes()
    }
    pub fn policy(name: &str) -> Vec<u8> {
        format!("p/{name}").into_bytes()
    }
    pub fn key(id: &str) -> Vec<u8> {
        format!("k/{id}").into_bytes()
    }
    pub fn account(name: &str) -> Vec<u8> {
        format!("a/{name}").into_bytes()
    }
    pub fn rate_limit(scope: super::RateScope, name: &str) -> Vec<u8> {
        format!("r/{}/{name}", scope.as_str()).into_bytes()
    }
    pub const ACCOUNTS: &[u8] = b"a/";
    pub const RATE_LIMITS: &[u8] = b"r/";
    pub const GROUPS: &[u8] = b"g/";
    pub const USERS: &[u8] = b"u/";
    pub const POLICIES: &[u8] = b"p/";
    pub const KEYS: &[u8] = b"k/";
    pub const ROOT: &[u8] = b"root";
}

/// What an IAM command reads and writes, over the store's rows. Implemented by the
/// store so that the rules below stay free of RocksDB.
pub(crate) trait IamRows {
    fn user(&self, name: &str) -> MetaResult<Option<IamUser>>;
    fn group(&self, name: &str) -> MetaResult<Option<IamGroup>>;
    fn policy(&self, name: &str) -> MetaResult<Option<ManagedPolicy>>;
    fn key(&self, id: &str) -> MetaResult<Option<AccessKey>>;
    fn keys_of(&self, user: &str) -> MetaResult<Vec<AccessKey>>;
    fn all_keys(&self) -> MetaResult<Vec<AccessKey>>;
    fn account(&self, name: &str) -> MetaResult<Option<Account>>;
    fn all_users(&self) -> MetaResult<Vec<IamUser>>;
    fn rate_limit(&self, scope: RateScope, name: &str) -> MetaResult<Option<RateLimit>>;
    fn root(&self) -> MetaResult<Option<RootCredentials>>;
}

/// The rows a command writes: Some = put, None = delete.
pub(crate) enum IamWrite {
    User(String, Option<IamUser>),
    Group(String, Option<IamGroup>),
    Policy(String, Option<ManagedPolicy>),
    Key(String, Option<AccessKey>),
    Account(String, Option<Account>),
    RateLimit(RateScope, String, Option<RateLimit>),
    Root(RootCredentials),
}

fn no_such(kind: Entity, name: &str) -> MetaError {
    MetaError::NoSuchEntity {
        kind,
        message: format!("The {} with name {name} cannot be found.", kind.name()),
    }
}

fn exists(kind: &str, name: &str) -> MetaError {
    MetaError::EntityAlreadyExists(format!("{kind} with name {name} already exists."))
}

/// Check a command against the current rows and say what to write.
pub(crate) fn plan(rows: &dyn IamRows, cmd: IamCommand) -> MetaResult<Vec<IamWrite>> {
    use IamCommand as C;
    let user = |name: &str| rows.user(name)?.ok_or_else(|| no_such(Entity::User, name));
    let group = |name: &str| {
        rows.group(name)?
            .ok_or_else(|| no_such(Entity::Group, name))
    };
    let policy = |name: &str| {
        rows.policy(name)?
            .ok_or_else(|| no_such(Entity::Policy, name))
    };
    Ok(match cmd {
        C::CreateUser(u) => {
            if rows.user(&u.name)?.is_some() {
                return Err(exists("User", &u.name));
            }
            if !u.account.is_empty() && rows.account(&u.account)?.is_none() {
                return Err(no_such(Entity::Account, &u.account));
            }
            vec![IamWrite::User(u.name.clone(), Some(u))]
        }
        C::DeleteUser { name, detach } => {
            let u = user(&name)?;
            let keys = rows.keys_of(&name)?;
            if !detach
                && (keys.iter().any(|k| k.session.is_none())
                    || !u.inline_policies.is_empty()
                    || !u.attached_policies.is_empty()
                    || !u.groups.is_empty())
            {
                return Err(MetaError::DeleteConflict(
                    "Cannot delete entity, must delete access keys, policies and group memberships first.".into(),
                ));
            }
            // Its keys (temporary ones always) go with it; with `detach`, also its
            // attachments and memberships, in the same write.
            let mut w: Vec<IamWrite> = keys
                .into_iter()
                .map(|k| IamWrite::Key(k.access_key_id, None))
                .collect();
            for p in &u.attached_policies {
                let mut pol = policy(p)?;
                pol.attachments = pol.attachments.saturating_sub(1);
                w.push(IamWrite::Policy(p.clone(), Some(pol)));
            }
            for g in &u.groups {
                let mut gx = group(g)?;
                gx.members.retain(|m| m != &name);
                w.push(IamWrite::Group(g.clone(), Some(gx)));
            }
            w.push(IamWrite::User(name, None));
            w
        }
        C::CreateAccessKey(k) => {
            user(&k.user)?;
            let long_term = rows
                .keys_of(&k.user)?
                .into_iter()
                .filter(|k| k.session.is_none());
            if long_term.count() >= MAX_KEYS_PER_USER {
                return Err(MetaError::LimitExceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
                )));
            }
            vec![IamWrite::Key(k.access_key_id.clone(), Some(k))]
        }
        C::CreateSessionKey(k) => {
            if !k.user.is_empty() {
                user(&k.user)?;
            }
            vec![IamWrite::Key(k.access_key_id.clone(), Some(k))]
        }
        C::SetRootIfAbsent(root) => match rows.root()? {
            Some(_) => Vec::new(),
            None => vec![IamWrite::Root(root)],
        },
        C::RemoveExpiredSessions { now } => rows
            .all_keys()?
            .into_iter()
            .filter(|k| k.session.as_ref().is_some_and(|s| s.expires <= now))
            .map(|k| IamWrite::Key(k.access_key_id, None))
            .collect(),
        C::UpdateAccessKey {
            user: u,
            access_key_id,
            active,
        } => {
            user(&u)?;
            let mut k = rows
                .key(&access_key_id)?
                .filter(|k| k.user == u)
                .ok_or_else(|| no_such(Entity::AccessKey, &access_key_id))?;
            k.active = active;
            vec![IamWrite::Key(access_key_id, Some(k))]
        }
        C::DeleteAccessKey {
            user: u,
            access_key_id,
        } => {
            user(&u)?;
            rows.key(&access_key_id)?
                .filter(|k| k.user == u)
                .ok_or_else(|| no_such(Entity::AccessKey, &access_key_id))?;
            vec![IamWrite::Key(access_key_id, None)]
        }
        C::PutUserPolicy {
            user: u,
            name,
            document,
        } => {
            let mut x = user(&u)?;
            x.inline_policies.insert(name, document);
            vec![IamWrite::User(u, Some(x))]
        }
        C::DeleteUserPolicy { user: u, name } => {
            let mut x = user(&u)?;
            if x.inline_policies.remove(&name).is_none() {
                return Err(no_such(Entity::UserPolicy, &name));
            }
            vec![IamWrite::User(u, Some(x))]
        }
        C::CreatePolicy(p) => {
            if rows.policy(&p.name)?.is_some() {
                return Err(exists("A policy called", &p.name));
            }
            vec![IamWrite::Policy(p.name.clone(), Some(p))]
        }
        C::UpdatePolicyDocument { name, document } => {
            let mut p = policy(&name)?;
            p.document = document;
            vec![IamWrite::Policy(name, Some(p))]
        }
        C::DeletePolicy { name } => {
            let p = policy(&name)?;
            if p.attachments > 0 {
                return Err(MetaError::DeleteConflict(
                    "Cannot delete a policy attached to entities.".into(),
                ));
            }
            vec![IamWrite::Policy(name, None)]
        }
        C::AttachUserPolicy { user: u, policy: p } => {
            let mut x = user(&u)?;
            let mut pol = policy(&p)?;
            if x.attached_policies.contains(&p) {
                return Ok(Vec::new());
            }
            x.attached_policies.push(p.clone());
            pol.attachments += 1;
            vec![IamWrite::User(u, Some(x)), IamWrite::Policy(p, Some(pol))]
        }
        C::DetachUserPolicy { user: u, policy: p } => {
            let mut x = user(&u)?;
            let mut pol = policy(&p)?;
            if !x.attached_policies.contains(&p) {
                return Err(no_such(Entity::AttachedPolicy, &p));
            }
            x.attached_policies.retain(|a| a != &p);
            pol.attachments = pol.attachments.saturating_sub(1);
            vec![IamWrite::User(u, Some(x)), IamWrite::Policy(p, Some(pol))]
        }
        C::CreateGroup(g) => {
            if rows.group(&g.name)?.is_some() {
                return Err(exists("Group", &g.name));
            }
            vec![IamWrite::Group(g.name.clone(), Some(g))]
        }
        C::DeleteGroup { name } => {
            let g = group(&name)?;
            if !g.members.is_empty()
                || !g.inline_policies.is_empty()
                || !g.attached_policies.is_empty()
            {
                return Err(MetaError::DeleteConflict(
                    "Cannot delete entity, must remove users and policies from group first.".into(),
                ));
            }
            vec![IamWrite::Group(name, None)]
        }
        C::AddUserToGroup { group: g, user: u } => {
            let mut gx = group(&g)?;
            let mut ux = user(&u)?;
            if gx.members.contains(&u) {
                return Ok(Vec::new());
            }
            gx.members.push(u.clone());
            ux.groups.push(g.clone());
            vec![IamWrite::Group(g, Some(gx)), IamWrite::User(u, Some(ux))]
        }
        C::RemoveUserFromGroup { group: g, user: u } => {
            let mut gx = group(&g)?;
            let mut ux = user(&u)?;
            if !gx.members.contains(&u) {
                return Err(no_such(Entity::GroupMember, &u));
            }
            gx.members.retain(|m| m != &u);
            ux.groups.retain(|m| m != &g);
            vec![IamWrite::Group(g, Some(gx)), IamWrite::User(u, Some(ux))]
        }
        C::PutGroupPolicy {
            group: g,
            name,
            document,
        } => {
            let mut gx = group(&g)?;
            gx.inline_policies.insert(name, document);
            vec![IamWrite::Group(g, Some(gx))]
        }
        C::DeleteGroupPolicy { group: g, name } => {
            let mut gx = group(&g)?;
            if gx.inline_policies.remove(&name).is_none() {
                return Err(no_such(Entity::GroupPolicy, &name));
            }
            vec![IamWrite::Group(g, Some(gx))]
        }
        C::AttachGroupPolicy {
            group: g,
            policy: p,
        } => {
            let mut gx = group(&g)?;
            let mut pol = policy(&p)?;
            if gx.attached_policies.contains(&p) {
                return Ok(Vec::new());
            }
            gx.attached_policies.push(p.clone());
            pol.attachments += 1;
            vec![IamWrite::Group(g, Some(gx)), IamWrite::Policy(p, Some(pol))]
        }
        C::DetachGroupPolicy {
            group: g,
            policy: p,
        } => {
            let mut gx = group(&g)?;
            let mut pol = policy(&p)?;
            if !gx.attached_policies.contains(&p) {
                return Err(no_such(Entity::AttachedPolicy, &p));
            }
            gx.attached_policies.retain(|a| a != &p);
            pol.attachments = pol.attachments.saturating_sub(1);
            vec![IamWrite::Group(g, Some(gx)), IamWrite::Policy(p, Some(pol))]
        }
        C::CreateAccount(a) => {
            if rows.account(&a.name)?.is_some() {
                return Err(exists("Account", &a.name));
            }
            vec![IamWrite::Account(a.name.clone(), Some(a))]
        }
        C::DeleteAccount { name } => {
            rows.account(&name)?
                .ok_or_else(|| no_such(Entity::Account, &name))?;
            if rows.all_users()?.iter().any(|u| u.account == name) {
                return Err(MetaError::DeleteConflict(format!(
                    "Cannot delete account {name}: it still has users."
                )));
            }
            vec![IamWrite::Account(name, None)]
        }
        C::SetAccountQuota { name, quota } => {
            let mut a = rows
                .account(&name)?
                .ok_or_else(|| no_such(Entity::Account, &name))?;
            a.quota = quota;
            vec![IamWrite::Account(name, Some(a))]
        }
        C::PutRateLimit(l) => vec![IamWrite::RateLimit(l.scope, l.name.clone(), Some(l))],
        C::DeleteRateLimit { scope, name } => {
            rows.rate_limit(scope, &name)?
                .ok_or_else(|| no_such(Entity::RateLimit, &name))?;
            vec![IamWrite::RateLimit(scope, name, None)]
        }
    })
}
