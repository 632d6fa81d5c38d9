//! Canned ACLs (`x-amz-acl`) on buckets and objects, mapped onto the one thing they
//! change here: whether everyone may read. Grants to other accounts do not exist in
//! a single-account store; bucket policies are the way to share.

use hafiz_meta::{BucketInfo, ObjectChange};
use http::{HeaderMap, StatusCode};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::header_str;
use crate::server::Ctx;

/// The canned ACL a request sets: Some(true) for `public-read`, Some(false) for the
/// private ones, None when it sets none. Refused: what this store cannot honour, and
/// public ACLs on a bucket whose Block Public Access blocks them.
pub(crate) fn requested(h: &HeaderMap, bucket: &BucketInfo) -> S3Result<Option<bool>> {
    let Some(acl) = header_str(h, "x-amz-acl") else {
        return Ok(None);
    };
    let public = match acl.trim() {
        "private" | "bucket-owner-read" | "bucket-owner-full-control" => false,
        "public-read" => true,
        "public-read-write" | "authenticated-read" | "aws-exec-read" | "log-delivery-write" => {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                format!("The canned ACL {acl} is not supported; use a bucket policy"),
            ));
        }
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Invalid canned ACL {acl}"),
            ));
        }
    };
    if public
        && bucket
            .public_access_block
            .is_some_and(|p| p.block_public_acls)
    {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied because the bucket's Block Public Access settings block public ACLs",
        ));
    }
    Ok(Some(public))
}

/// PutObjectAcl with a canned ACL header.
pub async fn put_object_acl(ctx: Ctx) -> S3Result<axum::response::Response> {
    let b = crate::ops::require_bucket(&ctx).await?;
    let public = requested(&ctx.headers, &b)?.unwrap_or(false);
    crate::ops::tagging::update_object(
        &ctx,
        ObjectChange::PublicRead(public),
        false,
        StatusCode::OK,
    )
    .await
}
