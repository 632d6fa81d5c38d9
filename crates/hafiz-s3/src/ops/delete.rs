//! DeleteObject and DeleteObjects, and the release of blobs metadata no longer needs.

use axum::response::Response;
use hafiz_meta::{Command, Outcome};
use http::StatusCode;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::{insert, require_bucket, validate_key, versions};
use crate::server::{Ctx, empty_response, xml_response};
use crate::timefmt::now_millis;
use crate::xml::{self, NS};

/// Delete blobs after the metadata commit that dropped them. A failure here only leaves
/// an orphan, which the start-up sweep collects; it never fails the request.
pub(crate) async fn release(ctx: &Ctx, blobs: Vec<String>) {
    release_blobs(&ctx.state, blobs);
}

/// Delete blobs a commit no longer references.
pub fn release_blobs(state: &crate::server::S3State, blobs: Vec<String>) {
    hafiz_storage::release::release_later(state.blobs.clone(), blobs);
}

/// Delete one key or one version; a versioning bucket gets a delete marker when no
/// version is named.
async fn delete_one(
    ctx: &Ctx,
    key: &str,
    version_id: Option<String>,
    bypass: bool,
) -> S3Result<Outcome> {
    let mut marker = hafiz_meta::new_delete_marker(key);
    if let Some(r) = crate::ops::replication::Replica::of(&ctx.headers)? {
        r.apply(&mut marker);
    }
    let out = ctx
        .apply_object(
            Command::DeleteObject {
                bucket: ctx.bucket.clone(),
                key: key.to_string(),
                version_id,
                marker: Some(marker),
                bypass_governance: bypass,
                now: now_millis(),
            },
            None,
        )
        .await?;
    release(ctx, out.released_blobs.clone()).await;
    Ok(out)
}

pub async fn delete_object(ctx: Ctx) -> S3Result<Response> {
    validate_key(&ctx.key)?;
    let version_id = versions::requested_version(&ctx)?;
    let out = delete_one(
        &ctx,
        &ctx.key,
        version_id,
        crate::ops::lock::bypass_governance(&ctx.headers),
    )
    .await?;
    let mut r = empty_response(StatusCode::NO_CONTENT);
    if let Some(id) = &out.version_id {
        // Named versions are echoed as given, `null` included.
        insert(r.headers_mut(), "x-amz-version-id", id);
    }
    if out.delete_marker {
        insert(r.headers_mut(), "x-amz-delete-marker", "true");
    }
    Ok(r)
}

pub async fn delete_objects(mut ctx: Ctx) -> S3Result<Response> {
    let body = ctx.body.collect_limited(2 * 1024 * 1024).await?;
    require_integrity(&ctx.headers, &body)?;
    for alg in crate::checksum::ALL {
        if let Some(sent) = crate::ops::header_str(&ctx.headers, crate::checksum::header_name(alg))
            && sent.trim() != crate::checksum::digest(alg, &body)
        {
            return Err(crate::checksum::mismatch(alg));
        }
    }
    let req: xml::DeleteRequest = xml::from_xml(&body)?;
    if req.object.len() > 1000 {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    require_bucket(&ctx).await?;
    let quiet = req.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    let bypass = crate::ops::lock::bypass_governance(&ctx.headers);
    for obj in req.object {
        let version_id = match validate_key(&obj.key)
            .and_then(|_| versions::parse_version_id(obj.version_id.as_deref()))
        {
            Ok(v) => v,
            Err(e) => {
                errors.push(xml::DeleteErrorEntry {
                    key: obj.key,
                    version_id: obj.version_id,
                    code: e.code.as_str().into(),
                    message: e.message,
                });
                continue;
            }
        };
        let named = version_id.is_some();
        let facts = crate::access::RequestFacts {
            op: ctx.op,
            bucket: &ctx.bucket,
            key: &obj.key,
            query: &ctx.query,
            headers: &ctx.headers,
            caller: &ctx.caller,
        };
        let action = if named {
            "s3:DeleteObjectVersion"
        } else {
            "s3:DeleteObject"
        };
        let allowed = crate::access::authorize_action(&ctx.state, &facts, action, &obj.key).await;
        let result = match allowed {
            Ok(()) => delete_one(&ctx, &obj.key, version_id, bypass).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(out) => {
                if !quiet {
                    let marker_id = out.delete_marker.then(|| out.version_id.clone()).flatten();
                    deleted.push(xml::DeletedEntry {
                        key: obj.key,
                        version_id: if named { out.version_id } else { None },
                        delete_marker: out.delete_marker.then_some(true),
                        delete_marker_version_id: marker_id,
                    });
                }
            }
            Err(e) => {
                errors.push(xml::DeleteErrorEntry {
                    key: obj.key,
                    version_id: obj.version_id,
                    code: e.code.as_str().into(),
                    message: e.message,
                });
            }
        }
    }
    xml_response(
        "DeleteResult",
        &xml::DeleteResult {
            xmlns: NS,
            deleted,
            error: errors,
        },
    )
}

/// S3 requires an integrity header on some calls (DeleteObjects, lifecycle
/// configuration); modern SDKs send a CRC, older ones MD5. A given MD5 must match.
pub(crate) fn require_integrity(headers: &http::HeaderMap, body: &[u8]) -> S3Result<()> {
    let has_integrity = headers.contains_key("content-md5")
        || crate::checksum::ALL
            .iter()
            .any(|a| headers.contains_key(crate::checksum::header_name(*a)))
        || headers.contains_key("x-amz-trailer");
    if !has_integrity {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: Content-MD5 OR x-amz-checksum-*",
        ));
    }
    if let Some(md5) = crate::ingest::content_md5(headers)? {
        use md5::Digest;
        let got: [u8; 16] = md5::Md5::digest(body).into();
        if got != md5 {
            return Err(S3Error::new(S3ErrorCode::BadDigest));
        }
    }
    Ok(())
}
