//! Put/Get/DeleteBucketLifecycleConfiguration, and the `x-amz-expiration` header the
//! rules give current versions. The rules themselves live in `hafiz-lifecycle`; the
//! scanner jobs that apply them run on the job engine.

use axum::response::Response;
use hafiz_lifecycle::{ConfigError, LifecycleConfig};
use hafiz_meta::{BucketChange, BucketInfo, ObjectVersion};
use http::{HeaderValue, StatusCode};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::require_bucket;
use crate::server::{Ctx, empty_response};

fn refused(e: ConfigError) -> S3Error {
    let code = match e.code {
        "MalformedXML" => return S3Error::new(S3ErrorCode::MalformedXML),
        "InvalidArgument" => S3ErrorCode::InvalidArgument,
        _ => S3ErrorCode::InvalidRequest,
    };
    S3Error::with_message(code, e.message)
}

pub async fn get(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let Some(cfg) = b.lifecycle.as_deref().and_then(LifecycleConfig::from_json) else {
        return Err(S3Error::new(S3ErrorCode::NoSuchLifecycleConfiguration)
            .extra("BucketName", ctx.bucket.clone()));
    };
    Ok(crate::server::xml_text_response(cfg.to_xml()))
}

pub async fn put(mut ctx: Ctx) -> S3Result<Response> {
    require_bucket(&ctx).await?;
    let body = ctx.body.collect_limited(1024 * 1024).await?;
    crate::ops::delete::require_integrity(&ctx.headers, &body)?;
    let classes = ctx.state.tiering.tiers().classes().await;
    let cfg = LifecycleConfig::from_xml(&body, &classes).map_err(refused)?;
    crate::ops::update_bucket(&ctx, BucketChange::Lifecycle(Some(cfg.to_json()))).await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn delete(ctx: Ctx) -> S3Result<Response> {
    require_bucket(&ctx).await?;
    crate::ops::update_bucket(&ctx, BucketChange::Lifecycle(None)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// Add `x-amz-expiration` to a GET, HEAD or PUT answer about the current version `v`.
pub fn expiration_header(bucket: &BucketInfo, v: &ObjectVersion, headers: &mut http::HeaderMap) {
    let Some(cfg) = bucket
        .lifecycle
        .as_deref()
        .and_then(LifecycleConfig::from_json)
    else {
        return;
    };
    if let Some(value) = hafiz_lifecycle::rules::expiration_header(&cfg, v)
        && let Ok(v) = HeaderValue::from_str(&value)
    {
        headers.insert("x-amz-expiration", v);
    }
}
