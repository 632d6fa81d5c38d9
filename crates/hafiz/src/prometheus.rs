//! The Prometheus recorder behind `/metrics`, and the gauges read from the stores
//! (drives, the metadata engine) rather than counted on the request path.

use hafiz_meta::MetaStore;
use hafiz_storage::ErasureStore;

/// Install the recorder; latencies as histograms (seconds).
pub fn install() -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    const LATENCY_BUCKETS: &[f64] = &[
        0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        10.0, 30.0,
    ];
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)?
        .install_recorder()?;
    Ok(handle)
}

/// RocksDB figures of each metadata mirror; read at scrape time (in-memory counters
/// and properties, no I/O).
pub fn record_meta(meta: &MetaStore) {
    let stats = meta.stats();
    metrics::counter!("hafiz_meta_commands_total").absolute(stats.applied_commands);
    metrics::counter!("hafiz_meta_wal_syncs_total").absolute(stats.wal_syncs);
    for (i, (_, s)) in stats.mirrors.iter().enumerate() {
        let labels = [("mirror", i.to_string())];
        metrics::counter!("hafiz_meta_block_cache_hits_total", &labels)
            .absolute(s.block_cache_hits);
        metrics::counter!("hafiz_meta_block_cache_misses_total", &labels)
            .absolute(s.block_cache_misses);
        metrics::gauge!("hafiz_meta_block_cache_usage_bytes", &labels)
            .set(s.block_cache_usage_bytes as f64);
        metrics::gauge!("hafiz_meta_memtable_bytes", &labels).set(s.memtable_bytes as f64);
        metrics::gauge!("hafiz_meta_compaction_pending_bytes", &labels)
            .set(s.pending_compaction_bytes as f64);
        metrics::gauge!("hafiz_meta_compactions_running", &labels)
            .set(s.running_compactions as f64);
        metrics::gauge!("hafiz_meta_write_stopped", &labels).set(if s.write_stopped {
            1.0
        } else {
            0.0
        });
        metrics::counter!("hafiz_meta_write_stall_seconds_total", &labels)
            .absolute(s.stall_micros / 1_000_000);
    }
}

/// Health and free space of each drive.
pub fn record_drives(blobs: &ErasureStore) {
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
