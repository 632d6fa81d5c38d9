//! The cluster: nodes and their drives, the Raft group (roles, terms, lag), and the
//! job engine's queues (admin API GetClusterStatus, ListJobs).

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;
use serde_json::Value;

use serde::Deserialize;

use super::buckets::Flash;
use super::identity::admin_json;
use super::{Notice, csrf_field, human_size, redirect_with, shell};
use crate::backend::enc;
use crate::{Console, Signed};

fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    csrf: String,
    id: String,
}

/// Retry a dead job (admin API RetryJob).
pub async fn retry(
    State(c): State<Console>,
    signed: Signed,
    form: Result<Form<RetryForm>, FormRejection>,
) -> Response {
    let f = match super::posted(&signed, form, "/cluster", |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let done = admin_json(
        &c,
        &signed,
        Method::POST,
        &format!("/v1/jobs/{}/retry", enc(&f.id)),
        None,
    )
    .await
    .map(|_| format!("Job {} queued again", f.id));
    redirect_with("/cluster", done)
}

pub async fn page(State(c): State<Console>, signed: Signed, Query(q): Query<Flash>) -> Response {
    let status = match admin_json(&c, &signed, Method::GET, "/v1/cluster", None).await {
        Ok(v) => v,
        Err(e) => return super::error_page(Some(&signed.session), &e),
    };
    let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
    let node_rows = nodes
        .iter()
        .flat_map(|n| {
            let drives = n["drives"].as_array().cloned().unwrap_or_default();
            let (id, addr, state) = (s(&n["id"]), s(&n["address"]), s(&n["state"]));
            drives
                .into_iter()
                .map(move |d| {
                    let free = d["free_bytes"].as_u64().map(human_size).unwrap_or_else(|| "—".into());
                    view! {
                        <tr class="drive">
                            <td>{id.clone()}</td><td>{addr.clone()}</td><td>{state.clone()}</td>
                            <td>{format!("{}/{}", s(&d["set"]), s(&d["slot"]))}</td>
                            <td>{s(&d["path"])}</td><td class="drive-state">{s(&d["state"])}</td><td>{free}</td>
                        </tr>
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>();
    let raft = &status["raft"];
    let members = raft["members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            view! {
                <tr class="member">
                    <td>{s(&m["id"])}</td><td>{s(&m["rpc_address"])}</td><td class="role">{s(&m["role"])}</td>
                    <td>{s(&m["state"])}</td><td>{s(&m["term"])}</td><td>{s(&m["last_applied"])}</td><td class="lag">{s(&m["lag"])}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let jobs = admin_json(&c, &signed, Method::GET, "/v1/jobs?limit=1", None).await;
    let job_rows = match &jobs {
        Ok(j) => j["counts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|k| view! { <tr class="jobs"><td>{s(&k["kind"])}</td><td>{s(&k["state"])}</td><td>{s(&k["count"])}</td></tr> })
            .collect::<Vec<_>>(),
        Err(_) => Vec::new(),
    };
    let dead = admin_json(
        &c,
        &signed,
        Method::GET,
        "/v1/jobs?state=dead&limit=50",
        None,
    )
    .await
    .ok()
    .and_then(|j| j["jobs"].as_array().cloned())
    .unwrap_or_default();
    let dead_rows = dead
        .into_iter()
        .map(|j| {
            let id = s(&j["id"]);
            let csrf = csrf_field(&signed.session);
            view! {
                <tr class="dead-job">
                    <td>{id.clone()}</td><td>{s(&j["kind"])}</td><td>{s(&j["attempts"])}</td><td>{s(&j["last_error"])}</td>
                    <td>
                        <form method="post" action="/cluster/jobs/retry" class="inline">
                            {csrf}
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="retry">"Retry"</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let body = view! {
        <h1>"Cluster"</h1>
        <table class="facts" id="raft">
            <tr><th>"Cluster"</th><td>{s(&raft["cluster_id"])}</td></tr>
            <tr><th>"This node"</th><td>{s(&raft["node_id"])}</td></tr>
            <tr><th>"Leader"</th><td id="leader">{s(&raft["leader"])}</td></tr>
            <tr><th>"Term"</th><td>{s(&raft["term"])}</td></tr>
            <tr><th>"Last log index / applied"</th><td>{format!("{} / {}", s(&raft["last_log_index"]), s(&raft["last_applied"]))}</td></tr>
        </table>
        <h2>"Raft members"</h2>
        <table id="members"><thead><tr><th>"Node"</th><th>"RPC address"</th><th>"Role"</th><th>"State"</th><th>"Term"</th><th>"Applied"</th><th>"Lag"</th></tr></thead><tbody>{members}</tbody></table>
        <h2>"Nodes and drives"</h2>
        <table id="drives"><thead><tr><th>"Node"</th><th>"Address"</th><th>"State"</th><th>"Set/slot"</th><th>"Path"</th><th>"Drive"</th><th>"Free"</th></tr></thead><tbody>{node_rows}</tbody></table>
        <h2>"Jobs"</h2>
        <table id="jobs"><thead><tr><th>"Kind"</th><th>"State"</th><th>"Count"</th></tr></thead><tbody>{job_rows}</tbody></table>
        <h2>"Dead letters"</h2>
        <table id="dead-jobs"><thead><tr><th>"Job"</th><th>"Kind"</th><th>"Attempts"</th><th>"Last error"</th><th></th></tr></thead><tbody>{dead_rows}</tbody></table>
    }
    .into_any();
    shell(
        "Cluster",
        Some(&signed.session),
        Notice::from_query(q.msg, q.err),
        body,
    )
    .into_response()
}
