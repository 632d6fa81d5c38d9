//! One module per family of S3 operations, and what they share: reading object
//! headers from a request, writing them into a response, and streaming object data.

pub(crate) mod acl;
mod bucket;
mod copy;
pub(crate) mod delete;
mod encryption;
pub(crate) mod get;
pub(crate) mod lifecycle;
pub(crate) mod list;
pub(crate) mod lock;
mod multipart;
mod notification;
mod policy;
mod put;
mod quota;
pub(crate) mod replication;
mod restore;
pub(crate) mod tagging;
pub(crate) mod versions;

pub use bucket::valid_bucket_name;
pub(crate) use copy::parse_copy_source as copy_source;
pub use delete::release_blobs;
pub use policy::check_bucket_policy;
pub(crate) use policy::is_public as policy_is_public;

use crate::S3State;

use axum::body::Body;
use axum::response::Response;
use futures_util::StreamExt;
use hafiz_meta::{BlobLocation, BlobSpan, ContentHeaders, ObjectData, ObjectVersion};
use hafiz_storage::StoredBlob;
use http::{HeaderMap, HeaderValue};
use percent_encoding::percent_decode_str;

use crate::body::PayloadStream;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::range::ByteRange;
use crate::router::Op;
use crate::server::Ctx;

pub async fn dispatch(ctx: Ctx) -> S3Result<Response> {
    if !ctx.bucket.is_empty() && ctx.op != Op::CreateBucket {
        crate::owners::check_expected(
            &ctx.state,
            &ctx.headers,
            "x-amz-expected-bucket-owner",
            &ctx.bucket,
        )
        .await?;
    }
    if let Some(src) = header_str(&ctx.headers, "x-amz-copy-source")
        && ctx
            .headers
            .contains_key("x-amz-source-expected-bucket-owner")
        && let Ok((src_bucket, _, _)) = copy::parse_copy_source(src)
    {
        crate::owners::check_expected(
            &ctx.state,
            &ctx.headers,
            "x-amz-source-expected-bucket-owner",
            &src_bucket,
        )
        .await?;
    }
    match ctx.op {
        Op::ListBuckets => bucket::list_buckets(ctx).await,
        Op::CreateBucket => bucket::create_bucket(ctx).await,
        Op::HeadBucket => bucket::head_bucket(ctx).await,
        Op::DeleteBucket => bucket::delete_bucket(ctx).await,
        Op::GetBucketLocation => bucket::get_location(ctx).await,
        Op::GetBucketAcl => acl::get_bucket_acl(ctx).await,
        Op::PutBucketAcl => acl::put_bucket_acl(ctx).await,
        Op::GetBucketOwnershipControls => acl::get_ownership_controls(ctx).await,
        Op::PutBucketOwnershipControls => acl::put_ownership_controls(ctx).await,
        Op::DeleteBucketOwnershipControls => acl::delete_ownership_controls(ctx).await,
        Op::PutObjectAcl => acl::put_object_acl(ctx).await,
        Op::GetBucketVersioning => versions::get_versioning(ctx).await,
        Op::PutBucketVersioning => versions::put_versioning(ctx).await,
        Op::GetBucketCors => crate::cors::get_bucket_cors(ctx).await,
        Op::GetBucketLifecycleConfiguration => lifecycle::get(ctx).await,
        Op::PutBucketLifecycleConfiguration => lifecycle::put(ctx).await,
        Op::GetBucketNotificationConfiguration => notification::get(ctx).await,
        Op::PutBucketNotificationConfiguration => notification::put(ctx).await,
        Op::GetBucketReplication => replication::get(ctx).await,
        Op::PutBucketReplication => replication::put(ctx).await,
        Op::DeleteBucketReplication => replication::delete(ctx).await,
        Op::DeleteBucketLifecycle => lifecycle::delete(ctx).await,
        Op::PutBucketCors => crate::cors::put_bucket_cors(ctx).await,
        Op::DeleteBucketCors => crate::cors::delete_bucket_cors(ctx).await,
        Op::GetBucketWebsite => crate::website::get_bucket_website(ctx).await,
        Op::PutBucketWebsite => crate::website::put_bucket_website(ctx).await,
        Op::DeleteBucketWebsite => crate::website::delete_bucket_website(ctx).await,
        // Answered before authentication (server.rs); never dispatched.
        Op::PreflightCors | Op::IamApi => Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        Op::ListObjectVersions => versions::list_object_versions(ctx).await,
        Op::PutBucketTagging => tagging::put_bucket_tagging(ctx).await,
        Op::DeleteBucketTagging => tagging::delete_bucket_tagging(ctx).await,
        Op::GetObjectLockConfiguration => lock::get_config(ctx).await,
        Op::PutObjectLockConfiguration => lock::put_config(ctx).await,
        Op::PutObjectTagging => tagging::put_object_tagging(ctx).await,
        Op::RestoreObject => restore::restore_object(ctx).await,
        Op::DeleteObjectTagging => tagging::delete_object_tagging(ctx).await,
        Op::GetObjectRetention => lock::get_retention(ctx).await,
        Op::PutObjectRetention => lock::put_retention(ctx).await,
        Op::GetObjectLegalHold => lock::get_legal_hold(ctx).await,
        Op::PutObjectLegalHold => lock::put_legal_hold(ctx).await,
        Op::GetBucketPolicy => policy::get_bucket_policy(ctx).await,
        Op::PutBucketPolicy => policy::put_bucket_policy(ctx).await,
        Op::DeleteBucketPolicy => policy::delete_bucket_policy(ctx).await,
        Op::GetBucketPolicyStatus => policy::get_policy_status(ctx).await,
        Op::GetPublicAccessBlock => policy::get_public_access_block(ctx).await,
        Op::PutPublicAccessBlock => policy::put_public_access_block(ctx).await,
        Op::DeletePublicAccessBlock => policy::delete_public_access_block(ctx).await,
        Op::GetBucketEncryption => encryption::get(ctx).await,
        Op::PutBucketEncryption => encryption::put(ctx).await,
        Op::DeleteBucketEncryption => encryption::delete(ctx).await,
        Op::GetBucketTagging => tagging::get_bucket_tagging(ctx).await,
        Op::ListObjects => list::list_objects_v1(ctx).await,
        Op::ListObjectsV2 => list::list_objects_v2(ctx).await,
        Op::ListMultipartUploads => multipart::list_uploads(ctx).await,
        Op::DeleteObjects => delete::delete_objects(ctx).await,
        // A POST upload reaches PutObject with headers made from its form fields.
        Op::PutObject | Op::PostObject => put::put_object(ctx).await,
        Op::CopyObject => copy::copy_object(ctx).await,
        Op::GetObject => get::get_object(ctx, false).await,
        Op::HeadObject => get::get_object(ctx, true).await,
        Op::DeleteObject => delete::delete_object(ctx).await,
        Op::GetObjectAcl => acl::get_object_acl(ctx).await,
        Op::GetObjectAttributes => get::get_object_attributes(ctx).await,
        Op::GetObjectTagging => tagging::get_object_tagging(ctx).await,
        Op::CreateMultipartUpload => multipart::create(ctx).await,
        Op::UploadPart => multipart::upload_part(ctx).await,
        Op::UploadPartCopy => copy::upload_part_copy(ctx).await,
        Op::CompleteMultipartUpload => multipart::complete(ctx).await,
        Op::AbortMultipartUpload => multipart::abort(ctx).await,
        Op::ListParts => multipart::list_parts(ctx).await,
    }
}

/// Change one part of a bucket's configuration.
pub(crate) async fn update_bucket(ctx: &Ctx, change: hafiz_meta::BucketChange) -> S3Result<()> {
    ctx.state
        .meta
        .apply(hafiz_meta::Command::UpdateBucket {
            name: ctx.bucket.clone(),
            change,
        })
        .await?;
    Ok(())
}

/// The bucket must exist (NoSuchBucket otherwise).
pub(crate) async fn require_bucket(ctx: &Ctx) -> S3Result<hafiz_meta::BucketInfo> {
    ctx.state.meta.bucket(&ctx.bucket).await?.ok_or_else(|| {
        S3Error::new(S3ErrorCode::NoSuchBucket).extra("BucketName", ctx.bucket.clone())
    })
}

pub(crate) fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// S3 key rules we enforce at the edge.
pub(crate) fn validate_key(key: &str) -> S3Result<()> {
    if key.len() > 1024 {
        return Err(S3Error::new(S3ErrorCode::KeyTooLongError)
            .extra("Size", key.len().to_string())
            .extra("MaxSizeAllowed", "1024"));
    }
    if key.contains('\0') {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Object key must not contain NUL",
        ));
    }
    Ok(())
}

pub(crate) fn content_headers(h: &HeaderMap) -> ContentHeaders {
    let get = |n: &str| header_str(h, n).map(str::to_string);
    ContentHeaders {
        content_type: get("content-type"),
        content_encoding: get("content-encoding")
            .map(|v| {
                // aws-chunked is transfer framing, not part of the object's encoding.
                v.split(',')
                    .map(str::trim)
                    .filter(|e| !e.eq_ignore_ascii_case("aws-chunked"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|v| !v.is_empty()),
        content_disposition: get("content-disposition"),
        content_language: get("content-language"),
        cache_control: get("cache-control"),
        expires: get("expires"),
        website_redirect: get("x-amz-website-redirect-location"),
    }
}

/// `x-amz-meta-*` headers, within S3's 2 KiB limit.
pub(crate) fn user_metadata(h: &HeaderMap) -> S3Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut total = 0;
    for (name, value) in h {
        if let Some(n) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            total += n.len() + v.len();
            out.push((n.to_string(), v));
        }
    }
    if total > 2048 {
        return Err(S3Error::new(S3ErrorCode::MetadataTooLarge)
            .extra("Size", total.to_string())
            .extra("MaxSizeAllowed", "2048"));
    }
    Ok(out)
}

const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

pub(crate) fn storage_class(h: &HeaderMap) -> S3Result<String> {
    match header_str(h, "x-amz-storage-class") {
        None => Ok("STANDARD".into()),
        Some(c) if STORAGE_CLASSES.contains(&c) => Ok(c.to_string()),
        Some(_) => Err(S3Error::new(S3ErrorCode::InvalidStorageClass)),
    }
}

/// `x-amz-tagging: k1=v1&k2=v2`, with S3's limits.
pub(crate) fn tagging(h: &HeaderMap) -> S3Result<Vec<(String, String)>> {
    let Some(raw) = header_str(h, "x-amz-tagging") else {
        return Ok(Vec::new());
    };
    let dec = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let tags: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect();
    tagging::validate_tags(&tags, tagging::MAX_OBJECT_TAGS, S3ErrorCode::InvalidTag)?;
    Ok(tags)
}

/// Where an object's data goes: a stable function of bucket and key.
pub(crate) fn placement(ctx: &Ctx) -> String {
    format!("{}/{}", ctx.bucket, ctx.key)
}

pub(crate) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

pub(crate) fn insert(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// Turn a finished blob into the span metadata keeps.
pub(crate) fn span_of(stored: StoredBlob) -> BlobSpan {
    match stored {
        StoredBlob::Inline(b) => BlobSpan {
            size: b.len() as u64,
            location: BlobLocation::Inline(b.to_vec()),
        },
        StoredBlob::Stored { id, size } => BlobSpan {
            location: BlobLocation::Stored(id),
            size,
        },
    }
}

/// Object data for a single PUT: inline bytes stay in the row.
pub(crate) fn data_of(stored: StoredBlob) -> ObjectData {
    match stored {
        StoredBlob::Inline(b) => ObjectData::Inline(b.to_vec()),
        other => ObjectData::Blobs(vec![span_of(other)]),
    }
}

/// Whether `v` is in an archive tier without a restored copy: its bytes cannot be
/// read (InvalidObjectState) until RestoreObject brings one back.
pub(crate) async fn archived(state: &S3State, v: &ObjectVersion) -> bool {
    let Some(copy) = v.tier_copy() else {
        return false;
    };
    if v.restore.as_ref().is_some_and(|r| r.data.is_some()) {
        return false;
    }
    match state.tiering.tiers().get(&copy.tier).await {
        Some(t) => t.config.archive,
        None => false,
    }
}

pub(crate) fn invalid_object_state(v: &ObjectVersion) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidObjectState).extra("StorageClass", v.storage_class.clone())
}

/// Stream bytes `range` (whole object if None) of a version of `bucket`, wherever
/// they are: a restored copy first, then the version's own data (hot or tiered).
/// An encrypted version is opened with `key` (see `crate::sse::for_read`), reading
/// only the sealed chunks the range needs.
pub(crate) async fn object_stream(
    state: &S3State,
    bucket: &str,
    version: &ObjectVersion,
    range: Option<ByteRange>,
    key: Option<hafiz_crypto::DataKey>,
) -> S3Result<PayloadStream> {
    let (start, end) = match range {
        Some(r) => (r.start, r.end + 1),
        None => (0, version.size),
    };
    let restored = version.restore.as_ref().and_then(|r| r.data.as_ref());
    let data = restored.unwrap_or(&version.data);
    let opener = match (&version.encryption, key) {
        (None, _) => None,
        (Some(_), Some(key)) => Some(hafiz_crypto::RangeOpener::new(
            &key,
            hafiz_crypto::segments(version),
            start,
            end,
        )),
        (Some(_), None) => {
            return Err(S3Error::internal(
                "an encrypted version read without its key",
            ));
        }
    };
    let (from, len) = match &opener {
        Some(o) => o.cipher_range(),
        None => (start, end - start),
    };
    let stream = state.tiering.sources().stream(data, from, len).await?;
    if restored.is_none() && version.tier_copy().is_some() {
        state.tiering.on_read(bucket, version).await;
    }
    let stream = stream.map(|r| r.map_err(S3Error::from)).boxed();
    Ok(match opener {
        None => stream,
        Some(o) => hafiz_crypto::decrypting(stream, o, |e| {
            metrics::counter!("hafiz_sse_decrypt_failures_total").increment(1);
            S3Error::internal(e)
        }),
    })
}

pub(crate) fn body_from(stream: PayloadStream) -> Body {
    Body::from_stream(stream.map(|r| r.map_err(|e| std::io::Error::other(e.to_string()))))
}
