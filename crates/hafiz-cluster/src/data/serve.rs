//! The shard side of node-to-node RPC: other nodes' shards kept in this node's
//! local store. `/shard/put` streams a shard in (committed only after its MAC
//! trailer checks out), `/shard/get` answers a byte range, `/shard/delete` drops one.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::StreamExt;
use hafiz_storage::{BlobStore, ErasureStore};
use hmac::Mac;
use serde::{Deserialize, Serialize};

use crate::auth::{self, Rejection};
use crate::rpc::{RpcState, authenticate, refuse};

#[derive(Debug, Serialize, Deserialize)]
pub struct ShardRead {
    pub id: String,
    /// The shard's full size (the local store's reads need it).
    pub size: u64,
    pub offset: u64,
    pub len: u64,
}

fn valid_local_id(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

pub async fn serve_read(
    blobs: &ErasureStore,
    req: ShardRead,
) -> Result<serde_bytes::ByteBuf, String> {
    if !valid_local_id(&req.id) {
        return Err("invalid shard id".into());
    }
    let mut s = blobs
        .read(&req.id, req.size, req.offset, req.len)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(req.len as usize);
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.map_err(|e| e.to_string())?);
    }
    Ok(serde_bytes::ByteBuf::from(out))
}

pub async fn serve_delete(blobs: &ErasureStore, id: &str) -> Result<(), String> {
    if !valid_local_id(id) {
        return Err("invalid shard id".into());
    }
    blobs.delete(id).await.map_err(|e| e.to_string())
}

pub async fn serve_put(
    State(st): State<Arc<RpcState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(r) = authenticate(&st, &method, &uri, &headers, b"") {
        return r;
    }
    let id = uri
        .query()
        .and_then(|q| q.strip_prefix("id="))
        .unwrap_or_default()
        .to_string();
    if !valid_local_id(&id) {
        return refuse(StatusCode::BAD_REQUEST, "invalid shard id".into());
    }
    let nonce = headers
        .get(auth::H_NONCE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut mac = st.key.stream_mac(nonce);
    let mut w = match st.blobs.writer_with_id(&id) {
        Ok(w) => w,
        Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    const TAG: usize = 32;
    let mut tail = BytesMut::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                w.abort().await;
                return refuse(StatusCode::BAD_REQUEST, format!("body: {e}"));
            }
        };
        tail.extend_from_slice(&chunk);
        if tail.len() > TAG {
            let data = tail.split_to(tail.len() - TAG).freeze();
            mac.update(&data);
            if let Err(e) = w.write(data).await {
                w.abort().await;
                return refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
            }
        }
    }
    if tail.len() != TAG || mac.verify_slice(&tail).is_err() {
        w.abort().await;
        metrics::counter!("hafiz_cluster_rpc_rejected_total", "reason" => Rejection::BadSignature.reason())
            .increment(1);
        return refuse(
            StatusCode::UNAUTHORIZED,
            "shard body MAC does not match".into(),
        );
    }
    match w.finish().await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
