//! `hafiz admin` against a stand-in admin API: a small axum server that checks every
//! SigV4 signature with its own implementation (hmac + sha2, not aws-sigv4, so a
//! signing bug in the client cannot hide behind the same bug in the checker) and
//! answers contract-shaped JSON (docs/admin.md).

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ACCESS_KEY: &str = "AKIAHAFIZTEST";
const SECRET_KEY: &str = "s3cr3t/key+with=odd/characters";
const REGION: &str = "us-east-1";
const SERVICE: &str = "hafiz-admin";

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

// ---------------------------------------------------------------- SigV4 checker

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The query as SigV4 canonicalizes it: pairs decoded, re-encoded with only the
/// unreserved characters left bare, sorted.
fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let enc = |s: &str| {
                let decoded = percent_decode_str(s).decode_utf8().unwrap();
                utf8_percent_encode(&decoded, UNRESERVED).to_string()
            };
            (enc(k), enc(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    signed: &[&str],
    payload_hash: &str,
) -> Option<String> {
    let mut canonical_headers = String::new();
    for name in signed {
        let value = headers.get(*name)?.to_str().ok()?;
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    Some(format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        canonical_query(query),
        signed.join(";")
    ))
}

fn signature(secret: &str, amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut parts = scope.split('/');
    let (date, region, service) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, service);
    let k = hmac(&k, "aws4_request");
    hex::encode(hmac(&k, &string_to_sign))
}

/// `Err(code)` with the contract's error code when the request is not properly signed
/// by `ACCESS_KEY` for service `hafiz-admin`.
fn verify(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), &'static str> {
    const BAD: &str = "SignatureDoesNotMatch";
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("MissingAuthentication")?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or(BAD)?;
    let (mut credential, mut signed, mut sig) = (None, None, None);
    for field in rest.split(',').map(str::trim) {
        match field.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => sig = Some(v),
            _ => return Err(BAD),
        }
    }
    let (access_key, scope) = credential.ok_or(BAD)?.split_once('/').ok_or(BAD)?;
    if access_key != ACCESS_KEY {
        return Err("InvalidAccessKeyId");
    }
    let scope_parts: Vec<&str> = scope.split('/').collect();
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or(BAD)?;
    if scope_parts.len() != 4
        || !amz_date.starts_with(scope_parts[0])
        || scope_parts[1] != REGION
        || scope_parts[2] != SERVICE
        || scope_parts[3] != "aws4_request"
    {
        return Err(BAD);
    }
    let signed: Vec<&str> = signed.ok_or(BAD)?.split(';').collect();
    for required in ["host", "x-amz-date", "x-amz-content-sha256"] {
        if !signed.contains(&required) {
            return Err(BAD);
        }
    }
    let payload_hash = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .ok_or(BAD)?;
    if payload_hash != sha256_hex(body) {
        return Err(BAD);
    }
    let creq = canonical_request(method, path, query, headers, &signed, payload_hash).ok_or(BAD)?;
    if signature(SECRET_KEY, amz_date, scope, &creq) != sig.ok_or(BAD)? {
        return Err(BAD);
    }
    Ok(())
}

/// The checker itself against AWS's published `get-vanilla` vector, so a passing
/// test means the client agrees with SigV4, not merely with this file.
#[test]
fn checker_matches_the_aws_test_suite() {
    let mut headers = HeaderMap::new();
    headers.insert("host", "example.amazonaws.com".parse().unwrap());
    headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
    let creq = canonical_request(
        "GET",
        "/",
        "",
        &headers,
        &["host", "x-amz-date"],
        &sha256_hex(b""),
    )
    .unwrap();
    assert_eq!(
        signature(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &creq
        ),
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
    assert_eq!(canonical_query("b=2&a=x%2By&a=%3A"), "a=%3A&a=x%2By&b=2");
}

// ---------------------------------------------------------------- stand-in server

/// A request that passed the signature check: method, path with query, JSON body.
type Recorded = (String, String, Value);

#[derive(Default)]
struct Shared {
    recorded: Mutex<Vec<Recorded>>,
}

fn user(name: &str, account: &str) -> Value {
    json!({
        "name": name, "id": "AIDAEXAMPLE0001", "account": account,
        "arn": format!("arn:aws:iam::000000000000:user/{name}"),
        "created": "2026-01-02T03:04:05Z",
        "groups": ["ops"], "policies": ["readonly"], "inline_policies": []
    })
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"code": code, "message": message, "request_id": "REQ-TEST-1"}),
    )
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let (method, path) = (parts.method.as_str(), parts.uri.path());
    let query = parts.uri.query().unwrap_or("");
    if let Err(code) = verify(method, path, query, &parts.headers, &body) {
        let message =
            "The request signature we calculated does not match the signature you provided.";
        return error(StatusCode::FORBIDDEN, code, message);
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or(path.to_string(), |p| p.to_string());
    shared
        .recorded
        .lock()
        .unwrap()
        .push((method.to_string(), target, body.clone()));

    let json = json_response;
    match (method, path) {
        ("GET", "/v1/users") => json(StatusCode::OK, json!([user("alice", "")])),
        ("POST", "/v1/users") => json(
            StatusCode::CREATED,
            user(
                body["name"].as_str().unwrap(),
                body["account"].as_str().unwrap_or(""),
            ),
        ),
        ("GET", "/v1/users/ghost") => error(
            StatusCode::NOT_FOUND,
            "NoSuchUser",
            "The user ghost does not exist.",
        ),
        ("DELETE", "/v1/users/alice") => StatusCode::NO_CONTENT.into_response(),
        ("POST", "/v1/users/alice/keys") => json(
            StatusCode::CREATED,
            json!({"access_key_id": "AKIANEWKEY", "user": "alice", "status": "Active",
                   "created": "2026-01-02T03:04:05Z", "secret_key": "TOPSECRETVALUE"}),
        ),
        ("PUT", "/v1/buckets/photos/quota") => json(StatusCode::OK, body),
        ("PUT", "/v1/rate-limits/buckets/photos") => json(
            StatusCode::OK,
            json!({"scope": "buckets", "name": "photos",
                   "requests_per_second": body["requests_per_second"],
                   "bytes_per_second": body["bytes_per_second"]}),
        ),
        ("GET", "/v1/audit/export") => (
            StatusCode::OK,
            Body::from(r#"{"Records":[{"eventName":"PutObject"}]}"#),
        )
            .into_response(),
        _ => error(StatusCode::NOT_FOUND, "NotFound", "no such route"),
    }
}

struct Fixture {
    config_dir: tempfile::TempDir,
    url: String,
    shared: Arc<Shared>,
    // Held for the server task's lifetime.
    _runtime: tokio::runtime::Runtime,
}

impl Fixture {
    fn start() -> Fixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Shared::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
        Fixture {
            config_dir: tempfile::tempdir().unwrap(),
            url,
            shared,
            _runtime: runtime,
        }
    }

    fn hafiz(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hafiz"))
            .arg("admin")
            .args(args)
            .env("HAFIZ_CONFIG_DIR", self.config_dir.path())
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.hafiz(args);
        assert!(
            out.status.success(),
            "hafiz admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn set_alias(&self, secret: &str) {
        self.ok(&["alias", "set", "local", &self.url, ACCESS_KEY, secret]);
    }

    fn last_request(&self) -> Recorded {
        self.shared
            .recorded
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---------------------------------------------------------------- tests

#[test]
fn signed_commands_send_the_contract_requests() {
    let f = Fixture::start();
    f.set_alias(SECRET_KEY);

    let out = f.ok(&["user", "add", "local", "bob", "--account", "acme"]);
    assert_eq!(
        f.last_request(),
        (
            "POST".into(),
            "/v1/users".into(),
            json!({"name": "bob", "account": "acme"})
        )
    );
    assert!(out.starts_with("NAME "), "{out}");
    assert!(out.contains("bob") && out.contains("acme"), "{out}");

    let listed: Value = serde_json::from_str(&f.ok(&["user", "list", "local", "--json"])).unwrap();
    assert_eq!(listed, json!([user("alice", "")]));

    let table = f.ok(&["user", "list", "local"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "ACCOUNT", "GROUPS", "POLICIES", "CREATED"]
    );
    assert!(lines[1].starts_with("alice "), "{table}");
    assert!(lines[1].contains("(default)"), "{table}");

    let out = f.hafiz(&["key", "add", "local", "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("TOPSECRETVALUE"));
    assert!(stderr(&out).contains("not shown again"), "{}", stderr(&out));

    let quota: Value = serde_json::from_str(&f.ok(&[
        "bucket",
        "quota",
        "set",
        "local",
        "photos",
        "--max-bytes",
        "10M",
        "--json",
    ]))
    .unwrap();
    let expected = json!({"max_bytes": 10_485_760, "max_objects": null});
    assert_eq!(
        f.last_request(),
        (
            "PUT".into(),
            "/v1/buckets/photos/quota".into(),
            expected.clone()
        )
    );
    assert_eq!(quota, expected);

    let table = f.ok(&[
        "ratelimit",
        "set",
        "local",
        "--bucket",
        "photos",
        "--bytes-per-second",
        "5M",
    ]);
    assert_eq!(
        f.last_request(),
        (
            "PUT".into(),
            "/v1/rate-limits/buckets/photos".into(),
            json!({"bytes_per_second": 5_242_880})
        )
    );
    assert!(table.contains("5.0 MiB"), "{table}");

    assert_eq!(
        f.ok(&["user", "remove", "local", "alice"]),
        "user alice removed\n"
    );
    assert_eq!(f.ok(&["user", "remove", "local", "alice", "--json"]), "");
}

#[test]
fn audit_export_signs_its_query_and_streams_to_a_file() {
    let f = Fixture::start();
    f.set_alias(SECRET_KEY);
    let file = f.config_dir.path().join("audit.json");
    // `+` and `:` must reach the server, and the signature, as themselves.
    f.ok(&[
        "audit",
        "export",
        "local",
        "--from",
        "2026-01-01T00:00:00+02:00",
        "--to",
        "2026-01-02T00:00:00Z",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        r#"{"Records":[{"eventName":"PutObject"}]}"#
    );
    assert_eq!(
        f.last_request().1,
        "/v1/audit/export?from=2026-01-01T00%3A00%3A00%2B02%3A00&to=2026-01-02T00%3A00%3A00Z"
    );
}

#[test]
fn api_error_prints_code_and_message_and_exits_1() {
    let f = Fixture::start();
    f.set_alias(SECRET_KEY);
    let out = f.hafiz(&["user", "info", "local", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: NoSuchUser: The user ghost does not exist.\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn wrong_secret_is_rejected_by_the_server() {
    let f = Fixture::start();
    f.set_alias("not-the-secret");
    let out = f.hafiz(&["user", "list", "local"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: SignatureDoesNotMatch: "),
        "{}",
        stderr(&out)
    );
    assert!(f.shared.recorded.lock().unwrap().is_empty());
}

#[test]
fn unreachable_server_is_reported() {
    let f = Fixture::start();
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    f.ok(&["alias", "set", "down", &url, ACCESS_KEY, SECRET_KEY]);
    let out = f.hafiz(&["info", "down"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!("error: cannot reach {url}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn aliases_file_is_private_and_keeps_secrets_out_of_listings() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::start();
    f.set_alias(SECRET_KEY);
    let file = f.config_dir.path().join("aliases.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let listed = f.ok(&["alias", "list", "--json"]);
    assert!(!listed.contains(SECRET_KEY), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["url"], json!(f.url));
    assert_eq!(listed[0]["region"], json!(REGION));

    f.ok(&["alias", "remove", "local"]);
    let out = f.hafiz(&["user", "list", "local"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no alias named \"local\""));
}
