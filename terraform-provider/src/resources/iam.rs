//! IAM: `hafiz_user`, `hafiz_access_key`, `hafiz_group`, `hafiz_policy` and
//! `hafiz_policy_attachment`, on the admin API.

use std::collections::BTreeSet;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use tf_provider::schema::Block;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use super::managed::{Managed, changed};
use crate::api::{Api, ApiError, ApiResult};
use crate::schema::*;
use crate::state::{StringSet, invalid, known, unless_default};

/// A string field of an admin API answer.
pub fn field(v: &Json, k: &str) -> Value<String> {
    v[k].as_str()
        .map(|s| Value::Value(s.to_string()))
        .unwrap_or(Value::Null)
}

fn name_of(v: &Value<String>) -> &str {
    known(v).unwrap_or_default()
}

/// A GET that is `None` when the server says there is no such thing.
pub async fn get(api: &Api, segments: &[&str]) -> ApiResult<Option<Json>> {
    match api.admin(Method::GET, segments, "", None).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Which parser a policy document must pass.
pub enum PolicyKind<'a> {
    Identity,
    Bucket(Option<&'a str>),
}

/// Checks a policy document as the server will, so a bad one fails at plan.
pub fn check_policy(diags: &mut Diagnostics, at: AttributePath, text: &str, kind: PolicyKind) {
    if let Err(e) = serde_json::from_str::<Json>(text) {
        return invalid(
            diags,
            at,
            "Malformed policy",
            format!("The policy is not JSON: {e}."),
        );
    }
    let policy = match hafiz_iam::Policy::parse(text) {
        Ok(p) => p,
        Err(e) => return invalid(diags, at, "Malformed policy", e.to_string()),
    };
    let checked = match kind {
        PolicyKind::Identity => hafiz_iam::validate_identity_policy(&policy),
        PolicyKind::Bucket(Some(bucket)) => hafiz_iam::validate_bucket_policy(&policy, bucket),
        PolicyKind::Bucket(None) => Ok(()),
    };
    if let Err(e) = checked {
        invalid(diags, at, "Malformed policy", e.to_string());
    }
}

/// The prior policy text when the planned one means the same JSON.
pub fn keep_same_policy(prior: &Value<String>, planned: &mut Value<String>) {
    let parse = |v: &Value<String>| known(v).and_then(|t| serde_json::from_str::<Json>(t).ok());
    if let (Some(a), Some(b)) = (parse(prior), parse(planned))
        && a == b
    {
        *planned = prior.clone();
    }
}

/// The configured text when it means the same JSON as the server's document (so
/// spacing and key order never show as a change), the server's otherwise: compact
/// with sorted keys, as Terraform's jsonencode and hafiz_policy_document write it,
/// so an imported policy matches a configuration written either way.
pub fn same_policy(prior: &Value<String>, server: &Json) -> Value<String> {
    if let Some(p) = known(prior)
        && serde_json::from_str::<Json>(p).ok().as_ref() == Some(server)
    {
        return prior.clone();
    }
    Value::Value(server.to_string())
}

// ---------------------------------------------------------------- hafiz_user

pub struct User;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct UserState {
    pub id: Value<String>,
    pub arn: Value<String>,
    pub name: Value<String>,
    pub account: Value<String>,
}

fn user_state(v: &Json, prior: &UserState) -> UserState {
    UserState {
        id: field(v, "id"),
        arn: field(v, "arn"),
        name: field(v, "name"),
        account: unless_default(
            v["account"].as_str().unwrap_or_default().to_string(),
            &prior.account,
        ),
    }
}

#[async_trait]
impl Managed for User {
    type State = UserState;
    const KIND: &'static str = "user";
    const IMPORT_ID: &'static str = "the user's name";

    fn block(&self) -> Block {
        block(
            "An IAM user (its keys are hafiz_access_key).",
            [
                ("id", computed(string(), "The user's unique id.")),
                ("arn", computed(string(), "The user's ARN.")),
                ("name", required(string(), "The user's name.")),
                (
                    "account",
                    optional(string(), "The tenant account the user belongs to."),
                ),
            ],
            [],
        )
    }

    fn plan(&self, mut p: UserState, creating: bool) -> UserState {
        if creating {
            p.id = Value::Unknown;
            p.arn = Value::Unknown;
        }
        p
    }

    fn replaced(&self, a: &UserState, b: &UserState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "name", &a.name, &b.name);
        changed(&mut out, "account", &a.account, &b.account);
        out
    }

    fn label(&self, s: &UserState) -> String {
        name_of(&s.name).to_string()
    }

    async fn create(&self, api: &Api, p: &UserState) -> ApiResult<UserState> {
        let mut body = json!({"name": name_of(&p.name)});
        if let Some(a) = known(&p.account) {
            body["account"] = json!(a);
        }
        let v = api
            .admin(Method::POST, &["users"], "", Some(&body))
            .await?
            .unwrap_or_default();
        Ok(user_state(&v, p))
    }

    async fn read(&self, api: &Api, s: &UserState) -> ApiResult<Option<UserState>> {
        Ok(get(api, &["users", name_of(&s.name)])
            .await?
            .map(|v| user_state(&v, s)))
    }

    async fn update(
        &self,
        _api: &Api,
        _prior: &UserState,
        planned: &UserState,
    ) -> ApiResult<UserState> {
        Ok(planned.clone())
    }

    async fn delete(&self, api: &Api, s: &UserState) -> ApiResult<()> {
        api.admin(Method::DELETE, &["users", name_of(&s.name)], "", None)
            .await
            .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<UserState> {
        Some(UserState {
            name: Value::Value(id.to_string()),
            ..Default::default()
        })
    }
}

// ---------------------------------------------------------- hafiz_access_key

pub struct AccessKey;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct AccessKeyState {
    pub id: Value<String>,
    pub user: Value<String>,
    pub status: Value<String>,
    pub access_key: Value<String>,
    pub secret_key: Value<String>,
}

const KEY_STATUSES: [&str; 2] = ["Active", "Inactive"];

#[async_trait]
impl Managed for AccessKey {
    type State = AccessKeyState;
    const KIND: &'static str = "access key";
    const IMPORT_ID: &'static str = "USER/ACCESS_KEY_ID";

    fn block(&self) -> Block {
        block(
            "An access key of a user. The secret is only known to the state of the apply that created it.",
            [
                ("id", computed(string(), "The access key id.")),
                ("user", required(string(), "The user the key belongs to.")),
                (
                    "status",
                    defaulted(string(), "Active (default) or Inactive."),
                ),
                ("access_key", computed(string(), "The access key id.")),
                (
                    "secret_key",
                    sensitive(computed(string(), "The secret access key.")),
                ),
            ],
            [],
        )
    }

    fn check(&self, diags: &mut Diagnostics, c: &AccessKeyState) {
        if let Value::Value(st) = &c.status
            && !KEY_STATUSES.contains(&st.as_str())
        {
            invalid(
                diags,
                AttributePath::new("status"),
                "Invalid key status",
                format!("status must be Active or Inactive, not {st:?}."),
            );
        }
    }

    fn plan(&self, mut p: AccessKeyState, creating: bool) -> AccessKeyState {
        if p.status.is_null() {
            p.status = Value::Value("Active".into());
        }
        if creating {
            p.id = Value::Unknown;
            p.access_key = Value::Unknown;
            p.secret_key = Value::Unknown;
        }
        p
    }

    fn replaced(&self, a: &AccessKeyState, b: &AccessKeyState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "user", &a.user, &b.user);
        out
    }

    fn label(&self, s: &AccessKeyState) -> String {
        format!(
            "{} of {}",
            known(&s.id).unwrap_or("(new)"),
            name_of(&s.user)
        )
    }

    async fn create(&self, api: &Api, p: &AccessKeyState) -> ApiResult<AccessKeyState> {
        let user = name_of(&p.user);
        let v = api
            .admin(Method::POST, &["users", user, "keys"], "", None)
            .await?
            .unwrap_or_default();
        let mut s = p.clone();
        s.id = field(&v, "access_key_id");
        s.access_key = s.id.clone();
        s.secret_key = field(&v, "secret_key");
        if s.status == Value::Value("Inactive".into()) {
            let id = known(&s.id).unwrap_or_default().to_string();
            set_status(api, user, &id, "Inactive").await?;
        }
        Ok(s)
    }

    async fn read(&self, api: &Api, s: &AccessKeyState) -> ApiResult<Option<AccessKeyState>> {
        let Some(keys) = get(api, &["users", name_of(&s.user), "keys"]).await? else {
            return Ok(None);
        };
        let id = name_of(&s.id);
        let Some(k) = keys
            .as_array()
            .into_iter()
            .flatten()
            .find(|k| k["access_key_id"] == id)
        else {
            return Ok(None);
        };
        let mut out = s.clone();
        out.status = field(k, "status");
        out.access_key = Value::Value(id.to_string());
        Ok(Some(out))
    }

    async fn update(
        &self,
        api: &Api,
        prior: &AccessKeyState,
        p: &AccessKeyState,
    ) -> ApiResult<AccessKeyState> {
        if prior.status != p.status
            && let Some(st) = known(&p.status)
        {
            set_status(api, name_of(&p.user), name_of(&p.id), st).await?;
        }
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &AccessKeyState) -> ApiResult<()> {
        api.admin(
            Method::DELETE,
            &["users", name_of(&s.user), "keys", name_of(&s.id)],
            "",
            None,
        )
        .await
        .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<AccessKeyState> {
        let (user, key) = id.split_once('/')?;
        Some(AccessKeyState {
            id: Value::Value(key.to_string()),
            user: Value::Value(user.to_string()),
            ..Default::default()
        })
    }
}

async fn set_status(api: &Api, user: &str, id: &str, status: &str) -> ApiResult<()> {
    api.admin(
        Method::PUT,
        &["users", user, "keys", id],
        "",
        Some(&json!({"status": status})),
    )
    .await
    .map(drop)
}

// --------------------------------------------------------------- hafiz_group

pub struct Group;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct GroupState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub members: StringSet,
}

#[async_trait]
impl Managed for Group {
    type State = GroupState;
    const KIND: &'static str = "group";
    const IMPORT_ID: &'static str = "the group's name";

    fn block(&self) -> Block {
        block(
            "An IAM group and its members.",
            [
                ("id", computed(string(), "The group's unique id.")),
                ("name", required(string(), "The group's name.")),
                (
                    "members",
                    optional(set_of(string()), "Names of the users in the group."),
                ),
            ],
            [],
        )
    }

    fn plan(&self, mut p: GroupState, creating: bool) -> GroupState {
        if creating {
            p.id = Value::Unknown;
        }
        p
    }

    fn replaced(&self, a: &GroupState, b: &GroupState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "name", &a.name, &b.name);
        out
    }

    fn label(&self, s: &GroupState) -> String {
        name_of(&s.name).to_string()
    }

    async fn create(&self, api: &Api, p: &GroupState) -> ApiResult<GroupState> {
        let name = name_of(&p.name);
        let v = api
            .admin(Method::POST, &["groups"], "", Some(&json!({"name": name})))
            .await?
            .unwrap_or_default();
        let mut s = p.clone();
        s.id = field(&v, "id");
        sync_members(api, name, &BTreeSet::new(), &known_set(&p.members)).await?;
        Ok(s)
    }

    async fn read(&self, api: &Api, s: &GroupState) -> ApiResult<Option<GroupState>> {
        let Some(v) = get(api, &["groups", name_of(&s.name)]).await? else {
            return Ok(None);
        };
        let members: BTreeSet<String> = v["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect();
        Ok(Some(GroupState {
            id: field(&v, "id"),
            name: field(&v, "name"),
            members: unless_default(members.into_iter().map(Value::Value).collect(), &s.members),
        }))
    }

    async fn update(&self, api: &Api, prior: &GroupState, p: &GroupState) -> ApiResult<GroupState> {
        let old = known_set(&prior.members);
        let new = known_set(&p.members);
        sync_members(api, name_of(&p.name), &old, &new).await?;
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &GroupState) -> ApiResult<()> {
        // The server refuses to delete a group with members: the members this
        // resource manages go first.
        let name = name_of(&s.name);
        sync_members(api, name, &known_set(&s.members), &BTreeSet::new()).await?;
        api.admin(Method::DELETE, &["groups", name], "", None)
            .await
            .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<GroupState> {
        Some(GroupState {
            name: Value::Value(id.to_string()),
            ..Default::default()
        })
    }
}

fn known_set(v: &StringSet) -> BTreeSet<String> {
    v.iter()
        .flatten()
        .filter_map(|s| known(s).map(str::to_string))
        .collect()
}

async fn sync_members(
    api: &Api,
    group: &str,
    old: &BTreeSet<String>,
    new: &BTreeSet<String>,
) -> ApiResult<()> {
    for u in new.difference(old) {
        api.admin(Method::PUT, &["groups", group, "members", u], "", None)
            .await?;
    }
    for u in old.difference(new) {
        match api
            .admin(Method::DELETE, &["groups", group, "members", u], "", None)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

// -------------------------------------------------------------- hafiz_policy

pub struct Policy;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct PolicyState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub policy: Value<String>,
}

fn document(p: &Value<String>) -> ApiResult<Json> {
    serde_json::from_str(name_of(p)).map_err(|e| ApiError::Invalid {
        url: "policy".into(),
        what: e.to_string(),
    })
}

#[async_trait]
impl Managed for Policy {
    type State = PolicyState;
    const KIND: &'static str = "policy";
    const IMPORT_ID: &'static str = "the policy's name";

    fn block(&self) -> Block {
        block(
            "A managed IAM policy (attach it with hafiz_policy_attachment).",
            [
                ("id", computed(string(), "The policy's unique id.")),
                ("name", required(string(), "The policy's name.")),
                ("policy", required(string(), "The policy document (JSON).")),
            ],
            [],
        )
    }

    fn check(&self, diags: &mut Diagnostics, c: &PolicyState) {
        if let Some(text) = known(&c.policy) {
            check_policy(
                diags,
                AttributePath::new("policy"),
                text,
                PolicyKind::Identity,
            );
        }
    }

    fn plan(&self, mut p: PolicyState, creating: bool) -> PolicyState {
        if creating {
            p.id = Value::Unknown;
        }
        p
    }

    fn keep_equivalent(&self, prior: &PolicyState, planned: &mut PolicyState) {
        keep_same_policy(&prior.policy, &mut planned.policy);
    }

    fn replaced(&self, a: &PolicyState, b: &PolicyState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "name", &a.name, &b.name);
        out
    }

    fn label(&self, s: &PolicyState) -> String {
        name_of(&s.name).to_string()
    }

    async fn create(&self, api: &Api, p: &PolicyState) -> ApiResult<PolicyState> {
        let body = json!({"name": name_of(&p.name), "document": document(&p.policy)?});
        let v = api
            .admin(Method::POST, &["policies"], "", Some(&body))
            .await?
            .unwrap_or_default();
        let mut s = p.clone();
        s.id = field(&v, "id");
        Ok(s)
    }

    async fn read(&self, api: &Api, s: &PolicyState) -> ApiResult<Option<PolicyState>> {
        let Some(v) = get(api, &["policies", name_of(&s.name)]).await? else {
            return Ok(None);
        };
        Ok(Some(PolicyState {
            id: field(&v, "id"),
            name: field(&v, "name"),
            policy: same_policy(&s.policy, &v["document"]),
        }))
    }

    async fn update(
        &self,
        api: &Api,
        _prior: &PolicyState,
        p: &PolicyState,
    ) -> ApiResult<PolicyState> {
        let body = json!({"document": document(&p.policy)?});
        api.admin(
            Method::PUT,
            &["policies", name_of(&p.name)],
            "",
            Some(&body),
        )
        .await?;
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &PolicyState) -> ApiResult<()> {
        api.admin(Method::DELETE, &["policies", name_of(&s.name)], "", None)
            .await
            .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<PolicyState> {
        Some(PolicyState {
            name: Value::Value(id.to_string()),
            ..Default::default()
        })
    }
}

// --------------------------------------------------- hafiz_policy_attachment

pub struct Attachment;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct AttachmentState {
    pub id: Value<String>,
    pub policy: Value<String>,
    pub user: Value<String>,
    pub group: Value<String>,
}

impl AttachmentState {
    /// ("users" | "groups", name)
    fn target(&self) -> (&'static str, &str) {
        match known(&self.user) {
            Some(u) => ("users", u),
            None => ("groups", name_of(&self.group)),
        }
    }
}

#[async_trait]
impl Managed for Attachment {
    type State = AttachmentState;
    const KIND: &'static str = "policy attachment";
    const IMPORT_ID: &'static str = "user/NAME/POLICY or group/NAME/POLICY";

    fn block(&self) -> Block {
        block(
            "A managed policy attached to a user or a group.",
            [
                (
                    "id",
                    computed(string(), "user/NAME/POLICY or group/NAME/POLICY."),
                ),
                ("policy", required(string(), "The policy's name.")),
                (
                    "user",
                    optional(string(), "The user to attach it to (or group)."),
                ),
                (
                    "group",
                    optional(string(), "The group to attach it to (or user)."),
                ),
            ],
            [],
        )
    }

    fn check(&self, diags: &mut Diagnostics, c: &AttachmentState) {
        let user = !c.user.is_null();
        let group = !c.group.is_null();
        if user == group {
            invalid(
                diags,
                AttributePath::new(if user { "group" } else { "user" }),
                "Attach to a user or a group",
                "Set exactly one of user and group.".into(),
            );
        }
    }

    fn plan(&self, mut p: AttachmentState, _creating: bool) -> AttachmentState {
        p.id = match (&p.policy, &p.user, &p.group) {
            (Value::Value(pol), Value::Value(u), _) => Value::Value(format!("user/{u}/{pol}")),
            (Value::Value(pol), Value::Null, Value::Value(g)) => {
                Value::Value(format!("group/{g}/{pol}"))
            }
            _ => Value::Unknown,
        };
        p
    }

    fn replaced(&self, a: &AttachmentState, b: &AttachmentState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "policy", &a.policy, &b.policy);
        changed(&mut out, "user", &a.user, &b.user);
        changed(&mut out, "group", &a.group, &b.group);
        out
    }

    fn label(&self, s: &AttachmentState) -> String {
        let (kind, who) = s.target();
        format!(
            "{} to {} {who}",
            name_of(&s.policy),
            kind.trim_end_matches('s')
        )
    }

    async fn create(&self, api: &Api, p: &AttachmentState) -> ApiResult<AttachmentState> {
        let (kind, who) = p.target();
        api.admin(
            Method::PUT,
            &[kind, who, "policies", name_of(&p.policy)],
            "",
            None,
        )
        .await?;
        Ok(self.plan(p.clone(), false))
    }

    async fn read(&self, api: &Api, s: &AttachmentState) -> ApiResult<Option<AttachmentState>> {
        let (kind, who) = s.target();
        let Some(v) = get(api, &[kind, who]).await? else {
            return Ok(None);
        };
        let policy = name_of(&s.policy);
        let attached = v["policies"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p == policy);
        Ok(attached.then(|| self.plan(s.clone(), false)))
    }

    async fn update(
        &self,
        _api: &Api,
        _prior: &AttachmentState,
        p: &AttachmentState,
    ) -> ApiResult<AttachmentState> {
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &AttachmentState) -> ApiResult<()> {
        let (kind, who) = s.target();
        api.admin(
            Method::DELETE,
            &[kind, who, "policies", name_of(&s.policy)],
            "",
            None,
        )
        .await
        .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<AttachmentState> {
        let mut parts = id.splitn(3, '/');
        let (kind, who, policy) = (parts.next()?, parts.next()?, parts.next()?);
        let mut s = AttachmentState {
            policy: Value::Value(policy.to_string()),
            ..Default::default()
        };
        match kind {
            "user" => s.user = Value::Value(who.to_string()),
            "group" => s.group = Value::Value(who.to_string()),
            _ => return None,
        }
        Some(s)
    }
}
