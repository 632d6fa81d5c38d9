//! A bucket's settings: versioning and quota (admin API GetBucket,
//! PutBucketVersioning, Put/DeleteBucketQuota).

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::buckets::Flash;
use super::identity::admin_json;
use super::{Notice, csrf_field, human_size, redirect_with, shell};
use crate::backend::enc;
use crate::error::ConsoleError;
use crate::session::csrf_ok;
use crate::{Console, Signed};

pub async fn page(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Query(q): Query<Flash>,
) -> Response {
    let b = match admin_json(
        &c,
        &s,
        Method::GET,
        &format!("/v1/buckets/{}", enc(&bucket)),
        None,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => return super::error_page(Some(&s.session), &e),
    };
    let versioning = b["versioning"].as_str().unwrap_or("Off").to_string();
    let usage_bytes = b["usage"]["bytes"].as_u64().unwrap_or(0);
    let usage_objects = b["usage"]["objects"].as_u64().unwrap_or(0);
    let max_bytes = b["quota"]["max_bytes"]
        .as_u64()
        .map(|v| v.to_string())
        .unwrap_or_default();
    let max_objects = b["quota"]["max_objects"]
        .as_u64()
        .map(|v| v.to_string())
        .unwrap_or_default();
    let (c1, c2) = (csrf_field(&s.session), csrf_field(&s.session));
    let action = format!("/buckets/{}/settings", enc(&bucket));
    let body = view! {
        <p><a href=format!("/browse/{}", enc(&bucket))>{format!("← {bucket}")}</a></p>
        <h1>"Bucket settings"</h1>
        <table class="facts" id="bucket-facts">
            <tr><th>"Account"</th><td>{b["account"].as_str().unwrap_or("").to_string()}</td></tr>
            <tr><th>"Created"</th><td>{b["created"].as_str().unwrap_or("").to_string()}</td></tr>
            <tr><th>"Versioning"</th><td id="versioning">{versioning}</td></tr>
            <tr><th>"Object lock"</th><td>{if b["object_lock"].as_bool().unwrap_or(false) { "on" } else { "off" }}</td></tr>
            <tr><th>"Usage"</th><td id="usage">{format!("{} in {usage_objects} object(s)", human_size(usage_bytes))}</td></tr>
        </table>
        <h2>"Versioning"</h2>
        <form method="post" action=action.clone() class="inline" id="versioning-form">
            {c1}
            <input type="hidden" name="op" value="versioning"/>
            <button type="submit" name="value" value="Enabled" id="versioning-on">"Enable"</button>
            " "
            <button type="submit" name="value" value="Suspended" id="versioning-off">"Suspend"</button>
        </form>
        <h2>"Quota"</h2>
        <form method="post" action=action id="quota-form">
            {c2}
            <input type="hidden" name="op" value="quota"/>
            <label>"Max bytes" <input name="max_bytes" id="max-bytes" value=max_bytes inputmode="numeric"/></label>
            <label>"Max objects" <input name="max_objects" id="max-objects" value=max_objects inputmode="numeric"/></label>
            <button type="submit" id="quota-save">"Save (empty: no limit)"</button>
        </form>
    }
    .into_any();
    shell(
        "Bucket settings",
        Some(&s.session),
        Notice::from_query(q.msg, q.err),
        body,
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    op: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    max_bytes: String,
    #[serde(default)]
    max_objects: String,
}

fn limit(s: &str, what: &str) -> Result<Option<u64>, ConsoleError> {
    let t = s.trim().replace('_', "");
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| ConsoleError::BadInput(format!("{what}: {s:?} is not a whole number")))
}

pub async fn submit(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    form: Result<Form<SettingsForm>, FormRejection>,
) -> Response {
    let back = format!("/buckets/{}/settings", enc(&bucket));
    let Ok(Form(f)) = form else {
        return redirect_with(
            &back,
            Err(ConsoleError::BadInput("the form is incomplete".into())),
        );
    };
    if !csrf_ok(&s.session, &f.csrf) {
        return super::error_page(Some(&s.session), &ConsoleError::Csrf);
    }
    let path = format!("/v1/buckets/{}", enc(&bucket));
    let done = match f.op.as_str() {
        "versioning" => admin_json(
            &c,
            &s,
            Method::PUT,
            &format!("{path}/versioning"),
            Some(json!({"status": f.value})),
        )
        .await
        .map(|_| format!("Versioning: {}", f.value)),
        "quota" => {
            async {
                let (bytes, objects) = (
                    limit(&f.max_bytes, "Max bytes")?,
                    limit(&f.max_objects, "Max objects")?,
                );
                if bytes.is_none() && objects.is_none() {
                    admin_json(&c, &s, Method::DELETE, &format!("{path}/quota"), None).await?;
                    Ok("Quota removed".to_string())
                } else {
                    admin_json(
                        &c,
                        &s,
                        Method::PUT,
                        &format!("{path}/quota"),
                        Some(json!({"max_bytes": bytes, "max_objects": objects})),
                    )
                    .await?;
                    Ok("Quota saved".to_string())
                }
            }
            .await
        }
        other => Err(ConsoleError::BadInput(format!(
            "unknown operation {other:?}"
        ))),
    };
    redirect_with(&back, done)
}
