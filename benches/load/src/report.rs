//! `--report FILE`: the ratio table over a results file of JSON lines (one per phase,
//! as printed at the end of every run; `label` names the node layout).

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

struct Row<'a> {
    label: &'a str,
    op: &'a str,
    size: u64,
    concurrency: u64,
    v: &'a Value,
}

impl Row<'_> {
    fn f(&self, k: &str) -> f64 {
        self.v[k].as_f64().unwrap_or(0.0)
    }
}

/// Prints the ratio table; returns how many targets were missed.
pub fn report(path: &Path) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let values: Vec<Value> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("results file: bad JSON line")?;
    let rows: Vec<Row> = values
        .iter()
        .map(|v| Row {
            label: v["label"].as_str().unwrap_or(""),
            op: v["op"].as_str().unwrap_or(""),
            size: v["size"].as_u64().unwrap_or(0),
            concurrency: v["concurrency"].as_u64().unwrap_or(0),
            v,
        })
        .collect();
    // The last matching row wins (a re-run appends).
    let find = |label: Option<&str>, op: &str, size: Option<u64>, conc: Option<u64>| {
        rows.iter().rev().find(|r| {
            label.is_none_or(|l| r.label == l)
                && r.op == op
                && size.is_none_or(|s| r.size == s)
                && conc.is_none_or(|c| r.concurrency == c)
        })
    };
    let noop = |conc: u64| {
        find(None, "noop", None, Some(conc)).or_else(|| {
            rows.iter()
                .filter(|r| r.op == "noop")
                .max_by_key(|r| r.concurrency)
        })
    };

    let mut labels: Vec<&str> = Vec::new();
    for r in &rows {
        if r.op != "noop"
            && r.op != "transition"
            && r.op != "replication"
            && !r.label.starts_with("tier")
            && !r.label.starts_with("replication")
            && !r.label.ends_with("-sse")
            && !r.op.starts_with("file-")
            && !labels.contains(&r.label)
        {
            labels.push(r.label);
        }
    }

    let mut missed = 0;
    println!(
        "{:<14} {:<28} {:>15} {:>15} {:>7} {:>8}  result",
        "layout", "metric", "hafiz", "baseline", "ratio", "target"
    );
    for label in labels.iter().copied().filter(|l| !l.starts_with("cluster")) {
        let line = |metric: &str, a: Option<(f64, &str)>, b: Option<(f64, &str)>, target: f64| {
            match (a, b) {
                (Some((a, ua)), Some((b, ub))) if b > 0.0 => {
                    let ratio = a / b;
                    let ok = ratio >= target;
                    println!(
                        "{:<14} {:<28} {:>15} {:>15} {:>7.3} {:>8}  {}",
                        label,
                        metric,
                        format!("{a:.1} {ua}"),
                        format!("{b:.1} {ub}"),
                        ratio,
                        format!(">={target:.2}"),
                        if ok { "ok" } else { "MISS" }
                    );
                    !ok
                }
                _ => {
                    println!("{label:<14} {metric:<28} (not measured)");
                    false
                }
            }
        };
        // The largest object size measured for GET stands for "64 MiB" (4 MiB in QUICK mode).
        let large = rows
            .iter()
            .filter(|r| r.label == label && r.op == "get")
            .map(|r| r.size)
            .max();
        if let Some(large) = large {
            let name = crate::stats::format_size(large);
            let mibs = |r: Option<&Row>| r.map(|r| (r.f("mib_per_sec"), "MiB/s"));
            let file = |op: &str| {
                find(Some(label), op, Some(large), None).or(find(None, op, Some(large), None))
            };
            missed += line(
                &format!("{name} GET / file read"),
                mibs(find(Some(label), "get", Some(large), None)),
                mibs(file("file-read")),
                0.7,
            ) as usize;
            missed += line(
                &format!("{name} PUT / file write"),
                mibs(find(Some(label), "put", Some(large), None)),
                mibs(file("file-write")),
                0.5,
            ) as usize;
        }
        let opss = |r: Option<&Row>| r.map(|r| (r.f("ops_per_sec"), "op/s"));
        for (op, target) in [("get", 0.5), ("head", 0.6), ("put", 0.3)] {
            // The highest-concurrency 4 KiB run, against the no-op ceiling at that concurrency.
            let r = rows
                .iter()
                .filter(|r| r.label == label && r.op == op && r.size == 4096)
                .max_by_key(|r| r.concurrency);
            let base = r.and_then(|r| noop(r.concurrency));
            let metric = format!(
                "4KiB {} / noop (c{})",
                op.to_uppercase(),
                r.map(|r| r.concurrency).unwrap_or(0)
            );
            missed += line(&metric, opss(r), opss(base), target) as usize;
        }
        match find(Some(label), "head", None, Some(1)) {
            Some(r) => {
                let p99 = r.f("p99_ms");
                let ok = p99 < 1.0;
                missed += !ok as usize;
                println!(
                    "{:<14} {:<28} {:>15} {:>15} {:>7} {:>8}  {}",
                    label,
                    "p99 HEAD (c1)",
                    format!("{p99:.3} ms"),
                    noop(1)
                        .map(|n| format!("{:.3} ms", n.f("p99_ms")))
                        .unwrap_or_default(),
                    "",
                    "<1ms",
                    if ok { "ok" } else { "MISS" }
                );
            }
            None => println!("{label:<14} {:<28} (not measured)", "p99 HEAD (c1)"),
        }
        if let Some(r) = find(Some(label), "server-rss", None, None) {
            println!(
                "{:<14} {:<28} {:>15}",
                label,
                "server peak RSS (VmHWM)",
                format!("{:.0} MiB", r.f("vmhwm_kib") / 1024.0)
            );
        }
        // Peak RSS under 64 concurrent large PUTs against its documented bound.
        if let Some(r) = find(Some(label), "memory", None, None) {
            let (peak, bound) = (r.f("vmhwm_kib") / 1024.0, r.f("bound_kib") / 1024.0);
            let ok = peak <= bound;
            missed += !ok as usize;
            println!(
                "{:<14} {:<28} {:>15} {:>15} {:>7.3} {:>8}  {}",
                label,
                format!("peak RSS, {} PUT streams", r.f("streams")),
                format!("{peak:.0} MiB"),
                format!("{bound:.0} MiB"),
                peak / bound,
                "<=1.00",
                if ok { "ok" } else { "MISS" }
            );
        }
    }
    missed += cluster_rows(&rows);
    missed += tier_rows(&rows);
    missed += replication_rows(&rows);
    missed += sse_rows(&rows);
    Ok(missed)
}

/// Large PUT and GET into a bucket with SSE-S3 default encryption (label
/// `LAYOUT-sse`) against the same without encryption, same layout, same run.
fn sse_rows(rows: &[Row]) -> usize {
    let mut missed = 0;
    let mut layouts: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.label.strip_suffix("-sse"))
        .collect();
    layouts.dedup();
    for layout in layouts {
        let sse = format!("{layout}-sse");
        for op in ["put", "get"] {
            let of = |label: &str| {
                rows.iter()
                    .filter(|r| r.label == label && r.op == op)
                    .max_by_key(|r| r.size)
            };
            let (Some(a), Some(b)) = (of(&sse), of(layout)) else {
                continue;
            };
            if a.size != b.size || b.f("mib_per_sec") <= 0.0 {
                continue;
            }
            let ratio = a.f("mib_per_sec") / b.f("mib_per_sec");
            let target = 0.8;
            let ok = ratio >= target;
            missed += usize::from(!ok);
            println!(
                "{:<14} {:<28} {:>15} {:>15} {:>7.3} {:>8}  {}",
                layout,
                format!(
                    "SSE-S3 {} {} / plain",
                    crate::stats::format_size(a.size),
                    op.to_uppercase()
                ),
                format!("{:.1} MiB/s", a.f("mib_per_sec")),
                format!("{:.1} MiB/s", b.f("mib_per_sec")),
                ratio,
                format!(">={target:.2}"),
                if ok { "ok" } else { "MISS" }
            );
        }
    }
    missed
}

/// Transition throughput (rule to every object in the tier) against a plain GET+PUT
/// copy between the same two processes, measured in the same run.
fn tier_rows(rows: &[Row]) -> usize {
    copy_ratio_row(rows, "transition", "tiering", "transition_mib_s")
}

/// Replication throughput (rule to every object at the destination) against a
/// plain GET+PUT copy between the same two processes, measured in the same run.
fn replication_rows(rows: &[Row]) -> usize {
    copy_ratio_row(rows, "replication", "replication", "replication_mib_s")
}

/// One background copy's MiB/s (`field` of the last `op` row) against the plain copy
/// of the same row.
fn copy_ratio_row(rows: &[Row], op: &str, layout: &str, field: &str) -> usize {
    let Some(r) = rows.iter().rev().find(|r| r.op == op) else {
        return 0;
    };
    let (moved, copy, ratio) = (r.f(field), r.f("copy_mib_s"), r.f("ratio"));
    let target = 0.5;
    let ok = ratio >= target;
    println!(
        "{:<14} {:<28} {:>15} {:>15} {:>7.3} {:>8}  {}",
        layout,
        format!("{op} {} / copy", crate::stats::format_size(r.size)),
        format!("{moved:.1} MiB/s"),
        format!("{copy:.1} MiB/s"),
        ratio,
        format!(">={target:.2}"),
        if ok { "ok" } else { "MISS" }
    );
    !ok as usize
}

/// A 3-node loopback cluster measured through one node against the single node of
/// the same run; failover is leader SIGKILL to the first acknowledged write.
fn cluster_rows(rows: &[Row]) -> usize {
    let find = |label: &str, op: &str, size: Option<u64>| {
        rows.iter()
            .filter(|r| r.label == label && r.op == op && size.is_none_or(|s| r.size == s))
            .max_by_key(|r| r.concurrency)
    };
    let Some(cluster) = rows
        .iter()
        .find(|r| r.label.starts_with("cluster"))
        .map(|r| r.label)
    else {
        return 0;
    };
    let single = "1-drive";
    let mut missed = 0;
    let large = rows
        .iter()
        .filter(|r| r.label == cluster && r.op == "get")
        .map(|r| r.size)
        .max()
        .unwrap_or(0);
    for (op, size, unit, target) in [
        ("put", 4096, "op/s", 0.8),
        ("get", 4096, "op/s", 0.0),
        ("put", large, "MiB/s", 0.0),
        ("get", large, "MiB/s", 0.0),
    ] {
        let key = if unit == "op/s" {
            "ops_per_sec"
        } else {
            "mib_per_sec"
        };
        let metric = format!(
            "{} {} / 1 node",
            crate::stats::format_size(size),
            op.to_uppercase()
        );
        match (find(cluster, op, Some(size)), find(single, op, Some(size))) {
            (Some(a), Some(b)) if b.f(key) > 0.0 => {
                let ratio = a.f(key) / b.f(key);
                let ok = ratio >= target;
                missed += !ok as usize;
                println!(
                    "{:<14} {:<28} {:>15} {:>15} {:>7.3} {:>8}  {}",
                    cluster,
                    metric,
                    format!("{:.1} {unit}", a.f(key)),
                    format!("{:.1} {unit}", b.f(key)),
                    ratio,
                    if target > 0.0 {
                        format!(">={target:.2}")
                    } else {
                        "-".into()
                    },
                    if ok { "ok" } else { "MISS" }
                );
            }
            _ => println!("{cluster:<14} {metric:<28} (not measured)"),
        }
    }
    if let Some(r) = rows
        .iter()
        .rev()
        .find(|r| r.label == cluster && r.op == "failover")
    {
        let secs = r.f("seconds");
        let ok = secs < 3.0;
        missed += !ok as usize;
        println!(
            "{:<14} {:<28} {:>15} {:>15} {:>7} {:>8}  {}",
            cluster,
            "failover (kill -> write)",
            format!("{secs:.2} s"),
            "",
            "",
            "<3s",
            if ok { "ok" } else { "MISS" }
        );
    }
    missed
}
