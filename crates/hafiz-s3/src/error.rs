//! S3-visible errors: every failure a client can see maps, here and only here, to
//! the AWS error code string, its HTTP status and a default message.

use http::StatusCode;

/// The AWS S3 error codes Hafiz returns. The string form is exactly the `Code` AWS sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3ErrorCode {
    AccessDenied,
    AuthorizationQueryParametersError,
    AuthorizationHeaderMalformed,
    BadDigest,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooLarge,
    EntityTooSmall,
    ExpiredToken,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidLocationConstraint,
    InvalidPart,
    /// POST Object: the `policy` field is not base64 JSON of a valid POST policy.
    InvalidPolicyDocument,
    InvalidPartNumber,
    InvalidPartOrder,
    InvalidRange,
    InvalidRequest,
    InvalidStorageClass,
    InvalidTag,
    KeyTooLongError,
    MalformedXML,
    /// POST Object: the body is not well-formed `multipart/form-data`.
    MalformedPOSTRequest,
    /// POST Object: the fields before the file exceed 20 KiB.
    MaxPostPreDataLengthExceededError,
    MetadataTooLarge,
    MethodNotAllowed,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchBucketPolicy,
    NoSuchKey,
    NoSuchTagSet,
    NoSuchUpload,
    NotImplemented,
    NotModified,
    PreconditionFailed,
    RequestTimeTooSkewed,
    ServerSideEncryptionConfigurationNotFoundError,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    /// Hafiz's bucket and account quotas (AWS has none; MinIO answers 400 too).
    QuotaExceeded,
    XAmzContentSHA256Mismatch,
    ConditionalRequestConflict,
    NoSuchVersion,
    InvalidBucketState,
    IllegalVersioningConfigurationException,
    ObjectLockConfigurationNotFoundError,
    NoSuchObjectLockConfiguration,
    BadRequest,
    NoSuchCORSConfiguration,
    NoSuchLifecycleConfiguration,
    ReplicationConfigurationNotFoundError,
    NoSuchWebsiteConfiguration,
    AccessForbidden,
    MalformedPolicy,
    NoSuchPublicAccessBlockConfiguration,
    InvalidToken,
    InvalidObjectState,
    RestoreAlreadyInProgress,
    InvalidEncryptionAlgorithmError,
    /// `KMS.DisabledException`: the object's (or the requested) key is disabled.
    KmsDisabled,
    /// `KMS.NotFoundException`: no such key in the key service.
    KmsNotFound,
    AccessControlListNotSupported,
    UnresolvableGrantByEmailAddress,
    MalformedACLError,
    UnexpectedContent,
    OwnershipControlsNotFoundError,
    InvalidBucketAclWithObjectOwnership,
}

impl S3ErrorCode {
    pub fn as_str(self) -> &'static str {
        use S3ErrorCode::*;
        match self {
            AccessDenied => "AccessDenied",
            AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            BadDigest => "BadDigest",
            BucketAlreadyExists => "BucketAlreadyExists",
            BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            BucketNotEmpty => "BucketNotEmpty",
            EntityTooLarge => "EntityTooLarge",
            EntityTooSmall => "EntityTooSmall",
            ExpiredToken => "ExpiredToken",
            IncompleteBody => "IncompleteBody",
            InternalError => "InternalError",
            InvalidAccessKeyId => "InvalidAccessKeyId",
            InvalidArgument => "InvalidArgument",
            InvalidBucketName => "InvalidBucketName",
            InvalidDigest => "InvalidDigest",
            InvalidLocationConstraint => "InvalidLocationConstraint",
            InvalidPart => "InvalidPart",
            InvalidPolicyDocument => "InvalidPolicyDocument",
            InvalidPartNumber => "InvalidPartNumber",
            InvalidPartOrder => "InvalidPartOrder",
            InvalidRange => "InvalidRange",
            InvalidRequest => "InvalidRequest",
            InvalidStorageClass => "InvalidStorageClass",
            InvalidEncryptionAlgorithmError => "InvalidEncryptionAlgorithmError",
            KmsDisabled => "KMS.DisabledException",
            KmsNotFound => "KMS.NotFoundException",
            AccessControlListNotSupported => "AccessControlListNotSupported",
            UnresolvableGrantByEmailAddress => "UnresolvableGrantByEmailAddress",
            MalformedACLError => "MalformedACLError",
            UnexpectedContent => "UnexpectedContent",
            OwnershipControlsNotFoundError => "OwnershipControlsNotFoundError",
            InvalidBucketAclWithObjectOwnership => "InvalidBucketAclWithObjectOwnership",
            InvalidTag => "InvalidTag",
            KeyTooLongError => "KeyTooLongError",
            MalformedXML => "MalformedXML",
            MalformedPOSTRequest => "MalformedPOSTRequest",
            MaxPostPreDataLengthExceededError => "MaxPostPreDataLengthExceededError",
            MetadataTooLarge => "MetadataTooLarge",
            MethodNotAllowed => "MethodNotAllowed",
            MissingContentLength => "MissingContentLength",
            MissingSecurityHeader => "MissingSecurityHeader",
            NoSuchBucket => "NoSuchBucket",
            NoSuchBucketPolicy => "NoSuchBucketPolicy",
            NoSuchKey => "NoSuchKey",
            NoSuchTagSet => "NoSuchTagSet",
            NoSuchUpload => "NoSuchUpload",
            NotImplemented => "NotImplemented",
            NotModified => "NotModified",
            PreconditionFailed => "PreconditionFailed",
            RequestTimeTooSkewed => "RequestTimeTooSkewed",
            ServerSideEncryptionConfigurationNotFoundError => {
                "ServerSideEncryptionConfigurationNotFoundError"
            }
            ServiceUnavailable => "ServiceUnavailable",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            SlowDown => "SlowDown",
            QuotaExceeded => "QuotaExceeded",
            XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            ConditionalRequestConflict => "ConditionalRequestConflict",
            NoSuchVersion => "NoSuchVersion",
            InvalidBucketState => "InvalidBucketState",
            IllegalVersioningConfigurationException => "IllegalVersioningConfigurationException",
            ObjectLockConfigurationNotFoundError => "ObjectLockConfigurationNotFoundError",
            NoSuchObjectLockConfiguration => "NoSuchObjectLockConfiguration",
            BadRequest => "BadRequest",
            NoSuchCORSConfiguration => "NoSuchCORSConfiguration",
            NoSuchLifecycleConfiguration => "NoSuchLifecycleConfiguration",
            ReplicationConfigurationNotFoundError => "ReplicationConfigurationNotFoundError",
            NoSuchWebsiteConfiguration => "NoSuchWebsiteConfiguration",
            AccessForbidden => "AccessForbidden",
            MalformedPolicy => "MalformedPolicy",
            NoSuchPublicAccessBlockConfiguration => "NoSuchPublicAccessBlockConfiguration",
            InvalidToken => "InvalidToken",
            InvalidObjectState => "InvalidObjectState",
            RestoreAlreadyInProgress => "RestoreAlreadyInProgress",
        }
    }

    pub fn status(self) -> StatusCode {
        use S3ErrorCode::*;
        match self {
            AccessDenied
            | InvalidAccessKeyId
            | SignatureDoesNotMatch
            | RequestTimeTooSkewed
            | ExpiredToken
            | AccessForbidden
            | InvalidObjectState => StatusCode::FORBIDDEN,
            NoSuchBucket
            | NoSuchKey
            | NoSuchUpload
            | NoSuchBucketPolicy
            | NoSuchTagSet
            | NoSuchVersion
            | ObjectLockConfigurationNotFoundError
            | NoSuchObjectLockConfiguration
            | NoSuchCORSConfiguration
            | NoSuchLifecycleConfiguration
            | ReplicationConfigurationNotFoundError
            | NoSuchWebsiteConfiguration
            | NoSuchPublicAccessBlockConfiguration
            | OwnershipControlsNotFoundError => StatusCode::NOT_FOUND,
            BucketAlreadyExists
            | BucketAlreadyOwnedByYou
            | BucketNotEmpty
            | ConditionalRequestConflict
            | RestoreAlreadyInProgress
            | InvalidBucketState => StatusCode::CONFLICT,
            PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            NotModified => StatusCode::NOT_MODIFIED,
            InvalidRange | InvalidPartNumber => StatusCode::RANGE_NOT_SATISFIABLE,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            MissingContentLength => StatusCode::LENGTH_REQUIRED,
            InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ServiceUnavailable | SlowDown => StatusCode::SERVICE_UNAVAILABLE,
            ServerSideEncryptionConfigurationNotFoundError => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn default_message(self) -> &'static str {
        use S3ErrorCode::*;
        match self {
            AccessDenied => "Access Denied",
            InvalidObjectState => "The operation is not valid for the object's storage class",
            RestoreAlreadyInProgress => "Object restore is already in progress",
            BadDigest => "The Content-MD5 you specified did not match what we received.",
            BucketAlreadyOwnedByYou => {
                "Your previous request to create the named bucket succeeded and you already own it."
            }
            BucketNotEmpty => "The bucket you tried to delete is not empty",
            EntityTooLarge => "Your proposed upload exceeds the maximum allowed size",
            EntityTooSmall => {
                "Your proposed upload is smaller than the minimum allowed object size."
            }
            IncompleteBody => {
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            }
            InternalError => "We encountered an internal error. Please try again.",
            InvalidAccessKeyId => {
                "The AWS Access Key Id you provided does not exist in our records."
            }
            InvalidBucketName => "The specified bucket is not valid.",
            InvalidDigest => "The Content-MD5 you specified is not valid.",
            InvalidPart => {
                "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
            }
            InvalidPartOrder => {
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            }
            InvalidRange => "The requested range is not satisfiable",
            InvalidPartNumber => "The requested partnumber is not satisfiable",
            KeyTooLongError => "Your key is too long",
            MalformedXML => {
                "The XML you provided was not well-formed or did not validate against our published schema"
            }
            MetadataTooLarge => "Your metadata headers exceed the maximum allowed metadata size",
            InvalidPolicyDocument => {
                "The content of the form does not meet the conditions specified in the policy document."
            }
            MalformedPOSTRequest => {
                "The body of your POST request is not well-formed multipart/form-data."
            }
            MaxPostPreDataLengthExceededError => {
                "Your POST request fields preceding the upload file were too large."
            }
            MethodNotAllowed => "The specified method is not allowed against this resource.",
            MissingContentLength => "You must provide the Content-Length HTTP header.",
            NoSuchBucket => "The specified bucket does not exist",
            NoSuchKey => "The specified key does not exist.",
            NoSuchUpload => {
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
            }
            NoSuchBucketPolicy => "The bucket policy does not exist",
            NoSuchTagSet => "The TagSet does not exist",
            NoSuchVersion => "The specified version does not exist.",
            InvalidToken => "The provided token is malformed or otherwise invalid.",
            ExpiredToken => "The provided token has expired.",
            NoSuchCORSConfiguration => "The CORS configuration does not exist",
            NoSuchLifecycleConfiguration => "The lifecycle configuration does not exist",
            ReplicationConfigurationNotFoundError => "The replication configuration was not found",
            NoSuchPublicAccessBlockConfiguration => {
                "The public access block configuration was not found"
            }
            NoSuchWebsiteConfiguration => {
                "The specified bucket does not have a website configuration"
            }
            ObjectLockConfigurationNotFoundError => {
                "Object Lock configuration does not exist for this bucket"
            }
            NoSuchObjectLockConfiguration => {
                "The specified object does not have a ObjectLock configuration"
            }
            IllegalVersioningConfigurationException => {
                "The versioning configuration specified in the request is invalid."
            }
            NotImplemented => "A header you provided implies functionality that is not implemented",
            PreconditionFailed => "At least one of the pre-conditions you specified did not hold",
            RequestTimeTooSkewed => {
                "The difference between the request time and the current time is too large."
            }
            ServerSideEncryptionConfigurationNotFoundError => {
                "The server side encryption configuration was not found"
            }
            SignatureDoesNotMatch => {
                "The request signature we calculated does not match the signature you provided. Check your key and signing method."
            }
            SlowDown => "Please reduce your request rate.",
            QuotaExceeded => "The write would exceed a bucket or account quota.",
            ServiceUnavailable => "Service is unable to handle request.",
            XAmzContentSHA256Mismatch => {
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            }
            _ => "",
        }
    }
}

/// An error as the client will see it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: String,
    /// Extra elements AWS adds to some errors (e.g. `BucketName`, `Key`, `Condition`).
    pub extra: Vec<(&'static str, String)>,
    /// Response headers some errors carry (`x-amz-delete-marker`, `x-amz-version-id`).
    pub headers: Vec<(&'static str, String)>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode) -> Self {
        S3Error {
            code,
            message: code.default_message().to_string(),
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_message(code: S3ErrorCode, message: impl Into<String>) -> Self {
        S3Error {
            code,
            message: message.into(),
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn extra(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        S3Error::new(S3ErrorCode::InternalError)
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        S3Error::new(code)
    }
}

pub type S3Result<T> = Result<T, S3Error>;

impl From<hafiz_meta::MetaError> for S3Error {
    fn from(e: hafiz_meta::MetaError) -> Self {
        use hafiz_meta::MetaError as M;
        match e {
            M::NoSuchBucket(b) => S3Error::new(S3ErrorCode::NoSuchBucket).extra("BucketName", b),
            M::BucketExists(b) => {
                S3Error::new(S3ErrorCode::BucketAlreadyOwnedByYou).extra("BucketName", b)
            }
            M::BucketNotEmpty(b) => {
                S3Error::new(S3ErrorCode::BucketNotEmpty).extra("BucketName", b)
            }
            M::NoSuchKey => S3Error::new(S3ErrorCode::NoSuchKey),
            M::NoSuchUpload => S3Error::new(S3ErrorCode::NoSuchUpload),
            M::PreconditionFailed => S3Error::new(S3ErrorCode::PreconditionFailed),
            M::NoSuchVersion => S3Error::new(S3ErrorCode::NoSuchVersion),
            M::DeleteMarker => S3Error::new(S3ErrorCode::MethodNotAllowed),
            M::ObjectLocked => S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Access Denied because object protected by object lock.",
            ),
            M::InvalidBucketState(m) => S3Error::with_message(S3ErrorCode::InvalidBucketState, m),
            M::QuotaExceeded(m) => S3Error::with_message(S3ErrorCode::QuotaExceeded, m),
            M::InvalidPart(n) => {
                S3Error::new(S3ErrorCode::InvalidPart).extra("PartNumber", n.to_string())
            }
            M::Unavailable(m) => {
                tracing::warn!(error = %m, "metadata unavailable");
                S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "The metadata cluster has no leader or quorum right now; please retry.",
                )
            }
            other => S3Error::internal(other),
        }
    }
}

impl From<hafiz_storage::StorageError> for S3Error {
    fn from(e: hafiz_storage::StorageError) -> Self {
        use hafiz_storage::StorageError as E;
        match e {
            // Too few drives: retryable, and never a partial or wrong answer.
            E::WriteQuorum { .. } => {
                tracing::warn!(error = %e, "write refused");
                S3Error::with_message(
                    S3ErrorCode::SlowDown,
                    "Not enough drives are online to store the object safely; please retry.",
                )
            }
            E::NotEnoughShards { .. } => {
                tracing::warn!(error = %e, "read refused");
                S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "Not enough drives are online to read the object; please retry.",
                )
            }
            E::Remote(_) => {
                tracing::warn!(error = %e, "tier read failed");
                S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "The tier holding the object's data cannot be reached; please retry.",
                )
            }
            other => S3Error::internal(other),
        }
    }
}
