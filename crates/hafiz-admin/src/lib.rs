//! The admin API: a JSON REST API for operators on its own listener, signed with
//! SigV4 for service `hafiz-admin`. Users, groups, keys and policies are the same IAM
//! entities the IAM query API manages; buckets, quotas, accounts (tenants) and rate
//! limits are the store's own. The OpenAPI document at `/openapi.json` is generated
//! from the handlers' annotations. The contract is `docs/admin.md`.

mod audit;
pub mod auth;
mod buckets;
mod cluster;
pub mod error;
mod iam;
mod jobs;
mod kms;
mod model;
mod notify;
mod openapi;
mod replication;
mod tenants;
mod tiers;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, put};
use hafiz_s3::S3State;

pub use error::{AdminError, AdminResult};
pub use model::{ClusterStatus, DriveInfo, HealStatus, NodeStatus, RaftMember, RaftStatus};

/// What the admin API needs from the node it runs in, beyond the S3 state: its
/// drives, healing, and where the audit log lives.
#[async_trait::async_trait]
pub trait NodeControl: Send + Sync + 'static {
    async fn cluster(&self) -> ClusterStatus;
    /// Add a node to the metadata group (learner, then voter), through the leader.
    async fn add_node(&self, id: u64, rpc_address: String) -> AdminResult<()>;
    async fn remove_node(&self, id: u64) -> AdminResult<()>;
    /// Start a heal in the background; Conflict when one is already running.
    fn start_heal(&self, bucket: Option<String>, dry_run: bool) -> AdminResult<HealStatus>;
    fn heal_status(&self) -> HealStatus;
    fn audit_dir(&self) -> Option<PathBuf>;
}

pub struct AdminState {
    pub s3: Arc<S3State>,
    pub node: Arc<dyn NodeControl>,
    pub s3_address: String,
    pub admin_address: String,
    pub started: std::time::Instant,
}

pub fn app(state: Arc<AdminState>) -> Router {
    let api = Router::new()
        .route("/v1/info", get(cluster::info))
        .route("/v1/cluster", get(cluster::status))
        .route("/v1/cluster/nodes", axum::routing::post(cluster::add_node))
        .route(
            "/v1/cluster/nodes/{id}",
            axum::routing::delete(cluster::remove_node),
        )
        .route(
            "/v1/heal",
            get(cluster::heal_status).post(cluster::start_heal),
        )
        .route("/v1/users", get(iam::list_users).post(iam::create_user))
        .route(
            "/v1/users/{name}",
            get(iam::get_user).delete(iam::delete_user),
        )
        .route(
            "/v1/users/{name}/keys",
            get(iam::list_keys).post(iam::create_key),
        )
        .route(
            "/v1/users/{name}/keys/{id}",
            put(iam::update_key).delete(iam::delete_key),
        )
        .route(
            "/v1/users/{name}/policies/{policy}",
            put(iam::attach_user_policy).delete(iam::detach_user_policy),
        )
        .route("/v1/groups", get(iam::list_groups).post(iam::create_group))
        .route(
            "/v1/groups/{name}",
            get(iam::get_group).delete(iam::delete_group),
        )
        .route(
            "/v1/groups/{name}/members/{user}",
            put(iam::add_member).delete(iam::remove_member),
        )
        .route(
            "/v1/groups/{name}/policies/{policy}",
            put(iam::attach_group_policy).delete(iam::detach_group_policy),
        )
        .route(
            "/v1/policies",
            get(iam::list_policies).post(iam::create_policy),
        )
        .route(
            "/v1/policies/{name}",
            get(iam::get_policy)
                .put(iam::update_policy)
                .delete(iam::delete_policy),
        )
        .route(
            "/v1/buckets",
            get(buckets::list_buckets).post(buckets::create_bucket),
        )
        .route(
            "/v1/buckets/{name}",
            get(buckets::get_bucket).delete(buckets::delete_bucket),
        )
        .route(
            "/v1/buckets/{name}/versioning",
            put(buckets::put_versioning),
        )
        .route(
            "/v1/buckets/{name}/quota",
            get(buckets::get_quota)
                .put(buckets::put_quota)
                .delete(buckets::delete_quota),
        )
        .route(
            "/v1/buckets/{name}/policy",
            get(buckets::get_policy)
                .put(buckets::put_policy)
                .delete(buckets::delete_policy),
        )
        .route(
            "/v1/accounts",
            get(tenants::list_accounts).post(tenants::create_account),
        )
        .route(
            "/v1/accounts/{name}",
            get(tenants::get_account).delete(tenants::delete_account),
        )
        .route(
            "/v1/accounts/{name}/quota",
            put(tenants::put_account_quota).delete(tenants::delete_account_quota),
        )
        .route("/v1/rate-limits", get(tenants::list_rate_limits))
        .route(
            "/v1/rate-limits/{scope}/{name}",
            get(tenants::get_rate_limit)
                .put(tenants::put_rate_limit)
                .delete(tenants::delete_rate_limit),
        )
        .route("/v1/audit/export", get(audit::export))
        .route("/v1/jobs", get(jobs::list).delete(jobs::purge))
        .route("/v1/jobs/{id}", get(jobs::get))
        .route("/v1/jobs/{id}/retry", axum::routing::post(jobs::retry))
        .route("/v1/jobs/{id}/cancel", axum::routing::post(jobs::cancel))
        .route("/v1/tiers", get(tiers::list).post(tiers::add))
        .route("/v1/tiers/{name}", get(tiers::get).delete(tiers::remove))
        .route(
            "/v1/replication/targets",
            get(replication::list).post(replication::add),
        )
        .route(
            "/v1/replication/targets/{arn}",
            get(replication::get).delete(replication::remove),
        )
        .route(
            "/v1/replication/resync",
            axum::routing::post(replication::resync),
        )
        .route("/v1/kms/keys", get(kms::list).post(kms::create))
        .route("/v1/kms/keys/{id}", get(kms::get))
        .route("/v1/kms/keys/{id}/enable", axum::routing::post(kms::enable))
        .route(
            "/v1/kms/keys/{id}/disable",
            axum::routing::post(kms::disable),
        )
        .route("/v1/kms/keys/{id}/rotate", axum::routing::post(kms::rotate))
        .route(
            "/v1/kms/master/rotate",
            axum::routing::post(kms::rotate_master),
        )
        .route("/v1/kms/status", get(kms::status))
        .route("/v1/notify/targets", get(notify::list).post(notify::add))
        .route(
            "/v1/notify/targets/{arn}",
            get(notify::get).delete(notify::remove),
        )
        // Inside the authentication layer, so that these answers carry a request id.
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    Router::new()
        .route("/openapi.json", get(openapi::document))
        .merge(api)
        .with_state(state)
}

async fn not_found() -> AdminError {
    AdminError::not_found("NotFound", "No such admin resource.")
}

async fn method_not_allowed() -> AdminError {
    AdminError::MethodNotAllowed
}
