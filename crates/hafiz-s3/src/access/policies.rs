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
    pub policies: Vec<Policy>,
    /// Whether any policy mentions `s3:ExistingObjectTag`, which costs a read of the
    /// object's tags to evaluate.
    pub needs_object_tags: bool,
}

/// A bucket's policy, parsed.
pub struct BucketPolicy {
    pub policy: Policy,
    /// Block Public Access's RestrictPublicBuckets is on.
    pub restrict_public: bool,
    pub needs_object_tags: bool,
}

#[derive(Default)]
pub struct PolicyCache {
    inner: Mutex<(u64, HashMap<String, Arc<UserAccess>>)>,
    /// Per bucket: the policy text last parsed, and the result.
    buckets: Mutex<HashMap<String, ParsedBucketPolicy>>,
}

/// The policy text and RestrictPublicBuckets setting a parse was made from.
type ParsedBucketPolicy = (String, bool, Arc<BucketPolicy>);

impl PolicyCache {
    /// A bucket's policy (None: the bucket has none, or does not exist).
    pub async fn bucket_policy(
        &self,
        state: &S3State,
        bucket: &str,
    ) -> S3Result<Option<Arc<BucketPolicy>>> {
        let Some(b) = state.meta.bucket(bucket).await? else {
            return Ok(None);
        };
        let Some(doc) = b.policy else {
            return Ok(None);
        };
        let restrict = b
            .public_access_block
            .is_some_and(|p| p.restrict_public_buckets);
        let mut cache = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((text, r, p)) = cache.get(bucket)
            && *text == doc
            && *r == restrict
        {
            return Ok(Some(p.clone()));
        }
        let Ok(policy) = Policy::parse(&doc) else {
            tracing::warn!(bucket, "ignoring a bucket policy that does not parse");
            return Ok(None);
        };
        let p = Arc::new(BucketPolicy {
            needs_object_tags: doc.contains("ExistingObjectTag"),
            policy,
            restrict_public: restrict,
        });
        cache.insert(bucket.to_string(), (doc, restrict, p.clone()));
        Ok(Some(p))
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
        let policies = docs
            .iter()
            .filter_map(|d| match Policy::parse(d) {
                Ok(p) => Some(p),
                Err(e) => {
                    // Documents are validated when stored; one that no longer parses
                    // grants nothing rather than failing every request.
                    tracing::warn!(user = %user.name, error = %e, "ignoring a policy that does not parse");
                    None
                }
            })
            .collect();
        let access = Arc::new(UserAccess {
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
