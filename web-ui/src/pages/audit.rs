//! The audit log: search a time window by user, bucket and operation, and export the
//! matches in CloudTrail's file format (admin API ExportAudit).

use axum::extract::{Query, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::identity::admin_json;
use super::{Notice, shell};
use crate::backend::enc;
use crate::error::ConsoleError;
use crate::{Console, Signed};

/// Rows a page shows (the export has them all).
const SHOWN: usize = 500;

#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    /// RFC 3339; default an hour ago.
    #[serde(default)]
    from: String,
    /// RFC 3339; default now.
    #[serde(default)]
    to: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    bucket: String,
    #[serde(default)]
    operation: String,
}

fn window(q: &AuditQuery) -> Result<(String, String), ConsoleError> {
    let now = OffsetDateTime::now_utc();
    let fmt = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    let parse = |s: &str, default: OffsetDateTime| -> Result<String, ConsoleError> {
        if s.trim().is_empty() {
            return Ok(fmt(default));
        }
        OffsetDateTime::parse(s.trim(), &Rfc3339)
            .map(fmt)
            .map_err(|_| {
                ConsoleError::BadInput(format!(
                    "{s:?} is not an RFC 3339 time (2026-12-07T10:00:00Z)"
                ))
            })
    };
    Ok((
        parse(&q.from, now - time::Duration::hours(1))?,
        parse(&q.to, now + time::Duration::minutes(1))?,
    ))
}

/// Whether a CloudTrail record matches the search (substrings, any case).
fn matches(r: &Value, q: &AuditQuery) -> bool {
    let has = |hay: Option<&str>, needle: &str| {
        needle.is_empty() || hay.is_some_and(|h| h.to_lowercase().contains(&needle.to_lowercase()))
    };
    let id = &r["userIdentity"];
    let user_ok = q.user.is_empty()
        || [&id["userName"], &id["arn"], &id["accessKeyId"]]
            .iter()
            .any(|v| has(v.as_str(), &q.user));
    user_ok
        && has(r["requestParameters"]["bucketName"].as_str(), &q.bucket)
        && has(r["eventName"].as_str(), &q.operation)
}

async fn search(c: &Console, s: &Signed, q: &AuditQuery) -> Result<Vec<Value>, ConsoleError> {
    let (from, to) = window(q)?;
    let doc = admin_json(
        c,
        s,
        Method::GET,
        &format!("/v1/audit/export?from={}&to={}", enc(&from), enc(&to)),
        None,
    )
    .await?;
    Ok(doc["Records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| matches(r, q))
        .collect())
}

pub async fn page(State(c): State<Console>, s: Signed, Query(q): Query<AuditQuery>) -> Response {
    let (found, notice) = match search(&c, &s, &q).await {
        Ok(r) => (r, Notice::None),
        Err(e) => (Vec::new(), Notice::Err(e.shown())),
    };
    let total = found.len();
    let rows = found
        .iter()
        .rev()
        .take(SHOWN)
        .map(|r| {
            let id = &r["userIdentity"];
            let who = id["userName"].as_str().or(id["arn"].as_str()).or(id["type"].as_str()).unwrap_or("").to_string();
            view! {
                <tr class="record">
                    <td>{r["eventTime"].as_str().unwrap_or("").to_string()}</td>
                    <td class="op">{r["eventName"].as_str().unwrap_or("").to_string()}</td>
                    <td>{who}</td>
                    <td>{r["requestParameters"]["bucketName"].as_str().unwrap_or("").to_string()}</td>
                    <td>{r["sourceIPAddress"].as_str().unwrap_or("").to_string()}</td>
                    <td>{r["errorCode"].as_str().unwrap_or("").to_string()}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let export = format!(
        "/audit/export?from={}&to={}&user={}&bucket={}&operation={}",
        enc(&q.from),
        enc(&q.to),
        enc(&q.user),
        enc(&q.bucket),
        enc(&q.operation)
    );
    let body = view! {
        <h1>"Audit log"</h1>
        <form method="get" action="/audit" id="audit-form">
            <label>"From" <input name="from" value=q.from.clone() placeholder="an hour ago (RFC 3339)"/></label>
            <label>"To" <input name="to" value=q.to.clone() placeholder="now"/></label>
            <label>"User" <input name="user" id="audit-user" value=q.user.clone()/></label>
            <label>"Bucket" <input name="bucket" id="audit-bucket" value=q.bucket.clone()/></label>
            <label>"Operation" <input name="operation" id="audit-op" value=q.operation.clone() placeholder="PutObject"/></label>
            <button type="submit" id="audit-search">"Search"</button>
        </form>
        <p class="count" id="audit-count">{format!("{total} record(s), newest first{}", if total > SHOWN { format!(", the first {SHOWN} shown") } else { String::new() })}</p>
        <p><a id="audit-export" href=export>"Export as CloudTrail JSON"</a></p>
        <table id="audit"><thead><tr><th>"Time"</th><th>"Operation"</th><th>"User"</th><th>"Bucket"</th><th>"Source"</th><th>"Error"</th></tr></thead><tbody>{rows}</tbody></table>
    }
    .into_any();
    shell("Audit", Some(&s.session), notice, body).into_response()
}

pub async fn export(State(c): State<Console>, s: Signed, Query(q): Query<AuditQuery>) -> Response {
    match search(&c, &s, &q).await {
        Ok(records) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"hafiz-audit.json\"",
                ),
            ],
            json!({ "Records": records }).to_string(),
        )
            .into_response(),
        Err(e) => super::error_page(Some(&s.session), &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_match_substrings_in_any_case() {
        let r = json!({"eventName": "PutObject", "userIdentity": {"userName": "Alice", "arn": "arn:aws:iam::1:user/Alice"},
                       "requestParameters": {"bucketName": "photos"}});
        let q = |user: &str, bucket: &str, op: &str| AuditQuery {
            user: user.into(),
            bucket: bucket.into(),
            operation: op.into(),
            ..Default::default()
        };
        assert!(matches(&r, &q("alice", "pho", "put")));
        assert!(!matches(&r, &q("bob", "", "")));
        assert!(!matches(&r, &q("", "docs", "")));
        assert!(!matches(&r, &q("", "", "GetObject")));
        assert!(
            window(&AuditQuery {
                from: "yesterday".into(),
                ..Default::default()
            })
            .is_err()
        );
    }
}
