//! ListObjects (v1) and ListObjectsV2 over the metadata prefix scan.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hafiz_meta::{ListPage, ListQuery, ListedEntry};

use crate::checksum;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::{quoted, require_bucket};
use crate::server::{Ctx, xml_response};
use crate::timefmt::iso8601;
use crate::xml::{self, NS};

/// `encoding-type=url`: every byte but the unreserved ones and `/` percent-encoded, a
/// space as `%20` and `+` as `%2B` (ceph s3-tests `test_bucket_list_encoding_basic`:
/// `quux ab/` → `quux%20ab/`, `foo+1/` → `foo%2B1/`).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(crate) struct Encoder(bool);

impl Encoder {
    pub(crate) fn from_query(ctx: &Ctx) -> S3Result<Encoder> {
        match ctx.query.get("encoding-type") {
            None => Ok(Encoder(false)),
            Some(t) if t.eq_ignore_ascii_case("url") => Ok(Encoder(true)),
            Some(_) => Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Invalid Encoding Method specified in Request",
            )),
        }
    }
    pub(crate) fn enc(&self, s: &str) -> String {
        if self.0 { url_encode(s) } else { s.to_string() }
    }
    pub(crate) fn name(&self) -> Option<String> {
        self.0.then(|| "url".to_string())
    }
}

pub(crate) fn max_keys(ctx: &Ctx, param: &str) -> S3Result<usize> {
    match ctx.query.get(param) {
        None => Ok(1000),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| n.min(1000) as usize)
            .ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "Provided max-keys not an integer or within integer range",
                )
                .extra("ArgumentName", param.to_string())
                .extra("ArgumentValue", s.to_string())
            }),
    }
}

struct Page {
    contents: Vec<xml::ListObjectsEntry>,
    prefixes: Vec<xml::CommonPrefix>,
    last: Option<String>,
    truncated: bool,
}

fn render(ctx: &Ctx, page: ListPage, enc: &Encoder, owner: bool) -> Page {
    let last = page.entries.last().map(|e| e.name().to_string());
    let mut contents = Vec::new();
    let mut prefixes = Vec::new();
    for e in page.entries {
        match e {
            ListedEntry::Prefix(p) => prefixes.push(xml::CommonPrefix {
                prefix: enc.enc(&p),
            }),
            ListedEntry::Object(v) => contents.push(xml::ListObjectsEntry {
                key: enc.enc(&v.key),
                last_modified: iso8601(v.last_modified),
                etag: quoted(&v.etag),
                checksum_algorithm: v
                    .checksum
                    .iter()
                    .map(|c| checksum::algorithm_name(c.algorithm).to_string())
                    .collect(),
                checksum_type: v
                    .checksum
                    .as_ref()
                    .map(|c| checksum::type_name(c.kind).to_string()),
                size: v.size,
                owner: owner.then(|| ctx.state.owner_xml()),
                storage_class: v.storage_class.clone(),
            }),
        }
    }
    Page {
        contents,
        prefixes,
        last,
        truncated: page.truncated,
    }
}

fn delimiter(ctx: &Ctx) -> Option<String> {
    ctx.query.non_empty("delimiter")
}

pub async fn list_objects_v1(ctx: Ctx) -> S3Result<Response> {
    let enc = Encoder::from_query(&ctx)?;
    let max = max_keys(&ctx, "max-keys")?;
    require_bucket(&ctx).await?;
    let prefix = ctx.query.get("prefix").unwrap_or("").to_string();
    let marker = ctx.query.get("marker").unwrap_or("").to_string();
    let delim = delimiter(&ctx);
    let q = ListQuery {
        prefix: prefix.clone(),
        delimiter: delim.clone(),
        after: (!marker.is_empty()).then(|| marker.clone()),
        max,
    };
    let page = ctx.state.meta.list_objects(&ctx.bucket, q).await?;
    let p = render(&ctx, page, &enc, true);
    let body = xml::ListBucketResultV1 {
        xmlns: NS,
        name: ctx.bucket.clone(),
        prefix: enc.enc(&prefix),
        marker: enc.enc(&marker),
        next_marker: p.last.filter(|_| p.truncated).map(|l| enc.enc(&l)),
        max_keys: max,
        delimiter: delim.map(|d| enc.enc(&d)),
        is_truncated: p.truncated,
        encoding_type: enc.name(),
        contents: p.contents,
        common_prefixes: p.prefixes,
    };
    xml_response("ListBucketResult", &body)
}

pub async fn list_objects_v2(ctx: Ctx) -> S3Result<Response> {
    let enc = Encoder::from_query(&ctx)?;
    let max = max_keys(&ctx, "max-keys")?;
    require_bucket(&ctx).await?;
    let prefix = ctx.query.get("prefix").unwrap_or("").to_string();
    let delim = delimiter(&ctx);
    let start_after = ctx.query.non_empty("start-after");
    let token = ctx.query.get("continuation-token").map(str::to_string);
    let after = match &token {
        Some(t) => Some(
            B64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        "The continuation token provided is incorrect",
                    )
                    .extra("ArgumentName", "continuation-token")
                })?,
        ),
        None => start_after.clone(),
    };
    let fetch_owner = ctx.query.get("fetch-owner") == Some("true");
    let q = ListQuery {
        prefix: prefix.clone(),
        delimiter: delim.clone(),
        after,
        max,
    };
    let page = ctx.state.meta.list_objects(&ctx.bucket, q).await?;
    let p = render(&ctx, page, &enc, fetch_owner);
    let body = xml::ListBucketResultV2 {
        xmlns: NS,
        name: ctx.bucket.clone(),
        prefix: enc.enc(&prefix),
        start_after: start_after.map(|s| enc.enc(&s)),
        continuation_token: token,
        next_continuation_token: p
            .last
            .filter(|_| p.truncated)
            .map(|l| B64.encode(l.as_bytes())),
        key_count: p.contents.len() + p.prefixes.len(),
        max_keys: max,
        delimiter: delim.map(|d| enc.enc(&d)),
        is_truncated: p.truncated,
        encoding_type: enc.name(),
        contents: p.contents,
        common_prefixes: p.prefixes,
    };
    xml_response("ListBucketResult", &body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_encoding_matches_what_sdks_decode() {
        assert_eq!(super::url_encode("a b+c/é%"), "a%20b%2Bc/%C3%A9%25");
        assert_eq!(super::url_encode("x\u{1}y*~"), "x%01y%2A~");
    }
}
