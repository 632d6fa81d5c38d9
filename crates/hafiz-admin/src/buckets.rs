//! Buckets as operators see them: owner account, versioning, usage and quota, and
//! the bucket policy.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::{Extension, body::Bytes};
use hafiz_meta::{BucketChange, BucketInfo, Command, ObjectLockConfig, Versioning};
use http::StatusCode;

use crate::AdminState;
use crate::auth::Caller;
use crate::error::{AdminError, AdminResult, ErrorBody};
use crate::model::{self, Bucket, NewBucket, Quota, VersioningStatus, parse};

type St = State<Arc<AdminState>>;

pub(crate) async fn require_bucket(st: &AdminState, name: &str) -> AdminResult<BucketInfo> {
    Ok(st
        .s3
        .meta
        .bucket(name)
        .await?
        .ok_or_else(|| hafiz_meta::MetaError::NoSuchBucket(name.to_string()))?)
}

async fn bucket_json(st: &AdminState, b: BucketInfo) -> AdminResult<Bucket> {
    let usage = st.s3.meta.bucket_usage(&b.name).await?;
    Ok(Bucket {
        versioning: match b.versioning {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        },
        object_lock: b.object_lock.is_some(),
        created: model::rfc3339(b.created),
        usage: usage.into(),
        quota: b.quota.map(Quota::from),
        name: b.name,
        account: b.account,
    })
}

async fn change(st: &AdminState, name: &str, change: BucketChange) -> AdminResult<()> {
    st.s3
        .meta
        .apply(Command::UpdateBucket {
            name: name.to_string(),
            change,
        })
        .await?;
    Ok(())
}

#[utoipa::path(get, path = "/v1/buckets", operation_id = "ListBuckets", tag = "buckets",
    responses((status = 200, body = [Bucket])))]
pub async fn list_buckets(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<Vec<Bucket>>> {
    c.require(&st, "ListBuckets").await?;
    let mut out = Vec::new();
    for b in st.s3.meta.buckets().await? {
        out.push(bucket_json(&st, b).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/v1/buckets", operation_id = "CreateBucket", tag = "buckets",
    request_body = NewBucket,
    responses((status = 201, body = Bucket), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_bucket(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<Bucket>)> {
    c.require(&st, "CreateBucket").await?;
    let req: NewBucket = parse(&body)?;
    if !hafiz_s3::valid_bucket_name(&req.name) {
        return Err(AdminError::InvalidRequest(format!(
            "{:?} is not a valid bucket name",
            req.name
        )));
    }
    let account = req.account.unwrap_or_default();
    if !account.is_empty() && st.s3.meta.account(&account).await?.is_none() {
        return Err(AdminError::not_found(
            "NoSuchAccount",
            format!("The account {account} does not exist."),
        ));
    }
    let info = BucketInfo {
        name: req.name,
        created: hafiz_s3::timefmt::now_millis(),
        region: st.s3.config.region.clone(),
        versioning: if req.versioning || req.object_lock {
            Versioning::Enabled
        } else {
            Versioning::Unversioned
        },
        object_lock: req.object_lock.then(ObjectLockConfig::default),
        account,
        ..Default::default()
    };
    st.s3
        .meta
        .apply(Command::CreateBucket(info.clone()))
        .await?;
    Ok((StatusCode::CREATED, Json(bucket_json(&st, info).await?)))
}

#[utoipa::path(get, path = "/v1/buckets/{name}", operation_id = "GetBucket", tag = "buckets",
    params(("name" = String, Path)),
    responses((status = 200, body = Bucket), (status = 404, body = ErrorBody)))]
pub async fn get_bucket(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<Json<Bucket>> {
    c.require(&st, "GetBucket").await?;
    let b = require_bucket(&st, &name).await?;
    Ok(Json(bucket_json(&st, b).await?))
}

#[utoipa::path(delete, path = "/v1/buckets/{name}", operation_id = "DeleteBucket", tag = "buckets",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_bucket(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeleteBucket").await?;
    let out = st.s3.meta.apply(Command::DeleteBucket { name }).await?;
    hafiz_s3::release_blobs(&st.s3, out.released_blobs);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v1/buckets/{name}/versioning", operation_id = "PutBucketVersioning", tag = "buckets",
    params(("name" = String, Path)), request_body = VersioningStatus,
    responses((status = 200, body = Bucket), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_versioning(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<Json<Bucket>> {
    c.require(&st, "PutBucketVersioning").await?;
    let req: VersioningStatus = parse(&body)?;
    let v = match req.status.as_str() {
        "Enabled" => Versioning::Enabled,
        "Suspended" => Versioning::Suspended,
        other => {
            return Err(AdminError::InvalidRequest(format!(
                "status must be Enabled or Suspended, not {other:?}"
            )));
        }
    };
    change(&st, &name, BucketChange::Versioning(v)).await?;
    let b = require_bucket(&st, &name).await?;
    Ok(Json(bucket_json(&st, b).await?))
}

#[utoipa::path(get, path = "/v1/buckets/{name}/quota", operation_id = "GetBucketQuota", tag = "buckets",
    params(("name" = String, Path)),
    responses((status = 200, body = Quota), (status = 404, body = ErrorBody)))]
pub async fn get_quota(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<Json<Quota>> {
    c.require(&st, "GetBucketQuota").await?;
    let b = require_bucket(&st, &name).await?;
    Ok(Json(b.quota.map(Quota::from).unwrap_or_default()))
}

#[utoipa::path(put, path = "/v1/buckets/{name}/quota", operation_id = "PutBucketQuota", tag = "buckets",
    params(("name" = String, Path)), request_body = Quota,
    responses((status = 200, body = Quota), (status = 404, body = ErrorBody)))]
pub async fn put_quota(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<Json<Quota>> {
    c.require(&st, "PutBucketQuota").await?;
    let q: Quota = parse(&body)?;
    change(&st, &name, BucketChange::Quota(Some(q.into()))).await?;
    Ok(Json(q))
}

#[utoipa::path(delete, path = "/v1/buckets/{name}/quota", operation_id = "DeleteBucketQuota", tag = "buckets",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_quota(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeleteBucketQuota").await?;
    change(&st, &name, BucketChange::Quota(None)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/buckets/{name}/policy", operation_id = "GetBucketPolicy", tag = "buckets",
    params(("name" = String, Path)),
    responses((status = 200, description = "The bucket policy document"), (status = 404, body = ErrorBody)))]
pub async fn get_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<Json<serde_json::Value>> {
    c.require(&st, "GetBucketPolicy").await?;
    let b = require_bucket(&st, &name).await?;
    let doc = b.policy.ok_or_else(|| {
        AdminError::not_found(
            "NoSuchBucketPolicy",
            format!("The bucket {name} has no policy."),
        )
    })?;
    serde_json::from_str(&doc)
        .map(Json)
        .map_err(|e| AdminError::Internal(format!("stored policy of {name} is not JSON: {e}")))
}

#[utoipa::path(put, path = "/v1/buckets/{name}/policy", operation_id = "PutBucketPolicy", tag = "buckets",
    params(("name" = String, Path)), request_body(content = Object, description = "A bucket policy document"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<StatusCode> {
    c.require(&st, "PutBucketPolicy").await?;
    let b = require_bucket(&st, &name).await?;
    let doc: serde_json::Value = parse(&body)?;
    let text = model::policy_text(&doc)?;
    hafiz_s3::check_bucket_policy(&b, &text).map_err(|e| match e.code {
        hafiz_s3::S3ErrorCode::MalformedPolicy => AdminError::MalformedPolicy(e.message),
        _ => AdminError::InvalidRequest(e.message),
    })?;
    change(&st, &name, BucketChange::Policy(Some(text))).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/buckets/{name}/policy", operation_id = "DeleteBucketPolicy", tag = "buckets",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_policy(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    c.require(&st, "DeleteBucketPolicy").await?;
    change(&st, &name, BucketChange::Policy(None)).await?;
    Ok(StatusCode::NO_CONTENT)
}
