//! Condition operators: their names, the values they accept, and how one
//! `operator / key / values` entry of a `Condition` element is decided.

use std::cmp::Ordering;
use std::fmt;

use crate::context::RequestContext;
use crate::error::PolicyError;
use crate::matcher::Pattern;
use crate::values::{self, Number};
use crate::variables;

/// One `"Operator": {"key": values}` pair. A statement's conditions are all
/// of its blocks, ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionBlock {
    pub operator: ConditionOperator,
    pub key: String,
    /// Policy values as written; JSON numbers and booleans are kept in their
    /// JSON text form (`10`, `true`) since AWS compares them as strings.
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionOperator {
    pub kind: OperatorKind,
    pub qualifier: Option<SetQualifier>,
    /// The `IfExists` suffix: the entry holds when the key is absent.
    pub if_exists: bool,
}

/// `ForAnyValue:` / `ForAllValues:` prefixes for multi-valued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorKind {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const ALL_OPERATORS: [OperatorKind; 27] = {
    use OperatorKind::*;
    [
        StringEquals,
        StringNotEquals,
        StringEqualsIgnoreCase,
        StringNotEqualsIgnoreCase,
        StringLike,
        StringNotLike,
        NumericEquals,
        NumericNotEquals,
        NumericLessThan,
        NumericLessThanEquals,
        NumericGreaterThan,
        NumericGreaterThanEquals,
        DateEquals,
        DateNotEquals,
        DateLessThan,
        DateLessThanEquals,
        DateGreaterThan,
        DateGreaterThanEquals,
        Bool,
        BinaryEquals,
        IpAddress,
        NotIpAddress,
        ArnEquals,
        ArnLike,
        ArnNotEquals,
        ArnNotLike,
        Null,
    ]
};

impl OperatorKind {
    /// The name as written in a policy, without qualifier or `IfExists`.
    pub fn name(self) -> &'static str {
        use OperatorKind::*;
        match self {
            StringEquals => "StringEquals",
            StringNotEquals => "StringNotEquals",
            StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            StringLike => "StringLike",
            StringNotLike => "StringNotLike",
            NumericEquals => "NumericEquals",
            NumericNotEquals => "NumericNotEquals",
            NumericLessThan => "NumericLessThan",
            NumericLessThanEquals => "NumericLessThanEquals",
            NumericGreaterThan => "NumericGreaterThan",
            NumericGreaterThanEquals => "NumericGreaterThanEquals",
            DateEquals => "DateEquals",
            DateNotEquals => "DateNotEquals",
            DateLessThan => "DateLessThan",
            DateLessThanEquals => "DateLessThanEquals",
            DateGreaterThan => "DateGreaterThan",
            DateGreaterThanEquals => "DateGreaterThanEquals",
            Bool => "Bool",
            BinaryEquals => "BinaryEquals",
            IpAddress => "IpAddress",
            NotIpAddress => "NotIpAddress",
            ArnEquals => "ArnEquals",
            ArnLike => "ArnLike",
            ArnNotEquals => "ArnNotEquals",
            ArnNotLike => "ArnNotLike",
            Null => "Null",
        }
    }

    /// Operators that hold when the request value matches none of the
    /// policy values, and so also hold when the key is absent.
    pub fn is_negated(self) -> bool {
        use OperatorKind::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// The operator whose result a negated operator inverts.
    fn positive(self) -> Self {
        use OperatorKind::*;
        match self {
            StringNotEquals => StringEquals,
            StringNotEqualsIgnoreCase => StringEqualsIgnoreCase,
            StringNotLike => StringLike,
            NumericNotEquals => NumericEquals,
            DateNotEquals => DateEquals,
            NotIpAddress => IpAddress,
            ArnNotEquals => ArnEquals,
            ArnNotLike => ArnLike,
            other => other,
        }
    }

    /// AWS allows policy variables only in string and ARN comparisons.
    fn takes_variables(self) -> bool {
        use OperatorKind::*;
        matches!(
            self.positive(),
            StringEquals | StringEqualsIgnoreCase | StringLike | ArnEquals | ArnLike
        )
    }
}

impl ConditionOperator {
    /// Parses names such as `StringLike`, `ForAllValues:StringEqualsIfExists`.
    /// Names are case-sensitive, like every other element name in the grammar.
    pub fn parse(name: &str) -> Result<Self, PolicyError> {
        let unknown = || PolicyError::InvalidConditionOperator(name.to_string());
        let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else {
            (None, name)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let kind = ALL_OPERATORS
            .into_iter()
            .find(|k| k.name() == base)
            .ok_or_else(unknown)?;
        // `Null` already tests for existence, so AWS rejects `NullIfExists`.
        if kind == OperatorKind::Null && if_exists {
            return Err(unknown());
        }
        Ok(Self {
            kind,
            qualifier,
            if_exists,
        })
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            None => {}
        }
        f.write_str(self.kind.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

impl ConditionBlock {
    /// Rejects policy values that the operator could never compare, so that
    /// a typo such as `"IpAddress": {"aws:SourceIp": "10.0.0/8"}` fails when
    /// the policy is stored rather than silently never matching.
    pub(crate) fn validate(&self) -> Result<(), PolicyError> {
        use OperatorKind::*;
        for value in &self.values {
            let ok = match self.operator.kind.positive() {
                NumericEquals
                | NumericLessThan
                | NumericLessThanEquals
                | NumericGreaterThan
                | NumericGreaterThanEquals => Number::parse(value).is_some(),
                DateEquals
                | DateLessThan
                | DateLessThanEquals
                | DateGreaterThan
                | DateGreaterThanEquals => values::parse_date(value).is_some(),
                Bool | Null => values::parse_bool(value).is_some(),
                BinaryEquals => values::decode_base64(value).is_some(),
                IpAddress => values::parse_network(value).is_some(),
                _ => true,
            };
            if !ok {
                return Err(PolicyError::InvalidConditionValue {
                    operator: self.operator.to_string(),
                    key: self.key.clone(),
                    value: value.clone(),
                });
            }
        }
        Ok(())
    }

    /// Whether this entry holds for the request.
    ///
    /// - Key absent: `IfExists` → true; `Null` → its value `true`;
    ///   `ForAllValues:` → true (vacuously, as AWS documents); `ForAnyValue:`
    ///   → false; otherwise negated operators → true, positive → false.
    /// - Key present: each request value is tested against the policy values
    ///   (OR). Negated operators invert that per request value, so they hold
    ///   when it matches none of them. `ForAllValues:` needs every request
    ///   value to pass, `ForAnyValue:` at least one; without a qualifier a
    ///   positive operator behaves like `ForAnyValue:` and a negated one like
    ///   `ForAllValues:`, i.e. no request value may match any policy value.
    pub(crate) fn matches(&self, ctx: &RequestContext, variables_enabled: bool) -> bool {
        let op = self.operator;
        let request = ctx.values(&self.key);
        if op.kind == OperatorKind::Null {
            let absent = request.is_none();
            return self
                .values
                .iter()
                .any(|v| values::parse_bool(v) == Some(absent));
        }
        let Some(request) = request else {
            return op.if_exists
                || match op.qualifier {
                    Some(SetQualifier::ForAllValues) => true,
                    Some(SetQualifier::ForAnyValue) => false,
                    None => op.kind.is_negated(),
                };
        };
        let policy_values: Vec<PolicyValue> = self
            .values
            .iter()
            .filter_map(|v| PolicyValue::resolve(op.kind, v, ctx, variables_enabled))
            .collect();
        let negated = op.kind.is_negated();
        let passes = |r: &String| {
            let hit = policy_values
                .iter()
                .any(|p| positive_match(op.kind.positive(), r, p));
            hit != negated
        };
        match (op.qualifier, negated) {
            (Some(SetQualifier::ForAllValues), _) | (None, true) => request.iter().all(passes),
            (Some(SetQualifier::ForAnyValue), _) | (None, false) => request.iter().any(passes),
        }
    }
}

/// A policy value ready for comparison. Values that cannot be resolved
/// (unparsable, or naming a variable with no value) are dropped by the
/// caller, which makes them match no request value.
enum PolicyValue {
    Text(String),
    Glob(Pattern),
    Number(Number),
    Date(i128),
    Bool(bool),
    Bytes(Vec<u8>),
    Net(ipnet::IpNet),
}

impl PolicyValue {
    fn resolve(
        kind: OperatorKind,
        raw: &str,
        ctx: &RequestContext,
        variables_enabled: bool,
    ) -> Option<Self> {
        use OperatorKind::*;
        let pattern = || variables::expand(raw, ctx, variables_enabled && kind.takes_variables());
        Some(match kind.positive() {
            StringEquals | StringEqualsIgnoreCase => Self::Text(pattern()?.to_text()),
            StringLike | ArnEquals | ArnLike => Self::Glob(pattern()?),
            NumericEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => Self::Number(Number::parse(raw)?),
            DateEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Self::Date(values::parse_date(raw)?),
            Bool => Self::Bool(values::parse_bool(raw)?),
            BinaryEquals => Self::Bytes(values::decode_base64(raw)?),
            IpAddress => Self::Net(values::parse_network(raw)?),
            _ => return None,
        })
    }
}

/// `kind` is always a positive operator here; the request value is on the
/// left of the comparison (`NumericLessThan` holds when request < policy).
fn positive_match(kind: OperatorKind, request: &str, policy: &PolicyValue) -> bool {
    use OperatorKind::*;
    let ordering = |want: fn(Ordering) -> bool, got: Option<Ordering>| got.is_some_and(want);
    match (kind, policy) {
        (StringEquals, PolicyValue::Text(p)) => request == p,
        (StringEqualsIgnoreCase, PolicyValue::Text(p)) => {
            request == p || request.to_lowercase() == p.to_lowercase()
        }
        (StringLike, PolicyValue::Glob(p)) => p.matches(request),
        (ArnEquals | ArnLike, PolicyValue::Glob(p)) => p.matches_arn(request),
        (_, PolicyValue::Number(p)) => {
            let got = Number::parse(request).and_then(|r| r.compare(*p));
            ordering(ordering_test(kind), got)
        }
        (_, PolicyValue::Date(p)) => {
            let got = values::parse_date(request).map(|r| r.cmp(p));
            ordering(ordering_test(kind), got)
        }
        (Bool, PolicyValue::Bool(p)) => values::parse_bool(request) == Some(*p),
        (BinaryEquals, PolicyValue::Bytes(p)) => {
            values::decode_base64(request).is_some_and(|r| r == *p)
        }
        (IpAddress, PolicyValue::Net(net)) => {
            values::parse_address(request).is_some_and(|a| net.contains(&a))
        }
        _ => false,
    }
}

fn ordering_test(kind: OperatorKind) -> fn(Ordering) -> bool {
    use OperatorKind::*;
    match kind {
        NumericLessThan | DateLessThan => Ordering::is_lt,
        NumericLessThanEquals | DateLessThanEquals => Ordering::is_le,
        NumericGreaterThan | DateGreaterThan => Ordering::is_gt,
        NumericGreaterThanEquals | DateGreaterThanEquals => Ordering::is_ge,
        _ => Ordering::is_eq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_round_trip() {
        for name in [
            "StringEquals",
            "ForAnyValue:StringLike",
            "ForAllValues:StringEqualsIgnoreCaseIfExists",
            "NotIpAddressIfExists",
            "Null",
            "ArnNotLike",
        ] {
            assert_eq!(ConditionOperator::parse(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn unknown_operators_are_rejected() {
        for name in [
            "StringEqualz",
            "stringequals",
            "NullIfExists",
            "ForSomeValue:StringEquals",
            "IfExists",
            "",
        ] {
            assert!(
                matches!(
                    ConditionOperator::parse(name),
                    Err(PolicyError::InvalidConditionOperator(_))
                ),
                "{name}"
            );
        }
    }

    fn block(op: &str, key: &str, values: &[&str]) -> ConditionBlock {
        ConditionBlock {
            operator: ConditionOperator::parse(op).unwrap(),
            key: key.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn holds(b: &ConditionBlock, ctx: &RequestContext) -> bool {
        b.matches(ctx, true)
    }

    #[test]
    fn missing_key_behaviour() {
        let empty = RequestContext::default();
        assert!(!holds(&block("StringEquals", "k", &["a"]), &empty));
        assert!(holds(&block("StringNotEquals", "k", &["a"]), &empty));
        assert!(holds(&block("StringEqualsIfExists", "k", &["a"]), &empty));
        assert!(holds(
            &block("ForAllValues:StringEquals", "k", &["a"]),
            &empty
        ));
        assert!(!holds(
            &block("ForAnyValue:StringEquals", "k", &["a"]),
            &empty
        ));
        assert!(!holds(
            &block("ForAnyValue:StringNotEquals", "k", &["a"]),
            &empty
        ));
        assert!(!holds(&block("NumericLessThan", "k", &["1"]), &empty));
        assert!(holds(&block("NotIpAddress", "k", &["10.0.0.0/8"]), &empty));
    }

    #[test]
    fn negated_operators_need_no_match_at_all() {
        let ctx = RequestContext::default()
            .with_key("k", "a")
            .with_key("k", "z");
        assert!(!holds(&block("StringNotEquals", "k", &["a", "b"]), &ctx));
        assert!(holds(&block("StringNotEquals", "k", &["b", "c"]), &ctx));
        assert!(holds(
            &block("ForAnyValue:StringNotEquals", "k", &["a"]),
            &ctx
        ));
        assert!(!holds(
            &block("ForAllValues:StringNotEquals", "k", &["a"]),
            &ctx
        ));
    }

    #[test]
    fn typed_comparisons() {
        let ctx = RequestContext::default()
            .with_key("s3:max-keys", "10")
            .with_key("aws:CurrentTime", "2024-06-01T00:00:00Z")
            .with_key("aws:SecureTransport", "false")
            .with_key("aws:SourceIp", "192.0.2.7")
            .with_key("bin", "aGVsbG8=")
            .with_key("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:topic");
        assert!(holds(
            &block("NumericLessThanEquals", "s3:max-keys", &["10"]),
            &ctx
        ));
        assert!(!holds(
            &block("NumericLessThan", "s3:max-keys", &["10"]),
            &ctx
        ));
        assert!(holds(
            &block("NumericGreaterThan", "s3:max-keys", &["9.5"]),
            &ctx
        ));
        assert!(holds(
            &block("NumericNotEquals", "s3:max-keys", &["11"]),
            &ctx
        ));
        assert!(holds(
            &block("DateGreaterThan", "aws:CurrentTime", &["2024-01-01"]),
            &ctx
        ));
        assert!(holds(
            &block("DateEquals", "aws:CurrentTime", &["1717200000"]),
            &ctx
        ));
        assert!(holds(
            &block("Bool", "aws:SecureTransport", &["false"]),
            &ctx
        ));
        assert!(!holds(
            &block("Bool", "aws:SecureTransport", &["true"]),
            &ctx
        ));
        assert!(holds(
            &block("IpAddress", "aws:SourceIp", &["192.0.2.0/24"]),
            &ctx
        ));
        assert!(holds(
            &block("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8", "::1"]),
            &ctx
        ));
        assert!(holds(&block("BinaryEquals", "bin", &["aGVsbG8"]), &ctx));
        assert!(holds(
            &block(
                "ArnLike",
                "aws:SourceArn",
                &["arn:aws:sns:*:123456789012:*"]
            ),
            &ctx
        ));
        assert!(holds(
            &block(
                "ArnNotEquals",
                "aws:SourceArn",
                &["arn:aws:sns:*:999999999999:*"]
            ),
            &ctx
        ));
        assert!(holds(
            &block("StringEqualsIgnoreCase", "aws:SecureTransport", &["FALSE"]),
            &ctx
        ));
        assert!(holds(
            &block(
                "StringNotEqualsIgnoreCase",
                "aws:SecureTransport",
                &["TRUE"]
            ),
            &ctx
        ));
    }

    #[test]
    fn unparsable_request_values_do_not_match() {
        let ctx = RequestContext::default()
            .with_key("n", "ten")
            .with_key("aws:SourceIp", "not-an-ip");
        assert!(!holds(&block("NumericEquals", "n", &["10"]), &ctx));
        assert!(holds(&block("NumericNotEquals", "n", &["10"]), &ctx));
        assert!(!holds(
            &block("IpAddress", "aws:SourceIp", &["0.0.0.0/0"]),
            &ctx
        ));
    }

    #[test]
    fn validation_of_policy_values() {
        assert!(block("NumericEquals", "k", &["1.5"]).validate().is_ok());
        assert!(block("NumericEquals", "k", &["x"]).validate().is_err());
        assert!(
            block("DateLessThan", "k", &["tomorrow"])
                .validate()
                .is_err()
        );
        assert!(block("Bool", "k", &["yes"]).validate().is_err());
        assert!(block("Null", "k", &["maybe"]).validate().is_err());
        assert!(block("IpAddress", "k", &["10.0.0/8"]).validate().is_err());
        assert!(
            block("NotIpAddress", "k", &["10.0.0.0/33"])
                .validate()
                .is_err()
        );
        assert!(block("BinaryEquals", "k", &["***"]).validate().is_err());
        assert!(block("StringLike", "k", &["anything*"]).validate().is_ok());
    }
}
