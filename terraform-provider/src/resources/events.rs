//! Where objects' events and copies go: `hafiz_notify_target` and
//! `hafiz_replication_target` (admin API), and the bucket rules that name them,
//! `hafiz_notification` and `hafiz_replication` (S3's configurations).

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use tf_provider::AttributePath;
use tf_provider::schema::Block;
use tf_provider::value::Value;

use super::bucket::get_config;
use super::iam::{field, get};
use super::managed::{Managed, changed};
use crate::api::{Api, ApiError, ApiResult};
use crate::s3xml::{self, *};
use crate::schema::*;
use crate::state::{Strings, known, list, to_list};

fn text(v: &Value<String>) -> &str {
    known(v).unwrap_or_default()
}

/// A string the server reports ("" or absent: null).
fn server_string(v: &Json, k: &str) -> Value<String> {
    match v[k].as_str() {
        Some(s) if !s.is_empty() => Value::Value(s.to_string()),
        _ => Value::Null,
    }
}

/// A write-only value (a secret): what the state had (null after an import).
fn kept(prior: &Value<String>) -> Value<String> {
    match prior {
        Value::Value(s) => Value::Value(s.clone()),
        _ => Value::Null,
    }
}

/// A create-only switch: what the state had, else its default.
fn kept_flag(prior: &Value<bool>, default: bool) -> Value<bool> {
    match prior {
        Value::Value(b) => Value::Value(*b),
        _ => Value::Value(default),
    }
}

/// A JSON body of the attributes that are set.
fn body<const N: usize>(fields: [(&str, Json); N]) -> Json {
    Json::Object(
        fields
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Map<_, _>>(),
    )
}

fn opt(v: &Value<String>) -> Json {
    known(v).map(|s| json!(s)).unwrap_or(Json::Null)
}

fn opt_num(v: &Value<i64>) -> Json {
    v.as_ref_option().map(|n| json!(n)).unwrap_or(Json::Null)
}

fn check_query(check: &Value<bool>) -> &'static str {
    if check == &Value::Value(false) {
        "check=false"
    } else {
        ""
    }
}

// ------------------------------------------------------ hafiz_notify_target

pub struct NotifyTarget;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct NotifyTargetState {
    pub id: Value<String>,
    pub arn: Value<String>,
    pub target_id: Value<String>,
    pub kind: Value<String>,
    pub endpoint: Value<String>,
    pub destination: Value<String>,
    pub routing_key: Value<String>,
    pub format: Value<String>,
    pub username: Value<String>,
    pub password: Value<String>,
    pub hmac_secret: Value<String>,
    pub timeout_ms: Value<i64>,
    pub max_attempts: Value<i64>,
    pub check: Value<bool>,
}

#[async_trait]
impl Managed for NotifyTarget {
    type State = NotifyTargetState;
    const KIND: &'static str = "notification target";
    const IMPORT_ID: &'static str = "the target's ARN";

    fn block(&self) -> Block {
        block(
            "A notification target (webhook, Redis, NATS, MQTT, AMQP or a chain); any change replaces it.",
            [
                ("id", computed(string(), "The target's ARN.")),
                ("arn", computed(string(), "The ARN bucket rules name.")),
                (
                    "target_id",
                    required(string(), "The target's id (part of its ARN)."),
                ),
                (
                    "kind",
                    required(string(), "webhook, redis, nats, mqtt, amqp or chain."),
                ),
                (
                    "endpoint",
                    optional(string(), "Where events go (URL or HOST:PORT)."),
                ),
                (
                    "destination",
                    optional(string(), "Channel, subject, topic, queue or exchange."),
                ),
                ("routing_key", optional(string(), "AMQP routing key.")),
                (
                    "format",
                    defaulted(string(), "stream or list (the server's default: stream)."),
                ),
                ("username", optional(string(), "User name for the target.")),
                (
                    "password",
                    sensitive(optional(string(), "Password for the target.")),
                ),
                (
                    "hmac_secret",
                    sensitive(optional(string(), "Webhook signing secret.")),
                ),
                (
                    "timeout_ms",
                    defaulted(
                        number(),
                        "Delivery timeout (the server's default when unset).",
                    ),
                ),
                (
                    "max_attempts",
                    defaulted(
                        number(),
                        "Attempts before an event is dead (the server's default when unset).",
                    ),
                ),
                (
                    "check",
                    defaulted(
                        boolean(),
                        "Connect to the target before saving it (default true).",
                    ),
                ),
            ],
            [],
        )
    }

    fn plan(&self, mut p: NotifyTargetState, creating: bool) -> NotifyTargetState {
        if p.check.is_null() {
            p.check = Value::Value(true);
        }
        if creating {
            p.id = Value::Unknown;
            p.arn = Value::Unknown;
            if p.format.is_null() {
                p.format = Value::Unknown;
            }
            if p.timeout_ms.is_null() {
                p.timeout_ms = Value::Unknown;
            }
            if p.max_attempts.is_null() {
                p.max_attempts = Value::Unknown;
            }
        }
        p
    }

    fn keep_equivalent(&self, prior: &NotifyTargetState, planned: &mut NotifyTargetState) {
        // `check` only matters when the target is created.
        planned.check = prior.check;
    }

    fn replaced(&self, a: &NotifyTargetState, b: &NotifyTargetState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "target_id", &a.target_id, &b.target_id);
        changed(&mut out, "kind", &a.kind, &b.kind);
        changed(&mut out, "endpoint", &a.endpoint, &b.endpoint);
        changed(&mut out, "destination", &a.destination, &b.destination);
        changed(&mut out, "routing_key", &a.routing_key, &b.routing_key);
        changed(&mut out, "format", &a.format, &b.format);
        changed(&mut out, "username", &a.username, &b.username);
        changed(&mut out, "password", &a.password, &b.password);
        changed(&mut out, "hmac_secret", &a.hmac_secret, &b.hmac_secret);
        changed(&mut out, "timeout_ms", &a.timeout_ms, &b.timeout_ms);
        changed(&mut out, "max_attempts", &a.max_attempts, &b.max_attempts);
        out
    }

    fn label(&self, s: &NotifyTargetState) -> String {
        text(&s.target_id).to_string()
    }

    async fn create(&self, api: &Api, p: &NotifyTargetState) -> ApiResult<NotifyTargetState> {
        let b = body([
            ("id", opt(&p.target_id)),
            ("kind", opt(&p.kind)),
            ("endpoint", opt(&p.endpoint)),
            ("destination", opt(&p.destination)),
            ("routing_key", opt(&p.routing_key)),
            ("format", opt(&p.format)),
            ("username", opt(&p.username)),
            ("password", opt(&p.password)),
            ("hmac_secret", opt(&p.hmac_secret)),
            ("timeout_ms", opt_num(&p.timeout_ms)),
            ("max_attempts", opt_num(&p.max_attempts)),
        ]);
        let v = api
            .admin(
                Method::POST,
                &["notify", "targets"],
                check_query(&p.check),
                Some(&b),
            )
            .await?
            .unwrap_or_default();
        let mut s = p.clone();
        s.arn = field(&v, "arn");
        s.id = s.arn.clone();
        s.format = field(&v, "format");
        s.timeout_ms = v["timeout_ms"].as_i64().into();
        s.max_attempts = v["max_attempts"].as_i64().into();
        Ok(s)
    }

    async fn read(&self, api: &Api, s: &NotifyTargetState) -> ApiResult<Option<NotifyTargetState>> {
        let Some(v) = get(api, &["notify", "targets", text(&s.arn)]).await? else {
            return Ok(None);
        };
        Ok(Some(NotifyTargetState {
            arn: field(&v, "arn"),
            id: field(&v, "arn"),
            target_id: field(&v, "id"),
            kind: field(&v, "kind"),
            endpoint: server_string(&v, "endpoint"),
            destination: server_string(&v, "destination"),
            routing_key: server_string(&v, "routing_key"),
            format: server_string(&v, "format"),
            username: server_string(&v, "username"),
            password: kept(&s.password),
            hmac_secret: kept(&s.hmac_secret),
            timeout_ms: v["timeout_ms"].as_i64().into(),
            max_attempts: v["max_attempts"].as_i64().into(),
            check: kept_flag(&s.check, true),
        }))
    }

    async fn update(
        &self,
        _api: &Api,
        _prior: &NotifyTargetState,
        p: &NotifyTargetState,
    ) -> ApiResult<NotifyTargetState> {
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &NotifyTargetState) -> ApiResult<()> {
        api.admin(
            Method::DELETE,
            &["notify", "targets", text(&s.arn)],
            "",
            None,
        )
        .await
        .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<NotifyTargetState> {
        Some(NotifyTargetState {
            arn: Value::Value(id.to_string()),
            ..Default::default()
        })
    }
}

// ------------------------------------------------- hafiz_replication_target

pub struct ReplicationTarget;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct ReplicationTargetState {
    pub id: Value<String>,
    pub arn: Value<String>,
    pub target_id: Value<String>,
    pub endpoint: Value<String>,
    pub bucket: Value<String>,
    pub region: Value<String>,
    pub access_key: Value<String>,
    pub secret_key: Value<String>,
    pub timeout_ms: Value<i64>,
    pub check: Value<bool>,
}

#[async_trait]
impl Managed for ReplicationTarget {
    type State = ReplicationTargetState;
    const KIND: &'static str = "replication target";
    const IMPORT_ID: &'static str = "the target's ARN";

    fn block(&self) -> Block {
        block(
            "A bucket on another S3 endpoint that replication rules copy to; any change replaces it.",
            [
                ("id", computed(string(), "The target's ARN.")),
                (
                    "arn",
                    computed(
                        string(),
                        "arn:hafiz:replication::ID:BUCKET, named by rules.",
                    ),
                ),
                ("target_id", required(string(), "The target's id.")),
                (
                    "endpoint",
                    required(string(), "The remote S3 endpoint URL."),
                ),
                ("bucket", required(string(), "The remote bucket.")),
                (
                    "region",
                    defaulted(
                        string(),
                        "The remote region (the server's default when unset).",
                    ),
                ),
                (
                    "access_key",
                    required(string(), "Access key on the remote endpoint."),
                ),
                (
                    "secret_key",
                    sensitive(required(string(), "Secret key on the remote endpoint.")),
                ),
                (
                    "timeout_ms",
                    defaulted(
                        number(),
                        "Request timeout (the server's default when unset).",
                    ),
                ),
                (
                    "check",
                    defaulted(
                        boolean(),
                        "HeadBucket the remote before saving (default true).",
                    ),
                ),
            ],
            [],
        )
    }

    fn plan(&self, mut p: ReplicationTargetState, creating: bool) -> ReplicationTargetState {
        if p.check.is_null() {
            p.check = Value::Value(true);
        }
        if creating {
            p.id = Value::Unknown;
            p.arn = Value::Unknown;
            if p.region.is_null() {
                p.region = Value::Unknown;
            }
            if p.timeout_ms.is_null() {
                p.timeout_ms = Value::Unknown;
            }
        }
        p
    }

    fn keep_equivalent(
        &self,
        prior: &ReplicationTargetState,
        planned: &mut ReplicationTargetState,
    ) {
        planned.check = prior.check;
    }

    fn replaced(
        &self,
        a: &ReplicationTargetState,
        b: &ReplicationTargetState,
    ) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "target_id", &a.target_id, &b.target_id);
        changed(&mut out, "endpoint", &a.endpoint, &b.endpoint);
        changed(&mut out, "bucket", &a.bucket, &b.bucket);
        changed(&mut out, "region", &a.region, &b.region);
        changed(&mut out, "access_key", &a.access_key, &b.access_key);
        changed(&mut out, "secret_key", &a.secret_key, &b.secret_key);
        changed(&mut out, "timeout_ms", &a.timeout_ms, &b.timeout_ms);
        out
    }

    fn label(&self, s: &ReplicationTargetState) -> String {
        text(&s.target_id).to_string()
    }

    async fn create(
        &self,
        api: &Api,
        p: &ReplicationTargetState,
    ) -> ApiResult<ReplicationTargetState> {
        let b = body([
            ("id", opt(&p.target_id)),
            ("endpoint", opt(&p.endpoint)),
            ("bucket", opt(&p.bucket)),
            ("region", opt(&p.region)),
            ("access_key", opt(&p.access_key)),
            ("secret_key", opt(&p.secret_key)),
            ("timeout_ms", opt_num(&p.timeout_ms)),
        ]);
        let v = api
            .admin(
                Method::POST,
                &["replication", "targets"],
                check_query(&p.check),
                Some(&b),
            )
            .await?
            .unwrap_or_default();
        let mut s = p.clone();
        s.arn = field(&v, "arn");
        s.id = s.arn.clone();
        s.region = field(&v, "region");
        s.timeout_ms = v["timeout_ms"].as_i64().into();
        Ok(s)
    }

    async fn read(
        &self,
        api: &Api,
        s: &ReplicationTargetState,
    ) -> ApiResult<Option<ReplicationTargetState>> {
        let Some(v) = get(api, &["replication", "targets", text(&s.arn)]).await? else {
            return Ok(None);
        };
        Ok(Some(ReplicationTargetState {
            arn: field(&v, "arn"),
            id: field(&v, "arn"),
            target_id: field(&v, "id"),
            endpoint: field(&v, "endpoint"),
            bucket: field(&v, "bucket"),
            region: field(&v, "region"),
            access_key: field(&v, "access_key"),
            secret_key: kept(&s.secret_key),
            timeout_ms: v["timeout_ms"].as_i64().into(),
            check: kept_flag(&s.check, true),
        }))
    }

    async fn update(
        &self,
        _api: &Api,
        _prior: &ReplicationTargetState,
        p: &ReplicationTargetState,
    ) -> ApiResult<ReplicationTargetState> {
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &ReplicationTargetState) -> ApiResult<()> {
        api.admin(
            Method::DELETE,
            &["replication", "targets", text(&s.arn)],
            "",
            None,
        )
        .await
        .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<ReplicationTargetState> {
        Some(ReplicationTargetState {
            arn: Value::Value(id.to_string()),
            ..Default::default()
        })
    }
}

// -------------------------------------------------------- hafiz_notification

pub struct Notification;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct NotificationState {
    pub id: Value<String>,
    pub bucket: Value<String>,
    pub rule: Value<Vec<NotificationRuleBlock>>,
}

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct NotificationRuleBlock {
    pub id: Value<String>,
    pub target_arn: Value<String>,
    pub events: Strings,
    pub filter_prefix: Value<String>,
    pub filter_suffix: Value<String>,
}

fn notification_xml(rules: &[NotificationRuleBlock]) -> String {
    let rules = rules
        .iter()
        .map(|r| {
            let mut filters = Vec::new();
            for (name, v) in [("prefix", &r.filter_prefix), ("suffix", &r.filter_suffix)] {
                if let Some(v) = known(v) {
                    filters.push(FilterRule {
                        Name: name.into(),
                        Value: v.to_string(),
                    });
                }
            }
            NotificationRule {
                Id: known(&r.id).map(str::to_string),
                Queue: text(&r.target_arn).to_string(),
                Event: list(&r.events),
                Filter: (!filters.is_empty()).then_some(NotificationFilter {
                    S3Key: S3Key {
                        FilterRule: filters,
                    },
                }),
            }
        })
        .collect();
    s3xml::to_xml(
        "NotificationConfiguration",
        &NotificationConfiguration {
            QueueConfiguration: rules,
            ..Default::default()
        },
    )
}

fn bad_xml(bucket: &str, what: String) -> ApiError {
    ApiError::Invalid {
        url: format!("bucket {bucket}"),
        what,
    }
}

#[async_trait]
impl Managed for Notification {
    type State = NotificationState;
    const KIND: &'static str = "notification configuration";
    const IMPORT_ID: &'static str = "the bucket's name";

    fn block(&self) -> Block {
        block(
            "A bucket's event notification rules (the whole configuration).",
            [
                ("id", computed(string(), "The bucket's name.")),
                ("bucket", required(string(), "The bucket.")),
            ],
            [(
                "rule",
                repeated(block(
                    "Events of some keys sent to a notification target.",
                    [
                        ("id", defaulted(string(), "The rule's id (default rule-N).")),
                        (
                            "target_arn",
                            required(string(), "A notification target's ARN."),
                        ),
                        (
                            "events",
                            required(list_of(string()), "Event types, e.g. s3:ObjectCreated:*."),
                        ),
                        (
                            "filter_prefix",
                            optional(string(), "Keys starting with this."),
                        ),
                        (
                            "filter_suffix",
                            optional(string(), "Keys ending with this."),
                        ),
                    ],
                    [],
                )),
            )],
        )
    }

    fn plan(&self, mut p: NotificationState, _creating: bool) -> NotificationState {
        p.id = p.bucket.clone();
        if let Value::Value(rules) = &mut p.rule {
            for (i, r) in rules.iter_mut().enumerate() {
                if r.id.is_null() {
                    r.id = Value::Value(format!("rule-{i}"));
                }
            }
        }
        p
    }

    fn replaced(&self, a: &NotificationState, b: &NotificationState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "bucket", &a.bucket, &b.bucket);
        out
    }

    fn label(&self, s: &NotificationState) -> String {
        format!("of {}", text(&s.bucket))
    }

    async fn create(&self, api: &Api, p: &NotificationState) -> ApiResult<NotificationState> {
        self.update(api, p, p).await
    }

    async fn read(&self, api: &Api, s: &NotificationState) -> ApiResult<Option<NotificationState>> {
        let bucket = text(&s.bucket);
        let xml = match get_config(api, bucket, "notification").await {
            Ok(Some(x)) => x,
            Ok(None) => return Ok(None),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let c: NotificationConfiguration = from_xml(&xml).map_err(|w| bad_xml(bucket, w))?;
        let rules: Vec<NotificationRuleBlock> = c
            .QueueConfiguration
            .into_iter()
            .chain(c.TopicConfiguration)
            .chain(c.CloudFunctionConfiguration)
            .map(|r| {
                let f = |name: &str| -> Value<String> {
                    r.Filter
                        .as_ref()
                        .and_then(|f| {
                            f.S3Key
                                .FilterRule
                                .iter()
                                .find(|x| x.Name.eq_ignore_ascii_case(name))
                        })
                        .map(|x| Value::Value(x.Value.clone()))
                        .unwrap_or(Value::Null)
                };
                NotificationRuleBlock {
                    filter_prefix: f("prefix"),
                    filter_suffix: f("suffix"),
                    id: r.Id.clone().map(Value::Value).unwrap_or(Value::Null),
                    target_arn: Value::Value(r.Queue.clone()),
                    events: Value::Value(to_list(r.Event.clone())),
                }
            })
            .collect();
        if rules.is_empty() {
            return Ok(None);
        }
        Ok(Some(NotificationState {
            id: s.bucket.clone(),
            bucket: s.bucket.clone(),
            rule: Value::Value(rules),
        }))
    }

    async fn update(
        &self,
        api: &Api,
        _prior: &NotificationState,
        p: &NotificationState,
    ) -> ApiResult<NotificationState> {
        let rules = p.rule.as_ref_option().cloned().unwrap_or_default();
        api.s3(
            Method::PUT,
            text(&p.bucket),
            "notification",
            &[],
            Some(notification_xml(&rules)),
        )
        .await?;
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &NotificationState) -> ApiResult<()> {
        api.s3(
            Method::PUT,
            text(&s.bucket),
            "notification",
            &[],
            Some(notification_xml(&[])),
        )
        .await
        .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<NotificationState> {
        Some(NotificationState {
            id: Value::Value(id.to_string()),
            bucket: Value::Value(id.to_string()),
            ..Default::default()
        })
    }
}

// --------------------------------------------------------- hafiz_replication

pub struct Replication;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct ReplicationState {
    pub id: Value<String>,
    pub bucket: Value<String>,
    pub role: Value<String>,
    pub rule: Value<Vec<ReplicationRuleBlock>>,
}

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct ReplicationRuleBlock {
    pub id: Value<String>,
    pub priority: Value<i64>,
    pub enabled: Value<bool>,
    pub prefix: Value<String>,
    pub delete_marker_replication: Value<bool>,
    pub existing_object_replication: Value<bool>,
    pub destination_arn: Value<String>,
    pub storage_class: Value<String>,
}

fn status(on: bool) -> String {
    if on { "Enabled" } else { "Disabled" }.into()
}

fn replication_xml(role: &str, rules: &[ReplicationRuleBlock]) -> String {
    let rules = rules
        .iter()
        .map(|r| ReplicationRule {
            ID: known(&r.id).map(str::to_string),
            Priority: r.priority.as_ref_option().copied(),
            Status: status(r.enabled != Value::Value(false)),
            Filter: Some(Filter {
                Prefix: Some(known(&r.prefix).unwrap_or_default().to_string()),
                ..Default::default()
            }),
            DeleteMarkerReplication: Some(StatusOnly {
                Status: status(r.delete_marker_replication != Value::Value(false)),
            }),
            ExistingObjectReplication: Some(StatusOnly {
                Status: status(r.existing_object_replication == Value::Value(true)),
            }),
            Destination: Destination {
                Bucket: text(&r.destination_arn).to_string(),
                StorageClass: known(&r.storage_class).map(str::to_string),
            },
        })
        .collect();
    s3xml::to_xml(
        "ReplicationConfiguration",
        &ReplicationConfiguration {
            Role: role.to_string(),
            Rule: rules,
        },
    )
}

#[async_trait]
impl Managed for Replication {
    type State = ReplicationState;
    const KIND: &'static str = "replication configuration";
    const IMPORT_ID: &'static str = "the bucket's name";

    fn block(&self) -> Block {
        block(
            "A bucket's replication rules (the whole configuration; the bucket needs versioning).",
            [
                ("id", computed(string(), "The bucket's name.")),
                ("bucket", required(string(), "The source bucket.")),
                (
                    "role",
                    defaulted(string(), "Stored and returned as AWS's Role; not used."),
                ),
            ],
            [(
                "rule",
                repeated(block(
                    "Objects of a prefix copied to a replication target.",
                    [
                        ("id", defaulted(string(), "The rule's id (default rule-N).")),
                        (
                            "priority",
                            defaulted(
                                number(),
                                "Higher wins among rules to one target (default: the rule's index).",
                            ),
                        ),
                        ("enabled", defaulted(boolean(), "Default true.")),
                        ("prefix", optional(string(), "Keys the rule applies to.")),
                        (
                            "delete_marker_replication",
                            defaulted(boolean(), "Replicate delete markers (default true)."),
                        ),
                        (
                            "existing_object_replication",
                            defaulted(
                                boolean(),
                                "Also copy objects written before the rule (default false).",
                            ),
                        ),
                        (
                            "destination_arn",
                            required(string(), "A replication target's ARN."),
                        ),
                        (
                            "storage_class",
                            optional(string(), "Storage class of the replicas."),
                        ),
                    ],
                    [],
                )),
            )],
        )
    }

    fn plan(&self, mut p: ReplicationState, _creating: bool) -> ReplicationState {
        p.id = p.bucket.clone();
        if p.role.is_null() {
            p.role = Value::Value("arn:aws:iam::000000000000:role/hafiz-replication".into());
        }
        if let Value::Value(rules) = &mut p.rule {
            for (i, r) in rules.iter_mut().enumerate() {
                if r.id.is_null() {
                    r.id = Value::Value(format!("rule-{i}"));
                }
                if r.priority.is_null() {
                    r.priority = Value::Value(i as i64);
                }
                if r.enabled.is_null() {
                    r.enabled = Value::Value(true);
                }
                if r.delete_marker_replication.is_null() {
                    r.delete_marker_replication = Value::Value(true);
                }
                if r.existing_object_replication.is_null() {
                    r.existing_object_replication = Value::Value(false);
                }
            }
        }
        p
    }

    fn replaced(&self, a: &ReplicationState, b: &ReplicationState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "bucket", &a.bucket, &b.bucket);
        out
    }

    fn label(&self, s: &ReplicationState) -> String {
        format!("of {}", text(&s.bucket))
    }

    async fn create(&self, api: &Api, p: &ReplicationState) -> ApiResult<ReplicationState> {
        self.update(api, p, p).await
    }

    async fn read(&self, api: &Api, s: &ReplicationState) -> ApiResult<Option<ReplicationState>> {
        let bucket = text(&s.bucket);
        let xml = match get_config(api, bucket, "replication").await {
            Ok(Some(x)) => x,
            Ok(None) => return Ok(None),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) if e.code() == Some("ReplicationConfigurationNotFoundError") => return Ok(None),
            Err(e) => return Err(e),
        };
        let c: ReplicationConfiguration = from_xml(&xml).map_err(|w| bad_xml(bucket, w))?;
        let priors = s.rule.as_ref_option().cloned().unwrap_or_default();
        let rules = c
            .Rule
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let prior = priors.get(i).cloned().unwrap_or_default();
                let prefix = r
                    .Filter
                    .and_then(|f| f.Prefix.or(f.And.and_then(|a| a.Prefix)))
                    .unwrap_or_default();
                ReplicationRuleBlock {
                    id: r.ID.map(Value::Value).unwrap_or(Value::Null),
                    priority: r.Priority.into(),
                    enabled: Value::Value(r.Status == "Enabled"),
                    prefix: if prefix.is_empty() && prior.prefix.is_null() {
                        Value::Null
                    } else {
                        Value::Value(prefix)
                    },
                    delete_marker_replication: Value::Value(
                        r.DeleteMarkerReplication
                            .is_some_and(|d| d.Status == "Enabled"),
                    ),
                    existing_object_replication: Value::Value(
                        r.ExistingObjectReplication
                            .is_some_and(|d| d.Status == "Enabled"),
                    ),
                    destination_arn: Value::Value(r.Destination.Bucket),
                    storage_class: r
                        .Destination
                        .StorageClass
                        .map(Value::Value)
                        .unwrap_or(Value::Null),
                }
            })
            .collect();
        Ok(Some(ReplicationState {
            id: s.bucket.clone(),
            bucket: s.bucket.clone(),
            role: Value::Value(c.Role),
            rule: Value::Value(rules),
        }))
    }

    async fn update(
        &self,
        api: &Api,
        _prior: &ReplicationState,
        p: &ReplicationState,
    ) -> ApiResult<ReplicationState> {
        let rules = p.rule.as_ref_option().cloned().unwrap_or_default();
        let xml = replication_xml(text(&p.role), &rules);
        api.s3(Method::PUT, text(&p.bucket), "replication", &[], Some(xml))
            .await?;
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &ReplicationState) -> ApiResult<()> {
        api.s3(Method::DELETE, text(&s.bucket), "replication", &[], None)
            .await
            .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<ReplicationState> {
        Some(ReplicationState {
            id: Value::Value(id.to_string()),
            bucket: Value::Value(id.to_string()),
            ..Default::default()
        })
    }
}
