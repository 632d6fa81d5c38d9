//! Object lock: the bucket configuration (default retention), per-version retention
//! and legal hold, and the lock headers of PutObject.

use axum::response::Response;
use hafiz_meta::{
    BucketChange, BucketInfo, DefaultRetention, ObjectChange, ObjectLockConfig, Retention,
    RetentionMode,
};
use http::{HeaderMap, StatusCode};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::tagging::update_object;
use crate::ops::{header_str, insert, require_bucket, validate_key, versions};
use crate::server::{Ctx, empty_response, xml_response};
use crate::timefmt::{iso8601, now_millis, parse_iso8601};
use crate::xml::{self, NS};

fn mode_name(m: RetentionMode) -> &'static str {
    match m {
        RetentionMode::Governance => "GOVERNANCE",
        RetentionMode::Compliance => "COMPLIANCE",
    }
}

fn parse_mode(s: &str) -> S3Result<RetentionMode> {
    match s.trim() {
        "GOVERNANCE" => Ok(RetentionMode::Governance),
        "COMPLIANCE" => Ok(RetentionMode::Compliance),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Unknown wormMode directive.",
        )),
    }
}

fn missing_lock_config() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidRequest,
        "Bucket is missing Object Lock Configuration",
    )
}

pub(crate) fn bypass_governance(h: &HeaderMap) -> bool {
    // Every caller is the root account until IAM lands, and root holds
    // s3:BypassGovernanceRetention.
    header_str(h, "x-amz-bypass-governance-retention")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// A retain-until date must be in the future.
fn retain_until(s: &str) -> S3Result<i64> {
    let until = parse_iso8601(s).ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The retain until date must be provided in ISO 8601 format",
        )
    })?;
    if until <= now_millis() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The retain until date must be in the future!",
        ));
    }
    Ok(until)
}

/// The lock a PutObject asks for in its headers: retention and legal hold. Needs a
/// bucket with object lock, and (as on AWS) Content-MD5 or a checksum.
pub(crate) fn put_headers(
    h: &HeaderMap,
    bucket: &BucketInfo,
) -> S3Result<(Option<Retention>, Option<bool>)> {
    lock_headers(h, bucket, true)
}

/// The same headers on CreateMultipartUpload, which has no body to check.
pub(crate) fn upload_headers(
    h: &HeaderMap,
    bucket: &BucketInfo,
) -> S3Result<(Option<Retention>, Option<bool>)> {
    lock_headers(h, bucket, false)
}

fn lock_headers(
    h: &HeaderMap,
    bucket: &BucketInfo,
    needs_integrity: bool,
) -> S3Result<(Option<Retention>, Option<bool>)> {
    let mode = header_str(h, "x-amz-object-lock-mode");
    let until = header_str(h, "x-amz-object-lock-retain-until-date");
    let hold = header_str(h, "x-amz-object-lock-legal-hold");
    if mode.is_none() && until.is_none() && hold.is_none() {
        return Ok((None, None));
    }
    if bucket.object_lock.is_none() {
        return Err(missing_lock_config());
    }
    let has_integrity = h.contains_key("content-md5")
        || h.contains_key("x-amz-sdk-checksum-algorithm")
        || h.contains_key("x-amz-trailer")
        || crate::checksum::ALL
            .iter()
            .any(|a| h.contains_key(crate::checksum::header_name(*a)));
    if needs_integrity && !has_integrity {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters",
        ));
    }
    let retention = match (mode, until) {
        (Some(m), Some(u)) => Some(Retention {
            mode: parse_mode(m)?,
            until: retain_until(u)?,
        }),
        (None, None) => None,
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    let hold = match hold.map(str::trim) {
        None => None,
        Some("ON") => Some(true),
        Some("OFF") => Some(false),
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Legal Hold must be either of 'ON' or 'OFF'",
            ));
        }
    };
    Ok((retention, hold))
}

/// The lock headers of GET and HEAD.
pub(crate) fn response_headers(h: &mut HeaderMap, v: &hafiz_meta::ObjectVersion) {
    if let Some(r) = v.retention {
        insert(h, "x-amz-object-lock-mode", mode_name(r.mode));
        insert(h, "x-amz-object-lock-retain-until-date", &iso8601(r.until));
    }
    if let Some(on) = v.legal_hold {
        insert(
            h,
            "x-amz-object-lock-legal-hold",
            if on { "ON" } else { "OFF" },
        );
    }
}

pub async fn get_config(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let Some(cfg) = b.object_lock else {
        return Err(
            S3Error::new(S3ErrorCode::ObjectLockConfigurationNotFoundError)
                .extra("BucketName", ctx.bucket),
        );
    };
    xml_response(
        "ObjectLockConfiguration",
        &xml::ObjectLockConfiguration {
            xmlns: NS,
            object_lock_enabled: Some("Enabled".into()),
            rule: cfg.default_retention.map(|d| xml::ObjectLockRule {
                default_retention: xml::DefaultRetentionXml {
                    mode: mode_name(d.mode).into(),
                    days: d.days.map(i64::from),
                    years: d.years.map(i64::from),
                },
            }),
        },
    )
}

pub async fn put_config(mut ctx: Ctx) -> S3Result<Response> {
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let cfg: xml::ObjectLockConfiguration = xml::from_xml(&body)?;
    if cfg.object_lock_enabled.as_deref() != Some("Enabled") {
        return Err(S3Error::new(S3ErrorCode::MalformedXML));
    }
    let default_retention = match cfg.rule {
        None => None,
        Some(rule) => {
            let d = rule.default_retention;
            let positive = |n: Option<i64>| -> S3Result<Option<u32>> {
                match n {
                    None => Ok(None),
                    Some(n) if n > 0 && n <= 36_500 => Ok(Some(n as u32)),
                    Some(_) => Err(S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        "Default retention period must be a positive integer value",
                    )),
                }
            };
            let (days, years) = (positive(d.days)?, positive(d.years)?);
            if days.is_some() == years.is_some() {
                return Err(S3Error::new(S3ErrorCode::MalformedXML));
            }
            Some(DefaultRetention {
                mode: parse_mode(&d.mode)?,
                days,
                years,
            })
        }
    };
    crate::ops::update_bucket(
        &ctx,
        BucketChange::ObjectLock(ObjectLockConfig { default_retention }),
    )
    .await?;
    Ok(empty_response(StatusCode::OK))
}

/// The bucket must have object lock for retention and legal hold calls.
async fn require_lock(ctx: &Ctx) -> S3Result<()> {
    let b = require_bucket(ctx).await?;
    if b.object_lock.is_none() {
        return Err(missing_lock_config());
    }
    Ok(())
}

async fn requested(ctx: &Ctx) -> S3Result<hafiz_meta::ObjectVersion> {
    validate_key(&ctx.key)?;
    require_lock(ctx).await?;
    let vid = versions::requested_version(ctx)?;
    versions::resolve(ctx, &ctx.bucket, &ctx.key, vid.as_deref()).await
}

pub async fn get_retention(ctx: Ctx) -> S3Result<Response> {
    let v = requested(&ctx).await?;
    let Some(r) = v.retention else {
        return Err(S3Error::new(S3ErrorCode::NoSuchObjectLockConfiguration));
    };
    xml_response(
        "Retention",
        &xml::RetentionXml {
            xmlns: NS,
            mode: Some(mode_name(r.mode).into()),
            retain_until_date: Some(iso8601(r.until)),
        },
    )
}

pub async fn put_retention(mut ctx: Ctx) -> S3Result<Response> {
    require_lock(&ctx).await?;
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let r: xml::RetentionXml = xml::from_xml(&body)?;
    let retention = match (r.mode.as_deref(), r.retain_until_date.as_deref()) {
        (Some(m), Some(u)) => Some(Retention {
            mode: parse_mode(m)?,
            until: retain_until(u)?,
        }),
        (None, None) => None,
        _ => return Err(S3Error::new(S3ErrorCode::MalformedXML)),
    };
    let bypass = bypass_governance(&ctx.headers);
    update_object(
        &ctx,
        ObjectChange::Retention(retention),
        bypass,
        StatusCode::OK,
    )
    .await
}

pub async fn get_legal_hold(ctx: Ctx) -> S3Result<Response> {
    let v = requested(&ctx).await?;
    let Some(on) = v.legal_hold else {
        return Err(S3Error::new(S3ErrorCode::NoSuchObjectLockConfiguration));
    };
    xml_response(
        "LegalHold",
        &xml::LegalHoldXml {
            xmlns: NS,
            status: if on { "ON" } else { "OFF" }.into(),
        },
    )
}

pub async fn put_legal_hold(mut ctx: Ctx) -> S3Result<Response> {
    require_lock(&ctx).await?;
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let h: xml::LegalHoldXml = xml::from_xml(&body)?;
    let on = match h.status.as_str() {
        "ON" => true,
        "OFF" => false,
        _ => return Err(S3Error::new(S3ErrorCode::MalformedXML)),
    };
    update_object(&ctx, ObjectChange::LegalHold(on), false, StatusCode::OK).await
}
