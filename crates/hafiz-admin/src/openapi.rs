//! The OpenAPI document, assembled from the handlers' `#[utoipa::path]` annotations
//! so that it cannot drift from the routes.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

use crate::{
    audit, buckets, cluster, error, iam, jobs, kms, model, notify, replication, tenants, tiers,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hafiz admin API",
        description = "Operator API of Hafiz. Every request except this document is signed with AWS SigV4 for service `hafiz-admin`; callers need `admin:<operationId>`."
    ),
    modifiers(&SigV4),
    security(("sigv4" = [])),
    paths(
        cluster::info, cluster::status, cluster::add_node, cluster::remove_node,
        cluster::start_heal, cluster::heal_status,
        iam::list_users, iam::create_user, iam::get_user, iam::delete_user,
        iam::list_keys, iam::create_key, iam::update_key, iam::delete_key,
        iam::attach_user_policy, iam::detach_user_policy,
        iam::list_groups, iam::create_group, iam::get_group, iam::delete_group,
        iam::add_member, iam::remove_member, iam::attach_group_policy, iam::detach_group_policy,
        iam::list_policies, iam::create_policy, iam::get_policy, iam::update_policy, iam::delete_policy,
        buckets::list_buckets, buckets::create_bucket, buckets::get_bucket, buckets::delete_bucket,
        buckets::put_versioning, buckets::get_quota, buckets::put_quota, buckets::delete_quota,
        buckets::get_policy, buckets::put_policy, buckets::delete_policy,
        tenants::list_accounts, tenants::create_account, tenants::get_account, tenants::delete_account,
        tenants::put_account_quota, tenants::delete_account_quota,
        tenants::list_rate_limits, tenants::get_rate_limit, tenants::put_rate_limit, tenants::delete_rate_limit,
        audit::export,
        jobs::list, jobs::get, jobs::retry, jobs::cancel, jobs::purge,
        tiers::list, tiers::add, tiers::get, tiers::remove,
        notify::list, notify::add, notify::get, notify::remove,
        replication::list, replication::add, replication::get, replication::remove, replication::resync,
        kms::list, kms::create, kms::get, kms::enable, kms::disable, kms::rotate,
        kms::rotate_master, kms::status,
    ),
    components(schemas(
        error::ErrorBody, kms::KmsKey, kms::KmsKeyList, kms::NewKmsKey, kms::MasterKeyRotation, kms::KmsStatus, notify::NewTarget, notify::Target, notify::TargetList, replication::NewReplicationTarget, replication::ReplicationTarget, replication::ReplicationTargetList, replication::NewResync, replication::Resync, tiers::NewTier, tiers::Tier, tiers::TierList, jobs::Job, jobs::JobList, jobs::JobCount, jobs::Purged, model::User, model::NewUser, model::Key, model::KeyStatus,
        model::Group, model::NewGroup, model::Policy, model::NewPolicy, model::PolicyDocument, model::Bucket,
        model::NewBucket, model::VersioningStatus, model::Quota, model::Usage, model::Account,
        model::NewAccount, model::RateLimit, model::RateLimitSpec, model::ServerInfo,
        model::DriveCounts, model::ClusterStatus, model::NodeStatus, model::DriveInfo,
        model::HealStatus, model::HealRequest, model::RaftStatus, model::RaftMember,
        model::NewClusterNode,
    ))
)]
pub struct ApiDoc;

/// Declares the SigV4 `Authorization` header as the security scheme.
struct SigV4;

impl utoipa::Modify for SigV4 {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "sigv4",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "Authorization",
                    "AWS4-HMAC-SHA256 signature, service hafiz-admin",
                ))),
            );
        }
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
