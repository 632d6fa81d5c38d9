//! S3 XML bodies, serialized and parsed with quick-xml's serde support.

use serde::{Deserialize, Serialize};

use crate::error::{S3Error, S3ErrorCode, S3Result};

pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Serialize `value` as the document element `root`, with the XML declaration.
pub fn to_xml<T: Serialize>(root: &str, value: &T) -> S3Result<String> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let body = quick_xml::se::to_string_with_root(root, value).map_err(S3Error::internal)?;
    push_control_escaped(&mut out, &body);
    Ok(out)
}

/// Appends `text`, writing the control characters XML 1.0 has no place for as character
/// references (`\u{1}` as `&#x1;`), as S3 does with such keys in listings; CR too, which
/// a parser would otherwise turn into LF. Tab and LF stay as they are.
fn push_control_escaped(out: &mut String, text: &str) {
    let is_escaped = |c: char| c < ' ' && c != '\t' && c != '\n';
    if !text.contains(is_escaped) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        if is_escaped(c) {
            out.push_str(&format!("&#x{:x};", c as u32));
        } else {
            out.push(c);
        }
    }
}

pub fn from_xml<T: for<'de> Deserialize<'de>>(body: &[u8]) -> S3Result<T> {
    let text = std::str::from_utf8(body).map_err(|_| S3Error::new(S3ErrorCode::MalformedXML))?;
    quick_xml::de::from_str(text).map_err(|_| S3Error::new(S3ErrorCode::MalformedXML))
}

#[derive(Serialize, Clone)]
pub struct Owner {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "DisplayName")]
    pub display_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
    #[serde(rename = "$value", skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<ExtraField>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<&'a str>,
    pub request_id: &'a str,
    pub host_id: &'a str,
}

/// An error element whose name varies (`BucketName`, `Key`, `Method`, `ResourceType`...):
/// serialized as an enum variant named at run time, which quick-xml writes as an element
/// of that name.
pub struct ExtraField {
    name: &'static str,
    value: String,
}

impl ExtraField {
    pub fn from_pair(name: &'static str, value: String) -> ExtraField {
        ExtraField { name, value }
    }
}

impl Serialize for ExtraField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_variant("ExtraField", 0, self.name, &self.value)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAllMyBucketsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub owner: Owner,
    pub buckets: BucketList,
}

#[derive(Serialize)]
pub struct BucketList {
    #[serde(rename = "Bucket")]
    pub bucket: Vec<BucketEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketEntry {
    pub name: String,
    pub creation_date: String,
    pub bucket_region: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBucketConfiguration {
    pub location_constraint: Option<String>,
}

#[derive(Serialize)]
pub struct LocationConstraint {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "$text", skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectChecksums {
    #[serde(rename = "ChecksumCRC32", skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl ObjectChecksums {
    pub fn single(alg: hafiz_meta::ChecksumAlgorithm, value: String) -> ObjectChecksums {
        use hafiz_meta::ChecksumAlgorithm::*;
        let mut c = ObjectChecksums::default();
        match alg {
            Crc32 => c.crc32 = Some(value),
            Crc32c => c.crc32c = Some(value),
            Crc64Nvme => c.crc64nvme = Some(value),
            Sha1 => c.sha1 = Some(value),
            Sha256 => c.sha256 = Some(value),
        }
        c
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListObjectsEntry {
    pub key: String,
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checksum_algorithm: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    pub storage_class: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    pub prefix: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBucketResultV1 {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub name: String,
    pub prefix: String,
    pub marker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub max_keys: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    pub contents: Vec<ListObjectsEntry>,
    pub common_prefixes: Vec<CommonPrefix>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBucketResultV2 {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub name: String,
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_continuation_token: Option<String>,
    pub key_count: usize,
    pub max_keys: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    pub contents: Vec<ListObjectsEntry>,
    pub common_prefixes: Vec<CommonPrefix>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRequest {
    #[serde(default)]
    pub quiet: Option<bool>,
    #[serde(default)]
    pub object: Vec<DeleteRequestObject>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRequestObject {
    pub key: String,
    pub version_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub deleted: Vec<DeletedEntry>,
    pub error: Vec<DeleteErrorEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletedEntry {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_marker: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_marker_version_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteErrorEntry {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub code: String,
    pub message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub last_modified: String,
    #[serde(flatten)]
    pub checksums: ObjectChecksums,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitiateMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteMultipartUpload {
    #[serde(default)]
    pub part: Vec<CompletedPart>,
}

#[derive(Deserialize)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumCRC32")]
    pub crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C")]
    pub crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME")]
    pub crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1")]
    pub sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256")]
    pub sha256: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub location: String,
    pub bucket: String,
    pub key: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(flatten)]
    pub checksums: ObjectChecksums,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPartsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub part_number_marker: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_part_number_marker: Option<u32>,
    pub max_parts: usize,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    pub initiator: Owner,
    pub owner: Owner,
    pub storage_class: String,
    pub part: Vec<PartEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartEntry {
    pub part_number: u32,
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub size: u64,
    #[serde(flatten)]
    pub checksums: ObjectChecksums,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMultipartUploadsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub bucket: String,
    pub key_marker: String,
    pub upload_id_marker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_key_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_upload_id_marker: Option<String>,
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    pub max_uploads: usize,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    pub upload: Vec<UploadEntry>,
    pub common_prefixes: Vec<CommonPrefix>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadEntry {
    pub key: String,
    pub upload_id: String,
    pub initiator: Owner,
    pub owner: Owner,
    pub storage_class: String,
    pub initiated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessControlPolicy {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub owner: Owner,
    pub access_control_list: AccessControlList,
}

#[derive(Serialize)]
pub struct AccessControlList {
    #[serde(rename = "Grant")]
    pub grant: Vec<Grant>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: String,
}

#[derive(Serialize)]
pub struct Grantee {
    #[serde(rename = "@xmlns:xsi")]
    pub xmlns_xsi: &'static str,
    #[serde(rename = "@xsi:type")]
    pub xsi_type: &'static str,
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "DisplayName", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(rename = "URI", skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

#[derive(Serialize)]
pub struct VersioningConfiguration {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersioningConfigurationIn {
    pub status: Option<String>,
    pub mfa_delete: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub name: String,
    pub prefix: String,
    pub key_marker: String,
    pub version_id_marker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_key_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_version_id_marker: Option<String>,
    pub max_keys: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    /// Versions and delete markers interleaved in listing order.
    #[serde(rename = "$value")]
    pub entries: Vec<VersionListEntry>,
    pub common_prefixes: Vec<CommonPrefix>,
}

#[derive(Serialize)]
pub enum VersionListEntry {
    Version(VersionEntryXml),
    DeleteMarker(DeleteMarkerEntry),
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionEntryXml {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub size: u64,
    pub owner: Owner,
    pub storage_class: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMarkerEntry {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub last_modified: String,
    pub owner: Owner,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaggingIn {
    pub tag_set: TagSetIn,
}

#[derive(Deserialize, Default)]
pub struct TagSetIn {
    #[serde(rename = "Tag", default)]
    pub tag: Vec<TagIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagIn {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectLockConfiguration {
    #[serde(
        rename = "@xmlns",
        skip_deserializing,
        skip_serializing_if = "str::is_empty"
    )]
    pub xmlns: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_lock_enabled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<ObjectLockRule>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectLockRule {
    pub default_retention: DefaultRetentionXml,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DefaultRetentionXml {
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub years: Option<i64>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetentionXml {
    #[serde(
        rename = "@xmlns",
        skip_deserializing,
        skip_serializing_if = "str::is_empty"
    )]
    pub xmlns: &'static str,
    pub mode: Option<String>,
    pub retain_until_date: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LegalHoldXml {
    #[serde(
        rename = "@xmlns",
        skip_deserializing,
        skip_serializing_if = "str::is_empty"
    )]
    pub xmlns: &'static str,
    pub status: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetObjectAttributesResponse {
    #[serde(rename = "ETag", skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<AttributesChecksum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_parts: Option<AttributesParts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_size: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesChecksum {
    #[serde(flatten)]
    pub checksums: ObjectChecksums,
    pub checksum_type: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesParts {
    /// The SDK models call it TotalPartsCount; on the wire it is PartsCount.
    #[serde(rename = "PartsCount")]
    pub total_parts_count: usize,
    pub part_number_marker: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_part_number_marker: Option<u32>,
    pub max_parts: usize,
    pub is_truncated: bool,
    #[serde(rename = "Part")]
    pub parts: Vec<AttributesPart>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesPart {
    pub part_number: u32,
    pub size: u64,
    #[serde(flatten)]
    pub checksums: ObjectChecksums,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tagging {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    pub tag_set: TagSet,
}

#[derive(Serialize)]
pub struct TagSet {
    #[serde(rename = "Tag")]
    pub tag: Vec<Tag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_listing_keeps_versions_and_markers_interleaved() {
        let owner = Owner {
            id: "o".into(),
            display_name: "d".into(),
        };
        let v = |id: &str| {
            VersionListEntry::Version(VersionEntryXml {
                key: "k".into(),
                version_id: id.into(),
                is_latest: false,
                last_modified: "t".into(),
                etag: "\"e\"".into(),
                size: 1,
                owner: owner.clone(),
                storage_class: "STANDARD".into(),
            })
        };
        let r = ListVersionsResult {
            xmlns: NS,
            name: "b".into(),
            prefix: "".into(),
            key_marker: "".into(),
            version_id_marker: "".into(),
            next_key_marker: None,
            next_version_id_marker: None,
            max_keys: 1000,
            delimiter: None,
            is_truncated: false,
            encoding_type: None,
            entries: vec![
                v("v3"),
                VersionListEntry::DeleteMarker(DeleteMarkerEntry {
                    key: "k".into(),
                    version_id: "m2".into(),
                    is_latest: false,
                    last_modified: "t".into(),
                    owner: owner.clone(),
                }),
                v("v1"),
            ],
            common_prefixes: vec![CommonPrefix {
                prefix: "p/".into(),
            }],
        };
        let x = to_xml("ListVersionsResult", &r).unwrap();
        let a = x.find("<VersionId>v3</VersionId>").unwrap();
        let b = x
            .find("<DeleteMarker><Key>k</Key><VersionId>m2</VersionId>")
            .unwrap();
        let c = x.find("<VersionId>v1</VersionId>").unwrap();
        assert!(a < b && b < c, "{x}");
        assert!(x.contains("<IsTruncated>false</IsTruncated>"));
        assert!(
            x.contains("<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>"),
            "{x}"
        );
    }

    #[test]
    fn list_result_serializes_repeated_elements_and_namespace() {
        let r = ListBucketResultV2 {
            xmlns: NS,
            name: "b".into(),
            prefix: "".into(),
            start_after: None,
            continuation_token: None,
            next_continuation_token: Some("tok".into()),
            key_count: 2,
            max_keys: 1000,
            delimiter: Some("/".into()),
            is_truncated: true,
            encoding_type: None,
            contents: vec![ListObjectsEntry {
                key: "a&b".into(),
                last_modified: "2026-01-01T00:00:00.000Z".into(),
                etag: "\"x\"".into(),
                checksum_algorithm: vec![],
                checksum_type: None,
                size: 3,
                owner: None,
                storage_class: "STANDARD".into(),
            }],
            common_prefixes: vec![CommonPrefix {
                prefix: "d/".into(),
            }],
        };
        let xml = to_xml("ListBucketResult", &r).unwrap();
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert!(
            xml.contains("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"),
            "{xml}"
        );
        assert!(xml.contains("<Contents><Key>a&amp;b</Key>"), "{xml}");
        assert!(
            xml.contains("<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>"),
            "{xml}"
        );
        assert!(xml.contains("<IsTruncated>true</IsTruncated>"), "{xml}");
    }

    #[test]
    fn parses_complete_and_delete_requests() {
        let c: CompleteMultipartUpload = from_xml(
            br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>"#,
        )
        .unwrap();
        assert_eq!(c.part.len(), 2);
        assert_eq!(c.part[0].crc32.as_deref(), Some("AAAAAA=="));
        let d: DeleteRequest =
            from_xml(b"<Delete><Quiet>true</Quiet><Object><Key>k1</Key></Object><Object><Key>k2</Key><VersionId>v</VersionId></Object></Delete>")
                .unwrap();
        assert_eq!(d.object.len(), 2);
        assert_eq!(d.quiet, Some(true));
        assert!(from_xml::<DeleteRequest>(b"<Delete><Object>").is_err());
    }

    #[test]
    fn error_body_carries_extra_fields() {
        let e = ErrorBody {
            code: "NoSuchBucket",
            message: "m",
            extra: vec![
                ExtraField::from_pair("BucketName", "b".into()),
                ExtraField::from_pair("Method", "GET".into()),
            ],
            resource: Some("/b"),
            request_id: "r",
            host_id: "h",
        };
        let xml = to_xml("Error", &e).unwrap();
        assert!(xml.contains("<Code>NoSuchBucket</Code><Message>m</Message><BucketName>b</BucketName><Method>GET</Method><Resource>/b</Resource><RequestId>r</RequestId>"), "{xml}");
    }

    #[test]
    fn control_characters_become_character_references() {
        #[derive(Serialize)]
        struct K {
            #[serde(rename = "Key")]
            key: String,
        }
        let xml = to_xml(
            "R",
            &K {
                key: "a\u{1}b\rc\td\ne<".into(),
            },
        )
        .unwrap();
        assert!(
            xml.ends_with("<R><Key>a&#x1;b&#xd;c\td\ne&lt;</Key></R>"),
            "{xml}"
        );
    }
}
