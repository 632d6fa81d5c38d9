//! Deciding a request against identity and resource (bucket) policies.

use crate::context::RequestContext;
use crate::matcher::Pattern;
use crate::policy::{ActionSpec, Effect, Policy, ResourceSpec, Statement};
use crate::principal::spec_matches;
use crate::variables;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    /// No statement applied: an implicit deny unless another policy allows.
    NotApplicable,
}

/// Identity-based policies (attached to users/groups, session policies).
///
/// Statements carrying `Principal` or `NotPrincipal` are invalid in such
/// policies (`validate_identity_policy` rejects them) and are skipped here,
/// so that an unvalidated document can never grant through them.
pub fn evaluate_identity(policies: &[&Policy], ctx: &RequestContext) -> Decision {
    decide(
        policies.iter().flat_map(|policy| {
            policy
                .statements
                .iter()
                .filter(|s| s.principal.is_none() && s.not_principal.is_none())
                .map(move |s| (*policy, s))
        }),
        ctx,
    )
}

/// A resource-based policy (bucket policy). A statement applies only when
/// its `Principal` matches the caller, or its `NotPrincipal` does not;
/// statements with neither never apply (S3 refuses to store them).
pub fn evaluate_resource(policy: &Policy, ctx: &RequestContext) -> Decision {
    let caller = ctx.principal.as_ref();
    decide(
        policy
            .statements
            .iter()
            .filter(|s| match (&s.principal, &s.not_principal) {
                (Some(p), _) => spec_matches(p, caller),
                (None, Some(np)) => !spec_matches(np, caller),
                (None, None) => false,
            })
            .map(|s| (policy, s)),
        ctx,
    )
}

/// Combines the identity-policy and bucket-policy decisions for a principal
/// of the bucket owner's account, as S3 does: an explicit deny in either
/// wins; otherwise an allow in either suffices.
pub fn is_allowed(identity: Decision, resource: Decision) -> bool {
    match (identity, resource) {
        (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => false,
        (Decision::Allow, _) | (_, Decision::Allow) => true,
        _ => false,
    }
}

/// Deny beats allow: stop at the first applicable deny, remember allows.
fn decide<'a>(
    statements: impl Iterator<Item = (&'a Policy, &'a Statement)>,
    ctx: &RequestContext,
) -> Decision {
    let mut decision = Decision::NotApplicable;
    for (policy, statement) in statements {
        if !statement_applies(statement, ctx, policy.variables_enabled()) {
            continue;
        }
        match statement.effect {
            Effect::Deny => return Decision::ExplicitDeny,
            Effect::Allow => decision = Decision::Allow,
        }
    }
    decision
}

fn statement_applies(s: &Statement, ctx: &RequestContext, variables_enabled: bool) -> bool {
    action_applies(&s.action, &ctx.action)
        && resource_applies(s.resource.as_ref(), ctx, variables_enabled)
        && s.condition
            .iter()
            .all(|c| c.matches(ctx, variables_enabled))
}

/// Action names are case-insensitive in AWS.
fn action_applies(spec: &ActionSpec, action: &str) -> bool {
    let any = |patterns: &[String]| {
        patterns
            .iter()
            .any(|p| Pattern::wildcard(p).matches_ignore_case(action))
    };
    match spec {
        ActionSpec::Action(patterns) => any(patterns),
        ActionSpec::NotAction(patterns) => !any(patterns),
    }
}

/// Resource ARNs are case-sensitive. A resource entry whose variable has no
/// value matches nothing, so it cannot widen `Resource` and does not exempt
/// anything under `NotResource`. A statement without either element applies
/// to every resource, as AWS treats statements whose resource is implied
/// (validation requires the element for identity and bucket policies).
fn resource_applies(
    spec: Option<&ResourceSpec>,
    ctx: &RequestContext,
    variables_enabled: bool,
) -> bool {
    let any = |patterns: &[String]| {
        patterns.iter().any(|p| {
            variables::expand(p, ctx, variables_enabled)
                .is_some_and(|pattern| pattern.matches(&ctx.resource))
        })
    };
    match spec {
        None => true,
        Some(ResourceSpec::Resource(patterns)) => any(patterns),
        Some(ResourceSpec::NotResource(patterns)) => !any(patterns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_allowed_truth_table() {
        use Decision::*;
        assert!(is_allowed(Allow, NotApplicable));
        assert!(is_allowed(NotApplicable, Allow));
        assert!(is_allowed(Allow, Allow));
        assert!(!is_allowed(NotApplicable, NotApplicable));
        assert!(!is_allowed(ExplicitDeny, Allow));
        assert!(!is_allowed(Allow, ExplicitDeny));
        assert!(!is_allowed(ExplicitDeny, NotApplicable));
    }

    #[test]
    fn identity_evaluation_skips_statements_with_principal() {
        let p = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        let ctx = RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k");
        assert_eq!(evaluate_identity(&[&p], &ctx), Decision::NotApplicable);
        assert_eq!(evaluate_resource(&p, &ctx), Decision::Allow);
    }

    #[test]
    fn resource_evaluation_skips_statements_without_principal() {
        let p = Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#)
            .unwrap();
        let ctx = RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k");
        assert_eq!(evaluate_resource(&p, &ctx), Decision::NotApplicable);
        assert_eq!(evaluate_identity(&[&p], &ctx), Decision::Allow);
    }
}
