//! Parsing of the typed values that numeric, date, boolean, binary and IP
//! condition operators compare. The same parsers are used for policy values
//! (where a failure is a policy error) and request values (where a failure
//! just means "no match").

use std::cmp::Ordering;
use std::net::IpAddr;

use ipnet::IpNet;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    /// Decimal notation only: Rust's float parser would also accept `NaN`,
    /// `inf` and exponents, none of which AWS documents for these operators.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !all_digits(int) || !all_digits(frac) {
            return None;
        }
        if !digits.contains('.')
            && let Ok(i) = t.parse::<i128>()
        {
            return Some(Self::Int(i));
        }
        t.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Self::Float)
    }

    pub(crate) fn compare(self, other: Self) -> Option<Ordering> {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            // Precision loss only affects integers beyond 2^53, where the
            // other side is a fraction anyway.
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }
}

/// A point in time as nanoseconds since the Unix epoch. Accepts the ISO 8601
/// forms AWS shows (`2024-01-01T00:00:00Z`, with an offset, with fractional
/// seconds, or a bare date meaning midnight UTC) and integer epoch seconds
/// (the form of `aws:EpochTime`).
pub(crate) fn parse_date(text: &str) -> Option<i128> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<i64>().ok().map(|s| i128::from(s) * 1_000_000_000);
    }
    let parsed = OffsetDateTime::parse(t, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(t, &Iso8601::DEFAULT))
        .or_else(|_| PrimitiveDateTime::parse(t, &Iso8601::DEFAULT).map(|p| p.assume_utc()))
        .or_else(|_| Date::parse(t, &Iso8601::DEFAULT).map(|d| d.midnight().assume_utc()));
    parsed.ok().map(|d| d.unix_timestamp_nanos())
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A CIDR block, or a single address taken as a one-address block.
pub(crate) fn parse_network(text: &str) -> Option<IpNet> {
    let t = text.trim();
    if t.contains('/') {
        t.parse().ok()
    } else {
        t.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

pub(crate) fn parse_address(text: &str) -> Option<IpAddr> {
    text.trim().parse().ok()
}

/// Standard base64 (RFC 4648, `+` and `/`), padding optional, whitespace
/// ignored. Written out here because the crate may not take a dependency
/// for it.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let unpadded_len = compact
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |i| i + 1);
    let padding = compact.len() - unpadded_len;
    if padding > 2 || (padding > 0 && !compact.len().is_multiple_of(4)) {
        return None;
    }
    let body = &compact[..unpadded_len];
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in body {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(Number::parse("10"), Some(Number::Int(10)));
        assert_eq!(Number::parse("-3"), Some(Number::Int(-3)));
        assert_eq!(Number::parse("1.5"), Some(Number::Float(1.5)));
        assert_eq!(Number::parse(".5"), Some(Number::Float(0.5)));
        for bad in ["", ".", "NaN", "inf", "1e3", "1.2.3", "x", "+", "- 1"] {
            assert_eq!(Number::parse(bad), None, "{bad}");
        }
        let ten = Number::parse("10").unwrap();
        let ten_f = Number::parse("10.0").unwrap();
        assert_eq!(ten.compare(ten_f), Some(Ordering::Equal));
        assert_eq!(
            Number::parse("9").unwrap().compare(ten),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn dates() {
        let z = parse_date("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(parse_date("2024-01-01").unwrap(), z);
        assert_eq!(parse_date("2024-01-01T01:00:00+01:00").unwrap(), z);
        assert_eq!(parse_date("1704067200").unwrap(), z);
        assert_eq!(parse_date("2024-01-01T00:00:00.000Z").unwrap(), z);
        assert_eq!(parse_date("2024-01-01T00:00:00").unwrap(), z);
        assert!(parse_date("yesterday").is_none());
        assert!(parse_date("").is_none());
        assert!(parse_date("99999999999999999999999").is_none());
    }

    #[test]
    fn bools() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("1"), None);
    }

    #[test]
    fn networks() {
        let net = parse_network("203.0.113.0/24").unwrap();
        assert!(net.contains(&parse_address("203.0.113.9").unwrap()));
        assert!(!net.contains(&parse_address("203.0.114.9").unwrap()));
        let host = parse_network("2001:db8::1").unwrap();
        assert!(host.contains(&parse_address("2001:db8::1").unwrap()));
        assert!(parse_network("300.1.1.1").is_none());
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("/+8=").unwrap(), [0xff, 0xef]);
        assert!(decode_base64("a").is_none());
        assert!(decode_base64("a===").is_none());
        assert!(decode_base64("aGVsbG8*").is_none());
    }
}
