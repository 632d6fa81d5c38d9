//! The lifecycle day: the unit of lifecycle rules, tier age policies and restored
//! copies' lifetimes.

use std::sync::OnceLock;

use crate::model::Millis;

const DAY: Millis = 86_400_000;

/// The length of a lifecycle "day". `HAFIZ_LIFECYCLE_DAY_SECONDS` shortens it for
/// tests (a day of seconds, as MinIO's accelerated ILM day); with real days, expiry
/// times round up to the next midnight UTC, as on AWS.
pub fn day_millis() -> Millis {
    static DAY_MS: OnceLock<Millis> = OnceLock::new();
    *DAY_MS.get_or_init(|| {
        std::env::var("HAFIZ_LIFECYCLE_DAY_SECONDS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map(|s| (s * 1000.0) as Millis)
            .unwrap_or(DAY)
    })
}

/// `from` plus `days` lifecycle days (rounded up to midnight UTC with real days).
pub fn after_days(from: Millis, days: u32) -> Millis {
    let day = day_millis();
    let t = from.saturating_add(day.saturating_mul(Millis::from(days)));
    if day == DAY {
        let rem = t.rem_euclid(DAY);
        if rem == 0 { t } else { t - rem + DAY }
    } else {
        t
    }
}
