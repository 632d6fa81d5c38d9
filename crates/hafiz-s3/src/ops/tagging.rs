//! Object tagging (per version) and bucket tagging, with the AWS limits.

use axum::response::Response;
use hafiz_meta::{BucketChange, Command, MetaError, ObjectChange};
use http::StatusCode;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::{self, require_bucket, validate_key, versions};
use crate::server::{Ctx, empty_response, xml_response};
use crate::xml::{self, NS};

pub(crate) const MAX_OBJECT_TAGS: usize = 10;
const MAX_BUCKET_TAGS: usize = 50;

/// Letters, digits, spaces and `_ . : / = + - @`, as S3 allows in tag keys and values.
fn allowed(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
}

/// The S3 tag rules: at most `max` tags, unique keys of 1–128 characters, values of
/// up to 256, allowed characters only, no `aws:` keys. `too_many` is the code AWS
/// uses for the count (it differs between calls).
pub(crate) fn validate_tags(
    tags: &[(String, String)],
    max: usize,
    too_many: S3ErrorCode,
) -> S3Result<()> {
    if tags.len() > max {
        let what = if max == MAX_OBJECT_TAGS {
            "Object"
        } else {
            "Bucket"
        };
        return Err(S3Error::with_message(
            too_many,
            format!("{what} tags cannot be greater than {max}"),
        ));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 || !allowed(k) || k.starts_with("aws:") {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidTag,
                "The TagKey you have provided is invalid",
            ));
        }
        if v.chars().count() > 256 || !allowed(v) {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidTag,
                "The TagValue you have provided is invalid",
            ));
        }
        if tags[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidTag,
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

async fn tags_from_body(ctx: &mut Ctx) -> S3Result<Vec<(String, String)>> {
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let t: xml::TaggingIn = xml::from_xml(&body)?;
    Ok(t.tag_set
        .tag
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect())
}

fn tagging_xml(tags: Vec<(String, String)>) -> xml::Tagging {
    xml::Tagging {
        xmlns: NS,
        tag_set: xml::TagSet {
            tag: tags
                .into_iter()
                .map(|(key, value)| xml::Tag { key, value })
                .collect(),
        },
    }
}

/// Apply a change to one version (the named one or the current one) and answer with
/// its `x-amz-version-id`.
pub(crate) async fn update_object(
    ctx: &Ctx,
    change: ObjectChange,
    bypass_governance: bool,
    status: StatusCode,
) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    let version_id = versions::requested_version(ctx)?;
    let named = version_id.is_some();
    let out = ctx
        .apply_object(
            Command::UpdateObject {
                bucket: ctx.bucket.clone(),
                key: ctx.key.clone(),
                version_id,
                change,
                bypass_governance,
                now: crate::timefmt::now_millis(),
            },
            None,
        )
        .await
        .map_err(|e| match e {
            // The current version is a delete marker: the key reads as absent.
            MetaError::DeleteMarker if !named => {
                S3Error::new(S3ErrorCode::NoSuchKey).extra("Key", ctx.key.clone())
            }
            other => other.into(),
        })?;
    let mut r = empty_response(status);
    if let Some(id) = out.version_id {
        versions::version_header(r.headers_mut(), &id);
    }
    Ok(r)
}

pub async fn get_object_tagging(ctx: Ctx) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    let vid = versions::requested_version(&ctx)?;
    let v = versions::resolve(&ctx, &ctx.bucket, &ctx.key, vid.as_deref()).await?;
    let mut r = xml_response("Tagging", &tagging_xml(v.tags))?;
    versions::version_header(r.headers_mut(), &v.version_id);
    Ok(r)
}

pub async fn put_object_tagging(mut ctx: Ctx) -> S3Result<Response> {
    let tags = tags_from_body(&mut ctx).await?;
    validate_tags(&tags, MAX_OBJECT_TAGS, S3ErrorCode::BadRequest)?;
    update_object(&ctx, ObjectChange::Tags(tags), false, StatusCode::OK).await
}

pub async fn delete_object_tagging(ctx: Ctx) -> S3Result<Response> {
    update_object(
        &ctx,
        ObjectChange::Tags(Vec::new()),
        false,
        StatusCode::NO_CONTENT,
    )
    .await
}

pub async fn get_bucket_tagging(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    match b.tags {
        Some(tags) => xml_response("Tagging", &tagging_xml(tags)),
        None => Err(S3Error::new(S3ErrorCode::NoSuchTagSet).extra("BucketName", ctx.bucket)),
    }
}

pub async fn put_bucket_tagging(mut ctx: Ctx) -> S3Result<Response> {
    let tags = tags_from_body(&mut ctx).await?;
    validate_tags(&tags, MAX_BUCKET_TAGS, S3ErrorCode::InvalidTag)?;
    ops::update_bucket(&ctx, BucketChange::Tags(Some(tags))).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub async fn delete_bucket_tagging(ctx: Ctx) -> S3Result<Response> {
    ops::update_bucket(&ctx, BucketChange::Tags(None)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tag_rules() {
        let ok = |tags: &[(&str, &str)]| validate_tags(&t(tags), 10, S3ErrorCode::BadRequest);
        assert!(ok(&[("a", "1"), ("b c", "x+y=z:/@-_.")]).is_ok());
        assert!(ok(&[("", "1")]).is_err());
        assert!(ok(&[("aws:x", "1")]).is_err());
        assert!(ok(&[("a", "1"), ("a", "2")]).is_err());
        assert!(ok(&[("a#", "1")]).is_err());
        let long_key = "k".repeat(129);
        assert!(ok(&[(long_key.as_str(), "1")]).is_err());
        let long_value = "v".repeat(257);
        assert!(ok(&[("k", long_value.as_str())]).is_err());
        let many: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(
            validate_tags(&many, 10, S3ErrorCode::BadRequest)
                .unwrap_err()
                .code,
            S3ErrorCode::BadRequest
        );
    }
}
