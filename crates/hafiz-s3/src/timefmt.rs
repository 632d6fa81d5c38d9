//! The two time formats S3 speaks: ISO 8601 with milliseconds in XML, RFC 7231 in
//! headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hafiz_meta::Millis;

pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn system_time(ms: Millis) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// `2026-11-24T12:00:00.000Z`
pub fn iso8601(ms: Millis) -> String {
    let t = time::OffsetDateTime::from(system_time(ms));
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

/// `Tue, 24 Nov 2026 12:00:00 GMT`
pub fn http_date(ms: Millis) -> String {
    httpdate::fmt_http_date(system_time(ms))
}

/// Seconds since the epoch of an HTTP date header, None if it does not parse (S3
/// ignores unparsable conditional dates).
pub fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    t.duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64)
}

/// Milliseconds since the epoch of an ISO 8601 / RFC 3339 timestamp as clients send
/// them (`2026-11-24T12:00:00Z`, with or without fractions or an offset).
pub fn parse_iso8601(s: &str) -> Option<Millis> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            http_date(1_700_000_000_123),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
        assert_eq!(
            parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn iso8601_round_trip() {
        let ms = 1_795_000_000_123;
        assert_eq!(parse_iso8601(&iso8601(ms)), Some(ms));
        assert_eq!(
            parse_iso8601("2026-11-24T12:00:00Z"),
            Some(1_795_521_600_000)
        );
        assert_eq!(
            parse_iso8601("2026-11-24T13:00:00+01:00"),
            Some(1_795_521_600_000)
        );
        assert_eq!(parse_iso8601("tomorrow"), None);
    }
}
