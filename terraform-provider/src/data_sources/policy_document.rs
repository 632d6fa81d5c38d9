//! `data "hafiz_policy_document"`: a policy written as HCL blocks, rendered to the
//! JSON the server reads and checked by the server's own parser at plan.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::resources::iam::{PolicyKind, check_policy};
use crate::schema::*;
use crate::state::{Strings, invalid, known, list};

pub struct PolicyDocument;

#[derive(Serialize, Deserialize, Default)]
pub struct DocumentState {
    pub id: Value<String>,
    pub version: Value<String>,
    pub json: Value<String>,
    pub statement: Value<Vec<StatementBlock>>,
}

#[derive(Serialize, Deserialize, Default, Clone)]
pub struct StatementBlock {
    pub sid: Value<String>,
    pub effect: Value<String>,
    pub actions: Strings,
    pub not_actions: Strings,
    pub resources: Strings,
    pub not_resources: Strings,
    pub principals: Value<Vec<PrincipalBlock>>,
    pub condition: Value<Vec<ConditionBlock>>,
}

#[derive(Serialize, Deserialize, Default, Clone)]
pub struct PrincipalBlock {
    #[serde(rename = "type")]
    pub kind: Value<String>,
    pub identifiers: Strings,
}

#[derive(Serialize, Deserialize, Default, Clone)]
pub struct ConditionBlock {
    pub test: Value<String>,
    pub variable: Value<String>,
    pub values: Strings,
}

fn non_empty(v: &Strings) -> Option<Json> {
    let l = list(v);
    (!l.is_empty()).then(|| json!(l))
}

/// The statement as IAM JSON (lists stay lists: the parser takes both forms).
fn render(s: &StatementBlock) -> Json {
    let mut m = Map::new();
    if let Some(sid) = known(&s.sid) {
        m.insert("Sid".into(), json!(sid));
    }
    m.insert("Effect".into(), json!(known(&s.effect).unwrap_or("Allow")));
    for (k, v) in [
        ("Action", &s.actions),
        ("NotAction", &s.not_actions),
        ("Resource", &s.resources),
        ("NotResource", &s.not_resources),
    ] {
        if let Some(l) = non_empty(v) {
            m.insert(k.into(), l);
        }
    }
    let principals = s.principals.as_ref_option().cloned().unwrap_or_default();
    if !principals.is_empty() {
        let anyone = principals.iter().any(|p| known(&p.kind) == Some("*"));
        let value = if anyone {
            json!("*")
        } else {
            let mut by_kind = Map::new();
            for p in &principals {
                let ids = list(&p.identifiers);
                by_kind.insert(known(&p.kind).unwrap_or_default().to_string(), json!(ids));
            }
            Json::Object(by_kind)
        };
        m.insert("Principal".into(), value);
    }
    let conditions = s.condition.as_ref_option().cloned().unwrap_or_default();
    if !conditions.is_empty() {
        let mut by_test = Map::new();
        for c in &conditions {
            let entry = by_test
                .entry(known(&c.test).unwrap_or_default().to_string())
                .or_insert_with(|| Json::Object(Map::new()));
            if let Json::Object(vars) = entry {
                let values = list(&c.values);
                vars.insert(
                    known(&c.variable).unwrap_or_default().to_string(),
                    json!(values),
                );
            }
        }
        m.insert("Condition".into(), Json::Object(by_test));
    }
    Json::Object(m)
}

#[async_trait]
impl DataSource for PolicyDocument {
    type State<'a> = DocumentState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        schema(block(
            "Renders a policy document from statement blocks.",
            [
                (
                    "id",
                    computed(
                        string(),
                        "A hash-free id: the rendered JSON's length and version.",
                    ),
                ),
                (
                    "version",
                    optional(string(), "Policy language version (default 2012-10-17)."),
                ),
                ("json", computed(string(), "The policy document.")),
            ],
            [(
                "statement",
                repeated(block(
                    "A statement.",
                    [
                        ("sid", optional(string(), "Statement id.")),
                        ("effect", optional(string(), "Allow (default) or Deny.")),
                        (
                            "actions",
                            optional(list_of(string()), "Actions, e.g. s3:GetObject."),
                        ),
                        (
                            "not_actions",
                            optional(list_of(string()), "Every action but these."),
                        ),
                        ("resources", optional(list_of(string()), "Resource ARNs.")),
                        (
                            "not_resources",
                            optional(list_of(string()), "Every resource but these."),
                        ),
                    ],
                    [
                        (
                            "principals",
                            repeated(block(
                                "Principals (bucket policies).",
                                [
                                    ("type", required(string(), "AWS, Federated or *.")),
                                    (
                                        "identifiers",
                                        required(list_of(string()), "ARNs, account ids or *."),
                                    ),
                                ],
                                [],
                            )),
                        ),
                        (
                            "condition",
                            repeated(block(
                                "A condition.",
                                [
                                    (
                                        "test",
                                        required(string(), "The operator, e.g. StringEquals."),
                                    ),
                                    (
                                        "variable",
                                        required(string(), "The key, e.g. aws:SourceIp."),
                                    ),
                                    (
                                        "values",
                                        required(list_of(string()), "Values to compare with."),
                                    ),
                                ],
                                [],
                            )),
                        ),
                    ],
                )),
            )],
        ))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: DocumentState,
        _meta: ValueEmpty,
    ) -> Option<DocumentState> {
        let version = known(&config.version).unwrap_or("2012-10-17").to_string();
        let statements: Vec<Json> = config.statement.iter().flatten().map(render).collect();
        for (i, s) in config.statement.iter().flatten().enumerate() {
            if let Some(e) = known(&s.effect)
                && e != "Allow"
                && e != "Deny"
            {
                invalid(
                    diags,
                    AttributePath::new("statement")
                        .index(i as i64)
                        .attribute("effect"),
                    "Invalid effect",
                    format!("effect must be Allow or Deny, not {e:?}."),
                );
            }
        }
        let doc = json!({"Version": version, "Statement": statements});
        // Compact, keys sorted: the form Terraform's jsonencode writes and the form an
        // imported policy is read back in, so the three compare equal as strings.
        let text = doc.to_string();
        // The parser's word only where the statements' own checks found nothing: one
        // mistake, one error, at its attribute.
        if diags.errors.is_empty() {
            check_policy(
                diags,
                AttributePath::new("statement"),
                &text,
                PolicyKind::Bucket(None),
            );
        }
        if !diags.errors.is_empty() {
            return None;
        }
        Some(DocumentState {
            id: Value::Value(format!("{}-{}", version, text.len())),
            version: config.version,
            json: Value::Value(text),
            statement: config.statement,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Strings {
        Value::Value(v.iter().map(|s| Value::Value(s.to_string())).collect())
    }

    #[test]
    fn renders_principals_and_conditions_as_iam_json() {
        let s = StatementBlock {
            actions: strings(&["s3:GetObject"]),
            resources: strings(&["arn:aws:s3:::b/*"]),
            principals: Value::Value(vec![PrincipalBlock {
                kind: Value::Value("*".into()),
                identifiers: strings(&["*"]),
            }]),
            condition: Value::Value(vec![ConditionBlock {
                test: Value::Value("IpAddress".into()),
                variable: Value::Value("aws:SourceIp".into()),
                values: strings(&["10.0.0.0/8"]),
            }]),
            ..Default::default()
        };
        let j = render(&s);
        assert_eq!(j["Effect"], "Allow");
        assert_eq!(j["Principal"], "*");
        assert_eq!(j["Action"], json!(["s3:GetObject"]));
        assert_eq!(
            j["Condition"]["IpAddress"]["aws:SourceIp"],
            json!(["10.0.0.0/8"])
        );
        assert!(j.get("NotAction").is_none());
    }
}
