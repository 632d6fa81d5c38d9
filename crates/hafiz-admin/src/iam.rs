//! Users, access keys, groups and managed policies: the same entities (and the same
//! metadata commands) as the IAM query API, in JSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::{Extension, body::Bytes};
use hafiz_meta::Command;
use hafiz_meta::iam::{AccessKey, IamCommand, IamGroup, IamUser, ManagedPolicy};
use hafiz_s3::iam_api::{random_id, random_secret, valid_entity_name};
use http::StatusCode;

use crate::auth::Caller;
use crate::error::{AdminError, AdminResult, ErrorBody};
use crate::model::{
    Group, Key, KeyStatus, NewGroup, NewPolicy, NewUser, Policy, PolicyDocument, User, parse,
};
use crate::{AdminState, model};

type St = State<Arc<AdminState>>;

fn now() -> i64 {
    hafiz_s3::timefmt::now_millis()
}

async fn apply(st: &AdminState, c: IamCommand) -> AdminResult<()> {
    st.s3.meta.apply(Command::Iam(c)).await?;
    Ok(())
}

fn check_name(kind: &str, name: &str) -> AdminResult<()> {
    if valid_entity_name(name) {
        Ok(())
    } else {
        Err(AdminError::InvalidRequest(format!(
            "{kind} name {name:?} must be 1 to 128 characters of [A-Za-z0-9_+=,.@-]"
        )))
    }
}

/// The 12-digit id of an account ("" is the default account).
pub(crate) async fn account_id(st: &AdminState, account: &str) -> AdminResult<String> {
    if account.is_empty() {
        return Ok(st.s3.owner.account_id.clone());
    }
    Ok(st
        .s3
        .meta
        .account(account)
        .await?
        .map(|a| a.id)
        .unwrap_or_default())
}

async fn user_json(st: &AdminState, u: IamUser) -> AdminResult<User> {
    let id = account_id(st, &u.account).await?;
    Ok(User::of(u, &id))
}

async fn require_user(st: &AdminState, name: &str) -> AdminResult<IamUser> {
    st.s3.meta.iam_user(name).await?.ok_or_else(|| {
        AdminError::not_found("NoSuchUser", format!("The user {name} does not exist."))
    })
}

#[utoipa::path(get, path = "/v1/users", operation_id = "ListUsers", tag = "users",
    responses((status = 200, body = [User]), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<Vec<User>>> {
    c.require(&st, "ListUsers").await?;
    let mut out = Vec::new();
    for u in st.s3.meta.iam_users().await? {
        out.push(user_json(&st, u).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/v1/users", operation_id = "CreateUser", tag = "users",
    request_body = NewUser,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_user(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<User>)> {
    c.require(&st, "CreateUser").await?;
    let req: NewUser = parse(&body)?;
    check_name("user", &req.name)?;
    let u = IamUser {
        name: req.name,
        id: random_id("AIDA", 17),
        path: "/".into(),
        created: now(),
        account: req.account.unwrap_or_default(),
        ..Default::default()
    };
    apply(&st, IamCommand::CreateUser(u.clone())).await?;
    Ok((StatusCode::CREATED, Json(user_json(&st, u).await?)))
}

#[utoipa::path(get, path = "/v1/users/{name}", operation_id = "GetUser", tag = "users",
    params(("name" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn get_user(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<Json<User>> {
    c.require(&st, "GetUser").await?;
    let u = require_user(&st, &name).await?;
    Ok(Json(user_json(&st, u).await?))
}

/// Deleting a user through the admin API takes its keys, policies and group
/// memberships with it, atomically (the IAM API makes callers remove them first).
#[utoipa::path(delete, path = "/v1/users/{name}", operation_id = "DeleteUser", tag = "users",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_user(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeleteUser").await?;
    apply(&st, IamCommand::DeleteUser { name, detach: true }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/users/{name}/keys", operation_id = "ListAccessKeys", tag = "users",
    params(("name" = String, Path)),
    responses((status = 200, body = [Key]), (status = 404, body = ErrorBody)))]
pub async fn list_keys(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<Json<Vec<Key>>> {
    c.require(&st, "ListAccessKeys").await?;
    require_user(&st, &name).await?;
    let keys = st.s3.meta.access_keys(&name).await?;
    Ok(Json(
        keys.iter()
            .filter(|k| k.session.is_none())
            .map(|k| Key::of(k, false))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/users/{name}/keys", operation_id = "CreateAccessKey", tag = "users",
    params(("name" = String, Path)),
    responses((status = 201, body = Key, description = "The secret is in this answer only"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_key(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<(StatusCode, Json<Key>)> {
    c.require(&st, "CreateAccessKey").await?;
    let k = AccessKey {
        access_key_id: random_id("AKIA", 16),
        secret_key: random_secret(),
        user: name,
        active: true,
        created: now(),
        session: None,
    };
    apply(&st, IamCommand::CreateAccessKey(k.clone())).await?;
    Ok((StatusCode::CREATED, Json(Key::of(&k, true))))
}

#[utoipa::path(put, path = "/v1/users/{name}/keys/{id}", operation_id = "UpdateAccessKey", tag = "users",
    params(("name" = String, Path), ("id" = String, Path)), request_body = KeyStatus,
    responses((status = 200, body = Key), (status = 404, body = ErrorBody)))]
pub async fn update_key(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> AdminResult<Json<Key>> {
    c.require(&st, "UpdateAccessKey").await?;
    let req: KeyStatus = parse(&body)?;
    let active = match req.status.as_str() {
        "Active" => true,
        "Inactive" => false,
        other => {
            return Err(AdminError::InvalidRequest(format!(
                "status must be Active or Inactive, not {other:?}"
            )));
        }
    };
    apply(
        &st,
        IamCommand::UpdateAccessKey {
            user: name,
            access_key_id: id.clone(),
            active,
        },
    )
    .await?;
    let k =
        st.s3.meta.access_key(&id).await?.ok_or_else(|| {
            AdminError::not_found("NoSuchAccessKey", format!("No access key {id}."))
        })?;
    Ok(Json(Key::of(&k, false)))
}

#[utoipa::path(delete, path = "/v1/users/{name}/keys/{id}", operation_id = "DeleteAccessKey", tag = "users",
    params(("name" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_key(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((name, id)): Path<(String, String)>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeleteAccessKey").await?;
    apply(
        &st,
        IamCommand::DeleteAccessKey {
            user: name,
            access_key_id: id,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v1/users/{name}/policies/{policy}", operation_id = "AttachUserPolicy", tag = "users",
    params(("name" = String, Path), ("policy" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn attach_user_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((user, policy)): Path<(String, String)>,
) -> AdminResult<StatusCode> {
    c.require(&st, "AttachUserPolicy").await?;
    apply(&st, IamCommand::AttachUserPolicy { user, policy }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/users/{name}/policies/{policy}", operation_id = "DetachUserPolicy", tag = "users",
    params(("name" = String, Path), ("policy" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn detach_user_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((user, policy)): Path<(String, String)>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DetachUserPolicy").await?;
    apply(&st, IamCommand::DetachUserPolicy { user, policy }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn require_group(st: &AdminState, name: &str) -> AdminResult<IamGroup> {
    st.s3.meta.iam_group(name).await?.ok_or_else(|| {
        AdminError::not_found("NoSuchGroup", format!("The group {name} does not exist."))
    })
}

#[utoipa::path(get, path = "/v1/groups", operation_id = "ListGroups", tag = "groups",
    responses((status = 200, body = [Group])))]
pub async fn list_groups(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<Vec<Group>>> {
    c.require(&st, "ListGroups").await?;
    let groups = st.s3.meta.iam_groups().await?;
    Ok(Json(groups.into_iter().map(Group::from).collect()))
}

#[utoipa::path(post, path = "/v1/groups", operation_id = "CreateGroup", tag = "groups",
    request_body = NewGroup,
    responses((status = 201, body = Group), (status = 409, body = ErrorBody)))]
pub async fn create_group(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<Group>)> {
    c.require(&st, "CreateGroup").await?;
    let req: NewGroup = parse(&body)?;
    check_name("group", &req.name)?;
    let g = IamGroup {
        name: req.name,
        id: random_id("AGPA", 17),
        path: "/".into(),
        created: now(),
        ..Default::default()
    };
    apply(&st, IamCommand::CreateGroup(g.clone())).await?;
    Ok((StatusCode::CREATED, Json(g.into())))
}

#[utoipa::path(get, path = "/v1/groups/{name}", operation_id = "GetGroup", tag = "groups",
    params(("name" = String, Path)),
    responses((status = 200, body = Group), (status = 404, body = ErrorBody)))]
pub async fn get_group(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<Json<Group>> {
    c.require(&st, "GetGroup").await?;
    Ok(Json(require_group(&st, &name).await?.into()))
}

#[utoipa::path(delete, path = "/v1/groups/{name}", operation_id = "DeleteGroup", tag = "groups",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_group(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeleteGroup").await?;
    apply(&st, IamCommand::DeleteGroup { name }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v1/groups/{name}/members/{user}", operation_id = "AddUserToGroup", tag = "groups",
    params(("name" = String, Path), ("user" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn add_member(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((group, user)): Path<(String, String)>,
) -> AdminResult<StatusCode> {
    c.require(&st, "AddUserToGroup").await?;
    apply(&st, IamCommand::AddUserToGroup { group, user }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/groups/{name}/members/{user}", operation_id = "RemoveUserFromGroup", tag = "groups",
    params(("name" = String, Path), ("user" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((group, user)): Path<(String, String)>,
) -> AdminResult<StatusCode> {
    c.require(&st, "RemoveUserFromGroup").await?;
    apply(&st, IamCommand::RemoveUserFromGroup { group, user }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v1/groups/{name}/policies/{policy}", operation_id = "AttachGroupPolicy", tag = "groups",
    params(("name" = String, Path), ("policy" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn attach_group_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((group, policy)): Path<(String, String)>,
) -> AdminResult<StatusCode> {
    c.require(&st, "AttachGroupPolicy").await?;
    apply(&st, IamCommand::AttachGroupPolicy { group, policy }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/groups/{name}/policies/{policy}", operation_id = "DetachGroupPolicy", tag = "groups",
    params(("name" = String, Path), ("policy" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn detach_group_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((group, policy)): Path<(String, String)>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DetachGroupPolicy").await?;
    apply(&st, IamCommand::DetachGroupPolicy { group, policy }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/policies", operation_id = "ListPolicies", tag = "policies",
    responses((status = 200, body = [Policy])))]
pub async fn list_policies(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<Vec<Policy>>> {
    c.require(&st, "ListPolicies").await?;
    let policies = st.s3.meta.iam_policies().await?;
    Ok(Json(policies.into_iter().map(Policy::from).collect()))
}

#[utoipa::path(post, path = "/v1/policies", operation_id = "CreatePolicy", tag = "policies",
    request_body = NewPolicy,
    responses((status = 201, body = Policy), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<Policy>)> {
    c.require(&st, "CreatePolicy").await?;
    let req: NewPolicy = parse(&body)?;
    check_name("policy", &req.name)?;
    let document = model::policy_text(&req.document)?;
    hafiz_s3::access::validate_identity_policy(&document).map_err(AdminError::MalformedPolicy)?;
    let p = ManagedPolicy {
        name: req.name,
        id: random_id("ANPA", 17),
        path: "/".into(),
        description: String::new(),
        document,
        created: now(),
        attachments: 0,
    };
    apply(&st, IamCommand::CreatePolicy(p.clone())).await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

#[utoipa::path(get, path = "/v1/policies/{name}", operation_id = "GetPolicy", tag = "policies",
    params(("name" = String, Path)),
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody)))]
pub async fn get_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<Json<Policy>> {
    c.require(&st, "GetPolicy").await?;
    let p = st.s3.meta.iam_policy(&name).await?.ok_or_else(|| {
        AdminError::not_found("NoSuchPolicy", format!("The policy {name} does not exist."))
    })?;
    Ok(Json(p.into()))
}

#[utoipa::path(put, path = "/v1/policies/{name}", operation_id = "UpdatePolicy", tag = "policies",
    params(("name" = String, Path)), request_body = PolicyDocument,
    responses((status = 200, body = Policy), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<Json<Policy>> {
    c.require(&st, "UpdatePolicy").await?;
    let req: PolicyDocument = parse(&body)?;
    let document = model::policy_text(&req.document)?;
    hafiz_s3::access::validate_identity_policy(&document).map_err(AdminError::MalformedPolicy)?;
    apply(
        &st,
        IamCommand::UpdatePolicyDocument {
            name: name.clone(),
            document,
        },
    )
    .await?;
    let p = st.s3.meta.iam_policy(&name).await?.ok_or_else(|| {
        AdminError::not_found("NoSuchPolicy", format!("The policy {name} does not exist."))
    })?;
    Ok(Json(p.into()))
}

#[utoipa::path(delete, path = "/v1/policies/{name}", operation_id = "DeletePolicy", tag = "policies",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeletePolicy").await?;
    apply(&st, IamCommand::DeletePolicy { name }).await?;
    Ok(StatusCode::NO_CONTENT)
}
