//! `data "hafiz_bucket"` and `data "hafiz_user"`: what the server has, by name.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{DataSource, Diagnostics};

use crate::resources::bucket::get_config;
use crate::resources::iam::{field, get};
use crate::s3xml::{Tagging, from_xml};
use crate::schema::*;
use crate::state::{Shared, error, failed, known};

pub struct BucketData(pub Shared);

#[derive(Serialize, Deserialize, Default)]
pub struct BucketInfo {
    pub id: Value<String>,
    pub name: Value<String>,
    pub arn: Value<String>,
    pub account: Value<String>,
    pub versioning_enabled: Value<bool>,
    pub object_lock_enabled: Value<bool>,
    pub tags: Value<BTreeMap<String, String>>,
    pub quota_max_bytes: Value<i64>,
    pub quota_max_objects: Value<i64>,
}

#[async_trait]
impl DataSource for BucketData {
    type State<'a> = BucketInfo;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        schema(block(
            "An existing bucket.",
            [
                ("id", computed(string(), "The bucket's name.")),
                ("name", required(string(), "The bucket's name.")),
                ("arn", computed(string(), "arn:aws:s3:::NAME")),
                (
                    "account",
                    computed(string(), "The owning account (\"\" for root's)."),
                ),
                (
                    "versioning_enabled",
                    computed(boolean(), "Versioning is Enabled."),
                ),
                (
                    "object_lock_enabled",
                    computed(boolean(), "Object lock is on."),
                ),
                ("tags", computed(map_of(string()), "The bucket's tags.")),
                ("quota_max_bytes", computed(number(), "Byte quota, if any.")),
                (
                    "quota_max_objects",
                    computed(number(), "Object quota, if any."),
                ),
            ],
            [],
        ))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: BucketInfo,
        _meta: ValueEmpty,
    ) -> Option<BucketInfo> {
        let api = self.0.api(diags)?;
        let name = known(&config.name)?.to_string();
        let info = match get(api, &["buckets", &name]).await {
            Ok(Some(v)) => v,
            Ok(None) => {
                error(
                    diags,
                    "No such bucket",
                    format!("The bucket {name} does not exist."),
                );
                return None;
            }
            Err(e) => {
                failed(diags, &format!("Reading bucket {name}"), e);
                return None;
            }
        };
        let tags = match get_config(api, &name, "tagging").await {
            Ok(Some(xml)) => match from_xml::<Tagging>(&xml) {
                Ok(t) => t.TagSet.Tag.into_iter().map(|t| (t.Key, t.Value)).collect(),
                Err(w) => {
                    error(diags, "Reading the bucket's tags failed", w);
                    return None;
                }
            },
            Ok(None) => BTreeMap::new(),
            Err(e) => {
                failed(diags, &format!("Reading the tags of {name}"), e);
                return None;
            }
        };
        let quota = &info["quota"];
        Some(BucketInfo {
            id: Value::Value(name.clone()),
            arn: Value::Value(format!("arn:aws:s3:::{name}")),
            account: Value::Value(info["account"].as_str().unwrap_or_default().to_string()),
            versioning_enabled: Value::Value(info["versioning"] == "Enabled"),
            object_lock_enabled: Value::Value(info["object_lock"] == true),
            tags: Value::Value(tags),
            quota_max_bytes: quota["max_bytes"].as_i64().into(),
            quota_max_objects: quota["max_objects"].as_i64().into(),
            name: Value::Value(name),
        })
    }
}

pub struct UserData(pub Shared);

#[derive(Serialize, Deserialize, Default)]
pub struct UserInfo {
    pub id: Value<String>,
    pub name: Value<String>,
    pub arn: Value<String>,
    pub account: Value<String>,
    pub groups: Value<Vec<String>>,
    pub policies: Value<Vec<String>>,
}

fn strings(v: &serde_json::Value) -> Value<Vec<String>> {
    Value::Value(
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
    )
}

#[async_trait]
impl DataSource for UserData {
    type State<'a> = UserInfo;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        schema(block(
            "An existing IAM user.",
            [
                ("id", computed(string(), "The user's unique id.")),
                ("name", required(string(), "The user's name.")),
                ("arn", computed(string(), "The user's ARN.")),
                (
                    "account",
                    computed(string(), "The user's account (\"\" for root's)."),
                ),
                (
                    "groups",
                    computed(list_of(string()), "Groups the user is in."),
                ),
                (
                    "policies",
                    computed(list_of(string()), "Managed policies attached to the user."),
                ),
            ],
            [],
        ))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: UserInfo,
        _meta: ValueEmpty,
    ) -> Option<UserInfo> {
        let api = self.0.api(diags)?;
        let name = known(&config.name)?.to_string();
        match api.admin(Method::GET, &["users", &name], "", None).await {
            Ok(Some(v)) => Some(UserInfo {
                id: field(&v, "id"),
                name: Value::Value(name),
                arn: field(&v, "arn"),
                account: Value::Value(v["account"].as_str().unwrap_or_default().to_string()),
                groups: strings(&v["groups"]),
                policies: strings(&v["policies"]),
            }),
            Ok(None) => None,
            Err(e) if e.is_not_found() => {
                error(
                    diags,
                    "No such user",
                    format!("The user {name} does not exist."),
                );
                None
            }
            Err(e) => {
                failed(diags, &format!("Reading user {name}"), e);
                None
            }
        }
    }
}
