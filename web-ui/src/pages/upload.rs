//! Uploads from the browser (the console's script, one request per file or part):
//! the body streams through to the S3 API, never held whole. Files up to
//! `MULTIPART_ABOVE` (in console.js) are one PutObject; larger ones a multipart
//! upload whose parts the script sends one by one, so each shows progress and a
//! cancel aborts the upload.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::backend::{Api, Payload, enc, enc_key};
use crate::error::ConsoleError;
use crate::session::csrf_ok;
use crate::{Console, Signed, s3xml};

fn refuse(e: &ConsoleError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        Json(json!({"code": e.code(), "message": e.shown()})),
    )
        .into_response()
}

fn check_csrf(s: &Signed, headers: &HeaderMap) -> Result<(), ConsoleError> {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if csrf_ok(&s.session, token) {
        Ok(())
    } else {
        Err(ConsoleError::Csrf)
    }
}

/// Content-Length (S3 needs it) and Content-Type of the browser's request.
fn body_headers(from: &HeaderMap) -> Result<HeaderMap, ConsoleError> {
    let mut h = HeaderMap::new();
    match from.get(header::CONTENT_LENGTH) {
        Some(v) => {
            h.insert(header::CONTENT_LENGTH, v.clone());
        }
        None => {
            return Err(ConsoleError::BadInput(
                "an upload needs a Content-Length".into(),
            ));
        }
    }
    if let Some(v) = from.get(header::CONTENT_TYPE) {
        h.insert(header::CONTENT_TYPE, v.clone());
    }
    Ok(h)
}

#[derive(Deserialize)]
pub struct KeyQuery {
    key: String,
}

pub async fn put_object(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Query(q): Query<KeyQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(e) = check_csrf(&s, &headers) {
        return refuse(&e);
    }
    let h = match body_headers(&headers) {
        Ok(h) => h,
        Err(e) => return refuse(&e),
    };
    let path = format!("/{}/{}", enc(&bucket), enc_key(&q.key));
    match c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::PUT,
            &path,
            h,
            Payload::Stream(body),
        )
        .await
    {
        Ok((h, _)) => Json(json!({
            "key": q.key,
            "etag": h.get(header::ETAG).and_then(|v| v.to_str().ok()),
        }))
        .into_response(),
        Err(e) => refuse(&e),
    }
}

#[derive(Deserialize)]
pub struct MultipartQuery {
    key: String,
    action: String,
    #[serde(rename = "uploadId")]
    upload_id: Option<String>,
}

#[derive(Deserialize)]
pub struct PartDone {
    n: u32,
    etag: String,
}

pub async fn multipart(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Query(q): Query<MultipartQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = check_csrf(&s, &headers) {
        return refuse(&e);
    }
    let path = format!("/{}/{}", enc(&bucket), enc_key(&q.key));
    let upload = q.upload_id.as_deref().map(enc).unwrap_or_default();
    let result = match q.action.as_str() {
        "create" => {
            let mut h = HeaderMap::new();
            if let Some(v) = headers
                .get("x-file-type")
                .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
            {
                h.insert(header::CONTENT_TYPE, v);
            }
            c.backend
                .fetch(
                    Api::S3,
                    s.caller(),
                    Method::POST,
                    &format!("{path}?uploads"),
                    h,
                    Payload::Empty,
                )
                .await
                .and_then(|(_, b)| s3xml::upload_id(&b).map_err(ConsoleError::internal))
                .map(|id| json!({"uploadId": id}))
        }
        "complete" => {
            let parts: Vec<PartDone> = match serde_json::from_slice(&body) {
                Ok(p) => p,
                Err(e) => return refuse(&ConsoleError::BadInput(format!("parts: {e}"))),
            };
            let mut xml = String::from("<CompleteMultipartUpload>");
            for p in parts {
                let etag = p.etag.replace('&', "&amp;").replace('<', "&lt;");
                xml.push_str(&format!(
                    "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
                    p.n
                ));
            }
            xml.push_str("</CompleteMultipartUpload>");
            c.backend
                .fetch(
                    Api::S3,
                    s.caller(),
                    Method::POST,
                    &format!("{path}?uploadId={upload}"),
                    HeaderMap::new(),
                    Payload::Bytes(Bytes::from(xml)),
                )
                .await
                .map(|_| json!({"key": q.key}))
        }
        "abort" => c
            .backend
            .fetch(
                Api::S3,
                s.caller(),
                Method::DELETE,
                &format!("{path}?uploadId={upload}"),
                HeaderMap::new(),
                Payload::Empty,
            )
            .await
            .map(|_| json!({"aborted": true})),
        other => Err(ConsoleError::BadInput(format!("unknown action {other:?}"))),
    };
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => refuse(&e),
    }
}

#[derive(Deserialize)]
pub struct PartQuery {
    key: String,
    #[serde(rename = "uploadId")]
    upload_id: String,
    n: u32,
}

pub async fn part(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    Query(q): Query<PartQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(e) = check_csrf(&s, &headers) {
        return refuse(&e);
    }
    let h = match body_headers(&headers) {
        Ok(h) => h,
        Err(e) => return refuse(&e),
    };
    let path = format!(
        "/{}/{}?partNumber={}&uploadId={}",
        enc(&bucket),
        enc_key(&q.key),
        q.n,
        enc(&q.upload_id)
    );
    match c
        .backend
        .fetch(
            Api::S3,
            s.caller(),
            Method::PUT,
            &path,
            h,
            Payload::Stream(body),
        )
        .await
    {
        Ok((h, _)) => {
            Json(json!({"n": q.n, "etag": h.get(header::ETAG).and_then(|v| v.to_str().ok())}))
                .into_response()
        }
        Err(e) => refuse(&e),
    }
}

/// An upload from the plain form (no script): the file part is spooled to a
/// temporary file as it arrives (S3 needs the length before the body; the object is
/// never held in memory), then streamed to PutObject.
pub async fn form_upload(
    State(c): State<Console>,
    s: Signed,
    Path(bucket): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let back = |prefix: &str| format!("/browse/{}?prefix={}", enc(&bucket), enc(prefix));
    let boundary = match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(multer::parse_boundary)
    {
        Some(Ok(b)) => b,
        _ => {
            return super::redirect_with(
                &back(""),
                Err(ConsoleError::BadInput("not a multipart form".into())),
            );
        }
    };
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    let (mut csrf, mut prefix) = (String::new(), String::new());
    let spool = std::env::temp_dir().join(format!("hafiz-console-{}", uuid_like()));
    let result = async {
        while let Some(mut field) = form
            .next_field()
            .await
            .map_err(|e| ConsoleError::BadInput(e.to_string()))?
        {
            match field.name().unwrap_or("") {
                "csrf" => {
                    csrf = field
                        .text()
                        .await
                        .map_err(|e| ConsoleError::BadInput(e.to_string()))?
                }
                "prefix" => {
                    prefix = field
                        .text()
                        .await
                        .map_err(|e| ConsoleError::BadInput(e.to_string()))?
                }
                "file" => {
                    // The token comes first in the form: nothing is written without it.
                    if !csrf_ok(&s.session, &csrf) {
                        return Err(ConsoleError::Csrf);
                    }
                    let name = field
                        .file_name()
                        .unwrap_or("")
                        .rsplit(['/', '\\'])
                        .next()
                        .unwrap_or("")
                        .to_string();
                    if name.is_empty() {
                        return Err(ConsoleError::BadInput("choose a file".into()));
                    }
                    let content_type = field.content_type().map(|m| m.to_string());
                    let mut file = tokio::fs::File::create(&spool)
                        .await
                        .map_err(ConsoleError::internal)?;
                    let mut len: u64 = 0;
                    while let Some(chunk) = field
                        .chunk()
                        .await
                        .map_err(|e| ConsoleError::BadInput(e.to_string()))?
                    {
                        len += chunk.len() as u64;
                        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                            .await
                            .map_err(ConsoleError::internal)?;
                    }
                    tokio::io::AsyncWriteExt::flush(&mut file)
                        .await
                        .map_err(ConsoleError::internal)?;
                    drop(file);
                    let key = format!("{prefix}{name}");
                    let mut h = HeaderMap::new();
                    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                    if let Some(ct) = content_type.and_then(|t| HeaderValue::from_str(&t).ok()) {
                        h.insert(header::CONTENT_TYPE, ct);
                    }
                    let reader = tokio::fs::File::open(&spool)
                        .await
                        .map_err(ConsoleError::internal)?;
                    let stream = Body::from_stream(tokio_util::io::ReaderStream::new(reader));
                    let path = format!("/{}/{}", enc(&bucket), enc_key(&key));
                    c.backend
                        .fetch(
                            Api::S3,
                            s.caller(),
                            Method::PUT,
                            &path,
                            h,
                            Payload::Stream(stream),
                        )
                        .await?;
                    return Ok(format!("Uploaded {key}"));
                }
                _ => {}
            }
        }
        Err(ConsoleError::BadInput("the form has no file".into()))
    }
    .await;
    let _ = tokio::fs::remove_file(&spool).await;
    if matches!(result, Err(ConsoleError::Csrf)) {
        return super::error_page(Some(&s.session), &ConsoleError::Csrf);
    }
    super::redirect_with(&back(&prefix), result)
}

fn uuid_like() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
    hex::encode(b)
}
