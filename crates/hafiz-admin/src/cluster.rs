//! The node: server info, drive status, and healing.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::{Extension, body::Bytes};
use http::StatusCode;

use crate::AdminState;
use crate::auth::Caller;
use crate::error::{AdminResult, ErrorBody};
use crate::model::{
    ClusterStatus, DriveCounts, HealRequest, HealStatus, NewClusterNode, ServerInfo, parse,
};

type St = State<Arc<AdminState>>;

#[utoipa::path(get, path = "/v1/info", operation_id = "GetServerInfo", tag = "cluster",
    responses((status = 200, body = ServerInfo), (status = 403, body = ErrorBody)))]
pub async fn info(State(st): St, Extension(c): Extension<Caller>) -> AdminResult<Json<ServerInfo>> {
    c.require(&st, "GetServerInfo").await?;
    let buckets = st.s3.meta.buckets().await?;
    let (mut objects, mut bytes) = (0, 0);
    for b in &buckets {
        let u = st.s3.meta.bucket_usage(&b.name).await?;
        objects += u.objects;
        bytes += u.bytes;
    }
    let drives: Vec<_> = st
        .node
        .cluster()
        .await
        .nodes
        .into_iter()
        .flat_map(|n| n.drives)
        .collect();
    Ok(Json(ServerInfo {
        version: env!("CARGO_PKG_VERSION"),
        region: st.s3.config.region.clone(),
        s3_address: st.s3_address.clone(),
        admin_address: st.admin_address.clone(),
        uptime_seconds: st.started.elapsed().as_secs(),
        buckets: buckets.len(),
        objects,
        bytes,
        drives: DriveCounts {
            total: drives.len(),
            online: drives.iter().filter(|d| d.state == "online").count(),
        },
    }))
}

#[utoipa::path(get, path = "/v1/cluster", operation_id = "GetClusterStatus", tag = "cluster",
    responses((status = 200, body = ClusterStatus)))]
pub async fn status(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<ClusterStatus>> {
    c.require(&st, "GetClusterStatus").await?;
    Ok(Json(st.node.cluster().await))
}

#[utoipa::path(post, path = "/v1/cluster/nodes", operation_id = "AddClusterNode", tag = "cluster",
    request_body = NewClusterNode,
    responses((status = 200, body = ClusterStatus), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn add_node(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> AdminResult<Json<ClusterStatus>> {
    c.require(&st, "AddClusterNode").await?;
    let req: NewClusterNode = parse(&body)?;
    if req.id == 0 {
        return Err(crate::AdminError::InvalidRequest(
            "id must be 1 or more".into(),
        ));
    }
    st.node.add_node(req.id, req.rpc_address).await?;
    Ok(Json(st.node.cluster().await))
}

#[utoipa::path(delete, path = "/v1/cluster/nodes/{id}", operation_id = "RemoveClusterNode",
    tag = "cluster", params(("id" = u64, Path)),
    responses((status = 200, body = ClusterStatus), (status = 409, body = ErrorBody)))]
pub async fn remove_node(
    State(st): St,
    Extension(c): Extension<Caller>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> AdminResult<Json<ClusterStatus>> {
    c.require(&st, "RemoveClusterNode").await?;
    let id: u64 = id
        .parse()
        .map_err(|_| crate::AdminError::InvalidRequest(format!("{id:?} is not a node id")))?;
    st.node.remove_node(id).await?;
    Ok(Json(st.node.cluster().await))
}

#[utoipa::path(post, path = "/v1/heal", operation_id = "StartHeal", tag = "cluster",
    request_body = HealRequest,
    responses((status = 202, body = HealStatus), (status = 409, body = ErrorBody)))]
pub async fn start_heal(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<HealStatus>)> {
    c.require(&st, "StartHeal").await?;
    let req: HealRequest = if body.is_empty() {
        HealRequest::default()
    } else {
        parse(&body)?
    };
    if let Some(b) = &req.bucket {
        crate::buckets::require_bucket(&st, b).await?;
    }
    let s = st.node.start_heal(req.bucket, req.dry_run)?;
    Ok((StatusCode::ACCEPTED, Json(s)))
}

#[utoipa::path(get, path = "/v1/heal", operation_id = "GetHealStatus", tag = "cluster",
    responses((status = 200, body = HealStatus)))]
pub async fn heal_status(
    State(st): St,
    Extension(c): Extension<Caller>,
) -> AdminResult<Json<HealStatus>> {
    c.require(&st, "GetHealStatus").await?;
    Ok(Json(st.node.heal_status()))
}
