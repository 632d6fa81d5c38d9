//! The replication configuration: PutBucketReplication's XML parsed into
//! `hafiz_meta::ReplicationConfig` and checked the way AWS checks it, and the
//! document GetBucketReplication answers.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use hafiz_meta::{FilterForm, ReplicationConfig, ReplicationRule};
use quick_xml::escape::escape;
use serde::Deserialize;

/// Why a configuration is refused, with the S3 error code it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )]
    MalformedXml,
    /// S3 code InvalidRequest (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// S3 code InvalidArgument (400).
    #[error("{0}")]
    InvalidArgument(String),
}

use ConfigError::{InvalidArgument, InvalidRequest, MalformedXml};

fn request<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(InvalidRequest(message.into()))
}

fn argument<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(InvalidArgument(message.into()))
}

/// How AWS ends its complaints about rules of the wrong schema version.
const SCHEMA: &str = "for this version of Cross Region Replication configuration schema.";
const MAX_RULES: usize = 1000;
const MAX_ID_LEN: usize = 255;
const STORAGE_CLASSES: &str = "STANDARD REDUCED_REDUNDANCY STANDARD_IA ONEZONE_IA \
    INTELLIGENT_TIERING GLACIER DEEP_ARCHIVE GLACIER_IR OUTPOSTS";

// --- the XML, as S3 defines it (unknown elements are ignored) -------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct XmlConfig {
    role: String,
    #[serde(rename = "Rule")]
    rules: Vec<XmlRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct XmlRule {
    #[serde(rename = "ID")]
    id: Option<String>,
    priority: Option<String>,
    status: Option<String>,
    prefix: Option<String>,
    filter: Option<XmlFilter>,
    delete_marker_replication: Option<XmlStatus>,
    existing_object_replication: Option<XmlStatus>,
    source_selection_criteria: Option<XmlSelection>,
    destination: Option<XmlDestination>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct XmlStatus {
    status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct XmlSelection {
    replica_modifications: Option<XmlStatus>,
    sse_kms_encrypted_objects: Option<XmlStatus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct XmlDestination {
    bucket: Option<String>,
    storage_class: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct XmlFilter {
    prefix: Option<String>,
    tag: Option<XmlTag>,
    and: Option<XmlAnd>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct XmlAnd {
    prefix: Option<String>,
    #[serde(rename = "Tag")]
    tags: Vec<XmlTag>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct XmlTag {
    key: String,
    value: String,
}

/// Parse and validate a ReplicationConfiguration document. `known_target(arn)` says
/// whether a Destination Bucket ARN is a configured replication target.
pub fn from_xml(
    body: &[u8],
    known_target: impl Fn(&str) -> bool,
) -> Result<ReplicationConfig, ConfigError> {
    let text = std::str::from_utf8(body).map_err(|_| MalformedXml)?;
    check_root(text)?;
    let x: XmlConfig = quick_xml::de::from_str(text).map_err(|_| MalformedXml)?;
    if x.rules.is_empty() || x.rules.len() > MAX_RULES {
        return Err(MalformedXml);
    }
    let rules = x
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| rule_from_xml(i, r, body))
        .collect::<Result<Vec<_>, _>>()?;
    check_rules(&rules)?;
    // Last, so a client fixing its document sees schema errors before target ones.
    if let Some(r) = rules.iter().find(|r| !known_target(&r.target)) {
        return argument(format!("Invalid destination bucket ARN: {}", r.target));
    }
    Ok(ReplicationConfig {
        role: x.role,
        rules,
    })
}

/// The serde deserializer takes any root element; AWS takes only this one.
fn check_root(text: &str) -> Result<(), ConfigError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event().map_err(|_| MalformedXml)? {
            Event::Start(e) | Event::Empty(e) => {
                let root = e.local_name().as_ref() == b"ReplicationConfiguration";
                return if root { Ok(()) } else { Err(MalformedXml) };
            }
            Event::Eof => return Err(MalformedXml),
            _ => {}
        }
    }
}

fn status(s: Option<&str>) -> Result<bool, ConfigError> {
    match s {
        Some("Enabled") => Ok(true),
        Some("Disabled") => Ok(false),
        _ => Err(MalformedXml),
    }
}

fn optional_status(x: Option<XmlStatus>) -> Result<Option<bool>, ConfigError> {
    x.map(|x| status(x.status.as_deref())).transpose()
}

/// AWS names an unnamed rule with a random ID; ours derives from the body so the
/// same document always yields the same configuration.
fn generated_id(index: usize, body: &[u8]) -> String {
    let hash = |salt: u8| {
        let mut h = DefaultHasher::new();
        (index, salt, body).hash(&mut h);
        h.finish()
    };
    format!("{:016x}{:04x}", hash(0), hash(1) & 0xffff)
}

fn rule_from_xml(index: usize, r: XmlRule, body: &[u8]) -> Result<ReplicationRule, ConfigError> {
    let enabled = status(r.status.as_deref())?;
    let dest = r.destination.ok_or(MalformedXml)?;
    let target = dest.bucket.filter(|b| !b.is_empty()).ok_or(MalformedXml)?;
    if let Some(c) = &dest.storage_class
        && !STORAGE_CLASSES.split_whitespace().any(|k| k == c)
    {
        return Err(MalformedXml);
    }
    let priority = r
        .priority
        .map(|p| p.trim().parse::<i32>().map_err(|_| MalformedXml))
        .transpose()?;
    let id = match r.id {
        Some(id) if !id.is_empty() => id,
        _ => generated_id(index, body),
    };
    if id.chars().count() > MAX_ID_LEN {
        return argument("ID length should not exceed allowed limit of 255");
    }
    let delete_markers = optional_status(r.delete_marker_replication)?;
    let existing_objects = optional_status(r.existing_object_replication)?.unwrap_or(false);
    let replica_modifications = match r.source_selection_criteria {
        None => false,
        Some(s) => {
            // Accepted for compatibility; objects are replicated as stored.
            optional_status(s.sse_kms_encrypted_objects)?;
            optional_status(s.replica_modifications)?.unwrap_or(false)
        }
    };
    let (v1, prefix, tags, filter_form) = match (r.prefix, r.filter) {
        (Some(_), Some(_)) | (None, None) => return Err(MalformedXml),
        (Some(p), None) => (true, p, Vec::new(), FilterForm::Prefix),
        (None, Some(f)) => {
            let (p, t, form) = filter_from_xml(f)?;
            (false, p, t, form)
        }
    };
    let delete_markers = match (v1, delete_markers) {
        (true, None) => true,
        // V1 always replicates delete markers; a setting saying otherwise would lie.
        (true, Some(_)) => {
            return request(format!("DeleteMarkerReplication is not supported {SCHEMA}"));
        }
        (false, None) => {
            return request(format!(
                "DeleteMarkerReplication must be specified {SCHEMA}"
            ));
        }
        (false, Some(d)) => d,
    };
    if delete_markers && !tags.is_empty() {
        return request(
            "Delete marker replication is not supported if any Tag filter is specified. Please refer to S3 Developer Guide for more information.",
        );
    }
    Ok(ReplicationRule {
        id,
        priority,
        enabled,
        v1,
        prefix,
        tags,
        filter_form,
        delete_markers,
        existing_objects,
        replica_modifications,
        target,
        storage_class: dest.storage_class,
    })
}

type Filter = (String, Vec<(String, String)>, FilterForm);

fn filter_from_xml(f: XmlFilter) -> Result<Filter, ConfigError> {
    Ok(match (f.prefix, f.tag, f.and) {
        (None, None, None) => (String::new(), Vec::new(), FilterForm::Empty),
        (Some(p), None, None) => (p, Vec::new(), FilterForm::Prefix),
        (None, Some(t), None) => (String::new(), vec![(t.key, t.value)], FilterForm::Tag),
        // An empty And is no filter at all; AWS wants `<Filter/>` for that.
        (None, None, Some(a)) if a.prefix.is_some() || !a.tags.is_empty() => {
            let mut keys = HashSet::new();
            if !a.tags.iter().all(|t| keys.insert(t.key.as_str())) {
                return argument("Duplicate Tag Keys are not allowed.");
            }
            let tags = a.tags.into_iter().map(|t| (t.key, t.value)).collect();
            (a.prefix.unwrap_or_default(), tags, FilterForm::And)
        }
        _ => return Err(MalformedXml),
    })
}

/// Checks across rules.
fn check_rules(rules: &[ReplicationRule]) -> Result<(), ConfigError> {
    let mut ids = HashSet::new();
    if !rules.iter().all(|r| ids.insert(r.id.as_str())) {
        return argument("Rule Id must be unique.");
    }
    let v1 = rules.iter().filter(|r| r.v1).count();
    if v1 != 0 && v1 != rules.len() {
        return request(
            "Rules with a Prefix and rules with a Filter cannot be mixed in one replication configuration.",
        );
    }
    if v1 == 0 && rules.len() > 1 {
        let mut seen = HashSet::new();
        for r in rules {
            let Some(p) = r.priority else {
                return request(format!("Priority must be specified {SCHEMA}"));
            };
            if !seen.insert(p) {
                return request(format!("Found duplicate priority {p}"));
            }
        }
    }
    Ok(())
}

/// The document GetBucketReplication answers: each rule in the form it was given.
pub fn to_xml(cfg: &ReplicationConfig) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ReplicationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    elem(&mut s, "Role", &cfg.role);
    for r in &cfg.rules {
        rule_to_xml(&mut s, r);
    }
    s.push_str("</ReplicationConfiguration>");
    s
}

fn elem(s: &mut String, name: &str, text: &str) {
    s.push_str(&format!("<{name}>{}</{name}>", escape(text)));
}

fn status_elem(s: &mut String, name: &str, on: bool) {
    let status = if on { "Enabled" } else { "Disabled" };
    s.push_str(&format!("<{name}><Status>{status}</Status></{name}>"));
}

fn rule_to_xml(s: &mut String, r: &ReplicationRule) {
    s.push_str("<Rule>");
    elem(s, "ID", &r.id);
    if let Some(p) = r.priority {
        elem(s, "Priority", &p.to_string());
    }
    match (r.v1, r.filter_form) {
        (true, _) => elem(s, "Prefix", &r.prefix),
        (false, FilterForm::Empty) => s.push_str("<Filter/>"),
        (false, form) => {
            let and = form == FilterForm::And;
            s.push_str(if and { "<Filter><And>" } else { "<Filter>" });
            if form == FilterForm::Prefix || (and && !r.prefix.is_empty()) {
                elem(s, "Prefix", &r.prefix);
            }
            for (key, value) in &r.tags {
                s.push_str("<Tag>");
                elem(s, "Key", key);
                elem(s, "Value", value);
                s.push_str("</Tag>");
            }
            s.push_str(if and { "</And></Filter>" } else { "</Filter>" });
        }
    }
    elem(s, "Status", if r.enabled { "Enabled" } else { "Disabled" });
    if r.replica_modifications {
        s.push_str("<SourceSelectionCriteria>");
        status_elem(s, "ReplicaModifications", true);
        s.push_str("</SourceSelectionCriteria>");
    }
    if r.existing_objects {
        status_elem(s, "ExistingObjectReplication", true);
    }
    s.push_str("<Destination>");
    elem(s, "Bucket", &r.target);
    if let Some(c) = &r.storage_class {
        elem(s, "StorageClass", c);
    }
    s.push_str("</Destination>");
    if !r.v1 {
        status_elem(s, "DeleteMarkerReplication", r.delete_markers);
    }
    s.push_str("</Rule>");
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "arn:hafiz:replication::t1:dest";
    const T2: &str = "arn:hafiz:replication::t2:other";
    const DM_ON: &str =
        "<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>";
    const DM_OFF: &str =
        "<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>";
    const TAG: &str = "<Tag><Key>k</Key><Value>v</Value></Tag>";

    fn parse(doc: &str) -> Result<ReplicationConfig, ConfigError> {
        from_xml(doc.as_bytes(), |a| a == T1 || a == T2)
    }

    fn doc(rules: &str) -> String {
        format!(
            "<ReplicationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Role>arn:aws:iam::123:role/x</Role>{rules}</ReplicationConfiguration>"
        )
    }

    /// A V2 rule: `filter`, then `extra` elements before the Destination.
    fn v2(id: &str, priority: i32, filter: &str, extra: &str) -> String {
        format!(
            "<Rule><ID>{id}</ID><Priority>{priority}</Priority><Status>Enabled</Status>{filter}\
             {extra}<Destination><Bucket>{T1}</Bucket></Destination></Rule>"
        )
    }

    fn v1(id: &str, prefix: &str) -> String {
        format!(
            "<Rule><ID>{id}</ID><Prefix>{prefix}</Prefix><Status>Enabled</Status>\
             <Destination><Bucket>{T1}</Bucket></Destination></Rule>"
        )
    }

    fn round_trip(cfg: &ReplicationConfig) {
        let xml = to_xml(cfg);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Replication"));
        assert!(xml.contains("xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""));
        assert_eq!(&parse(&xml).unwrap(), cfg, "{xml}");
    }

    #[test]
    fn v2_round_trip_keeps_each_filter_form() {
        use FilterForm::*;
        let cfg = parse(&doc(&format!(
            "<Rule><ID>r&amp;1</ID><Priority>3</Priority><Status>Disabled</Status>\
             <Filter><And><Prefix>logs/</Prefix>{TAG}<Tag><Key>b</Key><Value>&lt;2&gt;</Value>\
             </Tag></And></Filter><SourceSelectionCriteria><ReplicaModifications><Status>Enabled\
             </Status></ReplicaModifications><SseKmsEncryptedObjects><Status>Disabled</Status>\
             </SseKmsEncryptedObjects></SourceSelectionCriteria><ExistingObjectReplication>\
             <Status>Enabled</Status></ExistingObjectReplication><Destination><Bucket>{T2}\
             </Bucket><StorageClass>STANDARD_IA</StorageClass><Account>123</Account>\
             <ReplicationTime><Status>Enabled</Status><Time><Minutes>15</Minutes></Time>\
             </ReplicationTime></Destination>{DM_OFF}</Rule>{}{}{}",
            v2("empty", 1, "<Filter/>", DM_ON),
            v2("prefix", 2, "<Filter><Prefix>img/</Prefix></Filter>", DM_ON),
            v2("tag", 4, &format!("<Filter>{TAG}</Filter>"), DM_OFF),
        )))
        .unwrap();
        assert_eq!(cfg.role, "arn:aws:iam::123:role/x");
        let r = &cfg.rules[0];
        assert_eq!(
            (r.id.as_str(), r.priority, r.enabled, r.v1),
            ("r&1", Some(3), false, false)
        );
        let tags = [("k", "v"), ("b", "<2>")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!((r.prefix.as_str(), &r.tags[..]), ("logs/", &tags[..]));
        assert!(!r.delete_markers && r.existing_objects && r.replica_modifications);
        assert_eq!(
            (r.target.as_str(), r.storage_class.as_deref()),
            (T2, Some("STANDARD_IA"))
        );
        let forms: Vec<_> = cfg.rules.iter().map(|r| r.filter_form).collect();
        assert_eq!(forms, [And, Empty, Prefix, Tag]);
        assert!(cfg.rules[1].delete_markers && cfg.rules[1].prefix.is_empty());
        assert_eq!(
            (cfg.rules[2].prefix.as_str(), cfg.rules[3].tags.len()),
            ("img/", 1)
        );
        assert!(to_xml(&cfg).contains("<Filter/>"));
        round_trip(&cfg);
    }

    #[test]
    fn v1_round_trip() {
        let cfg = parse(&doc(&(v1("a", "logs/") + &v1("b", "")))).unwrap();
        assert!(
            cfg.rules
                .iter()
                .all(|r| r.v1 && r.delete_markers && r.priority.is_none())
        );
        assert_eq!(cfg.rules[0].prefix, "logs/");
        let xml = to_xml(&cfg);
        assert!(!xml.contains("Filter") && !xml.contains("DeleteMarkerReplication"));
        round_trip(&cfg);
    }

    #[test]
    fn a_lone_v2_rule_needs_no_id_or_priority() {
        let rule = v2("", 1, "<Filter/>", DM_ON).replace("<ID></ID><Priority>1</Priority>", "");
        let r = parse(&doc(&rule)).unwrap().rules.remove(0);
        assert_eq!((r.id.len(), r.priority), (20, None));
        assert_eq!(parse(&doc(&rule)).unwrap().rules[0].id, r.id, "stable");
    }

    #[test]
    fn refusals() {
        let ok = v2("r", 1, "<Filter/>", DM_ON);
        let edit = |from: &str, to: &str| doc(&ok.replace(from, to));
        let dest = format!("<Destination><Bucket>{T1}</Bucket></Destination>");
        let many: String = (0..1001)
            .map(|i| v2(&i.to_string(), i, "<Filter/>", DM_ON))
            .collect();
        let pair = |a: &str, b: &str| doc(&(v2("a", 1, a, DM_ON) + &v2("b", 2, b, DM_ON)));
        #[rustfmt::skip]
        let malformed = [
            "<ReplicationConfiguration><Rule>".to_string(),
            format!("<LifecycleConfiguration>{ok}</LifecycleConfiguration>"),
            doc(""),
            doc(&many),
            edit(&dest, ""),
            edit(&format!("<Bucket>{T1}</Bucket>"), ""),
            edit("<Status>Enabled</Status><Filter/>", "<Filter/>"),
            edit("<Status>Enabled</Status><Filter/>", "<Status>On</Status><Filter/>"),
            edit("<Priority>1</Priority>", "<Priority>high</Priority>"),
            edit("<Filter/>", &format!("<Filter><Prefix>a</Prefix>{TAG}</Filter>")),
            edit("<Filter/>", "<Prefix>a</Prefix><Filter/>"),
            edit("<Filter/>", ""),
            edit("<Filter/>", "<Filter><And></And></Filter>"),
            edit("</Bucket>", "</Bucket><StorageClass>COLD</StorageClass>"),
            edit(DM_ON, "<DeleteMarkerReplication/>"),
        ];
        for d in malformed {
            assert_eq!(parse(&d), Err(MalformedXml), "{d}");
        }
        let same = pair("<Filter/>", "<Filter/>");
        let long = format!(">{}<", "x".repeat(256));
        let dup = format!("<Filter><And>{TAG}{TAG}</And></Filter>");
        let v1_dm = v1("a", "").replace("<Destination>", &format!("{DM_OFF}<Destination>"));
        let tag = format!("<Filter>{TAG}</Filter>");
        let and = format!("<Filter><And><Prefix>p</Prefix>{TAG}</And></Filter>");
        let tag_dm = "InvalidRequest(\"Delete marker replication is not supported if any Tag";
        #[rustfmt::skip]
        let refused = [
            (same.replace("<ID>b<", "<ID>a<"), r#"InvalidArgument("Rule Id must be unique.")"#),
            (edit(">r<", &long), r#"InvalidArgument("ID length should not exceed allowed limit"#),
            (edit("<Filter/>", &dup).replace(DM_ON, DM_OFF), r#"InvalidArgument("Duplicate Tag"#),
            (edit(T1, "arn:x"), r#"InvalidArgument("Invalid destination bucket ARN: arn:x")"#),
            (edit(DM_ON, ""), r#"InvalidRequest("DeleteMarkerReplication must be specified"#),
            (doc(&(v1("a", "") + &ok)), r#"InvalidRequest("Rules with a Prefix and rules"#),
            (doc(&v1_dm), r#"InvalidRequest("DeleteMarkerReplication is not supported"#),
            (same.replace("<Priority>2</Priority>", ""), r#"InvalidRequest("Priority must be"#),
            (same.replace(">2<", ">1<"), r#"InvalidRequest("Found duplicate priority 1")"#),
            (edit("<Filter/>", &tag), tag_dm),
            (pair("<Filter/>", &and), tag_dm),
        ];
        for (d, want) in refused {
            let got = format!("{:?}", parse(&d).unwrap_err());
            assert!(got.starts_with(want), "{got} for {d}");
        }
    }
}
