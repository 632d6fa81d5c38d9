//! `hafiz_bucket`: a bucket with its versioning, object lock, lifecycle rules, CORS
//! rules, tags and quota. Each part is the S3 (or admin) call a client would make,
//! so what Terraform manages is exactly what `aws s3api` shows.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tf_provider::schema::Schema;
use tf_provider::value::{self, Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::api::{Api, ApiError, ApiResult, encode};
use crate::s3xml::{self, *};
use crate::schema::*;
use crate::state::{
    Shared, StringMap, Strings, failed, invalid, known, list, map, opt_string, to_list, to_map,
    unless_default,
};

pub struct BucketResource(pub Shared);

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct BucketState {
    pub id: Value<String>,
    pub arn: Value<String>,
    pub name: Value<String>,
    pub account: Value<String>,
    pub force_destroy: Value<bool>,
    pub tags: StringMap,
    #[serde(with = "value::serde_as_vec")]
    pub versioning: Value<VersioningBlock>,
    #[serde(with = "value::serde_as_vec")]
    pub object_lock: Value<LockBlock>,
    pub lifecycle_rule: Value<Vec<LifecycleBlock>>,
    pub cors_rule: Value<Vec<CorsBlock>>,
    #[serde(with = "value::serde_as_vec")]
    pub quota: Value<QuotaBlock>,
}

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct VersioningBlock {
    pub enabled: Value<bool>,
}

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct LockBlock {
    pub mode: Value<String>,
    pub days: Value<i64>,
    pub years: Value<i64>,
}

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct LifecycleBlock {
    pub id: Value<String>,
    pub enabled: Value<bool>,
    pub prefix: Value<String>,
    pub tags: StringMap,
    pub expiration_days: Value<i64>,
    pub noncurrent_expiration_days: Value<i64>,
    pub abort_incomplete_multipart_days: Value<i64>,
    pub transition: Value<Vec<TransitionBlock>>,
}

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct TransitionBlock {
    pub days: Value<i64>,
    pub storage_class: Value<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct CorsBlock {
    pub id: Value<String>,
    pub allowed_methods: Strings,
    pub allowed_origins: Strings,
    pub allowed_headers: Strings,
    pub expose_headers: Strings,
    pub max_age_seconds: Value<i64>,
}

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct QuotaBlock {
    pub max_bytes: Value<i64>,
    pub max_objects: Value<i64>,
}

pub fn quota_block() -> tf_provider::schema::NestedBlock {
    at_most_once(block(
        "Limits on the stored bytes and objects (unset: unlimited).",
        [
            (
                "max_bytes",
                optional(number(), "Most bytes the object versions may hold."),
            ),
            ("max_objects", optional(number(), "Most object versions.")),
        ],
        [],
    ))
}

const LOCK_MODES: [&str; 2] = ["GOVERNANCE", "COMPLIANCE"];
const CORS_METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

fn path(name: &'static str) -> AttributePath {
    AttributePath::new(name)
}

/// Checks that need no server: names, object lock, rule shapes.
fn check_config(diags: &mut Diagnostics, c: &BucketState) {
    if let Value::Value(name) = &c.name
        && !hafiz_iam::valid_bucket_name(name)
    {
        invalid(
            diags,
            path("name"),
            "Invalid bucket name",
            format!(
                "{name:?} is not a valid bucket name: 3 to 63 characters of lowercase letters, digits, \
                 '.' and '-', starting and ending with a letter or digit, not an IP address."
            ),
        );
    }
    if let Value::Value(lock) = &c.object_lock {
        if let Value::Value(mode) = &lock.mode
            && !LOCK_MODES.contains(&mode.as_str())
        {
            invalid(
                diags,
                path("object_lock").index(0).attribute("mode"),
                "Invalid object lock mode",
                format!("mode must be GOVERNANCE or COMPLIANCE, not {mode:?}."),
            );
        }
        let days = lock.days.is_value();
        let years = lock.years.is_value();
        if days && years {
            invalid(
                diags,
                path("object_lock").index(0).attribute("years"),
                "Conflicting object lock retention",
                "Set one of days and years, not both.".into(),
            );
        }
        if lock.mode.is_value()
            && !days
            && !years
            && !lock.days.is_unknown()
            && !lock.years.is_unknown()
        {
            invalid(
                diags,
                path("object_lock").index(0).attribute("mode"),
                "Missing object lock retention",
                "A default retention mode needs days or years.".into(),
            );
        }
        if lock.mode.is_null() && (days || years) {
            invalid(
                diags,
                path("object_lock").index(0).attribute("mode"),
                "Missing object lock mode",
                "days and years need a mode (GOVERNANCE or COMPLIANCE).".into(),
            );
        }
        for (attr, v) in [("days", &lock.days), ("years", &lock.years)] {
            if let Value::Value(n) = v
                && *n < 1
            {
                invalid(
                    diags,
                    path("object_lock").index(0).attribute(attr),
                    "Invalid retention period",
                    format!("{attr} must be a positive number, not {n}."),
                );
            }
        }
        if let Value::Value(v) = &c.versioning
            && v.enabled == Value::Value(false)
        {
            invalid(
                diags,
                path("versioning").index(0).attribute("enabled"),
                "Object lock needs versioning",
                "A bucket with object lock keeps versioning enabled; set enabled = true or drop the versioning block.".into(),
            );
        }
    }
    for (i, r) in c.lifecycle_rule.iter().flatten().enumerate() {
        let at = || path("lifecycle_rule").index(i as i64);
        let actions = [
            &r.expiration_days,
            &r.noncurrent_expiration_days,
            &r.abort_incomplete_multipart_days,
        ];
        let has_transition = r.transition.iter().flatten().next().is_some();
        if actions.iter().all(|a| a.is_null()) && !has_transition {
            invalid(
                diags,
                at(),
                "Lifecycle rule without an action",
                "Set expiration_days, noncurrent_expiration_days, abort_incomplete_multipart_days or a transition.".into(),
            );
        }
        for (attr, v) in [
            ("expiration_days", &r.expiration_days),
            ("noncurrent_expiration_days", &r.noncurrent_expiration_days),
            (
                "abort_incomplete_multipart_days",
                &r.abort_incomplete_multipart_days,
            ),
        ] {
            if let Value::Value(n) = v
                && *n < 1
            {
                invalid(
                    diags,
                    at().attribute(attr),
                    "Invalid number of days",
                    format!("{attr} must be at least 1, not {n}."),
                );
            }
        }
        for (j, t) in r.transition.iter().flatten().enumerate() {
            if let Value::Value(n) = &t.days
                && *n < 0
            {
                invalid(
                    diags,
                    at().attribute("transition")
                        .index(j as i64)
                        .attribute("days"),
                    "Invalid number of days",
                    format!("days must not be negative, not {n}."),
                );
            }
        }
    }
    for (i, r) in c.cors_rule.iter().flatten().enumerate() {
        for m in list(&r.allowed_methods) {
            if !CORS_METHODS.contains(&m.as_str()) {
                invalid(
                    diags,
                    path("cors_rule")
                        .index(i as i64)
                        .attribute("allowed_methods"),
                    "Invalid CORS method",
                    format!("{m:?} is not one of GET, PUT, POST, DELETE, HEAD."),
                );
            }
        }
    }
}

/// The storage classes transitions may name: the server's tiers.
async fn check_storage_classes(api: &Api, diags: &mut Diagnostics, c: &BucketState) {
    let wanted: Vec<(usize, usize, &str)> = c
        .lifecycle_rule
        .iter()
        .flatten()
        .enumerate()
        .flat_map(|(i, r)| {
            r.transition
                .iter()
                .flatten()
                .enumerate()
                .filter_map(move |(j, t)| known(&t.storage_class).map(|s| (i, j, s)))
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let tiers = match api.admin(Method::GET, &["tiers"], "", None).await {
        Ok(v) => v.unwrap_or_default(),
        Err(e) => return failed(diags, "Listing the server's tiers", e),
    };
    let classes: Vec<String> = tiers["tiers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["storage_class"].as_str().map(str::to_string))
        .collect();
    for (i, j, class) in wanted {
        if !classes.iter().any(|c| c == class) {
            invalid(
                diags,
                path("lifecycle_rule")
                    .index(i as i64)
                    .attribute("transition")
                    .index(j as i64)
                    .attribute("storage_class"),
                "Unknown storage class",
                format!(
                    "{class:?} is not a storage class of this server; transitions need a tier \
                     (configured: {}).",
                    if classes.is_empty() {
                        "none".into()
                    } else {
                        classes.join(", ")
                    }
                ),
            );
        }
    }
}

/// The planned state: computed values and defaults filled in.
fn complete(mut s: BucketState) -> BucketState {
    if let Value::Value(name) = &s.name {
        s.id = Value::Value(name.clone());
        s.arn = Value::Value(format!("arn:aws:s3:::{name}"));
    } else {
        s.id = Value::Unknown;
        s.arn = Value::Unknown;
    }
    if s.force_destroy.is_null() {
        s.force_destroy = Value::Value(false);
    }
    if let Value::Value(rules) = &mut s.lifecycle_rule {
        for (i, r) in rules.iter_mut().enumerate() {
            if r.id.is_null() {
                r.id = Value::Value(format!("rule-{i}"));
            }
            if r.enabled.is_null() {
                r.enabled = Value::Value(true);
            }
        }
    }
    s
}

fn lifecycle_xml(rules: &[LifecycleBlock]) -> String {
    let rules = rules
        .iter()
        .map(|r| {
            let tags: Vec<Tag> = map(&r.tags)
                .into_iter()
                .map(|(k, v)| Tag {
                    Key: k.clone(),
                    Value: v.clone(),
                })
                .collect();
            let prefix = known(&r.prefix).map(str::to_string);
            let filter = match (prefix, tags.len()) {
                (p, 0) => Filter {
                    Prefix: Some(p.unwrap_or_default()),
                    ..Default::default()
                },
                (None, 1) => Filter {
                    Tag: tags.into_iter().next(),
                    ..Default::default()
                },
                (p, _) => Filter {
                    And: Some(And {
                        Prefix: p,
                        Tag: tags,
                    }),
                    ..Default::default()
                },
            };
            LifecycleRule {
                ID: known(&r.id).map(str::to_string),
                Prefix: None,
                Filter: Some(filter),
                Status: if r.enabled == Value::Value(false) {
                    "Disabled"
                } else {
                    "Enabled"
                }
                .into(),
                Expiration: r
                    .expiration_days
                    .as_ref_option()
                    .map(|d| Expiration { Days: Some(*d) }),
                Transition: r
                    .transition
                    .iter()
                    .flatten()
                    .map(|t| Transition {
                        Days: Some(t.days.as_ref_option().copied().unwrap_or(0)),
                        StorageClass: known(&t.storage_class).unwrap_or_default().to_string(),
                    })
                    .collect(),
                NoncurrentVersionExpiration: r
                    .noncurrent_expiration_days
                    .as_ref_option()
                    .map(|d| NoncurrentExpiration { NoncurrentDays: *d }),
                AbortIncompleteMultipartUpload: r
                    .abort_incomplete_multipart_days
                    .as_ref_option()
                    .map(|d| AbortIncomplete {
                        DaysAfterInitiation: *d,
                    }),
            }
        })
        .collect();
    s3xml::to_xml(
        "LifecycleConfiguration",
        &LifecycleConfiguration { Rule: rules },
    )
}

fn cors_xml(rules: &[CorsBlock]) -> String {
    let rules = rules
        .iter()
        .map(|r| CorsRule {
            ID: known(&r.id).map(str::to_string),
            AllowedHeader: list(&r.allowed_headers),
            AllowedMethod: list(&r.allowed_methods),
            AllowedOrigin: list(&r.allowed_origins),
            ExposeHeader: list(&r.expose_headers),
            MaxAgeSeconds: r.max_age_seconds.as_ref_option().copied(),
        })
        .collect();
    s3xml::to_xml("CORSConfiguration", &CorsConfiguration { CORSRule: rules })
}

pub fn tagging_xml(tags: &BTreeMap<String, String>) -> String {
    let tags = tags
        .iter()
        .map(|(k, v)| Tag {
            Key: k.clone(),
            Value: v.clone(),
        })
        .collect();
    s3xml::to_xml(
        "Tagging",
        &Tagging {
            TagSet: TagSet { Tag: tags },
        },
    )
}

fn lock_xml(lock: &LockBlock) -> String {
    let rule = known(&lock.mode).map(|mode| LockRule {
        DefaultRetention: DefaultRetention {
            Mode: mode.to_string(),
            Days: lock.days.as_ref_option().copied(),
            Years: lock.years.as_ref_option().copied(),
        },
    });
    s3xml::to_xml(
        "ObjectLockConfiguration",
        &ObjectLockConfiguration {
            ObjectLockEnabled: Some("Enabled".into()),
            Rule: rule,
        },
    )
}

pub fn quota_json(q: &QuotaBlock) -> serde_json::Value {
    json!({
        "max_bytes": q.max_bytes.as_ref_option(),
        "max_objects": q.max_objects.as_ref_option(),
    })
}

/// A GET of a bucket sub-resource; `None` when the server says it is not configured
/// (S3 answers 404 with a `NoSuch…` code for that).
pub async fn get_config(api: &Api, bucket: &str, query: &str) -> ApiResult<Option<String>> {
    match api.s3(Method::GET, bucket, query, &[], None).await {
        Ok(a) => Ok(Some(a.body)),
        Err(e) if e.is_not_found() && e.code() != Some("NoSuchBucket") => Ok(None),
        Err(e) if e.code() == Some("ObjectLockConfigurationNotFoundError") => Ok(None),
        Err(e) => Err(e),
    }
}

async fn put_or_delete(
    api: &Api,
    bucket: &str,
    query: &str,
    body: Option<String>,
) -> ApiResult<()> {
    match body {
        Some(b) => api
            .s3(Method::PUT, bucket, query, &[], Some(b))
            .await
            .map(drop),
        None => api
            .s3(Method::DELETE, bucket, query, &[], None)
            .await
            .map(drop),
    }
}

/// Writes every part of the bucket that differs between `old` and `new`.
async fn apply_parts(
    api: &Api,
    bucket: &str,
    old: &BucketState,
    new: &BucketState,
) -> ApiResult<()> {
    if old.versioning != new.versioning {
        let was_enabled = old
            .versioning
            .as_ref_option()
            .is_some_and(|v| v.enabled == Value::Value(true));
        let status = match new.versioning.as_ref_option() {
            Some(v) if v.enabled == Value::Value(true) => Some("Enabled"),
            Some(_) if was_enabled => Some("Suspended"),
            // A block removed from the configuration leaves the bucket as it was but
            // stops versioning new writes, as AWS's provider does; object lock keeps
            // versioning on.
            None if was_enabled && new.object_lock.is_null() => Some("Suspended"),
            _ => None,
        };
        if let Some(status) = status {
            let xml = s3xml::to_xml(
                "VersioningConfiguration",
                &Versioning {
                    Status: Some(status.into()),
                },
            );
            api.s3(Method::PUT, bucket, "versioning", &[], Some(xml))
                .await?;
        }
    }
    if old.object_lock != new.object_lock
        && let Value::Value(lock) = &new.object_lock
    {
        api.s3(
            Method::PUT,
            bucket,
            "object-lock",
            &[],
            Some(lock_xml(lock)),
        )
        .await?;
    }
    if old.lifecycle_rule != new.lifecycle_rule {
        let rules = new
            .lifecycle_rule
            .as_ref_option()
            .cloned()
            .unwrap_or_default();
        let body = (!rules.is_empty()).then(|| lifecycle_xml(&rules));
        put_or_delete(api, bucket, "lifecycle", body).await?;
    }
    if old.cors_rule != new.cors_rule {
        let rules = new.cors_rule.as_ref_option().cloned().unwrap_or_default();
        let body = (!rules.is_empty()).then(|| cors_xml(&rules));
        put_or_delete(api, bucket, "cors", body).await?;
    }
    if old.tags != new.tags {
        let tags = map(&new.tags);
        let body = (!tags.is_empty()).then(|| tagging_xml(&tags));
        put_or_delete(api, bucket, "tagging", body).await?;
    }
    if old.quota != new.quota {
        match new.quota.as_ref_option() {
            Some(q) => {
                api.admin(
                    Method::PUT,
                    &["buckets", bucket, "quota"],
                    "",
                    Some(&quota_json(q)),
                )
                .await?;
            }
            None => {
                api.admin(Method::DELETE, &["buckets", bucket, "quota"], "", None)
                    .await?;
            }
        }
    }
    Ok(())
}

/// What the server has, shaped like `prior` where both mean the same (an attribute
/// left out of the configuration stays null while the server has its default).
pub async fn read_bucket(
    api: &Api,
    name: &str,
    prior: &BucketState,
    importing: bool,
) -> ApiResult<Option<BucketState>> {
    let info = match api.admin(Method::GET, &["buckets", name], "", None).await {
        Ok(v) => v.unwrap_or_default(),
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut s = BucketState {
        id: Value::Value(name.to_string()),
        arn: Value::Value(format!("arn:aws:s3:::{name}")),
        name: Value::Value(name.to_string()),
        account: unless_default(
            info["account"].as_str().unwrap_or_default().to_string(),
            &prior.account,
        ),
        force_destroy: match prior.force_destroy {
            Value::Value(b) => Value::Value(b),
            _ => Value::Value(false),
        },
        ..Default::default()
    };
    let locked = info["object_lock"].as_bool() == Some(true);
    s.versioning = match info["versioning"].as_str() {
        // Object lock keeps versioning on: a configuration may leave the block out
        // (on import, what the server has is shown).
        Some("Enabled") if locked && prior.versioning.is_null() && !importing => Value::Null,
        Some("Enabled") => Value::Value(VersioningBlock {
            enabled: Value::Value(true),
        }),
        // Suspended, or never enabled: `enabled = false` where configured, and a
        // suspended bucket on import (there is no configuration to compare with yet).
        status if prior.versioning.is_value() || (importing && status.is_some()) => {
            Value::Value(VersioningBlock {
                enabled: Value::Value(false),
            })
        }
        _ => Value::Null,
    };
    s.object_lock = if locked {
        let mut lock = LockBlock::default();
        if let Some(xml) = get_config(api, name, "object-lock").await? {
            let c: ObjectLockConfiguration =
                from_xml(&xml).map_err(|what| invalid_answer(name, what))?;
            if let Some(r) = c.Rule {
                lock.mode = Value::Value(r.DefaultRetention.Mode);
                lock.days = r.DefaultRetention.Days.into();
                lock.years = r.DefaultRetention.Years.into();
            }
        }
        Value::Value(lock)
    } else {
        Value::Null
    };
    s.quota = match info.get("quota") {
        Some(q) if q.is_object() => Value::Value(QuotaBlock {
            max_bytes: q["max_bytes"].as_i64().into(),
            max_objects: q["max_objects"].as_i64().into(),
        }),
        _ => Value::Null,
    };
    s.tags = {
        let tags = match get_config(api, name, "tagging").await? {
            Some(xml) => {
                let t: Tagging = from_xml(&xml).map_err(|what| invalid_answer(name, what))?;
                t.TagSet.Tag.into_iter().map(|t| (t.Key, t.Value)).collect()
            }
            None => BTreeMap::new(),
        };
        unless_default(to_map(tags), &prior.tags)
    };
    let prior_rules: HashMap<String, &LifecycleBlock> = prior
        .lifecycle_rule
        .iter()
        .flatten()
        .filter_map(|r| known(&r.id).map(|id| (id.to_string(), r)))
        .collect();
    s.lifecycle_rule = Value::Value(match get_config(api, name, "lifecycle").await? {
        Some(xml) => {
            let c: LifecycleConfiguration =
                from_xml(&xml).map_err(|what| invalid_answer(name, what))?;
            c.Rule
                .into_iter()
                .map(|r| {
                    let id = r.ID.clone().unwrap_or_default();
                    let empty = LifecycleBlock::default();
                    let p = prior_rules.get(&id).copied().unwrap_or(&empty);
                    lifecycle_block(r, p)
                })
                .collect()
        }
        None => Vec::new(),
    });
    s.cors_rule = Value::Value(match get_config(api, name, "cors").await? {
        Some(xml) => {
            let c: CorsConfiguration = from_xml(&xml).map_err(|what| invalid_answer(name, what))?;
            let priors = prior.cors_rule.as_ref_option().cloned().unwrap_or_default();
            c.CORSRule
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let p = priors.get(i).cloned().unwrap_or_default();
                    CorsBlock {
                        id: r.ID.map(Value::Value).unwrap_or(Value::Null),
                        allowed_methods: Value::Value(to_list(r.AllowedMethod)),
                        allowed_origins: Value::Value(to_list(r.AllowedOrigin)),
                        allowed_headers: unless_default(
                            to_list(r.AllowedHeader),
                            &p.allowed_headers,
                        ),
                        expose_headers: unless_default(to_list(r.ExposeHeader), &p.expose_headers),
                        max_age_seconds: r.MaxAgeSeconds.into(),
                    }
                })
                .collect()
        }
        None => Vec::new(),
    });
    Ok(Some(s))
}

fn lifecycle_block(r: LifecycleRule, p: &LifecycleBlock) -> LifecycleBlock {
    let (prefix, tags) = match r.Filter {
        Some(f) => match f.And {
            Some(and) => (and.Prefix.unwrap_or_default(), and.Tag),
            None => (f.Prefix.unwrap_or_default(), f.Tag.into_iter().collect()),
        },
        None => (r.Prefix.unwrap_or_default(), Vec::new()),
    };
    let tags: BTreeMap<String, String> = tags.into_iter().map(|t| (t.Key, t.Value)).collect();
    LifecycleBlock {
        id: r.ID.map(Value::Value).unwrap_or(Value::Null),
        enabled: Value::Value(r.Status == "Enabled"),
        prefix: match opt_string(prefix) {
            Value::Null if p.prefix == Value::Value(String::new()) => Value::Value(String::new()),
            v => v,
        },
        tags: unless_default(to_map(tags), &p.tags),
        expiration_days: r.Expiration.and_then(|e| e.Days).into(),
        noncurrent_expiration_days: r
            .NoncurrentVersionExpiration
            .map(|n| n.NoncurrentDays)
            .into(),
        abort_incomplete_multipart_days: r
            .AbortIncompleteMultipartUpload
            .map(|a| a.DaysAfterInitiation)
            .into(),
        transition: Value::Value(
            r.Transition
                .into_iter()
                .map(|t| TransitionBlock {
                    days: Value::Value(t.Days.unwrap_or(0)),
                    storage_class: Value::Value(t.StorageClass),
                })
                .collect(),
        ),
    }
}

fn invalid_answer(bucket: &str, what: String) -> ApiError {
    ApiError::Invalid {
        url: format!("bucket {bucket}"),
        what,
    }
}

/// Deletes every object version, delete marker and incomplete upload (bypassing
/// governance retention, as `aws s3 rb --force` cannot): what `force_destroy` means.
async fn empty_bucket(api: &Api, bucket: &str) -> ApiResult<()> {
    let mut markers: Option<(String, String)> = None;
    loop {
        let mut q = "versions&max-keys=1000".to_string();
        if let Some((k, v)) = &markers {
            q.push_str(&format!(
                "&key-marker={}&version-id-marker={}",
                encode(k),
                encode(v)
            ));
        }
        let page: ListVersionsResult =
            from_xml(&api.s3(Method::GET, bucket, &q, &[], None).await?.body)
                .map_err(|what| invalid_answer(bucket, what))?;
        let objects = page.objects();
        if !objects.is_empty() {
            let body = s3xml::to_xml(
                "Delete",
                &Delete {
                    Quiet: true,
                    Object: objects,
                },
            );
            let answer = api
                .s3(
                    Method::POST,
                    bucket,
                    "delete",
                    &[("x-amz-bypass-governance-retention", "true")],
                    Some(body),
                )
                .await?;
            let result: DeleteResult =
                from_xml(&answer.body).map_err(|what| invalid_answer(bucket, what))?;
            if let Some(e) = result.Error.first() {
                return Err(ApiError::Server {
                    status: 409,
                    code: e.Code.clone(),
                    message: format!("cannot delete {:?}: {}", e.Key, e.Message),
                });
            }
        }
        match page.next() {
            Some(next) => markers = Some(next),
            None => break,
        }
    }
    loop {
        let page: ListUploadsResult = from_xml(
            &api.s3(Method::GET, bucket, "uploads", &[], None)
                .await?
                .body,
        )
        .map_err(|what| invalid_answer(bucket, what))?;
        if page.Upload.is_empty() {
            break;
        }
        for u in page.Upload {
            let q = format!("uploadId={}", encode(&u.UploadId));
            match api
                .s3_object(Method::DELETE, bucket, Some(&u.Key), &q, &[], None)
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Resource for BucketResource {
    type State<'a> = BucketState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        schema(block(
            "A bucket and its configuration.",
            [
                ("id", computed(string(), "The bucket's name.")),
                ("arn", computed(string(), "arn:aws:s3:::NAME")),
                (
                    "name",
                    required(
                        string(),
                        "The bucket's name (changing it replaces the bucket).",
                    ),
                ),
                (
                    "account",
                    optional(
                        string(),
                        "The tenant account that owns the bucket (default: root's).",
                    ),
                ),
                (
                    "force_destroy",
                    defaulted(
                        boolean(),
                        "Destroy deletes every object version, delete marker and upload first.",
                    ),
                ),
                ("tags", optional(map_of(string()), "The bucket's tags.")),
            ],
            [
                (
                    "versioning",
                    at_most_once(block(
                        "Versioning.",
                        [(
                            "enabled",
                            required(boolean(), "true: Enabled; false: Suspended."),
                        )],
                        [],
                    )),
                ),
                (
                    "object_lock",
                    at_most_once(block(
                        "Object lock (adding or removing it replaces the bucket) and its default retention.",
                        [
                            ("mode", optional(string(), "GOVERNANCE or COMPLIANCE.")),
                            ("days", optional(number(), "Default retention in days.")),
                            ("years", optional(number(), "Default retention in years.")),
                        ],
                        [],
                    )),
                ),
                (
                    "lifecycle_rule",
                    repeated(block(
                        "A lifecycle rule.",
                        [
                            ("id", defaulted(string(), "The rule's id (default rule-N).")),
                            (
                                "enabled",
                                defaulted(boolean(), "Whether the rule applies (default true)."),
                            ),
                            ("prefix", optional(string(), "Keys the rule applies to.")),
                            (
                                "tags",
                                optional(map_of(string()), "Tags an object must have."),
                            ),
                            (
                                "expiration_days",
                                optional(number(), "Expire current versions after this many days."),
                            ),
                            (
                                "noncurrent_expiration_days",
                                optional(
                                    number(),
                                    "Delete noncurrent versions after this many days.",
                                ),
                            ),
                            (
                                "abort_incomplete_multipart_days",
                                optional(
                                    number(),
                                    "Abort incomplete uploads after this many days.",
                                ),
                            ),
                        ],
                        [(
                            "transition",
                            repeated(block(
                                "Move objects to a storage class (a tier of the server).",
                                [
                                    ("days", required(number(), "Days after creation.")),
                                    (
                                        "storage_class",
                                        required(
                                            string(),
                                            "A storage class the server has a tier for.",
                                        ),
                                    ),
                                ],
                                [],
                            )),
                        )],
                    )),
                ),
                (
                    "cors_rule",
                    repeated(block(
                        "A CORS rule.",
                        [
                            ("id", optional(string(), "The rule's id.")),
                            (
                                "allowed_methods",
                                required(list_of(string()), "GET, PUT, POST, DELETE, HEAD."),
                            ),
                            (
                                "allowed_origins",
                                required(list_of(string()), "Origins ('*' wildcards)."),
                            ),
                            (
                                "allowed_headers",
                                optional(list_of(string()), "Request headers allowed."),
                            ),
                            (
                                "expose_headers",
                                optional(list_of(string()), "Response headers exposed."),
                            ),
                            (
                                "max_age_seconds",
                                optional(number(), "How long browsers cache the preflight."),
                            ),
                        ],
                        [],
                    )),
                ),
                ("quota", quota_block()),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: BucketState) -> Option<()> {
        check_config(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: BucketState,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(BucketState, ValueEmpty)> {
        let api = self.0.api(diags)?;
        let name = known(&state.name).or(known(&state.id))?.to_string();
        match read_bucket(api, &name, &state, false).await {
            Ok(Some(s)) => Some((s, private_state)),
            Ok(None) => None,
            Err(e) => {
                failed(diags, &format!("Reading bucket {name}"), e);
                Some((state, private_state))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: BucketState,
        _config: BucketState,
        _meta: ValueEmpty,
    ) -> Option<(BucketState, ValueEmpty)> {
        let api = self.0.api(diags)?;
        check_config(diags, &proposed);
        check_storage_classes(api, diags, &proposed).await;
        Some((complete(proposed), ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: BucketState,
        proposed: BucketState,
        _config: BucketState,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(BucketState, ValueEmpty, Vec<AttributePath>)> {
        let api = self.0.api(diags)?;
        check_config(diags, &proposed);
        check_storage_classes(api, diags, &proposed).await;
        let mut replace = Vec::new();
        if prior.name != proposed.name {
            replace.push(path("name"));
        }
        if prior.account != proposed.account {
            replace.push(path("account"));
        }
        if prior.object_lock.is_value() != proposed.object_lock.is_value() {
            replace.push(path("object_lock"));
        }
        Some((complete(proposed), private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: BucketState,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: BucketState,
        _config: BucketState,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(BucketState, ValueEmpty)> {
        let api = self.0.api(diags)?;
        let name = known(&planned.name)?.to_string();
        let mut body = json!({
            "name": name,
            "object_lock": planned.object_lock.is_value(),
            "versioning": planned.versioning.as_ref_option().is_some_and(|v| v.enabled == Value::Value(true)),
        });
        if let Some(a) = known(&planned.account) {
            body["account"] = json!(a);
        }
        if let Err(e) = api.admin(Method::POST, &["buckets"], "", Some(&body)).await {
            failed(diags, &format!("Creating bucket {name}"), e);
            return None;
        }
        // What CreateBucket already set: the rest is written as an update from it.
        let created = BucketState {
            versioning: planned
                .versioning
                .clone()
                .filter(|v| v.enabled == Value::Value(true)),
            object_lock: planned.object_lock.clone().filter(|l| l.mode.is_null()),
            lifecycle_rule: Value::Value(Vec::new()),
            cors_rule: Value::Value(Vec::new()),
            ..Default::default()
        };
        if let Err(e) = apply_parts(api, &name, &created, &planned).await {
            failed(diags, &format!("Configuring bucket {name}"), e);
            // The bucket exists: keep it in the state so the next apply finishes it.
            return Some((created_state(&planned), private_state));
        }
        Some((planned, private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: BucketState,
        planned: BucketState,
        _config: BucketState,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(BucketState, ValueEmpty)> {
        let api = self.0.api(diags)?;
        let name = known(&planned.name)?.to_string();
        if let Err(e) = apply_parts(api, &name, &prior, &planned).await {
            failed(diags, &format!("Updating bucket {name}"), e);
            return Some((prior, private_state));
        }
        Some((planned, private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: BucketState,
        _private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let api = self.0.api(diags)?;
        let name = known(&prior.name)?.to_string();
        if prior.force_destroy == Value::Value(true)
            && let Err(e) = empty_bucket(api, &name).await
        {
            failed(diags, &format!("Emptying bucket {name}"), e);
            return None;
        }
        match api.s3(Method::DELETE, &name, "", &[], None).await {
            Ok(_) => Some(()),
            Err(e) if e.code() == Some("NoSuchBucket") => Some(()),
            Err(e) => {
                let hint = if e.code() == Some("BucketNotEmpty") {
                    " (set force_destroy = true to delete its objects with it)"
                } else {
                    ""
                };
                failed(diags, &format!("Deleting bucket {name}{hint}"), e);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(BucketState, ValueEmpty)> {
        let api = self.0.api(diags)?;
        let empty = BucketState {
            lifecycle_rule: Value::Value(Vec::new()),
            cors_rule: Value::Value(Vec::new()),
            ..Default::default()
        };
        match read_bucket(api, &id, &empty, true).await {
            Ok(Some(s)) => Some((s, ValueEmpty::default())),
            Ok(None) => {
                crate::state::error(
                    diags,
                    "Cannot import",
                    format!("The bucket {id} does not exist."),
                );
                None
            }
            Err(e) => {
                failed(diags, &format!("Importing bucket {id}"), e);
                None
            }
        }
    }
}

/// The state of a bucket created but not fully configured: a later read shows
/// what is missing.
fn created_state(planned: &BucketState) -> BucketState {
    BucketState {
        id: planned.id.clone(),
        arn: planned.arn.clone(),
        name: planned.name.clone(),
        account: planned.account.clone(),
        force_destroy: planned.force_destroy,
        lifecycle_rule: Value::Value(Vec::new()),
        cors_rule: Value::Value(Vec::new()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(c: &BucketState) -> Vec<String> {
        let mut d = Diagnostics::default();
        check_config(&mut d, c);
        d.errors
            .iter()
            .map(|e| format!("{}: {}", e.attribute, e.summary))
            .collect()
    }

    #[test]
    fn plan_checks_name_the_attribute() {
        let bad = BucketState {
            name: Value::Value("Bad_Name".into()),
            object_lock: Value::Value(LockBlock {
                mode: Value::Value("GOVERNANCE".into()),
                days: Value::Value(1),
                years: Value::Value(1),
            }),
            ..Default::default()
        };
        let e = errors(&bad);
        assert!(
            e.iter()
                .any(|m| m.contains("name") && m.contains("Invalid bucket name")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("years") && m.contains("Conflicting")),
            "{e:?}"
        );

        let fine = BucketState {
            name: Value::Value("my-bucket".into()),
            object_lock: Value::Value(LockBlock {
                mode: Value::Value("COMPLIANCE".into()),
                years: Value::Value(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(errors(&fine).is_empty());
        // A name not known yet (a reference) is checked at plan, not before.
        let unknown = BucketState {
            name: Value::Unknown,
            ..Default::default()
        };
        assert!(errors(&unknown).is_empty());
    }

    #[test]
    fn lifecycle_filters_take_s3s_three_forms() {
        let rule = |prefix: Option<&str>, tags: &[(&str, &str)]| LifecycleBlock {
            id: Value::Value("r".into()),
            prefix: prefix.map(|p| p.to_string()).into(),
            tags: if tags.is_empty() {
                Value::Null
            } else {
                Value::Value(to_map(
                    tags.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ))
            },
            expiration_days: Value::Value(1),
            ..Default::default()
        };
        let xml = lifecycle_xml(&[rule(Some("logs/"), &[])]);
        assert!(
            xml.contains("<Filter><Prefix>logs/</Prefix></Filter>"),
            "{xml}"
        );
        let xml = lifecycle_xml(&[rule(None, &[("a", "1")])]);
        assert!(
            xml.contains("<Filter><Tag><Key>a</Key><Value>1</Value></Tag></Filter>"),
            "{xml}"
        );
        let xml = lifecycle_xml(&[rule(Some("p/"), &[("a", "1"), ("b", "2")])]);
        assert!(xml.contains("<And><Prefix>p/</Prefix><Tag>"), "{xml}");
        // And what is written reads back the same.
        let c: LifecycleConfiguration = from_xml(&xml).unwrap();
        let back = lifecycle_block(c.Rule.into_iter().next().unwrap(), &rule(None, &[]));
        assert_eq!(back.prefix, Value::Value("p/".into()));
        assert_eq!(map(&back.tags).len(), 2);
        assert_eq!(back.expiration_days, Value::Value(1));
    }
}
