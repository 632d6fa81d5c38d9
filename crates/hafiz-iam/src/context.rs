//! The request being authorized: who asks, for what, on which resource, and
//! the condition keys that describe it.

use std::borrow::Cow;
use std::collections::HashMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// e.g. `arn:aws:iam::123456789012:user/alice` or `arn:aws:iam::123456789012:root`.
    pub arn: String,
    pub account: String,
    /// Set for IAM users only; AWS leaves `aws:username` undefined otherwise.
    pub username: Option<String>,
    /// The unique id (`aws:userid`); the account id for the root user.
    pub userid: String,
}

impl Principal {
    /// An IAM user of `account`, with the ARN AWS would give it.
    pub fn user(
        account: impl Into<String>,
        name: impl Into<String>,
        userid: impl Into<String>,
    ) -> Self {
        let account = account.into();
        let name = name.into();
        Self {
            arn: format!("arn:aws:iam::{account}:user/{name}"),
            account,
            username: Some(name),
            userid: userid.into(),
        }
    }

    /// The root user of `account`.
    pub fn root(account: impl Into<String>) -> Self {
        let account = account.into();
        Self {
            arn: format!("arn:aws:iam::{account}:root"),
            userid: account.clone(),
            account,
            username: None,
        }
    }

    /// The value AWS gives `aws:PrincipalType`, inferred from the ARN.
    pub fn principal_type(&self) -> &'static str {
        if self.arn.ends_with(":root") {
            "Account"
        } else if self.arn.contains(":assumed-role/") {
            "AssumedRole"
        } else if self.arn.contains(":federated-user/") {
            "FederatedUser"
        } else {
            "User"
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// e.g. `s3:GetObject`, `iam:CreateUser`.
    pub action: String,
    /// An ARN, e.g. `arn:aws:s3:::bucket/key` or `arn:aws:s3:::bucket`.
    pub resource: String,
    /// `None` for an anonymous request.
    pub principal: Option<Principal>,
    /// Condition keys as AWS spells them; looked up case-insensitively.
    pub keys: HashMap<String, Vec<String>>,
}

impl RequestContext {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            ..Self::default()
        }
    }

    pub fn with_principal(mut self, principal: Principal) -> Self {
        self.principal = Some(principal);
        self
    }

    /// Adds one value to `key`, keeping any it already has (multi-valued keys
    /// such as `aws:TagKeys` are built by calling this repeatedly).
    pub fn with_key(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.keys.entry(key.into()).or_default().push(value.into());
        self
    }

    /// Sets `aws:CurrentTime` and `aws:EpochTime`. The library never reads
    /// the clock itself, so that evaluation stays deterministic and testable;
    /// callers that want date conditions to work must supply the time.
    pub fn with_current_time(mut self, now: OffsetDateTime) -> Self {
        let iso = now
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok());
        if let Some(iso) = iso {
            self.keys.insert("aws:CurrentTime".into(), vec![iso]);
        }
        self.keys.insert(
            "aws:EpochTime".into(),
            vec![now.unix_timestamp().to_string()],
        );
        self
    }

    /// The values of a condition key, or `None` when the request does not
    /// carry it. An empty list counts as absent: AWS has no way to send a key
    /// without a value, so treating both alike keeps `Null` and `IfExists`
    /// from depending on how the caller built the map.
    ///
    /// Keys in `self.keys` win; the principal-derived globals (`aws:username`,
    /// `aws:userid`, `aws:PrincipalArn`, `aws:PrincipalAccount`,
    /// `aws:PrincipalType`) are filled in from `self.principal` when absent.
    pub fn values(&self, key: &str) -> Option<Cow<'_, [String]>> {
        let explicit = self.keys.get(key).or_else(|| {
            self.keys
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        });
        if let Some(values) = explicit {
            return (!values.is_empty()).then_some(Cow::Borrowed(values.as_slice()));
        }
        self.principal_key(key).map(|v| Cow::Owned(vec![v]))
    }

    /// The value of a single-valued key, as policy variables need: AWS does
    /// not substitute multi-valued keys, so those resolve to `None` too.
    pub(crate) fn single_value(&self, key: &str) -> Option<String> {
        let values = self.values(key)?;
        match &*values {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    fn principal_key(&self, key: &str) -> Option<String> {
        let lower = key.to_ascii_lowercase();
        let Some(p) = &self.principal else {
            // AWS defines these two for anonymous requests.
            return match lower.as_str() {
                "aws:userid" => Some("anonymous".into()),
                "aws:principaltype" => Some("Anonymous".into()),
                _ => None,
            };
        };
        match lower.as_str() {
            "aws:username" => p.username.clone(),
            "aws:userid" => Some(p.userid.clone()),
            "aws:principalarn" => Some(p.arn.clone()),
            "aws:principalaccount" => Some(p.account.clone()),
            "aws:principaltype" => Some(p.principal_type().into()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn lookup_is_case_insensitive() {
        let ctx = RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k")
            .with_key("aws:SourceIp", "10.0.0.1");
        assert_eq!(ctx.values("AWS:SOURCEIP").unwrap()[0], "10.0.0.1");
        assert!(ctx.values("aws:SourceArn").is_none());
    }

    #[test]
    fn empty_value_list_counts_as_absent() {
        let mut ctx = RequestContext::default();
        ctx.keys.insert("aws:TagKeys".into(), vec![]);
        assert!(ctx.values("aws:TagKeys").is_none());
    }

    #[test]
    fn principal_derived_keys() {
        let ctx = RequestContext::default().with_principal(Principal::user("111", "alice", "AID1"));
        assert_eq!(ctx.single_value("aws:username").unwrap(), "alice");
        assert_eq!(ctx.single_value("aws:PrincipalType").unwrap(), "User");
        assert_eq!(ctx.single_value("aws:PrincipalAccount").unwrap(), "111");
        let root = RequestContext::default().with_principal(Principal::root("111"));
        assert!(root.single_value("aws:username").is_none());
        assert_eq!(root.single_value("aws:principaltype").unwrap(), "Account");
        let anon = RequestContext::default();
        assert_eq!(anon.single_value("aws:userid").unwrap(), "anonymous");
        assert!(anon.single_value("aws:username").is_none());
    }

    #[test]
    fn explicit_keys_override_derived_ones() {
        let ctx = RequestContext::default()
            .with_principal(Principal::user("111", "alice", "AID1"))
            .with_key("aws:username", "bob");
        assert_eq!(ctx.single_value("aws:username").unwrap(), "bob");
    }

    #[test]
    fn multi_valued_keys_are_not_single() {
        let ctx = RequestContext::default()
            .with_key("k", "a")
            .with_key("k", "b");
        assert!(ctx.single_value("k").is_none());
    }

    #[test]
    fn current_time_keys() {
        let ctx = RequestContext::default().with_current_time(datetime!(2024-05-01 12:00:00.5 UTC));
        assert_eq!(
            ctx.single_value("aws:CurrentTime").unwrap(),
            "2024-05-01T12:00:00Z"
        );
        assert_eq!(ctx.single_value("aws:EpochTime").unwrap(), "1714564800");
    }
}
