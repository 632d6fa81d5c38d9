//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, and the
//! bucket sub-resources clients read on the side (location, ACL, versioning, and the
//! "not configured" answers for policy, encryption and tagging).

use axum::response::Response;
use hafiz_meta::{BucketInfo, Command};
use http::StatusCode;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::require_bucket;
use crate::server::{Ctx, empty_response, xml_response};
use crate::timefmt::{iso8601, now_millis};
use crate::xml::{self, NS};

pub use hafiz_iam::valid_bucket_name;

pub async fn list_buckets(ctx: Ctx) -> S3Result<Response> {
    let prefix = ctx.query.get("prefix").unwrap_or("");
    let buckets = ctx.state.meta.buckets().await?;
    // A tenant's users see their account's buckets only.
    let account = crate::access::caller_account(&ctx.state, &ctx.caller.principal).await?;
    let entries = buckets
        .into_iter()
        .filter(|b| b.name.starts_with(prefix))
        .filter(|b| account.as_ref().is_none_or(|a| &b.account == a))
        .map(|b| xml::BucketEntry {
            name: b.name,
            creation_date: iso8601(b.created),
            bucket_region: b.region,
        })
        .collect();
    xml_response(
        "ListAllMyBucketsResult",
        &xml::ListAllMyBucketsResult {
            xmlns: NS,
            // The caller's account (root: the default account).
            owner: crate::owners::of_account(&ctx.state, account.as_deref().unwrap_or(""))
                .await?
                .xml(),
            buckets: xml::BucketList { bucket: entries },
        },
    )
}

pub async fn create_bucket(mut ctx: Ctx) -> S3Result<Response> {
    if !valid_bucket_name(&ctx.bucket) {
        return Err(
            S3Error::new(S3ErrorCode::InvalidBucketName).extra("BucketName", ctx.bucket.clone())
        );
    }
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let region = &ctx.state.config.region;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let cfg: xml::CreateBucketConfiguration = xml::from_xml(&body)?;
        if let Some(loc) = cfg.location_constraint.filter(|l| !l.is_empty())
            && &loc != region
        {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidLocationConstraint,
                "The specified location-constraint is not valid",
            )
            .extra("LocationConstraint", loc));
        }
    }
    let account = crate::access::caller_account(&ctx.state, &ctx.caller.principal).await?;
    // Object lock at creation turns versioning on, and it stays on.
    let lock = crate::ops::header_str(&ctx.headers, "x-amz-bucket-object-lock-enabled")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    // `x-amz-object-ownership` at creation, and the creator's ACL (canned or grants).
    let ownership =
        match crate::ops::header_str(&ctx.headers, "x-amz-object-ownership").map(str::trim) {
            None => None,
            Some("BucketOwnerEnforced") => Some(hafiz_meta::ObjectOwnership::BucketOwnerEnforced),
            Some("BucketOwnerPreferred") => Some(hafiz_meta::ObjectOwnership::BucketOwnerPreferred),
            Some("ObjectWriter") => Some(hafiz_meta::ObjectOwnership::ObjectWriter),
            Some(_) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "Invalid x-amz-object-ownership header",
                ));
            }
        };
    let (acl, grants) = crate::ops::acl::for_write(
        &ctx.state,
        &ctx.headers,
        &BucketInfo {
            account: account.clone().unwrap_or_default(),
            ownership,
            ..Default::default()
        },
    )
    .await?;
    let info = BucketInfo {
        name: ctx.bucket.clone(),
        created: now_millis(),
        region: region.clone(),
        versioning: if lock {
            hafiz_meta::Versioning::Enabled
        } else {
            hafiz_meta::Versioning::Unversioned
        },
        object_lock: lock.then(hafiz_meta::ObjectLockConfig::default),
        acl,
        grants,
        ownership,
        account: account.clone().unwrap_or_default(),
        ..Default::default()
    };
    if let Some(existing) = ctx.state.meta.bucket(&ctx.bucket).await? {
        return recreated(&ctx, &existing, account.as_deref());
    }
    match ctx.state.meta.apply(Command::CreateBucket(info)).await {
        Ok(_) => {}
        // Created by someone else since the look above.
        Err(hafiz_meta::MetaError::BucketExists(name)) => {
            return match ctx.state.meta.bucket(&name).await? {
                Some(existing) => recreated(&ctx, &existing, account.as_deref()),
                None => Err(hafiz_meta::MetaError::BucketExists(name).into()),
            };
        }
        Err(e) => return Err(e.into()),
    }
    created(&ctx.bucket)
}

fn created(bucket: &str) -> S3Result<Response> {
    let mut r = empty_response(StatusCode::OK);
    crate::ops::insert(r.headers_mut(), "location", &format!("/{bucket}"));
    Ok(r)
}

/// CreateBucket of a name that exists. Names are global: another account's bucket is
/// 409 BucketAlreadyExists. The caller's own is 409 BucketAlreadyOwnedByYou, except in
/// us-east-1, where S3 answers 200 for legacy compatibility (CreateBucket's API
/// reference, "BucketAlreadyOwnedByYou"). Either way the bucket is left as it is.
fn recreated(ctx: &Ctx, existing: &BucketInfo, account: Option<&str>) -> S3Result<Response> {
    if existing.account != account.unwrap_or_default() {
        return Err(S3Error::new(S3ErrorCode::BucketAlreadyExists)
            .extra("BucketName", existing.name.clone()));
    }
    if ctx.state.config.region == "us-east-1" {
        return created(&existing.name);
    }
    Err(S3Error::new(S3ErrorCode::BucketAlreadyOwnedByYou)
        .extra("BucketName", existing.name.clone()))
}

pub async fn head_bucket(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let mut r = empty_response(StatusCode::OK);
    crate::ops::insert(r.headers_mut(), "x-amz-bucket-region", &b.region);
    Ok(r)
}

pub async fn delete_bucket(ctx: Ctx) -> S3Result<Response> {
    let out = ctx
        .state
        .meta
        .apply(Command::DeleteBucket {
            name: ctx.bucket.clone(),
        })
        .await?;
    crate::ops::delete::release(&ctx, out.released_blobs).await;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub async fn get_location(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    // us-east-1 is reported as an empty constraint, as AWS does.
    let region = (b.region != "us-east-1").then_some(b.region);
    xml_response(
        "LocationConstraint",
        &xml::LocationConstraint { xmlns: NS, region },
    )
}

/// The owner's FULL_CONTROL plus what the canned ACL grants, as S3 shows it.
#[cfg(test)]
mod tests {
    use super::valid_bucket_name as ok;

    #[test]
    fn bucket_names() {
        for good in ["abc", "my-bucket", "my.bucket.1", "a1b", &"a".repeat(63)] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "ab",
            "ABC",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }
}
