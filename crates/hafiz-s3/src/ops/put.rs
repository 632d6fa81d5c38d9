//! PutObject: stream the body into the blob store, then commit the version in one
//! metadata command (which also checks the conditional-write headers atomically).

use axum::response::Response;
use hafiz_meta::{
    Checksum, ChecksumType, Command, NULL_VERSION, ObjectVersion, command::WriteCondition,
};
use http::{HeaderMap, StatusCode};

use crate::checksum;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ingest::{self, IngestLimits, MAX_PUT_SIZE};
use crate::ops::{self, header_str, insert, lock, quoted, require_bucket, versions};
use crate::server::{Ctx, empty_response};

/// `If-None-Match: *` / `If-Match: etag` on PutObject and CompleteMultipartUpload.
pub(crate) fn write_condition(h: &HeaderMap) -> S3Result<WriteCondition> {
    if let Some(v) = header_str(h, "if-none-match") {
        if v.trim() != "*" {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "A header you provided implies functionality that is not implemented",
            )
            .extra("Header", "If-None-Match"));
        }
        return Ok(WriteCondition::Absent);
    }
    if let Some(v) = header_str(h, "if-match") {
        return Ok(WriteCondition::EtagMatches(
            v.trim().trim_matches('"').to_string(),
        ));
    }
    Ok(WriteCondition::None)
}

/// What a client sets on an object besides its bytes.
pub(crate) struct ObjectMeta {
    pub headers: hafiz_meta::ContentHeaders,
    pub user_meta: Vec<(String, String)>,
    pub storage_class: String,
    pub tags: Vec<(String, String)>,
}

/// A new version holding one ingested body (PutObject and CopyObject). It gets a
/// minted id; the commit makes it the `null` version where the bucket is not
/// versioning.
pub(crate) fn ingested_version(
    key: &str,
    got: ingest::Ingested,
    meta: ObjectMeta,
) -> ObjectVersion {
    let st = versions::stamp();
    ObjectVersion {
        key: key.to_string(),
        version_id: st.version_id,
        order: st.order,
        size: got.size,
        etag: got.md5_hex,
        last_modified: st.last_modified,
        headers: meta.headers,
        user_meta: meta.user_meta,
        storage_class: meta.storage_class,
        tags: meta.tags,
        checksum: Some(Checksum {
            algorithm: got.checksum_algorithm,
            value: got.checksum,
            kind: ChecksumType::FullObject,
        }),
        parts: None,
        data: ops::data_of(got.stored),
        ..Default::default()
    }
}

/// Commit a new current version; its blobs are released if the commit fails, the
/// replaced version's blobs if it succeeds. Returns the version id it got.
pub(crate) async fn commit_version(
    ctx: &Ctx,
    version: ObjectVersion,
    condition: WriteCondition,
    api: Option<&str>,
) -> S3Result<String> {
    let new_blobs = version.blob_ids();
    let cmd = Command::PutObject {
        bucket: ctx.bucket.clone(),
        version,
        condition,
    };
    match ctx.apply_object(cmd, api).await {
        Ok(out) => {
            ops::delete::release(ctx, out.released_blobs).await;
            Ok(out.version_id.unwrap_or_else(|| NULL_VERSION.to_string()))
        }
        Err(e) => {
            ops::delete::release(ctx, new_blobs).await;
            Err(e.into())
        }
    }
}

/// `arn:aws:s3:::bucket/key`, SSE-KMS's default encryption context.
pub(crate) fn object_arn(ctx: &Ctx) -> String {
    format!("arn:aws:s3:::{}/{}", ctx.bucket, ctx.key)
}

pub(crate) fn checksum_headers(h: &mut HeaderMap, c: &Checksum) {
    insert(h, checksum::header_name(c.algorithm), &c.value);
    insert(h, "x-amz-checksum-type", checksum::type_name(c.kind));
}

pub async fn put_object(mut ctx: Ctx) -> S3Result<Response> {
    ops::validate_key(&ctx.key)?;
    let h = &ctx.headers;
    let headers = ops::content_headers(h);
    let user_meta = ops::user_metadata(h)?;
    let storage_class = ops::storage_class(h)?;
    let tags = ops::tagging(h)?;
    let condition = write_condition(h)?;
    let spec = ingest::checksum_spec(h)?;
    let md5 = ingest::content_md5(h)?;
    let declared_len = ingest::declared_length(h)?;
    let replica = ops::replication::Replica::of(h)?;
    let sse_request = crate::sse::write_request(&ctx.state, h)?;
    let bucket = require_bucket(&ctx).await?;
    let (retention, legal_hold) = lock::put_headers(h, &bucket)?;
    let (acl, grants) = ops::acl::for_write(&ctx.state, h, &bucket).await?;
    ops::quota::check_room(&ctx.state, &bucket, Some(&ctx.key), declared_len).await?;

    let state = ctx.state.clone();
    let encryption = crate::sse::for_write(&state, &bucket, &object_arn(&ctx), sse_request).await?;
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
        encryption
            .as_ref()
            .map(|(_, key)| hafiz_crypto::ChunkSealer::new(key, 0)),
    )
    .await?;
    let mut version = ingested_version(
        &ctx.key,
        got,
        ObjectMeta {
            headers,
            user_meta,
            storage_class,
            tags,
        },
    );
    // A body of unannounced length (a POST upload's file part) is measured only now:
    // the quota is checked before the commit.
    if declared_len.is_none()
        && let Err(e) =
            ops::quota::check_room(&ctx.state, &bucket, Some(&ctx.key), Some(version.size)).await
    {
        ops::delete::release(&ctx, version.blob_ids()).await;
        return Err(e);
    }
    version.retention = retention;
    version.legal_hold = legal_hold;
    version.acl = acl;
    version.grants = grants;
    if let Some((enc, _)) = encryption {
        version.etag = crate::sse::etag_for(Some(&enc), std::mem::take(&mut version.etag));
        version.encryption = Some(enc);
    }
    if let Some(r) = &replica {
        r.apply(&mut version);
    }
    let checksum = version
        .checksum
        .clone()
        .expect("ingested versions carry a checksum");
    let etag = version.etag.clone();
    let encryption = version.encryption.clone();
    let expiry_facts = (version.size, version.tags.clone());
    // POST uploads are `s3:ObjectCreated:Post` events.
    let api = (ctx.op == crate::router::Op::PostObject).then_some("Post");
    let version_id = commit_version(&ctx, version, condition, api).await?;
    let mut r = empty_response(StatusCode::OK);
    if bucket.versioning == hafiz_meta::Versioning::Unversioned {
        versions::version_header(r.headers_mut(), &version_id);
    } else {
        // A suspended bucket names the `null` version, as AWS does.
        insert(r.headers_mut(), "x-amz-version-id", &version_id);
    }
    insert(r.headers_mut(), "etag", &quoted(&etag));
    checksum_headers(r.headers_mut(), &checksum);
    crate::sse::response_headers(&ctx.state, r.headers_mut(), encryption.as_ref());
    crate::sse::context_header(r.headers_mut(), encryption.as_ref());
    if bucket.lifecycle.is_some() {
        let written = ObjectVersion {
            key: ctx.key.clone(),
            size: expiry_facts.0,
            tags: expiry_facts.1,
            last_modified: hafiz_meta::stamp().last_modified,
            ..Default::default()
        };
        crate::ops::lifecycle::expiration_header(&bucket, &written, r.headers_mut());
    }
    Ok(r)
}
