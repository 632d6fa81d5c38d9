//! Multipart uploads. Each part is stored as its own blob; Complete only stitches
//! metadata (the object's data is the list of part blobs), so it costs no data copy.

use axum::response::Response;
use hafiz_meta::{
    Checksum, ChecksumAlgorithm, ChecksumType, Command, ObjectData, ObjectVersion, PartInfo,
    PartSummary, UploadInfo, UploadListQuery,
};
use http::StatusCode;
use md5::Digest;

use crate::checksum;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ingest::{self, ExpectedChecksum, IngestLimits, Ingested, MAX_PUT_SIZE};
use crate::ops::put::{checksum_headers, write_condition};
use crate::ops::{self, header_str, insert, quoted, require_bucket, validate_key};
use crate::server::{Ctx, empty_response, xml_response};
use crate::timefmt::{iso8601, now_millis};
use crate::xml::{self, NS};

const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_PARTS: u32 = 10_000;

pub(crate) fn part_number_param(ctx: &Ctx) -> S3Result<u32> {
    let raw = ctx.query.get("partNumber").unwrap_or("");
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_PARTS).contains(&n) => Ok(n),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive",
        )
        .extra("ArgumentName", "partNumber")
        .extra("ArgumentValue", raw)),
    }
}

fn upload_id(ctx: &Ctx) -> &str {
    ctx.query.get("uploadId").unwrap_or("")
}

pub(crate) async fn require_upload(ctx: &Ctx) -> S3Result<UploadInfo> {
    match ctx
        .state
        .meta
        .upload(&ctx.bucket, &ctx.key, upload_id(ctx))
        .await?
    {
        Some(u) => Ok(u),
        None => {
            require_bucket(ctx).await?;
            Err(S3Error::new(S3ErrorCode::NoSuchUpload)
                .extra("UploadId", upload_id(ctx).to_string()))
        }
    }
}

/// The checksum type S3 gives an upload when the client names only an algorithm.
fn default_type(alg: ChecksumAlgorithm) -> ChecksumType {
    match alg {
        ChecksumAlgorithm::Crc64Nvme => ChecksumType::FullObject,
        _ => ChecksumType::Composite,
    }
}

pub async fn create(ctx: Ctx) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    let h = &ctx.headers;
    let checksum_algorithm = header_str(h, "x-amz-checksum-algorithm")
        .map(checksum::parse_algorithm)
        .transpose()?;
    let checksum_type = header_str(h, "x-amz-checksum-type")
        .map(checksum::parse_type)
        .transpose()?;
    let checksum_type = match (checksum_algorithm, checksum_type) {
        (Some(a), None) => Some(default_type(a)),
        (
            Some(ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256),
            Some(ChecksumType::FullObject),
        ) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "The FULL_OBJECT checksum type cannot be used with the sha1 or sha256 checksum algorithm",
            ));
        }
        (Some(ChecksumAlgorithm::Crc64Nvme), Some(ChecksumType::Composite)) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
            ));
        }
        (None, Some(_)) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            ));
        }
        (_, t) => t,
    };
    let sse_request = crate::sse::write_request(&ctx.state, h)?;
    let bucket = require_bucket(&ctx).await?;
    let (retention, legal_hold) = ops::lock::upload_headers(h, &bucket)?;
    let (acl, grants) = ops::acl::for_write(&ctx.state, h, &bucket).await?;
    // The upload's data key is made now and wrapped into the upload's row; every
    // part is sealed with it.
    let encryption = crate::sse::for_write(
        &ctx.state,
        &bucket,
        &crate::ops::put::object_arn(&ctx),
        sse_request,
    )
    .await?
    .map(|(enc, _)| enc);
    let info = UploadInfo {
        bucket: ctx.bucket.clone(),
        key: ctx.key.clone(),
        upload_id: uuid::Uuid::new_v4().simple().to_string(),
        initiated: now_millis(),
        headers: ops::content_headers(h),
        user_meta: ops::user_metadata(h)?,
        storage_class: ops::storage_class(h)?,
        tags: ops::tagging(h)?,
        checksum_algorithm,
        checksum_type,
        retention,
        legal_hold,
        acl,
        grants,
        owner: None,
        encryption: encryption.clone(),
    };
    let upload_id = info.upload_id.clone();
    ctx.state.meta.apply(Command::CreateUpload(info)).await?;
    let mut r = xml_response(
        "InitiateMultipartUploadResult",
        &xml::InitiateMultipartUploadResult {
            xmlns: NS,
            bucket: ctx.bucket.clone(),
            key: ctx.key.clone(),
            upload_id,
        },
    )?;
    crate::sse::response_headers(&ctx.state, r.headers_mut(), encryption.as_ref());
    crate::sse::context_header(r.headers_mut(), encryption.as_ref());
    if let (Some(a), Some(t)) = (checksum_algorithm, checksum_type) {
        insert(
            r.headers_mut(),
            "x-amz-checksum-algorithm",
            checksum::algorithm_name(a),
        );
        insert(
            r.headers_mut(),
            "x-amz-checksum-type",
            checksum::type_name(t),
        );
    }
    Ok(r)
}

/// Record an ingested part; the blob it replaces (same part number) is released.
pub(crate) async fn commit_part(
    ctx: &Ctx,
    upload: &UploadInfo,
    number: u32,
    got: Ingested,
) -> S3Result<PartInfo> {
    let part = PartInfo {
        number,
        size: got.size,
        etag: crate::sse::etag_for(upload.encryption.as_ref(), got.md5_hex),
        last_modified: now_millis(),
        checksum: Some(Checksum {
            algorithm: got.checksum_algorithm,
            value: got.checksum,
            kind: ChecksumType::FullObject,
        }),
        data: ops::span_of(got.stored),
    };
    let new_blob: Vec<String> = match &part.data.location {
        hafiz_meta::BlobLocation::Stored(id) => vec![id.clone()],
        hafiz_meta::BlobLocation::Inline(_) => vec![],
    };
    let cmd = Command::PutPart {
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
        upload_id: upload.upload_id.clone(),
        part: part.clone(),
    };
    match ctx.state.meta.apply(cmd).await {
        Ok(out) => {
            ops::delete::release(ctx, out.released_blobs).await;
            Ok(part)
        }
        Err(e) => {
            ops::delete::release(ctx, new_blob).await;
            Err(e.into())
        }
    }
}

pub async fn upload_part(mut ctx: Ctx) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    let number = part_number_param(&ctx)?;
    let upload = require_upload(&ctx).await?;
    let mut spec = ingest::checksum_spec(&ctx.headers)?;
    if spec.expected == ExpectedChecksum::Compute
        && !ctx.headers.contains_key("x-amz-sdk-checksum-algorithm")
    {
        spec.algorithm = upload
            .checksum_algorithm
            .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    }
    if let Some(a) = upload.checksum_algorithm
        && a != spec.algorithm
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                checksum::algorithm_name(a).to_lowercase(),
                checksum::algorithm_name(spec.algorithm).to_lowercase()
            ),
        ));
    }
    let md5 = ingest::content_md5(&ctx.headers)?;
    let declared_len = ingest::declared_length(&ctx.headers)?;
    let customer = crate::sse::customer_key(&ctx.state, &ctx.headers, false)?;
    let part_key =
        crate::sse::for_part(&ctx.state, upload.encryption.as_ref(), customer.as_ref()).await?;
    let bucket = ops::require_bucket(&ctx).await?;
    ops::quota::check_room(&ctx.state, &bucket, None, declared_len).await?;
    let state = ctx.state.clone();
    let placement = ops::placement(&ctx);
    let got = ingest::ingest(
        &mut ctx.body,
        state.blobs.as_ref(),
        &placement,
        &spec,
        md5,
        IngestLimits {
            declared_len,
            max: MAX_PUT_SIZE,
        },
        part_key
            .as_ref()
            .map(|k| hafiz_crypto::ChunkSealer::new(k, number)),
    )
    .await?;
    let part = commit_part(&ctx, &upload, number, got).await?;
    let mut r = empty_response(StatusCode::OK);
    insert(r.headers_mut(), "etag", &quoted(&part.etag));
    crate::sse::response_headers(&ctx.state, r.headers_mut(), upload.encryption.as_ref());
    if let (Some(_), Some(c)) = (upload.checksum_algorithm, &part.checksum) {
        insert(
            r.headers_mut(),
            checksum::header_name(c.algorithm),
            &c.value,
        );
    }
    Ok(r)
}

fn requested_part_checksum(p: &xml::CompletedPart, alg: ChecksumAlgorithm) -> Option<&str> {
    match alg {
        ChecksumAlgorithm::Crc32 => p.crc32.as_deref(),
        ChecksumAlgorithm::Crc32c => p.crc32c.as_deref(),
        ChecksumAlgorithm::Crc64Nvme => p.crc64nvme.as_deref(),
        ChecksumAlgorithm::Sha1 => p.sha1.as_deref(),
        ChecksumAlgorithm::Sha256 => p.sha256.as_deref(),
    }
}

pub async fn complete(mut ctx: Ctx) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    let condition = write_condition(&ctx.headers)?;
    let body = ctx.body.collect_limited(4 * 1024 * 1024).await?;
    let req: xml::CompleteMultipartUpload = xml::from_xml(&body)?;
    let upload = match require_upload(&ctx).await {
        Ok(u) => u,
        Err(e) if e.code == S3ErrorCode::NoSuchUpload => {
            return completed_again(&ctx).await?.ok_or(e);
        }
        Err(e) => return Err(e),
    };
    if req.part.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    if req
        .part
        .windows(2)
        .any(|w| w[0].part_number >= w[1].part_number)
    {
        return Err(S3Error::new(S3ErrorCode::InvalidPartOrder));
    }
    let stored = ctx
        .state
        .meta
        .parts(&upload.upload_id, 0, MAX_PARTS as usize)
        .await?;
    let alg = upload
        .checksum_algorithm
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let kind = upload.checksum_type.unwrap_or(ChecksumType::FullObject);
    let mut chosen: Vec<&PartInfo> = Vec::with_capacity(req.part.len());
    for (i, want) in req.part.iter().enumerate() {
        let etag = want.etag.trim().trim_matches('"');
        let invalid = || {
            S3Error::new(S3ErrorCode::InvalidPart)
                .extra("UploadId", upload.upload_id.clone())
                .extra("PartNumber", want.part_number.to_string())
                .extra("ETag", etag.to_string())
        };
        let part = stored
            .iter()
            .find(|p| p.number == want.part_number && p.etag == etag)
            .ok_or_else(invalid)?;
        if let (Some(sent), Some(have)) = (requested_part_checksum(want, alg), &part.checksum)
            && upload.checksum_algorithm.is_some()
            && sent.trim() != have.value
        {
            return Err(invalid());
        }
        if i + 1 < req.part.len() && part.size < MIN_PART_SIZE {
            return Err(S3Error::new(S3ErrorCode::EntityTooSmall)
                .extra("ProposedSize", part.size.to_string())
                .extra("MinSizeAllowed", MIN_PART_SIZE.to_string())
                .extra("PartNumber", part.number.to_string())
                .extra("ETag", quoted(&part.etag)));
        }
        chosen.push(part);
    }
    // ETag: MD5 of the concatenated binary part MD5s, then "-N".
    let mut md5 = md5::Md5::new();
    for p in &chosen {
        md5.update(hex::decode(&p.etag).map_err(S3Error::internal)?);
    }
    let etag = format!("{}-{}", hex::encode(md5.finalize()), chosen.len());
    let part_sums: Option<Vec<(String, u64)>> = chosen
        .iter()
        .map(|p| {
            p.checksum
                .as_ref()
                .filter(|c| c.algorithm == alg)
                .map(|c| (c.value.clone(), p.size))
        })
        .collect();
    let object_checksum = part_sums.and_then(|sums| checksum::combine_parts(alg, kind, &sums));
    if let (Some(c), Some(sent)) = (
        &object_checksum,
        header_str(&ctx.headers, checksum::header_name(alg)),
    ) && kind == ChecksumType::FullObject
        && sent.trim() != c.value
    {
        return Err(checksum::mismatch(alg));
    }
    let st = ops::versions::stamp();
    let version = ObjectVersion {
        key: ctx.key.clone(),
        version_id: st.version_id,
        order: st.order,
        size: chosen.iter().map(|p| p.size).sum(),
        etag: etag.clone(),
        last_modified: st.last_modified,
        headers: upload.headers.clone(),
        user_meta: upload.user_meta.clone(),
        storage_class: upload.storage_class.clone(),
        tags: upload.tags.clone(),
        checksum: object_checksum.clone(),
        parts: Some(
            chosen
                .iter()
                .map(|p| PartSummary {
                    number: p.number,
                    size: p.size,
                    etag: p.etag.clone(),
                    checksum: p.checksum.as_ref().map(|c| c.value.clone()),
                })
                .collect(),
        ),
        data: ObjectData::Blobs(chosen.iter().map(|p| p.data.clone()).collect()),
        retention: upload.retention,
        legal_hold: upload.legal_hold,
        acl: upload.acl,
        grants: upload.grants.clone(),
        // Each part was sealed on its own, under the upload's data key.
        encryption: upload.encryption.clone().map(|mut e| {
            e.parts_sealed = true;
            e
        }),
        ..Default::default()
    };
    let cmd = Command::CompleteUpload {
        bucket: ctx.bucket.clone(),
        upload_id: upload.upload_id.clone(),
        parts: chosen.iter().map(|p| (p.number, p.etag.clone())).collect(),
        version,
        condition,
    };
    let out = match ctx.apply_object(cmd, None).await {
        Ok(out) => out,
        // Completed by a concurrent request since the look above.
        Err(hafiz_meta::MetaError::NoSuchUpload) => {
            return completed_again(&ctx).await?.ok_or_else(|| {
                S3Error::new(S3ErrorCode::NoSuchUpload)
                    .extra("UploadId", upload_id(&ctx).to_string())
            });
        }
        Err(e) => return Err(e.into()),
    };
    ops::delete::release(&ctx, out.released_blobs).await;
    let requested = object_checksum
        .as_ref()
        .filter(|_| upload.checksum_algorithm.is_some());
    let mut r = complete_response(&ctx, &etag, requested, out.version_id.as_deref())?;
    crate::sse::response_headers(&ctx.state, r.headers_mut(), upload.encryption.as_ref());
    Ok(r)
}

/// The answer to a CompleteMultipartUpload; `checksum` when the upload asked for one.
fn complete_response(
    ctx: &Ctx,
    etag: &str,
    checksum: Option<&Checksum>,
    version_id: Option<&str>,
) -> S3Result<Response> {
    let (checksums, checksum_type) = match checksum {
        Some(c) => (
            xml::ObjectChecksums::single(c.algorithm, c.value.clone()),
            Some(checksum::type_name(c.kind).to_string()),
        ),
        None => (xml::ObjectChecksums::default(), None),
    };
    let host = header_str(&ctx.headers, "host").unwrap_or("localhost");
    let mut r = xml_response(
        "CompleteMultipartUploadResult",
        &xml::CompleteMultipartUploadResult {
            xmlns: NS,
            location: format!(
                "http://{host}/{}/{}",
                ctx.bucket,
                crate::ops::list::url_encode(&ctx.key)
            ),
            bucket: ctx.bucket.clone(),
            key: ctx.key.clone(),
            etag: quoted(etag),
            checksums,
            checksum_type,
        },
    )?;
    if let Some(c) = checksum {
        checksum_headers(r.headers_mut(), c);
    }
    if let Some(id) = version_id {
        ops::versions::version_header(r.headers_mut(), id);
    }
    Ok(r)
}

/// A Complete retried after the upload completed gets the first answer again, as on
/// AWS, while the completion is remembered (a day); after that, NoSuchUpload.
async fn completed_again(ctx: &Ctx) -> S3Result<Option<Response>> {
    let Some(done) = ctx.state.meta.completed_upload(upload_id(ctx)).await? else {
        return Ok(None);
    };
    if done.bucket != ctx.bucket || done.key != ctx.key || !done.live(now_millis()) {
        return Ok(None);
    }
    complete_response(
        ctx,
        &done.etag,
        done.checksum.as_ref(),
        done.version_id.as_deref(),
    )
    .map(Some)
}

pub async fn abort(ctx: Ctx) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    require_bucket(&ctx).await?;
    let cmd = Command::AbortUpload {
        bucket: ctx.bucket.clone(),
        key: ctx.key.clone(),
        upload_id: upload_id(&ctx).to_string(),
    };
    let out = ctx.state.meta.apply(cmd).await?;
    ops::delete::release(&ctx, out.released_blobs).await;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub async fn list_parts(ctx: Ctx) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    let upload = require_upload(&ctx).await?;
    let max = crate::ops::list::max_keys(&ctx, "max-parts")?;
    let marker: u32 = ctx
        .query
        .get("part-number-marker")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut parts = ctx
        .state
        .meta
        .parts(&upload.upload_id, marker, max + 1)
        .await?;
    let truncated = parts.len() > max;
    parts.truncate(max);
    let body = xml::ListPartsResult {
        xmlns: NS,
        bucket: ctx.bucket.clone(),
        key: ctx.key.clone(),
        upload_id: upload.upload_id.clone(),
        part_number_marker: marker,
        next_part_number_marker: parts.last().map(|p| p.number),
        max_parts: max,
        is_truncated: truncated,
        checksum_algorithm: upload
            .checksum_algorithm
            .map(|a| checksum::algorithm_name(a).into()),
        checksum_type: upload.checksum_type.map(|t| checksum::type_name(t).into()),
        initiator: ctx.state.owner_xml(),
        owner: ctx.state.owner_xml(),
        storage_class: upload.storage_class.clone(),
        part: parts
            .iter()
            .map(|p| xml::PartEntry {
                part_number: p.number,
                last_modified: iso8601(p.last_modified),
                etag: quoted(&p.etag),
                size: p.size,
                checksums: match (upload.checksum_algorithm, &p.checksum) {
                    (Some(_), Some(c)) => {
                        xml::ObjectChecksums::single(c.algorithm, c.value.clone())
                    }
                    _ => xml::ObjectChecksums::default(),
                },
            })
            .collect(),
    };
    xml_response("ListPartsResult", &body)
}

pub async fn list_uploads(ctx: Ctx) -> S3Result<Response> {
    let enc = crate::ops::list::Encoder::from_query(&ctx)?;
    let max = crate::ops::list::max_keys(&ctx, "max-uploads")?;
    require_bucket(&ctx).await?;
    let prefix = ctx.query.get("prefix").unwrap_or("").to_string();
    let delimiter = ctx.query.non_empty("delimiter");
    let key_marker = ctx.query.non_empty("key-marker");
    let upload_id_marker = ctx.query.non_empty("upload-id-marker");
    let q = UploadListQuery {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        key_marker: key_marker.clone(),
        upload_id_marker: upload_id_marker.clone(),
        max,
    };
    let page = ctx.state.meta.list_uploads(&ctx.bucket, q).await?;
    // The next page starts after the last entry, upload or common prefix; the upload
    // id marker only applies when that entry is an upload.
    let next_key = page.next_key_marker.clone().filter(|_| page.truncated);
    let next_upload_id = match (&next_key, page.uploads.last()) {
        (Some(k), Some(u)) if &u.key == k => Some(u.upload_id.clone()),
        _ => None,
    };
    let body = xml::ListMultipartUploadsResult {
        xmlns: NS,
        bucket: ctx.bucket.clone(),
        key_marker: enc.enc(key_marker.as_deref().unwrap_or("")),
        upload_id_marker: upload_id_marker.unwrap_or_default(),
        next_key_marker: next_key.map(|k| enc.enc(&k)),
        next_upload_id_marker: next_upload_id,
        prefix: enc.enc(&prefix),
        delimiter: delimiter.map(|d| enc.enc(&d)),
        max_uploads: max,
        is_truncated: page.truncated,
        encoding_type: enc.name(),
        upload: page
            .uploads
            .into_iter()
            .map(|u| xml::UploadEntry {
                key: enc.enc(&u.key),
                upload_id: u.upload_id,
                initiator: ctx.state.owner_xml(),
                owner: ctx.state.owner_xml(),
                storage_class: u.storage_class,
                initiated: iso8601(u.initiated),
                checksum_algorithm: u
                    .checksum_algorithm
                    .map(|a| checksum::algorithm_name(a).into()),
                checksum_type: u.checksum_type.map(|t| checksum::type_name(t).into()),
            })
            .collect(),
        common_prefixes: page
            .prefixes
            .into_iter()
            .map(|p| xml::CommonPrefix {
                prefix: enc.enc(&p),
            })
            .collect(),
    };
    xml_response("ListMultipartUploadsResult", &body)
}
