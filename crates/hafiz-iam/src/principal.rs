//! Matching a statement's `Principal` / `NotPrincipal` against the caller.

use crate::context::Principal;
use crate::matcher::Pattern;
use crate::policy::PrincipalSpec;

/// `None` is an anonymous caller, which only `Any` covers.
///
/// `Service` and `Federated` principals never match: Hafiz callers are
/// always account principals or anonymous, so there is nothing for them to
/// name.
pub(crate) fn spec_matches(spec: &PrincipalSpec, caller: Option<&Principal>) -> bool {
    match spec {
        PrincipalSpec::Any => true,
        PrincipalSpec::Aws(ids) => {
            caller.is_some_and(|p| ids.iter().any(|id| aws_id_matches(id, p)))
        }
        PrincipalSpec::Service(_) | PrincipalSpec::Federated(_) => false,
        PrincipalSpec::Multiple(parts) => parts.iter().any(|part| spec_matches(part, caller)),
    }
}

/// An account id or `arn:…:iam::ACCOUNT:root` stands for every principal of
/// that account (AWS: "the account delegates to its identities"); any other
/// ARN is matched against the caller's ARN, wildcards allowed.
fn aws_id_matches(id: &str, caller: &Principal) -> bool {
    if id == "*" {
        return true;
    }
    if let Some(account) = root_account(id) {
        return Pattern::wildcard(account).matches(&caller.account);
    }
    if !id.starts_with("arn:") {
        return id == caller.account;
    }
    Pattern::wildcard(id).matches(&caller.arn)
}

fn root_account(arn: &str) -> Option<&str> {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    match fields.as_slice() {
        ["arn", _, "iam", "", account, "root"] => Some(account),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(ids: &[&str]) -> PrincipalSpec {
        PrincipalSpec::Aws(ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn account_forms_cover_all_identities_of_the_account() {
        let alice = Principal::user("111122223333", "alice", "AID1");
        let root = Principal::root("111122223333");
        for spec in [
            aws(&["111122223333"]),
            aws(&["arn:aws:iam::111122223333:root"]),
        ] {
            assert!(spec_matches(&spec, Some(&alice)));
            assert!(spec_matches(&spec, Some(&root)));
            assert!(!spec_matches(
                &spec,
                Some(&Principal::user("999", "alice", "X"))
            ));
            assert!(!spec_matches(&spec, None));
        }
    }

    #[test]
    fn user_arns() {
        let alice = Principal::user("111122223333", "alice", "AID1");
        let bob = Principal::user("111122223333", "bob", "AID2");
        let spec = aws(&["arn:aws:iam::111122223333:user/alice"]);
        assert!(spec_matches(&spec, Some(&alice)));
        assert!(!spec_matches(&spec, Some(&bob)));
        let wild = aws(&["arn:aws:iam::111122223333:user/a*"]);
        assert!(spec_matches(&wild, Some(&alice)));
        assert!(!spec_matches(&wild, Some(&bob)));
        let any_root = aws(&["arn:aws:iam::*:root"]);
        assert!(spec_matches(&any_root, Some(&bob)));
        assert!(!spec_matches(&any_root, None));
    }

    #[test]
    fn any_includes_anonymous_and_services_match_nobody() {
        assert!(spec_matches(&PrincipalSpec::Any, None));
        let svc = PrincipalSpec::Service(vec!["s3.amazonaws.com".into()]);
        assert!(!spec_matches(&svc, Some(&Principal::root("1"))));
        let mixed = PrincipalSpec::Multiple(vec![svc, aws(&["1"])]);
        assert!(spec_matches(&mixed, Some(&Principal::root("1"))));
    }
}
