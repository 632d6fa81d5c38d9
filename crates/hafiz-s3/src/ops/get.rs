//! GetObject and HeadObject (ranges, partNumber, conditions, response-* overrides,
//! checksums), GetObjectAttributes, GetObjectAcl and GetObjectTagging.

use axum::body::Body;
use axum::response::Response;
use hafiz_meta::{ChecksumType, ObjectVersion};
use http::{HeaderMap, StatusCode};

use crate::checksum;
use crate::conditions;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::{self, header_str, insert, lock, quoted, validate_key, versions};
use crate::range::{self, ByteRange};
use crate::server::{Ctx, xml_response};
use crate::timefmt::http_date;
use crate::xml;

/// The version a request reads (its `versionId`, or the current version), with the
/// right error when there is none.
pub(crate) async fn current_version(ctx: &Ctx) -> S3Result<ObjectVersion> {
    validate_key(&ctx.key)?;
    let vid = versions::requested_version(ctx)?;
    versions::resolve(ctx, &ctx.bucket, &ctx.key, vid.as_deref()).await
}

/// Byte offsets of each part of a multipart object.
fn part_range(v: &ObjectVersion, number: u32) -> Option<(ByteRange, usize)> {
    let parts = v.parts.as_ref()?;
    let mut offset = 0;
    for p in parts {
        if p.number == number {
            if p.size == 0 {
                return None;
            }
            return Some((
                ByteRange {
                    start: offset,
                    end: offset + p.size - 1,
                },
                parts.len(),
            ));
        }
        offset += p.size;
    }
    None
}

fn part_number(ctx: &Ctx) -> S3Result<Option<u32>> {
    match ctx.query.get("partNumber") {
        None => Ok(None),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=10000).contains(&n) => Ok(Some(n)),
            _ => Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            )
            .extra("ArgumentName", "partNumber")
            .extra("ArgumentValue", s)),
        },
    }
}

pub(crate) fn object_headers(h: &mut HeaderMap, v: &ObjectVersion) {
    insert(h, "etag", &quoted(&v.etag));
    insert(h, "last-modified", &http_date(v.last_modified));
    insert(h, "accept-ranges", "bytes");
    let c = &v.headers;
    insert(
        h,
        "content-type",
        c.content_type.as_deref().unwrap_or("binary/octet-stream"),
    );
    for (name, value) in [
        ("content-encoding", &c.content_encoding),
        ("content-disposition", &c.content_disposition),
        ("content-language", &c.content_language),
        ("cache-control", &c.cache_control),
        ("expires", &c.expires),
        ("x-amz-website-redirect-location", &c.website_redirect),
    ] {
        if let Some(value) = value {
            insert(h, name, value);
        }
    }
    for (k, val) in &v.user_meta {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()),
            http::HeaderValue::from_str(val),
        ) {
            h.insert(name, value);
        }
    }
    if v.storage_class != "STANDARD" {
        insert(h, "x-amz-storage-class", &v.storage_class);
    }
    if let Some(status) = v.replication.as_ref().and_then(|r| r.header()) {
        insert(h, "x-amz-replication-status", status);
    }
    if let Some(r) = &v.restore {
        let value = match r.expiry {
            Some(at) if !r.ongoing => {
                format!(
                    "ongoing-request=\"false\", expiry-date=\"{}\"",
                    http_date(at)
                )
            }
            _ => "ongoing-request=\"true\"".to_string(),
        };
        insert(h, "x-amz-restore", &value);
    }
    if !v.tags.is_empty() {
        insert(h, "x-amz-tagging-count", &v.tags.len().to_string());
    }
    versions::version_header(h, &v.version_id);
    lock::response_headers(h, v);
}

pub async fn get_object(ctx: Ctx, head: bool) -> S3Result<Response> {
    crate::sse::refuse_on_read(&ctx.headers)?;
    let customer = crate::sse::customer_key(&ctx.state, &ctx.headers, false)?;
    // The bucket row (for its lifecycle rules) is read alongside, not after.
    let (v, bucket) = tokio::join!(current_version(&ctx), ctx.state.meta.bucket(&ctx.bucket));
    let v = v?;
    let key = crate::sse::for_read(&ctx.state, v.encryption.as_ref(), customer.as_ref()).await?;
    if let Err(e) = conditions::check_read(&ctx.headers, &v.etag, v.last_modified) {
        if e.code == S3ErrorCode::NotModified {
            // A 304 still names the representation it stands for.
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            insert(r.headers_mut(), "etag", &quoted(&v.etag));
            insert(
                r.headers_mut(),
                "last-modified",
                &http_date(v.last_modified),
            );
            return Ok(r);
        }
        return Err(e);
    }
    if !head && ops::archived(&ctx.state, &v).await {
        return Err(ops::invalid_object_state(&v));
    }
    let part = part_number(&ctx)?;
    let range_header = header_str(&ctx.headers, "range");
    if part.is_some() && range_header.is_some() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
        ));
    }
    let mut parts_count = None;
    let range = match (part, range_header) {
        (Some(n), _) => match part_range(&v, n) {
            Some((r, count)) => {
                parts_count = Some(count);
                Some(r)
            }
            // A simple object is one part.
            None if n == 1 && v.parts.is_none() => None,
            None => return Err(S3Error::new(S3ErrorCode::InvalidPartNumber)),
        },
        (None, Some(r)) => range::parse(r, v.size)?,
        (None, None) => None,
    };

    let mut resp = Response::new(Body::empty());
    let h = resp.headers_mut();
    object_headers(h, &v);
    crate::sse::response_headers(&ctx.state, h, v.encryption.as_ref());
    if let Ok(Some(b)) = &bucket
        && ctx.query.get("versionId").is_none()
    {
        crate::ops::lifecycle::expiration_header(b, &v, h);
    }
    if let Some(count) = parts_count {
        insert(h, "x-amz-mp-parts-count", &count.to_string());
    }
    let checksum_mode = header_str(&ctx.headers, "x-amz-checksum-mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
    if checksum_mode {
        if let Some(n) = part {
            let pc = v
                .parts
                .as_ref()
                .and_then(|ps| ps.iter().find(|p| p.number == n))
                .and_then(|p| p.checksum.clone());
            if let (Some(c), Some(value)) = (&v.checksum, pc) {
                insert(h, checksum::header_name(c.algorithm), &value);
            }
        } else if range.is_none()
            && let Some(c) = &v.checksum
        {
            crate::ops::put::checksum_headers(h, c);
        }
    }
    // response-* query parameters override the stored headers (signed requests only,
    // which is all we serve today).
    for (param, name) in [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ] {
        if let Some(value) = ctx.query.get(param) {
            insert(h, name, value);
        }
    }
    let len = range.map(|r| r.len()).unwrap_or(v.size);
    insert(h, "content-length", &len.to_string());
    if let Some(r) = range {
        insert(
            h,
            "content-range",
            &format!("bytes {}-{}/{}", r.start, r.end, v.size),
        );
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    } else if part.is_some() {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        insert(
            resp.headers_mut(),
            "content-range",
            &format!("bytes 0-{}/{}", v.size.saturating_sub(1), v.size),
        );
    }
    if !head && len > 0 {
        let stream = ops::object_stream(&ctx.state, &ctx.bucket, &v, range, key).await?;
        *resp.body_mut() = ops::body_from(stream);
    }
    Ok(resp)
}

pub async fn get_object_attributes(ctx: Ctx) -> S3Result<Response> {
    let v = current_version(&ctx).await?;
    // An SSE-C object's attributes need its key, as on AWS.
    let customer = crate::sse::customer_key(&ctx.state, &ctx.headers, false)?;
    crate::sse::for_read(&ctx.state, v.encryption.as_ref(), customer.as_ref()).await?;
    conditions::check_read(&ctx.headers, &v.etag, v.last_modified).map_err(|e| {
        if e.code == S3ErrorCode::NotModified {
            S3Error::new(S3ErrorCode::NotModified)
        } else {
            e
        }
    })?;
    let wanted: Vec<String> = ctx
        .headers
        .get_all("x-amz-object-attributes")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if wanted.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid attribute name specified.",
        ));
    }
    let want = |n: &str| wanted.iter().any(|w| w == n);
    let max_parts: usize = header_str(&ctx.headers, "x-amz-max-parts")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let marker: u32 = header_str(&ctx.headers, "x-amz-part-number-marker")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let checksum =
        v.checksum
            .as_ref()
            .filter(|_| want("Checksum"))
            .map(|c| xml::AttributesChecksum {
                checksums: xml::ObjectChecksums::single(c.algorithm, c.value.clone()),
                checksum_type: checksum::type_name(c.kind).into(),
            });
    let object_parts = v
        .parts
        .as_ref()
        .filter(|_| want("ObjectParts"))
        .map(|parts| {
            let alg = v
                .checksum
                .as_ref()
                .filter(|c| c.kind == ChecksumType::Composite)
                .map(|c| c.algorithm);
            let rest: Vec<_> = parts.iter().filter(|p| p.number > marker).collect();
            let truncated = rest.len() > max_parts;
            let page: Vec<_> = rest.into_iter().take(max_parts).collect();
            xml::AttributesParts {
                total_parts_count: parts.len(),
                part_number_marker: marker,
                next_part_number_marker: page.last().map(|p| p.number),
                max_parts,
                is_truncated: truncated,
                parts: page
                    .iter()
                    .map(|p| xml::AttributesPart {
                        part_number: p.number,
                        size: p.size,
                        checksums: match (alg, &p.checksum) {
                            (Some(a), Some(c)) => xml::ObjectChecksums::single(a, c.clone()),
                            _ => xml::ObjectChecksums::default(),
                        },
                    })
                    .collect(),
            }
        });
    let body = xml::GetObjectAttributesResponse {
        etag: want("ETag").then(|| v.etag.clone()),
        checksum,
        object_parts,
        storage_class: want("StorageClass").then(|| v.storage_class.clone()),
        object_size: want("ObjectSize").then_some(v.size),
    };
    let mut r = xml_response("GetObjectAttributesResponse", &body)?;
    insert(
        r.headers_mut(),
        "last-modified",
        &http_date(v.last_modified),
    );
    versions::version_header(r.headers_mut(), &v.version_id);
    Ok(r)
}
