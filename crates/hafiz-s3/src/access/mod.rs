//! Who is asking: the access key a request claims (before its signature is checked),
//! the secrets it may be checked against (the root key, or an active IAM user key
//! from metadata), and the principal it resolves to.

pub mod actions;
mod policies;

pub use policies::{ManagedSet, PolicyCache, UserAccess};

use std::collections::HashMap;

use hafiz_meta::iam::AccessKey;
use http::HeaderMap;

use crate::auth::{SecretLookup, canonical};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::Op;
use crate::server::S3State;

/// The principal behind an authenticated request.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    /// The account's root credentials: allowed everything.
    Root,
    /// Temporary credentials the root account took with STS: everything its session
    /// policy allows (everything without one).
    RootSession {
        access_key_id: String,
        policy: Option<std::sync::Arc<hafiz_iam::Policy>>,
    },
    User {
        name: String,
        access_key_id: String,
        /// Temporary credentials: the user's permissions, narrowed by this policy.
        session: Option<SessionGrant>,
    },
    /// Temporary credentials from AssumeRoleWithWebIdentity: the managed policies the
    /// identity provider named, narrowed by the session policy.
    Federated {
        access_key_id: String,
        session_name: String,
        identity: hafiz_meta::iam::WebIdentity,
        session: SessionGrant,
    },
}

impl Principal {
    /// How policies see a web identity: as the assumed role's session, whose
    /// `aws:userid` is the token's subject (vouched for by the provider, unlike the
    /// session name, which the caller picks).
    pub fn federated_principal(
        account: &str,
        identity: &hafiz_meta::iam::WebIdentity,
        session_name: &str,
    ) -> hafiz_iam::Principal {
        hafiz_iam::Principal {
            arn: format!(
                "arn:aws:sts::{account}:assumed-role/{}/{session_name}",
                identity.role
            ),
            account: account.to_string(),
            username: None,
            userid: identity.subject.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SessionGrant {
    /// Parsed once per session (see `PolicyCache::session_policy`).
    pub policy: Option<std::sync::Arc<hafiz_iam::Policy>>,
}

/// The access key id a request names, from whichever auth form it uses (SigV4 or
/// SigV2, header or query). Not yet verified.
pub fn claimed_access_key(headers: &HeaderMap, raw_query: Option<&str>) -> Option<String> {
    if let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(i) = v.find("Credential=") {
            let rest = &v[i + "Credential=".len()..];
            return rest.split('/').next().map(str::to_string);
        }
        // SigV2: `AWS AKID:signature`.
        return v
            .strip_prefix("AWS ")
            .and_then(|r| r.split(':').next())
            .map(|s| s.trim().to_string());
    }
    let raw = raw_query?;
    canonical::raw_query_pairs(raw).find_map(|(k, v)| match k {
        "X-Amz-Credential" => {
            let decoded = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            decoded.split('/').next().map(str::to_string)
        }
        "AWSAccessKeyId" => Some(
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned(),
        ),
        _ => None,
    })
}

/// The service a SigV4 request was signed for (`s3`, `iam`, `sts`), from its
/// credential scope.
pub fn signed_service(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let rest = &v[v.find("Credential=")? + "Credential=".len()..];
    let scope = rest.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_string)
}

/// The secrets one request can be verified with: the root key, plus the IAM key it
/// claims when that key exists and is active (an inactive key is unknown, so the
/// request fails with InvalidAccessKeyId at once).
pub struct RequestSecrets<'a> {
    root: &'a dyn SecretLookup,
    user_key: Option<AccessKey>,
    session_policy: Option<std::sync::Arc<hafiz_iam::Policy>>,
}

impl SecretLookup for RequestSecrets<'_> {
    fn secret_key(&self, access_key: &str) -> Option<String> {
        self.root.secret_key(access_key).or_else(|| {
            self.user_key
                .as_ref()
                .filter(|k| k.access_key_id == access_key && k.active)
                .map(|k| k.secret_key.clone())
        })
    }
}

impl RequestSecrets<'_> {
    /// The principal an authenticated access key id stands for.
    pub fn principal(&self, access_key: &str) -> Principal {
        if self.root.secret_key(access_key).is_some() {
            return Principal::Root;
        }
        match &self.user_key {
            Some(k) if k.access_key_id == access_key => match &k.session {
                Some(hafiz_meta::iam::Session {
                    web_identity: Some(identity),
                    name,
                    ..
                }) => Principal::Federated {
                    access_key_id: k.access_key_id.clone(),
                    session_name: name.clone(),
                    identity: identity.clone(),
                    session: SessionGrant {
                        policy: self.session_policy.clone(),
                    },
                },
                Some(_) if k.user.is_empty() => Principal::RootSession {
                    access_key_id: k.access_key_id.clone(),
                    policy: self.session_policy.clone(),
                },
                session => Principal::User {
                    name: k.user.clone(),
                    access_key_id: k.access_key_id.clone(),
                    session: session.as_ref().map(|_| SessionGrant {
                        policy: self.session_policy.clone(),
                    }),
                },
            },
            _ => Principal::Anonymous,
        }
    }

    /// The key whose rate limits a request signed with `access_key` spends: a
    /// session's parent key, else the key itself.
    pub fn rate_limit_key(&self, access_key: &str) -> String {
        self.user_key
            .as_ref()
            .filter(|k| k.access_key_id == access_key)
            .and_then(|k| k.session.as_ref()?.parent_key.clone())
            .unwrap_or_else(|| access_key.to_string())
    }

    /// Temporary credentials must come with their session token and be unexpired:
    /// ExpiredToken or InvalidToken otherwise, before the signature is even checked.
    pub fn check_session(&self, headers: &HeaderMap, raw_query: Option<&str>) -> S3Result<()> {
        let Some(session) = self.user_key.as_ref().and_then(|k| k.session.as_ref()) else {
            return Ok(());
        };
        if session.expires <= crate::timefmt::now_millis() {
            return Err(S3Error::new(S3ErrorCode::ExpiredToken));
        }
        let sent = headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                raw_query.and_then(|q| {
                    canonical::raw_query_pairs(q).find_map(|(k, v)| {
                        (k == "X-Amz-Security-Token").then(|| {
                            percent_encoding::percent_decode_str(v)
                                .decode_utf8_lossy()
                                .into_owned()
                        })
                    })
                })
            });
        // Tokens are bearer secrets: compared in constant time.
        let ok = sent.is_some_and(|t| {
            subtle::ConstantTimeEq::ct_eq(t.as_bytes(), session.token.as_bytes()).into()
        });
        if ok {
            Ok(())
        } else {
            Err(S3Error::new(S3ErrorCode::InvalidToken))
        }
    }
}

pub async fn request_secrets<'a>(
    state: &'a S3State,
    headers: &HeaderMap,
    raw_query: Option<&str>,
) -> RequestSecrets<'a> {
    secrets_for(state, claimed_access_key(headers, raw_query)).await
}

/// The secrets for an access key named elsewhere than the headers or query (a POST
/// upload's form fields).
pub async fn secrets_for(state: &S3State, claimed: Option<String>) -> RequestSecrets<'_> {
    let user_key = match claimed {
        Some(id) if state.secrets.secret_key(&id).is_none() => {
            state.meta.access_key(&id).await.ok().flatten()
        }
        _ => None,
    };
    let session_policy = user_key
        .as_ref()
        .and_then(|k| Some((k, k.session.as_ref()?.policy.as_ref()?)))
        .map(|(k, doc)| state.iam_cache.session_policy(&k.access_key_id, doc));
    RequestSecrets {
        root: state.secrets.as_ref(),
        user_key,
        session_policy,
    }
}

/// Who sent a request and how: what authorization needs besides the request itself.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub peer: Option<std::net::IpAddr>,
    pub presigned: bool,
    pub sigv2: bool,
}

/// What authorization looks at in a request.
#[derive(Clone, Copy)]
pub struct RequestFacts<'a> {
    pub op: crate::router::Op,
    pub bucket: &'a str,
    pub key: &'a str,
    pub query: &'a crate::router::Query,
    pub headers: &'a HeaderMap,
    pub caller: &'a Caller,
}

/// Whether `principal` may make this request. Root may do anything; an IAM user what
/// its policies allow (explicit deny wins, nothing allowed by default).
pub async fn authorize_s3(state: &S3State, facts: &RequestFacts<'_>) -> S3Result<()> {
    let versioned = facts.query.has("versionId");
    let action = actions::action(facts.op, versioned);
    if facts.op == Op::DeleteObjects {
        // Checked per key by the handler, as S3 does.
        return Ok(());
    }
    authorize_action(state, facts, action, facts.key).await?;
    // A copy also reads its source.
    if matches!(facts.op, Op::CopyObject | Op::UploadPartCopy)
        && let Some(src) = facts
            .headers
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
        && let Ok((b, k, v)) = crate::ops::copy_source(src)
    {
        let src_facts = RequestFacts {
            bucket: &b,
            ..*facts
        };
        let action = if v.is_some() {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        };
        authorize_action(state, &src_facts, action, &k).await?;
    }
    if crate::ops::replication::Replica::requested(facts.headers) {
        // A replica write from another cluster keeps the source's version id and
        // dates: only principals allowed to replicate may ask for that.
        let action = if facts.op == Op::DeleteObject {
            "s3:ReplicateDelete"
        } else if matches!(facts.op, Op::PutObjectTagging | Op::DeleteObjectTagging) {
            "s3:ReplicateTags"
        } else {
            "s3:ReplicateObject"
        };
        authorize_action(state, facts, action, facts.key).await?;
    }
    if facts
        .headers
        .contains_key("x-amz-bypass-governance-retention")
    {
        authorize_action(state, facts, "s3:BypassGovernanceRetention", facts.key).await?;
    }
    Ok(())
}

/// One action on one key (DeleteObjects checks each of its keys this way).
pub async fn authorize_action(
    state: &S3State,
    facts: &RequestFacts<'_>,
    action: &str,
    key: &str,
) -> S3Result<()> {
    let denied = || S3Error::new(S3ErrorCode::AccessDenied);
    let user = match &facts.caller.principal {
        // The account's root key is allowed everything, bucket policies included (as
        // MinIO's root; on AWS only an explicit Deny in a bucket policy binds root).
        Principal::Root => return Ok(()),
        Principal::RootSession { policy, .. } => {
            return match policy {
                Some(p) if !session_allows(state, p, facts, action, key) => Err(denied()),
                _ => Ok(()),
            };
        }
        Principal::Anonymous => None,
        Principal::User {
            session: Some(SessionGrant { policy: Some(p) }),
            ..
        } if !session_allows(state, p, facts, action, key) => return Err(denied()),
        Principal::User { name, .. } => match state.iam_cache.user(state, name).await? {
            Some(a) => Some(Grant::User(a)),
            None => return Err(denied()),
        },
        Principal::Federated {
            session: SessionGrant { policy: Some(p) },
            ..
        } if !session_allows(state, p, facts, action, key) => return Err(denied()),
        Principal::Federated {
            identity,
            session_name,
            ..
        } => Some(Grant::Federated {
            principal: Principal::federated_principal(
                &state.owner.account_id,
                identity,
                session_name,
            ),
            policies: state.iam_cache.managed(state, &identity.policies).await?,
        }),
    };
    // One read of the bucket serves its policy and its ACL. CreateBucket is judged
    // by the creator's own policies: a bucket of that name that exists (maybe another
    // account's) is the handler's BucketAlreadyExists, not a denial.
    let bucket = match facts.bucket {
        "" => None,
        _ if facts.op == Op::CreateBucket => None,
        b => state.meta.bucket(b).await?,
    };
    let bucket_policy = bucket
        .as_ref()
        .and_then(|b| state.iam_cache.bucket_policy(b));
    // Anonymous callers may not use a public policy Block Public Access restricts.
    let bucket_policy =
        bucket_policy.filter(|p| user.is_some() || !(p.restrict_public && p.public));
    let principal = user.as_ref().map(Grant::principal);
    let mut keys = condition_keys(state, facts, principal.as_ref());
    let needs_tags = user.as_ref().is_some_and(|u| u.needs_object_tags())
        || bucket_policy.as_ref().is_some_and(|p| p.needs_object_tags);
    if needs_tags
        && !key.is_empty()
        && let Ok(Some(v)) = state.meta.object(facts.bucket, key).await
    {
        for (k, val) in v.tags {
            keys.insert(format!("s3:ExistingObjectTag/{k}"), vec![val]);
        }
    }
    let ctx = hafiz_iam::RequestContext {
        action: action.to_string(),
        resource: actions::resource(facts.bucket, key),
        principal,
        keys,
    };
    let identity = match &user {
        Some(u) => {
            let refs: Vec<&hafiz_iam::Policy> = u.policies().iter().collect();
            hafiz_iam::evaluate_identity(&refs, &ctx)
        }
        None => hafiz_iam::Decision::NotApplicable,
    };
    let resource = match &bucket_policy {
        Some(p) => hafiz_iam::evaluate_resource(&p.policy, &ctx),
        None => hafiz_iam::Decision::NotApplicable,
    };
    let explicit_deny = identity == hafiz_iam::Decision::ExplicitDeny
        || resource == hafiz_iam::Decision::ExplicitDeny;
    // Another account's bucket (accounts are tenants): as on AWS across accounts,
    // both the user's own policies and the bucket's policy must allow.
    let cross_account = matches!((&user, &bucket), (Some(u), Some(b)) if u.account() != b.account);
    let allowed = if cross_account {
        !explicit_deny
            && identity == hafiz_iam::Decision::Allow
            && resource == hafiz_iam::Decision::Allow
    } else {
        hafiz_iam::is_allowed(identity, resource)
    };
    if allowed
        || (!explicit_deny
            && acl_allows(
                state,
                bucket.as_ref(),
                facts,
                action,
                key,
                caller_acl_account(&user, &facts.caller.principal).as_deref(),
            )
            .await)
    {
        Ok(())
    } else {
        Err(denied())
    }
}

/// Whom ACL grants see in a caller: its account (root and federated sessions are the
/// default account's), None for anonymous callers.
fn caller_acl_account(user: &Option<Grant>, p: &Principal) -> Option<String> {
    match (user, p) {
        (_, Principal::Anonymous) => None,
        (Some(g), _) => Some(g.account().to_string()),
        (None, _) => Some(String::new()),
    }
}

/// The account (tenant) whose buckets a caller lists and creates into: None for root
/// (every bucket; creates into the default account) and anonymous callers.
pub async fn caller_account(state: &S3State, principal: &Principal) -> S3Result<Option<String>> {
    match principal {
        Principal::Root | Principal::RootSession { .. } | Principal::Anonymous => Ok(None),
        // Federated sessions belong to the default account.
        Principal::Federated { .. } => Ok(Some(String::new())),
        // A user that no longer resolves sees nothing (fail closed).
        Principal::User { name, .. } => match state.iam_cache.user(state, name).await? {
            Some(u) => Ok(Some(u.user.account.clone())),
            None => Err(S3Error::new(S3ErrorCode::AccessDenied)),
        },
    }
}

/// The 12-digit id of the caller's account, for ARNs in audit records: a tenant
/// user's account, else the default account.
pub async fn account_id_of(state: &S3State, principal: Option<&Principal>) -> String {
    if let Some(Principal::User { name, .. }) = principal
        && let Ok(Some(u)) = state.iam_cache.user(state, name).await
    {
        return u.account_id.clone();
    }
    state.owner.account_id.clone()
}

/// The identity policies that apply to a caller.
enum Grant {
    User(std::sync::Arc<UserAccess>),
    Federated {
        principal: hafiz_iam::Principal,
        policies: std::sync::Arc<ManagedSet>,
    },
}

impl Grant {
    fn policies(&self) -> &[hafiz_iam::Policy] {
        match self {
            Grant::User(u) => &u.policies,
            Grant::Federated { policies, .. } => &policies.policies,
        }
    }

    fn needs_object_tags(&self) -> bool {
        match self {
            Grant::User(u) => u.needs_object_tags,
            Grant::Federated { policies, .. } => policies.needs_object_tags,
        }
    }

    fn principal(&self) -> hafiz_iam::Principal {
        match self {
            Grant::User(u) => hafiz_iam::Principal::user(&u.account_id, &u.user.name, &u.user.id),
            Grant::Federated { principal, .. } => principal.clone(),
        }
    }

    /// The account (tenant) the caller belongs to; federated sessions are the
    /// default account's.
    fn account(&self) -> &str {
        match self {
            Grant::User(u) => &u.user.account,
            Grant::Federated { .. } => "",
        }
    }
}

/// Whether the resource's ACL grants this (canned or explicit grants): READ lists a
/// bucket or reads an object, WRITE writes objects into a bucket, READ_ACP and
/// WRITE_ACP read and change the ACL, FULL_CONTROL all of them. Block Public
/// Access's IgnorePublicAcls turns public grants off, and BucketOwnerEnforced turns
/// ACLs off altogether, as on AWS.
async fn acl_allows(
    state: &S3State,
    bucket: Option<&hafiz_meta::BucketInfo>,
    facts: &RequestFacts<'_>,
    action: &str,
    key: &str,
    caller: Option<&str>,
) -> bool {
    use crate::ops::acl::{grants_allow, grants_of};
    use hafiz_meta::AclPermission as P;
    let Some(b) = bucket else {
        return false;
    };
    if b.ownership == Some(hafiz_meta::ObjectOwnership::BucketOwnerEnforced) {
        return false;
    }
    let ignore_public = b.public_access_block.is_some_and(|p| p.ignore_public_acls);
    let allows = |acl: hafiz_meta::CannedAcl,
                  grants: Option<&Vec<hafiz_meta::AclGrant>>,
                  needed| {
        let mut all = grants_of(acl, grants);
        if ignore_public {
            all.retain(|g| {
                !matches!(
                    g.grantee,
                    hafiz_meta::AclGrantee::AllUsers | hafiz_meta::AclGrantee::AuthenticatedUsers
                )
            });
        }
        grants_allow(&all, caller, needed)
    };
    let on_bucket = |needed| allows(b.acl, b.grants.as_ref(), needed);
    let object_needs = match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => {
            return on_bucket(P::Read);
        }
        "s3:PutObject" | "s3:DeleteObject" | "s3:DeleteObjectVersion" => {
            return on_bucket(P::Write);
        }
        "s3:GetBucketAcl" => return on_bucket(P::ReadAcp),
        "s3:PutBucketAcl" => return on_bucket(P::WriteAcp),
        "s3:GetObject" | "s3:GetObjectVersion" => P::Read,
        "s3:GetObjectAcl" | "s3:GetObjectVersionAcl" => P::ReadAcp,
        "s3:PutObjectAcl" | "s3:PutObjectVersionAcl" => P::WriteAcp,
        _ => return false,
    };
    let v = match facts.query.get("versionId") {
        Some(id) => state.meta.object_version(facts.bucket, key, id).await,
        None => state.meta.object(facts.bucket, key).await,
    };
    matches!(v, Ok(Some(v)) if allows(v.acl, v.grants.as_ref(), object_needs))
}

/// Whether a session policy allows an action (it can only narrow what the session's
/// owner may do).
fn session_allows(
    state: &S3State,
    policy: &hafiz_iam::Policy,
    facts: &RequestFacts<'_>,
    action: &str,
    key: &str,
) -> bool {
    let ctx = hafiz_iam::RequestContext {
        action: action.to_string(),
        resource: actions::resource(facts.bucket, key),
        principal: None,
        keys: condition_keys(state, facts, None),
    };
    hafiz_iam::evaluate_identity(&[policy], &ctx) == hafiz_iam::Decision::Allow
}

/// Whether `principal` may call `iam:<action>` on the entity the form names. Root
/// may; a user when its policies allow it.
pub async fn authorize_iam(
    state: &S3State,
    principal: &Principal,
    action: &str,
    form: &[(String, String)],
) -> bool {
    let field = |f: &str| form.iter().find(|(k, _)| k == f).map(|(_, v)| v.as_str());
    let account = &state.owner.account_id;
    let resource = if let Some(arn) = field("PolicyArn") {
        arn.to_string()
    } else if let Some(u) = field("UserName") {
        format!("arn:aws:iam::{account}:user/{u}")
    } else if let Some(g) = field("GroupName") {
        format!("arn:aws:iam::{account}:group/{g}")
    } else {
        "*".to_string()
    };
    authorize_operator(state, principal, &format!("iam:{action}"), resource).await
}

/// Whether `principal` may perform an operator action (`iam:*`, `admin:*`): root may;
/// a long-term user of the default account when its policies allow it. Temporary
/// credentials and tenants' users never manage the store: tenants are managed by
/// operators, so a tenant's user never reaches another's users.
pub async fn authorize_operator(
    state: &S3State,
    principal: &Principal,
    action: &str,
    resource: String,
) -> bool {
    let name = match principal {
        Principal::Root => return true,
        Principal::Anonymous | Principal::RootSession { .. } => return false,
        Principal::User {
            session: Some(_), ..
        }
        | Principal::Federated { .. } => return false,
        Principal::User { name, .. } => name,
    };
    let Ok(Some(access)) = state.iam_cache.user(state, name).await else {
        return false;
    };
    if !access.user.account.is_empty() {
        return false;
    }
    let mut keys = HashMap::new();
    keys.insert("aws:username".to_string(), vec![access.user.name.clone()]);
    keys.insert("aws:userid".to_string(), vec![access.user.id.clone()]);
    let ctx = hafiz_iam::RequestContext {
        action: action.to_string(),
        resource,
        principal: Some(hafiz_iam::Principal::user(
            access.account_id.clone(),
            access.user.name.clone(),
            access.user.id.clone(),
        )),
        keys,
    };
    let refs: Vec<&hafiz_iam::Policy> = access.policies.iter().collect();
    hafiz_iam::evaluate_identity(&refs, &ctx) == hafiz_iam::Decision::Allow
}

/// The condition keys S3 defines for a request, from what it carries.
fn condition_keys(
    state: &S3State,
    facts: &RequestFacts<'_>,
    principal: Option<&hafiz_iam::Principal>,
) -> HashMap<String, Vec<String>> {
    let mut k: HashMap<String, Vec<String>> = HashMap::new();
    let mut put = |name: &str, v: String| {
        k.insert(name.to_string(), vec![v]);
    };
    if let Some(ip) = facts.caller.peer {
        put("aws:SourceIp", ip.to_string());
    }
    // The S3 listener is TLS or plain as a whole: the request came over TLS iff
    // the listener speaks it.
    put(
        "aws:SecureTransport",
        state.config.secure_transport.to_string(),
    );
    let now = time::OffsetDateTime::now_utc();
    put(
        "aws:CurrentTime",
        crate::timefmt::iso8601(crate::timefmt::now_millis()),
    );
    put("aws:EpochTime", now.unix_timestamp().to_string());
    match principal {
        Some(p) => {
            if let Some(name) = &p.username {
                put("aws:username", name.clone());
            }
            put("aws:userid", p.userid.clone());
            put("aws:PrincipalType", p.principal_type().into());
        }
        None => put("aws:PrincipalType", "Anonymous".into()),
    }
    let header = |n: &str| facts.headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(ua) = header("user-agent") {
        put("aws:UserAgent", ua.to_string());
    }
    if let Some(r) = header("referer") {
        put("aws:Referer", r.to_string());
    }
    put(
        "s3:signatureversion",
        if facts.caller.sigv2 {
            "AWS"
        } else {
            "AWS4-HMAC-SHA256"
        }
        .into(),
    );
    put(
        "s3:authType",
        if facts.op == Op::PostObject {
            // A browser upload signed by its form fields.
            "POST"
        } else if facts.caller.presigned {
            "REST-QUERY-STRING"
        } else {
            "REST-HEADER"
        }
        .into(),
    );
    if matches!(
        facts.op,
        Op::ListObjects | Op::ListObjectsV2 | Op::ListObjectVersions | Op::ListMultipartUploads
    ) {
        // S3 evaluates s3:prefix as "" when a listing names none.
        put(
            "s3:prefix",
            facts.query.get("prefix").unwrap_or("").to_string(),
        );
        if let Some(d) = facts.query.get("delimiter") {
            put("s3:delimiter", d.to_string());
        }
        if let Some(m) = facts.query.get("max-keys") {
            put("s3:max-keys", m.to_string());
        }
    }
    if let Some(v) = facts.query.get("versionId") {
        put("s3:VersionId", v.to_string());
    }
    for (h, key) in [
        ("x-amz-acl", "s3:x-amz-acl"),
        ("x-amz-grant-read", "s3:x-amz-grant-read"),
        ("x-amz-grant-write", "s3:x-amz-grant-write"),
        ("x-amz-grant-read-acp", "s3:x-amz-grant-read-acp"),
        ("x-amz-grant-write-acp", "s3:x-amz-grant-write-acp"),
        ("x-amz-grant-full-control", "s3:x-amz-grant-full-control"),
        ("x-amz-content-sha256", "s3:x-amz-content-sha256"),
        ("x-amz-copy-source", "s3:x-amz-copy-source"),
        ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
        ("x-amz-storage-class", "s3:x-amz-storage-class"),
        (
            "x-amz-server-side-encryption",
            "s3:x-amz-server-side-encryption",
        ),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
        ),
        (
            "x-amz-server-side-encryption-customer-algorithm",
            "s3:x-amz-server-side-encryption-customer-algorithm",
        ),
        ("x-amz-object-lock-mode", "s3:object-lock-mode"),
        (
            "x-amz-object-lock-retain-until-date",
            "s3:object-lock-retain-until-date",
        ),
        ("x-amz-object-lock-legal-hold", "s3:object-lock-legal-hold"),
    ] {
        if let Some(v) = header(h) {
            put(key, v.to_string());
        }
    }
    if let Ok(tags) = crate::ops::tagging(facts.headers)
        && !tags.is_empty()
    {
        k.insert(
            "s3:RequestObjectTagKeys".into(),
            tags.iter().map(|(t, _)| t.clone()).collect(),
        );
        for (t, v) in tags {
            k.insert(format!("s3:RequestObjectTag/{t}"), vec![v]);
        }
    }
    k
}

/// A policy document given to PutUserPolicy, PutGroupPolicy or CreatePolicy: it must
/// parse as an identity policy (no Principal). The message is AWS's
/// MalformedPolicyDocument text.
pub fn validate_identity_policy(doc: &str) -> Result<(), String> {
    let p = hafiz_iam::Policy::parse(doc).map_err(|e| e.to_string())?;
    hafiz_iam::validate_identity_policy(&p).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_from_every_auth_form() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AKIAUSER/20261124/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x"
                .parse()
                .unwrap(),
        );
        assert_eq!(claimed_access_key(&h, None).as_deref(), Some("AKIAUSER"));
        assert_eq!(signed_service(&h).as_deref(), Some("iam"));
        h.insert(
            http::header::AUTHORIZATION,
            "AWS AKIDV2:sig=".parse().unwrap(),
        );
        assert_eq!(claimed_access_key(&h, None).as_deref(), Some("AKIDV2"));
        let empty = HeaderMap::new();
        assert_eq!(
            claimed_access_key(
                &empty,
                Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKQ%2F20261124%2Fus-east-1%2Fs3%2Faws4_request")
            )
            .as_deref(),
            Some("AKQ")
        );
        assert_eq!(
            claimed_access_key(&empty, Some("AWSAccessKeyId=AKV2Q&Signature=s&Expires=1"))
                .as_deref(),
            Some("AKV2Q")
        );
        assert_eq!(claimed_access_key(&empty, None), None);
    }
}
