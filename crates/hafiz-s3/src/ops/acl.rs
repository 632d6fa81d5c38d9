//! Canned ACLs (`x-amz-acl`) on buckets and objects. Each maps onto what it grants
//! beyond the owner (see `CannedAcl`); grant lists are not served, bucket policies are
//! the way to share with particular users.

use hafiz_meta::{BucketInfo, CannedAcl, ObjectChange};
use http::{HeaderMap, StatusCode};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::header_str;
use crate::server::Ctx;

/// The canned ACL a request sets (None when it sets none). Public ones are refused on
/// a bucket whose Block Public Access blocks public ACLs.
pub(crate) fn requested(h: &HeaderMap, bucket: &BucketInfo) -> S3Result<Option<CannedAcl>> {
    let Some(acl) = header_str(h, "x-amz-acl") else {
        return Ok(None);
    };
    let acl = match acl.trim() {
        "private"
        | "bucket-owner-read"
        | "bucket-owner-full-control"
        | "aws-exec-read"
        | "log-delivery-write" => CannedAcl::Private,
        "public-read" => CannedAcl::PublicRead,
        "public-read-write" => CannedAcl::PublicReadWrite,
        "authenticated-read" => CannedAcl::AuthenticatedRead,
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Invalid canned ACL {acl}"),
            )
            .extra("ArgumentName", "x-amz-acl"));
        }
    };
    if acl.is_public()
        && bucket
            .public_access_block
            .is_some_and(|p| p.block_public_acls)
    {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied because the bucket's Block Public Access settings block public ACLs",
        ));
    }
    Ok(Some(acl))
}

/// PutObjectAcl with a canned ACL header.
pub async fn put_object_acl(ctx: Ctx) -> S3Result<axum::response::Response> {
    let b = crate::ops::require_bucket(&ctx).await?;
    let acl = requested(&ctx.headers, &b)?.unwrap_or_default();
    crate::ops::tagging::update_object(&ctx, ObjectChange::Acl(acl), false, StatusCode::OK).await
}
