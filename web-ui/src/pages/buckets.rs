//! The buckets page: the caller's buckets (S3 ListBuckets), create one (with
//! versioning or object lock), delete one.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use leptos::prelude::*;
use serde::Deserialize;

use super::{Notice, csrf_field, redirect_with, shell};
use crate::backend::{Api, Payload, enc};
use crate::error::ConsoleError;
use crate::{Console, Signed, s3xml};

#[derive(Deserialize, Default)]
pub struct Flash {
    pub msg: Option<String>,
    pub err: Option<String>,
}

pub async fn list(State(c): State<Console>, s: Signed, Query(q): Query<Flash>) -> Response {
    let listed = c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::GET,
            "/",
            HeaderMap::new(),
            Payload::Empty,
        )
        .await
        .and_then(|(_, body)| s3xml::buckets(&body).map_err(ConsoleError::internal));
    let buckets = match listed {
        Ok(b) => b,
        Err(e) => return super::error_page(Some(&s.session), &e),
    };
    let count = buckets.len();
    let rows = buckets
        .into_iter()
        .map(|b| {
            let href = format!("/browse/{}", enc(&b.name));
            let name = b.name.clone();
            let csrf = csrf_field(&s.session);
            view! {
                <tr>
                    <td><a class="bucket" href=href>{b.name}</a></td>
                    <td>{b.creation_date}</td>
                    <td>
                        <form method="post" action="/buckets/delete" class="inline confirm"
                            data-confirm=format!("Delete the bucket {name}? It must be empty.")>
                            {csrf}
                            <input type="hidden" name="name" value=name.clone()/>
                            <button type="submit" class="danger">"Delete"</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let csrf = csrf_field(&s.session);
    let body = view! {
        <h1>"Buckets"</h1>
        <p class="count">{format!("{count} bucket(s)")}</p>
        <table id="buckets">
            <thead><tr><th>"Name"</th><th>"Created"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <h2>"Create a bucket"</h2>
        <form method="post" action="/buckets" id="create-bucket">
            {csrf}
            <label>"Name" <input name="name" id="bucket-name" required pattern="[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"/></label>
            <label><input type="checkbox" name="versioning" value="on"/>" Versioning"</label>
            <label><input type="checkbox" name="object_lock" value="on"/>" Object lock (turns versioning on)"</label>
            <button type="submit" id="create">"Create"</button>
        </form>
    }
    .into_any();
    shell(
        "Buckets",
        Some(&s.session),
        Notice::from_query(q.msg, q.err),
        body,
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    name: String,
    versioning: Option<String>,
    object_lock: Option<String>,
}

pub async fn create(
    State(c): State<Console>,
    s: Signed,
    form: Result<Form<CreateForm>, FormRejection>,
) -> Response {
    let f = match super::posted(&s, form, "/buckets", |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let name = f.name.trim().to_string();
    let made = async {
        let mut headers = HeaderMap::new();
        if f.object_lock.is_some() {
            headers.insert(
                "x-amz-bucket-object-lock-enabled",
                HeaderValue::from_static("true"),
            );
        }
        let path = format!("/{}", enc(&name));
        c.backend
            .fetch(
                Api::S3,
                s.caller(),
                Method::PUT,
                &path,
                headers,
                Payload::Empty,
            )
            .await?;
        if f.versioning.is_some() && f.object_lock.is_none() {
            let doc = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
            c.backend
                .fetch(
                    Api::S3,
                    s.caller(),
                    Method::PUT,
                    &format!("{path}?versioning"),
                    HeaderMap::new(),
                    Payload::Bytes(Bytes::from_static(doc.as_bytes())),
                )
                .await?;
        }
        Ok::<_, ConsoleError>(format!("Created the bucket {name}"))
    }
    .await;
    redirect_with("/buckets", made)
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

pub async fn delete(
    State(c): State<Console>,
    s: Signed,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let f = match super::posted(&s, form, "/buckets", |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let done = c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::DELETE,
            &format!("/{}", enc(&f.name)),
            HeaderMap::new(),
            Payload::Empty,
        )
        .await
        .map(|_| format!("Deleted the bucket {}", f.name));
    redirect_with("/buckets", done)
}
