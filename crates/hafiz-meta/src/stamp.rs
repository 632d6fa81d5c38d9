//! Ids and row order for new versions (objects and delete markers), minted by the
//! node that writes them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::{Millis, mint_version_id};

/// Where a new version sorts, its id and its modification time.
pub struct Stamp {
    pub order: u64,
    pub version_id: String,
    pub last_modified: Millis,
}

/// The last row order handed out: orders never repeat or go backwards in a process,
/// so versions written in the same microsecond still sort in write order.
static CLOCK: AtomicU64 = AtomicU64::new(0);

/// A new delete marker for `key`, stamped now.
pub fn new_delete_marker(key: &str) -> crate::model::ObjectVersion {
    let st = stamp();
    crate::model::ObjectVersion {
        key: key.to_string(),
        version_id: st.version_id,
        order: st.order,
        last_modified: st.last_modified,
        delete_marker: true,
        storage_class: "STANDARD".into(),
        ..Default::default()
    }
}

pub fn stamp() -> Stamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let prev = CLOCK
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
            Some(now.max(p + 1))
        })
        .unwrap_or(0);
    let order = now.max(prev + 1);
    let nonce = uuid::Uuid::new_v4().as_u64_pair().0;
    Stamp {
        order,
        version_id: mint_version_id(order, nonce),
        last_modified: (order / 1000) as Millis,
    }
}
