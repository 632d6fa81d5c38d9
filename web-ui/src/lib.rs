//! The Hafiz web console (`hafiz server --console-address`, docs/console.md).
//!
//! A Leptos application rendered on the server: every page is whole HTML from the
//! first byte and works with plain forms (POST, then a redirect); one small script
//! from the console's own origin adds what HTML cannot do alone (drag-and-drop
//! uploads with progress, live charts). No WebAssembly is built or needed.
//!
//! Pages are axum handlers that render Leptos views, and forms post to plain routes
//! rather than Leptos server functions: one CSRF check and one error page serve
//! every form, and the URLs are stable (server functions' are hashed names).
//!
//! Every call the console makes is an S3 or admin API call signed with the
//! signed-in user's keys and handed to the APIs' routers in process (`backend`).

pub mod backend;
pub mod error;
mod pages;
pub mod s3xml;
mod security;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};

pub use backend::Backend;
pub use pages::saml::SamlSp;
pub use pages::sso::OidcClient;
use session::{Session, Sessions};

/// How the console is served.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// Served over TLS: cookies are Secure and HSTS is sent.
    pub tls: bool,
    pub session_ttl: Duration,
    /// Single sign-on by OIDC, when configured.
    pub oidc: Option<OidcClient>,
    /// Single sign-on by SAML, when configured.
    pub saml: Option<SamlSp>,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        ConsoleOptions {
            tls: false,
            session_ttl: Duration::from_secs(8 * 3600),
            oidc: None,
            saml: None,
        }
    }
}

/// What the metrics page charts: the server's Prometheus exposition, rendered on demand.
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
pub struct Console {
    pub(crate) backend: Backend,
    pub(crate) sessions: Arc<Sessions>,
    pub(crate) opts: ConsoleOptions,
    pub(crate) metrics: Option<MetricsSource>,
    pub(crate) sso: Option<Arc<pages::sso::Sso>>,
    pub(crate) saml: Arc<pages::saml::SamlState>,
}

/// The console's router; serve it with `into_make_service_with_connect_info`.
pub fn app(
    backend: Backend,
    opts: ConsoleOptions,
    metrics: Option<MetricsSource>,
) -> error::ConsoleResult<Router> {
    let sso = match &opts.oidc {
        Some(client) => Some(Arc::new(pages::sso::Sso::new(client.clone())?)),
        None => None,
    };
    let console = Console {
        backend,
        sessions: Arc::new(Sessions::default()),
        opts,
        metrics,
        sso,
        saml: Default::default(),
    };
    Ok(Router::new()
        .route("/", get(|| async { Redirect::to("/buckets") }))
        .route(
            "/signin",
            get(pages::signin::form).post(pages::signin::submit),
        )
        .route("/signout", post(pages::signin::signout))
        .route("/sso/login", get(pages::sso::login))
        .route("/sso/callback", get(pages::sso::callback))
        .route("/sso/saml/metadata", get(pages::saml::metadata))
        .route("/sso/saml/login", get(pages::saml::login))
        .route("/sso/saml/acs", post(pages::saml::acs))
        .route(
            "/buckets",
            get(pages::buckets::list).post(pages::buckets::create),
        )
        .route("/buckets/delete", post(pages::buckets::delete))
        .route(
            "/buckets/{bucket}/policy",
            get(pages::policy::page).post(pages::policy::submit),
        )
        .route(
            "/buckets/{bucket}/policy/delete",
            post(pages::policy::delete),
        )
        .route(
            "/buckets/{bucket}/settings",
            get(pages::settings::page).post(pages::settings::submit),
        )
        .route("/cluster", get(pages::cluster::page))
        .route("/cluster/jobs/retry", post(pages::cluster::retry))
        .route(
            "/directory",
            get(pages::directory::page).post(pages::directory::submit),
        )
        .route("/audit", get(pages::audit::page))
        .route("/audit/export", get(pages::audit::export))
        .route("/browse/{bucket}", get(pages::objects::browse))
        .route("/object/{bucket}", get(pages::objects::details))
        .route("/object/{bucket}/delete", post(pages::objects::delete))
        .route("/download/{bucket}", get(pages::objects::download))
        .route("/raw/{bucket}", get(pages::objects::raw))
        .route(
            "/upload/{bucket}",
            put(pages::upload::put_object).post(pages::upload::form_upload),
        )
        .route("/upload/{bucket}/multipart", post(pages::upload::multipart))
        .route("/upload/{bucket}/part", put(pages::upload::part))
        .route(
            "/users",
            get(pages::identity::users).post(pages::identity::create_user),
        )
        .route("/users/delete", post(pages::identity::delete_user))
        .route("/users/keys", post(pages::identity::create_key))
        .route("/metrics", get(pages::metrics::page))
        .route("/metrics/data", get(pages::metrics::data))
        .route("/assets/console.js", get(pages::assets::script))
        .route("/assets/console.css", get(pages::assets::style))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            security::headers,
        ))
        .with_state(console))
}

/// A request from a signed-in user: the session and the browser's address (the
/// caller the APIs see). Without a live session, a redirect to the sign-in page.
pub(crate) struct Signed {
    pub session: Arc<Session>,
    pub peer: SocketAddr,
}

impl Signed {
    pub fn caller(&self) -> backend::Caller<'_> {
        backend::Caller {
            keys: &self.session.keys,
            peer: self.peer,
        }
    }
}

impl FromRequestParts<Console> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, c: &Console) -> Result<Self, Self::Rejection> {
        let peer = peer(parts);
        match c.sessions.from_headers(&parts.headers) {
            Some(session) => Ok(Signed { session, peer }),
            None => {
                let back = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                Err(Redirect::to(&format!("/signin?next={}", backend::enc(back))).into_response())
            }
        }
    }
}

/// The browser's address (the caller the APIs see).
pub(crate) struct Peer(pub SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer(parts)))
    }
}

pub(crate) fn peer(parts: &Parts) -> SocketAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
}
