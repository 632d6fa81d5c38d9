//! CopyObject and UploadPartCopy: the source streams through the same ingest path as
//! an upload, so the copy gets its own blob, MD5 and checksum.

use axum::response::Response;
use hafiz_meta::{ChecksumAlgorithm, ObjectVersion, command::WriteCondition};
use percent_encoding::percent_decode_str;

use crate::body::RequestBody;
use crate::checksum;
use crate::conditions;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ingest::{self, ChecksumSpec, ExpectedChecksum, IngestLimits, MAX_PUT_SIZE};
use crate::ops::put::ObjectMeta;
use crate::ops::{self, header_str, multipart, quoted, require_bucket, validate_key};
use crate::range::{self, ByteRange};
use crate::server::{Ctx, xml_response};
use crate::timefmt::iso8601;
use crate::xml::{self, NS};

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=v]`, URL-encoded.
pub(crate) fn parse_copy_source(raw: &str) -> S3Result<(String, String, Option<String>)> {
    let invalid = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid copy source object key",
        )
        .extra("ArgumentName", "x-amz-copy-source")
    };
    let raw = raw.trim();
    let (path, version) = match raw.split_once('?') {
        Some((p, q)) => (p, q.strip_prefix("versionId")),
        None => (raw, None),
    };
    let version = version.map(|v| v.strip_prefix('=').unwrap_or(v));
    let version = ops::versions::parse_version_id(version)?;
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| invalid())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    Ok((bucket.to_string(), key.to_string(), version))
}

/// The copy source's bucket and version, and whether the request named the version.
async fn source(ctx: &Ctx) -> S3Result<(String, ObjectVersion, bool)> {
    let raw = header_str(&ctx.headers, "x-amz-copy-source").unwrap_or("");
    let (bucket, key, version_id) = parse_copy_source(raw)?;
    validate_key(&key)?;
    // A delete marker as the source answers as S3 does: 404 (current) or 400
    // (named; S3 refuses to copy from a delete marker).
    let v = ops::versions::resolve(ctx, &bucket, &key, version_id.as_deref())
        .await
        .map_err(|e| {
            if e.code == S3ErrorCode::MethodNotAllowed {
                S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "The source of a copy request may not specifically refer to a delete marker by version id.",
                )
            } else {
                e
            }
        })?;
    conditions::check_copy_source(&ctx.headers, &v.etag, v.last_modified)?;
    Ok((bucket, v, version_id.is_some()))
}

fn copy_checksum_spec(ctx: &Ctx, src: &ObjectVersion) -> S3Result<ChecksumSpec> {
    let algorithm = match header_str(&ctx.headers, "x-amz-checksum-algorithm") {
        Some(a) => checksum::parse_algorithm(a)?,
        None => src
            .checksum
            .as_ref()
            .map(|c| c.algorithm)
            .unwrap_or(ChecksumAlgorithm::Crc64Nvme),
    };
    Ok(ChecksumSpec {
        algorithm,
        expected: ExpectedChecksum::Compute,
    })
}

async fn copy_body(
    ctx: &Ctx,
    src_bucket: &str,
    src: &ObjectVersion,
    range: Option<ByteRange>,
) -> S3Result<RequestBody> {
    if ops::archived(&ctx.state, src).await {
        return Err(ops::invalid_object_state(src));
    }
    // The source opens with the copy-source SSE-C headers (or the key service).
    let customer = crate::sse::customer_key(&ctx.state, &ctx.headers, true)?;
    let key = crate::sse::for_read(&ctx.state, src.encryption.as_ref(), customer.as_ref()).await?;
    Ok(RequestBody::from_stream(
        ops::object_stream(&ctx.state, src_bucket, src, range, key).await?,
    ))
}

fn directive(ctx: &Ctx, name: &str) -> S3Result<bool> {
    match header_str(&ctx.headers, name) {
        None | Some("COPY") => Ok(false),
        Some("REPLACE") => Ok(true),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Unknown {name}"),
        )),
    }
}

pub async fn copy_object(ctx: Ctx) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    let replace_meta = directive(&ctx, "x-amz-metadata-directive")?;
    let replace_tags = directive(&ctx, "x-amz-tagging-directive")?;
    let sse_request = crate::sse::write_request(&ctx.state, &ctx.headers)?;
    let sse_given = !matches!(sse_request, crate::sse::SseRequest::None);
    let dest_bucket = require_bucket(&ctx).await?;
    let (acl, grants) = ops::acl::for_write(&ctx.state, &ctx.headers, &dest_bucket).await?;
    let (src_bucket, src, named_version) = source(&ctx).await?;
    super::quota::check_room(&ctx.state, &dest_bucket, Some(&ctx.key), Some(src.size)).await?;
    if src.size > MAX_PUT_SIZE {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
        ));
    }
    // As on AWS, a copy is STANDARD unless the request names a class: the copy's
    // bytes are written to the hot drives whatever tier the source is in.
    let class_given = ctx.headers.contains_key("x-amz-storage-class");
    let storage_class = ops::storage_class(&ctx.headers)?;
    // Copying a named older version onto its own key restores it: allowed as on AWS.
    let same_object = src_bucket == ctx.bucket && src.key == ctx.key && !named_version;
    if same_object
        && !replace_meta
        && (!class_given || storage_class == src.storage_class)
        && !ctx.headers.contains_key("x-amz-checksum-algorithm")
        && !sse_given
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let (headers, user_meta) = if replace_meta {
        (
            ops::content_headers(&ctx.headers),
            ops::user_metadata(&ctx.headers)?,
        )
    } else {
        (src.headers.clone(), src.user_meta.clone())
    };
    let tags = if replace_tags {
        ops::tagging(&ctx.headers)?
    } else {
        src.tags.clone()
    };
    let spec = copy_checksum_spec(&ctx, &src)?;
    let mut body = copy_body(&ctx, &src_bucket, &src, None).await?;
    let encryption = crate::sse::for_write(
        &ctx.state,
        &dest_bucket,
        &crate::ops::put::object_arn(&ctx),
        sse_request,
    )
    .await?;
    let placement = ops::placement(&ctx);
    let got = ingest::ingest(
        &mut body,
        ctx.state.blobs.as_ref(),
        &placement,
        &spec,
        None,
        IngestLimits {
            declared_len: Some(src.size),
            max: MAX_PUT_SIZE,
        },
        encryption
            .as_ref()
            .map(|(_, key)| hafiz_crypto::ChunkSealer::new(key, 0)),
    )
    .await?;
    let meta = ObjectMeta {
        headers,
        user_meta,
        storage_class,
        tags,
    };
    let mut version = crate::ops::put::ingested_version(&ctx.key, got, meta);
    version.acl = acl;
    version.grants = grants;
    if let Some((enc, _)) = encryption {
        version.etag = crate::sse::etag_for(Some(&enc), std::mem::take(&mut version.etag));
        version.encryption = Some(enc);
    }
    let encryption = version.encryption.clone();
    let checksum = version
        .checksum
        .clone()
        .expect("ingested versions carry a checksum");
    let (etag, modified) = (version.etag.clone(), version.last_modified);
    let version_id =
        crate::ops::put::commit_version(&ctx, version, WriteCondition::None, Some("Copy")).await?;
    let body = xml::CopyResult {
        xmlns: NS,
        etag: quoted(&etag),
        last_modified: iso8601(modified),
        checksums: xml::ObjectChecksums::single(checksum.algorithm, checksum.value),
    };
    let mut r = xml_response("CopyObjectResult", &body)?;
    ops::versions::version_header(r.headers_mut(), &version_id);
    crate::sse::response_headers(&ctx.state, r.headers_mut(), encryption.as_ref());
    crate::sse::context_header(r.headers_mut(), encryption.as_ref());
    if src.version_id != hafiz_meta::NULL_VERSION {
        ops::insert(
            r.headers_mut(),
            "x-amz-copy-source-version-id",
            &src.version_id,
        );
    }
    Ok(r)
}

pub async fn upload_part_copy(ctx: Ctx) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    let number = multipart::part_number_param(&ctx)?;
    let upload = multipart::require_upload(&ctx).await?;
    let customer = crate::sse::customer_key(&ctx.state, &ctx.headers, false)?;
    let part_key =
        crate::sse::for_part(&ctx.state, upload.encryption.as_ref(), customer.as_ref()).await?;
    let (src_bucket, src, _) = source(&ctx).await?;
    let range = match header_str(&ctx.headers, "x-amz-copy-source-range") {
        Some(r) => Some(range::parse_copy_range(r, src.size)?),
        None => None,
    };
    let len = range.map(|r| r.len()).unwrap_or(src.size);
    let bucket = ops::require_bucket(&ctx).await?;
    super::quota::check_room(&ctx.state, &bucket, None, Some(len)).await?;
    let algorithm = upload
        .checksum_algorithm
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let spec = ChecksumSpec {
        algorithm,
        expected: ExpectedChecksum::Compute,
    };
    let mut body = copy_body(&ctx, &src_bucket, &src, range).await?;
    let placement = ops::placement(&ctx);
    let got = ingest::ingest(
        &mut body,
        ctx.state.blobs.as_ref(),
        &placement,
        &spec,
        None,
        IngestLimits {
            declared_len: Some(len),
            max: MAX_PUT_SIZE,
        },
        part_key
            .as_ref()
            .map(|k| hafiz_crypto::ChunkSealer::new(k, number)),
    )
    .await?;
    let part = multipart::commit_part(&ctx, &upload, number, got).await?;
    let body = xml::CopyResult {
        xmlns: NS,
        etag: quoted(&part.etag),
        last_modified: iso8601(part.last_modified),
        checksums: match (&upload.checksum_algorithm, &part.checksum) {
            (Some(_), Some(c)) => xml::ObjectChecksums::single(c.algorithm, c.value.clone()),
            _ => xml::ObjectChecksums::default(),
        },
    };
    let mut r = xml_response("CopyPartResult", &body)?;
    crate::sse::response_headers(&ctx.state, r.headers_mut(), upload.encryption.as_ref());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::parse_copy_source;

    #[test]
    fn copy_source_forms() {
        assert_eq!(
            parse_copy_source("/b/a%20b/c%3Fd").unwrap(),
            ("b".into(), "a b/c?d".into(), None)
        );
        assert_eq!(
            parse_copy_source("b/k%C3%A9").unwrap(),
            ("b".into(), "ké".into(), None)
        );
        assert_eq!(
            parse_copy_source("b/k?versionId=null").unwrap(),
            ("b".into(), "k".into(), Some("null".into()))
        );
        assert!(parse_copy_source("b/k?versionId=v1").is_err());
        assert!(parse_copy_source("b").is_err());
        assert!(parse_copy_source("/b/").is_err());
    }
}
