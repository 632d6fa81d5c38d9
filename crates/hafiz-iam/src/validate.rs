//! Checks that depend on where a parsed policy is used. `Policy::parse`
//! accepts anything the grammar allows; IAM and S3 each add their own rules
//! before storing a document.

use crate::error::PolicyError;
use crate::policy::{ActionSpec, Policy, ResourceSpec};

/// Identity-based policies: no `Principal`/`NotPrincipal`, and every
/// statement names its resources (IAM's rules).
pub fn validate_identity_policy(p: &Policy) -> Result<(), PolicyError> {
    for s in &p.statements {
        if s.principal.is_some() || s.not_principal.is_some() {
            return Err(PolicyError::PrincipalNotAllowed);
        }
        if s.resource.is_none() {
            return Err(PolicyError::MissingResource);
        }
    }
    Ok(())
}

/// Bucket policies: every statement has `Principal` or `NotPrincipal` and a
/// resource, every resource can name `bucket` or an object in it (as a pattern:
/// `arn:aws:s3:::*/*` may stand in the policies of many buckets, as ceph s3-tests
/// `test_bucket_policy_another_bucket` does; `arn:aws:s3:::other/*` may not, S3's
/// "Policy has invalid resource"), and every action is an S3 action.
pub fn validate_bucket_policy(p: &Policy, bucket: &str) -> Result<(), PolicyError> {
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let object_prefix = format!("{bucket_arn}/");
    for s in &p.statements {
        if s.principal.is_none() && s.not_principal.is_none() {
            return Err(PolicyError::MissingField("Principal"));
        }
        let (ActionSpec::Action(actions) | ActionSpec::NotAction(actions)) = &s.action;
        if let Some(bad) = actions.iter().find(|a| !is_s3_action(a)) {
            return Err(PolicyError::InvalidAction(bad.clone()));
        }
        let resources = match &s.resource {
            None => return Err(PolicyError::MissingField("Resource")),
            Some(ResourceSpec::Resource(r) | ResourceSpec::NotResource(r)) => r,
        };
        if let Some(bad) = resources.iter().find(|r| {
            !crate::matcher::Pattern::wildcard(r).matches(&bucket_arn)
                && !can_start_with(r, &object_prefix)
        }) {
            return Err(PolicyError::InvalidResource(bad.clone()));
        }
    }
    Ok(())
}

/// Whether the `*`/`?` pattern matches some string that starts with `prefix`.
fn can_start_with(pattern: &str, prefix: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), prefix.chars().collect());
    // reach[i]: the first i pattern characters can consume the prefix read so far.
    let mut reach = vec![false; p.len() + 1];
    reach[0] = true;
    for i in 0..p.len() {
        if reach[i] && p[i] == '*' {
            reach[i + 1] = true;
        }
    }
    for c in t {
        let mut next = vec![false; p.len() + 1];
        for i in 0..p.len() {
            if !reach[i] {
                continue;
            }
            match p[i] {
                '*' => next[i] = true,
                '?' => next[i + 1] = true,
                pc if pc == c => next[i + 1] = true,
                _ => {}
            }
        }
        for i in 0..p.len() {
            if next[i] && p[i] == '*' {
                next[i + 1] = true;
            }
        }
        reach = next;
    }
    reach.iter().any(|r| *r)
}

fn is_s3_action(action: &str) -> bool {
    action == "*"
        || action
            .split_once(':')
            .is_some_and(|(service, _)| service.eq_ignore_ascii_case("s3"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(statement: &str) -> Policy {
        Policy::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn identity_policies() {
        assert_eq!(
            validate_identity_policy(&policy(
                r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#
            )),
            Ok(())
        );
        let with_principal =
            policy(r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}"#);
        let err = validate_identity_policy(&with_principal).unwrap_err();
        assert_eq!(err, PolicyError::PrincipalNotAllowed);
        assert_eq!(
            err.to_string(),
            "Policy document should not specify a principal."
        );
        let not_principal = policy(
            r#"{"Effect":"Deny","NotPrincipal":{"AWS":"1"},"Action":"s3:*","Resource":"*"}"#,
        );
        assert!(validate_identity_policy(&not_principal).is_err());
        assert_eq!(
            validate_identity_policy(&policy(r#"{"Effect":"Allow","Action":"s3:*"}"#)),
            Err(PolicyError::MissingResource)
        );
    }

    #[test]
    fn bucket_policies() {
        let ok = policy(
            r#"{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","S3:List*"],
                "Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}"#,
        );
        assert_eq!(validate_bucket_policy(&ok, "photos"), Ok(()));

        let no_principal =
            policy(r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}"#);
        assert_eq!(
            validate_bucket_policy(&no_principal, "photos"),
            Err(PolicyError::MissingField("Principal"))
        );

        for resource in [
            "arn:aws:s3:::*",
            "arn:aws:s3:::*/*",
            "arn:aws:s3:::photo*",
            "arn:aws:s3:::pho?os/a/*",
            "arn:aws:s3::*:photos",
            "*",
        ] {
            let p = policy(&format!(
                r#"{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"{resource}"}}"#
            ));
            assert_eq!(validate_bucket_policy(&p, "photos"), Ok(()), "{resource}");
        }
        for resource in [
            "arn:aws:s3:::other/*",
            "arn:aws:s3:::photos2/*",
            "arn:aws:s3:::photos2",
            "arn:aws:s3:::other*",
            "arn:aws:iam::123:user/x",
        ] {
            let p = policy(&format!(
                r#"{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"{resource}"}}"#
            ));
            let err = validate_bucket_policy(&p, "photos").unwrap_err();
            assert_eq!(err.to_string(), "Policy has invalid resource", "{resource}");
        }

        let iam = policy(
            r#"{"Effect":"Allow","Principal":"*","Action":"iam:CreateUser","Resource":"arn:aws:s3:::photos"}"#,
        );
        assert_eq!(
            validate_bucket_policy(&iam, "photos")
                .unwrap_err()
                .to_string(),
            "Policy has invalid action"
        );

        let no_resource = policy(r#"{"Effect":"Allow","Principal":"*","Action":"s3:*"}"#);
        assert_eq!(
            validate_bucket_policy(&no_resource, "photos"),
            Err(PolicyError::MissingField("Resource"))
        );
    }
}
