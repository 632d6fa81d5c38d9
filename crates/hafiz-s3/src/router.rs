//! From an HTTP request to an S3 operation: bucket and key from path-style or
//! virtual-host-style addressing, the operation from method + sub-resource query.

use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;

use crate::error::{S3Error, S3ErrorCode, S3Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    GetBucketAcl,
    GetBucketVersioning,
    GetBucketPolicyStatus,
    GetBucketPolicy,
    GetBucketEncryption,
    PutBucketEncryption,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    DeleteBucketEncryption,
    GetBucketTagging,
    ListObjects,
    ListObjectsV2,
    ListMultipartUploads,
    DeleteObjects,
    PutObject,
    /// A browser-based upload: a `multipart/form-data` POST to a bucket.
    PostObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    GetObjectAcl,
    GetObjectAttributes,
    GetObjectTagging,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    PutBucketVersioning,
    ListObjectVersions,
    PutBucketTagging,
    DeleteBucketTagging,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    PutObjectTagging,
    DeleteObjectTagging,
    RestoreObject,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    GetBucketCors,
    GetBucketLifecycleConfiguration,
    PutBucketLifecycleConfiguration,
    GetBucketNotificationConfiguration,
    PutBucketNotificationConfiguration,
    GetBucketReplication,
    PutBucketReplication,
    DeleteBucketReplication,
    DeleteBucketLifecycle,
    PutBucketCors,
    DeleteBucketCors,
    GetBucketWebsite,
    PutBucketWebsite,
    DeleteBucketWebsite,
    PreflightCors,
    PutBucketAcl,
    PutObjectAcl,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    /// The IAM query API (a POST to `/` signed for `iam`).
    IamApi,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::ListBuckets => "ListBuckets",
            Op::CreateBucket => "CreateBucket",
            Op::HeadBucket => "HeadBucket",
            Op::DeleteBucket => "DeleteBucket",
            Op::GetBucketLocation => "GetBucketLocation",
            Op::GetBucketAcl => "GetBucketAcl",
            Op::GetBucketVersioning => "GetBucketVersioning",
            Op::GetBucketPolicyStatus => "GetBucketPolicyStatus",
            Op::GetBucketPolicy => "GetBucketPolicy",
            Op::GetBucketEncryption => "GetBucketEncryption",
            Op::PutBucketEncryption => "PutBucketEncryption",
            Op::GetBucketOwnershipControls => "GetBucketOwnershipControls",
            Op::PutBucketOwnershipControls => "PutBucketOwnershipControls",
            Op::DeleteBucketOwnershipControls => "DeleteBucketOwnershipControls",
            Op::DeleteBucketEncryption => "DeleteBucketEncryption",
            Op::GetBucketTagging => "GetBucketTagging",
            Op::ListObjects => "ListObjects",
            Op::ListObjectsV2 => "ListObjectsV2",
            Op::ListMultipartUploads => "ListMultipartUploads",
            Op::DeleteObjects => "DeleteObjects",
            Op::PutObject => "PutObject",
            Op::PostObject => "PostObject",
            Op::CopyObject => "CopyObject",
            Op::GetObject => "GetObject",
            Op::HeadObject => "HeadObject",
            Op::DeleteObject => "DeleteObject",
            Op::GetObjectAcl => "GetObjectAcl",
            Op::GetObjectAttributes => "GetObjectAttributes",
            Op::GetObjectTagging => "GetObjectTagging",
            Op::CreateMultipartUpload => "CreateMultipartUpload",
            Op::UploadPart => "UploadPart",
            Op::UploadPartCopy => "UploadPartCopy",
            Op::CompleteMultipartUpload => "CompleteMultipartUpload",
            Op::AbortMultipartUpload => "AbortMultipartUpload",
            Op::ListParts => "ListParts",
            Op::PutBucketVersioning => "PutBucketVersioning",
            Op::ListObjectVersions => "ListObjectVersions",
            Op::PutBucketTagging => "PutBucketTagging",
            Op::DeleteBucketTagging => "DeleteBucketTagging",
            Op::GetObjectLockConfiguration => "GetObjectLockConfiguration",
            Op::PutObjectLockConfiguration => "PutObjectLockConfiguration",
            Op::PutObjectTagging => "PutObjectTagging",
            Op::RestoreObject => "RestoreObject",
            Op::DeleteObjectTagging => "DeleteObjectTagging",
            Op::GetObjectRetention => "GetObjectRetention",
            Op::PutObjectRetention => "PutObjectRetention",
            Op::GetObjectLegalHold => "GetObjectLegalHold",
            Op::PutObjectLegalHold => "PutObjectLegalHold",
            Op::GetBucketCors => "GetBucketCors",
            Op::GetBucketLifecycleConfiguration => "GetBucketLifecycleConfiguration",
            Op::PutBucketLifecycleConfiguration => "PutBucketLifecycleConfiguration",
            Op::GetBucketNotificationConfiguration => "GetBucketNotificationConfiguration",
            Op::PutBucketNotificationConfiguration => "PutBucketNotificationConfiguration",
            Op::GetBucketReplication => "GetBucketReplication",
            Op::PutBucketReplication => "PutBucketReplication",
            Op::DeleteBucketReplication => "DeleteBucketReplication",
            Op::DeleteBucketLifecycle => "DeleteBucketLifecycle",
            Op::PutBucketCors => "PutBucketCors",
            Op::DeleteBucketCors => "DeleteBucketCors",
            Op::GetBucketWebsite => "GetBucketWebsite",
            Op::PutBucketWebsite => "PutBucketWebsite",
            Op::DeleteBucketWebsite => "DeleteBucketWebsite",
            Op::PreflightCors => "PreflightCors",
            Op::PutBucketAcl => "PutBucketAcl",
            Op::PutObjectAcl => "PutObjectAcl",
            Op::PutBucketPolicy => "PutBucketPolicy",
            Op::DeleteBucketPolicy => "DeleteBucketPolicy",
            Op::GetPublicAccessBlock => "GetPublicAccessBlock",
            Op::PutPublicAccessBlock => "PutPublicAccessBlock",
            Op::DeletePublicAccessBlock => "DeletePublicAccessBlock",
            Op::IamApi => "IAM",
        }
    }
}

/// Decoded query parameters, in request order.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let Some(raw) = raw else {
            return Query::default();
        };
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter's value, None when absent or empty (as S3 treats empty markers).
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_string)
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// Percent-decoding only: S3 does not treat `+` as a space.
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[derive(Debug, Clone)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The bucket came from the Host header (virtual-host style).
    pub bucket_from_host: bool,
}

/// Bucket and key of a request. With `domain` set, `Host: bucket.domain` selects the
/// bucket; path style always works.
pub fn target(raw_path: &str, headers: &HeaderMap, domain: Option<&str>) -> S3Result<Target> {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    if let Some(domain) = domain {
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let host = host
            .rsplit_once(':')
            .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
            .map(|(h, _)| h)
            .unwrap_or(host);
        if let Some(bucket) = host.strip_suffix(domain).and_then(|b| b.strip_suffix('.'))
            && !bucket.is_empty()
        {
            let key = (!path.is_empty()).then(|| decode_path(path)).transpose()?;
            return Ok(Target {
                bucket: Some(bucket.to_string()),
                key,
                bucket_from_host: true,
            });
        }
    }
    if path.is_empty() {
        return Ok(Target {
            bucket: None,
            key: None,
            bucket_from_host: false,
        });
    }
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b, (!k.is_empty()).then_some(k)),
        None => (path, None),
    };
    Ok(Target {
        bucket: Some(decode_path(bucket)?),
        key: key.map(decode_path).transpose()?,
        bucket_from_host: false,
    })
}

fn decode_path(s: &str) -> S3Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| S3Error::with_message(S3ErrorCode::InvalidArgument, "Path is not valid UTF-8"))
}

/// The operation for a request, or the S3 error for a method/sub-resource we do not serve.
pub fn operation(method: &Method, t: &Target, q: &Query, headers: &HeaderMap) -> S3Result<Op> {
    let not_implemented = || S3Error::new(S3ErrorCode::NotImplemented);
    let op = match (t.bucket.is_some(), t.key.is_some()) {
        (false, _) => match *method {
            Method::GET => Op::ListBuckets,
            _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        },
        (true, false) => match *method {
            Method::GET => {
                if q.has("location") {
                    Op::GetBucketLocation
                } else if q.has("acl") {
                    Op::GetBucketAcl
                } else if q.has("versioning") {
                    Op::GetBucketVersioning
                } else if q.has("policyStatus") {
                    Op::GetBucketPolicyStatus
                } else if q.has("policy") {
                    Op::GetBucketPolicy
                } else if q.has("encryption") {
                    Op::GetBucketEncryption
                } else if q.has("ownershipControls") {
                    Op::GetBucketOwnershipControls
                } else if q.has("tagging") {
                    Op::GetBucketTagging
                } else if q.has("publicAccessBlock") {
                    Op::GetPublicAccessBlock
                } else if q.has("cors") {
                    Op::GetBucketCors
                } else if q.has("lifecycle") {
                    Op::GetBucketLifecycleConfiguration
                } else if q.has("notification") {
                    Op::GetBucketNotificationConfiguration
                } else if q.has("replication") {
                    Op::GetBucketReplication
                } else if q.has("website") {
                    Op::GetBucketWebsite
                } else if q.has("versions") {
                    Op::ListObjectVersions
                } else if q.has("object-lock") {
                    Op::GetObjectLockConfiguration
                } else if q.has("uploads") {
                    Op::ListMultipartUploads
                } else if q.get("list-type") == Some("2") {
                    Op::ListObjectsV2
                } else if has_other_subresource(q) {
                    return Err(not_implemented());
                } else {
                    Op::ListObjects
                }
            }
            Method::PUT if q.has("versioning") => Op::PutBucketVersioning,
            Method::PUT if q.has("acl") => Op::PutBucketAcl,
            Method::PUT if q.has("cors") => Op::PutBucketCors,
            Method::PUT if q.has("policy") => Op::PutBucketPolicy,
            Method::DELETE if q.has("policy") => Op::DeleteBucketPolicy,
            Method::PUT if q.has("publicAccessBlock") => Op::PutPublicAccessBlock,
            Method::DELETE if q.has("publicAccessBlock") => Op::DeletePublicAccessBlock,
            Method::DELETE if q.has("cors") => Op::DeleteBucketCors,
            Method::PUT if q.has("lifecycle") => Op::PutBucketLifecycleConfiguration,
            Method::PUT if q.has("notification") => Op::PutBucketNotificationConfiguration,
            Method::PUT if q.has("replication") => Op::PutBucketReplication,
            Method::PUT if q.has("encryption") => Op::PutBucketEncryption,
            Method::PUT if q.has("ownershipControls") => Op::PutBucketOwnershipControls,
            Method::DELETE if q.has("ownershipControls") => Op::DeleteBucketOwnershipControls,
            Method::DELETE if q.has("encryption") => Op::DeleteBucketEncryption,
            Method::DELETE if q.has("replication") => Op::DeleteBucketReplication,
            Method::DELETE if q.has("lifecycle") => Op::DeleteBucketLifecycle,
            Method::PUT if q.has("website") => Op::PutBucketWebsite,
            Method::DELETE if q.has("website") => Op::DeleteBucketWebsite,
            Method::OPTIONS => Op::PreflightCors,
            Method::PUT if q.has("tagging") => Op::PutBucketTagging,
            Method::PUT if q.has("object-lock") => Op::PutObjectLockConfiguration,
            Method::DELETE if q.has("tagging") => Op::DeleteBucketTagging,
            Method::PUT if !has_other_subresource(q) => Op::CreateBucket,
            Method::HEAD => Op::HeadBucket,
            Method::DELETE if !has_other_subresource(q) => Op::DeleteBucket,
            Method::POST if q.has("delete") => Op::DeleteObjects,
            Method::POST if crate::post_object::is_form_upload(headers) => Op::PostObject,
            Method::PUT | Method::DELETE | Method::POST => return Err(not_implemented()),
            _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        },
        (true, true) => match *method {
            Method::GET if q.has("uploadId") => Op::ListParts,
            Method::GET if q.has("acl") => Op::GetObjectAcl,
            Method::GET if q.has("attributes") => Op::GetObjectAttributes,
            Method::GET if q.has("tagging") => Op::GetObjectTagging,
            Method::GET if q.has("retention") => Op::GetObjectRetention,
            Method::GET if q.has("legal-hold") => Op::GetObjectLegalHold,
            Method::PUT if q.has("tagging") => Op::PutObjectTagging,
            Method::PUT if q.has("acl") => Op::PutObjectAcl,
            Method::PUT if q.has("retention") => Op::PutObjectRetention,
            Method::PUT if q.has("legal-hold") => Op::PutObjectLegalHold,
            Method::DELETE if q.has("tagging") => Op::DeleteObjectTagging,
            Method::GET if !has_other_subresource(q) => Op::GetObject,
            Method::HEAD => Op::HeadObject,
            Method::OPTIONS => Op::PreflightCors,
            Method::PUT if q.has("partNumber") && q.has("uploadId") => {
                if headers.contains_key("x-amz-copy-source") {
                    Op::UploadPartCopy
                } else {
                    Op::UploadPart
                }
            }
            Method::PUT if q.has("partNumber") || q.has("uploadId") => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "UploadPart needs both partNumber and uploadId",
                ));
            }
            Method::PUT if !has_other_subresource(q) => {
                if headers.contains_key("x-amz-copy-source") {
                    Op::CopyObject
                } else {
                    Op::PutObject
                }
            }
            Method::POST if q.has("restore") => Op::RestoreObject,
            Method::POST if q.has("uploads") => Op::CreateMultipartUpload,
            Method::POST if q.has("uploadId") => Op::CompleteMultipartUpload,
            Method::DELETE if q.has("uploadId") => Op::AbortMultipartUpload,
            Method::DELETE if !has_other_subresource(q) => Op::DeleteObject,
            Method::GET | Method::PUT | Method::POST | Method::DELETE => {
                return Err(not_implemented());
            }
            _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        },
    };
    Ok(op)
}

/// Sub-resources S3 defines that we do not serve yet; a request naming one must not be
/// mistaken for a plain object or bucket operation.
fn has_other_subresource(q: &Query) -> bool {
    const SUBRESOURCES: &[&str] = &[
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "restore",
        "retention",
        "select",
        "tagging",
        "torrent",
        "versioning",
        "versions",
        "website",
    ];
    q.0.iter().any(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str) -> Target {
        target(path, &HeaderMap::new(), None).unwrap()
    }

    #[test]
    fn path_style_keys_are_decoded_and_never_normalized() {
        let x = t("/bucket/a%20b/..//c%2Bd+e/");
        assert_eq!(x.bucket.as_deref(), Some("bucket"));
        assert_eq!(x.key.as_deref(), Some("a b/..//c+d+e/"));
        assert!(t("/bucket").key.is_none());
        assert!(t("/bucket/").key.is_none());
        assert!(t("/").bucket.is_none());
    }

    #[test]
    fn virtual_host_style() {
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, "photos.s3.local:9000".parse().unwrap());
        let x = target("/k%C3%A9y", &h, Some("s3.local")).unwrap();
        assert_eq!(x.bucket.as_deref(), Some("photos"));
        assert_eq!(x.key.as_deref(), Some("kéy"));
        h.insert(http::header::HOST, "s3.local:9000".parse().unwrap());
        let x = target("/b/k", &h, Some("s3.local")).unwrap();
        assert_eq!(
            (x.bucket.as_deref(), x.key.as_deref()),
            (Some("b"), Some("k"))
        );
    }

    #[test]
    fn operations_from_method_and_subresource() {
        let q = |s: &str| Query::parse(Some(s));
        let h = HeaderMap::new();
        let bk = t("/b");
        let obj = t("/b/k");
        assert_eq!(
            operation(&Method::GET, &bk, &q("list-type=2&prefix=a"), &h).unwrap(),
            Op::ListObjectsV2
        );
        assert_eq!(
            operation(&Method::GET, &bk, &q("prefix=a"), &h).unwrap(),
            Op::ListObjects
        );
        assert_eq!(
            operation(&Method::POST, &bk, &q("delete"), &h).unwrap(),
            Op::DeleteObjects
        );
        assert_eq!(
            operation(&Method::POST, &obj, &q("uploads"), &h).unwrap(),
            Op::CreateMultipartUpload
        );
        assert_eq!(
            operation(&Method::PUT, &obj, &q("partNumber=1&uploadId=x"), &h).unwrap(),
            Op::UploadPart
        );
        assert_eq!(
            operation(&Method::PUT, &bk, &q("replication"), &h).unwrap(),
            Op::PutBucketReplication
        );
        assert_eq!(
            operation(&Method::GET, &bk, &q("lifecycle"), &h).unwrap(),
            Op::GetBucketLifecycleConfiguration
        );
        assert_eq!(
            operation(&Method::DELETE, &bk, &q("lifecycle"), &h).unwrap(),
            Op::DeleteBucketLifecycle
        );
        assert_eq!(q("prefix=a%2Bb+c").get("prefix"), Some("a+b+c"));
        let mut form = HeaderMap::new();
        form.insert(
            http::header::CONTENT_TYPE,
            "multipart/form-data; boundary=x".parse().unwrap(),
        );
        assert_eq!(
            operation(&Method::POST, &bk, &q(""), &form).unwrap(),
            Op::PostObject
        );
        assert_eq!(
            operation(&Method::POST, &bk, &q(""), &h).unwrap_err().code,
            S3ErrorCode::NotImplemented
        );
    }
}
