//! The few S3 answers the console reads, as serde types over quick-xml.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDoc {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// STS and IAM wrap theirs: `<ErrorResponse><Error>...`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorResponse {
    #[serde(default)]
    error: ErrorDoc,
}

/// `(code, message)` of an S3 `<Error>` (or STS `<ErrorResponse>`) document; empty
/// when it is neither.
pub fn error(body: &[u8]) -> (String, String) {
    let text = std::str::from_utf8(body).unwrap_or("");
    let doc = quick_xml::de::from_str::<ErrorDoc>(text)
        .ok()
        .filter(|d| !d.code.is_empty())
        .or_else(|| {
            quick_xml::de::from_str::<ErrorResponse>(text)
                .ok()
                .map(|r| r.error)
        })
        .unwrap_or_default();
    (doc.code, doc.message)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketEntry {
    pub name: String,
    #[serde(default)]
    pub creation_date: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Buckets {
    #[serde(default)]
    bucket: Vec<BucketEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAllMyBuckets {
    #[serde(default)]
    buckets: Buckets,
}

pub fn buckets(body: &[u8]) -> Result<Vec<BucketEntry>, String> {
    let doc: ListAllMyBuckets = parse(body)?;
    Ok(doc.buckets.bucket)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectEntry {
    pub key: String,
    #[serde(default)]
    pub last_modified: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub storage_class: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrefixEntry {
    pub prefix: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPage {
    #[serde(default)]
    pub contents: Vec<ObjectEntry>,
    #[serde(default)]
    pub common_prefixes: Vec<PrefixEntry>,
    #[serde(default)]
    pub is_truncated: bool,
    #[serde(default)]
    pub next_continuation_token: Option<String>,
}

pub fn list_page(body: &[u8]) -> Result<ListPage, String> {
    parse(body)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionEntry {
    pub key: String,
    pub version_id: String,
    #[serde(default)]
    pub is_latest: bool,
    #[serde(default)]
    pub last_modified: String,
    #[serde(default)]
    pub size: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Versions {
    #[serde(default)]
    pub version: Vec<VersionEntry>,
    #[serde(default)]
    pub delete_marker: Vec<VersionEntry>,
}

pub fn versions(body: &[u8]) -> Result<Versions, String> {
    parse(body)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagSet {
    #[serde(default)]
    tag: Vec<Tag>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tagging {
    #[serde(default)]
    tag_set: TagSet,
}

pub fn tags(body: &[u8]) -> Result<Vec<Tag>, String> {
    let doc: Tagging = parse(body)?;
    Ok(doc.tag_set.tag)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitiateMultipart {
    pub upload_id: String,
}

pub fn upload_id(body: &[u8]) -> Result<String, String> {
    parse::<InitiateMultipart>(body).map(|d| d.upload_id)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsResult {
    credentials: StsCredentials,
}

#[derive(Debug, Default, Deserialize)]
struct StsResponse {
    #[serde(rename = "AssumeRoleWithWebIdentityResult")]
    result: StsResult,
}

/// The credentials of an AssumeRoleWithWebIdentity answer.
pub fn sts_credentials(body: &[u8]) -> Result<StsCredentials, String> {
    parse::<StsResponse>(body).map(|r| r.result.credentials)
}

#[derive(Debug, Default, Deserialize)]
struct SamlResponseDoc {
    #[serde(rename = "AssumeRoleWithSAMLResult")]
    result: StsResult,
}

/// The credentials of an AssumeRoleWithSAML answer.
pub fn saml_credentials(body: &[u8]) -> Result<StsCredentials, String> {
    parse::<SamlResponseDoc>(body).map(|r| r.result.credentials)
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    quick_xml::de::from_str(text).map_err(|e| format!("unexpected S3 answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_listing_page() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>
<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
<Contents><Key>a.txt</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>"x"</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>
<NextContinuationToken>tok</NextContinuationToken></ListBucketResult>"#;
        let page = list_page(xml).unwrap();
        assert_eq!(page.contents.len(), 1);
        assert_eq!(page.contents[0].size, 12);
        assert_eq!(page.common_prefixes[0].prefix, "dir/");
        assert!(page.is_truncated);
        assert_eq!(page.next_continuation_token.as_deref(), Some("tok"));
    }

    #[test]
    fn reads_an_error() {
        let (code, msg) = error(b"<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>");
        assert_eq!((code.as_str(), msg.as_str()), ("NoSuchBucket", "gone"));
        assert_eq!(error(b"not xml"), (String::new(), String::new()));
        let (code, _) = error(b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>m</Message></Error></ErrorResponse>");
        assert_eq!(code, "InvalidIdentityToken");
    }
}
