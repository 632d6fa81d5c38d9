//! The background scanner: watches drives, heals blobs that reads found damaged,
//! rebuilds replaced drives, verifies every blob at a bounded rate, and removes
//! shards that no metadata refers to once they are older than a grace period.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use hafiz_meta::{MetaStore, Metadata};
use hafiz_storage::{BlobStore, ErasureStore};

/// How often drives are re-checked and read-reported damage is healed.
const TICK: Duration = Duration::from_secs(2);
/// Verified blobs per second during a full pass, so healing never starves requests.
const VERIFY_RATE: u32 = 200;
/// Shards without metadata younger than this may belong to a write in flight.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

pub async fn run(meta: MetaStore, blobs: ErasureStore, interval: Duration) {
    let mut last_full = Instant::now();
    record_drive_metrics(&blobs);
    loop {
        tokio::time::sleep(TICK).await;
        blobs.refresh_drives();
        record_drive_metrics(&blobs);
        for (id, size) in blobs.take_damaged() {
            heal_one(&blobs, &id, size).await;
        }
        let full_due = blobs.needs_full_heal() || last_full.elapsed() >= interval;
        if full_due {
            let healing = blobs.needs_full_heal();
            match full_pass(&meta, &blobs).await {
                Ok(stats) => {
                    tracing::info!(
                        checked = stats.checked,
                        repaired = stats.repaired,
                        failed = stats.failed,
                        orphans = stats.orphans,
                        "scanner pass done"
                    );
                    if healing && stats.failed == 0 {
                        blobs.finish_full_heal();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "scanner pass failed"),
            }
            last_full = Instant::now();
        }
    }
}

fn record_drive_metrics(blobs: &ErasureStore) {
    for d in blobs.drives() {
        let labels = [("set", d.set.to_string()), ("slot", d.slot.to_string())];
        metrics::gauge!("hafiz_drive_online", &labels).set(if d.state == "offline" {
            0.0
        } else {
            1.0
        });
        metrics::gauge!("hafiz_drive_healing", &labels).set(if d.state == "healing" {
            1.0
        } else {
            0.0
        });
        if let Some(free) = d.free_bytes {
            metrics::gauge!("hafiz_drive_free_bytes", &labels).set(free as f64);
        }
    }
}

async fn heal_one(blobs: &ErasureStore, id: &str, size: u64) -> bool {
    match blobs.heal(id, size, false).await {
        Ok(r) if r.rebuilt > 0 => {
            metrics::counter!("hafiz_heal_shards_rebuilt_total").increment(r.rebuilt as u64);
            tracing::info!(blob = %id, damaged = ?r.damaged, rebuilt = r.rebuilt, "healed");
            true
        }
        Ok(r) if !r.damaged.is_empty() => {
            tracing::warn!(blob = %id, damaged = ?r.damaged, "damage found but its drives are offline");
            false
        }
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(blob = %id, error = %e, "cannot heal");
            false
        }
    }
}

#[derive(Default)]
struct PassStats {
    checked: u64,
    repaired: u64,
    failed: u64,
    orphans: u64,
}

async fn full_pass(meta: &MetaStore, blobs: &ErasureStore) -> anyhow::Result<PassStats> {
    let mut stats = PassStats::default();
    let referenced: HashMap<String, u64> = meta.referenced_blobs(None).await?;
    let pause = Duration::from_secs(1) / VERIFY_RATE;
    for (id, size) in &referenced {
        stats.checked += 1;
        metrics::counter!("hafiz_scanner_blobs_checked_total").increment(1);
        match blobs.heal(id, *size, false).await {
            Ok(r) if r.rebuilt > 0 => {
                metrics::counter!("hafiz_heal_shards_rebuilt_total").increment(r.rebuilt as u64);
                stats.repaired += 1
            }
            Ok(r) if !r.damaged.is_empty() => stats.failed += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(blob = %id, error = %e, "cannot heal");
                stats.failed += 1;
            }
        }
        tokio::time::sleep(pause).await;
    }
    // Orphans: shards a crash left between the data fsync and the metadata commit.
    // Only old ones go; a young one may be a write whose commit is just happening.
    let now = SystemTime::now();
    for (id, mtime) in blobs.blob_ids().await? {
        if !referenced.contains_key(&id)
            && now.duration_since(mtime).unwrap_or_default() > ORPHAN_GRACE
        {
            blobs.delete(&id).await?;
            metrics::counter!("hafiz_scanner_orphans_removed_total").increment(1);
            stats.orphans += 1;
        }
    }
    Ok(stats)
}

/// At start-up no write is in flight, so every unreferenced shard is garbage.
pub async fn collect_orphans(meta: &MetaStore, blobs: &ErasureStore) -> anyhow::Result<usize> {
    let referenced = meta.referenced_blobs(None).await?;
    let mut removed = 0;
    for (id, _) in blobs.blob_ids().await? {
        if !referenced.contains_key(&id) {
            blobs.delete(&id).await?;
            removed += 1;
        }
    }
    Ok(removed)
}
