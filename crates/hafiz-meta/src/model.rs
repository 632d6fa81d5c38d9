//! The metadata rows. Serialized with MessagePack (named fields) so that rows can gain
//! fields without a migration.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BucketInfo {
    pub name: String,
    pub created: Millis,
    pub region: String,
}

/// Where an object's bytes are.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ObjectData {
    /// Small objects live in the row: one write, one read.
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Bytes in the data store, as consecutive blobs (one for a simple PUT, one per part
    /// for a multipart object).
    Blobs(Vec<BlobSpan>),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum BlobLocation {
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    Stored(String),
}

/// One piece of an object's data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BlobSpan {
    pub location: BlobLocation,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ChecksumType {
    FullObject,
    Composite,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    /// Base64 as S3 shows it; composite values carry the `-N` suffix.
    pub value: String,
    pub kind: ChecksumType,
}

/// A part of a completed multipart object, kept for `partNumber` reads and
/// GetObjectAttributes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartSummary {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub checksum: Option<String>,
}

/// System headers stored with an object and returned on GET/HEAD.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContentHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
}

/// One version of one object. Unversioned buckets hold a single `null` version per key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub last_modified: Millis,
    pub headers: ContentHeaders,
    /// `x-amz-meta-*` pairs, names lower-cased without the prefix.
    pub user_meta: Vec<(String, String)>,
    pub storage_class: String,
    pub tags: Vec<(String, String)>,
    pub checksum: Option<Checksum>,
    /// Present for multipart objects.
    pub parts: Option<Vec<PartSummary>>,
    pub data: ObjectData,
}

impl ObjectVersion {
    /// Blob ids this version references in the data store, with their sizes.
    pub fn blob_spans(&self) -> Vec<(String, u64)> {
        match &self.data {
            ObjectData::Inline(_) => Vec::new(),
            ObjectData::Blobs(spans) => spans
                .iter()
                .filter_map(|s| match &s.location {
                    BlobLocation::Stored(id) => Some((id.clone(), s.size)),
                    BlobLocation::Inline(_) => None,
                })
                .collect(),
        }
    }

    /// Blob ids this version references in the data store.
    pub fn blob_ids(&self) -> Vec<String> {
        match &self.data {
            ObjectData::Inline(_) => Vec::new(),
            ObjectData::Blobs(spans) => spans
                .iter()
                .filter_map(|s| match &s.location {
                    BlobLocation::Stored(id) => Some(id.clone()),
                    BlobLocation::Inline(_) => None,
                })
                .collect(),
        }
    }
}

/// An in-progress multipart upload: everything CreateMultipartUpload fixed for the
/// object that Complete will create.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadInfo {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiated: Millis,
    pub headers: ContentHeaders,
    pub user_meta: Vec<(String, String)>,
    pub storage_class: String,
    pub tags: Vec<(String, String)>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartInfo {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub last_modified: Millis,
    pub checksum: Option<Checksum>,
    pub data: BlobSpan,
}
