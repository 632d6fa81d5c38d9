//! Bucket policies (Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus) and Block
//! Public Access (Put/Get/DeletePublicAccessBlock).

use axum::body::Body;
use axum::response::Response;
use hafiz_iam::{Effect, Policy, PrincipalSpec};
use hafiz_meta::{BucketChange, PublicAccessBlock};
use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::{require_bucket, update_bucket};
use crate::server::{Ctx, empty_response, xml_response};
use crate::xml::{self, NS};

/// AWS's limit on a bucket policy's size.
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Whether a policy is public as S3 defines it ("The meaning of public"): an Allow to
/// everyone (`*`, or any NotPrincipal) that no condition pins to something fixed. The
/// keys that pin: aws:SourceIp (a set of CIDRs other than everything), aws:SourceArn,
/// aws:SourceVpc, aws:SourceVpce, aws:SourceOwner, aws:SourceAccount,
/// s3:x-amz-server-side-encryption-aws-kms-key-id, aws:userid (outside `AROLEID:*`),
/// and aws:PrincipalOrgID/Account/Arn; with an operator that matches fixed values (no
/// negation, no wildcard, no IfExists).
pub(crate) fn is_public(p: &Policy) -> bool {
    fn any(spec: &PrincipalSpec) -> bool {
        match spec {
            PrincipalSpec::Any => true,
            PrincipalSpec::Aws(v) => v.iter().any(|a| a == "*"),
            PrincipalSpec::Multiple(v) => v.iter().any(any),
            _ => false,
        }
    }
    p.statements.iter().any(|s| {
        s.effect == Effect::Allow
            && (s.principal.as_ref().is_some_and(any) || s.not_principal.is_some())
            && !s.condition.iter().any(pins_caller)
    })
}

/// Whether one condition entry limits a statement to fixed callers or sources.
fn pins_caller(c: &hafiz_iam::ConditionBlock) -> bool {
    use hafiz_iam::OperatorKind as K;
    const FIXED_KEYS: [&str; 10] = [
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceowner",
        "aws:sourceaccount",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "aws:userid",
        "aws:principalorgid",
        "aws:principalaccount",
        "aws:principalarn",
    ];
    let key = c.key.to_ascii_lowercase();
    if c.operator.if_exists || c.values.is_empty() {
        return false;
    }
    let wild = |v: &String| v.contains(['*', '?']) || v.contains("${");
    match c.operator.kind {
        K::IpAddress if key == "aws:sourceip" => c
            .values
            .iter()
            .all(|v| !matches!(v.trim(), "0.0.0.0/0" | "::/0")),
        K::StringEquals | K::StringEqualsIgnoreCase | K::ArnEquals
            if FIXED_KEYS.contains(&key.as_str()) =>
        {
            !c.values.iter().any(wild)
        }
        K::StringLike | K::ArnLike if FIXED_KEYS.contains(&key.as_str()) => {
            !c.values.iter().any(wild)
        }
        _ => false,
    }
}

pub async fn get_bucket_policy(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let Some(doc) = b.policy else {
        return Err(S3Error::new(S3ErrorCode::NoSuchBucketPolicy).extra("BucketName", ctx.bucket));
    };
    let mut r = Response::new(Body::from(doc));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

pub async fn put_bucket_policy(mut ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let body = ctx.body.collect_limited(MAX_POLICY_BYTES + 1).await?;
    if body.len() > MAX_POLICY_BYTES {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedPolicy,
            "Policies must be less than 20KB",
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        S3Error::with_message(S3ErrorCode::MalformedPolicy, "Policies must be valid JSON")
    })?;
    check_bucket_policy(&b, text)?;
    update_bucket(&ctx, BucketChange::Policy(Some(text.to_string()))).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// Whether `text` may become the policy of bucket `b`: a valid resource policy for
/// it (MalformedPolicy) that Block Public Access does not forbid (AccessDenied).
pub fn check_bucket_policy(b: &hafiz_meta::BucketInfo, text: &str) -> S3Result<()> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedPolicy,
            "Policies must be less than 20KB",
        ));
    }
    let policy = Policy::parse(text)
        .and_then(|p| hafiz_iam::validate_bucket_policy(&p, &b.name).map(|_| p))
        .map_err(|e| S3Error::with_message(S3ErrorCode::MalformedPolicy, e.to_string()))?;
    if b.public_access_block.is_some_and(|p| p.block_public_policy) && is_public(&policy) {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied because the bucket's Block Public Access settings block public policies",
        ));
    }
    Ok(())
}

pub async fn delete_bucket_policy(ctx: Ctx) -> S3Result<Response> {
    require_bucket(&ctx).await?;
    update_bucket(&ctx, BucketChange::Policy(None)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyStatus {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    is_public: bool,
}

pub async fn get_policy_status(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let Some(doc) = b.policy else {
        return Err(S3Error::new(S3ErrorCode::NoSuchBucketPolicy).extra("BucketName", ctx.bucket));
    };
    let public = Policy::parse(&doc).map(|p| is_public(&p)).unwrap_or(false);
    xml_response(
        "PolicyStatus",
        &PolicyStatus {
            xmlns: NS,
            is_public: public,
        },
    )
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct PublicAccessBlockXml {
    #[serde(
        rename = "@xmlns",
        skip_deserializing,
        skip_serializing_if = "str::is_empty"
    )]
    xmlns: &'static str,
    #[serde(default)]
    block_public_acls: bool,
    #[serde(default)]
    ignore_public_acls: bool,
    #[serde(default)]
    block_public_policy: bool,
    #[serde(default)]
    restrict_public_buckets: bool,
}

pub async fn get_public_access_block(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let Some(p) = b.public_access_block else {
        return Err(
            S3Error::new(S3ErrorCode::NoSuchPublicAccessBlockConfiguration)
                .extra("BucketName", ctx.bucket),
        );
    };
    xml_response(
        "PublicAccessBlockConfiguration",
        &PublicAccessBlockXml {
            xmlns: NS,
            block_public_acls: p.block_public_acls,
            ignore_public_acls: p.ignore_public_acls,
            block_public_policy: p.block_public_policy,
            restrict_public_buckets: p.restrict_public_buckets,
        },
    )
}

pub async fn put_public_access_block(mut ctx: Ctx) -> S3Result<Response> {
    require_bucket(&ctx).await?;
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let x: PublicAccessBlockXml = xml::from_xml(&body)?;
    let p = PublicAccessBlock {
        block_public_acls: x.block_public_acls,
        ignore_public_acls: x.ignore_public_acls,
        block_public_policy: x.block_public_policy,
        restrict_public_buckets: x.restrict_public_buckets,
    };
    update_bucket(&ctx, BucketChange::PublicAccessBlock(Some(p))).await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn delete_public_access_block(ctx: Ctx) -> S3Result<Response> {
    require_bucket(&ctx).await?;
    update_bucket(&ctx, BucketChange::PublicAccessBlock(None)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}
