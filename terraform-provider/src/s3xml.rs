//! The S3 XML documents the provider writes and reads: bucket configurations
//! (versioning, object lock, lifecycle, CORS, tagging, notification, replication) and
//! the listings `force_destroy` walks. Field names are S3's.

#![allow(non_snake_case)]

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub fn to_xml<T: Serialize>(root: &str, v: &T) -> String {
    quick_xml::se::to_string_with_root(root, v).unwrap_or_default()
}

pub fn from_xml<T: DeserializeOwned>(xml: &str) -> Result<T, String> {
    quick_xml::de::from_str(xml).map_err(|e| format!("cannot read the server's XML: {e}"))
}

#[derive(Serialize, Deserialize, Default)]
pub struct Versioning {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Status: Option<String>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct ObjectLockConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ObjectLockEnabled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Rule: Option<LockRule>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct LockRule {
    pub DefaultRetention: DefaultRetention,
}

#[derive(Serialize, Deserialize, Default)]
pub struct DefaultRetention {
    pub Mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Years: Option<i64>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct LifecycleConfiguration {
    #[serde(default)]
    pub Rule: Vec<LifecycleRule>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct LifecycleRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ID: Option<String>,
    /// The first schema's prefix (read only: the provider writes a `Filter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Filter: Option<Filter>,
    pub Status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Expiration: Option<Expiration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub Transition: Vec<Transition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub NoncurrentVersionExpiration: Option<NoncurrentExpiration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub AbortIncompleteMultipartUpload: Option<AbortIncomplete>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct Filter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Tag: Option<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub And: Option<And>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct And {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Prefix: Option<String>,
    #[serde(default)]
    pub Tag: Vec<Tag>,
}

#[derive(Serialize, Deserialize, Default, Clone)]
pub struct Tag {
    pub Key: String,
    pub Value: String,
}

#[derive(Serialize, Deserialize, Default)]
pub struct Expiration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Days: Option<i64>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct Transition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Days: Option<i64>,
    pub StorageClass: String,
}

#[derive(Serialize, Deserialize, Default)]
pub struct NoncurrentExpiration {
    pub NoncurrentDays: i64,
}

#[derive(Serialize, Deserialize, Default)]
pub struct AbortIncomplete {
    pub DaysAfterInitiation: i64,
}

#[derive(Serialize, Deserialize, Default)]
pub struct CorsConfiguration {
    #[serde(default)]
    pub CORSRule: Vec<CorsRule>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct CorsRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ID: Option<String>,
    #[serde(default)]
    pub AllowedHeader: Vec<String>,
    #[serde(default)]
    pub AllowedMethod: Vec<String>,
    #[serde(default)]
    pub AllowedOrigin: Vec<String>,
    #[serde(default)]
    pub ExposeHeader: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub MaxAgeSeconds: Option<i64>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct Tagging {
    pub TagSet: TagSet,
}

#[derive(Serialize, Deserialize, Default)]
pub struct TagSet {
    #[serde(default)]
    pub Tag: Vec<Tag>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct NotificationConfiguration {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub QueueConfiguration: Vec<NotificationRule>,
    /// Read only: rules other clients wrote as topics or functions.
    #[serde(default, skip_serializing)]
    pub TopicConfiguration: Vec<NotificationRule>,
    #[serde(default, skip_serializing)]
    pub CloudFunctionConfiguration: Vec<NotificationRule>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct NotificationRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Id: Option<String>,
    #[serde(alias = "Topic", alias = "CloudFunction")]
    pub Queue: String,
    #[serde(default)]
    pub Event: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Filter: Option<NotificationFilter>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct NotificationFilter {
    pub S3Key: S3Key,
}

#[derive(Serialize, Deserialize, Default)]
pub struct S3Key {
    #[serde(default)]
    pub FilterRule: Vec<FilterRule>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct FilterRule {
    pub Name: String,
    pub Value: String,
}

#[derive(Serialize, Deserialize, Default)]
pub struct ReplicationConfiguration {
    #[serde(default)]
    pub Role: String,
    #[serde(default)]
    pub Rule: Vec<ReplicationRule>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct ReplicationRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ID: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Priority: Option<i64>,
    pub Status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Filter: Option<Filter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub DeleteMarkerReplication: Option<StatusOnly>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ExistingObjectReplication: Option<StatusOnly>,
    pub Destination: Destination,
}

#[derive(Serialize, Deserialize, Default)]
pub struct StatusOnly {
    pub Status: String,
}

#[derive(Serialize, Deserialize, Default)]
pub struct Destination {
    pub Bucket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub StorageClass: Option<String>,
}

/// ListObjectVersions' answer. Versions and delete markers interleave in key order,
/// so the children are read as one sequence (serde fields cannot take a list whose
/// items are split by other elements).
#[derive(Deserialize, Default)]
pub struct ListVersionsResult {
    #[serde(rename = "$value", default)]
    pub entries: Vec<VersionsEntry>,
}

#[derive(Deserialize)]
pub enum VersionsEntry {
    Version(ObjectVersion),
    DeleteMarker(ObjectVersion),
    IsTruncated(bool),
    NextKeyMarker(String),
    NextVersionIdMarker(String),
    #[serde(other)]
    Other,
}

impl ListVersionsResult {
    /// Every version and delete marker of the page.
    pub fn objects(&self) -> Vec<ObjectVersion> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                VersionsEntry::Version(v) | VersionsEntry::DeleteMarker(v) => Some(ObjectVersion {
                    Key: v.Key.clone(),
                    VersionId: v.VersionId.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The markers of the next page, when there is one.
    pub fn next(&self) -> Option<(String, String)> {
        let mut truncated = false;
        let (mut key, mut version) = (String::new(), String::new());
        for e in &self.entries {
            match e {
                VersionsEntry::IsTruncated(t) => truncated = *t,
                VersionsEntry::NextKeyMarker(k) => key = k.clone(),
                VersionsEntry::NextVersionIdMarker(v) => version = v.clone(),
                _ => {}
            }
        }
        truncated.then_some((key, version))
    }
}

#[derive(Serialize, Deserialize, Default)]
pub struct ObjectVersion {
    pub Key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub VersionId: Option<String>,
}

#[derive(Serialize)]
pub struct Delete {
    pub Quiet: bool,
    pub Object: Vec<ObjectVersion>,
}

#[derive(Deserialize, Default)]
pub struct DeleteResult {
    #[serde(default)]
    pub Error: Vec<DeleteError>,
}

#[derive(Deserialize, Default)]
pub struct DeleteError {
    #[serde(default)]
    pub Key: String,
    #[serde(default)]
    pub Code: String,
    #[serde(default)]
    pub Message: String,
}

#[derive(Deserialize, Default)]
pub struct ListUploadsResult {
    #[serde(default)]
    pub Upload: Vec<Upload>,
}

#[derive(Deserialize, Default)]
pub struct Upload {
    pub Key: String,
    pub UploadId: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_round_trips_through_s3_xml() {
        let c = LifecycleConfiguration {
            Rule: vec![LifecycleRule {
                ID: Some("logs".into()),
                Filter: Some(Filter {
                    Prefix: Some("logs/".into()),
                    ..Default::default()
                }),
                Status: "Enabled".into(),
                Expiration: Some(Expiration { Days: Some(30) }),
                Transition: vec![Transition {
                    Days: Some(7),
                    StorageClass: "COLD".into(),
                }],
                ..Default::default()
            }],
        };
        let xml = to_xml("LifecycleConfiguration", &c);
        assert!(
            xml.contains("<Filter><Prefix>logs/</Prefix></Filter>"),
            "{xml}"
        );
        let back: LifecycleConfiguration = from_xml(&xml).unwrap();
        assert_eq!(back.Rule[0].Expiration.as_ref().unwrap().Days, Some(30));
        assert_eq!(back.Rule[0].Transition[0].StorageClass, "COLD");
    }

    #[test]
    fn versions_and_delete_markers_interleave() {
        let xml = "<ListVersionsResult><Name>b</Name><IsTruncated>true</IsTruncated>\
            <NextKeyMarker>c</NextKeyMarker><NextVersionIdMarker>v3</NextVersionIdMarker>\
            <Version><Key>a</Key><VersionId>v1</VersionId><Size>1</Size></Version>\
            <DeleteMarker><Key>b</Key><VersionId>v2</VersionId></DeleteMarker>\
            <Version><Key>c</Key><VersionId>v3</VersionId></Version></ListVersionsResult>";
        let page: ListVersionsResult = from_xml(xml).unwrap();
        let keys: Vec<_> = page.objects().into_iter().map(|o| o.Key).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(page.next(), Some(("c".into(), "v3".into())));
    }

    #[test]
    fn notification_rules_of_every_kind_are_read() {
        let xml = "<NotificationConfiguration><TopicConfiguration><Id>a</Id><Topic>arn:t</Topic>\
            <Event>s3:ObjectCreated:*</Event></TopicConfiguration></NotificationConfiguration>";
        let n: NotificationConfiguration = from_xml(xml).unwrap();
        assert_eq!(n.TopicConfiguration[0].Queue, "arn:t");
    }
}
