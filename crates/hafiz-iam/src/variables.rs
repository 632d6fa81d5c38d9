//! Policy variables: `${key}` placeholders in `Resource` and in the values of
//! string and ARN condition operators.
//!
//! Rules, following AWS:
//! - Variables are only recognised in policies whose `Version` is
//!   `2012-10-17`; older or missing versions treat `${...}` as plain text.
//! - `${key}` is replaced by the value of a single-valued key of the request
//!   (see `RequestContext::values`, which also derives `aws:username`,
//!   `aws:userid`, `aws:PrincipalType`, … from the principal).
//! - `${key, 'default'}` falls back to `default` when the key has no value.
//! - `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`.
//! - A variable with no value (key absent, multi-valued, or malformed
//!   default syntax) makes the whole string unresolvable; callers then treat
//!   it as matching nothing, which is how AWS describes it ("effectively
//!   null: there is no equal or like value").
//!
//! Substituted text is always literal, so a username containing `*` cannot
//! widen a resource pattern.

use crate::context::RequestContext;
use crate::matcher::Pattern;

/// Expands `raw` into a wildcard pattern, or `None` when a variable in it
/// has no value.
pub(crate) fn expand(raw: &str, ctx: &RequestContext, variables_enabled: bool) -> Option<Pattern> {
    if !variables_enabled {
        return Some(Pattern::wildcard(raw));
    }
    let mut pattern = Pattern::default();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            // An unterminated `${` is not a variable; keep it as written.
            break;
        };
        pattern.push_wildcard(&rest[..start]);
        pattern.push_literal(&resolve(&after[..end], ctx)?);
        rest = &after[end + 1..];
    }
    pattern.push_wildcard(rest);
    Some(pattern)
}

fn resolve(body: &str, ctx: &RequestContext) -> Option<String> {
    match body.trim() {
        "*" => return Some("*".into()),
        "?" => return Some("?".into()),
        "$" => return Some("$".into()),
        _ => {}
    }
    let (name, default) = match body.split_once(',') {
        Some((name, default)) => (name.trim(), Some(parse_default(default)?)),
        None => (body.trim(), None),
    };
    if name.is_empty() {
        return None;
    }
    ctx.single_value(name).or(default)
}

fn parse_default(text: &str) -> Option<String> {
    let quoted = text.trim();
    let inner = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Principal;

    fn ctx() -> RequestContext {
        RequestContext::default()
            .with_principal(Principal::user("111122223333", "alice", "AIDAEXAMPLE"))
            .with_key("s3:prefix", "home/")
            .with_key("multi", "a")
            .with_key("multi", "b")
    }

    fn text(raw: &str) -> Option<String> {
        expand(raw, &ctx(), true).map(|p| p.to_text())
    }

    #[test]
    fn substitutes_principal_and_request_keys() {
        assert_eq!(text("home/${aws:username}/*").unwrap(), "home/alice/*");
        assert_eq!(text("${aws:userid}").unwrap(), "AIDAEXAMPLE");
        assert_eq!(text("${aws:principaltype}").unwrap(), "User");
        assert_eq!(text("${S3:Prefix}x").unwrap(), "home/x");
    }

    #[test]
    fn missing_or_multi_valued_keys_do_not_resolve() {
        assert!(text("${aws:SourceIp}").is_none());
        assert!(text("${multi}").is_none());
        assert!(text("${}").is_none());
    }

    #[test]
    fn defaults() {
        assert_eq!(text("${aws:SourceIp, 'none'}").unwrap(), "none");
        assert_eq!(text("${aws:username, 'none'}").unwrap(), "alice");
        assert!(text("${aws:SourceIp, none}").is_none());
    }

    #[test]
    fn escapes_are_literal() {
        let p = expand("a${*}b${?}c${$}", &ctx(), true).unwrap();
        assert_eq!(p.to_text(), "a*b?c$");
        assert!(p.matches("a*b?c$"));
        assert!(!p.matches("axxbycz"));
    }

    #[test]
    fn substituted_values_are_literal() {
        let star = RequestContext::default().with_key("aws:username", "*");
        let p = expand("home/${aws:username}", &star, true).unwrap();
        assert!(p.matches("home/*"));
        assert!(!p.matches("home/bob"));
    }

    #[test]
    fn disabled_variables_stay_text() {
        let p = expand("home/${aws:username}", &ctx(), false).unwrap();
        assert!(p.matches("home/${aws:username}"));
        assert!(!p.matches("home/alice"));
    }

    #[test]
    fn unterminated_variable_is_text() {
        assert_eq!(text("a${b").unwrap(), "a${b");
    }
}
