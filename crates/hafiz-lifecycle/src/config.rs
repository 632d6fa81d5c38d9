//! The lifecycle configuration: parsed from PutBucketLifecycleConfiguration's XML,
//! validated with AWS's error codes and messages, stored as JSON in the bucket row,
//! and written back as GetBucketLifecycleConfiguration's XML.

use hafiz_meta::Millis;
use serde::{Deserialize, Serialize};

/// The S3 error a configuration is refused with: code and message as AWS sends them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ConfigError {
    pub code: &'static str,
    pub message: String,
}

fn malformed() -> ConfigError {
    ConfigError {
        code: "MalformedXML",
        message: "The XML you provided was not well-formed or did not validate against our published schema".into(),
    }
}

fn invalid_argument(m: impl Into<String>) -> ConfigError {
    ConfigError {
        code: "InvalidArgument",
        message: m.into(),
    }
}

fn invalid_request(m: impl Into<String>) -> ConfigError {
    ConfigError {
        code: "InvalidRequest",
        message: m.into(),
    }
}

pub const MAX_RULES: usize = 1000;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LifecycleConfig {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub filter: Filter,
    pub expiration: Option<Expiration>,
    pub transitions: Vec<Transition>,
    pub noncurrent_expiration: Option<NoncurrentExpiration>,
    pub noncurrent_transitions: Vec<NoncurrentTransition>,
    pub abort_multipart_days: Option<u32>,
}

/// What a rule applies to. `form` remembers how the client wrote it, so a GET
/// returns the same shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Filter {
    pub prefix: String,
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<u64>,
    pub size_less_than: Option<u64>,
    pub form: FilterForm,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum FilterForm {
    /// `<Prefix>` directly in the rule (the original API).
    RulePrefix,
    /// `<Filter>` with at most one condition (or none).
    #[default]
    Single,
    /// `<Filter><And>...</And></Filter>`.
    And,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Expiration {
    pub days: Option<u32>,
    /// Midnight UTC.
    pub date: Option<Millis>,
    pub expired_object_delete_marker: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Transition {
    pub days: Option<u32>,
    pub date: Option<Millis>,
    pub storage_class: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NoncurrentExpiration {
    pub noncurrent_days: Option<u32>,
    pub newer_noncurrent_versions: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NoncurrentTransition {
    pub noncurrent_days: Option<u32>,
    pub newer_noncurrent_versions: Option<u32>,
    pub storage_class: String,
}

// --- the XML, as S3 defines it -------------------------------------------------------

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename = "LifecycleConfiguration")]
struct XmlConfig {
    #[serde(rename = "Rule", default)]
    rules: Vec<XmlRule>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlRule {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "Filter", default, skip_serializing_if = "Option::is_none")]
    filter: Option<XmlFilter>,
    #[serde(rename = "Prefix", default, skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(rename = "Status", default)]
    status: String,
    #[serde(
        rename = "Expiration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    expiration: Option<XmlExpiration>,
    #[serde(rename = "Transition", default, skip_serializing_if = "Vec::is_empty")]
    transitions: Vec<XmlTransition>,
    #[serde(
        rename = "NoncurrentVersionExpiration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    noncurrent_expiration: Option<XmlNoncurrentExpiration>,
    #[serde(
        rename = "NoncurrentVersionTransition",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    noncurrent_transitions: Vec<XmlNoncurrentTransition>,
    #[serde(
        rename = "AbortIncompleteMultipartUpload",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    abort: Option<XmlAbort>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlFilter {
    #[serde(rename = "Prefix", default, skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(rename = "Tag", default, skip_serializing_if = "Option::is_none")]
    tag: Option<XmlTag>,
    #[serde(
        rename = "ObjectSizeGreaterThan",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    size_gt: Option<String>,
    #[serde(
        rename = "ObjectSizeLessThan",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    size_lt: Option<String>,
    #[serde(rename = "And", default, skip_serializing_if = "Option::is_none")]
    and: Option<XmlAnd>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlAnd {
    #[serde(rename = "Prefix", default, skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<XmlTag>,
    #[serde(
        rename = "ObjectSizeGreaterThan",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    size_gt: Option<String>,
    #[serde(
        rename = "ObjectSizeLessThan",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    size_lt: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlTag {
    #[serde(rename = "Key", default)]
    key: String,
    #[serde(rename = "Value", default)]
    value: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlExpiration {
    #[serde(rename = "Date", default, skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(rename = "Days", default, skip_serializing_if = "Option::is_none")]
    days: Option<String>,
    #[serde(
        rename = "ExpiredObjectDeleteMarker",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    marker: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlTransition {
    #[serde(rename = "Date", default, skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(rename = "Days", default, skip_serializing_if = "Option::is_none")]
    days: Option<String>,
    #[serde(rename = "StorageClass", default)]
    storage_class: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlNoncurrentExpiration {
    #[serde(
        rename = "NoncurrentDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    days: Option<String>,
    #[serde(
        rename = "NewerNoncurrentVersions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    newer: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlNoncurrentTransition {
    #[serde(
        rename = "NoncurrentDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    days: Option<String>,
    #[serde(
        rename = "NewerNoncurrentVersions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    newer: Option<String>,
    #[serde(rename = "StorageClass", default)]
    storage_class: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct XmlAbort {
    #[serde(rename = "DaysAfterInitiation", default)]
    days: Option<String>,
}

fn number<T: std::str::FromStr>(v: &Option<String>) -> Result<Option<T>, ConfigError> {
    v.as_ref()
        .map(|s| s.trim().parse::<T>().map_err(|_| malformed()))
        .transpose()
}

fn positive(v: &Option<String>, what: &str) -> Result<Option<u32>, ConfigError> {
    match v.as_ref().map(|s| s.trim().parse::<i64>()) {
        None => Ok(None),
        Some(Err(_)) => Err(malformed()),
        Some(Ok(n)) if n <= 0 || n > i64::from(u32::MAX) => Err(invalid_argument(format!(
            "{what} must be a positive integer"
        ))),
        Some(Ok(n)) => Ok(Some(n as u32)),
    }
}

/// An ISO 8601 date at midnight UTC (`2026-01-01T00:00:00Z` or `2026-01-01T00:00:00.000Z`).
fn midnight(v: &Option<String>) -> Result<Option<Millis>, ConfigError> {
    let Some(s) = v else { return Ok(None) };
    let s = s.trim();
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .or_else(|_| {
            time::Date::parse(
                s,
                &time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map(|d| d.midnight().assume_utc())
        })
        .map_err(|_| invalid_argument("Invalid date or time value"))?;
    if t.offset() != time::UtcOffset::UTC
        || t.hour() != 0
        || t.minute() != 0
        || t.second() != 0
        || t.nanosecond() != 0
    {
        return Err(invalid_argument("'Date' must be at midnight GMT"));
    }
    Ok(Some((t.unix_timestamp_nanos() / 1_000_000) as Millis))
}

fn iso_date(ms: Millis) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T00:00:00.000Z",
        t.year(),
        u8::from(t.month()),
        t.day()
    )
}

/// Storage classes a transition may name. Objects only move once the tiering engine
/// has tiers for them; until then transitions are refused rather than kept and never
/// applied.
fn check_storage_class(class: &str, tiers: &[String]) -> Result<(), ConfigError> {
    const CLASSES: &[&str] = &[
        "GLACIER",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "DEEP_ARCHIVE",
        "GLACIER_IR",
    ];
    if !CLASSES.contains(&class) && !tiers.iter().any(|t| t == class) {
        return Err(malformed());
    }
    if !tiers.iter().any(|t| t == class) {
        return Err(invalid_request(format!(
            "The storage class {class} is not configured as a tier on this server; \
             transitions need a tier (see docs/lifecycle.md)."
        )));
    }
    Ok(())
}

impl LifecycleConfig {
    /// Parse and validate a PutBucketLifecycleConfiguration body. `tiers` are the
    /// storage classes transitions may name.
    pub fn from_xml(body: &[u8], tiers: &[String]) -> Result<LifecycleConfig, ConfigError> {
        let text = std::str::from_utf8(body).map_err(|_| malformed())?;
        let x: XmlConfig = quick_xml::de::from_str(text).map_err(|_| malformed())?;
        if x.rules.is_empty() {
            return Err(malformed());
        }
        if x.rules.len() > MAX_RULES {
            return Err(invalid_request(
                "Lifecycle configuration cannot have more than 1000 rules",
            ));
        }
        let mut rules = Vec::with_capacity(x.rules.len());
        let mut ids = std::collections::HashSet::new();
        for r in x.rules {
            let rule = rule_from_xml(r, tiers)?;
            if !ids.insert(rule.id.clone()) {
                return Err(invalid_argument(
                    "Rule ID must be unique. Found same ID for more than one rule",
                ));
            }
            rules.push(rule);
        }
        Ok(LifecycleConfig { rules })
    }

    pub fn to_xml(&self) -> String {
        let x = XmlConfig {
            rules: self.rules.iter().map(rule_to_xml).collect(),
        };
        let body = quick_xml::se::to_string(&x).unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
            body.replacen(
                "<LifecycleConfiguration>",
                "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
                1,
            )
        )
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Option<LifecycleConfig> {
        serde_json::from_str(s).ok()
    }
}

fn rule_from_xml(r: XmlRule, tiers: &[String]) -> Result<Rule, ConfigError> {
    let id = match r.id {
        Some(id) if id.chars().count() > 255 => {
            return Err(invalid_argument(
                "ID length should not exceed allowed limit of 255",
            ));
        }
        Some(id) if !id.is_empty() => id,
        // AWS names unnamed rules.
        _ => uuid::Uuid::new_v4().simple().to_string(),
    };
    let enabled = match r.status.as_str() {
        "Enabled" => true,
        "Disabled" => false,
        _ => return Err(malformed()),
    };
    let filter = match (r.filter, r.prefix) {
        (Some(_), Some(_)) => return Err(malformed()),
        (None, None) => return Err(malformed()),
        (None, Some(p)) => Filter {
            prefix: p,
            form: FilterForm::RulePrefix,
            ..Default::default()
        },
        (Some(f), None) => filter_from_xml(f)?,
    };
    if let (Some(gt), Some(lt)) = (filter.size_greater_than, filter.size_less_than)
        && gt >= lt
    {
        return Err(invalid_argument(
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
        ));
    }
    let expiration = match r.expiration {
        None => None,
        Some(e) => {
            let days = positive(&e.days, "'Days' for Expiration action")?;
            let date = midnight(&e.date)?;
            let marker = match e.marker.as_deref().map(str::trim) {
                None => None,
                Some("true") => Some(true),
                Some("false") => Some(false),
                Some(_) => return Err(malformed()),
            };
            match (days.is_some(), date.is_some(), marker.is_some()) {
                (true, true, _) => return Err(malformed()),
                (false, false, false) => return Err(malformed()),
                (true, _, true) | (_, true, true) => {
                    return Err(invalid_argument(
                        "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy.",
                    ));
                }
                _ => {}
            }
            if marker.is_some() && !filter.tags.is_empty() {
                return Err(invalid_request(
                    "ExpiredObjectDeleteMarker cannot be specified with tags.",
                ));
            }
            Some(Expiration {
                days,
                date,
                expired_object_delete_marker: marker,
            })
        }
    };
    let mut transitions = Vec::new();
    for t in r.transitions {
        let days = match t.days.as_ref().map(|s| s.trim().parse::<i64>()) {
            None => None,
            Some(Err(_)) => return Err(malformed()),
            Some(Ok(n)) if n < 0 => {
                return Err(invalid_argument(
                    "'Days' in Transition action must be nonnegative",
                ));
            }
            Some(Ok(n)) => Some(n.min(i64::from(u32::MAX)) as u32),
        };
        let date = midnight(&t.date)?;
        if days.is_some() == date.is_some() {
            return Err(malformed());
        }
        check_storage_class(&t.storage_class, tiers)?;
        transitions.push(Transition {
            days,
            date,
            storage_class: t.storage_class,
        });
    }
    let noncurrent_expiration = match r.noncurrent_expiration {
        None => None,
        Some(n) => {
            let days = positive(
                &n.days,
                "'NoncurrentDays' for NoncurrentVersionExpiration action",
            )?;
            let newer = positive(&n.newer, "'NewerNoncurrentVersions'")?;
            if days.is_none() {
                return Err(malformed());
            }
            Some(NoncurrentExpiration {
                noncurrent_days: days,
                newer_noncurrent_versions: newer,
            })
        }
    };
    let mut noncurrent_transitions = Vec::new();
    for n in r.noncurrent_transitions {
        let days = positive(
            &n.days,
            "'NoncurrentDays' for NoncurrentVersionTransition action",
        )?;
        if days.is_none() {
            return Err(malformed());
        }
        check_storage_class(&n.storage_class, tiers)?;
        noncurrent_transitions.push(NoncurrentTransition {
            noncurrent_days: days,
            newer_noncurrent_versions: positive(&n.newer, "'NewerNoncurrentVersions'")?,
            storage_class: n.storage_class,
        });
    }
    let abort_multipart_days = match r.abort {
        None => None,
        Some(a) => {
            let days = positive(
                &a.days,
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action",
            )?;
            if days.is_none() {
                return Err(malformed());
            }
            if !filter.tags.is_empty() {
                return Err(invalid_request(
                    "AbortIncompleteMultipartUpload cannot be specified with Tags.",
                ));
            }
            days
        }
    };
    if expiration.is_none()
        && transitions.is_empty()
        && noncurrent_expiration.is_none()
        && noncurrent_transitions.is_empty()
        && abort_multipart_days.is_none()
    {
        return Err(invalid_request(
            "At least one action needs to be specified in a rule",
        ));
    }
    Ok(Rule {
        id,
        enabled,
        filter,
        expiration,
        transitions,
        noncurrent_expiration,
        noncurrent_transitions,
        abort_multipart_days,
    })
}

fn filter_from_xml(f: XmlFilter) -> Result<Filter, ConfigError> {
    let conditions = usize::from(f.prefix.is_some())
        + usize::from(f.tag.is_some())
        + usize::from(f.size_gt.is_some())
        + usize::from(f.size_lt.is_some());
    match f.and {
        Some(and) => {
            if conditions > 0 {
                return Err(malformed());
            }
            let tags: Vec<(String, String)> =
                and.tags.into_iter().map(|t| (t.key, t.value)).collect();
            let mut seen = std::collections::HashSet::new();
            if tags.iter().any(|(k, _)| !seen.insert(k.clone())) {
                return Err(invalid_argument("Duplicate Tag Keys are not allowed."));
            }
            Ok(Filter {
                prefix: and.prefix.unwrap_or_default(),
                tags,
                size_greater_than: number(&and.size_gt)?,
                size_less_than: number(&and.size_lt)?,
                form: FilterForm::And,
            })
        }
        None => {
            if conditions > 1 {
                return Err(malformed());
            }
            Ok(Filter {
                prefix: f.prefix.unwrap_or_default(),
                tags: f.tag.into_iter().map(|t| (t.key, t.value)).collect(),
                size_greater_than: number(&f.size_gt)?,
                size_less_than: number(&f.size_lt)?,
                form: FilterForm::Single,
            })
        }
    }
}

fn rule_to_xml(r: &Rule) -> XmlRule {
    let f = &r.filter;
    let (filter, prefix) = match f.form {
        FilterForm::RulePrefix => (None, Some(f.prefix.clone())),
        FilterForm::And => (
            Some(XmlFilter {
                and: Some(XmlAnd {
                    prefix: (!f.prefix.is_empty()).then(|| f.prefix.clone()),
                    tags: f
                        .tags
                        .iter()
                        .map(|(k, v)| XmlTag {
                            key: k.clone(),
                            value: v.clone(),
                        })
                        .collect(),
                    size_gt: f.size_greater_than.map(|n| n.to_string()),
                    size_lt: f.size_less_than.map(|n| n.to_string()),
                }),
                ..Default::default()
            }),
            None,
        ),
        FilterForm::Single => (
            Some(XmlFilter {
                prefix: (!f.prefix.is_empty()).then(|| f.prefix.clone()),
                tag: f.tags.first().map(|(k, v)| XmlTag {
                    key: k.clone(),
                    value: v.clone(),
                }),
                size_gt: f.size_greater_than.map(|n| n.to_string()),
                size_lt: f.size_less_than.map(|n| n.to_string()),
                and: None,
            }),
            None,
        ),
    };
    XmlRule {
        id: Some(r.id.clone()),
        filter,
        prefix,
        status: if r.enabled { "Enabled" } else { "Disabled" }.into(),
        expiration: r.expiration.as_ref().map(|e| XmlExpiration {
            date: e.date.map(iso_date),
            days: e.days.map(|d| d.to_string()),
            marker: e.expired_object_delete_marker.map(|b| b.to_string()),
        }),
        transitions: r
            .transitions
            .iter()
            .map(|t| XmlTransition {
                date: t.date.map(iso_date),
                days: t.days.map(|d| d.to_string()),
                storage_class: t.storage_class.clone(),
            })
            .collect(),
        noncurrent_expiration: r
            .noncurrent_expiration
            .as_ref()
            .map(|n| XmlNoncurrentExpiration {
                days: n.noncurrent_days.map(|d| d.to_string()),
                newer: n.newer_noncurrent_versions.map(|d| d.to_string()),
            }),
        noncurrent_transitions: r
            .noncurrent_transitions
            .iter()
            .map(|n| XmlNoncurrentTransition {
                days: n.noncurrent_days.map(|d| d.to_string()),
                newer: n.newer_noncurrent_versions.map(|d| d.to_string()),
                storage_class: n.storage_class.clone(),
            })
            .collect(),
        abort: r.abort_multipart_days.map(|d| XmlAbort {
            days: Some(d.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(rules: &str) -> Result<LifecycleConfig, ConfigError> {
        LifecycleConfig::from_xml(
            format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>").as_bytes(),
            &[],
        )
    }

    #[test]
    fn round_trips_every_filter_form() {
        let xml = r#"<Rule><ID>a</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>
<Rule><ID>b</ID><Filter><And><Prefix>x/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Disabled</Status><NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays><NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>
<Rule><ID>c</ID><Prefix></Prefix><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>
<Rule><ID>d</ID><Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>"#;
        let cfg = parse(xml).unwrap();
        assert_eq!(cfg.rules.len(), 4);
        assert_eq!(cfg.rules[1].filter.tags, vec![("k".into(), "v".into())]);
        assert_eq!(cfg.rules[1].filter.form, FilterForm::And);
        assert_eq!(
            cfg.rules[1]
                .noncurrent_expiration
                .as_ref()
                .unwrap()
                .newer_noncurrent_versions,
            Some(1)
        );
        assert_eq!(cfg.rules[2].filter.form, FilterForm::RulePrefix);
        let again = LifecycleConfig::from_xml(cfg.to_xml().as_bytes(), &[]).unwrap();
        assert_eq!(again, cfg);
        assert!(
            cfg.to_xml()
                .contains("<Date>2030-01-01T00:00:00.000Z</Date>")
        );
        assert_eq!(LifecycleConfig::from_json(&cfg.to_json()), Some(cfg));
    }

    #[test]
    fn refusals_carry_aws_codes() {
        let code = |x: &str| parse(x).unwrap_err().code;
        let rule =
            |body: &str| format!("<Rule><ID>r</ID><Filter/><Status>Enabled</Status>{body}</Rule>");
        assert_eq!(code(""), "MalformedXML");
        assert_eq!(
            code(
                "<Rule><Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>"
            ),
            "MalformedXML"
        );
        assert_eq!(
            code(&rule("<Expiration><Days>0</Days></Expiration>")),
            "InvalidArgument"
        );
        assert_eq!(
            code(&rule("<Expiration><Days>x</Days></Expiration>")),
            "MalformedXML"
        );
        assert_eq!(
            code(&rule(
                "<Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>"
            )),
            "MalformedXML"
        );
        assert_eq!(
            code(&rule(
                "<Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>"
            )),
            "InvalidArgument"
        );
        assert_eq!(
            code(&rule(
                "<Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
            )),
            "InvalidArgument"
        );
        assert_eq!(code(&rule("")), "InvalidRequest");
        assert_eq!(
            code(&format!(
                "{}{}",
                rule("<Expiration><Days>1</Days></Expiration>"),
                rule("<Expiration><Days>2</Days></Expiration>")
            )),
            "InvalidArgument"
        );
        assert_eq!(
            code(&rule(
                "<Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>"
            )),
            "InvalidRequest"
        );
        assert_eq!(
            code(&rule(
                "<Transition><Days>1</Days><StorageClass>NOPE</StorageClass></Transition>"
            )),
            "MalformedXML"
        );
        assert_eq!(
            code(
                "<Rule><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"
            ),
            "MalformedXML"
        );
        assert_eq!(
            code(
                "<Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"
            ),
            "InvalidRequest"
        );
        assert_eq!(
            code("<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"),
            "MalformedXML"
        );
        let long = "x".repeat(256);
        assert_eq!(
            code(&format!(
                "<Rule><ID>{long}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"
            )),
            "InvalidArgument"
        );
        // A configured tier may be named.
        let ok = LifecycleConfig::from_xml(
            format!(
                "<LifecycleConfiguration>{}</LifecycleConfiguration>",
                rule("<Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>")
            )
            .as_bytes(),
            &["GLACIER".to_string()],
        );
        assert!(ok.is_ok());
    }
}
