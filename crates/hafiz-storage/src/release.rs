//! Deleting blobs a metadata commit no longer references.

use std::sync::Arc;
use std::time::Duration;

use crate::BlobStore;

/// How long a replaced or deleted object's data stays readable for reads in flight.
pub const RELEASE_GRACE: Duration = Duration::from_secs(300);

/// Delete `blobs` after [`RELEASE_GRACE`], in the background: reads that looked up the
/// old version just before the commit may still be streaming it. A restart in between
/// leaves them as orphans, which the start-up sweep removes.
pub fn release_later(store: Arc<dyn BlobStore>, blobs: Vec<String>) {
    if blobs.is_empty() {
        return;
    }
    tokio::spawn(async move {
        tokio::time::sleep(RELEASE_GRACE).await;
        for id in blobs {
            if let Err(e) = store.delete(&id).await {
                tracing::warn!(blob = %id, error = %e, "could not delete released blob");
            }
        }
    });
}
