//! The gateway: one axum handler that routes, authenticates and dispatches every S3
//! request, and renders every failure as S3 XML with a request id.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use hafiz_meta::Metadata;
use hafiz_storage::BlobStore;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tracing::Instrument;

use crate::access;
use crate::auth::{self, Identity, SecretLookup};
use crate::body::RequestBody;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops;
use crate::router::{self, Op, Query};
use crate::xml::{self, ErrorBody, ExtraField};

pub struct S3Config {
    pub region: String,
    /// Enables virtual-host-style addressing (`bucket.domain`).
    pub domain: Option<String>,
    /// Static website endpoint: `bucket.website_domain`.
    pub website_domain: Option<String>,
    /// Shortest STS session in seconds (AWS: 900); lowered only to test expiry.
    pub sts_min_duration: Option<i64>,
    /// The S3 listener speaks TLS: `aws:SecureTransport` is true.
    pub secure_transport: bool,
    /// SSE-C keys are accepted over plain HTTP (a loopback listener, or the operator's
    /// `--allow-ssec-over-http`); otherwise only over TLS, as AWS requires.
    pub allow_ssec_over_http: bool,
}

/// The account that owns every bucket until IAM lands.
#[derive(Clone)]
pub struct OwnerInfo {
    pub id: String,
    pub display_name: String,
    /// The 12-digit account id in ARNs (`arn:aws:iam::ACCOUNT:user/NAME`).
    pub account_id: String,
}

pub struct S3State {
    pub meta: Arc<dyn Metadata>,
    pub blobs: Arc<dyn BlobStore>,
    pub secrets: Arc<dyn SecretLookup>,
    pub config: S3Config,
    pub owner: OwnerInfo,
    /// IAM users' parsed policies, dropped whenever IAM changes.
    pub iam_cache: access::PolicyCache,
    /// Where audit records go (None: no audit log).
    pub audit: Option<crate::audit::AuditLog>,
    /// Per-key and per-bucket rate limits.
    pub limiter: crate::ratelimit::RateLimiter,
    /// Checks tokens for AssumeRoleWithWebIdentity (None: no OIDC provider configured).
    pub web_identity: Option<hafiz_oidc::WebIdentityVerifier>,
    /// Checks assertions for AssumeRoleWithSAML (None: no SAML IdP configured).
    pub saml: Option<crate::sts_saml::SamlConfig>,
    /// More conditions of `/health/ready` (the job engine turning, ...).
    pub ready_checks: Vec<Arc<dyn Fn() -> bool + Send + Sync>>,
    /// Tiers: where transitioned data is read from, restores and promotions.
    pub tiering: Arc<hafiz_tier::Tiering>,
    /// Notification targets bucket rules may name.
    pub targets: Arc<hafiz_targets::Targets>,
    /// Replication targets replication rules may name, and the resync starter.
    pub replication: Arc<hafiz_replication::Replication>,
    /// The key service: SSE-S3 and SSE-KMS data keys.
    pub kms: Arc<hafiz_crypto::KeyService>,
}

impl S3State {
    pub fn owner_xml(&self) -> xml::Owner {
        xml::Owner {
            id: self.owner.id.clone(),
            display_name: self.owner.display_name.clone(),
        }
    }
}

/// Everything an operation handler gets.
pub struct Ctx {
    pub state: Arc<S3State>,
    pub op: Op,
    pub method: Method,
    pub bucket: String,
    pub key: String,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: RequestBody,
    pub request_id: String,
    pub caller: access::Caller,
}

impl Ctx {
    /// Who makes this request, for the events its changes cause; `api` names the
    /// `s3:ObjectCreated:` variant when the command alone does not (`Copy`).
    pub fn origin(&self, api: Option<&str>) -> hafiz_meta::events::Origin {
        let principal = crate::audit::UserIdentity::of(
            &self.state.owner.account_id,
            Some(&self.caller.principal),
        )
        .principal_id
        .unwrap_or_else(|| "anonymous".into());
        hafiz_meta::events::Origin {
            api: api.map(str::to_string),
            lifecycle: false,
            request_id: self.request_id.clone(),
            principal,
            source_ip: self.caller.peer.map(|p| p.to_string()).unwrap_or_default(),
            region: self.state.config.region.clone(),
            replica: crate::ops::replication::Replica::requested(&self.headers),
        }
    }

    /// Apply an object command, traced to this request (see [`Ctx::origin`]).
    pub async fn apply_object(
        &self,
        cmd: hafiz_meta::Command,
        api: Option<&str>,
    ) -> hafiz_meta::MetaResult<hafiz_meta::Outcome> {
        self.state.meta.apply(cmd.traced(self.origin(api))).await
    }
}

pub fn app(state: Arc<S3State>) -> axum::Router {
    axum::Router::new()
        .route("/health/live", axum::routing::get(live))
        .route("/health/ready", axum::routing::get(ready))
        .fallback(handle)
        .with_state(state)
}

async fn live() -> StatusCode {
    StatusCode::OK
}

async fn ready(State(state): State<Arc<S3State>>) -> StatusCode {
    if state.meta.ready().await
        && state.blobs.ready().await
        && state.ready_checks.iter().all(|check| check())
    {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

fn new_request_id() -> String {
    let id = uuid::Uuid::new_v4();
    hex::encode_upper(&id.as_bytes()[..8])
}

async fn handle(State(state): State<Arc<S3State>>, req: Request) -> Response {
    let request_id = new_request_id();
    let (parts, body) = req.into_parts();

    // hyper sends `100 Continue` only when the body is read. An answer given without
    // reading it (an empty body, or an early error) leaves clients such as botocore
    // waiting on the connection; closing it after the response keeps them in step.
    let expects_continue = parts
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let empty_body = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .is_none_or(|v| v.as_bytes() == b"0");
    let resource = parts.uri.path().to_string();
    let method = parts.method.clone();
    // One span per request: exported over OTLP when configured, and the context of
    // every log line the request produces.
    let span = tracing::info_span!(
        "s3.request",
        request_id = %request_id,
        http.method = %method,
        url.path = %resource,
        s3.op = tracing::field::Empty,
        http.status_code = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let in_flight = InFlight::enter();
    let mut info = RouteInfo::default();
    let audit_facts = state
        .audit
        .as_ref()
        .map(|log| crate::audit::RequestFacts::of(&parts, log.mask()));
    let result = route(state.clone(), parts, body, request_id.clone(), &mut info)
        .instrument(span.clone())
        .await;
    drop(in_flight);
    let op = info.op;
    let op_name = op.map(Op::name).unwrap_or("Unknown");
    let status = match &result {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.code.status().as_u16(),
    };
    let elapsed = started.elapsed();
    // What a successful answer sends (a HEAD's Content-Length is not sent).
    let sent = match &result {
        Ok(r) if method != Method::HEAD => r
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0),
        _ => 0,
    };
    let received = info
        .received
        .as_ref()
        .map_or(0, |r| r.load(std::sync::atomic::Ordering::Relaxed));
    state
        .limiter
        .charge(info.key_id.as_deref(), &info.bucket, sent + received);
    span.record("s3.op", op_name);
    span.record("http.status_code", status);
    metrics::counter!("hafiz_s3_requests_total", "op" => op_name, "status" => status.to_string())
        .increment(1);
    metrics::histogram!("hafiz_s3_request_duration_seconds", "op" => op_name)
        .record(elapsed.as_secs_f64());
    if result.is_ok() && method != Method::HEAD {
        metrics::counter!("hafiz_s3_sent_bytes_total", "op" => op_name).increment(sent);
    }
    tracing::debug!(
        id = %request_id,
        op = op_name,
        status,
        error = result.as_ref().err().map(|e| e.code.as_str()),
        micros = elapsed.as_micros() as u64,
        "request"
    );
    let failed = result.is_err();
    let failure = result
        .as_ref()
        .err()
        .map(|e| (e.code.as_str().to_string(), e.message.clone()));
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => error_response(&e, &resource, &request_id, method == Method::HEAD),
    };
    if expects_continue && (empty_body || failed) {
        resp.headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-request-id", v.clone());
        h.insert("x-amz-id-2", v);
    }
    h.insert(http::header::SERVER, HeaderValue::from_static("Hafiz"));
    if let Some(cors) = info.cors.take() {
        for (name, value) in cors.iter() {
            h.append(name.clone(), value.clone());
        }
    }
    if let (Some(log), Some(facts)) = (&state.audit, audit_facts) {
        let error = match &failure {
            Some((c, m)) => Some((c.clone(), m.clone())),
            None => info.error.take(),
        };
        // Error documents count too.
        let sent = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        let account_id = access::account_id_of(&state, info.principal.as_ref()).await;
        log.record(audit_record(
            &state,
            &account_id,
            log.mask(),
            &info,
            facts,
            &request_id,
            status,
            error,
            sent,
            elapsed,
        ));
    }
    resp
}

/// What routing learned about a request, for metrics, CORS and the audit log.
#[derive(Default)]
struct RouteInfo {
    op: Option<Op>,
    cors: Option<HeaderMap>,
    principal: Option<access::Principal>,
    bucket: String,
    key: String,
    /// IAM/STS: the service and the Action of the form.
    service_action: Option<(&'static str, String)>,
    /// An error answered as a response (IAM's format), for the audit log.
    error: Option<(String, String)>,
    /// The access key that signed it (rate limits charge the bytes moved to it).
    key_id: Option<String>,
    /// Payload bytes read from the request body.
    received: Option<Arc<std::sync::atomic::AtomicU64>>,
}

#[allow(clippy::too_many_arguments)]
fn audit_record(
    state: &S3State,
    account_id: &str,
    mask: &crate::audit::AuditMask,
    info: &RouteInfo,
    mut facts: crate::audit::RequestFacts,
    request_id: &str,
    status: u16,
    error: Option<(String, String)>,
    sent: u64,
    elapsed: std::time::Duration,
) -> crate::audit::AuditRecord {
    use crate::audit::{AuditResource, UserIdentity};
    let identity = UserIdentity::of(account_id, info.principal.as_ref());
    let mut params = std::mem::take(&mut facts.params);
    if !info.bucket.is_empty() {
        params.insert("bucketName".into(), info.bucket.clone().into());
    }
    let key = mask.key(&info.key);
    if !key.is_empty() {
        params.insert("key".into(), key.as_ref().into());
    }
    let (source, name) = match &info.service_action {
        Some((service, action)) => (*service, action.clone()),
        None => (
            "s3.amazonaws.com",
            info.op.map(Op::name).unwrap_or("Unknown").to_string(),
        ),
    };
    let mut resources = Vec::new();
    if !info.bucket.is_empty() {
        resources.push(AuditResource {
            kind: "AWS::S3::Bucket",
            arn: format!("arn:aws:s3:::{}", info.bucket),
        });
    }
    if !key.is_empty() {
        resources.push(AuditResource {
            kind: "AWS::S3::Object",
            arn: format!("arn:aws:s3:::{}/{key}", info.bucket),
        });
    }
    let (error_code, mut error_message) = match error {
        Some((c, m)) => (Some(c), Some(m)),
        None => (None, None),
    };
    // Some error messages quote the key they are about.
    if let (std::borrow::Cow::Owned(masked), Some(m)) = (&key, &mut error_message)
        && m.contains(info.key.as_str())
    {
        *m = m.replace(info.key.as_str(), masked);
    }
    let mut record = facts.into_record(
        source,
        name,
        state.config.region.clone(),
        identity,
        request_id,
        status,
        sent,
        elapsed,
    );
    record.request_parameters = params;
    record.error_code = error_code;
    record.error_message = error_message;
    record.resources = resources;
    record
}

/// Counts requests being served (`hafiz_s3_requests_in_flight`), also when a
/// client disconnects and the handler future is dropped.
struct InFlight;

impl InFlight {
    fn enter() -> InFlight {
        metrics::gauge!("hafiz_s3_requests_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("hafiz_s3_requests_in_flight").decrement(1.0);
    }
}

async fn route(
    state: Arc<S3State>,
    parts: http::request::Parts,
    body: Body,
    request_id: String,
    info: &mut RouteInfo,
) -> S3Result<Response> {
    let raw_path = parts.uri.path();
    let raw_query = parts.uri.query();
    if let Some(wd) = state.config.website_domain.as_deref()
        && let Some(bucket) = crate::website::website_bucket(&parts.headers, wd)
    {
        info.op = Some(Op::GetObject);
        info.bucket = bucket.to_string();
        return Ok(
            crate::website::serve(&state, bucket, raw_path, &parts.method, &parts.headers).await,
        );
    }
    // The IAM query API shares the endpoint: a POST to `/` signed for `iam` (or `sts`),
    // or an unsigned STS form (AssumeRoleWithWebIdentity).
    if parts.method == Method::POST
        && raw_path == "/"
        && (matches!(
            access::signed_service(&parts.headers).as_deref(),
            Some("iam" | "sts")
        ) || unsigned_service_form(&state, &parts))
    {
        info.op = Some(Op::IamApi);
        return Ok(iam_request(&state, &parts, body, &request_id, info).await);
    }
    if access::signed_service(&parts.headers).as_deref() == Some("hafiz-admin") {
        return Err(crate::auth::sigv4::malformed(
            "incorrect service \"hafiz-admin\". This endpoint belongs to \"s3\"; the admin API has its own listener.",
        ));
    }
    let target = router::target(raw_path, &parts.headers, state.config.domain.as_deref())?;
    let query = Query::parse(raw_query);
    let op = router::operation(&parts.method, &target, &query, &parts.headers)?;
    info.op = Some(op);
    if op == Op::PreflightCors {
        let bucket = target.bucket.as_deref().unwrap_or_default();
        return crate::cors::preflight(&state, bucket, &parts.headers).await;
    }
    // A browser's cross-origin request: the rule that allows it decides the CORS
    // headers of whatever the answer is (errors included, so scripts can read them).
    if let Some(bucket) = target.bucket.as_deref()
        && parts.headers.contains_key("origin")
    {
        info.cors =
            crate::cors::actual_request_headers(&state, bucket, &parts.method, &parts.headers)
                .await;
    }
    // A browser upload's credentials are form fields, read from the body first.
    if op == Op::PostObject {
        info.bucket = target.bucket.clone().unwrap_or_default();
        let mut learned = crate::post_object::Learned::default();
        let result =
            crate::post_object::handle(state, parts, body, request_id, target, &mut learned).await;
        info.principal = learned.principal;
        info.key_id = learned.key_id;
        info.key = learned.key;
        info.received = learned.received;
        return result;
    }
    let secrets = access::request_secrets(&state, &parts.headers, raw_query).await;
    secrets.check_session(&parts.headers, raw_query)?;
    let authed = if auth::sigv2::is_v2(&parts.headers, raw_query) {
        // SigV2 signs the path with the bucket in it, even for virtual-host requests.
        let resource = match (&target.bucket, target.bucket_from_host) {
            (Some(b), true) => format!("/{b}{raw_path}"),
            _ => raw_path.to_string(),
        };
        auth::sigv2::authenticate_v2(
            &parts.method,
            &resource,
            raw_query,
            &parts.headers,
            SystemTime::now(),
            &secrets,
        )?
    } else {
        auth::authenticate(
            &parts.method,
            raw_path,
            raw_query,
            &parts.headers,
            &state.config.region,
            SystemTime::now(),
            &secrets,
        )?
    };
    if matches!(op, Op::PutObject | Op::UploadPart) && missing_content_length(&parts) {
        return Err(S3Error::new(S3ErrorCode::MissingContentLength));
    }
    let principal = match &authed.identity {
        // Anonymous requests get only what a bucket policy grants to everyone.
        Identity::Anonymous => access::Principal::Anonymous,
        Identity::AccessKey(k) => secrets.principal(k),
    };
    let key_id = match &authed.identity {
        Identity::AccessKey(k) => Some(secrets.rate_limit_key(k)),
        Identity::Anonymous => None,
    };
    let bucket_name = target.bucket.as_deref().unwrap_or_default();
    // Bytes are charged after the answer, as really received and sent: a declared
    // length costs nothing until the body arrives.
    admit(&state, key_id.as_deref(), bucket_name).await?;
    info.key_id = key_id;
    let caller = access::Caller {
        principal,
        peer: peer_ip(&parts),
        presigned: raw_query
            .is_some_and(|q| q.contains("X-Amz-Signature=") || q.contains("Signature=")),
        sigv2: auth::sigv2::is_v2(&parts.headers, raw_query),
    };
    let bucket = target.bucket.unwrap_or_default();
    let key = target.key.unwrap_or_default();
    info.principal = Some(caller.principal.clone());
    info.bucket = bucket.clone();
    info.key = key.clone();
    access::authorize_s3(
        &state,
        &access::RequestFacts {
            op,
            bucket: &bucket,
            key: &key,
            query: &query,
            headers: &parts.headers,
            caller: &caller,
        },
    )
    .await?;
    tracing::debug!(op = op.name(), "dispatch");
    let ctx = Ctx {
        state,
        op,
        method: parts.method,
        bucket,
        key,
        query,
        headers: parts.headers,
        body: {
            let body = RequestBody::new(body, authed.payload);
            info.received = Some(body.received());
            body
        },
        request_id,
        caller,
    };
    ops::dispatch(ctx).await
}

/// An HTTP/1 upload that says neither how long its body is nor that it is chunked: AWS
/// answers 411 rather than storing an empty object (ceph s3-tests
/// `test_object_create_bad_contentlength_none`). HTTP/2 frames carry the length.
fn missing_content_length(parts: &http::request::Parts) -> bool {
    parts.version <= http::Version::HTTP_11
        && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
        && !parts.headers.contains_key(http::header::TRANSFER_ENCODING)
}

/// An unsigned form POST to the service endpoint itself: no S3 request looks like
/// that (DeleteObjects has a query, browser POST uploads are multipart and go to a
/// bucket), so it may be an unsigned STS call.
fn unsigned_service_form(state: &S3State, parts: &http::request::Parts) -> bool {
    parts.uri.query().is_none_or(str::is_empty)
        && !parts.headers.contains_key(http::header::AUTHORIZATION)
        && parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
        && router::target(
            parts.uri.path(),
            &parts.headers,
            state.config.domain.as_deref(),
        )
        .is_ok_and(|t| t.bucket.is_none())
}

/// An IAM API call: the small form body is read first, because IAM clients sign its
/// hash without sending `x-amz-content-sha256`.
async fn iam_request(
    state: &Arc<S3State>,
    parts: &http::request::Parts,
    body: Body,
    request_id: &str,
    info: &mut RouteInfo,
) -> Response {
    use crate::iam_api::{self, IamError};
    let fail = |e: IamError, info: &mut RouteInfo| {
        info.error = Some((e.code.to_string(), e.message.clone()));
        e.response(request_id)
    };
    let bytes = match axum::body::to_bytes(body, 256 * 1024).await {
        Ok(b) => b,
        Err(_) => return fail(S3Error::new(S3ErrorCode::IncompleteBody).into_iam(), info),
    };
    let form = iam_api::parse_form(&bytes);
    let signed_for = access::signed_service(&parts.headers);
    // The web identity token is the credential: a signature, if any, adds nothing.
    if iam_api::action_of(&form) == Some(crate::sts_web_identity::ACTION)
        && signed_for.as_deref() != Some("iam")
    {
        info.service_action = Some((
            "sts.amazonaws.com",
            crate::sts_web_identity::ACTION.to_string(),
        ));
        return match crate::sts_web_identity::assume(state, &form, request_id).await {
            Ok((response, principal)) => {
                info.principal = Some(principal);
                response
            }
            Err(e) => {
                info.error = Some((e.code.to_string(), e.message.clone()));
                crate::sts_api::error(request_id, e)
            }
        };
    }
    // So is the SAML assertion.
    if iam_api::action_of(&form) == Some(crate::sts_saml::ACTION)
        && signed_for.as_deref() != Some("iam")
    {
        info.service_action = Some(("sts.amazonaws.com", crate::sts_saml::ACTION.to_string()));
        return match crate::sts_saml::assume(state, &form, request_id).await {
            Ok((response, principal)) => {
                info.principal = Some(principal);
                response
            }
            Err(e) => {
                info.error = Some((e.code.to_string(), e.message.clone()));
                crate::sts_api::error(request_id, e)
            }
        };
    }
    if signed_for.is_none() {
        return fail(
            IamError {
                status: StatusCode::FORBIDDEN,
                code: "MissingAuthenticationToken",
                message: "Request is missing Authentication Token".into(),
            },
            info,
        );
    }
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let raw_query = parts.uri.query();
    let secrets = access::request_secrets(state, &parts.headers, raw_query).await;
    if let Err(e) = secrets.check_session(&parts.headers, raw_query) {
        return fail(e.into_iam(), info);
    }
    let authed = match auth::authenticate_service(
        &parts.method,
        parts.uri.path(),
        raw_query,
        &parts.headers,
        &state.config.region,
        SystemTime::now(),
        &secrets,
        Some(&sha),
    ) {
        Ok(a) => a,
        Err(e) => return fail(e.into_iam(), info),
    };
    let principal = match &authed.auth.identity {
        Identity::AccessKey(k) => secrets.principal(k),
        Identity::Anonymous => access::Principal::Anonymous,
    };
    info.principal = Some(principal.clone());
    let action = iam_api::action_of(&form).unwrap_or("").to_string();
    let sts = authed.service.as_deref() == Some("sts");
    info.service_action = Some((
        if sts {
            "sts.amazonaws.com"
        } else {
            "iam.amazonaws.com"
        },
        action.clone(),
    ));
    let signer = match &authed.auth.identity {
        Identity::AccessKey(k) => Some(secrets.rate_limit_key(k)),
        Identity::Anonymous => None,
    };
    state.limiter.refresh(state.meta.as_ref()).await;
    if let Err(slow) = state.limiter.admit(signer.as_deref(), "") {
        let mut r = fail(S3Error::new(S3ErrorCode::SlowDown).into_iam(), info);
        if let Ok(v) = HeaderValue::from_str(&slow.retry_after_secs().to_string()) {
            r.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
        return r;
    }
    if sts {
        return crate::sts_api::handle(state, &principal, signer.as_deref(), &form, request_id)
            .await;
    }
    if !access::authorize_iam(state, &principal, &action, &form).await {
        return fail(IamError::access_denied(&action), info);
    }
    let (response, error) = iam_api::handle(state, form, request_id).await;
    info.error = error;
    response
}

pub fn error_response(e: &S3Error, resource: &str, request_id: &str, head: bool) -> Response {
    let status = e.code.status();
    let add_headers = |r: &mut Response| {
        for (name, value) in &e.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                r.headers_mut().insert(*name, v);
            }
        }
    };
    if e.code == S3ErrorCode::NotModified || head {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = status;
        add_headers(&mut r);
        return r;
    }
    let extra = e
        .extra
        .iter()
        .map(|(k, v)| ExtraField::from_pair(k, v.clone()))
        .collect();
    let body = ErrorBody {
        code: e.code.as_str(),
        message: &e.message,
        extra,
        resource: Some(resource),
        request_id,
        host_id: request_id,
    };
    let text = xml::to_xml("Error", &body).unwrap_or_default();
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    add_headers(&mut r);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// A 200 response with an XML document.
/// The rate limits' request count: 503 SlowDown with Retry-After when over.
pub(crate) async fn admit(state: &S3State, key_id: Option<&str>, bucket: &str) -> S3Result<()> {
    state.limiter.refresh(state.meta.as_ref()).await;
    state.limiter.admit(key_id, bucket).map_err(|slow| {
        S3Error::new(S3ErrorCode::SlowDown)
            .header("retry-after", slow.retry_after_secs().to_string())
    })
}

/// The peer's address (`aws:SourceIp`), from axum's connect info.
pub(crate) fn peer_ip(parts: &http::request::Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

pub fn xml_response<T: serde::Serialize>(root: &str, value: &T) -> S3Result<Response> {
    Ok(xml_text_response(xml::to_xml(root, value)?))
}

/// An XML document made elsewhere (a configuration crate's own serializer).
pub fn xml_text_response(text: String) -> Response {
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

pub fn empty_response(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}
#[allow(dead_code)]
fn _assert_send(state: Arc<S3State>, req: Request) {
    fn is_send<T: Send>(_: T) {}
    is_send(handle(State(state), req));
}
