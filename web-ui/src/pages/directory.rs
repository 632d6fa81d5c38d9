//! The rest of identity: groups (members, attached policies), managed policies (a
//! new one checked by the server's parser first), accounts with their quotas and
//! usage, and rate limits. Each list is the admin API's; each form one call.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use hafiz_iam::{Policy, validate_identity_policy};
use leptos::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::buckets::Flash;
use super::identity::admin_json;
use super::{Notice, csrf_field, human_size, redirect_with, shell};
use crate::backend::enc;
use crate::error::ConsoleError;
use crate::{Console, Signed};

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn list(v: Result<Value, ConsoleError>) -> Result<Vec<Value>, ConsoleError> {
    v.map(|v| v.as_array().cloned().unwrap_or_default())
}

pub async fn page(State(c): State<Console>, s: Signed, Query(q): Query<Flash>) -> Response {
    let groups = list(admin_json(&c, &s, Method::GET, "/v1/groups", None).await);
    let policies = list(admin_json(&c, &s, Method::GET, "/v1/policies", None).await);
    let accounts = list(admin_json(&c, &s, Method::GET, "/v1/accounts", None).await);
    let limits = list(admin_json(&c, &s, Method::GET, "/v1/rate-limits", None).await);
    // A caller without admin rights sees the first refusal, not four.
    let (groups, policies, accounts, limits) = match (groups, policies, accounts, limits) {
        (Ok(g), Ok(p), Ok(a), Ok(l)) => (g, p, a, l),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return super::error_page(Some(&s.session), &e);
        }
    };
    let group_rows = groups
        .iter()
        .map(|g| view! { <tr class="group"><td>{text(&g["name"])}</td><td>{text(&g["members"])}</td><td>{text(&g["policies"])}</td></tr> })
        .collect::<Vec<_>>();
    let policy_rows = policies
        .iter()
        .map(|p| {
            let doc = serde_json::to_string_pretty(&p["document"]).unwrap_or_default();
            view! { <tr class="policy"><td>{text(&p["name"])}</td><td>{text(&p["attachments"])}</td><td><details><summary>"Document"</summary><pre>{doc}</pre></details></td></tr> }
        })
        .collect::<Vec<_>>();
    let account_rows = accounts
        .iter()
        .map(|a| {
            let quota = match (a["quota"]["max_bytes"].as_u64(), a["quota"]["max_objects"].as_u64()) {
                (None, None) => "none".to_string(),
                (b, o) => format!("{} / {}", b.map(human_size).unwrap_or_else(|| "—".into()), o.map(|o| o.to_string()).unwrap_or_else(|| "—".into())),
            };
            view! {
                <tr class="account">
                    <td>{text(&a["name"])}</td><td>{text(&a["id"])}</td><td>{text(&a["users"])}</td><td>{text(&a["buckets"])}</td>
                    <td>{human_size(a["usage"]["bytes"].as_u64().unwrap_or(0))}</td><td>{quota}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let limit_rows = limits
        .iter()
        .map(|l| view! { <tr class="limit"><td>{text(&l["scope"])}</td><td>{text(&l["name"])}</td><td>{text(&l["requests_per_second"])}</td><td>{text(&l["bytes_per_second"])}</td></tr> })
        .collect::<Vec<_>>();
    let (c1, c2, c3, c4, c5) = (
        csrf_field(&s.session),
        csrf_field(&s.session),
        csrf_field(&s.session),
        csrf_field(&s.session),
        csrf_field(&s.session),
    );
    let body = view! {
        <h1>"Groups, policies, accounts, rate limits"</h1>
        <h2>"Groups"</h2>
        <table id="groups"><thead><tr><th>"Name"</th><th>"Members"</th><th>"Policies"</th></tr></thead><tbody>{group_rows}</tbody></table>
        <form method="post" action="/directory" class="row" id="group-form">
            {c1}<input type="hidden" name="op" value="group"/>
            <label>"Group" <input name="name" id="group-name" required/></label>
            <label>"Add member (user)" <input name="member" id="group-member"/></label>
            <label>"Attach policy" <input name="policy" id="group-policy"/></label>
            <button type="submit" id="group-save">"Create or update"</button>
        </form>
        <h2>"Policies"</h2>
        <table id="policies"><thead><tr><th>"Name"</th><th>"Attachments"</th><th></th></tr></thead><tbody>{policy_rows}</tbody></table>
        <form method="post" action="/directory" id="policy-create-form">
            {c2}<input type="hidden" name="op" value="policy"/>
            <label>"Name" <input name="name" id="new-policy-name" required/></label>
            <textarea name="document" id="new-policy-document" rows="8" cols="80" spellcheck="false">"{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\"], \"Resource\": [\"arn:aws:s3:::*\"]}]}"</textarea>
            <button type="submit" id="new-policy-save">"Create"</button>
        </form>
        <h2>"Accounts"</h2>
        <table id="accounts"><thead><tr><th>"Name"</th><th>"Id"</th><th>"Users"</th><th>"Buckets"</th><th>"Used"</th><th>"Quota (bytes / objects)"</th></tr></thead><tbody>{account_rows}</tbody></table>
        <form method="post" action="/directory" id="account-form">
            {c3}<input type="hidden" name="op" value="account"/>
            <label>"Account" <input name="name" id="account-name" required/></label>
            <label>"Max bytes" <input name="max_bytes" id="account-max-bytes"/></label>
            <label>"Max objects" <input name="max_objects" id="account-max-objects"/></label>
            <button type="submit" id="account-save">"Create"</button>
        </form>
        <form method="post" action="/directory" id="account-quota-form">
            {c4}<input type="hidden" name="op" value="account-quota"/>
            <label>"Account" <input name="name" id="quota-account" required/></label>
            <label>"Max bytes" <input name="max_bytes"/></label>
            <label>"Max objects" <input name="max_objects"/></label>
            <button type="submit">"Set quota (empty: none)"</button>
        </form>
        <h2>"Rate limits"</h2>
        <table id="limits"><thead><tr><th>"Scope"</th><th>"Name"</th><th>"Requests/s"</th><th>"Bytes/s"</th></tr></thead><tbody>{limit_rows}</tbody></table>
        <form method="post" action="/directory" id="limit-form">
            {c5}<input type="hidden" name="op" value="limit"/>
            <label>"Scope" <select name="scope" id="limit-scope"><option value="keys">"access key"</option><option value="buckets">"bucket"</option></select></label>
            <label>"Name" <input name="name" id="limit-name" required/></label>
            <label>"Requests/s" <input name="rps" id="limit-rps"/></label>
            <label>"Bytes/s" <input name="bps" id="limit-bps"/></label>
            <button type="submit" id="limit-save">"Set (both empty: remove)"</button>
        </form>
    }
    .into_any();
    shell(
        "Directory",
        Some(&s.session),
        Notice::from_query(q.msg, q.err),
        body,
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct DirectoryForm {
    #[serde(default)]
    csrf: String,
    op: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    member: String,
    #[serde(default)]
    policy: String,
    #[serde(default)]
    document: String,
    #[serde(default)]
    max_bytes: String,
    #[serde(default)]
    max_objects: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    rps: String,
    #[serde(default)]
    bps: String,
}

fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<Option<T>, ConsoleError> {
    let t = s.trim().replace('_', "");
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| ConsoleError::BadInput(format!("{what}: {s:?} is not a number")))
}

/// Whether the admin API already has this entity (create-or-update forms).
async fn exists(c: &Console, s: &Signed, path: &str) -> Result<bool, ConsoleError> {
    match admin_json(c, s, Method::GET, path, None).await {
        Ok(_) => Ok(true),
        Err(ConsoleError::Api { status: 404, .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn apply(c: &Console, s: &Signed, f: &DirectoryForm) -> Result<String, ConsoleError> {
    let name = f.name.trim();
    match f.op.as_str() {
        "group" => {
            let path = format!("/v1/groups/{}", enc(name));
            if !exists(c, s, &path).await? {
                admin_json(
                    c,
                    s,
                    Method::POST,
                    "/v1/groups",
                    Some(json!({"name": name})),
                )
                .await?;
            }
            if !f.member.trim().is_empty() {
                admin_json(
                    c,
                    s,
                    Method::PUT,
                    &format!("{path}/members/{}", enc(f.member.trim())),
                    None,
                )
                .await?;
            }
            if !f.policy.trim().is_empty() {
                admin_json(
                    c,
                    s,
                    Method::PUT,
                    &format!("{path}/policies/{}", enc(f.policy.trim())),
                    None,
                )
                .await?;
            }
            Ok(format!("Saved the group {name}"))
        }
        "policy" => {
            // The server's own parser and identity-policy rules, before the call.
            let policy = Policy::parse(&f.document)
                .map_err(|e| ConsoleError::BadInput(format!("MalformedPolicyDocument: {e}")))?;
            validate_identity_policy(&policy)
                .map_err(|e| ConsoleError::BadInput(format!("MalformedPolicyDocument: {e}")))?;
            let doc: Value = serde_json::from_str(&f.document).map_err(ConsoleError::internal)?;
            admin_json(
                c,
                s,
                Method::POST,
                "/v1/policies",
                Some(json!({"name": name, "document": doc})),
            )
            .await?;
            Ok(format!("Created the policy {name}"))
        }
        "account" => {
            let quota = json!({"max_bytes": number::<u64>(&f.max_bytes, "Max bytes")?, "max_objects": number::<u64>(&f.max_objects, "Max objects")?});
            admin_json(
                c,
                s,
                Method::POST,
                "/v1/accounts",
                Some(json!({"name": name, "quota": quota})),
            )
            .await?;
            Ok(format!("Created the account {name}"))
        }
        "account-quota" => {
            let (b, o) = (
                number::<u64>(&f.max_bytes, "Max bytes")?,
                number::<u64>(&f.max_objects, "Max objects")?,
            );
            let path = format!("/v1/accounts/{}/quota", enc(name));
            if b.is_none() && o.is_none() {
                admin_json(c, s, Method::DELETE, &path, None).await?;
            } else {
                admin_json(
                    c,
                    s,
                    Method::PUT,
                    &path,
                    Some(json!({"max_bytes": b, "max_objects": o})),
                )
                .await?;
            }
            Ok(format!("Saved the quota of {name}"))
        }
        "limit" => {
            let (rps, bps) = (
                number::<f64>(&f.rps, "Requests/s")?,
                number::<u64>(&f.bps, "Bytes/s")?,
            );
            let path = format!("/v1/rate-limits/{}/{}", enc(&f.scope), enc(name));
            if rps.is_none() && bps.is_none() {
                admin_json(c, s, Method::DELETE, &path, None).await?;
                Ok(format!("Removed the rate limit of {name}"))
            } else {
                admin_json(
                    c,
                    s,
                    Method::PUT,
                    &path,
                    Some(json!({"requests_per_second": rps, "bytes_per_second": bps})),
                )
                .await?;
                Ok(format!("Saved the rate limit of {name}"))
            }
        }
        other => Err(ConsoleError::BadInput(format!(
            "unknown operation {other:?}"
        ))),
    }
}

pub async fn submit(
    State(c): State<Console>,
    s: Signed,
    form: Result<Form<DirectoryForm>, FormRejection>,
) -> Response {
    let f = match super::posted(&s, form, "/directory", |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let done = apply(&c, &s, &f).await;
    redirect_with("/directory", done)
}
