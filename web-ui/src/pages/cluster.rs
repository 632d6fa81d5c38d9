//! The cluster: nodes and their drives, the Raft group (roles, terms, lag), and the
//! job engine's queues (admin API GetClusterStatus, ListJobs).

use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;
use serde_json::Value;

use super::identity::admin_json;
use super::{Notice, human_size, shell};
use crate::{Console, Signed};

fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

pub async fn page(State(c): State<Console>, signed: Signed) -> Response {
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
    }
    .into_any();
    shell("Cluster", Some(&signed.session), Notice::None, body).into_response()
}
