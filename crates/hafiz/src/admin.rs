//! `hafiz admin ...` commands that work on a node's drives directly. They run against
//! a stopped node (the metadata store allows one process); a running node heals by
//! itself through its scanner.

use anyhow::Context;

use crate::config::StorageConfig;
use crate::control::{HealEvent, heal_pass};
use crate::node;

pub async fn heal(
    cfg: &StorageConfig,
    bucket: Option<String>,
    dry_run: bool,
) -> anyhow::Result<()> {
    let node = node::open(cfg).context("cannot open the node (is the server still running?)")?;
    println!(
        "checking the blobs{}",
        bucket
            .as_ref()
            .map(|b| format!(" of bucket {b}"))
            .unwrap_or_default()
    );
    let c = heal_pass(
        &node.meta,
        &node.blobs,
        None,
        bucket,
        dry_run,
        |e| match e {
            HealEvent::Damaged {
                id,
                shards,
                rebuilt,
            } => println!("{id}: damaged shards {shards:?}, rebuilt {rebuilt}"),
            HealEvent::Failed { id, error } => println!("{id}: cannot heal: {error}"),
        },
        |_| {},
    )
    .await?;
    println!(
        "{} blob(s) checked, {} damaged, {} shard(s) rebuilt, {} unrecoverable{}",
        c.checked,
        c.damaged,
        c.rebuilt,
        c.failed,
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    if c.failed > 0 {
        anyhow::bail!("{} blob(s) could not be healed", c.failed);
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
