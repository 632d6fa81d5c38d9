//! The S3 event message (`{"Records":[...]}`, eventVersion 2.1) a target receives,
//! field for field as AWS sends it, so consumers written for AWS parse it as is.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

/// What AWS leaves unencoded in an event's object key (form style: a space is `+`,
/// `/` stays).
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*')
    .remove(b'/')
    .remove(b' ');

/// One change, as the event that reports it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventRecord {
    /// The event type with its `s3:` prefix (`s3:ObjectCreated:Put`).
    pub event_name: String,
    pub region: String,
    /// Milliseconds since the Unix epoch.
    pub time: i64,
    pub principal: String,
    pub source_ip: String,
    pub request_id: String,
    pub host_id: String,
    /// The id of the notification rule that matched.
    pub configuration_id: String,
    pub bucket: String,
    pub owner: String,
    pub key: String,
    /// Absent for removals.
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// Orders the events of one key (hex; compared right-padded).
    pub sequencer: String,
}

/// An event key as AWS writes it.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY).to_string().replace(' ', "+")
}

fn iso8601(millis: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

impl EventRecord {
    pub fn to_value(&self) -> Value {
        let mut object = json!({
            "key": encode_key(&self.key),
            "sequencer": self.sequencer,
        });
        if let Some(s) = self.size {
            object["size"] = json!(s);
        }
        if let Some(e) = &self.etag {
            object["eTag"] = json!(e);
        }
        if let Some(v) = self.version_id.as_ref().filter(|v| v.as_str() != "null") {
            object["versionId"] = json!(v);
        }
        json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": self.region,
            "eventTime": iso8601(self.time),
            "eventName": self.event_name.strip_prefix("s3:").unwrap_or(&self.event_name),
            "userIdentity": {"principalId": self.principal},
            "requestParameters": {"sourceIPAddress": self.source_ip},
            "responseElements": {
                "x-amz-request-id": self.request_id,
                "x-amz-id-2": self.host_id,
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": self.configuration_id,
                "bucket": {
                    "name": self.bucket,
                    "ownerIdentity": {"principalId": self.owner},
                    "arn": format!("arn:aws:s3:::{}", self.bucket),
                },
                "object": object,
            },
        })
    }
}

/// The message carrying `records`.
pub fn event_json(records: &[EventRecord]) -> String {
    json!({"Records": records.iter().map(EventRecord::to_value).collect::<Vec<_>>()}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_shape() {
        let r = EventRecord {
            event_name: "s3:ObjectCreated:Put".into(),
            region: "us-east-1".into(),
            time: 1_764_720_000_123,
            principal: "AKIDEXAMPLE".into(),
            source_ip: "127.0.0.1".into(),
            request_id: "REQ1".into(),
            host_id: "HOST".into(),
            configuration_id: "jpg".into(),
            bucket: "photos".into(),
            owner: "owner".into(),
            key: "albums/red flower+1.jpg".into(),
            size: Some(1024),
            etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
            version_id: Some("null".into()),
            sequencer: "0055AED6DCD90281E5".into(),
        };
        let v: Value = serde_json::from_str(&event_json(&[r])).unwrap();
        let rec = &v["Records"][0];
        assert_eq!(rec["eventVersion"], "2.1");
        assert_eq!(rec["eventName"], "ObjectCreated:Put");
        assert_eq!(rec["eventTime"], "2025-12-03T00:00:00.123Z");
        assert_eq!(rec["responseElements"]["x-amz-request-id"], "REQ1");
        assert_eq!(rec["s3"]["bucket"]["arn"], "arn:aws:s3:::photos");
        let o = &rec["s3"]["object"];
        assert_eq!(o["key"], "albums/red+flower%2B1.jpg");
        assert_eq!(o["size"], 1024);
        assert!(
            o.get("versionId").is_none(),
            "no versionId for null versions"
        );
    }
}
