//! Scenarios taken from the examples in AWS's IAM and S3 documentation.

use hafiz_iam::{
    Decision, Policy, Principal, RequestContext, evaluate_identity, evaluate_resource, is_allowed,
    validate_bucket_policy, validate_identity_policy,
};
use time::macros::datetime;

const ACCOUNT: &str = "111122223333";

fn alice() -> Principal {
    Principal::user(ACCOUNT, "alice", "AIDAALICE")
}

fn bob() -> Principal {
    Principal::user(ACCOUNT, "bob", "AIDABOB")
}

fn parse(json: &str) -> Policy {
    Policy::parse(json).unwrap_or_else(|e| panic!("{e:?}"))
}

fn identity(policy: &Policy, ctx: &RequestContext) -> Decision {
    evaluate_identity(&[policy], ctx)
}

fn req(action: &str, resource: &str) -> RequestContext {
    RequestContext::new(action, resource).with_principal(alice())
}

#[test]
fn read_only_s3_access() {
    // AWS managed policy AmazonS3ReadOnlyAccess.
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Action":["s3:Get*","s3:List*","s3:Describe*"],"Resource":"*"}]}"#,
    );
    validate_identity_policy(&p).unwrap();
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::b/k")),
        Decision::Allow
    );
    assert_eq!(
        identity(&p, &req("s3:ListBucket", "arn:aws:s3:::b")),
        Decision::Allow
    );
    assert_eq!(
        identity(&p, &req("s3:PutObject", "arn:aws:s3:::b/k")),
        Decision::NotApplicable
    );
    assert_eq!(
        identity(&p, &req("s3:DeleteBucket", "arn:aws:s3:::b")),
        Decision::NotApplicable
    );
}

const HOME_FOLDERS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowListingOfUserFolder",
      "Action": ["s3:ListBucket"],
      "Effect": "Allow",
      "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket"],
      "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "home/${aws:username}"]}}
    },
    {
      "Sid": "AllowAllS3ActionsInUserFolder",
      "Effect": "Allow",
      "Action": ["s3:*"],
      "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"]
    }
  ]
}"#;

#[test]
fn home_folder_scoping_with_username_variable() {
    let p = parse(HOME_FOLDERS);
    let bucket = "arn:aws:s3:::amzn-s3-demo-bucket";
    let list = |who: Principal, prefix: Option<&str>| {
        let mut ctx = RequestContext::new("s3:ListBucket", bucket).with_principal(who);
        if let Some(prefix) = prefix {
            ctx = ctx.with_key("s3:prefix", prefix);
        }
        identity(&p, &ctx)
    };
    assert_eq!(list(alice(), Some("home/alice/")), Decision::Allow);
    assert_eq!(list(alice(), Some("home/alice/photos/")), Decision::Allow);
    assert_eq!(list(alice(), Some("home/alice")), Decision::Allow);
    assert_eq!(list(alice(), Some("home/bob/")), Decision::NotApplicable);
    assert_eq!(list(alice(), Some("home/")), Decision::NotApplicable);
    assert_eq!(list(alice(), None), Decision::NotApplicable);
    assert_eq!(list(bob(), Some("home/bob/")), Decision::Allow);

    let object = |who: Principal, key: &str| {
        let ctx =
            RequestContext::new("s3:PutObject", format!("{bucket}/{key}")).with_principal(who);
        identity(&p, &ctx)
    };
    assert_eq!(object(alice(), "home/alice/notes.txt"), Decision::Allow);
    assert_eq!(
        object(alice(), "home/bob/notes.txt"),
        Decision::NotApplicable
    );
    assert_eq!(object(bob(), "home/bob/notes.txt"), Decision::Allow);
    // The root user has no aws:username, so the variable matches nothing.
    assert_eq!(
        identity(
            &p,
            &RequestContext::new("s3:PutObject", format!("{bucket}/home//x"))
                .with_principal(Principal::root(ACCOUNT))
        ),
        Decision::NotApplicable
    );
}

#[test]
fn variables_are_plain_text_before_version_2012_10_17() {
    let old = HOME_FOLDERS.replace("2012-10-17", "2008-10-17");
    let p = parse(&old);
    let ctx = req(
        "s3:GetObject",
        "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/x",
    );
    assert_eq!(identity(&p, &ctx), Decision::NotApplicable);
    let literal = req(
        "s3:GetObject",
        "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/x",
    );
    assert_eq!(identity(&p, &literal), Decision::Allow);
}

#[test]
fn explicit_deny_beats_allow() {
    let allow_all = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    );
    let deny_delete = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:DeleteObject",
            "Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let delete = req("s3:DeleteObject", "arn:aws:s3:::b/k");
    let get = req("s3:GetObject", "arn:aws:s3:::b/k");
    assert_eq!(
        evaluate_identity(&[&allow_all, &deny_delete], &delete),
        Decision::ExplicitDeny
    );
    assert_eq!(
        evaluate_identity(&[&deny_delete, &allow_all], &delete),
        Decision::ExplicitDeny
    );
    assert_eq!(
        evaluate_identity(&[&allow_all, &deny_delete], &get),
        Decision::Allow
    );
    assert_eq!(evaluate_identity(&[], &get), Decision::NotApplicable);

    // The same inside one bucket policy, and across identity + bucket policy.
    let bucket = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
             "Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}]}"#,
    );
    assert_eq!(evaluate_resource(&bucket, &delete), Decision::ExplicitDeny);
    assert!(!is_allowed(
        identity(&allow_all, &delete),
        evaluate_resource(&bucket, &delete)
    ));
}

#[test]
fn not_action_allows_everything_except_iam() {
    // "Allow everything except IAM" (NotAction with Allow).
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#,
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::b/k")),
        Decision::Allow
    );
    assert_eq!(
        identity(
            &p,
            &req("iam:CreateUser", "arn:aws:iam::111122223333:user/x")
        ),
        Decision::NotApplicable
    );
    assert_eq!(
        identity(
            &p,
            &req("IAM:createuser", "arn:aws:iam::111122223333:user/x")
        ),
        Decision::NotApplicable
    );
}

#[test]
fn not_resource_denies_everything_outside_a_bucket() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:*","Resource":"*"},
            {"Effect":"Deny","Action":"s3:*",
             "NotResource":["arn:aws:s3:::team","arn:aws:s3:::team/*"]}]}"#,
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::team/doc")),
        Decision::Allow
    );
    assert_eq!(
        identity(&p, &req("s3:ListBucket", "arn:aws:s3:::team")),
        Decision::Allow
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::other/doc")),
        Decision::ExplicitDeny
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::team2/doc")),
        Decision::ExplicitDeny
    );
}

#[test]
fn source_ip_allow_and_deny() {
    // "Denies access to AWS based on the source IP".
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:*","Resource":"*",
             "Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}},
            {"Effect":"Deny","Action":"*","Resource":"*",
             "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24","2001:db8::/32"]}}}]}"#,
    );
    let from = |ip: &str| {
        identity(
            &p,
            &req("s3:GetObject", "arn:aws:s3:::b/k").with_key("aws:SourceIp", ip),
        )
    };
    assert_eq!(from("192.0.2.10"), Decision::Allow);
    assert_eq!(from("2001:db8::7"), Decision::Allow);
    // In the deny's exemption list but not in the allow list.
    assert_eq!(from("203.0.113.5"), Decision::NotApplicable);
    assert_eq!(from("198.51.100.1"), Decision::ExplicitDeny);
    assert_eq!(from("2001:db9::1"), Decision::ExplicitDeny);
    // No source address at all: NotIpAddress holds, IpAddress does not.
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::b/k")),
        Decision::ExplicitDeny
    );
}

#[test]
fn deny_insecure_transport() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[{
            "Sid":"AllowSSLRequestsOnly","Effect":"Deny","Principal":"*","Action":"s3:*",
            "Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],
            "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    );
    validate_bucket_policy(&p, "b").unwrap();
    let over = |secure: &str| {
        evaluate_resource(
            &p,
            &req("s3:GetObject", "arn:aws:s3:::b/k").with_key("aws:SecureTransport", secure),
        )
    };
    assert_eq!(over("false"), Decision::ExplicitDeny);
    assert_eq!(over("true"), Decision::NotApplicable);
    assert_eq!(
        evaluate_resource(&p, &req("s3:GetObject", "arn:aws:s3:::b/k")),
        Decision::NotApplicable
    );
    // JSON booleans are accepted and compared as text.
    let json_bool = parse(
        r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*",
            "Condition":{"Bool":{"aws:SecureTransport":false}}}}"#,
    );
    assert_eq!(
        evaluate_resource(
            &json_bool,
            &RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k")
                .with_key("aws:SecureTransport", "false")
        ),
        Decision::ExplicitDeny
    );
}

#[test]
fn date_window_on_current_time() {
    // "Allows access within specific dates".
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*",
            "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},
                         "DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}}}"#,
    );
    let at = |now| {
        identity(
            &p,
            &req("s3:GetObject", "arn:aws:s3:::b/k").with_current_time(now),
        )
    };
    assert_eq!(at(datetime!(2020-05-15 12:00 UTC)), Decision::Allow);
    assert_eq!(
        at(datetime!(2020-03-31 23:59:59 UTC)),
        Decision::NotApplicable
    );
    assert_eq!(at(datetime!(2020-07-01 00:00 UTC)), Decision::NotApplicable);
    assert_eq!(
        at(datetime!(2020-06-30 23:59:59 UTC)),
        Decision::NotApplicable
    );
    // No time supplied: the positive date operators fail.
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::b/k")),
        Decision::NotApplicable
    );
    // Epoch seconds are accepted on either side.
    let epoch = req("s3:GetObject", "arn:aws:s3:::b/k").with_key("aws:CurrentTime", "1589544000");
    assert_eq!(identity(&p, &epoch), Decision::Allow);
}

#[test]
fn for_all_values_and_for_any_value_on_tag_keys() {
    let all = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObjectTagging",
            "Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}}"#,
    );
    let any = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObjectTagging",
            "Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}}"#,
    );
    let tagging = |tags: &[&str]| {
        tags.iter()
            .fold(req("s3:PutObjectTagging", "arn:aws:s3:::b/k"), |ctx, t| {
                ctx.with_key("aws:TagKeys", *t)
            })
    };
    assert_eq!(identity(&all, &tagging(&["environment"])), Decision::Allow);
    assert_eq!(
        identity(&all, &tagging(&["environment", "cost-center"])),
        Decision::Allow
    );
    assert_eq!(
        identity(&all, &tagging(&["environment", "owner"])),
        Decision::NotApplicable
    );
    // AWS: ForAllValues also holds when the key is absent.
    assert_eq!(identity(&all, &tagging(&[])), Decision::Allow);

    assert_eq!(
        identity(&any, &tagging(&["owner", "environment"])),
        Decision::Allow
    );
    assert_eq!(
        identity(&any, &tagging(&["owner"])),
        Decision::NotApplicable
    );
    assert_eq!(identity(&any, &tagging(&[])), Decision::NotApplicable);
}

#[test]
fn null_condition() {
    // Allow only with temporary credentials (aws:TokenIssueTime present).
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*",
            "Condition":{"Null":{"aws:TokenIssueTime":"false"}}}}"#,
    );
    let base = req("s3:GetObject", "arn:aws:s3:::b/k");
    assert_eq!(identity(&p, &base), Decision::NotApplicable);
    let temp = base
        .clone()
        .with_key("aws:TokenIssueTime", "2024-01-01T00:00:00Z");
    assert_eq!(identity(&p, &temp), Decision::Allow);

    // Deny requests that do not set an encryption header.
    let deny = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:PutObject",
            "Resource":"arn:aws:s3:::b/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":true}}}}"#,
    );
    let put = req("s3:PutObject", "arn:aws:s3:::b/k");
    assert_eq!(evaluate_resource(&deny, &put), Decision::ExplicitDeny);
    let encrypted = put.with_key("s3:x-amz-server-side-encryption", "AES256");
    assert_eq!(
        evaluate_resource(&deny, &encrypted),
        Decision::NotApplicable
    );
}

#[test]
fn if_exists_matches_when_key_absent() {
    let with = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*",
            "Condition":{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}}}"#,
    );
    let without = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*",
            "Condition":{"StringLike":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}}}"#,
    );
    let run = req(
        "ec2:RunInstances",
        "arn:aws:ec2:us-east-1:111122223333:instance/*",
    );
    assert_eq!(identity(&with, &run), Decision::Allow);
    assert_eq!(identity(&without, &run), Decision::NotApplicable);
    let small = run.clone().with_key("ec2:InstanceType", "t2.micro");
    assert_eq!(identity(&with, &small), Decision::Allow);
    assert_eq!(identity(&without, &small), Decision::Allow);
    let big = run.with_key("ec2:InstanceType", "m5.large");
    assert_eq!(identity(&with, &big), Decision::NotApplicable);
}

#[test]
fn string_like_with_single_character_wildcard() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket",
            "Resource":"arn:aws:s3:::logs","Condition":{"StringLike":{"s3:prefix":"2024-0?/*"}}}}"#,
    );
    let list = |prefix: &str| {
        identity(
            &p,
            &req("s3:ListBucket", "arn:aws:s3:::logs").with_key("s3:prefix", prefix),
        )
    };
    assert_eq!(list("2024-03/"), Decision::Allow);
    assert_eq!(list("2024-09/day1/"), Decision::Allow);
    assert_eq!(list("2024-10/"), Decision::NotApplicable);
    assert_eq!(list("2024-/"), Decision::NotApplicable);
}

#[test]
fn actions_ignore_case_but_resources_do_not() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"S3:getobject",
            "Resource":"arn:aws:s3:::Photos/*"}}"#,
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::Photos/a.jpg")),
        Decision::Allow
    );
    assert_eq!(
        identity(&p, &req("S3:GETOBJECT", "arn:aws:s3:::Photos/a.jpg")),
        Decision::Allow
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::photos/a.jpg")),
        Decision::NotApplicable
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::Photos/A.JPG")),
        Decision::Allow
    );
}

#[test]
fn public_read_bucket_policy() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow",
            "Principal":"*","Action":["s3:GetObject","s3:GetObjectVersion"],
            "Resource":["arn:aws:s3:::public-bucket/*"]}]}"#,
    );
    validate_bucket_policy(&p, "public-bucket").unwrap();
    let anon = |action: &str| {
        evaluate_resource(
            &p,
            &RequestContext::new(action, "arn:aws:s3:::public-bucket/index.html"),
        )
    };
    assert_eq!(anon("s3:GetObject"), Decision::Allow);
    assert_eq!(anon("s3:PutObject"), Decision::NotApplicable);
    assert!(is_allowed(Decision::NotApplicable, anon("s3:GetObject")));
    assert!(!is_allowed(Decision::NotApplicable, anon("s3:PutObject")));
    // Authenticated callers of any account are covered by "*" too.
    assert_eq!(
        evaluate_resource(
            &p,
            &RequestContext::new("s3:GetObject", "arn:aws:s3:::public-bucket/x")
                .with_principal(Principal::user("999988887777", "eve", "AIDAEVE"))
        ),
        Decision::Allow
    );
    // `{"AWS": "*"}` is the same as "*".
    let aws_star = parse(
        &p.to_json()
            .replace(r#""Principal":"*""#, r#""Principal":{"AWS":"*"}"#),
    );
    assert_eq!(aws_star, p);
}

#[test]
fn principal_for_one_account_or_user() {
    let account = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let bare_account = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
            "Principal":{"AWS":["111122223333"]},"Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let user = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let get = |who: Option<Principal>| {
        let ctx = RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k");
        match who {
            Some(p) => ctx.with_principal(p),
            None => ctx,
        }
    };
    let stranger = Principal::user("999988887777", "alice", "AIDAX");
    for p in [&account, &bare_account] {
        assert_eq!(evaluate_resource(p, &get(Some(alice()))), Decision::Allow);
        assert_eq!(evaluate_resource(p, &get(Some(bob()))), Decision::Allow);
        assert_eq!(
            evaluate_resource(p, &get(Some(Principal::root(ACCOUNT)))),
            Decision::Allow
        );
        assert_eq!(
            evaluate_resource(p, &get(Some(stranger.clone()))),
            Decision::NotApplicable
        );
        assert_eq!(evaluate_resource(p, &get(None)), Decision::NotApplicable);
    }
    assert_eq!(
        evaluate_resource(&user, &get(Some(alice()))),
        Decision::Allow
    );
    assert_eq!(
        evaluate_resource(&user, &get(Some(bob()))),
        Decision::NotApplicable
    );
    assert_eq!(
        evaluate_resource(&user, &get(Some(stranger))),
        Decision::NotApplicable
    );
}

#[test]
fn not_principal_deny_everyone_but_one_user() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice"]},
             "Action":"s3:*","Resource":["arn:aws:s3:::vault","arn:aws:s3:::vault/*"]},
            {"Effect":"Allow","Principal":{"AWS":"111122223333"},
             "Action":"s3:*","Resource":["arn:aws:s3:::vault","arn:aws:s3:::vault/*"]}]}"#,
    );
    validate_bucket_policy(&p, "vault").unwrap();
    let get = RequestContext::new("s3:GetObject", "arn:aws:s3:::vault/secret");
    assert_eq!(
        evaluate_resource(&p, &get.clone().with_principal(alice())),
        Decision::Allow
    );
    assert_eq!(
        evaluate_resource(&p, &get.clone().with_principal(bob())),
        Decision::ExplicitDeny
    );
    assert_eq!(evaluate_resource(&p, &get), Decision::ExplicitDeny);
}

#[test]
fn star_escape_is_a_literal_asterisk() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::b/${*}special${?}"}}"#,
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::b/*special?")),
        Decision::Allow
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::b/anyspecialx")),
        Decision::NotApplicable
    );
    assert_eq!(
        identity(&p, &req("s3:GetObject", "arn:aws:s3:::b/special")),
        Decision::NotApplicable
    );
}

#[test]
fn variables_in_condition_values() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b",
             "Condition":{"StringEquals":{"s3:prefix":"${aws:username}/"}}},
            {"Effect":"Deny","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b",
             "Condition":{"StringNotEquals":{"s3:delimiter":"${app:delimiter}"}}}]}"#,
    );
    let list = |prefix: &str| {
        req("s3:ListBucket", "arn:aws:s3:::b")
            .with_key("s3:prefix", prefix)
            .with_key("s3:delimiter", "/")
    };
    // app:delimiter has no value, so the policy value is "effectively null":
    // nothing equals it, and StringNotEquals holds although the request's
    // delimiter is exactly what the policy author meant to allow.
    assert_eq!(identity(&p, &list("alice/")), Decision::ExplicitDeny);
    let configured = |ctx: RequestContext| ctx.with_key("app:delimiter", "/");
    assert_eq!(identity(&p, &configured(list("alice/"))), Decision::Allow);
    assert_eq!(
        identity(&p, &configured(list("bob/"))),
        Decision::NotApplicable
    );
}

#[test]
fn conditions_are_anded_and_values_ored() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"*",
            "Condition":{"StringEquals":{"s3:x-amz-acl":["private","bucket-owner-full-control"],
                                         "s3:x-amz-storage-class":"STANDARD"},
                         "NumericLessThanEquals":{"s3:content-length":1048576}}}}"#,
    );
    let put = |acl: &str, class: &str, len: &str| {
        identity(
            &p,
            &req("s3:PutObject", "arn:aws:s3:::b/k")
                .with_key("s3:x-amz-acl", acl)
                .with_key("s3:x-amz-storage-class", class)
                .with_key("s3:content-length", len),
        )
    };
    assert_eq!(put("private", "STANDARD", "10"), Decision::Allow);
    assert_eq!(
        put("bucket-owner-full-control", "STANDARD", "1048576"),
        Decision::Allow
    );
    assert_eq!(
        put("public-read", "STANDARD", "10"),
        Decision::NotApplicable
    );
    assert_eq!(put("private", "GLACIER", "10"), Decision::NotApplicable);
    assert_eq!(
        put("private", "STANDARD", "1048577"),
        Decision::NotApplicable
    );
}

#[test]
fn existing_object_tag_key_lookup_is_case_insensitive() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
            "Condition":{"StringEquals":{"s3:ExistingObjectTag/Project":"apollo"}}}}"#,
    );
    let ctx =
        req("s3:GetObject", "arn:aws:s3:::b/k").with_key("s3:existingobjecttag/project", "apollo");
    assert_eq!(identity(&p, &ctx), Decision::Allow);
    let other =
        req("s3:GetObject", "arn:aws:s3:::b/k").with_key("s3:ExistingObjectTag/Project", "Apollo");
    assert_eq!(identity(&p, &other), Decision::NotApplicable);
}
