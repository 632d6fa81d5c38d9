//! ACLs on buckets and objects: canned (`x-amz-acl`), by grant headers
//! (`x-amz-grant-*`) or by an AccessControlPolicy body, shown with their owner's and
//! grantees' canonical ids; and Object Ownership, whose BucketOwnerEnforced setting
//! turns ACLs off. Authorization reads them through [`grants_of`].

use axum::response::Response;
use hafiz_meta::{
    AclGrant, AclGrantee, AclPermission, BucketChange, BucketInfo, CannedAcl, ObjectChange,
    ObjectOwnership, ObjectVersion,
};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::S3State;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::header_str;
use crate::owners::{self, AccountOwner};
use crate::server::{Ctx, empty_response, xml_response};
use crate::xml::{self, NS};

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub(crate) const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub(crate) const AUTHENTICATED_USERS: &str =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

const GRANT_HEADERS: [(&str, AclPermission); 5] = [
    ("x-amz-grant-read", AclPermission::Read),
    ("x-amz-grant-write", AclPermission::Write),
    ("x-amz-grant-read-acp", AclPermission::ReadAcp),
    ("x-amz-grant-write-acp", AclPermission::WriteAcp),
    ("x-amz-grant-full-control", AclPermission::FullControl),
];

fn permission_name(p: AclPermission) -> &'static str {
    match p {
        AclPermission::Read => "READ",
        AclPermission::Write => "WRITE",
        AclPermission::ReadAcp => "READ_ACP",
        AclPermission::WriteAcp => "WRITE_ACP",
        AclPermission::FullControl => "FULL_CONTROL",
    }
}

fn parse_permission(s: &str) -> Option<AclPermission> {
    GRANT_HEADERS
        .iter()
        .map(|(_, p)| *p)
        .find(|p| permission_name(*p) == s.trim())
}

fn acls_not_supported() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessControlListNotSupported,
        "The bucket does not allow ACLs",
    )
}

/// The canned ACL a request sets and the grants it stands for beyond the public ones
/// (`bucket-owner-read`, `bucket-owner-full-control`), None when it sets none.
/// Public ones are refused on a bucket whose Block Public Access blocks public ACLs;
/// with BucketOwnerEnforced only `bucket-owner-full-control` is accepted, as on AWS.
fn canned(h: &HeaderMap, bucket: &BucketInfo) -> S3Result<Option<(CannedAcl, Vec<AclGrant>)>> {
    let Some(acl) = header_str(h, "x-amz-acl") else {
        return Ok(None);
    };
    let owner = |permission| AclGrant {
        grantee: AclGrantee::Account(bucket.account.clone()),
        permission,
    };
    let (acl, grants) = match acl.trim() {
        "private" | "aws-exec-read" => (CannedAcl::Private, vec![]),
        "log-delivery-write" => (
            CannedAcl::Private,
            vec![
                AclGrant {
                    grantee: AclGrantee::LogDelivery,
                    permission: AclPermission::Write,
                },
                AclGrant {
                    grantee: AclGrantee::LogDelivery,
                    permission: AclPermission::ReadAcp,
                },
            ],
        ),
        "bucket-owner-read" => (CannedAcl::Private, vec![owner(AclPermission::Read)]),
        "bucket-owner-full-control" => {
            (CannedAcl::Private, vec![owner(AclPermission::FullControl)])
        }
        "public-read" => (CannedAcl::PublicRead, vec![]),
        "public-read-write" => (CannedAcl::PublicReadWrite, vec![]),
        "authenticated-read" => (CannedAcl::AuthenticatedRead, vec![]),
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Invalid canned ACL {acl}"),
            )
            .extra("ArgumentName", "x-amz-acl"));
        }
    };
    if bucket.ownership == Some(ObjectOwnership::BucketOwnerEnforced)
        && !matches!(
            header_str(h, "x-amz-acl").map(str::trim),
            Some("bucket-owner-full-control" | "private")
        )
    {
        return Err(acls_not_supported());
    }
    check_public(bucket, &expand(acl))?;
    Ok(Some((acl, grants)))
}

/// One grantee of an `x-amz-grant-*` header: `id="..."`, `uri="..."` or
/// `emailAddress="..."`.
async fn header_grantee(state: &S3State, part: &str) -> S3Result<AclGrantee> {
    let (kind, value) = part.split_once('=').ok_or_else(|| {
        S3Error::with_message(S3ErrorCode::InvalidArgument, "Invalid grant header")
    })?;
    let value = value.trim().trim_matches('"');
    match kind.trim().to_ascii_lowercase().as_str() {
        "id" => account_of_id(state, value).await,
        "uri" => group(value),
        "emailaddress" => Err(S3Error::with_message(
            S3ErrorCode::UnresolvableGrantByEmailAddress,
            "The e-mail address you provided does not match any account on record.",
        )),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid grant header",
        )),
    }
}

async fn account_of_id(state: &S3State, id: &str) -> S3Result<AclGrantee> {
    match owners::by_canonical_id(state, id).await? {
        Some(a) => Ok(AclGrantee::Account(a.account)),
        None => Err(
            S3Error::with_message(S3ErrorCode::InvalidArgument, "Invalid id")
                .extra("ArgumentName", "CanonicalUser/ID")
                .extra("ArgumentValue", id.to_string()),
        ),
    }
}

fn group(uri: &str) -> S3Result<AclGrantee> {
    match uri {
        ALL_USERS => Ok(AclGrantee::AllUsers),
        AUTHENTICATED_USERS => Ok(AclGrantee::AuthenticatedUsers),
        LOG_DELIVERY => Ok(AclGrantee::LogDelivery),
        _ => Err(
            S3Error::with_message(S3ErrorCode::InvalidArgument, "Invalid group uri")
                .extra("ArgumentName", "Group/URI")
                .extra("ArgumentValue", uri.to_string()),
        ),
    }
}

/// Grants from `x-amz-grant-*` headers (None when there are none).
async fn header_grants(state: &S3State, h: &HeaderMap) -> S3Result<Option<Vec<AclGrant>>> {
    let mut out = Vec::new();
    let mut any = false;
    for (name, permission) in GRANT_HEADERS {
        let Some(v) = header_str(h, name) else {
            continue;
        };
        any = true;
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            out.push(AclGrant {
                grantee: header_grantee(state, part).await?,
                permission,
            });
        }
    }
    Ok(any.then_some(out))
}

fn is_public(grants: &[AclGrant]) -> bool {
    grants.iter().any(|g| {
        matches!(
            g.grantee,
            AclGrantee::AllUsers | AclGrantee::AuthenticatedUsers
        )
    })
}

/// The ACL a write (PutObject, CopyObject, CreateMultipartUpload, CreateBucket)
/// asks for: a canned ACL or grant headers, never both.
pub(crate) async fn for_write(
    state: &S3State,
    h: &HeaderMap,
    bucket: &BucketInfo,
) -> S3Result<(CannedAcl, Option<Vec<AclGrant>>)> {
    let grants = header_grants(state, h).await?;
    let canned = canned(h, bucket)?;
    match (canned, grants) {
        (Some(_), Some(_)) => Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        )),
        (Some((acl, g)), None) => Ok((acl, (!g.is_empty()).then_some(g))),
        (None, Some(g)) => {
            if bucket.ownership == Some(ObjectOwnership::BucketOwnerEnforced) {
                return Err(acls_not_supported());
            }
            check_public(bucket, &g)?;
            Ok((CannedAcl::Private, Some(g)))
        }
        (None, None) => Ok((CannedAcl::Private, None)),
    }
}

fn check_public(bucket: &BucketInfo, g: &[AclGrant]) -> S3Result<()> {
    if is_public(g)
        && bucket
            .public_access_block
            .is_some_and(|p| p.block_public_acls)
    {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied because the bucket's Block Public Access settings block public ACLs",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyIn {
    owner: Option<OwnerIn>,
    access_control_list: Option<ListIn>,
}

#[derive(Deserialize)]
struct OwnerIn {
    #[serde(rename = "ID")]
    id: Option<String>,
}

#[derive(Deserialize)]
struct ListIn {
    #[serde(rename = "Grant", default)]
    grant: Vec<GrantIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GrantIn {
    grantee: Option<GranteeIn>,
    permission: Option<String>,
}

#[derive(Deserialize)]
struct GranteeIn {
    #[serde(rename = "@type", alias = "@xsi:type")]
    kind: Option<String>,
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "URI")]
    uri: Option<String>,
    #[serde(rename = "EmailAddress")]
    email: Option<String>,
}

/// An AccessControlPolicy body: its grants, and its Owner, which must be the owner.
async fn body_grants(
    state: &S3State,
    body: &[u8],
    owner: &AccountOwner,
) -> S3Result<Vec<AclGrant>> {
    let doc: PolicyIn = xml::from_xml(body)?;
    if let Some(id) = doc.owner.and_then(|o| o.id)
        && id != owner.canonical_id
    {
        return Err(S3Error::new(S3ErrorCode::AccessDenied));
    }
    let mut out = Vec::new();
    for g in doc.access_control_list.map(|l| l.grant).unwrap_or_default() {
        let (Some(grantee), Some(permission)) = (g.grantee, g.permission) else {
            return Err(S3Error::new(S3ErrorCode::MalformedACLError));
        };
        let permission = parse_permission(&permission)
            .ok_or_else(|| S3Error::new(S3ErrorCode::MalformedACLError))?;
        let grantee = match (
            grantee.kind.as_deref(),
            grantee.id,
            grantee.uri,
            grantee.email,
        ) {
            (_, Some(id), None, None) => account_of_id(state, &id).await?,
            (_, None, Some(uri), None) => group(&uri)?,
            (_, None, None, Some(_)) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::UnresolvableGrantByEmailAddress,
                    "The e-mail address you provided does not match any account on record.",
                ));
            }
            _ => return Err(S3Error::new(S3ErrorCode::MalformedACLError)),
        };
        out.push(AclGrant {
            grantee,
            permission,
        });
    }
    Ok(out)
}

/// The ACL a PutBucketAcl/PutObjectAcl sets: canned header, grant headers or body.
async fn acl_change(
    ctx: &mut Ctx,
    bucket: &BucketInfo,
    owner: &AccountOwner,
) -> S3Result<(CannedAcl, Option<Vec<AclGrant>>)> {
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let from_headers = for_write(&ctx.state, &ctx.headers, bucket).await?;
    let has_headers = ctx.headers.contains_key("x-amz-acl")
        || GRANT_HEADERS
            .iter()
            .any(|(h, _)| ctx.headers.contains_key(*h));
    if body.is_empty() {
        if !has_headers {
            return Err(S3Error::with_message(
                S3ErrorCode::MissingSecurityHeader,
                "Your request was missing a required header",
            )
            .extra("MissingHeaderName", "x-amz-acl"));
        }
        return Ok(from_headers);
    }
    if has_headers {
        return Err(S3Error::with_message(
            S3ErrorCode::UnexpectedContent,
            "This request does not support content",
        ));
    }
    if bucket.ownership == Some(ObjectOwnership::BucketOwnerEnforced) {
        let g = body_grants(&ctx.state, &body, owner).await?;
        // The one ACL an enforced bucket accepts: the owner's full control.
        let only_owner = g.iter().all(|g| {
            g.grantee == AclGrantee::Account(owner.account.clone())
                && g.permission == AclPermission::FullControl
        });
        return if only_owner {
            Ok((CannedAcl::Private, None))
        } else {
            Err(acls_not_supported())
        };
    }
    let g = body_grants(&ctx.state, &body, owner).await?;
    check_public(bucket, &g)?;
    Ok((CannedAcl::Private, Some(g)))
}

/// What a canned ACL grants, as grants.
fn expand(canned: CannedAcl) -> Vec<AclGrant> {
    let g = |grantee, permission| AclGrant {
        grantee,
        permission,
    };
    match canned {
        CannedAcl::Private => vec![],
        CannedAcl::PublicRead => vec![g(AclGrantee::AllUsers, AclPermission::Read)],
        CannedAcl::PublicReadWrite => vec![
            g(AclGrantee::AllUsers, AclPermission::Read),
            g(AclGrantee::AllUsers, AclPermission::Write),
        ],
        CannedAcl::AuthenticatedRead => {
            vec![g(AclGrantee::AuthenticatedUsers, AclPermission::Read)]
        }
    }
}

/// Every grant of an ACL beyond the owner's implicit full control.
pub(crate) fn grants_of(canned: CannedAcl, grants: Option<&Vec<AclGrant>>) -> Vec<AclGrant> {
    match grants {
        Some(g) => {
            let mut all = expand(canned);
            all.extend(g.iter().cloned());
            all
        }
        None => expand(canned),
    }
}

/// Whether a grant list gives `caller` (None: anonymous; Some(account)) `needed`.
pub(crate) fn grants_allow(
    grants: &[AclGrant],
    caller: Option<&str>,
    needed: AclPermission,
) -> bool {
    grants.iter().any(|g| {
        let who = match &g.grantee {
            AclGrantee::AllUsers => true,
            AclGrantee::AuthenticatedUsers => caller.is_some(),
            AclGrantee::Account(a) => caller == Some(a.as_str()),
            AclGrantee::LogDelivery => false,
        };
        who && (g.permission == needed || g.permission == AclPermission::FullControl)
    })
}

async fn document(
    state: &S3State,
    owner: &AccountOwner,
    canned: CannedAcl,
    grants: Option<&Vec<AclGrant>>,
) -> S3Result<xml::AccessControlPolicy> {
    let mut out = vec![xml::Grant {
        grantee: xml::Grantee {
            xmlns_xsi: XSI,
            xsi_type: "CanonicalUser",
            id: Some(owner.canonical_id.clone()),
            display_name: Some(owner.display_name.clone()),
            uri: None,
        },
        permission: "FULL_CONTROL".into(),
    }];
    let explicit = grants.is_some();
    for g in grants_of(canned, grants) {
        // An explicit list names the owner's own grant itself (AWS shows the list
        // as given); the implicit one above stands for it otherwise.
        if explicit
            && g.grantee == AclGrantee::Account(owner.account.clone())
            && g.permission == AclPermission::FullControl
            && out.len() == 1
        {
            continue;
        }
        let grantee = match &g.grantee {
            AclGrantee::Account(a) => {
                let o = owners::of_account(state, a).await?;
                xml::Grantee {
                    xmlns_xsi: XSI,
                    xsi_type: "CanonicalUser",
                    id: Some(o.canonical_id),
                    display_name: Some(o.display_name),
                    uri: None,
                }
            }
            group => xml::Grantee {
                xmlns_xsi: XSI,
                xsi_type: "Group",
                id: None,
                display_name: None,
                uri: Some(
                    match group {
                        AclGrantee::AllUsers => ALL_USERS,
                        AclGrantee::AuthenticatedUsers => AUTHENTICATED_USERS,
                        _ => LOG_DELIVERY,
                    }
                    .into(),
                ),
            },
        };
        out.push(xml::Grant {
            grantee,
            permission: permission_name(g.permission).into(),
        });
    }
    Ok(xml::AccessControlPolicy {
        xmlns: NS,
        owner: owner.xml(),
        access_control_list: xml::AccessControlList { grant: out },
    })
}

/// The account that owns an object version (its writer where that is kept, else the
/// bucket's account).
fn object_owner_account<'a>(b: &'a BucketInfo, v: &'a ObjectVersion) -> &'a str {
    if b.ownership == Some(ObjectOwnership::BucketOwnerEnforced) {
        return &b.account;
    }
    v.owner.as_deref().unwrap_or(&b.account)
}

pub async fn get_bucket_acl(ctx: Ctx) -> S3Result<Response> {
    let b = crate::ops::require_bucket(&ctx).await?;
    let owner = owners::of_account(&ctx.state, &b.account).await?;
    let enforced = b.ownership == Some(ObjectOwnership::BucketOwnerEnforced);
    let (canned, grants) = if enforced {
        (CannedAcl::Private, None)
    } else {
        (b.acl, b.grants.as_ref())
    };
    xml_response(
        "AccessControlPolicy",
        &document(&ctx.state, &owner, canned, grants).await?,
    )
}

pub async fn put_bucket_acl(mut ctx: Ctx) -> S3Result<Response> {
    let b = crate::ops::require_bucket(&ctx).await?;
    let owner = owners::of_account(&ctx.state, &b.account).await?;
    let (canned, grants) = acl_change(&mut ctx, &b, &owner).await?;
    let change = match grants {
        Some(g) => BucketChange::Grants(g),
        None => BucketChange::Acl(canned),
    };
    crate::ops::update_bucket(&ctx, change).await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn get_object_acl(ctx: Ctx) -> S3Result<Response> {
    let b = crate::ops::require_bucket(&ctx).await?;
    let v = crate::ops::get::current_version(&ctx).await?;
    let owner = owners::of_account(&ctx.state, object_owner_account(&b, &v)).await?;
    let enforced = b.ownership == Some(ObjectOwnership::BucketOwnerEnforced);
    let (canned, grants) = if enforced {
        (CannedAcl::Private, None)
    } else {
        (v.acl, v.grants.as_ref())
    };
    let mut r = xml_response(
        "AccessControlPolicy",
        &document(&ctx.state, &owner, canned, grants).await?,
    )?;
    crate::ops::versions::version_header(r.headers_mut(), &v.version_id);
    Ok(r)
}

pub async fn put_object_acl(mut ctx: Ctx) -> S3Result<Response> {
    let b = crate::ops::require_bucket(&ctx).await?;
    let v = crate::ops::get::current_version(&ctx).await?;
    let owner = owners::of_account(&ctx.state, object_owner_account(&b, &v)).await?;
    let (canned, grants) = acl_change(&mut ctx, &b, &owner).await?;
    let change = match grants {
        Some(g) => ObjectChange::Grants(g),
        None => ObjectChange::Acl(canned),
    };
    crate::ops::tagging::update_object(&ctx, change, false, StatusCode::OK).await
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipControls {
    #[serde(rename = "@xmlns", default, skip_deserializing)]
    xmlns: &'static str,
    #[serde(default)]
    rule: Vec<OwnershipRule>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipRule {
    object_ownership: String,
}

fn ownership_name(o: ObjectOwnership) -> &'static str {
    match o {
        ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
        ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
        ObjectOwnership::ObjectWriter => "ObjectWriter",
    }
}

pub async fn get_ownership_controls(ctx: Ctx) -> S3Result<Response> {
    let b = crate::ops::require_bucket(&ctx).await?;
    let o = b.ownership.ok_or_else(|| {
        S3Error::new(S3ErrorCode::OwnershipControlsNotFoundError)
            .extra("BucketName", ctx.bucket.clone())
    })?;
    xml_response(
        "OwnershipControls",
        &OwnershipControls {
            xmlns: NS,
            rule: vec![OwnershipRule {
                object_ownership: ownership_name(o).into(),
            }],
        },
    )
}

pub async fn put_ownership_controls(mut ctx: Ctx) -> S3Result<Response> {
    let b = crate::ops::require_bucket(&ctx).await?;
    let body = ctx.body.collect_limited(64 * 1024).await?;
    let doc: OwnershipControls = xml::from_xml(&body)?;
    let [rule] = <[OwnershipRule; 1]>::try_from(doc.rule)
        .map_err(|_| S3Error::new(S3ErrorCode::MalformedXML))?;
    let o = match rule.object_ownership.trim() {
        "BucketOwnerEnforced" => ObjectOwnership::BucketOwnerEnforced,
        "BucketOwnerPreferred" => ObjectOwnership::BucketOwnerPreferred,
        "ObjectWriter" => ObjectOwnership::ObjectWriter,
        _ => return Err(S3Error::new(S3ErrorCode::MalformedXML)),
    };
    // As on AWS: ACLs can be disabled only once the bucket's own ACL grants nothing
    // beyond its owner.
    if o == ObjectOwnership::BucketOwnerEnforced
        && !grants_of(b.acl, b.grants.as_ref())
            .iter()
            .all(|g| g.grantee == AclGrantee::Account(b.account.clone()))
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidBucketAclWithObjectOwnership,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        ));
    }
    crate::ops::update_bucket(&ctx, BucketChange::Ownership(Some(o))).await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn delete_ownership_controls(ctx: Ctx) -> S3Result<Response> {
    crate::ops::require_bucket(&ctx).await?;
    crate::ops::update_bucket(&ctx, BucketChange::Ownership(None)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_allow_by_grantee_and_permission() {
        let g = vec![
            AclGrant {
                grantee: AclGrantee::Account("t1".into()),
                permission: AclPermission::Write,
            },
            AclGrant {
                grantee: AclGrantee::AuthenticatedUsers,
                permission: AclPermission::Read,
            },
        ];
        assert!(grants_allow(&g, Some("t1"), AclPermission::Write));
        assert!(!grants_allow(&g, Some("t2"), AclPermission::Write));
        assert!(grants_allow(&g, Some("t2"), AclPermission::Read));
        assert!(!grants_allow(&g, None, AclPermission::Read));
        let full = grants_of(CannedAcl::PublicRead, None);
        assert!(grants_allow(&full, None, AclPermission::Read));
        assert!(!grants_allow(&full, None, AclPermission::Write));
    }
}
