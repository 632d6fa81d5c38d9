//! `hafiz_account` (a tenant, with its quota) and `hafiz_bucket_policy`.

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use tf_provider::schema::Block;
use tf_provider::value::{self, Value};
use tf_provider::{AttributePath, Diagnostics};

use super::bucket::{QuotaBlock, get_config, quota_block, quota_json};
use super::iam::{PolicyKind, check_policy, field, get, keep_same_policy, same_policy};
use super::managed::{Managed, changed};
use crate::api::{Api, ApiResult};
use crate::schema::*;
use crate::state::{invalid, known};

fn name_of(v: &Value<String>) -> &str {
    known(v).unwrap_or_default()
}

// ------------------------------------------------------------- hafiz_account

pub struct Account;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct AccountState {
    pub id: Value<String>,
    pub name: Value<String>,
    #[serde(with = "value::serde_as_vec")]
    pub quota: Value<QuotaBlock>,
}

fn quota_of(v: &Json) -> Value<QuotaBlock> {
    match v.get("quota") {
        Some(q) if q.is_object() => Value::Value(QuotaBlock {
            max_bytes: q["max_bytes"].as_i64().into(),
            max_objects: q["max_objects"].as_i64().into(),
        }),
        _ => Value::Null,
    }
}

#[async_trait]
impl Managed for Account {
    type State = AccountState;
    const KIND: &'static str = "account";
    const IMPORT_ID: &'static str = "the account's name";

    fn block(&self) -> Block {
        block(
            "A tenant account: its users and buckets are invisible to other accounts.",
            [
                ("id", computed(string(), "The account's 12-digit id.")),
                ("name", required(string(), "The account's name.")),
            ],
            [("quota", quota_block())],
        )
    }

    fn plan(&self, mut p: AccountState, creating: bool) -> AccountState {
        if creating {
            p.id = Value::Unknown;
        }
        p
    }

    fn replaced(&self, a: &AccountState, b: &AccountState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "name", &a.name, &b.name);
        out
    }

    fn label(&self, s: &AccountState) -> String {
        name_of(&s.name).to_string()
    }

    async fn create(&self, api: &Api, p: &AccountState) -> ApiResult<AccountState> {
        let mut body = json!({"name": name_of(&p.name)});
        if let Value::Value(q) = &p.quota {
            body["quota"] = quota_json(q);
        }
        let v = api
            .admin(Method::POST, &["accounts"], "", Some(&body))
            .await?
            .unwrap_or_default();
        let mut s = p.clone();
        s.id = field(&v, "id");
        Ok(s)
    }

    async fn read(&self, api: &Api, s: &AccountState) -> ApiResult<Option<AccountState>> {
        Ok(get(api, &["accounts", name_of(&s.name)])
            .await?
            .map(|v| AccountState {
                id: field(&v, "id"),
                name: field(&v, "name"),
                quota: quota_of(&v),
            }))
    }

    async fn update(
        &self,
        api: &Api,
        prior: &AccountState,
        p: &AccountState,
    ) -> ApiResult<AccountState> {
        if prior.quota != p.quota {
            let name = name_of(&p.name);
            match &p.quota {
                Value::Value(q) => {
                    api.admin(
                        Method::PUT,
                        &["accounts", name, "quota"],
                        "",
                        Some(&quota_json(q)),
                    )
                    .await?;
                }
                _ => {
                    api.admin(Method::DELETE, &["accounts", name, "quota"], "", None)
                        .await?;
                }
            }
        }
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &AccountState) -> ApiResult<()> {
        api.admin(Method::DELETE, &["accounts", name_of(&s.name)], "", None)
            .await
            .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<AccountState> {
        Some(AccountState {
            name: Value::Value(id.to_string()),
            ..Default::default()
        })
    }
}

// ------------------------------------------------------- hafiz_bucket_policy

pub struct BucketPolicy;

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
pub struct BucketPolicyState {
    pub id: Value<String>,
    pub bucket: Value<String>,
    pub policy: Value<String>,
}

async fn put_policy(api: &Api, p: &BucketPolicyState) -> ApiResult<()> {
    let text = name_of(&p.policy).to_string();
    api.s3(Method::PUT, name_of(&p.bucket), "policy", &[], Some(text))
        .await
        .map(drop)
}

#[async_trait]
impl Managed for BucketPolicy {
    type State = BucketPolicyState;
    const KIND: &'static str = "bucket policy";
    const IMPORT_ID: &'static str = "the bucket's name";

    fn block(&self) -> Block {
        block(
            "A bucket's policy.",
            [
                ("id", computed(string(), "The bucket's name.")),
                ("bucket", required(string(), "The bucket.")),
                ("policy", required(string(), "The policy document (JSON).")),
            ],
            [],
        )
    }

    fn check(&self, diags: &mut Diagnostics, c: &BucketPolicyState) {
        if let Some(b) = known(&c.bucket)
            && !hafiz_iam::valid_bucket_name(b)
        {
            invalid(
                diags,
                AttributePath::new("bucket"),
                "Invalid bucket name",
                format!("{b:?} is not a valid bucket name."),
            );
        }
        if let Some(text) = known(&c.policy) {
            let bucket = known(&c.bucket);
            check_policy(
                diags,
                AttributePath::new("policy"),
                text,
                PolicyKind::Bucket(bucket),
            );
        }
    }

    fn plan(&self, mut p: BucketPolicyState, _creating: bool) -> BucketPolicyState {
        p.id = p.bucket.clone();
        p
    }

    fn keep_equivalent(&self, prior: &BucketPolicyState, planned: &mut BucketPolicyState) {
        keep_same_policy(&prior.policy, &mut planned.policy);
    }

    fn replaced(&self, a: &BucketPolicyState, b: &BucketPolicyState) -> Vec<AttributePath> {
        let mut out = Vec::new();
        changed(&mut out, "bucket", &a.bucket, &b.bucket);
        out
    }

    fn label(&self, s: &BucketPolicyState) -> String {
        format!("of {}", name_of(&s.bucket))
    }

    async fn create(&self, api: &Api, p: &BucketPolicyState) -> ApiResult<BucketPolicyState> {
        put_policy(api, p).await?;
        Ok(p.clone())
    }

    async fn read(&self, api: &Api, s: &BucketPolicyState) -> ApiResult<Option<BucketPolicyState>> {
        let bucket = name_of(&s.bucket);
        let text = match get_config(api, bucket, "policy").await {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(None),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let doc: Json = serde_json::from_str(&text).unwrap_or(Json::String(text));
        Ok(Some(BucketPolicyState {
            id: s.bucket.clone(),
            bucket: s.bucket.clone(),
            policy: same_policy(&s.policy, &doc),
        }))
    }

    async fn update(
        &self,
        api: &Api,
        _prior: &BucketPolicyState,
        p: &BucketPolicyState,
    ) -> ApiResult<BucketPolicyState> {
        put_policy(api, p).await?;
        Ok(p.clone())
    }

    async fn delete(&self, api: &Api, s: &BucketPolicyState) -> ApiResult<()> {
        api.s3(Method::DELETE, name_of(&s.bucket), "policy", &[], None)
            .await
            .map(drop)
    }

    fn import_state(&self, id: &str) -> Option<BucketPolicyState> {
        Some(BucketPolicyState {
            id: Value::Value(id.to_string()),
            bucket: Value::Value(id.to_string()),
            ..Default::default()
        })
    }
}
