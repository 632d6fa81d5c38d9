//! The notification configuration of a bucket: rules sending events of some types,
//! for keys passing a filter, to a target named by ARN. Parsed from and written to
//! AWS's `NotificationConfiguration` XML, refused with AWS's errors.

use serde::{Deserialize, Serialize};

/// Every event type a rule may name (wildcards included), as AWS lists them.
pub const EVENT_TYPES: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:ObjectTransition",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
];

/// Longest filter value AWS takes (bytes of UTF-8).
const MAX_FILTER_VALUE: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )]
    MalformedXml,
    /// `InvalidArgument` with AWS's message.
    #[error("{0}")]
    InvalidArgument(String),
    /// Targets that are not configured (`InvalidArgument`, "Unable to validate the
    /// following destination configurations").
    #[error("Unable to validate the following destination configurations")]
    UnknownTargets(Vec<String>),
}

fn invalid(msg: &str) -> ConfigError {
    ConfigError::InvalidArgument(msg.to_string())
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum RuleKind {
    Queue,
    Topic,
    CloudFunction,
}

/// What keys a rule applies to: AWS's prefix and suffix, and (Hafiz's addition) a
/// glob over the whole key: `*` within a path segment, `**` across segments, `?`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyFilter {
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub glob: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotifyRule {
    pub id: String,
    pub kind: RuleKind,
    pub arn: String,
    pub events: Vec<String>,
    pub filter: KeyFilter,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotificationConfig {
    pub rules: Vec<NotifyRule>,
}

// --- the XML, as S3 defines it -------------------------------------------------------

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename = "NotificationConfiguration")]
struct XmlConfig {
    #[serde(rename = "@xmlns", default, skip_serializing_if = "Option::is_none")]
    xmlns: Option<String>,
    #[serde(rename = "TopicConfiguration", default)]
    topics: Vec<XmlRule>,
    #[serde(rename = "QueueConfiguration", default)]
    queues: Vec<XmlRule>,
    #[serde(rename = "CloudFunctionConfiguration", default)]
    functions: Vec<XmlRule>,
    #[serde(
        rename = "EventBridgeConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    event_bridge: Option<EmptyElement>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct EmptyElement {}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct XmlRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cloud_function: Option<String>,
    #[serde(rename = "Event", default)]
    events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<XmlFilter>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlFilter {
    #[serde(rename = "S3Key", default)]
    key: XmlKey,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlKey {
    #[serde(rename = "FilterRule", default)]
    rules: Vec<XmlFilterRule>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct XmlFilterRule {
    name: String,
    value: String,
}

impl NotificationConfig {
    /// Parse and check a PutBucketNotificationConfiguration body; `known_target`
    /// says whether an ARN names a configured target.
    pub fn from_xml(
        body: &[u8],
        known_target: impl Fn(&str) -> bool,
    ) -> Result<NotificationConfig, ConfigError> {
        let text = std::str::from_utf8(body).map_err(|_| ConfigError::MalformedXml)?;
        let x: XmlConfig = quick_xml::de::from_str(text).map_err(|_| ConfigError::MalformedXml)?;
        let mut rules = Vec::new();
        let all = [
            (RuleKind::Topic, x.topics),
            (RuleKind::Queue, x.queues),
            (RuleKind::CloudFunction, x.functions),
        ];
        for (kind, list) in all {
            for r in list {
                rules.push(rule_from_xml(kind, r, rules.len())?);
            }
        }
        let mut ids = std::collections::HashSet::new();
        for r in &rules {
            if !ids.insert(r.id.as_str()) {
                return Err(invalid("Same ID used for multiple configurations"));
            }
        }
        check_overlaps(&rules)?;
        let unknown: Vec<String> = rules
            .iter()
            .filter(|r| !known_target(&r.arn))
            .map(|r| r.arn.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(ConfigError::UnknownTargets(unknown));
        }
        Ok(NotificationConfig { rules })
    }

    pub fn to_xml(&self) -> String {
        let mut x = XmlConfig {
            xmlns: Some("http://s3.amazonaws.com/doc/2006-03-01/".into()),
            ..Default::default()
        };
        for r in &self.rules {
            let mut filter_rules = Vec::new();
            for (name, v) in [
                ("prefix", &r.filter.prefix),
                ("suffix", &r.filter.suffix),
                ("glob", &r.filter.glob),
            ] {
                if let Some(value) = v {
                    filter_rules.push(XmlFilterRule {
                        name: name.into(),
                        value: value.clone(),
                    });
                }
            }
            let mut xr = XmlRule {
                id: Some(r.id.clone()),
                events: r.events.clone(),
                filter: (!filter_rules.is_empty()).then_some(XmlFilter {
                    key: XmlKey {
                        rules: filter_rules,
                    },
                }),
                ..Default::default()
            };
            match r.kind {
                RuleKind::Topic => {
                    xr.topic = Some(r.arn.clone());
                    x.topics.push(xr);
                }
                RuleKind::Queue => {
                    xr.queue = Some(r.arn.clone());
                    x.queues.push(xr);
                }
                RuleKind::CloudFunction => {
                    xr.cloud_function = Some(r.arn.clone());
                    x.functions.push(xr);
                }
            }
        }
        let body = quick_xml::se::to_string(&x).unwrap_or_default();
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Option<NotificationConfig> {
        serde_json::from_str(s).ok()
    }

    /// The rules an event of type `event` (e.g. `s3:ObjectCreated:Put`) on `key`
    /// goes to, in configuration order.
    pub fn matching<'a>(
        &'a self,
        event: &'a str,
        key: &'a str,
    ) -> impl Iterator<Item = &'a NotifyRule> {
        self.rules.iter().filter(move |r| {
            r.events.iter().any(|e| event_matches(e, event)) && r.filter.selects(key)
        })
    }
}

/// Whether configured event type `pattern` (`s3:ObjectCreated:*` or exact) covers
/// `event`.
pub fn event_matches(pattern: &str, event: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => event.starts_with(prefix),
        None => pattern == event,
    }
}

impl KeyFilter {
    pub fn selects(&self, key: &str) -> bool {
        self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
            && self.glob.as_deref().is_none_or(|g| glob_matches(g, key))
    }
}

fn glob_matcher(pattern: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

pub(crate) fn glob_matches(pattern: &str, key: &str) -> bool {
    glob_matcher(pattern).is_some_and(|m| m.is_match(key))
}

fn rule_from_xml(kind: RuleKind, r: XmlRule, index: usize) -> Result<NotifyRule, ConfigError> {
    let arn = match kind {
        RuleKind::Topic => r.topic,
        RuleKind::Queue => r.queue,
        RuleKind::CloudFunction => r.cloud_function,
    }
    .filter(|a| !a.is_empty())
    .ok_or(ConfigError::MalformedXml)?;
    if r.events.is_empty() {
        return Err(ConfigError::MalformedXml);
    }
    for e in &r.events {
        if !EVENT_TYPES.contains(&e.as_str()) {
            return Err(invalid("The event is not supported for notifications"));
        }
    }
    let mut filter = KeyFilter::default();
    for fr in r.filter.map(|f| f.key.rules).unwrap_or_default() {
        if fr.value.len() > MAX_FILTER_VALUE {
            return Err(invalid(
                "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation",
            ));
        }
        let slot = match fr.name.to_ascii_lowercase().as_str() {
            "prefix" => &mut filter.prefix,
            "suffix" => &mut filter.suffix,
            "glob" => {
                if glob_matcher(&fr.value).is_none() {
                    return Err(invalid("The glob filter rule is not a valid pattern"));
                }
                &mut filter.glob
            }
            _ => return Err(invalid("filter rule name must be either prefix or suffix")),
        };
        if slot.is_some() {
            return Err(invalid(&format!(
                "Cannot specify more than one {} rule in a filter.",
                fr.name.to_ascii_lowercase()
            )));
        }
        *slot = Some(fr.value);
    }
    Ok(NotifyRule {
        // AWS names a rule without an Id itself.
        id: r
            .id
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| format!("notification-{}", index + 1)),
        kind,
        arn,
        events: r.events,
        filter,
    })
}

/// Two strings "overlap" as filters when one could match what the other does: one
/// prefix starts the other (prefixes), one suffix ends the other (suffixes).
fn overlap(a: &Option<String>, b: &Option<String>, prefix: bool) -> bool {
    match (a, b) {
        (Some(a), Some(b)) if prefix => a.starts_with(b.as_str()) || b.starts_with(a.as_str()),
        (Some(a), Some(b)) => a.ends_with(b.as_str()) || b.ends_with(a.as_str()),
        _ => true,
    }
}

/// A glob's literal start and end (before its first and after its last wildcard):
/// what any key it matches starts and ends with.
fn glob_bounds(glob: &str) -> (String, String) {
    let wild = |c: char| matches!(c, '*' | '?' | '[' | '{' | '\\');
    match (glob.find(wild), glob.rfind(wild)) {
        (Some(first), Some(last)) => (glob[..first].to_string(), glob[last + 1..].to_string()),
        _ => (glob.to_string(), glob.to_string()),
    }
}

impl KeyFilter {
    /// The prefix and suffix every selected key has (for the overlap check).
    fn bounds(&self) -> (Option<String>, Option<String>) {
        let (gp, gs) = self.glob.as_deref().map(glob_bounds).unzip();
        let longest = |a: Option<String>, b: Option<String>| match (a, b) {
            (Some(a), Some(b)) => Some(if a.len() >= b.len() { a } else { b }),
            (a, b) => a.or(b).filter(|s| !s.is_empty()),
        };
        (
            longest(self.prefix.clone(), gp),
            longest(self.suffix.clone(), gs),
        )
    }
}

/// AWS refuses two rules for a common event type whose filters could both match
/// one key (an event would go out twice). A glob counts by its literal start and
/// end (globs are Hafiz's addition).
fn check_overlaps(rules: &[NotifyRule]) -> Result<(), ConfigError> {
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let common = a.events.iter().any(|x| {
                b.events
                    .iter()
                    .any(|y| event_matches(x, y) || event_matches(y, x))
            });
            let ((ap, as_), (bp, bs)) = (a.filter.bounds(), b.filter.bounds());
            if common && overlap(&ap, &bp, true) && overlap(&as_, &bs, false) {
                return Err(invalid(
                    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:hafiz:sqs::primary:webhook";

    fn parse(body: &str) -> Result<NotificationConfig, ConfigError> {
        NotificationConfig::from_xml(body.as_bytes(), |a| a == ARN || a.ends_with(":redis"))
    }

    fn queue(id: &str, arn: &str, events: &[&str], rules: &[(&str, &str)]) -> String {
        let ev: String = events
            .iter()
            .map(|e| format!("<Event>{e}</Event>"))
            .collect();
        let fr: String = rules
            .iter()
            .map(|(n, v)| format!("<FilterRule><Name>{n}</Name><Value>{v}</Value></FilterRule>"))
            .collect();
        let filter = if rules.is_empty() {
            String::new()
        } else {
            format!("<Filter><S3Key>{fr}</S3Key></Filter>")
        };
        format!(
            "<QueueConfiguration><Id>{id}</Id><Queue>{arn}</Queue>{ev}{filter}</QueueConfiguration>"
        )
    }

    fn cfg(parts: &[String]) -> String {
        format!(
            "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}</NotificationConfiguration>",
            parts.concat()
        )
    }

    #[test]
    fn round_trip_and_matching() {
        let c = parse(&cfg(&[
            queue(
                "jpg",
                ARN,
                &["s3:ObjectCreated:*"],
                &[("prefix", "images/"), ("suffix", ".jpg")],
            ),
            queue("gone", ARN, &["s3:ObjectRemoved:Delete"], &[]),
            queue(
                "csv",
                "arn:hafiz:sqs::q:redis",
                &["s3:ObjectCreated:Put"],
                &[("glob", "uploads/**/*.csv")],
            ),
        ]))
        .unwrap();
        assert_eq!(c.rules.len(), 3);
        let again = parse(&c.to_xml()).unwrap();
        assert_eq!(again, c, "GET returns what PUT stored");
        let ids = |e, k| c.matching(e, k).map(|r| r.id.as_str()).collect::<Vec<_>>();
        assert_eq!(ids("s3:ObjectCreated:Put", "images/a.jpg"), vec!["jpg"]);
        assert_eq!(
            ids("s3:ObjectCreated:Copy", "images/a.png"),
            Vec::<&str>::new()
        );
        assert_eq!(ids("s3:ObjectRemoved:Delete", "x"), vec!["gone"]);
        assert_eq!(
            ids("s3:ObjectRemoved:DeleteMarkerCreated", "x"),
            Vec::<&str>::new()
        );
        assert_eq!(
            ids("s3:ObjectCreated:Put", "uploads/2026/12/a.csv"),
            vec!["csv"]
        );
        assert_eq!(
            ids("s3:ObjectCreated:Put", "uploads/a.csv"),
            vec!["csv"],
            "** spans zero segments"
        );
        assert!(ids("s3:ObjectCreated:Put", "other/uploads/a.csv").is_empty());
        // An empty configuration turns notifications off.
        assert!(parse(&cfg(&[])).unwrap().rules.is_empty());
    }

    #[test]
    fn aws_refusals() {
        let e = parse(&cfg(&[queue("a", ARN, &["s3:ObjectCreated:Nope"], &[])])).unwrap_err();
        assert_eq!(e, invalid("The event is not supported for notifications"));
        assert_eq!(
            parse(&cfg(&[queue("a", ARN, &[], &[])])).unwrap_err(),
            ConfigError::MalformedXml
        );
        assert!(matches!(
            parse(&cfg(&[queue("a", ARN, &["s3:ObjectCreated:*"], &[("prefix", "a"), ("prefix", "b")])])),
            Err(ConfigError::InvalidArgument(m)) if m.contains("more than one prefix")
        ));
        assert!(matches!(
            parse(&cfg(&[queue("a", ARN, &["s3:ObjectCreated:*"], &[("size", "1")])])),
            Err(ConfigError::InvalidArgument(m)) if m.contains("prefix or suffix")
        ));
        // Overlapping filters for a common event type; disjoint suffixes are fine.
        let overlapping = cfg(&[
            queue("a", ARN, &["s3:ObjectCreated:*"], &[("suffix", "jpg")]),
            queue("b", ARN, &["s3:ObjectCreated:Put"], &[("suffix", "pg")]),
        ]);
        assert!(
            matches!(parse(&overlapping), Err(ConfigError::InvalidArgument(m)) if m.contains("ambiguously"))
        );
        let disjoint = cfg(&[
            queue("a", ARN, &["s3:ObjectCreated:*"], &[("suffix", ".jpg")]),
            queue("b", ARN, &["s3:ObjectCreated:Put"], &[("suffix", ".png")]),
            queue("c", ARN, &["s3:ObjectRemoved:*"], &[]),
        ]);
        assert_eq!(parse(&disjoint).unwrap().rules.len(), 3);
        // Unknown targets are named.
        assert_eq!(
            parse(&cfg(&[queue(
                "a",
                "arn:hafiz:sqs::x:kafka",
                &["s3:ObjectCreated:*"],
                &[]
            )]))
            .unwrap_err(),
            ConfigError::UnknownTargets(vec!["arn:hafiz:sqs::x:kafka".into()])
        );
        assert_eq!(
            parse("<NotificationConfiguration><Queue").unwrap_err(),
            ConfigError::MalformedXml
        );
    }
}
