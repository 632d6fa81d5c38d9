//! Versioning: ids and row order for new versions, the version a request names (and
//! the S3 answers for delete markers), Put/GetBucketVersioning and ListObjectVersions.

use axum::response::Response;
use hafiz_meta::{
    BucketChange, NULL_VERSION, ObjectVersion, VersionEntry, VersionListQuery, Versioning,
    version_id_order,
};
use http::HeaderMap;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::list::{Encoder, max_keys};
use crate::ops::{insert, quoted, require_bucket};
use crate::server::{Ctx, empty_response, xml_response};
use crate::timefmt::iso8601;
use crate::xml::{self, NS};

pub(crate) use hafiz_meta::stamp;

fn invalid_version_id(v: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, "Invalid version id specified")
        .extra("ArgumentName", "versionId")
        .extra("ArgumentValue", v.to_string())
}

/// A version id a client sent (query `versionId`, a copy source, a DeleteObjects
/// entry): `null` or one of ours; anything else is refused as AWS does.
pub(crate) fn parse_version_id(v: Option<&str>) -> S3Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(v) if v == NULL_VERSION || version_id_order(v).is_some() => Ok(Some(v.to_string())),
        Some(v) => Err(invalid_version_id(v)),
    }
}

pub(crate) fn requested_version(ctx: &Ctx) -> S3Result<Option<String>> {
    parse_version_id(ctx.query.get("versionId"))
}

/// `x-amz-version-id` for a version (none for the `null` version of an unversioned
/// write, as AWS omits it there).
pub(crate) fn version_header(h: &mut HeaderMap, version_id: &str) {
    if version_id != NULL_VERSION {
        insert(h, "x-amz-version-id", version_id);
    }
}

/// The version a request reads: the named one, or the current one. A delete marker
/// answers 404 NoSuchKey when current, 405 MethodNotAllowed when named, both with
/// `x-amz-delete-marker: true`, as S3 does.
pub(crate) async fn resolve(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<ObjectVersion> {
    let missing_bucket = || S3Error::new(S3ErrorCode::NoSuchBucket).extra("BucketName", bucket);
    let found = match version_id {
        None => ctx.state.meta.object(bucket, key).await?,
        Some(id) => ctx.state.meta.object_version(bucket, key, id).await?,
    };
    match (found, version_id) {
        (Some(v), None) if v.delete_marker => Err(S3Error::new(S3ErrorCode::NoSuchKey)
            .extra("Key", key)
            .header("x-amz-delete-marker", "true")
            .header("x-amz-version-id", v.version_id)),
        (Some(v), Some(_)) if v.delete_marker => Err(S3Error::new(S3ErrorCode::MethodNotAllowed)
            .extra("Method", ctx.method.as_str().to_string())
            .extra("ResourceType", "DeleteMarker")
            .header("x-amz-delete-marker", "true")
            .header("x-amz-version-id", v.version_id)),
        (Some(v), _) => Ok(v),
        (None, vid) => {
            if ctx.state.meta.bucket(bucket).await?.is_none() {
                return Err(missing_bucket());
            }
            Err(match vid {
                None => S3Error::new(S3ErrorCode::NoSuchKey).extra("Key", key),
                Some(id) => S3Error::new(S3ErrorCode::NoSuchVersion)
                    .extra("Key", key)
                    .extra("VersionId", id),
            })
        }
    }
}

pub async fn get_versioning(ctx: Ctx) -> S3Result<Response> {
    let b = require_bucket(&ctx).await?;
    let status = match b.versioning {
        // Never enabled: no Status element, exactly as AWS answers.
        Versioning::Unversioned => None,
        Versioning::Enabled => Some("Enabled"),
        Versioning::Suspended => Some("Suspended"),
    };
    xml_response(
        "VersioningConfiguration",
        &xml::VersioningConfiguration {
            xmlns: NS,
            status: status.map(str::to_string),
        },
    )
}

pub async fn put_versioning(mut ctx: Ctx) -> S3Result<Response> {
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let cfg: xml::VersioningConfigurationIn = xml::from_xml(&body)?;
    if cfg.mfa_delete.as_deref() == Some("Enabled") {
        // Enabling MFA delete needs a valid `x-amz-mfa` device code, and no MFA
        // device exists on this server, so the authentication cannot succeed.
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Mfa Authentication must be used for this request",
        ));
    }
    let v = match cfg.status.as_deref() {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => {
            return Err(S3Error::new(
                S3ErrorCode::IllegalVersioningConfigurationException,
            ));
        }
    };
    crate::ops::update_bucket(&ctx, BucketChange::Versioning(v)).await?;
    Ok(empty_response(http::StatusCode::OK))
}

pub async fn list_object_versions(ctx: Ctx) -> S3Result<Response> {
    let enc = Encoder::from_query(&ctx)?;
    let max = max_keys(&ctx, "max-keys")?;
    let prefix = ctx.query.get("prefix").unwrap_or("").to_string();
    let delimiter = ctx.query.non_empty("delimiter");
    let key_marker = ctx.query.non_empty("key-marker");
    let version_id_marker = ctx.query.non_empty("version-id-marker");
    if version_id_marker.is_some() && key_marker.is_none() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "A version-id marker cannot be specified without a key marker.",
        ));
    }
    if let Some(v) = &version_id_marker {
        parse_version_id(Some(v))?;
    }
    require_bucket(&ctx).await?;
    let page = ctx
        .state
        .meta
        .list_versions(
            &ctx.bucket,
            VersionListQuery {
                prefix: prefix.clone(),
                delimiter: delimiter.clone(),
                key_marker: key_marker.clone(),
                version_id_marker: version_id_marker.clone(),
                max,
            },
        )
        .await?;
    let (mut next_key, mut next_version) = (None, None);
    if page.truncated {
        match page.entries.last() {
            Some(VersionEntry::Version { version, .. }) => {
                next_key = Some(enc.enc(&version.key));
                next_version = Some(version.version_id.clone());
            }
            Some(VersionEntry::Prefix(p)) => next_key = Some(enc.enc(p)),
            None => {}
        }
    }
    let owner = ctx.state.owner_xml();
    let mut entries = Vec::new();
    let mut prefixes = Vec::new();
    for e in page.entries {
        match e {
            VersionEntry::Prefix(p) => prefixes.push(xml::CommonPrefix {
                prefix: enc.enc(&p),
            }),
            VersionEntry::Version {
                version: v,
                is_latest,
            } if v.delete_marker => entries.push(xml::VersionListEntry::DeleteMarker(
                xml::DeleteMarkerEntry {
                    key: enc.enc(&v.key),
                    version_id: v.version_id.clone(),
                    is_latest,
                    last_modified: iso8601(v.last_modified),
                    owner: owner.clone(),
                },
            )),
            VersionEntry::Version {
                version: v,
                is_latest,
            } => entries.push(xml::VersionListEntry::Version(xml::VersionEntryXml {
                key: enc.enc(&v.key),
                version_id: v.version_id.clone(),
                is_latest,
                last_modified: iso8601(v.last_modified),
                etag: quoted(&v.etag),
                size: v.size,
                owner: owner.clone(),
                storage_class: v.storage_class.clone(),
            })),
        }
    }
    xml_response(
        "ListVersionsResult",
        &xml::ListVersionsResult {
            xmlns: NS,
            name: ctx.bucket.clone(),
            prefix: enc.enc(&prefix),
            key_marker: key_marker.map(|k| enc.enc(&k)).unwrap_or_default(),
            version_id_marker: version_id_marker.unwrap_or_default(),
            next_key_marker: next_key,
            next_version_id_marker: next_version,
            max_keys: max,
            delimiter: delimiter.map(|d| enc.enc(&d)),
            is_truncated: page.truncated,
            encoding_type: enc.name(),
            entries,
            common_prefixes: prefixes,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_unique_and_ordered() {
        let a = stamp();
        let b = stamp();
        assert!(b.order > a.order);
        assert!(b.version_id < a.version_id, "newer ids sort first");
        assert_eq!(version_id_order(&a.version_id), Some(a.order));
    }

    #[test]
    fn version_ids_from_clients() {
        assert_eq!(parse_version_id(None).unwrap(), None);
        assert_eq!(
            parse_version_id(Some("null")).unwrap().as_deref(),
            Some("null")
        );
        let id = stamp().version_id;
        assert_eq!(parse_version_id(Some(&id)).unwrap(), Some(id));
        for bad in ["", "v1", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"] {
            assert_eq!(
                parse_version_id(Some(bad)).unwrap_err().code,
                S3ErrorCode::InvalidArgument
            );
        }
    }
}
