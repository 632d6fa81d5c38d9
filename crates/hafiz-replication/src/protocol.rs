//! What a replicator tells the receiving Hafiz beside a plain S3 request: the
//! source version's id, modification time and ETag, so the replica keeps them (its
//! place among the key's versions follows from the id). A receiver authorizes these
//! writes as `s3:ReplicateObject` (`s3:ReplicateDelete`, `s3:ReplicateTags`) and
//! stores them as REPLICA versions that are never replicated onward. Other S3
//! endpoints ignore the headers and store ordinary new versions.

pub const VERSION_HEADER: &str = "x-hafiz-replication-version-id";
/// Milliseconds since the Unix epoch.
pub const MTIME_HEADER: &str = "x-hafiz-replication-mtime";
/// The source's ETag (multipart ETags are not the MD5 of the bytes sent).
pub const ETAG_HEADER: &str = "x-hafiz-replication-etag";
