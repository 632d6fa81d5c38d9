//! Conditional request headers, evaluated in the order and with the precedence S3
//! uses: If-Match beats If-Unmodified-Since, If-None-Match beats If-Modified-Since,
//! and 412 outcomes are decided before 304 ones.

use http::HeaderMap;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::timefmt::parse_http_date;

/// Whether an `If-Match`/`If-None-Match` list names this ETag (unquoted).
pub fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(|t| t.trim()).any(|t| {
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t.trim_matches('"') == etag
    })
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn failed(condition: &str) -> S3Error {
    S3Error::new(S3ErrorCode::PreconditionFailed).extra("Condition", condition)
}

/// GET/HEAD conditions against the current version.
pub fn check_read(h: &HeaderMap, etag: &str, last_modified_ms: i64) -> S3Result<()> {
    let modified = last_modified_ms / 1000;
    let if_match = header(h, "if-match");
    let if_none_match = header(h, "if-none-match");
    if let Some(list) = if_match {
        if !etag_matches(list, etag) {
            return Err(failed("If-Match"));
        }
    } else if let Some(t) = header(h, "if-unmodified-since").and_then(parse_http_date)
        && modified > t
    {
        return Err(failed("If-Unmodified-Since"));
    }
    if let Some(list) = if_none_match {
        if etag_matches(list, etag) {
            return Err(S3Error::new(S3ErrorCode::NotModified));
        }
    } else if let Some(t) = header(h, "if-modified-since").and_then(parse_http_date)
        && modified <= t
    {
        return Err(S3Error::new(S3ErrorCode::NotModified));
    }
    Ok(())
}

/// `x-amz-copy-source-if-*` against the copy source: every failure is a 412.
pub fn check_copy_source(h: &HeaderMap, etag: &str, last_modified_ms: i64) -> S3Result<()> {
    let modified = last_modified_ms / 1000;
    let if_match = header(h, "x-amz-copy-source-if-match");
    if let Some(list) = if_match {
        if !etag_matches(list, etag) {
            return Err(failed("x-amz-copy-source-If-Match"));
        }
    } else if let Some(t) =
        header(h, "x-amz-copy-source-if-unmodified-since").and_then(parse_http_date)
        && modified > t
    {
        return Err(failed("x-amz-copy-source-If-Unmodified-Since"));
    }
    let if_none_match = header(h, "x-amz-copy-source-if-none-match");
    if let Some(list) = if_none_match {
        if etag_matches(list, etag) {
            return Err(failed("x-amz-copy-source-If-None-Match"));
        }
    } else if let Some(t) =
        header(h, "x-amz-copy-source-if-modified-since").and_then(parse_http_date)
        && modified <= t
    {
        return Err(failed("x-amz-copy-source-If-Modified-Since"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    const T: i64 = 1_700_000_000_000; // Tue, 14 Nov 2023 22:13:20 GMT

    #[test]
    fn precedence_as_s3() {
        let code = |r: S3Result<()>| r.err().map(|e| e.code);
        assert_eq!(
            code(check_read(&h(&[("if-match", "\"abc\"")]), "abc", T)),
            None
        );
        assert_eq!(
            code(check_read(&h(&[("if-match", "\"x\"")]), "abc", T)),
            Some(S3ErrorCode::PreconditionFailed)
        );
        assert_eq!(
            code(check_read(&h(&[("if-none-match", "\"abc\"")]), "abc", T)),
            Some(S3ErrorCode::NotModified)
        );
        assert_eq!(
            code(check_read(&h(&[("if-none-match", "*")]), "abc", T)),
            Some(S3ErrorCode::NotModified)
        );
        // If-Match true + If-Unmodified-Since false -> 200
        assert_eq!(
            code(check_read(
                &h(&[
                    ("if-match", "abc"),
                    ("if-unmodified-since", "Mon, 01 Jan 2001 00:00:00 GMT")
                ]),
                "abc",
                T
            )),
            None
        );
        assert_eq!(
            code(check_read(
                &h(&[("if-unmodified-since", "Mon, 01 Jan 2001 00:00:00 GMT")]),
                "abc",
                T
            )),
            Some(S3ErrorCode::PreconditionFailed)
        );
        // If-None-Match false + If-Modified-Since false -> 200
        assert_eq!(
            code(check_read(
                &h(&[
                    ("if-none-match", "zzz"),
                    ("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")
                ]),
                "abc",
                T
            )),
            None
        );
        assert_eq!(
            code(check_read(
                &h(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")]),
                "abc",
                T
            )),
            Some(S3ErrorCode::NotModified)
        );
        assert_eq!(
            code(check_read(
                &h(&[("if-modified-since", "garbage")]),
                "abc",
                T
            )),
            None
        );
    }

    #[test]
    fn copy_source_conditions_are_all_412() {
        let r = check_copy_source(
            &h(&[("x-amz-copy-source-if-none-match", "\"abc\"")]),
            "abc",
            T,
        );
        assert_eq!(r.unwrap_err().code, S3ErrorCode::PreconditionFailed);
    }
}
