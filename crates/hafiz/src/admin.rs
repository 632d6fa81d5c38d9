//! `hafiz admin ...` commands that work on a node's drives directly. They run against
//! a stopped node (the metadata store allows one process); a running node heals by
//! itself through its scanner.

use anyhow::Context;
use hafiz_meta::Metadata;

use crate::config::StorageConfig;
use crate::node;

pub async fn heal(
    cfg: &StorageConfig,
    bucket: Option<String>,
    dry_run: bool,
) -> anyhow::Result<()> {
    let node = node::open(cfg).context("cannot open the node (is the server still running?)")?;
    let blobs = node.meta.referenced_blobs(bucket.clone()).await?;
    let (mut damaged, mut rebuilt, mut failed) = (0u64, 0u64, 0u64);
    println!(
        "checking {} blob(s){}",
        blobs.len(),
        bucket
            .map(|b| format!(" of bucket {b}"))
            .unwrap_or_default()
    );
    for (id, size) in &blobs {
        match node.blobs.heal(id, *size, dry_run).await {
            Ok(r) if !r.damaged.is_empty() => {
                damaged += 1;
                rebuilt += r.rebuilt as u64;
                println!(
                    "{id}: damaged shards {:?}, rebuilt {}",
                    r.damaged, r.rebuilt
                );
            }
            Ok(_) => {}
            Err(e) => {
                failed += 1;
                println!("{id}: cannot heal: {e}");
            }
        }
    }
    if !dry_run && failed == 0 {
        node.blobs.finish_full_heal();
    }
    println!(
        "{} blob(s) checked, {damaged} damaged, {rebuilt} shard(s) rebuilt, {failed} unrecoverable{}",
        blobs.len(),
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    if failed > 0 {
        anyhow::bail!("{failed} blob(s) could not be healed");
    }
    Ok(())
}

/// Drive states, read only: safe next to a running node (nothing is created,
/// formatted or cleaned).
pub fn status(cfg: &StorageConfig, json: bool) -> anyhow::Result<()> {
    let drives: Vec<_> = cfg
        .drives
        .iter()
        .map(|p| hafiz_storage::drive::inspect(p))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&drives)?);
        return Ok(());
    }
    println!(
        "{:<4} {:<5} {:<11} {:>14}  path",
        "set", "slot", "state", "free"
    );
    for d in drives {
        let free = d
            .free_bytes
            .map(|b| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64))
            .unwrap_or_else(|| "-".into());
        let (set, slot) = if d.set == usize::MAX {
            ("-".to_string(), "-".to_string())
        } else {
            (d.set.to_string(), d.slot.to_string())
        };
        println!("{set:<4} {slot:<5} {:<11} {free:>14}  {}", d.state, d.path);
    }
    Ok(())
}
