//! Sign-in with an access key and its secret (checked by a signed ListBuckets, the
//! call every S3 identity may make), and sign-out.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use leptos::prelude::*;
use serde::Deserialize;

use super::{Notice, shell};
use crate::backend::{Api, Caller, Keys, Payload};
use crate::error::ConsoleError;
use crate::session::{self, csrf_ok};
use crate::{Console, Peer};

#[derive(Deserialize, Default)]
pub struct SigninQuery {
    next: Option<String>,
    err: Option<String>,
    msg: Option<String>,
}

/// Only a path on this console: never another site (an open redirect).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/buckets".to_string(),
    }
}

pub async fn form(State(c): State<Console>, Query(q): Query<SigninQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    let saml = c.opts.saml.is_some().then(|| {
        let href = format!("/sso/saml/login?next={}", crate::backend::enc(&next));
        view! { <p class="sso"><a class="button" id="saml" href=href>"Sign in with SAML"</a></p> }
    });
    let sso = c.sso.is_some().then(|| {
        let href = format!("/sso/login?next={}", crate::backend::enc(&next));
        view! { <p class="sso"><a class="button" id="sso" href=href>"Sign in with single sign-on"</a></p> }
    });
    let body = view! {
        <section class="signin">
            <h1>"Sign in"</h1>
            <form method="post" action="/signin" id="signin-form">
                <input type="hidden" name="next" value=next/>
                <label>"Access key" <input name="access_key" id="access_key" autocomplete="username" required/></label>
                <label>"Secret key" <input name="secret_key" id="secret_key" type="password" autocomplete="current-password" required/></label>
                <button type="submit" id="signin">"Sign in"</button>
            </form>
            {sso}
            {saml}
        </section>
    }
    .into_any();
    shell("Sign in", None, Notice::from_query(q.msg, q.err), body).into_response()
}

#[derive(Deserialize)]
pub struct SigninForm {
    access_key: String,
    secret_key: String,
    next: Option<String>,
}

/// A form posted from another site: refused (the browser names the origin).
pub(crate) fn foreign_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (
        headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()),
        host,
    ) {
        (Some(origin), Some(host)) => {
            let bare = origin
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(origin);
            bare != host
        }
        (Some(_), None) => true,
        _ => false,
    }
}

pub async fn submit(
    State(c): State<Console>,
    Peer(peer): Peer,
    headers: HeaderMap,
    form: Result<Form<SigninForm>, FormRejection>,
) -> Response {
    if foreign_origin(&headers) {
        return super::error_page(None, &ConsoleError::Csrf);
    }
    let Ok(Form(f)) = form else {
        return super::redirect_with(
            "/signin",
            Err(ConsoleError::BadInput(
                "the sign-in form is incomplete".into(),
            )),
        );
    };
    let keys = Keys {
        access_key: f.access_key.trim().to_string(),
        secret_key: f.secret_key,
        session_token: None,
    };
    let checked = c
        .backend
        .fetch(
            Api::S3,
            Caller { keys: &keys, peer },
            Method::GET,
            "/",
            HeaderMap::new(),
            Payload::Empty,
        )
        .await;
    let next = safe_next(f.next.as_deref());
    // AccessDenied: the keys are good (the signature checked out) but may not list
    // buckets; the user may still browse the buckets a policy grants.
    let checked = match checked {
        Err(ConsoleError::Api { code, .. }) if code == "AccessDenied" => Ok(()),
        other => other.map(|_| ()),
    };
    match checked {
        Ok(()) => {
            let s = c
                .sessions
                .create(keys.clone(), keys.access_key.clone(), c.opts.session_ttl);
            tracing::info!(access_key = %keys.access_key, peer = %peer, "console sign-in");
            (
                [(
                    header::SET_COOKIE,
                    session::set_cookie(&s.id, Some(c.opts.session_ttl), c.opts.tls),
                )],
                Redirect::to(&next),
            )
                .into_response()
        }
        Err(e) => {
            let shown = match &e {
                ConsoleError::Api { code, .. }
                    if code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" =>
                {
                    ConsoleError::Api {
                        status: 403,
                        code: code.clone(),
                        message: "the access key or the secret is wrong".into(),
                    }
                }
                _ => e,
            };
            super::redirect_with(
                &format!("/signin?next={}", crate::backend::enc(&next)),
                Err(shown),
            )
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn signout(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(s) = c.sessions.from_headers(&headers) {
        if !csrf_ok(&s, &f.csrf) {
            return super::error_page(Some(&s), &ConsoleError::Csrf);
        }
        c.sessions.remove(&s.id);
    }
    (
        [(
            header::SET_COOKIE,
            session::set_cookie("", None, c.opts.tls),
        )],
        Redirect::to("/signin?msg=Signed%20out"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_console() {
        assert_eq!(safe_next(Some("/browse/b?prefix=x")), "/browse/b?prefix=x");
        assert_eq!(safe_next(Some("//evil.example/")), "/buckets");
        assert_eq!(safe_next(Some("https://evil.example/")), "/buckets");
        assert_eq!(safe_next(Some("/\\evil.example")), "/buckets");
        assert_eq!(safe_next(None), "/buckets");
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:9002".parse().unwrap());
        assert!(!foreign_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:9002".parse().unwrap());
        assert!(!foreign_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(foreign_origin(&h));
    }
}
