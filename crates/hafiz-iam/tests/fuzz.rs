//! Property tests: arbitrary input never panics, evaluation is fast, and a
//! few structural invariants of the decision hold for random policies.

use std::time::{Duration, Instant};

use hafiz_iam::{
    Decision, Effect, Policy, Principal, RequestContext, evaluate_identity, evaluate_resource,
    validate_bucket_policy, validate_identity_policy,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Words that make random documents hit real grammar paths instead of
/// failing on the first unknown key.
const WORDS: &[&str] = &[
    "Version",
    "2012-10-17",
    "2008-10-17",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Allow",
    "Deny",
    "Principal",
    "NotPrincipal",
    "AWS",
    "Service",
    "Federated",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "*",
    "?",
    "s3:*",
    "s3:Get*",
    "s3:GetObject",
    "iam:*",
    "s3:?ut*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "${*}",
    "${",
    "arn:aws:iam::111122223333:root",
    "111122223333",
    "arn:aws:iam::111122223333:user/alice",
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "ForAnyValue:StringLike",
    "ForAllValues:StringEquals",
    "StringEqualsIfExists",
    "NumericLessThan",
    "DateLessThan",
    "Bool",
    "Null",
    "IpAddress",
    "NotIpAddress",
    "ArnLike",
    "BinaryEquals",
    "aws:SourceIp",
    "aws:CurrentTime",
    "s3:prefix",
    "aws:TagKeys",
    "aws:username",
    "10.0.0.0/8",
    "::1",
    "true",
    "false",
    "10",
    "2024-01-01T00:00:00Z",
    "home/${aws:username}/*",
    "aGVsbG8=",
    "",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => "[a-zA-Z0-9:/*?${}.\\-]{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Documents that are usually valid, so evaluation gets exercised.
fn policy_json() -> impl Strategy<Value = Value> {
    let list = |words: &'static [&'static str]| {
        prop::collection::vec(proptest::sample::select(words), 1..3)
            .prop_map(|v| Value::from(v.into_iter().map(Value::from).collect::<Vec<_>>()))
    };
    let condition = (
        proptest::sample::select(
            &[
                "StringEquals",
                "StringNotEquals",
                "StringLike",
                "StringNotLikeIfExists",
                "ForAnyValue:StringEquals",
                "ForAllValues:StringLike",
                "IpAddress",
                "NotIpAddress",
                "Null",
                "Bool",
                "NumericLessThan",
                "DateGreaterThan",
                "ArnLike",
            ][..],
        ),
        proptest::sample::select(
            &[
                "aws:SourceIp",
                "s3:prefix",
                "aws:TagKeys",
                "aws:CurrentTime",
                "k",
            ][..],
        ),
        proptest::sample::select(
            &[
                "true",
                "false",
                "10",
                "10.0.0.0/8",
                "2020-01-01",
                "a*",
                "${aws:username}",
            ][..],
        ),
    )
        .prop_map(|(op, key, value)| {
            let mut inner = Map::new();
            inner.insert(key.into(), Value::from(value));
            let mut outer = Map::new();
            outer.insert(op.into(), Value::Object(inner));
            Value::Object(outer)
        });
    let statement = (
        any::<bool>(),
        prop::option::of(prop_oneof![
            Just(Value::from("*")),
            list(&[
                "111122223333",
                "arn:aws:iam::111122223333:user/alice",
                "arn:aws:iam::999:root"
            ])
            .prop_map(|v| {
                let mut m = Map::new();
                m.insert("AWS".into(), v);
                Value::Object(m)
            }),
        ]),
        any::<bool>(),
        list(&[
            "*",
            "s3:*",
            "s3:Get*",
            "s3:GetObject",
            "s3:PutObject",
            "iam:*",
            "s3:?etObject",
        ]),
        any::<bool>(),
        list(&[
            "*",
            "arn:aws:s3:::b",
            "arn:aws:s3:::b/*",
            "arn:aws:s3:::b/home/${aws:username}/*",
            "arn:aws:s3:::b/${*}",
        ]),
        prop::option::of(condition),
    )
        .prop_map(
            |(deny, principal, not_action, actions, not_resource, resources, condition)| {
                let mut s = Map::new();
                s.insert(
                    "Effect".into(),
                    Value::from(if deny { "Deny" } else { "Allow" }),
                );
                if let Some(p) = principal {
                    s.insert("Principal".into(), p);
                }
                s.insert(
                    (if not_action { "NotAction" } else { "Action" }).into(),
                    actions,
                );
                s.insert(
                    (if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    })
                    .into(),
                    resources,
                );
                if let Some(c) = condition {
                    s.insert("Condition".into(), c);
                }
                Value::Object(s)
            },
        );
    (any::<bool>(), prop::collection::vec(statement, 1..4)).prop_map(|(v2012, statements)| {
        let mut doc = Map::new();
        doc.insert(
            "Version".into(),
            Value::from(if v2012 { "2012-10-17" } else { "2008-10-17" }),
        );
        doc.insert("Statement".into(), Value::Array(statements));
        Value::Object(doc)
    })
}

/// A usually-valid document with one element of one statement replaced by
/// arbitrary JSON, to probe every element's error paths.
fn mutated_policy_json() -> impl Strategy<Value = Value> {
    (
        policy_json(),
        any::<prop::sample::Index>(),
        word(),
        json_value(),
    )
        .prop_map(|(mut doc, index, field, replacement)| {
            if let Some(Value::Array(statements)) = doc.get_mut("Statement") {
                let i = index.index(statements.len());
                if let Value::Object(s) = &mut statements[i] {
                    s.insert(field, replacement);
                }
            }
            doc
        })
}

fn context() -> impl Strategy<Value = RequestContext> {
    (
        proptest::sample::select(
            &[
                "s3:GetObject",
                "s3:PutObject",
                "S3:LISTBUCKET",
                "iam:CreateUser",
                "",
            ][..],
        ),
        proptest::sample::select(
            &[
                "arn:aws:s3:::b",
                "arn:aws:s3:::b/k",
                "arn:aws:s3:::b/home/alice/x",
                "arn:aws:s3:::b/*",
                "arn:aws:s3:::c/k",
                "",
                "*",
            ][..],
        ),
        prop::option::of(prop_oneof![
            Just(Principal::user("111122223333", "alice", "AIDA1")),
            Just(Principal::root("111122223333")),
            Just(Principal::user("999", "*", "AIDA2")),
        ]),
        prop::collection::vec((word(), word()), 0..5),
    )
        .prop_map(|(action, resource, principal, keys)| {
            let mut ctx = RequestContext::new(action, resource);
            ctx.principal = principal;
            keys.into_iter().fold(ctx, |ctx, (k, v)| ctx.with_key(k, v))
        })
}

fn flip_to_deny(p: &Policy) -> Policy {
    let mut denied = p.clone();
    for s in &mut denied.statements {
        s.effect = Effect::Deny;
    }
    denied
}

/// Runs every entry point on `p`; returns the identity decision.
fn exercise(p: &Policy, ctx: &RequestContext) -> Decision {
    let _ = validate_identity_policy(p);
    let _ = validate_bucket_policy(p, "b");
    let _ = evaluate_resource(p, ctx);
    evaluate_identity(&[p], ctx)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Policy::parse(&text);
    }

    #[test]
    fn json_like_text_never_panics(text in "[\\[\\]{}\":,a-zA-Z0-9* ${}]{0,80}") {
        let _ = Policy::parse(&text);
    }

    #[test]
    fn arbitrary_json_never_panics(doc in json_value(), ctx in context()) {
        if let Ok(p) = Policy::from_value(&doc) {
            exercise(&p, &ctx);
        }
    }

    #[test]
    fn mutated_policies_never_panic(doc in mutated_policy_json(), ctx in context()) {
        if let Ok(p) = Policy::parse(&doc.to_string()) {
            exercise(&p, &ctx);
            prop_assert_eq!(&Policy::parse(&p.to_json()).unwrap(), &p);
        }
    }

    #[test]
    fn random_policies_evaluate_quickly_and_round_trip(doc in policy_json(), ctx in context()) {
        let text = doc.to_string();
        let start = Instant::now();
        let parsed = Policy::parse(&text);
        if let Ok(p) = &parsed {
            exercise(p, &ctx);
            prop_assert_eq!(&Policy::parse(&p.to_json()).unwrap(), p);
        }
        prop_assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
    }

    /// Turning every Allow into a Deny must turn Allow into ExplicitDeny and
    /// leave NotApplicable alone: whether a statement applies never depends
    /// on its effect.
    #[test]
    fn effect_does_not_change_applicability(doc in policy_json(), ctx in context()) {
        if let Ok(p) = Policy::from_value(&doc) {
            let denied = flip_to_deny(&p);
            let before = evaluate_identity(&[&p], &ctx);
            let after = evaluate_identity(&[&denied], &ctx);
            match before {
                Decision::NotApplicable => prop_assert_eq!(after, Decision::NotApplicable),
                _ => prop_assert_eq!(after, Decision::ExplicitDeny),
            }
        }
    }

    /// Adding a policy can only move the decision towards ExplicitDeny.
    #[test]
    fn adding_policies_is_monotonic(a in policy_json(), b in policy_json(), ctx in context()) {
        if let (Ok(a), Ok(b)) = (Policy::from_value(&a), Policy::from_value(&b)) {
            let rank = |d| match d {
                Decision::NotApplicable => 0,
                Decision::Allow => 1,
                Decision::ExplicitDeny => 2,
            };
            let alone = evaluate_identity(&[&a], &ctx);
            let both = evaluate_identity(&[&a, &b], &ctx);
            prop_assert!(rank(both) >= rank(alone));
        }
    }

    /// Wildcard-heavy patterns against long inputs stay fast.
    #[test]
    fn hostile_wildcards_are_fast(stars in 1usize..40, len in 1usize..20_000) {
        let resource = format!("arn:aws:s3:::b/{}", "a".repeat(len));
        let pattern = format!("arn:aws:s3:::b/{}b", "a*".repeat(stars));
        let doc = format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"{pattern}",
                "Condition":{{"StringLike":{{"k":"{pattern}"}},"ArnLike":{{"k":"{pattern}"}}}}}}}}"#
        );
        let p = Policy::parse(&doc).unwrap();
        let ctx = RequestContext::new("s3:GetObject", resource.clone()).with_key("k", resource);
        let start = Instant::now();
        prop_assert_eq!(evaluate_identity(&[&p], &ctx), Decision::NotApplicable);
        prop_assert!(start.elapsed() < Duration::from_millis(500), "took {:?}", start.elapsed());
    }
}

#[test]
fn pathological_pattern_against_long_resource_is_fast() {
    let p = Policy::parse(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/a*a*a*a*a*a*a*b"}}"#,
    )
    .unwrap();
    let long = format!("arn:aws:s3:::b/{}", "a".repeat(100_000));
    let start = Instant::now();
    assert_eq!(
        evaluate_identity(&[&p], &RequestContext::new("s3:GetObject", long.clone())),
        Decision::NotApplicable
    );
    assert_eq!(
        evaluate_identity(
            &[&p],
            &RequestContext::new("s3:GetObject", format!("{long}b"))
        ),
        Decision::Allow
    );
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_millis(250), "took {elapsed:?}");
}
