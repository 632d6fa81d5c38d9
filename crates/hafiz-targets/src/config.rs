//! A target as the operator gives it ([`TargetSpec`]), as metadata keeps it
//! ([`TargetConfig`]: settings row `notify/<ARN>`, secrets sealed) and as it is
//! shown ([`TargetView`]: no secret).

use hafiz_meta::events::{QueueState, TARGET_SETTING_PREFIX};
use hafiz_notify::Route;
use serde::{Deserialize, Serialize};

use crate::error::{TargetError, TargetResult};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Webhook,
    Redis,
    Nats,
    Mqtt,
    Amqp,
    Kafka,
    Postgres,
    /// Routes each event to other targets by event type and key.
    Chain,
}

impl TargetKind {
    pub fn parse(s: &str) -> Option<TargetKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "webhook" => TargetKind::Webhook,
            "redis" => TargetKind::Redis,
            "nats" => TargetKind::Nats,
            "mqtt" => TargetKind::Mqtt,
            "amqp" => TargetKind::Amqp,
            "kafka" => TargetKind::Kafka,
            "postgres" | "postgresql" => TargetKind::Postgres,
            "chain" => TargetKind::Chain,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Webhook => "webhook",
            TargetKind::Redis => "redis",
            TargetKind::Nats => "nats",
            TargetKind::Mqtt => "mqtt",
            TargetKind::Amqp => "amqp",
            TargetKind::Kafka => "kafka",
            TargetKind::Postgres => "postgres",
            TargetKind::Chain => "chain",
        }
    }

    /// URL schemes the endpoint may have.
    fn schemes(self) -> &'static [&'static str] {
        match self {
            TargetKind::Webhook => &["http", "https"],
            TargetKind::Redis => &["redis", "rediss"],
            TargetKind::Nats => &["nats", "tls"],
            TargetKind::Mqtt => &["mqtt", "tcp"],
            TargetKind::Amqp => &["amqp"],
            TargetKind::Kafka => &["kafka"],
            TargetKind::Postgres => &["postgres", "postgresql"],
            TargetKind::Chain => &[],
        }
    }
}

/// The ARN bucket rules name a target by, as MinIO names its own
/// (`arn:minio:sqs::ID:webhook`).
pub fn arn_of(id: &str, kind: TargetKind) -> String {
    format!("arn:hafiz:sqs::{id}:{}", kind.as_str())
}

pub fn setting_key(arn: &str) -> String {
    format!("{TARGET_SETTING_PREFIX}{arn}")
}

/// What the operator gives: the admin API's body, a `[[notify]]` table.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub id: String,
    pub kind: String,
    /// `http(s)://…` (webhook), `redis://host:port/db`, `nats://host:port`,
    /// `mqtt://host:port`, `amqp://host:port/vhost`, `kafka://host:port[,host:port…]`
    /// (the bootstrap brokers), `postgres://host:port/dbname`.
    #[serde(default)]
    pub endpoint: String,
    /// Redis key, NATS subject, MQTT topic, AMQP exchange (empty: the default
    /// exchange), Kafka topic, PostgreSQL table (`table` or `schema.table`).
    #[serde(default)]
    pub destination: String,
    /// AMQP routing key (a queue's name with the default exchange).
    #[serde(default)]
    pub routing_key: String,
    /// Redis: `stream` (XADD, the default) or `list` (RPUSH). PostgreSQL:
    /// `namespace` (a row per object, the default) or `access` (a row per event).
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub username: String,
    /// Broker password, or the webhook's `Authorization` header value.
    #[serde(default)]
    pub password: Option<String>,
    /// Webhook: the key of the `X-Hafiz-Signature` HMAC-SHA256 header.
    #[serde(default)]
    pub hmac_secret: Option<String>,
    /// Per delivery attempt (default 5 s).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Failed attempts in a row after which the event at the head of the queue is
    /// dead-lettered (handed to a retrying job) so the events behind it move on;
    /// 0 (the default) waits for the target however long it is down.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Chain: where events go.
    #[serde(default)]
    pub routes: Vec<Route>,
}

impl std::fmt::Debug for TargetSpec {
    // Passwords and keys never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetSpec")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// What metadata keeps (the settings row's JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TargetConfig {
    pub arn: String,
    pub id: String,
    pub kind: TargetKind,
    pub endpoint: String,
    pub destination: String,
    pub routing_key: String,
    pub format: String,
    pub username: String,
    /// Sealed with a key derived from the root secret, bound to the ARN (base64).
    pub password_sealed: Option<String>,
    pub hmac_secret_sealed: Option<String>,
    pub timeout_ms: u64,
    pub max_attempts: u32,
    /// Read by the metadata store itself (`hafiz_notify::Route::of_target`).
    pub routes: Vec<Route>,
}

/// A target as the admin API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetView {
    pub arn: String,
    pub id: String,
    pub kind: TargetKind,
    pub endpoint: String,
    pub destination: String,
    pub routing_key: String,
    pub format: String,
    pub username: String,
    pub has_password: bool,
    pub has_hmac_secret: bool,
    pub timeout_ms: u64,
    pub max_attempts: u32,
    pub routes: Vec<Route>,
    /// Events waiting for delivery.
    pub queued: u64,
}

fn invalid(msg: impl Into<String>) -> TargetError {
    TargetError::Invalid(msg.into())
}

pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 5_000;

impl TargetSpec {
    /// Check the spec; `seal(aad, plain)` seals its secrets.
    pub fn validate(self, seal: impl Fn(&str, &[u8]) -> String) -> TargetResult<TargetConfig> {
        let id = self.id.trim().to_string();
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "id: 1 to 64 letters, digits, '-' or '_' (it becomes part of the ARN)",
            ));
        }
        let kind = TargetKind::parse(&self.kind).ok_or_else(|| {
            invalid(format!(
                "kind: {} is not one of webhook, redis, nats, mqtt, amqp, kafka, postgres, chain",
                self.kind
            ))
        })?;
        let arn = arn_of(&id, kind);
        if kind == TargetKind::Chain {
            if self.routes.is_empty() {
                return Err(invalid("routes: a chain needs at least one route"));
            }
            for r in &self.routes {
                if !r.target.starts_with("arn:hafiz:sqs::") {
                    return Err(invalid(format!("routes: {} is not a target ARN", r.target)));
                }
                for e in &r.events {
                    if !hafiz_notify::EVENT_TYPES.contains(&e.as_str()) {
                        return Err(invalid(format!("routes: unknown event type {e}")));
                    }
                }
            }
        } else if kind == TargetKind::Kafka {
            kafka_brokers(&self.endpoint).map_err(|e| invalid(format!("endpoint: {e}")))?;
            if !self.username.is_empty() || self.password.as_deref().is_some_and(|p| !p.is_empty())
            {
                return Err(invalid(
                    "username, password: kafka targets connect over plain TCP without SASL \
                     (authentication and TLS are not supported yet)",
                ));
            }
            check_kafka_topic(&self.destination)?;
            if !self.routes.is_empty() {
                return Err(invalid("routes: only a chain has routes"));
            }
        } else if kind == TargetKind::Postgres {
            postgres_endpoint(&self.endpoint).map_err(|e| invalid(format!("endpoint: {e}")))?;
            if self.username.trim().is_empty() {
                return Err(invalid(
                    "username: a postgres target needs one (the role it connects as)",
                ));
            }
            postgres_table(&self.destination)?;
            if !self.routes.is_empty() {
                return Err(invalid("routes: only a chain has routes"));
            }
        } else {
            let url =
                url::Url::parse(&self.endpoint).map_err(|e| invalid(format!("endpoint: {e}")))?;
            if !kind.schemes().contains(&url.scheme()) {
                return Err(invalid(format!(
                    "endpoint: a {} target takes {} URLs",
                    kind.as_str(),
                    kind.schemes().join(" or ")
                )));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid("endpoint: no host"));
            }
            if !url.password().unwrap_or("").is_empty() {
                return Err(invalid(
                    "endpoint: put the password in `password` (it is sealed), not in the URL",
                ));
            }
            let needs_destination = matches!(
                kind,
                TargetKind::Redis | TargetKind::Nats | TargetKind::Mqtt
            );
            if needs_destination && self.destination.trim().is_empty() {
                return Err(invalid(format!(
                    "destination: a {} target needs one (the key, subject or topic)",
                    kind.as_str()
                )));
            }
            if kind == TargetKind::Amqp && self.routing_key.trim().is_empty() {
                return Err(invalid("routing_key: an amqp target needs one"));
            }
            if !self.routes.is_empty() {
                return Err(invalid("routes: only a chain has routes"));
            }
        }
        let format = match (kind, self.format.as_str()) {
            (TargetKind::Redis, "" | "stream") => "stream".to_string(),
            (TargetKind::Redis, "list") => "list".to_string(),
            (TargetKind::Redis, f) => {
                return Err(invalid(format!("format: {f} is not stream or list")));
            }
            (TargetKind::Postgres, "" | "namespace") => "namespace".to_string(),
            (TargetKind::Postgres, "access") => "access".to_string(),
            (TargetKind::Postgres, f) => {
                return Err(invalid(format!("format: {f} is not namespace or access")));
            }
            (_, "") => String::new(),
            (_, f) => {
                return Err(invalid(format!(
                    "format: {f} applies to redis and postgres targets only"
                )));
            }
        };
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !(100..=300_000).contains(&timeout_ms) {
            return Err(invalid("timeout_ms: between 100 and 300000"));
        }
        let sealed = |what: &str, v: Option<String>| {
            v.filter(|s| !s.is_empty())
                .map(|s| seal(&secret_aad(&arn, what), s.as_bytes()))
        };
        Ok(TargetConfig {
            password_sealed: sealed("password", self.password),
            hmac_secret_sealed: sealed("hmac", self.hmac_secret),
            arn: arn.clone(),
            id,
            kind,
            endpoint: self.endpoint,
            destination: self.destination,
            routing_key: self.routing_key,
            format,
            username: self.username,
            timeout_ms,
            max_attempts: self.max_attempts.unwrap_or(0),
            routes: self.routes,
        })
    }
}

/// The bootstrap brokers of a `kafka://host:port[,host:port…]` endpoint, as
/// `host:port` (the port defaults to 9092; IPv6 hosts in brackets).
pub(crate) fn kafka_brokers(endpoint: &str) -> Result<Vec<String>, String> {
    let rest = endpoint
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("kafka://"))
        .map(|_| &endpoint[8..])
        .ok_or("a kafka target takes kafka://host:port[,host:port…] URLs")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['@', '/', '?', '#']) {
        return Err("kafka://host:port[,host:port…]: no user, path or query \
                    (SASL and TLS are not supported)"
            .into());
    }
    let mut brokers = Vec::new();
    for b in rest.split(',').map(str::trim) {
        let (host, port) = match b.rsplit_once(':') {
            // `[::1]` alone, or `host` alone: the default port.
            Some((h, p)) if !p.contains(']') && (!h.contains(':') || h.ends_with(']')) => {
                (h, Some(p))
            }
            _ => (b, None),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.is_empty()
            || bare.contains(['[', ']', ' '])
            || (host.starts_with('[') != host.ends_with(']'))
            || (bare.contains(':') && !host.starts_with('['))
        {
            return Err(format!("{b:?} is not host:port"));
        }
        let port = match port {
            None => 9092,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{b:?}: {p:?} is not a port"))?,
        };
        brokers.push(format!("{host}:{port}"));
    }
    Ok(brokers)
}

/// Where a `postgres://host[:port]/dbname[?sslmode=disable|prefer]` endpoint
/// leads (the user and password are given apart; no TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PostgresEndpoint {
    /// A name or an address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    pub dbname: String,
}

pub(crate) fn postgres_endpoint(endpoint: &str) -> Result<PostgresEndpoint, String> {
    const SHAPE: &str = "a postgres target takes postgres://host:port/dbname URLs";
    let url = url::Url::parse(endpoint).map_err(|e| format!("{e} ({SHAPE})"))?;
    if !TargetKind::Postgres.schemes().contains(&url.scheme()) {
        return Err(SHAPE.into());
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        _ => return Err(format!("no host ({SHAPE})")),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "put the user in `username` and the password in `password` (it is sealed), \
             not in the URL"
                .into(),
        );
    }
    let path = url.path().strip_prefix('/').unwrap_or("");
    let dbname = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| "the database name is not UTF-8".to_string())?;
    if dbname.is_empty() || path.contains('/') {
        return Err(format!("no database name ({SHAPE})"));
    }
    for (k, v) in url.query_pairs() {
        match (k.as_ref(), v.as_ref()) {
            ("sslmode", "disable" | "allow" | "prefer") => {}
            ("sslmode", m) => {
                return Err(format!(
                    "sslmode={m}: postgres targets connect without TLS (not supported yet)"
                ));
            }
            (k, _) => return Err(format!("parameter {k} is not supported (only sslmode)")),
        }
    }
    if url.fragment().is_some() {
        return Err(format!("no fragment ({SHAPE})"));
    }
    Ok(PostgresEndpoint {
        host,
        port: url.port().unwrap_or(5432),
        dbname: dbname.into_owned(),
    })
}

/// A table name: a plain SQL identifier, optionally schema-qualified
/// (`schema.table`), each part 1 to 63 of `[A-Za-z0-9_]`, not starting with a
/// digit. Returned quoted for SQL, folded to lower case as PostgreSQL folds the
/// unquoted name (`Events` is the table `events`, as `CREATE TABLE Events` makes
/// it; the quotes let reserved words like `user` be table names).
pub(crate) fn postgres_table(name: &str) -> TargetResult<String> {
    if name.is_empty() {
        return Err(invalid(
            "destination: a postgres target needs one (the table)",
        ));
    }
    let parts: Vec<&str> = name.split('.').collect();
    let plain = |p: &&str| {
        !p.is_empty()
            && p.len() <= 63
            && !p.as_bytes()[0].is_ascii_digit()
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if parts.len() > 2 || !parts.iter().all(plain) {
        return Err(invalid(format!(
            "destination: {name:?} is not a table name (an identifier of letters, digits and \
             '_', optionally schema.table)"
        )));
    }
    Ok(parts
        .iter()
        .map(|p| format!("\"{}\"", p.to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join("."))
}

/// Kafka's rule for topic names: 1 to 249 of `[A-Za-z0-9._-]`, not `.` or `..`.
fn check_kafka_topic(topic: &str) -> TargetResult<()> {
    if topic.is_empty() {
        return Err(invalid("destination: a kafka target needs one (the topic)"));
    }
    if topic.len() > 249
        || topic == "."
        || topic == ".."
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(invalid(format!(
            "destination: {topic:?} is not a Kafka topic name (1 to 249 of letters, digits, '.', '_', '-')"
        )));
    }
    Ok(())
}

/// What a sealed secret is bound to: copied into another target (or field) it does
/// not open.
pub(crate) fn secret_aad(arn: &str, what: &str) -> String {
    format!("notify target {arn} {what}")
}

impl TargetConfig {
    pub fn view(&self, queue: QueueState) -> TargetView {
        TargetView {
            arn: self.arn.clone(),
            id: self.id.clone(),
            kind: self.kind,
            endpoint: self.endpoint.clone(),
            destination: self.destination.clone(),
            routing_key: self.routing_key.clone(),
            format: self.format.clone(),
            username: self.username.clone(),
            has_password: self.password_sealed.is_some(),
            has_hmac_secret: self.hmac_secret_sealed.is_some(),
            timeout_ms: self.timeout_ms,
            max_attempts: self.max_attempts,
            routes: self.routes.clone(),
            queued: queue.queued,
        }
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, endpoint: &str) -> TargetSpec {
        TargetSpec {
            id: "t1".into(),
            kind: kind.into(),
            endpoint: endpoint.into(),
            destination: "events".into(),
            routing_key: "q".into(),
            ..Default::default()
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let seal = |_: &str, p: &[u8]| format!("sealed{}", p.len());
        let cases: Vec<(TargetSpec, &str)> = vec![
            (
                TargetSpec {
                    id: "a b".into(),
                    ..spec("webhook", "http://x")
                },
                "id:",
            ),
            (spec("smtp", "http://x"), "kind:"),
            (spec("webhook", "redis://x"), "endpoint:"),
            (spec("redis", "redis://:pw@x"), "endpoint: put the password"),
            (
                TargetSpec {
                    destination: String::new(),
                    ..spec("nats", "nats://x")
                },
                "destination:",
            ),
            (
                TargetSpec {
                    routing_key: String::new(),
                    ..spec("amqp", "amqp://x")
                },
                "routing_key:",
            ),
            (
                TargetSpec {
                    format: "hash".into(),
                    ..spec("redis", "redis://x")
                },
                "format:",
            ),
            (
                TargetSpec {
                    timeout_ms: Some(1),
                    ..spec("webhook", "http://x")
                },
                "timeout_ms:",
            ),
            (spec("chain", ""), "routes:"),
            (spec("kafka", "http://x:9092"), "endpoint:"),
            (spec("kafka", "kafka://"), "endpoint:"),
            (spec("kafka", "kafka://x:port"), "endpoint:"),
            (spec("kafka", "kafka://x:9092,"), "endpoint:"),
            (spec("kafka", "kafka://::1:9092"), "endpoint:"),
            (spec("kafka", "kafka://u@x:9092"), "endpoint:"),
            (
                TargetSpec {
                    destination: String::new(),
                    ..spec("kafka", "kafka://x:9092")
                },
                "destination:",
            ),
            (
                TargetSpec {
                    destination: "a topic".into(),
                    ..spec("kafka", "kafka://x:9092")
                },
                "destination:",
            ),
            (
                TargetSpec {
                    username: "u".into(),
                    ..spec("kafka", "kafka://x:9092")
                },
                "username, password:",
            ),
            (
                TargetSpec {
                    password: Some("p".into()),
                    ..spec("kafka", "kafka://x:9092")
                },
                "username, password:",
            ),
            (pg("http://h/db"), "endpoint:"),
            (pg("postgres:///db"), "endpoint:"),
            (pg("postgres://h"), "endpoint:"),
            (pg("postgres://h/"), "endpoint:"),
            (pg("postgres://h/a/b"), "endpoint:"),
            (pg("postgres://u@h/db"), "endpoint: put the user"),
            (pg("postgres://u:pw@h/db"), "endpoint: put the user"),
            (
                pg("postgres://h/db?sslmode=require"),
                "endpoint: sslmode=require",
            ),
            (
                pg("postgres://h/db?sslmode=verify-full"),
                "endpoint: sslmode=",
            ),
            (
                pg("postgres://h/db?application_name=x"),
                "endpoint: parameter",
            ),
            (pg("postgres://h:99999/db"), "endpoint:"),
            (
                TargetSpec {
                    username: String::new(),
                    ..pg("postgres://h/db")
                },
                "username:",
            ),
            (
                TargetSpec {
                    destination: String::new(),
                    ..pg("postgres://h/db")
                },
                "destination: a postgres target needs one",
            ),
            (
                TargetSpec {
                    format: "stream".into(),
                    ..pg("postgres://h/db")
                },
                "format:",
            ),
            (
                TargetSpec {
                    format: "access".into(),
                    ..spec("redis", "redis://x")
                },
                "format:",
            ),
            (
                TargetSpec {
                    format: "namespace".into(),
                    ..spec("webhook", "http://x")
                },
                "format:",
            ),
        ];
        for (s, want) in cases {
            match s.clone().validate(seal) {
                Err(TargetError::Invalid(m)) => assert!(m.starts_with(want), "{m} vs {want}"),
                other => panic!("{s:?}: {other:?}"),
            }
        }
        for table in [
            "a b",
            "1events",
            "a.b.c",
            ".t",
            "s.",
            "t;drop table x",
            "\"quoted\"",
            "t-1",
            "tablé",
            &"x".repeat(64),
        ] {
            let s = TargetSpec {
                destination: table.to_string(),
                ..pg("postgres://h/db")
            };
            match s.validate(seal) {
                Err(TargetError::Invalid(m)) => {
                    assert!(m.starts_with("destination:"), "{table}: {m}")
                }
                other => panic!("{table}: {other:?}"),
            }
        }
    }

    fn pg(endpoint: &str) -> TargetSpec {
        TargetSpec {
            username: "hafiz".into(),
            ..spec("postgres", endpoint)
        }
    }

    #[test]
    fn postgres_targets() {
        let seal = |aad: &str, _: &[u8]| format!("S({aad})");
        let c = TargetSpec {
            password: Some("pw".into()),
            ..pg("postgres://127.0.0.1:5433/events_db")
        }
        .validate(seal)
        .unwrap();
        assert_eq!(c.arn, "arn:hafiz:sqs::t1:postgres");
        assert_eq!(c.kind, TargetKind::Postgres);
        assert_eq!(c.format, "namespace", "the default format");
        assert_eq!(c.username, "hafiz");
        assert!(c.password_sealed.as_deref().unwrap().contains("password"));
        let a = TargetSpec {
            format: "access".into(),
            destination: "audit.S3_Events".into(),
            ..pg("postgresql://db.example/x?sslmode=disable")
        }
        .validate(seal)
        .unwrap();
        assert_eq!(a.format, "access");
        assert_eq!(TargetKind::parse("PostgreSQL"), Some(TargetKind::Postgres));

        for (endpoint, host, port, db) in [
            ("postgres://h/db", "h", 5432, "db"),
            (
                "postgresql://10.0.0.1:5433/my%20db",
                "10.0.0.1",
                5433,
                "my db",
            ),
            ("postgres://[::1]:5433/db?sslmode=prefer", "::1", 5433, "db"),
        ] {
            let want = PostgresEndpoint {
                host: host.into(),
                port,
                dbname: db.into(),
            };
            assert_eq!(postgres_endpoint(endpoint).unwrap(), want, "{endpoint}");
        }
        assert!(postgres_endpoint("postgres://h/db/").is_err());

        assert_eq!(postgres_table("events").unwrap(), r#""events""#);
        assert_eq!(postgres_table("user").unwrap(), r#""user""#);
        assert_eq!(
            postgres_table("Audit.S3_Events").unwrap(),
            r#""audit"."s3_events""#
        );
        assert_eq!(postgres_table("_t9").unwrap(), r#""_t9""#);
    }

    #[test]
    fn kafka_endpoints_list_bootstrap_brokers() {
        let seal = |_: &str, _: &[u8]| String::new();
        let c = spec("kafka", "kafka://127.0.0.1:9092,broker-2:9093")
            .validate(seal)
            .unwrap();
        assert_eq!(c.arn, "arn:hafiz:sqs::t1:kafka");
        assert_eq!(c.destination, "events");
        for (endpoint, want) in [
            ("kafka://h:1", vec!["h:1"]),
            ("KAFKA://h:1/", vec!["h:1"]),
            ("kafka://h", vec!["h:9092"]),
            ("kafka://a:1, b:2,c", vec!["a:1", "b:2", "c:9092"]),
            (
                "kafka://[::1]:9093,[fe80::1]",
                vec!["[::1]:9093", "[fe80::1]:9092"],
            ),
        ] {
            assert_eq!(kafka_brokers(endpoint).unwrap(), want, "{endpoint}");
        }
        for bad in [
            "kafka://h:0",
            "kafka://h:70000",
            "kafka://[::1",
            "kafka://h/x",
            "nats://h:1",
        ] {
            assert!(kafka_brokers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_sealed_and_not_shown() {
        let seal = |aad: &str, _: &[u8]| format!("S({aad})");
        let c = TargetSpec {
            password: Some("hunter2".into()),
            hmac_secret: Some("k".into()),
            ..spec("webhook", "https://hooks.example/x")
        }
        .validate(seal)
        .unwrap();
        assert_eq!(c.arn, "arn:hafiz:sqs::t1:webhook");
        assert!(c.password_sealed.as_deref().unwrap().contains("password"));
        let shown = serde_json::to_string(&c.view(QueueState::default())).unwrap();
        assert!(!shown.contains("hunter2") && !shown.contains("S("));
        assert!(shown.contains(r#""has_password":true"#));
        let dbg = format!("{:?}", spec("webhook", "http://x"));
        assert!(!dbg.contains("password"));
    }
}
