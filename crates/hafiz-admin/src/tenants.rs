//! Accounts (tenants) with their quotas, and rate limits per access key and bucket.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::{Extension, body::Bytes};
use hafiz_meta::Command;
use hafiz_meta::iam::{Account as MetaAccount, IamCommand, RateLimit as MetaRateLimit, RateScope};
use http::StatusCode;

use crate::AdminState;
use crate::auth::Caller;
use crate::error::{AdminError, AdminResult, ErrorBody};
use crate::model::{Account, NewAccount, Quota, RateLimit, RateLimitSpec, parse};

type St = State<Arc<AdminState>>;

async fn apply(st: &AdminState, c: IamCommand) -> AdminResult<()> {
    st.s3.meta.apply(Command::Iam(c)).await?;
    Ok(())
}

async fn account_json(st: &AdminState, a: MetaAccount) -> AdminResult<Account> {
    let usage = st.s3.meta.account_usage(&a.name).await?;
    let users = st
        .s3
        .meta
        .iam_users()
        .await?
        .iter()
        .filter(|u| u.account == a.name)
        .count();
    let buckets = st
        .s3
        .meta
        .buckets()
        .await?
        .iter()
        .filter(|b| b.account == a.name)
        .count();
    Ok(Account::of(a, usage, users, buckets))
}

async fn require_account(st: &AdminState, name: &str) -> AdminResult<MetaAccount> {
    st.s3.meta.account(name).await?.ok_or_else(|| {
        AdminError::not_found(
            "NoSuchAccount",
            format!("The account {name} does not exist."),
        )
    })
}

/// A fresh 12-digit account id, distinct from the default account's and others'.
async fn new_account_id(st: &AdminState) -> AdminResult<String> {
    let taken: Vec<String> = st
        .s3
        .meta
        .accounts()
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    loop {
        let n = u128::from_le_bytes(*uuid::Uuid::new_v4().as_bytes()) % 1_000_000_000_000;
        let id = format!("{n:012}");
        if id != st.s3.owner.account_id && !taken.contains(&id) {
            return Ok(id);
        }
    }
}

#[utoipa::path(get, path = "/v1/accounts", operation_id = "ListAccounts", tag = "accounts",
    responses((status = 200, body = [Account])))]
pub async fn list_accounts(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<Vec<Account>>> {
    c.require(&st, "ListAccounts").await?;
    let mut out = Vec::new();
    for a in st.s3.meta.accounts().await? {
        out.push(account_json(&st, a).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/v1/accounts", operation_id = "CreateAccount", tag = "accounts",
    request_body = NewAccount,
    responses((status = 201, body = Account), (status = 409, body = ErrorBody)))]
pub async fn create_account(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<Account>)> {
    c.require(&st, "CreateAccount").await?;
    let req: NewAccount = parse(&body)?;
    if !hafiz_s3::iam_api::valid_entity_name(&req.name) {
        return Err(AdminError::InvalidRequest(format!(
            "account name {:?} must be 1 to 128 characters of [A-Za-z0-9_+=,.@-]",
            req.name
        )));
    }
    let a = MetaAccount {
        name: req.name,
        id: new_account_id(&st).await?,
        created: hafiz_s3::timefmt::now_millis(),
        quota: req.quota.map(Into::into),
    };
    apply(&st, IamCommand::CreateAccount(a.clone())).await?;
    Ok((StatusCode::CREATED, Json(account_json(&st, a).await?)))
}

#[utoipa::path(get, path = "/v1/accounts/{name}", operation_id = "GetAccount", tag = "accounts",
    params(("name" = String, Path)),
    responses((status = 200, body = Account), (status = 404, body = ErrorBody)))]
pub async fn get_account(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<Json<Account>> {
    c.require(&st, "GetAccount").await?;
    let a = require_account(&st, &name).await?;
    Ok(Json(account_json(&st, a).await?))
}

#[utoipa::path(delete, path = "/v1/accounts/{name}", operation_id = "DeleteAccount", tag = "accounts",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_account(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeleteAccount").await?;
    apply(&st, IamCommand::DeleteAccount { name }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v1/accounts/{name}/quota", operation_id = "PutAccountQuota", tag = "accounts",
    params(("name" = String, Path)), request_body = Quota,
    responses((status = 200, body = Quota), (status = 404, body = ErrorBody)))]
pub async fn put_account_quota(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<Json<Quota>> {
    c.require(&st, "PutAccountQuota").await?;
    let q: Quota = parse(&body)?;
    apply(
        &st,
        IamCommand::SetAccountQuota {
            name,
            quota: Some(q.into()),
        },
    )
    .await?;
    Ok(Json(q))
}

#[utoipa::path(delete, path = "/v1/accounts/{name}/quota", operation_id = "DeleteAccountQuota", tag = "accounts",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_account_quota(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeleteAccountQuota").await?;
    apply(&st, IamCommand::SetAccountQuota { name, quota: None }).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn scope(s: &str) -> AdminResult<RateScope> {
    match s {
        "keys" => Ok(RateScope::Key),
        "buckets" => Ok(RateScope::Bucket),
        other => Err(AdminError::InvalidRequest(format!(
            "rate-limit scope must be keys or buckets, not {other:?}"
        ))),
    }
}

#[utoipa::path(get, path = "/v1/rate-limits", operation_id = "ListRateLimits", tag = "rate-limits",
    responses((status = 200, body = [RateLimit])))]
pub async fn list_rate_limits(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<Vec<RateLimit>>> {
    c.require(&st, "ListRateLimits").await?;
    let limits = st.s3.meta.rate_limits().await?;
    Ok(Json(limits.into_iter().map(RateLimit::from).collect()))
}

#[utoipa::path(get, path = "/v1/rate-limits/{scope}/{name}", operation_id = "GetRateLimit", tag = "rate-limits",
    params(("scope" = String, Path, description = "keys or buckets"), ("name" = String, Path)),
    responses((status = 200, body = RateLimit), (status = 404, body = ErrorBody)))]
pub async fn get_rate_limit(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((s, name)): Path<(String, String)>,
) -> AdminResult<Json<RateLimit>> {
    c.require(&st, "GetRateLimit").await?;
    let s = scope(&s)?;
    st.s3
        .meta
        .rate_limits()
        .await?
        .into_iter()
        .find(|l| l.scope == s && l.name == name)
        .map(|l| Json(l.into()))
        .ok_or_else(|| {
            AdminError::not_found("NoSuchRateLimit", format!("No rate limit on {name}."))
        })
}

#[utoipa::path(put, path = "/v1/rate-limits/{scope}/{name}", operation_id = "PutRateLimit", tag = "rate-limits",
    params(("scope" = String, Path, description = "keys or buckets"), ("name" = String, Path)),
    request_body = RateLimitSpec,
    responses((status = 200, body = RateLimit), (status = 400, body = ErrorBody)))]
pub async fn put_rate_limit(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((s, name)): Path<(String, String)>,
    body: Bytes,
) -> AdminResult<Json<RateLimit>> {
    c.require(&st, "PutRateLimit").await?;
    let spec: RateLimitSpec = parse(&body)?;
    let min = hafiz_s3::ratelimit::MIN_REQUEST_RATE;
    if spec
        .requests_per_second
        .is_some_and(|r| !r.is_finite() || r < min)
        || spec.bytes_per_second == Some(0)
    {
        return Err(AdminError::InvalidRequest(format!(
            "requests_per_second must be at least {min} and bytes_per_second at least 1 (omit one to leave it unlimited)"
        )));
    }
    let l = MetaRateLimit {
        scope: scope(&s)?,
        name,
        requests_per_second: spec.requests_per_second,
        bytes_per_second: spec.bytes_per_second,
    };
    apply(&st, IamCommand::PutRateLimit(l.clone())).await?;
    Ok(Json(l.into()))
}

#[utoipa::path(delete, path = "/v1/rate-limits/{scope}/{name}", operation_id = "DeleteRateLimit", tag = "rate-limits",
    params(("scope" = String, Path, description = "keys or buckets"), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_rate_limit(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path((s, name)): Path<(String, String)>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeleteRateLimit").await?;
    apply(
        &st,
        IamCommand::DeleteRateLimit {
            scope: scope(&s)?,
            name,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
