//! Malformed documents must be rejected with an AWS-style message.

use hafiz_iam::{Policy, PolicyError};

fn err(json: &str) -> PolicyError {
    match Policy::parse(json) {
        Ok(p) => panic!("accepted {json}: {p:?}"),
        Err(e) => e,
    }
}

fn statement(body: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#)
}

#[test]
fn bad_json() {
    for text in [
        "",
        "   ",
        "{",
        "{\"Statement\": [}",
        "not json",
        "{\"a\":1,}",
        "\u{0}",
    ] {
        let e = err(text);
        assert!(matches!(e, PolicyError::Syntax { .. }), "{text:?}: {e:?}");
        assert_eq!(e.to_string(), "Syntax errors in policy.");
    }
}

#[test]
fn top_level_must_be_an_object() {
    for text in [
        "null",
        "[]",
        "\"policy\"",
        "42",
        "true",
        "[{\"Effect\":\"Allow\"}]",
    ] {
        assert!(matches!(err(text), PolicyError::Syntax { .. }), "{text}");
    }
}

#[test]
fn statement_must_be_object_or_array_of_objects() {
    for s in [
        r#""Allow""#,
        "42",
        "null",
        "true",
        r#"["Allow"]"#,
        r#"[[]]"#,
    ] {
        let e = err(&format!(r#"{{"Statement":{s}}}"#));
        assert_eq!(e, PolicyError::InvalidStatement, "{s}");
    }
    assert_eq!(
        err(r#"{"Statement":[]}"#),
        PolicyError::MissingField("Statement")
    );
    assert_eq!(
        err(r#"{"Version":"2012-10-17"}"#).to_string(),
        "Missing required field Statement"
    );
}

#[test]
fn missing_effect() {
    let e = err(&statement(r#"{"Action":"s3:*","Resource":"*"}"#));
    assert_eq!(e, PolicyError::MissingField("Effect"));
    assert_eq!(e.to_string(), "Missing required field Effect");
}

#[test]
fn invalid_effect() {
    for effect in [r#""allow""#, r#""Permit""#, "true", "null"] {
        let e = err(&statement(&format!(
            r#"{{"Effect":{effect},"Action":"s3:*","Resource":"*"}}"#
        )));
        assert!(
            matches!(
                e,
                PolicyError::InvalidEffect(_) | PolicyError::InvalidElement { element: "Effect" }
            ),
            "{effect}: {e:?}"
        );
    }
}

#[test]
fn both_action_and_not_action() {
    let e = err(&statement(
        r#"{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}"#,
    ));
    assert_eq!(e, PolicyError::ConflictingElements("Action", "NotAction"));
}

#[test]
fn neither_action_nor_not_action() {
    let e = err(&statement(r#"{"Effect":"Allow","Resource":"*"}"#));
    assert_eq!(e, PolicyError::MissingAction);
    assert_eq!(e.to_string(), "Policy statement must contain actions.");
}

#[test]
fn both_resource_and_not_resource() {
    let e = err(&statement(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"arn:aws:s3:::b"}"#,
    ));
    assert_eq!(
        e,
        PolicyError::ConflictingElements("Resource", "NotResource")
    );
}

#[test]
fn both_principal_and_not_principal() {
    let e = err(&statement(
        r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"s3:*","Resource":"*"}"#,
    ));
    assert_eq!(
        e,
        PolicyError::ConflictingElements("Principal", "NotPrincipal")
    );
}

#[test]
fn invalid_actions() {
    for action in [
        r#""s3""#,
        r#""GetObject""#,
        r#""s3:""#,
        r#""""#,
        r#"["s3:Get Object"]"#,
    ] {
        let e = err(&statement(&format!(
            r#"{{"Effect":"Allow","Action":{action},"Resource":"*"}}"#
        )));
        assert!(
            matches!(e, PolicyError::InvalidAction(_)),
            "{action}: {e:?}"
        );
        assert_eq!(e.to_string(), "Policy has invalid action");
    }
    for action in ["42", "[]", "[1]", r#"{"s3":"*"}"#, "null"] {
        let e = err(&statement(&format!(
            r#"{{"Effect":"Allow","Action":{action},"Resource":"*"}}"#
        )));
        assert_eq!(
            e,
            PolicyError::InvalidElement { element: "Action" },
            "{action}"
        );
    }
}

#[test]
fn invalid_resources() {
    for resource in [r#""bucket/key""#, r#""arn:aws:s3""#, r#"["*", "b"]"#] {
        let e = err(&statement(&format!(
            r#"{{"Effect":"Allow","Action":"s3:*","Resource":{resource}}}"#
        )));
        assert!(
            matches!(e, PolicyError::InvalidResource(_)),
            "{resource}: {e:?}"
        );
        assert_eq!(e.to_string(), "Policy has invalid resource");
    }
}

#[test]
fn unknown_fields() {
    assert_eq!(
        err(r#"{"Statement":{"Effect":"Allow","Action":"*"},"Extra":1}"#),
        PolicyError::UnknownField("Extra".into())
    );
    assert_eq!(
        err(&statement(
            r#"{"Effect":"Allow","Action":"*","Resources":"*"}"#
        )),
        PolicyError::UnknownField("Resources".into())
    );
    // Element names are case-sensitive.
    assert_eq!(
        err(&statement(r#"{"effect":"Allow","Action":"*"}"#)),
        PolicyError::UnknownField("effect".into())
    );
}

#[test]
fn invalid_version() {
    for v in [r#""2012-10-18""#, r#""""#, "2012", "null"] {
        let e = err(&format!(
            r#"{{"Version":{v},"Statement":{{"Effect":"Allow","Action":"*"}}}}"#
        ));
        assert!(
            matches!(
                e,
                PolicyError::InvalidVersion | PolicyError::InvalidElement { element: "Version" }
            ),
            "{v}: {e:?}"
        );
    }
}

#[test]
fn unknown_condition_operator() {
    let e = err(&statement(
        r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"k":"v"}}}"#,
    ));
    assert_eq!(
        e,
        PolicyError::InvalidConditionOperator("StringEqualz".into())
    );
    assert_eq!(e.to_string(), "Invalid Condition type : StringEqualz");
}

#[test]
fn malformed_condition_blocks() {
    for condition in [
        r#""StringEquals""#,
        r#"[]"#,
        r#"{"StringEquals":"k"}"#,
        r#"{"StringEquals":["k"]}"#,
        r#"{"StringEquals":{"":"v"}}"#,
    ] {
        let e = err(&statement(&format!(
            r#"{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{condition}}}"#
        )));
        assert_eq!(e, PolicyError::InvalidCondition, "{condition}");
    }
    for condition in [
        r#"{"StringEquals":{"k":null}}"#,
        r#"{"StringEquals":{"k":{"a":"b"}}}"#,
        r#"{"StringEquals":{"k":[]}}"#,
        r#"{"StringEquals":{"k":[["a"]]}}"#,
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/40"}}"#,
        r#"{"NumericLessThan":{"s3:max-keys":"ten"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"soon"}}"#,
        r#"{"Bool":{"aws:SecureTransport":"yes"}}"#,
        r#"{"Null":{"k":"maybe"}}"#,
        r#"{"BinaryEquals":{"k":"!!"}}"#,
    ] {
        let e = err(&statement(&format!(
            r#"{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{condition}}}"#
        )));
        assert!(
            matches!(e, PolicyError::InvalidConditionValue { .. }),
            "{condition}: {e:?}"
        );
    }
}

#[test]
fn invalid_principals() {
    for principal in [
        r#""alice""#,
        "{}",
        r#"{"Unknown":"x"}"#,
        "42",
        r#"{"AWS":42}"#,
    ] {
        let e = err(&statement(&format!(
            r#"{{"Effect":"Allow","Principal":{principal},"Action":"*","Resource":"*"}}"#
        )));
        assert!(
            matches!(e, PolicyError::InvalidPrincipal(_)),
            "{principal}: {e:?}"
        );
        assert_eq!(e.to_string(), "Invalid principal in policy");
    }
}

#[test]
fn duplicate_sids() {
    let e = err(
        r#"{"Statement":[{"Sid":"a","Effect":"Allow","Action":"*"},{"Sid":"a","Effect":"Deny","Action":"*"}]}"#,
    );
    assert_eq!(e, PolicyError::DuplicateSid("a".into()));
}

#[test]
fn non_string_sid_and_id() {
    assert_eq!(
        err(r#"{"Id":1,"Statement":{"Effect":"Allow","Action":"*"}}"#),
        PolicyError::InvalidElement { element: "Id" }
    );
    assert_eq!(
        err(r#"{"Statement":{"Sid":[],"Effect":"Allow","Action":"*"}}"#),
        PolicyError::InvalidElement { element: "Sid" }
    );
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(err(&deep), PolicyError::Syntax { .. }));
    let deep_condition = statement(&format!(
        r#"{{"Effect":"Allow","Action":"*","Condition":{{"StringEquals":{{"k":{}1{}}}}}}}"#,
        "[".repeat(120),
        "]".repeat(120)
    ));
    assert!(matches!(
        err(&deep_condition),
        PolicyError::InvalidConditionValue { .. }
    ));
}
