//! The policy document model and its JSON parser.
//!
//! Parsing goes through `serde_json::Value` and is written by hand rather
//! than derived, because the grammar's "string or array", "object or array"
//! and "exactly one of X / NotX" rules, and AWS-worded errors for each of
//! them, do not map onto derive attributes.

use std::collections::HashSet;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::condition::{ConditionBlock, ConditionOperator};
use crate::error::PolicyError;

pub const VERSION_2012_10_17: &str = "2012-10-17";
pub const VERSION_2008_10_17: &str = "2008-10-17";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<PrincipalSpec>,
    pub not_principal: Option<PrincipalSpec>,
    pub action: ActionSpec,
    pub resource: Option<ResourceSpec>,
    /// All blocks must hold (AND).
    pub condition: Vec<ConditionBlock>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSpec {
    Action(Vec<String>),
    NotAction(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceSpec {
    Resource(Vec<String>),
    NotResource(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSpec {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Any,
    /// Account ids, `arn:aws:iam::ACCOUNT:root`, or user/role ARNs.
    Aws(Vec<String>),
    Service(Vec<String>),
    Federated(Vec<String>),
    /// A principal object naming more than one type, e.g.
    /// `{"AWS": [...], "Service": [...]}`; matches if any part matches.
    Multiple(Vec<PrincipalSpec>),
}

impl Policy {
    pub fn parse(json: &str) -> Result<Policy, PolicyError> {
        let value: Value = serde_json::from_str(json).map_err(|e| PolicyError::Syntax {
            detail: e.to_string(),
        })?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Policy, PolicyError> {
        let Value::Object(doc) = value else {
            return Err(PolicyError::Syntax {
                detail: "the policy document must be a JSON object".into(),
            });
        };
        check_known_fields(doc, &["Version", "Id", "Statement"])?;
        let version = optional_string(doc, "Version")?;
        if let Some(v) = &version
            && v != VERSION_2012_10_17
            && v != VERSION_2008_10_17
        {
            return Err(PolicyError::InvalidVersion);
        }
        let id = optional_string(doc, "Id")?;
        let statements = match doc.get("Statement") {
            None => return Err(PolicyError::MissingField("Statement")),
            Some(Value::Object(s)) => vec![parse_statement(s)?],
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(PolicyError::MissingField("Statement"));
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::Object(s) => parse_statement(s),
                    _ => Err(PolicyError::InvalidStatement),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(PolicyError::InvalidStatement),
        };
        let mut sids = HashSet::new();
        for sid in statements
            .iter()
            .filter_map(|s: &Statement| s.sid.as_deref())
        {
            if !sid.is_empty() && !sids.insert(sid) {
                return Err(PolicyError::DuplicateSid(sid.to_string()));
            }
        }
        Ok(Policy {
            version,
            id,
            statements,
        })
    }

    /// Whether `${...}` policy variables are substituted: AWS only does so
    /// for version `2012-10-17` and reads them literally otherwise.
    pub fn variables_enabled(&self) -> bool {
        self.version.as_deref() == Some(VERSION_2012_10_17)
    }

    /// The policy as JSON, in a normalised form (single values become
    /// arrays, condition values become strings). `Policy::parse` of the
    /// result yields an equal `Policy`.
    pub fn to_value(&self) -> Value {
        let mut doc = Map::new();
        if let Some(v) = &self.version {
            doc.insert("Version".into(), v.clone().into());
        }
        if let Some(id) = &self.id {
            doc.insert("Id".into(), id.clone().into());
        }
        let statements = self.statements.iter().map(Statement::to_value).collect();
        doc.insert("Statement".into(), Value::Array(statements));
        Value::Object(doc)
    }

    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

impl FromStr for Policy {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&self.to_value(), serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Policy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Policy::from_value(&value).map_err(serde::de::Error::custom)
    }
}

impl Statement {
    fn to_value(&self) -> Value {
        let mut s = Map::new();
        if let Some(sid) = &self.sid {
            s.insert("Sid".into(), sid.clone().into());
        }
        let effect = match self.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        };
        s.insert("Effect".into(), effect.into());
        if let Some(p) = &self.principal {
            s.insert("Principal".into(), p.to_value());
        }
        if let Some(p) = &self.not_principal {
            s.insert("NotPrincipal".into(), p.to_value());
        }
        let (name, actions) = match &self.action {
            ActionSpec::Action(a) => ("Action", a),
            ActionSpec::NotAction(a) => ("NotAction", a),
        };
        s.insert(name.into(), strings(actions));
        match &self.resource {
            Some(ResourceSpec::Resource(r)) => s.insert("Resource".into(), strings(r)),
            Some(ResourceSpec::NotResource(r)) => s.insert("NotResource".into(), strings(r)),
            None => None,
        };
        if !self.condition.is_empty() {
            let mut operators = Map::new();
            for block in &self.condition {
                let entry = operators
                    .entry(block.operator.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(keys) = entry {
                    keys.insert(block.key.clone(), strings(&block.values));
                }
            }
            s.insert("Condition".into(), Value::Object(operators));
        }
        Value::Object(s)
    }
}

impl PrincipalSpec {
    fn to_value(&self) -> Value {
        match self {
            PrincipalSpec::Any => "*".into(),
            other => {
                let mut map = Map::new();
                other.fill_map(&mut map);
                Value::Object(map)
            }
        }
    }

    fn fill_map(&self, map: &mut Map<String, Value>) {
        match self {
            PrincipalSpec::Any => {
                map.insert("AWS".into(), "*".into());
            }
            PrincipalSpec::Aws(v) => {
                map.insert("AWS".into(), strings(v));
            }
            PrincipalSpec::Service(v) => {
                map.insert("Service".into(), strings(v));
            }
            PrincipalSpec::Federated(v) => {
                map.insert("Federated".into(), strings(v));
            }
            PrincipalSpec::Multiple(parts) => parts.iter().for_each(|p| p.fill_map(map)),
        }
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

fn check_known_fields(obj: &Map<String, Value>, known: &[&str]) -> Result<(), PolicyError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(PolicyError::UnknownField(unknown.clone())),
        None => Ok(()),
    }
}

fn optional_string(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, PolicyError> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PolicyError::InvalidElement { element: field }),
    }
}

/// A string, or a non-empty array of strings.
fn string_list(value: &Value, element: &'static str) -> Result<Vec<String>, PolicyError> {
    let invalid = || PolicyError::InvalidElement { element };
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(invalid))
            .collect(),
        _ => Err(invalid()),
    }
}

/// Returns the value of whichever of `name` / `not_name` is present,
/// flagged `true` for the `Not` form.
fn one_of<'a>(
    obj: &'a Map<String, Value>,
    name: &'static str,
    not_name: &'static str,
) -> Result<Option<(bool, &'a Value)>, PolicyError> {
    match (obj.get(name), obj.get(not_name)) {
        (Some(_), Some(_)) => Err(PolicyError::ConflictingElements(name, not_name)),
        (Some(v), None) => Ok(Some((false, v))),
        (None, Some(v)) => Ok(Some((true, v))),
        (None, None) => Ok(None),
    }
}

fn parse_statement(s: &Map<String, Value>) -> Result<Statement, PolicyError> {
    check_known_fields(
        s,
        &[
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ],
    )?;
    let sid = optional_string(s, "Sid")?;
    let effect = match s.get("Effect") {
        None => return Err(PolicyError::MissingField("Effect")),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(Value::String(e)) => return Err(PolicyError::InvalidEffect(e.clone())),
        Some(_) => return Err(PolicyError::InvalidElement { element: "Effect" }),
    };

    let (principal, not_principal) = match one_of(s, "Principal", "NotPrincipal")? {
        None => (None, None),
        Some((false, v)) => (Some(parse_principal(v)?), None),
        Some((true, v)) => (None, Some(parse_principal(v)?)),
    };

    let action = match one_of(s, "Action", "NotAction")? {
        None => return Err(PolicyError::MissingAction),
        Some((negated, v)) => {
            let element = if negated { "NotAction" } else { "Action" };
            let actions = string_list(v, element)?;
            if let Some(bad) = actions.iter().find(|a| !is_valid_action(a)) {
                return Err(PolicyError::InvalidAction(bad.clone()));
            }
            if negated {
                ActionSpec::NotAction(actions)
            } else {
                ActionSpec::Action(actions)
            }
        }
    };

    let resource = match one_of(s, "Resource", "NotResource")? {
        None => None,
        Some((negated, v)) => {
            let element = if negated { "NotResource" } else { "Resource" };
            let resources = string_list(v, element)?;
            if let Some(bad) = resources.iter().find(|r| !is_valid_resource(r)) {
                return Err(PolicyError::InvalidResource(bad.clone()));
            }
            Some(if negated {
                ResourceSpec::NotResource(resources)
            } else {
                ResourceSpec::Resource(resources)
            })
        }
    };

    let condition = match s.get("Condition") {
        None => Vec::new(),
        Some(v) => parse_condition(v)?,
    };

    Ok(Statement {
        sid,
        effect,
        principal,
        not_principal,
        action,
        resource,
        condition,
    })
}

/// `*`, or `service:Name` where the service prefix is alphanumeric/dashes
/// and the name has no spaces; either part may use wildcards.
fn is_valid_action(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    let Some((service, name)) = action.split_once(':') else {
        return false;
    };
    let service_ok = !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '*' | '?'));
    let name_ok = !name.is_empty() && !name.contains(':') && !name.chars().any(char::is_whitespace);
    service_ok && name_ok
}

/// `*`, or something shaped like an ARN (six colon-separated fields; the
/// last may itself contain colons).
fn is_valid_resource(resource: &str) -> bool {
    resource == "*" || (resource.starts_with("arn:") && resource.matches(':').count() >= 5)
}

fn parse_principal(value: &Value) -> Result<PrincipalSpec, PolicyError> {
    let invalid = || PolicyError::InvalidPrincipal(value.to_string());
    let map = match value {
        Value::String(s) if s == "*" => return Ok(PrincipalSpec::Any),
        Value::Object(map) if !map.is_empty() => map,
        _ => return Err(invalid()),
    };
    let mut parts = Vec::new();
    let mut everyone = false;
    for (kind, v) in map {
        let ids = string_list(v, "Principal").map_err(|_| invalid())?;
        if ids
            .iter()
            .any(|id| id.is_empty() || id.chars().any(char::is_whitespace))
        {
            return Err(invalid());
        }
        parts.push(match kind.as_str() {
            "AWS" if ids.iter().all(|id| is_valid_aws_principal(id)) => {
                everyone |= ids.iter().any(|id| id == "*");
                PrincipalSpec::Aws(ids)
            }
            "Service" => PrincipalSpec::Service(ids),
            "Federated" => PrincipalSpec::Federated(ids),
            // `CanonicalUser` is S3's legacy id scheme, which Hafiz does
            // not have; rejecting it beats accepting a principal that could
            // never match.
            _ => return Err(invalid()),
        });
    }
    // `{"AWS": "*"}` already covers everyone, whatever else is listed.
    Ok(if everyone {
        PrincipalSpec::Any
    } else if parts.len() == 1 {
        parts.remove(0)
    } else {
        PrincipalSpec::Multiple(parts)
    })
}

/// An ARN, or a bare account id (anything without a colon).
fn is_valid_aws_principal(id: &str) -> bool {
    if id.starts_with("arn:") {
        id.matches(':').count() >= 5
    } else {
        !id.contains(':')
    }
}

fn parse_condition(value: &Value) -> Result<Vec<ConditionBlock>, PolicyError> {
    let Value::Object(operators) = value else {
        return Err(PolicyError::InvalidCondition);
    };
    let mut blocks = Vec::new();
    for (op_name, entries) in operators {
        let operator = ConditionOperator::parse(op_name)?;
        let Value::Object(entries) = entries else {
            return Err(PolicyError::InvalidCondition);
        };
        for (key, raw) in entries {
            if key.is_empty() {
                return Err(PolicyError::InvalidCondition);
            }
            let invalid_value = || PolicyError::InvalidConditionValue {
                operator: op_name.clone(),
                key: key.clone(),
                value: raw.to_string(),
            };
            let values = match raw {
                Value::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|v| scalar_text(v).ok_or_else(invalid_value))
                    .collect::<Result<Vec<_>, _>>()?,
                scalar => vec![scalar_text(scalar).ok_or_else(invalid_value)?],
            };
            let block = ConditionBlock {
                operator,
                key: key.clone(),
                values,
            };
            block.validate()?;
            blocks.push(block);
        }
    }
    Ok(blocks)
}

/// Condition values may be JSON strings, numbers or booleans; AWS compares
/// them all as text.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_statement_object_and_scalar_lists() {
        let p = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
        )
        .unwrap();
        assert_eq!(p.version, None);
        assert_eq!(p.statements.len(), 1);
        let s = &p.statements[0];
        assert_eq!(s.action, ActionSpec::Action(vec!["s3:GetObject".into()]));
        assert_eq!(
            s.resource,
            Some(ResourceSpec::Resource(vec!["arn:aws:s3:::b/*".into()]))
        );
    }

    #[test]
    fn principal_forms() {
        let parse = |p: &str| {
            let doc =
                format!(r#"{{"Statement":{{"Effect":"Allow","Principal":{p},"Action":"*"}}}}"#);
            Policy::parse(&doc).map(|p| p.statements[0].principal.clone().unwrap())
        };
        assert_eq!(parse(r#""*""#).unwrap(), PrincipalSpec::Any);
        assert_eq!(parse(r#"{"AWS":"*"}"#).unwrap(), PrincipalSpec::Any);
        assert_eq!(
            parse(r#"{"AWS":["111122223333"]}"#).unwrap(),
            PrincipalSpec::Aws(vec!["111122223333".into()])
        );
        assert_eq!(
            parse(r#"{"AWS":"arn:aws:iam::1:user/a","Service":"s3.amazonaws.com"}"#).unwrap(),
            PrincipalSpec::Multiple(vec![
                PrincipalSpec::Aws(vec!["arn:aws:iam::1:user/a".into()]),
                PrincipalSpec::Service(vec!["s3.amazonaws.com".into()]),
            ])
        );
        for bad in [
            r#""alice""#,
            r#"{}"#,
            r#"{"CanonicalUser":"abc"}"#,
            r#"{"AWS":[]}"#,
            r#"{"AWS":"arn:aws:iam"}"#,
            r#"{"AWS":"a b"}"#,
            r#"{"AWS":"*","CanonicalUser":"abc"}"#,
            r#"["*"]"#,
        ] {
            assert!(
                matches!(parse(bad), Err(PolicyError::InvalidPrincipal(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn condition_values_of_any_scalar_type() {
        let p = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Action":"*","Condition":{
                "NumericLessThan":{"s3:max-keys":10},
                "Bool":{"aws:SecureTransport":true},
                "StringEquals":{"k":["a", 1.5]}}}}"#,
        )
        .unwrap();
        // Sorted because serde_json's map order depends on its features.
        let mut values: Vec<_> = p.statements[0]
            .condition
            .iter()
            .map(|b| b.values.clone())
            .collect();
        values.sort();
        assert_eq!(
            values,
            vec![
                vec!["10".to_string()],
                vec!["a".to_string(), "1.5".to_string()],
                vec!["true".to_string()],
            ]
        );
    }

    #[test]
    fn actions_and_resources_are_checked() {
        for action in ["s3:*", "*", "s3:Get*", "iam:CreateUser", "s3:?etObject"] {
            assert!(is_valid_action(action), "{action}");
        }
        for action in [
            "",
            "s3",
            "s3:",
            ":Get",
            "s3:Get Object",
            "s 3:Get",
            "s3:a:b",
        ] {
            assert!(!is_valid_action(action), "{action}");
        }
        assert!(is_valid_resource("arn:aws:s3:::b"));
        assert!(is_valid_resource("*"));
        assert!(!is_valid_resource("bucket/key"));
        assert!(!is_valid_resource("arn:aws:s3"));
    }

    #[test]
    fn json_round_trip() {
        let src = r#"{"Version":"2012-10-17","Id":"x","Statement":[
            {"Sid":"1","Effect":"Deny","NotPrincipal":{"AWS":["111122223333"],"Federated":"f"},
             "NotAction":"iam:*","NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],
             "Condition":{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*",3]},"Null":{"k":true}}},
            {"Effect":"Allow","Principal":"*","Action":["s3:GetObject"]}]}"#;
        let p = Policy::parse(src).unwrap();
        let again = Policy::parse(&p.to_json()).unwrap();
        assert_eq!(p, again);
        let via_serde: Policy = serde_json::from_str(src).unwrap();
        assert_eq!(via_serde, p);
        assert_eq!(serde_json::to_value(&p).unwrap(), p.to_value());
    }
}
