//! Get/Put/DeleteBucketEncryption: the default encryption of a bucket's new objects.

use axum::response::Response;
use hafiz_meta::{BucketChange, BucketEncryption, SseKind};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::require_bucket;
use crate::server::{Ctx, empty_response, xml_response};
use crate::xml::{self, NS};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigIn {
    #[serde(default)]
    rule: Vec<RuleIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleIn {
    apply_server_side_encryption_by_default: Option<DefaultIn>,
    bucket_key_enabled: Option<bool>,
}

#[derive(Deserialize)]
struct DefaultIn {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: String,
    #[serde(rename = "KMSMasterKeyID")]
    kms_key_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigOut {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    rule: RuleOut,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RuleOut {
    apply_server_side_encryption_by_default: DefaultOut,
    bucket_key_enabled: bool,
}

#[derive(Serialize)]
struct DefaultOut {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: &'static str,
    #[serde(rename = "KMSMasterKeyID", skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
}

pub(crate) fn algorithm_name(kind: SseKind) -> &'static str {
    match kind {
        SseKind::S3 | SseKind::Customer => "AES256",
        SseKind::Kms => "aws:kms",
        SseKind::KmsDsse => "aws:kms:dsse",
    }
}

fn parse(body: &[u8]) -> S3Result<BucketEncryption> {
    let cfg: ConfigIn = xml::from_xml(body)?;
    // AWS takes exactly one rule.
    let [rule] =
        <[RuleIn; 1]>::try_from(cfg.rule).map_err(|_| S3Error::new(S3ErrorCode::MalformedXML))?;
    let Some(d) = rule.apply_server_side_encryption_by_default else {
        return Err(S3Error::new(S3ErrorCode::MalformedXML));
    };
    let kind = match d.algorithm.trim() {
        "AES256" => SseKind::S3,
        "aws:kms" => SseKind::Kms,
        "aws:kms:dsse" => SseKind::KmsDsse,
        _ => return Err(S3Error::new(S3ErrorCode::MalformedXML)),
    };
    let kms_key_id = d
        .kms_key_id
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    if kind == SseKind::S3 && kms_key_id.is_some() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
        ));
    }
    if let Some(id) = &kms_key_id
        && !hafiz_crypto::kms::valid_key_id(hafiz_crypto::kms::strip_arn(id))
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Invalid KMSMasterKeyID {id}"),
        ));
    }
    Ok(BucketEncryption {
        kind,
        kms_key_id,
        bucket_key: rule.bucket_key_enabled.unwrap_or(false),
    })
}

pub async fn get(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let e = b.encryption.ok_or_else(|| {
        S3Error::new(S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError)
            .extra("BucketName", ctx.bucket.clone())
    })?;
    xml_response(
        "ServerSideEncryptionConfiguration",
        &ConfigOut {
            xmlns: NS,
            rule: RuleOut {
                apply_server_side_encryption_by_default: DefaultOut {
                    algorithm: algorithm_name(e.kind),
                    kms_key_id: e.kms_key_id,
                },
                bucket_key_enabled: e.bucket_key,
            },
        },
    )
}

pub async fn put(mut ctx: Ctx) -> S3Result<Response> {
    require_bucket(&ctx).await?;
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let cfg = parse(&body)?;
    crate::ops::update_bucket(&ctx, BucketChange::Encryption(Some(cfg))).await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn delete(ctx: Ctx) -> S3Result<Response> {
    require_bucket(&ctx).await?;
    crate::ops::update_bucket(&ctx, BucketChange::Encryption(None)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(inner: &str) -> Vec<u8> {
        format!(r#"<ServerSideEncryptionConfiguration xmlns="{NS}">{inner}</ServerSideEncryptionConfiguration>"#).into_bytes()
    }

    #[test]
    fn parses_aws_documents() {
        let c = parse(&doc("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:us-east-1:1:key/k1</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule>")).unwrap();
        assert_eq!(c.kind, SseKind::Kms);
        assert!(c.bucket_key);
        assert_eq!(
            c.kms_key_id.as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/k1")
        );
        let c = parse(&doc("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>")).unwrap();
        assert_eq!(c.kind, SseKind::S3);
        assert!(parse(&doc("")).is_err());
        assert!(parse(&doc("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>")).is_err());
        let e = parse(&doc("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule>")).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidArgument);
    }
}
