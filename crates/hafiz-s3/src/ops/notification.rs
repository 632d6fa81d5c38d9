//! Get/PutBucketNotificationConfiguration. The rule model, its XML and AWS's
//! refusals live in `hafiz-notify`. A rule must name a notification target the
//! operator configured (`hafiz-targets`), as AWS validates destinations on PUT, so
//! no configuration is ever stored that would silently deliver nothing.

use axum::response::Response;
use hafiz_meta::BucketChange;
use hafiz_notify::{ConfigError, NotificationConfig};
use http::StatusCode;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::require_bucket;
use crate::server::{Ctx, empty_response};

fn refused(e: ConfigError) -> S3Error {
    match e {
        ConfigError::MalformedXml => S3Error::new(S3ErrorCode::MalformedXML),
        ConfigError::InvalidArgument(m) => S3Error::with_message(S3ErrorCode::InvalidArgument, m),
        ConfigError::UnknownTargets(arns) => {
            let mut err = S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Unable to validate the following destination configurations",
            );
            // AWS names each destination it could not validate, and why.
            const NAMES: [(&str, &str); 3] = [
                ("ArgumentName1", "ArgumentValue1"),
                ("ArgumentName2", "ArgumentValue2"),
                ("ArgumentName3", "ArgumentValue3"),
            ];
            for (arn, (name, value)) in arns.iter().zip(NAMES) {
                err = err.extra(name, arn.clone()).extra(
                    value,
                    "The destination is not a notification target configured on this server",
                );
            }
            err
        }
    }
}

pub async fn get(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    // A bucket without a configuration answers an empty one, as on AWS.
    let cfg = b
        .notification
        .as_deref()
        .and_then(NotificationConfig::from_json)
        .unwrap_or_default();
    Ok(crate::server::xml_text_response(cfg.to_xml()))
}

pub async fn put(mut ctx: Ctx) -> S3Result<Response> {
    require_bucket(&ctx).await?;
    let body = ctx.body.collect_limited(1024 * 1024).await?;
    let known: std::collections::HashSet<String> = ctx
        .state
        .targets
        .all()
        .await
        .iter()
        .map(|t| t.config.arn.clone())
        .collect();
    let cfg = NotificationConfig::from_xml(&body, |arn| known.contains(arn)).map_err(refused)?;
    let stored = (!cfg.rules.is_empty()).then(|| cfg.to_json());
    crate::ops::update_bucket(&ctx, BucketChange::Notification(stored)).await?;
    Ok(empty_response(StatusCode::OK))
}
