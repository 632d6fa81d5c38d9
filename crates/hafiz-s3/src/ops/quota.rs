//! Early quota checks. The metadata commit enforces quotas exactly; checking the
//! declared length first spares streaming (and then discarding) a body that cannot
//! fit.

use hafiz_meta::{BucketInfo, NULL_VERSION, Quota, Usage, Versioning};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::server::S3State;

/// Refuse a write of `len` bytes to `key` that would take the bucket or its account
/// over a byte quota. `key` is None for a multipart part, which replaces nothing.
pub async fn check_room(
    state: &S3State,
    bucket: &BucketInfo,
    key: Option<&str>,
    len: Option<u64>,
) -> S3Result<()> {
    let Some(len) = len else {
        return Ok(());
    };
    let account_quota = match bucket.account.as_str() {
        "" => None,
        a => state.meta.account(a).await?.and_then(|a| a.quota),
    };
    let limited = |q: Option<Quota>| q.and_then(|q| q.max_bytes);
    if limited(bucket.quota).is_none() && limited(account_quota).is_none() {
        return Ok(());
    }
    // Outside versioning the write replaces the `null` version, whose bytes it frees.
    let replaced = match key {
        Some(k) if bucket.versioning != Versioning::Enabled => state
            .meta
            .object_version(&bucket.name, k, NULL_VERSION)
            .await?
            .filter(|v| !v.delete_marker)
            .map_or(0, |v| v.size),
        _ => 0,
    };
    let fits = |max: Option<u64>, usage: Usage| {
        max.is_none_or(|m| usage.stored().saturating_sub(replaced).saturating_add(len) <= m)
    };
    if !fits(
        limited(bucket.quota),
        state.meta.bucket_usage(&bucket.name).await?,
    ) {
        return Err(S3Error::with_message(
            S3ErrorCode::QuotaExceeded,
            format!("The bucket quota of {} is exceeded.", bucket.name),
        ));
    }
    if !fits(
        limited(account_quota),
        state.meta.account_usage(&bucket.account).await?,
    ) {
        return Err(S3Error::with_message(
            S3ErrorCode::QuotaExceeded,
            format!("The quota of account {} is exceeded.", bucket.account),
        ));
    }
    Ok(())
}
