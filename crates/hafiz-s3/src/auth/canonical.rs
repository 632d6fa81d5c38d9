//! Building the pieces of a SigV4 canonical request from the request exactly as received.
//!
//! Clients differ in how they turn a request into its canonical form, so the URI and the
//! query string each have a small list of *candidates*, most likely first; a signature is
//! accepted if it matches any combination. Every candidate is a deterministic function of
//! the bytes on the wire, so accepting several never lets a signature cover a request that
//! differs from the one the client signed in anything but encoding.
//!
//! * URI (S3 never normalizes `.`/`..`/`//` and never double-encodes):
//!   1. the raw path verbatim — what botocore (`urlsplit(url).path`), aws-sigv4
//!      (`PercentEncodingMode::Single`: `uri.path()`), the Java/JS/Go SDKs sign, since they
//!      encode keys themselves before building the URL;
//!   2. the path percent-decoded and re-encoded with the AWS rules (unreserved
//!      `A-Za-z0-9-._~` and `/` kept, everything else `%XX` upper-case) — what a client
//!      that sent e.g. a raw `+`, `!`, `(` or lower-case escapes computed if it follows the
//!      spec to the letter (and what MinIO computes).
//! * Query:
//!   1. each name/value percent-decoded with `+` as space (form encoding, as AWS S3 and
//!      aws-sigv4's `form_urlencoded::parse` do) and re-encoded with the AWS rules, sorted by
//!      name then value — `?uploads` becomes `uploads=`;
//!   2. the raw `name=value` pairs, sorted, not re-encoded — exactly botocore's
//!      `_canonical_query_string_url` (it splits on `&` and `=` and never decodes);
//!   3. as 1 but `+` kept as a literal `+` (→ `%2B`), only tried when the raw query has a `+`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};

/// Everything but the RFC 3986 unreserved characters is encoded (AWS `UriEncode`).
const AWS_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// As [`AWS_ENCODE`] but `/` is kept (object key paths).
const AWS_ENCODE_PATH: &AsciiSet = &AWS_ENCODE.remove(b'/');

/// AWS `UriEncode(value)` of raw bytes.
pub fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, AWS_ENCODE).to_string()
}

/// AWS `UriEncode(path, encodeSlash = false)` of raw bytes.
pub fn uri_encode_path(bytes: &[u8]) -> String {
    percent_encode(bytes, AWS_ENCODE_PATH).to_string()
}

/// Percent-decodes `s`, optionally turning `+` into a space first (form encoding).
/// Malformed escapes (`%zz`, a trailing `%`) are kept literally, as every decoder in use does.
pub fn decode_component(s: &str, plus_as_space: bool) -> Vec<u8> {
    if plus_as_space && s.contains('+') {
        let replaced = s.replace('+', " ");
        percent_decode(replaced.as_bytes()).collect()
    } else {
        percent_decode(s.as_bytes()).collect()
    }
}

/// Candidate canonical URIs for a raw request path, most likely first, without duplicates.
pub fn canonical_uri_candidates(raw_path: &str) -> Vec<String> {
    let raw = if raw_path.is_empty() { "/" } else { raw_path };
    let mut out = vec![raw.to_string()];
    let reencoded = uri_encode_path(&decode_component(raw, false));
    if reencoded != out[0] {
        out.push(reencoded);
    }
    out
}

/// Splits a raw query string into raw `(name, value)` pairs; a parameter without `=` has an
/// empty value. Empty segments (`a=1&&b=2`, a trailing `&`) are dropped.
pub fn raw_query_pairs(raw_query: &str) -> impl Iterator<Item = (&str, &str)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Decoded `(name, value)` pairs of a raw query string (`+` as space, as S3 decodes queries).
pub fn decoded_query_pairs(raw_query: &str) -> Vec<(String, String)> {
    raw_query_pairs(raw_query)
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&decode_component(k, true)).into_owned(),
                String::from_utf8_lossy(&decode_component(v, true)).into_owned(),
            )
        })
        .collect()
}

fn join_sorted(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

fn reencoded_query(raw_query: &str, plus_as_space: bool, exclude: Option<&str>) -> String {
    let pairs = raw_query_pairs(raw_query)
        .filter_map(|(k, v)| {
            let name = decode_component(k, plus_as_space);
            if exclude.is_some_and(|x| x.as_bytes() == name.as_slice()) {
                return None;
            }
            Some((
                uri_encode(&name),
                uri_encode(&decode_component(v, plus_as_space)),
            ))
        })
        .collect();
    join_sorted(pairs)
}

/// Candidate canonical query strings, most likely first, without duplicates. `exclude` names a
/// parameter left out (`X-Amz-Signature` for presigned URLs).
pub fn canonical_query_candidates(raw_query: Option<&str>, exclude: Option<&str>) -> Vec<String> {
    let raw = raw_query.unwrap_or("");
    let mut out = vec![reencoded_query(raw, true, exclude)];
    let botocore = join_sorted(
        // botocore splits on every `&` (it would keep empty segments, which no client sends).
        raw_query_pairs(raw)
            .filter(|(k, _)| {
                exclude.is_none_or(|x| decode_component(k, true).as_slice() != x.as_bytes())
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    if !out.contains(&botocore) {
        out.push(botocore);
    }
    if raw.contains('+') {
        let literal_plus = reencoded_query(raw, false, exclude);
        if !out.contains(&literal_plus) {
            out.push(literal_plus);
        }
    }
    out
}

/// SigV4 `Trimall`: strips leading/trailing spaces and tabs and collapses runs of spaces
/// into one (aws-sigv4 and the AWS docs collapse spaces only; botocore also folds tabs,
/// which no real header carries).
pub fn trim_all(value: &[u8]) -> Vec<u8> {
    let start = value
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(end - start);
    let mut prev_space = false;
    for &b in &value[start..end] {
        if b == b' ' {
            if !prev_space {
                out.push(b);
            }
            prev_space = true;
        } else {
            out.push(b);
            prev_space = false;
        }
    }
    out
}

/// The canonical header block (`name:value\n` per signed header, in the order the client
/// listed them) or the name of a signed header the request does not carry.
pub fn canonical_headers(headers: &http::HeaderMap, signed: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(256);
    for name in signed {
        let lookup = name.to_ascii_lowercase();
        let mut values = headers.get_all(lookup.as_str()).iter().peekable();
        if values.peek().is_none() {
            return Err((*name).to_string());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut first = true;
        for v in values {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&trim_all(v.as_bytes()));
        }
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_candidates() {
        assert_eq!(canonical_uri_candidates(""), vec!["/"]);
        assert_eq!(canonical_uri_candidates("/b/k%20x"), vec!["/b/k%20x"]);
        assert_eq!(
            canonical_uri_candidates("/b/a+b"),
            vec!["/b/a+b", "/b/a%2Bb"]
        );
        assert_eq!(
            canonical_uri_candidates("/b/%e2%9c%93"),
            vec!["/b/%e2%9c%93", "/b/%E2%9C%93"]
        );
        assert_eq!(canonical_uri_candidates("/b//../x"), vec!["/b//../x"]);
        assert_eq!(
            canonical_uri_candidates("/b/a%2Fb"),
            vec!["/b/a%2Fb", "/b/a/b"]
        );
        assert_eq!(
            canonical_uri_candidates("/b/%zz"),
            vec!["/b/%zz", "/b/%25zz"]
        );
    }

    #[test]
    fn query_candidates() {
        assert_eq!(canonical_query_candidates(None, None), vec![""]);
        assert_eq!(
            canonical_query_candidates(Some("uploads"), None),
            vec!["uploads="]
        );
        assert_eq!(
            canonical_query_candidates(Some("uploadId=x&partNumber=2"), None),
            vec!["partNumber=2&uploadId=x"]
        );
        assert_eq!(
            canonical_query_candidates(Some("prefix=a+b&acl"), None),
            vec!["acl=&prefix=a%20b", "acl=&prefix=a+b", "acl=&prefix=a%2Bb"]
        );
        assert_eq!(
            canonical_query_candidates(
                Some("a=%2f&X-Amz-Signature=abc&b=c%20d"),
                Some("X-Amz-Signature")
            ),
            vec!["a=%2F&b=c%20d", "a=%2f&b=c%20d"]
        );
        assert_eq!(
            canonical_query_candidates(Some("k=v1&k=v0"), None),
            vec!["k=v0&k=v1"]
        );
        assert_eq!(
            canonical_query_candidates(Some("a=b=c&&"), None),
            vec!["a=b%3Dc", "a=b=c"]
        );
    }

    #[test]
    fn trimming() {
        assert_eq!(trim_all(b"  a   b  "), b"a b");
        assert_eq!(trim_all(b""), b"");
        assert_eq!(trim_all(b"   "), b"");
        assert_eq!(trim_all(b"\tx\t"), b"x");
        assert_eq!(trim_all(b"a\t\tb"), b"a\t\tb");
    }

    #[test]
    fn headers_block() {
        let mut h = http::HeaderMap::new();
        h.insert("host", "example.com".parse().unwrap());
        h.append("x-amz-meta-a", " one  two ".parse().unwrap());
        h.append("x-amz-meta-a", "three".parse().unwrap());
        assert_eq!(
            canonical_headers(&h, &["host", "x-amz-meta-a"]).unwrap(),
            b"host:example.com\nx-amz-meta-a:one two,three\n"
        );
        assert_eq!(
            canonical_headers(&h, &["host", "range"]).unwrap_err(),
            "range"
        );
    }
}
