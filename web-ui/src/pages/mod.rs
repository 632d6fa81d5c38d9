//! The console's pages. Each renders a Leptos view to a whole HTML document
//! (`shell`); a failed API call renders the same page with the API's error message.

pub mod assets;
pub mod audit;
pub mod buckets;
pub mod cluster;
pub mod directory;
pub mod identity;
pub mod metrics;
pub mod objects;
pub mod policy;
pub mod saml;
pub mod settings;
pub mod signin;
pub mod sso;
pub mod upload;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use leptos::prelude::*;

use axum::Form;
use axum::extract::rejection::FormRejection;

use crate::Signed;
use crate::error::ConsoleError;
use crate::session::{Session, csrf_ok};

/// The whole document around a page's body: header, navigation, flash messages.
pub fn shell(
    title: &str,
    session: Option<&Session>,
    notice: Notice,
    body: AnyView,
) -> Html<String> {
    let title = format!("{title} · Hafiz");
    let who = session.map(|s| s.who.clone());
    let csrf = session.map(|s| s.csrf.clone()).unwrap_or_default();
    let nav = who.map(|who| {
        view! {
            <nav>
                <a class="brand" href="/buckets">"Hafiz"</a>
                <a href="/buckets">"Buckets"</a>
                <a href="/users">"Users"</a>
                <a href="/directory">"Directory"</a>
                <a href="/metrics">"Metrics"</a>
                <a href="/cluster">"Cluster"</a>
                <a href="/audit">"Audit"</a>
                <span class="who" id="who">{who}</span>
                <form method="post" action="/signout" class="inline">
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <button type="submit" id="signout">"Sign out"</button>
                </form>
            </nav>
        }
    });
    let notice = match notice {
        Notice::None => None,
        Notice::Ok(m) => Some(view! { <p class="notice ok" role="status">{m}</p> }.into_any()),
        Notice::Err(m) => {
            Some(view! { <p class="notice err" role="alert" id="error">{m}</p> }.into_any())
        }
    };
    let doc = view! {
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="csrf-token" content=csrf/>
                <title>{title}</title>
                <link rel="stylesheet" href="/assets/console.css"/>
                <script src="/assets/console.js" defer></script>
            </head>
            <body>
                {nav}
                <main>{notice}{body}</main>
            </body>
        </html>
    };
    Html(format!("<!DOCTYPE html>{}", doc.to_html()))
}

/// A message above the page's body.
pub enum Notice {
    None,
    Ok(String),
    Err(String),
}

impl Notice {
    /// From the `msg` / `err` query parameters a redirect after a form sets.
    pub fn from_query(msg: Option<String>, err: Option<String>) -> Notice {
        match (err, msg) {
            (Some(e), _) if !e.is_empty() => Notice::Err(e),
            (_, Some(m)) if !m.is_empty() => Notice::Ok(m),
            _ => Notice::None,
        }
    }
}

/// A page that could not be made: the API's error, in the page.
pub fn error_page(session: Option<&Session>, e: &ConsoleError) -> Response {
    if let ConsoleError::Internal(detail) = e {
        tracing::warn!(error = %detail, "console request failed");
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = view! { <p><a href="/buckets">"Back to the buckets"</a></p> }.into_any();
    (
        status,
        shell("Error", session, Notice::Err(e.shown()), body),
    )
        .into_response()
}

pub async fn not_found() -> Response {
    let body = view! { <p><a href="/buckets">"Back to the buckets"</a></p> }.into_any();
    (
        StatusCode::NOT_FOUND,
        shell(
            "Not found",
            None,
            Notice::Err("NotFound: no such page".into()),
            body,
        ),
    )
        .into_response()
}

/// A redirect to `to` with a message for the next page.
pub fn redirect_with(to: &str, notice: Result<String, ConsoleError>) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    let q = match notice {
        Ok(m) => format!("msg={}", crate::backend::enc(&m)),
        Err(e) => format!("err={}", crate::backend::enc(&e.shown())),
    };
    axum::response::Redirect::to(&format!("{to}{sep}{q}")).into_response()
}

/// 1536 -> "1.5 KiB".
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The hidden field every form carries.
pub fn csrf_field(session: &Session) -> impl IntoView + use<> {
    let token = session.csrf.clone();
    view! { <input type="hidden" name="csrf" value=token/> }
}

/// A form a signed-in user posted: the form when it is complete and carries the
/// session's CSRF token; otherwise the answer to send (back to `back` with a
/// notice, or the CSRF error page).
pub(crate) fn posted<T>(
    s: &Signed,
    form: Result<Form<T>, FormRejection>,
    back: &str,
    csrf: impl Fn(&T) -> &str,
) -> Result<T, Box<Response>> {
    let Ok(Form(f)) = form else {
        return Err(Box::new(redirect_with(
            back,
            Err(ConsoleError::BadInput("the form is incomplete".into())),
        )));
    };
    if !csrf_ok(&s.session, csrf(&f)) {
        return Err(Box::new(error_page(Some(&s.session), &ConsoleError::Csrf)));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 20), "5.0 MiB");
    }

    #[test]
    fn text_is_escaped_in_pages() {
        let body = view! { <p>{"<script>alert(1)</script>".to_string()}</p> }.into_any();
        let Html(page) = shell("t", None, Notice::Err("<b>x</b>".into()), body);
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("&lt;b&gt;x"));
        assert!(page.starts_with("<!DOCTYPE html><html"));
    }
}
