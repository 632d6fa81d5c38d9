//! The background scanner: watches drives, heals blobs that reads found damaged,
//! rebuilds replaced drives, verifies every blob at a bounded rate, and removes
//! shards that no metadata refers to once they are older than a grace period.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use hafiz_meta::{MetaStore, Metadata};
use hafiz_storage::{BlobStore, ErasureStore};

/// How often drives are re-checked and read-reported damage is healed.
const TICK: Duration = Duration::from_secs(2);
/// How often expired temporary (STS) credentials are removed.
const SESSION_SWEEP: Duration = Duration::from_secs(60);
/// Verified blobs per second during a full pass, so healing never starves requests.
const VERIFY_RATE: u32 = 200;
/// Shards without metadata younger than this may belong to a write in flight.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

pub async fn run(meta: MetaStore, blobs: ErasureStore, me: u64, interval: Duration) {
    let mut last_full = Instant::now();
    let mut last_sweep = Instant::now();
    loop {
        if last_sweep.elapsed() >= SESSION_SWEEP {
            last_sweep = Instant::now();
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let cmd =
                hafiz_meta::Command::Iam(hafiz_meta::iam::IamCommand::RemoveExpiredSessions {
                    now,
                });
            if let Err(e) = meta.apply(cmd).await {
                tracing::warn!(error = %e, "could not remove expired temporary credentials");
            }
        }
        // Drive checks touch the filesystem (format files, statvfs): off the runtime,
        // so a hung drive cannot stall request handling.
        let (b, m) = (blobs.clone(), meta.clone());
        let _ = tokio::task::spawn_blocking(move || {
            b.refresh_drives();
            crate::prometheus::record_drives(&b);
            // After the drive refresh: a replaced drive is formatted first (it must be
            // empty for that), then gets its metadata mirror back.
            if let Err(e) = m.repair_mirrors() {
                tracing::warn!(error = %e, "metadata mirror repair failed");
            }
        })
        .await;
        for (id, size) in blobs.take_damaged() {
            heal_one(&blobs, &id, size).await;
        }
        let healing = blobs.needs_full_heal();
        if healing || last_full.elapsed() >= interval {
            match full_pass(&meta, &blobs, me).await {
                Ok(stats) => {
                    tracing::info!(
                        checked = stats.checked,
                        repaired = stats.repaired,
                        failed = stats.failed,
                        orphans = stats.orphans,
                        "scanner pass done"
                    );
                    if stats.failed > 0 {
                        tracing::warn!(
                            failed = stats.failed,
                            "some blobs could not be healed (drives offline, or more damage than parity)"
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "scanner pass failed"),
            }
            // A rebuilt drive is done once a whole pass went over it; what could not
            // be healed is logged and retried by the next periodic pass, not in a loop.
            if healing {
                blobs.finish_full_heal();
            }
            last_full = Instant::now();
        }
        tokio::time::sleep(TICK).await;
    }
}

enum HealResult {
    Healthy,
    Repaired,
    Failed,
}

async fn heal_one(blobs: &ErasureStore, id: &str, size: u64) -> HealResult {
    match blobs.heal(id, size, false).await {
        Ok(r) if r.rebuilt > 0 => {
            metrics::counter!("hafiz_heal_shards_rebuilt_total").increment(r.rebuilt as u64);
            tracing::info!(blob = %id, damaged = ?r.damaged, rebuilt = r.rebuilt, "healed");
            HealResult::Repaired
        }
        Ok(r) if !r.damaged.is_empty() => {
            tracing::warn!(blob = %id, damaged = ?r.damaged, "damage found but its drives are offline");
            HealResult::Failed
        }
        Ok(_) => HealResult::Healthy,
        Err(e) => {
            tracing::warn!(blob = %id, error = %e, "cannot heal");
            HealResult::Failed
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

async fn full_pass(meta: &MetaStore, blobs: &ErasureStore, me: u64) -> anyhow::Result<PassStats> {
    let mut stats = PassStats::default();
    // Shards on disk are listed before metadata is read: a blob committed during the
    // pass is then either not in the listing or in the metadata, never deleted.
    let on_disk = blobs.blob_ids().await?;
    // This node's share: its shard of each cluster blob, under the local id.
    let referenced: HashMap<String, u64> =
        hafiz_cluster::local_view(me, blobs, meta.referenced_blobs(None).await?);
    let pause = Duration::from_secs(1) / VERIFY_RATE;
    for (id, size) in &referenced {
        stats.checked += 1;
        metrics::counter!("hafiz_scanner_blobs_checked_total").increment(1);
        match heal_one(blobs, id, *size).await {
            HealResult::Healthy => {}
            HealResult::Repaired => stats.repaired += 1,
            HealResult::Failed => stats.failed += 1,
        }
        tokio::time::sleep(pause).await;
    }
    // Orphans: shards a crash left between the data fsync and the metadata commit.
    // Only old ones go; a young one may be a write whose commit is just happening.
    let now = SystemTime::now();
    for (id, mtime) in on_disk {
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

/// The blobs on the drives at start-up, before any request is served (so none is
/// being written). Refuses to start when the metadata store is brand new but the
/// drives are not.
pub async fn blobs_before_serving(
    meta: &MetaStore,
    blobs: &ErasureStore,
) -> anyhow::Result<Vec<(String, std::time::SystemTime)>> {
    let on_disk = blobs.blob_ids().await?;
    // Brand-new metadata next to drives full of shards means the metadata drives are
    // missing (not mounted, replaced), not that every shard is garbage.
    if meta.applied_seq() == 0 && !on_disk.is_empty() {
        anyhow::bail!(
            "the metadata store is empty but the drives hold {} blob(s): are the metadata drives (the first drives of the first set, or --meta-dir) missing? Refusing to start rather than treat the data as garbage",
            on_disk.len()
        );
    }
    Ok(on_disk)
}

/// Delete the blobs of `on_disk` (listed before serving) that no metadata
/// references. The references are read linearizably, so a node that was behind the
/// cluster first catches up: a blob whose commit it had not applied yet is kept.
pub async fn collect_orphans(
    meta: &dyn Metadata,
    blobs: &ErasureStore,
    me: u64,
    on_disk: Vec<(String, std::time::SystemTime)>,
) -> anyhow::Result<usize> {
    if on_disk.is_empty() {
        return Ok(0);
    }
    let referenced = loop {
        match meta.referenced_blobs(None).await {
            Ok(r) => break hafiz_cluster::local_view(me, blobs, r),
            Err(hafiz_meta::MetaError::Unavailable(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut removed = 0;
    for (id, _) in on_disk {
        if !referenced.contains_key(&id) {
            blobs.delete(&id).await?;
            removed += 1;
        }
    }
    Ok(removed)
}
