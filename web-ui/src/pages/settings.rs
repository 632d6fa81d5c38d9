//! A bucket's settings: versioning and quota (admin API GetBucket,
//! PutBucketVersioning, Put/DeleteBucketQuota), and its CORS and lifecycle
//! documents (S3 Get/Put/DeleteBucketCors and ...Lifecycle), whose errors are S3's.

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
use axum::http::HeaderMap;
use base64::Engine;
use md5::{Digest, Md5};

use crate::backend::{Api, Payload, enc};
use crate::error::ConsoleError;
use crate::{Console, Signed};

/// (S3 subresource, the error code S3 answers when there is none, an example).
const DOCUMENTS: [(&str, &str, &str); 2] = [
    (
        "cors",
        "NoSuchCORSConfiguration",
        "<CORSConfiguration>\n  <CORSRule>\n    <AllowedOrigin>https://app.example.com</AllowedOrigin>\n    <AllowedMethod>GET</AllowedMethod>\n    <AllowedHeader>*</AllowedHeader>\n    <MaxAgeSeconds>3000</MaxAgeSeconds>\n  </CORSRule>\n</CORSConfiguration>",
    ),
    (
        "lifecycle",
        "NoSuchLifecycleConfiguration",
        "<LifecycleConfiguration>\n  <Rule>\n    <ID>expire-logs</ID>\n    <Filter><Prefix>logs/</Prefix></Filter>\n    <Status>Enabled</Status>\n    <Expiration><Days>30</Days></Expiration>\n  </Rule>\n</LifecycleConfiguration>",
    ),
];

/// The bucket's CORS or lifecycle document (S3), or None when it has none.
async fn document(
    c: &Console,
    s: &Signed,
    bucket: &str,
    sub: &str,
    none_code: &str,
) -> Result<Option<String>, ConsoleError> {
    let path = format!("/{}?{sub}", enc(bucket));
    match c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::GET,
            &path,
            HeaderMap::new(),
            Payload::Empty,
        )
        .await
    {
        Ok((_, b)) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(ConsoleError::Api { code, .. }) if code == none_code => Ok(None),
        Err(e) => Err(e),
    }
}

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
    let mut docs = Vec::new();
    for (sub, none, example) in DOCUMENTS {
        let current = match document(&c, &s, &bucket, sub, none).await {
            Ok(d) => d,
            Err(e) => return super::error_page(Some(&s.session), &e),
        };
        let (title, note) = if sub == "cors" {
            ("CORS", "S3's CORSConfiguration XML")
        } else {
            (
                "Lifecycle",
                "S3's LifecycleConfiguration XML (docs/lifecycle.md)",
            )
        };
        let state = if current.is_some() {
            "set"
        } else {
            "none (an example below)"
        };
        let text = current.unwrap_or_else(|| example.to_string());
        let (c1, c2) = (csrf_field(&s.session), csrf_field(&s.session));
        let action = format!("/buckets/{}/settings", enc(&bucket));
        docs.push(view! {
            <h2>{title}</h2>
            <p class="muted">{format!("{note}; now: {state}")}</p>
            <form method="post" action=action.clone() id=format!("{sub}-form")>
                {c1}
                <input type="hidden" name="op" value=format!("put-{sub}")/>
                <textarea name="document" id=format!("{sub}-document") rows="9" cols="100" spellcheck="false">{text}</textarea>
                <p><button type="submit" id=format!("{sub}-save")>"Save"</button></p>
            </form>
            <form method="post" action=action class="confirm" data-confirm=format!("Delete the {title} configuration?")>
                {c2}
                <input type="hidden" name="op" value=format!("delete-{sub}")/>
                <button type="submit" class="danger" id=format!("{sub}-delete")>"Delete"</button>
            </form>
        });
    }
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
        {docs}
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
    #[serde(default)]
    document: String,
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
    let f = match super::posted(&s, form, &back, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
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
        op @ ("put-cors" | "put-lifecycle") => {
            let sub = &op[4..];
            let doc = bytes::Bytes::from(f.document.clone());
            // S3 wants the body's MD5 on these (PutBucketLifecycleConfiguration refuses
            // one without it, as AWS does).
            let mut h = HeaderMap::new();
            let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&doc));
            if let Ok(v) = axum::http::HeaderValue::from_str(&md5) {
                h.insert("content-md5", v);
            }
            let path = format!("/{}?{sub}", enc(&bucket));
            c.backend
                .fetch(
                    Api::S3,
                    s.caller(),
                    Method::PUT,
                    &path,
                    h,
                    Payload::Bytes(doc),
                )
                .await
                .map(|_| format!("Saved the {sub} configuration"))
        }
        op @ ("delete-cors" | "delete-lifecycle") => {
            let sub = &op[7..];
            let path = format!("/{}?{sub}", enc(&bucket));
            c.backend
                .fetch(
                    Api::S3,
                    s.caller(),
                    Method::DELETE,
                    &path,
                    HeaderMap::new(),
                    Payload::Empty,
                )
                .await
                .map(|_| format!("Deleted the {sub} configuration"))
        }
        other => Err(ConsoleError::BadInput(format!(
            "unknown operation {other:?}"
        ))),
    };
    redirect_with(&back, done)
}
