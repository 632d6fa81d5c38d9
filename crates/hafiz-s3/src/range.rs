//! The `Range` header, as S3 accepts it: one `bytes=` range of the three forms.

use crate::error::{S3Error, S3ErrorCode, S3Result};

/// An inclusive byte range resolved against an object size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Never zero: a resolved range holds at least one byte.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

fn invalid(size: u64) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidRange).extra("ActualObjectSize", size.to_string())
}

/// Resolve a Range header. `Ok(None)` means "serve the whole object": S3 ignores
/// syntactically invalid or multi-range headers rather than failing.
pub fn parse(header: &str, size: u64) -> S3Result<Option<ByteRange>> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // suffix: the last n bytes
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(invalid(size));
        }
        let n = n.min(size);
        return Ok(Some(ByteRange {
            start: size - n,
            end: size - 1,
        }));
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return Ok(None),
        }
    };
    if start >= size {
        return Err(invalid(size));
    }
    Ok(Some(ByteRange {
        start,
        end: end.min(size - 1),
    }))
}

/// `x-amz-copy-source-range: bytes=a-b` (both bounds required, within the source).
pub fn parse_copy_range(header: &str, size: u64) -> S3Result<ByteRange> {
    let bad = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let start: u64 = a.trim().parse().map_err(|_| bad())?;
    let end: u64 = b.trim().parse().map_err(|_| bad())?;
    if end < start {
        return Err(bad());
    }
    if end >= size {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ));
    }
    Ok(ByteRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            parse("bytes=0-9", 100).unwrap(),
            Some(ByteRange { start: 0, end: 9 })
        );
        assert_eq!(
            parse("bytes=10-", 100).unwrap(),
            Some(ByteRange { start: 10, end: 99 })
        );
        assert_eq!(
            parse("bytes=-5", 100).unwrap(),
            Some(ByteRange { start: 95, end: 99 })
        );
        assert_eq!(
            parse("bytes=-500", 100).unwrap(),
            Some(ByteRange { start: 0, end: 99 })
        );
        assert_eq!(
            parse("bytes=90-200", 100).unwrap(),
            Some(ByteRange { start: 90, end: 99 })
        );
        assert_eq!(
            parse("bytes=100-", 100).unwrap_err().code,
            S3ErrorCode::InvalidRange
        );
        assert_eq!(
            parse("bytes=0-0", 0).unwrap_err().code,
            S3ErrorCode::InvalidRange
        );
        assert_eq!(parse("bytes=5-1", 100).unwrap(), None);
        assert_eq!(parse("bytes=0-1,3-4", 100).unwrap(), None);
        assert_eq!(parse("items=0-1", 100).unwrap(), None);
        assert_eq!(parse("bytes=x-1", 100).unwrap(), None);
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(
            parse_copy_range("bytes=0-9", 10).unwrap(),
            ByteRange { start: 0, end: 9 }
        );
        assert!(parse_copy_range("bytes=0-10", 10).is_err());
        assert!(parse_copy_range("bytes=5-", 10).is_err());
    }
}
