//! The bucket policy editor: the current policy (S3 GetBucketPolicy), templates, a
//! draft checked with the server's own parser and validator before it is sent (an
//! error shown at its line), and "what can this principal do": the server's policy
//! evaluator run on the draft and the principal's identity policies, for one action
//! on one resource, before anything is saved.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hafiz_iam::{
    Decision, Policy, PolicyError, Principal, RequestContext, evaluate_identity, evaluate_resource,
    is_allowed, validate_bucket_policy,
};
use leptos::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use super::{Notice, csrf_field, redirect_with, shell};
use crate::backend::{Api, Payload, enc};
use crate::error::{ConsoleError, ConsoleResult};
use crate::session::csrf_ok;
use crate::{Console, Signed};

/// (id, label, document with BUCKET in it).
const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "public-read",
        "Public read",
        r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "PublicRead",
      "Effect": "Allow",
      "Principal": "*",
      "Action": ["s3:GetObject"],
      "Resource": ["arn:aws:s3:::BUCKET/*"]
    }
  ]
}"#,
    ),
    (
        "read-only-user",
        "Read-only user",
        r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadOnlyUser",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam::ACCOUNT_ID:user/USER_NAME"]},
      "Action": ["s3:GetObject", "s3:ListBucket"],
      "Resource": ["arn:aws:s3:::BUCKET", "arn:aws:s3:::BUCKET/*"]
    }
  ]
}"#,
    ),
    (
        "prefix-per-user",
        "A prefix per user",
        r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "OwnPrefix",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam::ACCOUNT_ID:root"]},
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      "Resource": ["arn:aws:s3:::BUCKET/home/${aws:username}/*"]
    },
    {
      "Sid": "ListOwnPrefix",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam::ACCOUNT_ID:root"]},
      "Action": ["s3:ListBucket"],
      "Resource": ["arn:aws:s3:::BUCKET"],
      "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}
    }
  ]
}"#,
    ),
];

/// A draft's problem, and the line (1-based) it is on when that can be told.
#[derive(Debug, PartialEq)]
pub struct DraftError {
    pub message: String,
    pub line: Option<usize>,
}

/// The line of serde_json's "at line L column C", or of the first line naming the
/// field an error is about.
fn error_line(text: &str, e: &PolicyError) -> Option<usize> {
    let shown = match e {
        PolicyError::Syntax { detail } => detail.clone(),
        other => other.to_string(),
    };
    if let Some(rest) = shown.split(" at line ").nth(1) {
        return rest.split_whitespace().next()?.parse().ok();
    }
    let field = match e {
        PolicyError::UnknownField(f) => Some(f.as_str()),
        PolicyError::MissingField(_) => None,
        _ => shown.split('"').nth(1).or_else(|| shown.rsplit(' ').next()),
    }?;
    text.lines()
        .position(|l| l.contains(&format!("\"{field}\"")) || l.contains(field))
        .map(|i| i + 1)
}

/// Checks a draft as PutBucketPolicy will: Hafiz's parser, then the bucket policy rules.
pub fn check_draft(text: &str, bucket: &str) -> Result<Policy, DraftError> {
    let fail = |e: PolicyError| DraftError {
        line: error_line(text, &e),
        message: match &e {
            PolicyError::Syntax { detail } => format!("{e} {detail}"),
            _ => e.to_string(),
        },
    };
    let policy = Policy::parse(text).map_err(fail)?;
    validate_bucket_policy(&policy, bucket).map_err(fail)?;
    Ok(policy)
}

#[derive(Deserialize, Default)]
pub struct PolicyQuery {
    template: Option<String>,
    msg: Option<String>,
    err: Option<String>,
}

async fn current_policy(c: &Console, s: &Signed, bucket: &str) -> ConsoleResult<String> {
    match c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::GET,
            &format!("/{}?policy", enc(bucket)),
            HeaderMap::new(),
            Payload::Empty,
        )
        .await
    {
        Ok((_, b)) => {
            let text = String::from_utf8_lossy(&b).into_owned();
            Ok(serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or(text))
        }
        Err(ConsoleError::Api { code, .. }) if code == "NoSuchBucketPolicy" => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// What the page shows below the editor.
struct Outcome {
    notice: Notice,
    error_line: Option<usize>,
    verdict: Option<(bool, String)>,
}

#[derive(Default, Clone)]
struct CheckFields {
    principal: String,
    action: String,
    key: String,
}

fn render(s: &Signed, bucket: &str, text: String, check: CheckFields, out: Outcome) -> Response {
    let templates = TEMPLATES
        .iter()
        .map(|(id, label, _)| {
            let href = format!("/buckets/{}/policy?template={id}", enc(bucket));
            view! { <a class="template" href=href>{label.to_string()}</a>" " }
        })
        .collect::<Vec<_>>();
    let rows = text.lines().count().clamp(12, 40).to_string();
    let line_note = out
        .error_line
        .map(|l| view! { <p class="notice err" id="error-line">{format!("Line {l}")}</p> });
    let verdict = out.verdict.map(|(ok, why)| {
        view! { <p class=if ok { "notice ok verdict" } else { "notice err verdict" } id="verdict">{why}</p> }
    });
    let (c1, c2) = (csrf_field(&s.session), csrf_field(&s.session));
    let body = view! {
        <p><a href=format!("/browse/{}", enc(bucket))>{format!("← {bucket}")}</a></p>
        <h1>"Bucket policy"</h1>
        <p>"Templates: "{templates}</p>
        {line_note}
        <form method="post" action=format!("/buckets/{}/policy", enc(bucket)) id="policy-form">
            {c1}
            <textarea name="document" id="policy" rows=rows cols="100" spellcheck="false">{text}</textarea>
            <p>
                <button type="submit" name="op" value="save" id="save-policy">"Check and save"</button>
                " "
                <button type="submit" name="op" value="validate" id="validate-policy">"Check only"</button>
            </p>
            <h2>"What can this principal do?"</h2>
            <p class="muted">"Runs the server's policy evaluator on the policy above (saved or not) and the principal's identity policies."</p>
            <label>"Principal (user name, or * for anyone)" <input name="principal" id="check-principal" value=check.principal/></label>
            <label>"Action" <input name="action" id="check-action" placeholder="s3:GetObject" value=check.action/></label>
            <label>"Key (empty: the bucket)" <input name="key" id="check-key" value=check.key/></label>
            <button type="submit" name="op" value="check" id="check-button">"Check"</button>
            {verdict}
        </form>
        <form method="post" action=format!("/buckets/{}/policy/delete", enc(bucket)) class="confirm" data-confirm="Delete the bucket policy?">
            {c2}
            <button type="submit" class="danger" id="delete-policy">"Delete the policy"</button>
        </form>
    }
    .into_any();
    shell("Bucket policy", Some(&s.session), out.notice, body).into_response()
}

pub async fn page(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Query(q): Query<PolicyQuery>,
) -> Response {
    let text = match q
        .template
        .as_deref()
        .and_then(|t| TEMPLATES.iter().find(|(id, ..)| *id == t))
    {
        Some((_, _, doc)) => doc.replace("BUCKET", &bucket),
        None => match current_policy(&c, &s, &bucket).await {
            Ok(t) => t,
            Err(e) => return super::error_page(Some(&s.session), &e),
        },
    };
    let out = Outcome {
        notice: Notice::from_query(q.msg, q.err),
        error_line: None,
        verdict: None,
    };
    render(&s, &bucket, text, CheckFields::default(), out)
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    document: String,
    #[serde(default)]
    op: String,
    #[serde(default)]
    principal: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    key: String,
}

/// The principal named in the check, and its identity policies (attached to it and
/// to its groups), from the admin API.
async fn identity_of(
    c: &Console,
    s: &Signed,
    name: &str,
) -> ConsoleResult<(Principal, Vec<Policy>)> {
    let get = |path: String| async move {
        let (_, b) = c
            .backend
            .fetch(
                Api::Admin,
                s.caller(),
                Method::GET,
                &path,
                HeaderMap::new(),
                Payload::Empty,
            )
            .await?;
        serde_json::from_slice::<Value>(&b).map_err(ConsoleError::internal)
    };
    let user = get(format!("/v1/users/{}", enc(name))).await?;
    let arn = user["arn"].as_str().unwrap_or_default();
    let account = arn.split(':').nth(4).unwrap_or_default().to_string();
    let principal = Principal::user(account, name, user["id"].as_str().unwrap_or_default());
    let mut names: Vec<String> = user["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    for g in user["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
    {
        let group = get(format!("/v1/groups/{}", enc(g))).await?;
        names.extend(
            group["policies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string)),
        );
    }
    let mut policies = Vec::new();
    for n in names {
        let p = get(format!("/v1/policies/{}", enc(&n))).await?;
        if let Ok(policy) = Policy::from_value(&p["document"]) {
            policies.push(policy);
        }
    }
    Ok((principal, policies))
}

fn decision_word(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allows",
        Decision::ExplicitDeny => "denies",
        Decision::NotApplicable => "says nothing",
    }
}

/// The same, of the identity policies (plural).
fn decision_word_plural(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allow",
        Decision::ExplicitDeny => "deny",
        Decision::NotApplicable => "say nothing",
    }
}

pub async fn submit(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    form: Result<Form<PolicyForm>, FormRejection>,
) -> Response {
    let f = match super::posted(
        &s,
        form,
        &format!("/buckets/{}/policy", enc(&bucket)),
        |f| &f.csrf,
    ) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let fields = CheckFields {
        principal: f.principal.clone(),
        action: f.action.clone(),
        key: f.key.clone(),
    };
    let draft = check_draft(&f.document, &bucket);
    let mut out = Outcome {
        notice: Notice::None,
        error_line: None,
        verdict: None,
    };
    match (&draft, f.op.as_str()) {
        (Err(e), "save" | "validate") => {
            out.notice = Notice::Err(format!("MalformedPolicy: {}", e.message));
            out.error_line = e.line;
        }
        (Ok(_), "validate") => out.notice = Notice::Ok("The policy is valid.".into()),
        (Ok(_), "save") => {
            let path = format!("/{}?policy", enc(&bucket));
            let body = Payload::Bytes(Bytes::from(f.document.clone()));
            match c
                .backend
                .fetch(
                    Api::S3,
                    s.caller(),
                    Method::PUT,
                    &path,
                    HeaderMap::new(),
                    body,
                )
                .await
            {
                Ok(_) => {
                    return redirect_with(
                        &format!("/buckets/{}/policy", enc(&bucket)),
                        Ok("Saved the bucket policy".into()),
                    );
                }
                Err(e) => out.notice = Notice::Err(e.shown()),
            }
        }
        (_, "check") => {
            let action = f.action.trim();
            let resource = match f.key.trim() {
                "" => format!("arn:aws:s3:::{bucket}"),
                k => format!("arn:aws:s3:::{bucket}/{k}"),
            };
            let bucket_policy = match &draft {
                Ok(p) => Some(p),
                Err(_) if f.document.trim().is_empty() => None,
                Err(e) => {
                    out.notice = Notice::Err(format!("MalformedPolicy: {}", e.message));
                    out.error_line = e.line;
                    return render(&s, &bucket, f.document, fields, out);
                }
            };
            let who = f.principal.trim();
            let verdict = if action.is_empty() {
                Err(ConsoleError::BadInput(
                    "name an action, e.g. s3:GetObject".into(),
                ))
            } else if who.is_empty() || who == "*" {
                let ctx = RequestContext::new(action, resource.clone());
                let r = bucket_policy
                    .map(|p| evaluate_resource(p, &ctx))
                    .unwrap_or(Decision::NotApplicable);
                Ok((
                    r == Decision::Allow,
                    format!(
                        "Anyone: the bucket policy {} {action} on {resource}.",
                        decision_word(r)
                    ),
                ))
            } else {
                identity_of(&c, &s, who).await.map(|(principal, policies)| {
                    let ctx = RequestContext::new(action, resource.clone()).with_principal(principal);
                    let refs: Vec<&Policy> = policies.iter().collect();
                    let i = evaluate_identity(&refs, &ctx);
                    let r = bucket_policy.map(|p| evaluate_resource(p, &ctx)).unwrap_or(Decision::NotApplicable);
                    let ok = is_allowed(i, r);
                    (ok, format!(
                        "{who} {} {action} on {resource}: identity policies {}, bucket policy {}.",
                        if ok { "may" } else { "may not" },
                        decision_word_plural(i),
                        decision_word(r)
                    ))
                })
            };
            match verdict {
                Ok(v) => out.verdict = Some(v),
                Err(e) => out.notice = Notice::Err(e.shown()),
            }
        }
        _ => out.notice = Notice::Err("InvalidRequest: unknown operation".into()),
    }
    render(&s, &bucket, f.document, fields, out)
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn delete(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !csrf_ok(&s.session, &f.csrf) {
        return super::error_page(Some(&s.session), &ConsoleError::Csrf);
    }
    let done = c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::DELETE,
            &format!("/{}?policy", enc(&bucket)),
            HeaderMap::new(),
            Payload::Empty,
        )
        .await
        .map(|_| "Deleted the bucket policy".to_string());
    redirect_with(&format!("/buckets/{}/policy", enc(&bucket)), done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid_policies() {
        for (id, _, doc) in TEMPLATES {
            let text = doc
                .replace("BUCKET", "b")
                .replace("ACCOUNT_ID", "123456789012")
                .replace("USER_NAME", "u");
            assert!(
                check_draft(&text, "b").is_ok(),
                "{id}: {:?}",
                check_draft(&text, "b")
            );
        }
    }

    #[test]
    fn errors_point_at_their_line() {
        let bad_json = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\",, }\n  ]\n}";
        let e = check_draft(bad_json, "b").unwrap_err();
        assert_eq!(e.line, Some(4), "{e:?}");
        let unknown = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\n    \"Effect\": \"Allow\",\n    \"Principal\": \"*\",\n    \"Acton\": \"s3:GetObject\",\n    \"Resource\": \"arn:aws:s3:::b/*\"\n  }]\n}";
        let e = check_draft(unknown, "b").unwrap_err();
        assert_eq!(e.line, Some(6), "{e:?}");
    }
}
