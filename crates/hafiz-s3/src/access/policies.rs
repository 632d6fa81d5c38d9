//! The policies that apply to an IAM user (inline, attached managed, and those of its
//! groups), parsed once and cached until an IAM command changes anything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hafiz_iam::Policy;
use hafiz_meta::iam::IamUser;

use crate::error::S3Result;
use crate::server::S3State;

/// What authorization needs about one user.
pub struct UserAccess {
    pub user: IamUser,
    /// The 12-digit id of the user's account (the default account's for "").
    pub account_id: String,
    pub policies: Vec<Policy>,
    /// Whether any policy mentions `s3:ExistingObjectTag`, which costs a read of the
    /// object's tags to evaluate.
    pub needs_object_tags: bool,
}

/// Managed policies named by a web identity, parsed.
pub struct ManagedSet {
    pub policies: Vec<Policy>,
    pub needs_object_tags: bool,
}

/// A bucket's policy, parsed.
pub struct BucketPolicy {
    pub policy: Policy,
    /// Block Public Access's RestrictPublicBuckets is on.
    pub restrict_public: bool,
    /// It grants something to everyone.
    pub public: bool,
    pub needs_object_tags: bool,
}

#[derive(Default)]
pub struct PolicyCache {
    inner: Mutex<(u64, HashMap<String, Arc<UserAccess>>)>,
    /// Per bucket: the policy text last parsed, and the result.
    buckets: Mutex<HashMap<String, ParsedBucketPolicy>>,
    /// Temporary keys' session policies by access key id (a key's policy never changes).
    sessions: Mutex<HashMap<String, Arc<Policy>>>,
    /// Sets of managed policies by their names, for the IAM generation they were read at.
    managed: Mutex<(u64, ManagedSets)>,
}

/// Parsed sets of managed policies, by the names they were read for.
type ManagedSets = HashMap<Vec<String>, Arc<ManagedSet>>;

/// Bounds the session-policy cache; expired sessions fall out when it is cleared.
const MAX_CACHED_SESSIONS: usize = 10_000;

/// The policy text and RestrictPublicBuckets setting a parse was made from.
type ParsedBucketPolicy = (String, bool, Arc<BucketPolicy>);

impl PolicyCache {
    /// A bucket's policy, parsed (None: it has none). Parsed again only when the
    /// policy text or the bucket's Block Public Access settings change.
    pub fn bucket_policy(&self, b: &hafiz_meta::BucketInfo) -> Option<Arc<BucketPolicy>> {
        let doc = b.policy.as_ref()?;
        let restrict = b
            .public_access_block
            .is_some_and(|p| p.restrict_public_buckets);
        let mut cache = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((text, r, p)) = cache.get(&b.name)
            && text == doc
            && *r == restrict
        {
            return Some(p.clone());
        }
        let Ok(policy) = Policy::parse(doc) else {
            tracing::warn!(bucket = %b.name, "ignoring a bucket policy that does not parse");
            return None;
        };
        let p = Arc::new(BucketPolicy {
            needs_object_tags: doc.contains("ExistingObjectTag"),
            public: crate::ops::policy_is_public(&policy),
            policy,
            restrict_public: restrict,
        });
        cache.insert(b.name.clone(), (doc.clone(), restrict, p.clone()));
        Some(p)
    }

    /// A temporary key's session policy, parsed once per key.
    pub fn session_policy(&self, access_key_id: &str, doc: &str) -> Arc<Policy> {
        let mut cache = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache.get(access_key_id) {
            return p.clone();
        }
        // Validated when the session was issued; one that no longer parses allows
        // nothing (no statements), never everything.
        let p = Arc::new(Policy::parse(doc).unwrap_or(Policy {
            version: None,
            id: None,
            statements: Vec::new(),
        }));
        if cache.len() >= MAX_CACHED_SESSIONS {
            cache.clear();
        }
        cache.insert(access_key_id.to_string(), p.clone());
        p
    }

    /// The user's access, None if the user no longer exists.
    pub async fn user(&self, state: &S3State, name: &str) -> S3Result<Option<Arc<UserAccess>>> {
        let generation = state.meta.iam_generation();
        {
            let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if guard.0 == generation
                && let Some(a) = guard.1.get(name)
            {
                return Ok(Some(a.clone()));
            }
        }
        let Some(user) = state.meta.iam_user(name).await? else {
            return Ok(None);
        };
        let mut docs: Vec<String> = user.inline_policies.values().cloned().collect();
        let mut managed: Vec<String> = user.attached_policies.clone();
        for g in &user.groups {
            if let Some(group) = state.meta.iam_group(g).await? {
                docs.extend(group.inline_policies.values().cloned());
                managed.extend(group.attached_policies.iter().cloned());
            }
        }
        for m in managed {
            if let Some(p) = state.meta.iam_policy(&m).await? {
                docs.push(p.document);
            }
        }
        let needs_object_tags = docs.iter().any(|d| d.contains("ExistingObjectTag"));
        let policies = parse_all(&docs);
        let account_id = match user.account.as_str() {
            "" => state.owner.account_id.clone(),
            a => match state.meta.account(a).await? {
                Some(a) => a.id,
                // Its account is gone: the user reaches nothing.
                None => return Ok(None),
            },
        };
        let access = Arc::new(UserAccess {
            account_id,
            user,
            policies,
            needs_object_tags,
        });
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if guard.0 != generation {
            *guard = (generation, HashMap::new());
        }
        guard.1.insert(name.to_string(), access.clone());
        Ok(Some(access))
    }
}

impl PolicyCache {
    /// The managed policies with these names that exist now (a deleted one no longer
    /// applies), parsed; read again whenever IAM changes.
    pub async fn managed(&self, state: &S3State, names: &[String]) -> S3Result<Arc<ManagedSet>> {
        let generation = state.meta.iam_generation();
        {
            let guard = self.managed.lock().unwrap_or_else(|e| e.into_inner());
            if guard.0 == generation
                && let Some(set) = guard.1.get(names)
            {
                return Ok(set.clone());
            }
        }
        let mut docs = Vec::new();
        for name in names {
            if let Some(p) = state.meta.iam_policy(name).await? {
                docs.push(p.document);
            }
        }
        let set = Arc::new(ManagedSet {
            needs_object_tags: docs.iter().any(|d| d.contains("ExistingObjectTag")),
            policies: parse_all(&docs),
        });
        let mut guard = self.managed.lock().unwrap_or_else(|e| e.into_inner());
        if guard.0 != generation || guard.1.len() >= MAX_CACHED_SESSIONS {
            *guard = (generation, HashMap::new());
        }
        guard.1.insert(names.to_vec(), set.clone());
        Ok(set)
    }
}

fn parse_all(docs: &[String]) -> Vec<Policy> {
    docs.iter()
        .filter_map(|d| match Policy::parse(d) {
            Ok(p) => Some(p),
            Err(e) => {
                // Documents are validated when stored; one that no longer parses
                // grants nothing rather than failing every request.
                tracing::warn!(error = %e, "ignoring a policy that does not parse");
                None
            }
        })
        .collect()
}
