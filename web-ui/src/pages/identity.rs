//! Identity: users (admin API), creating and deleting them, and access keys (a new
//! key's secret is shown once, in the answer to the form, never in a URL).

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use leptos::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::buckets::Flash;
use super::{Notice, csrf_field, redirect_with, shell};
use crate::backend::{Api, Payload, enc};
use crate::error::{ConsoleError, ConsoleResult};
use crate::{Console, Signed};

pub(crate) async fn admin_json(
    c: &Console,
    s: &Signed,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> ConsoleResult<Value> {
    let payload = match body {
        Some(v) => Payload::Bytes(Bytes::from(v.to_string())),
        None => Payload::Empty,
    };
    let mut h = HeaderMap::new();
    if matches!(payload, Payload::Bytes(_)) {
        h.insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
    }
    let (_, bytes) = c
        .backend
        .fetch(Api::Admin, s.caller(), method, path, h, payload)
        .await?;
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(ConsoleError::internal)
}

fn str_list(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub async fn users(State(c): State<Console>, s: Signed, Query(q): Query<Flash>) -> Response {
    render_users(&c, &s, Notice::from_query(q.msg, q.err), None).await
}

/// A key just made: its secret, shown this once.
struct NewKey {
    user: String,
    access_key: String,
    secret_key: String,
}

async fn render_users(
    c: &Console,
    s: &Signed,
    notice: Notice,
    new_key: Option<NewKey>,
) -> Response {
    let users = match admin_json(c, s, Method::GET, "/v1/users", None).await {
        Ok(Value::Array(u)) => u,
        Ok(_) => Vec::new(),
        Err(e) => return super::error_page(Some(&s.session), &e),
    };
    let rows = users
        .iter()
        .map(|u| {
            let name = u["name"].as_str().unwrap_or_default().to_string();
            let account = u["account"].as_str().unwrap_or_default().to_string();
            let (c1, c2) = (csrf_field(&s.session), csrf_field(&s.session));
            view! {
                <tr class="user">
                    <td class="name">{name.clone()}</td>
                    <td>{account}</td>
                    <td>{str_list(&u["groups"])}</td>
                    <td>{str_list(&u["policies"])}</td>
                    <td>
                        <form method="post" action="/users/keys" class="inline">
                            {c1}
                            <input type="hidden" name="name" value=name.clone()/>
                            <button type="submit" class="new-key">"New access key"</button>
                        </form>
                        <form method="post" action="/users/delete" class="inline confirm" data-confirm=format!("Delete the user {name} and its keys?")>
                            {c2}
                            <input type="hidden" name="name" value=name.clone()/>
                            <button type="submit" class="danger">"Delete"</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let secret = new_key.map(|k| {
        view! {
            <section class="secret" id="new-key">
                <h2>{format!("New access key for {}", k.user)}</h2>
                <p>"The secret is shown this once: copy it now."</p>
                <table class="facts">
                    <tr><th>"Access key"</th><td id="new-access-key">{k.access_key}</td></tr>
                    <tr><th>"Secret key"</th><td id="new-secret-key">{k.secret_key}</td></tr>
                </table>
            </section>
        }
    });
    let csrf = csrf_field(&s.session);
    let body = view! {
        <h1>"Users"</h1>
        {secret}
        <table id="users">
            <thead><tr><th>"Name"</th><th>"Account"</th><th>"Groups"</th><th>"Policies"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <h2>"Create a user"</h2>
        <form method="post" action="/users" id="create-user">
            {csrf}
            <label>"Name" <input name="name" id="user-name" required/></label>
            <label>"Policy (optional)" <input name="policy" id="user-policy" placeholder="readwrite"/></label>
            <button type="submit" id="create-user-button">"Create"</button>
        </form>
    }
    .into_any();
    shell("Identity", Some(&s.session), notice, body).into_response()
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    policy: String,
}

pub async fn create_user(
    State(c): State<Console>,
    s: Signed,
    form: Result<Form<UserForm>, FormRejection>,
) -> Response {
    let f = match super::posted(&s, form, "/users", |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let name = f.name.trim().to_string();
    let done = async {
        admin_json(
            &c,
            &s,
            Method::POST,
            "/v1/users",
            Some(json!({"name": name})),
        )
        .await?;
        let policy = f.policy.trim();
        if !policy.is_empty() {
            admin_json(
                &c,
                &s,
                Method::PUT,
                &format!("/v1/users/{}/policies/{}", enc(&name), enc(policy)),
                None,
            )
            .await?;
        }
        Ok::<_, ConsoleError>(format!("Created the user {name}"))
    }
    .await;
    redirect_with("/users", done)
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

pub async fn delete_user(
    State(c): State<Console>,
    s: Signed,
    form: Result<Form<NameForm>, FormRejection>,
) -> Response {
    let f = match super::posted(&s, form, "/users", |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let done = admin_json(
        &c,
        &s,
        Method::DELETE,
        &format!("/v1/users/{}", enc(&f.name)),
        None,
    )
    .await
    .map(|_| format!("Deleted the user {}", f.name));
    redirect_with("/users", done)
}

pub async fn create_key(
    State(c): State<Console>,
    s: Signed,
    form: Result<Form<NameForm>, FormRejection>,
) -> Response {
    let f = match super::posted(&s, form, "/users", |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    match admin_json(
        &c,
        &s,
        Method::POST,
        &format!("/v1/users/{}/keys", enc(&f.name)),
        None,
    )
    .await
    {
        Ok(k) => {
            let new = NewKey {
                user: f.name.clone(),
                access_key: k["access_key_id"].as_str().unwrap_or_default().to_string(),
                secret_key: k["secret_key"].as_str().unwrap_or_default().to_string(),
            };
            render_users(
                &c,
                &s,
                Notice::Ok(format!("Created an access key for {}", f.name)),
                Some(new),
            )
            .await
        }
        Err(e) => redirect_with("/users", Err(e)),
    }
}
