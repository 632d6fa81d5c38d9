//! The object browser: a bucket's keys with prefixes as folders (ListObjectsV2 with
//! a delimiter, a page at a time), search by prefix, an object's details (metadata,
//! tags, lock state, versions and delete markers), previews, download and delete.

use axum::Form;
use axum::body::Body;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;
use serde::Deserialize;

use super::{Notice, csrf_field, human_size, redirect_with, shell};
use crate::backend::{Api, Payload, api_error, enc, enc_key};
use crate::error::{ConsoleError, ConsoleResult};
use crate::security::RAW_CSP;
use crate::{Console, Signed, s3xml};

/// Keys per listing page.
const PAGE: usize = 200;
/// What a text preview reads of an object.
const PREVIEW_BYTES: u64 = 64 * 1024;
const CSV_ROWS: usize = 20;

#[derive(Deserialize, Default)]
pub struct BrowseQuery {
    #[serde(default)]
    prefix: String,
    token: Option<String>,
    #[serde(default)]
    search: String,
    msg: Option<String>,
    err: Option<String>,
}

fn browse_href(bucket: &str, prefix: &str) -> String {
    format!("/browse/{}?prefix={}", enc(bucket), enc(prefix))
}

fn object_href(bucket: &str, key: &str) -> String {
    format!("/object/{}?key={}", enc(bucket), enc(key))
}

/// The parent "folder" of a key.
fn parent(key: &str) -> &str {
    match key.trim_end_matches('/').rfind('/') {
        Some(i) => &key[..=i],
        None => "",
    }
}

pub async fn browse(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Query(q): Query<BrowseQuery>,
) -> Response {
    let listed_prefix = format!("{}{}", q.prefix, q.search);
    let mut path = format!(
        "/{}?list-type=2&delimiter=%2F&max-keys={PAGE}&prefix={}",
        enc(&bucket),
        enc(&listed_prefix)
    );
    if let Some(t) = &q.token {
        path.push_str(&format!("&continuation-token={}", enc(t)));
    }
    let page = match c
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
        .and_then(|(_, b)| s3xml::list_page(&b).map_err(ConsoleError::internal))
    {
        Ok(p) => p,
        Err(e) => return super::error_page(Some(&s.session), &e),
    };

    // Breadcrumbs: the bucket, then each folder of the prefix.
    let mut crumbs = vec![view! { <a href=browse_href(&bucket, "")>{bucket.clone()}</a> }];
    let mut acc = String::new();
    for part in q.prefix.split_inclusive('/') {
        acc.push_str(part);
        crumbs.push(view! { <a href=browse_href(&bucket, &acc)>{part.to_string()}</a> });
    }
    let folders = page
        .common_prefixes
        .iter()
        .map(|p| {
            let name = p.prefix[q.prefix.len().min(p.prefix.len())..].to_string();
            view! {
                <tr class="folder">
                    <td><a class="folder" href=browse_href(&bucket, &p.prefix)>{name}</a></td>
                    <td>"—"</td><td></td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let files = page
        .contents
        .iter()
        .map(|o| {
            let name = o.key[q.prefix.len().min(o.key.len())..].to_string();
            view! {
                <tr class="object">
                    <td><a class="object" href=object_href(&bucket, &o.key)>{name}</a></td>
                    <td>{human_size(o.size)}</td>
                    <td>{o.last_modified.clone()}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let shown = page.common_prefixes.len() + page.contents.len();
    let next = page
        .next_continuation_token
        .filter(|_| page.is_truncated)
        .map(|t| {
            let href = format!(
                "/browse/{}?prefix={}&search={}&token={}",
                enc(&bucket),
                enc(&q.prefix),
                enc(&q.search),
                enc(&t)
            );
            view! { <a id="next-page" href=href>"Next page →"</a> }
        });
    let csrf = csrf_field(&s.session);
    let csrf2 = csrf_field(&s.session);
    let body = view! {
        <h1 class="crumbs">{crumbs}</h1>
        <p>
            <a id="policy-link" href=format!("/buckets/{}/policy", enc(&bucket))>"Bucket policy"</a>
            " · "
            <a id="settings-link" href=format!("/buckets/{}/settings", enc(&bucket))>"Settings"</a>
        </p>
        <form method="get" action=format!("/browse/{}", enc(&bucket)) id="search-form" class="inline">
            <input type="hidden" name="prefix" value=q.prefix.clone()/>
            <input name="search" id="search" placeholder="Search by prefix" value=q.search.clone()/>
            <button type="submit">"Search"</button>
        </form>
        <p class="count" id="count">{format!("{shown} item(s) on this page")}</p>
        <table id="objects">
            <thead><tr><th>"Name"</th><th>"Size"</th><th>"Modified"</th></tr></thead>
            <tbody>{folders}{files}</tbody>
        </table>
        {next}
        <section id="dropzone" class="dropzone" data-bucket=bucket.clone() data-prefix=q.prefix.clone()>
            {csrf}
            <p>"Drop files or folders here, or choose them: "
                <input type="file" id="files" multiple/>
                " "
                <input type="file" id="folder" webkitdirectory/>
            </p>
            <ul id="uploads"></ul>
        </section>
        <form method="post" enctype="multipart/form-data" action=format!("/upload/{}", enc(&bucket)) id="plain-upload">
            {csrf2}
            <input type="hidden" name="prefix" value=q.prefix.clone()/>
            <label>"Upload one file without the script: " <input type="file" name="file" id="plain-file"/></label>
            <button type="submit" id="plain-upload-button">"Upload"</button>
        </form>
    }
    .into_any();
    shell(
        &bucket,
        Some(&s.session),
        Notice::from_query(q.msg, q.err),
        body,
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct ObjectQuery {
    key: String,
    #[serde(rename = "versionId")]
    version_id: Option<String>,
    msg: Option<String>,
    err: Option<String>,
}

fn object_path(bucket: &str, key: &str, version: Option<&str>) -> String {
    let mut p = format!("/{}/{}", enc(bucket), enc_key(key));
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        p.push_str(&format!("?versionId={}", enc(v)));
    }
    p
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// How an object is previewed, from its type and name.
#[derive(Debug, PartialEq, Eq)]
enum PreviewKind {
    Image,
    Audio,
    Video,
    Pdf,
    Json,
    Csv,
    Text,
    None,
}

fn preview_kind(content_type: &str, key: &str) -> PreviewKind {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ext = key
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match (ct.as_str(), ext.as_str()) {
        // SVG can carry script: it is shown as text.
        ("image/svg+xml", _) | (_, "svg") => PreviewKind::Text,
        ("image/png" | "image/jpeg" | "image/gif" | "image/webp", _) => PreviewKind::Image,
        (_, "png" | "jpg" | "jpeg" | "gif" | "webp") => PreviewKind::Image,
        (c, _) if c.starts_with("audio/") => PreviewKind::Audio,
        (_, "mp3" | "wav" | "ogg" | "flac") => PreviewKind::Audio,
        (c, _) if c.starts_with("video/") => PreviewKind::Video,
        (_, "mp4" | "webm") => PreviewKind::Video,
        ("application/pdf", _) | (_, "pdf") => PreviewKind::Pdf,
        ("application/json", _) | (_, "json") => PreviewKind::Json,
        ("text/csv", _) | (_, "csv") => PreviewKind::Csv,
        (c, _) if c.starts_with("text/") => PreviewKind::Text,
        (
            _,
            "txt" | "md" | "log" | "html" | "htm" | "xml" | "yaml" | "yml" | "toml" | "ini" | "js"
            | "css" | "rs" | "py" | "sh",
        ) => PreviewKind::Text,
        _ => PreviewKind::None,
    }
}

/// One CSV line into fields (quotes, doubled quotes inside them).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

async fn read_head(
    c: &Console,
    s: &Signed,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> ConsoleResult<(String, bool)> {
    let mut h = HeaderMap::new();
    h.insert(
        header::RANGE,
        HeaderValue::from_str(&format!("bytes=0-{}", PREVIEW_BYTES - 1))
            .map_err(ConsoleError::internal)?,
    );
    let (headers, body) = c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::GET,
            &object_path(bucket, key, version),
            h,
            Payload::Empty,
        )
        .await?;
    let total = header_str(&headers, "content-range")
        .and_then(|r| r.rsplit_once('/').and_then(|(_, t)| t.parse::<u64>().ok()))
        .unwrap_or(body.len() as u64);
    Ok((
        String::from_utf8_lossy(&body).into_owned(),
        total > body.len() as u64,
    ))
}

pub async fn details(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Query(q): Query<ObjectQuery>,
) -> Response {
    let version = q.version_id.as_deref();
    let head = c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::HEAD,
            &object_path(&bucket, &q.key, version),
            HeaderMap::new(),
            Payload::Empty,
        )
        .await;
    let headers = match head {
        Ok((h, _)) => h,
        Err(e) => return super::error_page(Some(&s.session), &e),
    };
    let content_type = header_str(&headers, "content-type").unwrap_or_default();
    let size = header_str(&headers, "content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let mut facts = vec![
        (
            "Size".to_string(),
            format!("{} ({size} bytes)", human_size(size)),
        ),
        ("Type".to_string(), content_type.clone()),
        (
            "ETag".to_string(),
            header_str(&headers, "etag").unwrap_or_default(),
        ),
        (
            "Modified".to_string(),
            header_str(&headers, "last-modified").unwrap_or_default(),
        ),
    ];
    for (name, label) in [
        ("x-amz-version-id", "Version"),
        ("x-amz-server-side-encryption", "Encryption"),
        ("x-amz-object-lock-mode", "Lock mode"),
        ("x-amz-object-lock-retain-until-date", "Retain until"),
        ("x-amz-object-lock-legal-hold", "Legal hold"),
        ("x-amz-storage-class", "Storage class"),
    ] {
        if let Some(v) = header_str(&headers, name) {
            facts.push((label.to_string(), v));
        }
    }
    let mut meta: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix("x-amz-meta-")?;
            Some((name.to_string(), v.to_str().ok()?.to_string()))
        })
        .collect();
    meta.sort();

    let mut tag_path = object_path(&bucket, &q.key, version);
    tag_path.push_str(if tag_path.contains('?') {
        "&tagging"
    } else {
        "?tagging"
    });
    let tags = c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::GET,
            &tag_path,
            HeaderMap::new(),
            Payload::Empty,
        )
        .await
        .ok()
        .and_then(|(_, b)| s3xml::tags(&b).ok())
        .unwrap_or_default();

    let versions = c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::GET,
            &format!(
                "/{}?versions&prefix={}&max-keys=100",
                enc(&bucket),
                enc(&q.key)
            ),
            HeaderMap::new(),
            Payload::Empty,
        )
        .await
        .ok()
        .and_then(|(_, b)| s3xml::versions(&b).ok())
        .map(|v| {
            let mut all: Vec<(s3xml::VersionEntry, bool)> = v
                .version
                .into_iter()
                .map(|e| (e, false))
                .chain(v.delete_marker.into_iter().map(|e| (e, true)))
                .filter(|(e, _)| e.key == q.key)
                .collect();
            all.sort_by(|a, b| b.0.last_modified.cmp(&a.0.last_modified));
            all
        })
        .unwrap_or_default();

    let kind = preview_kind(&content_type, &q.key);
    let raw_href = {
        let mut h = format!("/raw/{}?key={}", enc(&bucket), enc(&q.key));
        if let Some(v) = version {
            h.push_str(&format!("&versionId={}", enc(v)));
        }
        h
    };
    let preview: AnyView = match kind {
        PreviewKind::Image => view! { <img id="preview" class="preview" src=raw_href.clone() alt=q.key.clone()/> }.into_any(),
        PreviewKind::Audio => view! { <audio id="preview" controls src=raw_href.clone()></audio> }.into_any(),
        PreviewKind::Video => view! { <video id="preview" class="preview" controls src=raw_href.clone()></video> }.into_any(),
        PreviewKind::Pdf => view! { <iframe id="preview" class="preview pdf" src=raw_href.clone() title="PDF preview"></iframe> }.into_any(),
        PreviewKind::Json | PreviewKind::Csv | PreviewKind::Text => match read_head(&c, &s, &bucket, &q.key, version).await {
            Err(e) => view! { <p class="notice err">{e.shown()}</p> }.into_any(),
            Ok((text, cut)) => {
                let more = cut.then(|| view! { <p class="muted">{format!("The first {} shown.", human_size(PREVIEW_BYTES))}</p> });
                match kind {
                    PreviewKind::Json => {
                        let pretty = serde_json::from_str::<serde_json::Value>(&text)
                            .ok()
                            .and_then(|v| serde_json::to_string_pretty(&v).ok())
                            .unwrap_or(text);
                        view! { <pre id="preview" class="preview json">{pretty}</pre>{more} }.into_any()
                    }
                    PreviewKind::Csv => {
                        let mut lines = text.lines().take(CSV_ROWS + 1);
                        let head = lines.next().map(csv_fields).unwrap_or_default();
                        let rows = lines
                            .map(|l| view! { <tr>{csv_fields(l).into_iter().map(|f| view! { <td>{f}</td> }).collect::<Vec<_>>()}</tr> })
                            .collect::<Vec<_>>();
                        view! {
                            <table id="preview" class="preview csv">
                                <thead><tr>{head.into_iter().map(|f| view! { <th>{f}</th> }).collect::<Vec<_>>()}</tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                            <p class="muted">{format!("The first {CSV_ROWS} rows at most.")}</p>
                        }
                        .into_any()
                    }
                    _ => view! { <pre id="preview" class="preview text">{text}</pre>{more} }.into_any(),
                }
            }
        },
        PreviewKind::None => view! { <p class="muted">"No preview for this type."</p> }.into_any(),
    };

    let download = {
        let mut h = format!("/download/{}?key={}", enc(&bucket), enc(&q.key));
        if let Some(v) = version {
            h.push_str(&format!("&versionId={}", enc(v)));
        }
        h
    };
    let version_rows = versions
        .into_iter()
        .map(|(v, marker)| {
            let href = format!("/object/{}?key={}&versionId={}", enc(&bucket), enc(&q.key), enc(&v.version_id));
            let label = if marker { "delete marker".to_string() } else { human_size(v.size) };
            let latest = if v.is_latest { "latest" } else { "" };
            let link = (!marker).then(|| view! { <a href=href>{v.version_id.clone()}</a> });
            let plain = marker.then(|| v.version_id.clone());
            view! { <tr class=if marker { "marker" } else { "version" }><td>{link}{plain}</td><td>{label}</td><td>{v.last_modified}</td><td>{latest}</td></tr> }
        })
        .collect::<Vec<_>>();
    let fact_rows = facts
        .into_iter()
        .map(|(k, v)| view! { <tr><th>{k}</th><td>{v}</td></tr> })
        .collect::<Vec<_>>();
    let meta_rows = meta
        .into_iter()
        .map(|(k, v)| view! { <tr><th>{k}</th><td>{v}</td></tr> })
        .collect::<Vec<_>>();
    let tag_rows = tags
        .into_iter()
        .map(|t| view! { <tr><th>{t.key}</th><td>{t.value}</td></tr> })
        .collect::<Vec<_>>();
    let back = browse_href(&bucket, parent(&q.key));
    let csrf = csrf_field(&s.session);
    let confirm = match version {
        Some(v) => format!("Delete version {v} of {}? This cannot be undone.", q.key),
        None => format!("Delete {}?", q.key),
    };
    let body = view! {
        <p><a href=back id="back">"← Back"</a></p>
        <h1 id="key">{q.key.clone()}</h1>
        <p>
            <a class="button" id="download" href=download>"Download"</a>
            <form method="post" action=format!("/object/{}/delete", enc(&bucket)) class="inline confirm" data-confirm=confirm>
                {csrf}
                <input type="hidden" name="key" value=q.key.clone()/>
                <input type="hidden" name="version_id" value=q.version_id.clone().unwrap_or_default()/>
                <button type="submit" class="danger" id="delete">"Delete"</button>
            </form>
        </p>
        <table class="facts" id="facts">{fact_rows}</table>
        <h2>"Preview"</h2>
        {preview}
        <h2>"Metadata"</h2>
        <table class="facts" id="metadata">{meta_rows}</table>
        <h2>"Tags"</h2>
        <table class="facts" id="tags">{tag_rows}</table>
        <h2>"Versions"</h2>
        <table id="versions"><thead><tr><th>"Version"</th><th>"Size"</th><th>"Modified"</th><th></th></tr></thead><tbody>{version_rows}</tbody></table>
    }
    .into_any();
    shell(
        &q.key,
        Some(&s.session),
        Notice::from_query(q.msg, q.err),
        body,
    )
    .into_response()
}

/// The object's bytes, streamed from the S3 API to the browser.
async fn stream_object(
    c: &Console,
    s: &Signed,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    range: Option<&HeaderValue>,
) -> ConsoleResult<Response<Body>> {
    let mut h = HeaderMap::new();
    if let Some(r) = range {
        h.insert(header::RANGE, r.clone());
    }
    let resp = c
        .backend
        .call(
            Api::S3,
            s.caller(),
            Method::GET,
            &object_path(bucket, key, version),
            h,
            Payload::Empty,
        )
        .await?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map_err(ConsoleError::internal)?
            .to_bytes();
        return Err(api_error(Api::S3, status, &body));
    }
    Ok(resp)
}

/// Only these headers of S3's answer go on to the browser.
fn pass_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for name in [
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
        header::ACCEPT_RANGES,
        header::ETAG,
        header::LAST_MODIFIED,
    ] {
        if let Some(v) = from.get(&name) {
            to.insert(name, v.clone());
        }
    }
}

/// A file name for Content-Disposition: the key's last part, in plain ASCII.
fn file_name(key: &str) -> String {
    let last = key
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("download");
    let safe: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "download".into()
    } else {
        safe
    }
}

pub async fn download(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Query(q): Query<ObjectQuery>,
    req_headers: HeaderMap,
) -> Response {
    match stream_object(
        &c,
        &s,
        &bucket,
        &q.key,
        q.version_id.as_deref(),
        req_headers.get(header::RANGE),
    )
    .await
    {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            let mut out = Response::new(body);
            *out.status_mut() = parts.status;
            pass_headers(&parts.headers, out.headers_mut());
            let h = out.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file_name(&q.key)))
            {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            out
        }
        Err(e) => super::error_page(Some(&s.session), &e),
    }
}

/// Bytes for the previews that the browser renders itself (images, audio, video,
/// PDF), under a sandboxing policy; anything else is refused (never HTML or SVG).
pub async fn raw(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Query(q): Query<ObjectQuery>,
    req_headers: HeaderMap,
) -> Response {
    match stream_object(
        &c,
        &s,
        &bucket,
        &q.key,
        q.version_id.as_deref(),
        req_headers.get(header::RANGE),
    )
    .await
    {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            let stored = header_str(&parts.headers, "content-type").unwrap_or_default();
            let kind = preview_kind(&stored, &q.key);
            let ct = match kind {
                PreviewKind::Image | PreviewKind::Audio | PreviewKind::Video
                    if stored.contains('/') && !stored.contains("svg") =>
                {
                    stored
                }
                PreviewKind::Image => "image/png".into(),
                PreviewKind::Audio => "audio/mpeg".into(),
                PreviewKind::Video => "video/mp4".into(),
                PreviewKind::Pdf => "application/pdf".into(),
                _ => {
                    return (
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "no raw preview for this type",
                    )
                        .into_response();
                }
            };
            let mut out = Response::new(body);
            *out.status_mut() = parts.status;
            pass_headers(&parts.headers, out.headers_mut());
            let h = out.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&ct) {
                h.insert(header::CONTENT_TYPE, v);
            }
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            );
            if kind != PreviewKind::Pdf {
                h.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(RAW_CSP),
                );
            } else {
                // Chromium's PDF viewer does not run in a sandboxed document.
                h.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; frame-ancestors 'self'"),
                );
            }
            h.insert(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("SAMEORIGIN"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=60"),
            );
            out
        }
        Err(e) => (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY),
            e.shown(),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    key: String,
    #[serde(default)]
    version_id: String,
}

pub async fn delete(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let f = match super::posted(&s, form, &browse_href(&bucket, ""), |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let version = Some(f.version_id.as_str()).filter(|v| !v.is_empty());
    let done = c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::DELETE,
            &object_path(&bucket, &f.key, version),
            HeaderMap::new(),
            Payload::Empty,
        )
        .await
        .map(|_| match version {
            Some(v) => format!("Deleted version {v} of {}", f.key),
            None => format!("Deleted {}", f.key),
        });
    redirect_with(&browse_href(&bucket, parent(&f.key)), done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_never_run_markup() {
        assert_eq!(preview_kind("image/svg+xml", "a.svg"), PreviewKind::Text);
        assert_eq!(preview_kind("text/html", "a.html"), PreviewKind::Text);
        assert_eq!(preview_kind("", "photo.JPG"), PreviewKind::Image);
        assert_eq!(
            preview_kind("application/octet-stream", "data.csv"),
            PreviewKind::Csv
        );
        assert_eq!(
            preview_kind("application/json; charset=utf-8", "x"),
            PreviewKind::Json
        );
        assert_eq!(
            preview_kind("application/octet-stream", "blob.bin"),
            PreviewKind::None
        );
    }

    #[test]
    fn csv_fields_handle_quotes() {
        assert_eq!(
            csv_fields(r#"a,"b,c","d ""e""""#),
            vec!["a", "b,c", r#"d "e""#]
        );
    }

    #[test]
    fn parents_and_file_names() {
        assert_eq!(parent("a/b/c.txt"), "a/b/");
        assert_eq!(parent("c.txt"), "");
        assert_eq!(parent("a/b/"), "a/");
        assert_eq!(file_name("dir/ré sumé\".pdf"), "r__sum__.pdf");
    }
}
