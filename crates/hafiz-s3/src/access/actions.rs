//! Every S3 operation's IAM action and resource, as AWS documents them ("Actions,
//! resources, and condition keys for Amazon S3"), and the condition keys a request
//! brings to policy evaluation.

use crate::router::Op;

/// The IAM action an operation is authorized as. `versioned` is whether the request
/// names a version (`versionId`), which S3 checks as the `…Version` action.
pub fn action(op: Op, versioned: bool) -> &'static str {
    use Op::*;
    match op {
        ListBuckets => "s3:ListAllMyBuckets",
        CreateBucket => "s3:CreateBucket",
        HeadBucket | ListObjects | ListObjectsV2 => "s3:ListBucket",
        DeleteBucket => "s3:DeleteBucket",
        GetBucketLocation => "s3:GetBucketLocation",
        GetBucketAcl => "s3:GetBucketAcl",
        PutBucketAcl => "s3:PutBucketAcl",
        PutObjectAcl if versioned => "s3:PutObjectVersionAcl",
        PutObjectAcl => "s3:PutObjectAcl",
        GetBucketVersioning => "s3:GetBucketVersioning",
        PutBucketVersioning => "s3:PutBucketVersioning",
        GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
        GetBucketPolicy => "s3:GetBucketPolicy",
        PutBucketPolicy => "s3:PutBucketPolicy",
        DeleteBucketPolicy => "s3:DeleteBucketPolicy",
        GetPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
        PutPublicAccessBlock | DeletePublicAccessBlock => "s3:PutBucketPublicAccessBlock",
        GetBucketEncryption => "s3:GetEncryptionConfiguration",
        PutBucketEncryption | DeleteBucketEncryption => "s3:PutEncryptionConfiguration",
        GetBucketOwnershipControls => "s3:GetBucketOwnershipControls",
        PutBucketOwnershipControls | DeleteBucketOwnershipControls => {
            "s3:PutBucketOwnershipControls"
        }
        GetBucketTagging => "s3:GetBucketTagging",
        PutBucketTagging | DeleteBucketTagging => "s3:PutBucketTagging",
        ListObjectVersions => "s3:ListBucketVersions",
        ListMultipartUploads => "s3:ListBucketMultipartUploads",
        GetObjectLockConfiguration => "s3:GetBucketObjectLockConfiguration",
        PutObjectLockConfiguration => "s3:PutBucketObjectLockConfiguration",
        GetBucketCors => "s3:GetBucketCORS",
        GetBucketLifecycleConfiguration => "s3:GetLifecycleConfiguration",
        GetBucketNotificationConfiguration => "s3:GetBucketNotification",
        PutBucketNotificationConfiguration => "s3:PutBucketNotification",
        GetBucketReplication => "s3:GetReplicationConfiguration",
        PutBucketReplication | DeleteBucketReplication => "s3:PutReplicationConfiguration",
        PutBucketLifecycleConfiguration | DeleteBucketLifecycle => "s3:PutLifecycleConfiguration",
        PutBucketCors | DeleteBucketCors => "s3:PutBucketCORS",
        GetBucketWebsite => "s3:GetBucketWebsite",
        PutBucketWebsite => "s3:PutBucketWebsite",
        DeleteBucketWebsite => "s3:DeleteBucketWebsite",
        // Checked per key by the handler as s3:DeleteObject(Version).
        DeleteObjects => "s3:DeleteObject",
        PutObject
        | PostObject
        | CopyObject
        | CreateMultipartUpload
        | UploadPart
        | UploadPartCopy
        | CompleteMultipartUpload => "s3:PutObject",
        GetObject | HeadObject if versioned => "s3:GetObjectVersion",
        GetObject | HeadObject => "s3:GetObject",
        DeleteObject if versioned => "s3:DeleteObjectVersion",
        DeleteObject => "s3:DeleteObject",
        GetObjectAcl if versioned => "s3:GetObjectVersionAcl",
        GetObjectAcl => "s3:GetObjectAcl",
        GetObjectAttributes if versioned => "s3:GetObjectVersionAttributes",
        GetObjectAttributes => "s3:GetObjectAttributes",
        GetObjectTagging if versioned => "s3:GetObjectVersionTagging",
        GetObjectTagging => "s3:GetObjectTagging",
        PutObjectTagging if versioned => "s3:PutObjectVersionTagging",
        PutObjectTagging => "s3:PutObjectTagging",
        RestoreObject => "s3:RestoreObject",
        DeleteObjectTagging if versioned => "s3:DeleteObjectVersionTagging",
        DeleteObjectTagging => "s3:DeleteObjectTagging",
        AbortMultipartUpload => "s3:AbortMultipartUpload",
        ListParts => "s3:ListMultipartUploadParts",
        GetObjectRetention => "s3:GetObjectRetention",
        PutObjectRetention => "s3:PutObjectRetention",
        GetObjectLegalHold => "s3:GetObjectLegalHold",
        PutObjectLegalHold => "s3:PutObjectLegalHold",
        // Never authorized through this table: preflight is unauthenticated, and IAM
        // calls are authorized as iam:<Action>.
        PreflightCors => "s3:PreflightCors",
        IamApi => "iam:*",
    }
}

/// The resource ARN of a request: the bucket, an object, or every bucket.
pub fn resource(bucket: &str, key: &str) -> String {
    match (bucket.is_empty(), key.is_empty()) {
        (true, _) => "arn:aws:s3:::*".to_string(),
        (false, true) => format!("arn:aws:s3:::{bucket}"),
        (false, false) => format!("arn:aws:s3:::{bucket}/{key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_names() {
        assert_eq!(action(Op::HeadBucket, false), "s3:ListBucket");
        assert_eq!(action(Op::UploadPart, false), "s3:PutObject");
        assert_eq!(action(Op::GetObject, true), "s3:GetObjectVersion");
        assert_eq!(action(Op::DeleteObject, true), "s3:DeleteObjectVersion");
        assert_eq!(
            action(Op::ListObjectVersions, false),
            "s3:ListBucketVersions"
        );
        assert_eq!(action(Op::DeleteBucketCors, false), "s3:PutBucketCORS");
        assert_eq!(resource("b", ""), "arn:aws:s3:::b");
        assert_eq!(resource("b", "a/k"), "arn:aws:s3:::b/a/k");
        assert_eq!(resource("", ""), "arn:aws:s3:::*");
    }
}
