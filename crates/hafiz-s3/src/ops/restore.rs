//! RestoreObject: a temporary copy of an object in an archive tier, for `Days`
//! lifecycle days. The copy is made by a job (`hafiz-tier`); until it is there the
//! object answers `x-amz-restore: ongoing-request="true"`, then
//! `ongoing-request="false", expiry-date="..."`, and GET streams the copy.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::get::current_version;
use crate::server::Ctx;
use crate::xml;

/// AWS's limit on restore days.
const MAX_DAYS: u32 = 2_147_483_647;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RestoreRequest {
    days: Option<u32>,
    glacier_job_parameters: Option<GlacierJobParameters>,
    #[serde(rename = "Type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GlacierJobParameters {
    tier: String,
}

pub async fn restore_object(mut ctx: Ctx) -> S3Result<Response> {
    let v = current_version(&ctx).await?;
    let body = ctx.body.collect_limited(64 * 1024).await?;
    crate::ops::delete::require_integrity(&ctx.headers, &body)?;
    let req: RestoreRequest = xml::from_xml(&body)?;
    // `Type=SELECT` ran S3 Select over archived data, which AWS has closed to new
    // customers; Hafiz never offered it: refused as a bad argument, not a stub.
    if req.kind.is_some() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "SELECT restore requests are not supported; restore the object and read it instead.",
        )
        .extra("ArgumentName", "Type"));
    }
    if let Some(p) = &req.glacier_job_parameters
        && !matches!(p.tier.as_str(), "Standard" | "Bulk" | "Expedited")
    {
        return Err(S3Error::new(S3ErrorCode::MalformedXML));
    }
    let days = match req.days {
        Some(d) if (1..=MAX_DAYS).contains(&d) => d,
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Days must be a positive integer.",
            ));
        }
        None => return Err(S3Error::new(S3ErrorCode::MalformedXML)),
    };
    let archived_tier = match v.tier_copy() {
        Some(c) => ctx
            .state
            .tiering
            .tiers()
            .get(&c.tier)
            .await
            .is_some_and(|t| t.config.archive),
        None => false,
    };
    if !archived_tier {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidObjectState,
            "Restore is not allowed for the object's current storage class",
        )
        .extra("StorageClass", v.storage_class.clone()));
    }
    let answer = ctx
        .state
        .tiering
        .restore(&ctx.bucket, &v, days, ctx.origin(None))
        .await?;
    let status = match answer {
        hafiz_tier::jobs::RestoreAnswer::Started => StatusCode::ACCEPTED,
        hafiz_tier::jobs::RestoreAnswer::Extended => StatusCode::OK,
        hafiz_tier::jobs::RestoreAnswer::InProgress => {
            return Err(S3Error::new(S3ErrorCode::RestoreAlreadyInProgress));
        }
    };
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    crate::ops::versions::version_header(r.headers_mut(), &v.version_id);
    Ok(r)
}
