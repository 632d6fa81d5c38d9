//! One sink's bounded queue, with per-sink drop counting and warnings that stay
//! readable when a sink is down under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::AuditRecord;

/// How many records may wait for one sink.
pub(super) const QUEUE: usize = 8192;

/// A dropped record is warned about at most this often per sink; the metric counts
/// every one.
const WARN_EVERY_MS: i64 = 10_000;

pub(super) type Rx = mpsc::Receiver<Arc<AuditRecord>>;

pub(super) struct SinkQueue {
    tx: mpsc::Sender<Arc<AuditRecord>>,
    stats: Arc<SinkStats>,
}

impl SinkQueue {
    pub(super) fn new(sink: &'static str) -> (SinkQueue, Rx, Arc<SinkStats>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(SinkStats::new(sink));
        (
            SinkQueue {
                tx,
                stats: stats.clone(),
            },
            rx,
            stats,
        )
    }

    pub(super) fn offer(&self, r: Arc<AuditRecord>) {
        // Counted before the send so that the sink never sees it below zero.
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(r).is_err() {
            self.stats.pending.fetch_sub(1, Ordering::Relaxed);
            self.stats.dropped(1, "queue full");
        }
    }

    /// Records accepted and not yet delivered or lost.
    pub(super) fn pending(&self) -> u64 {
        self.stats.pending.load(Ordering::Relaxed)
    }
}

/// Lost, delivered and pending records of one sink.
pub(super) struct SinkStats {
    sink: &'static str,
    pending: AtomicU64,
    unreported: AtomicU64,
    last_warn_ms: AtomicI64,
}

impl SinkStats {
    fn new(sink: &'static str) -> SinkStats {
        SinkStats {
            sink,
            pending: AtomicU64::new(0),
            unreported: AtomicU64::new(0),
            last_warn_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// Records taken from the queue that could not be delivered.
    pub(super) fn failed(&self, n: u64, why: &'static str) {
        self.pending.fetch_sub(n, Ordering::Relaxed);
        self.dropped(n, why);
    }

    fn dropped(&self, n: u64, why: &'static str) {
        metrics::counter!("hafiz_audit_dropped_total", "sink" => self.sink).increment(n);
        self.unreported.fetch_add(n, Ordering::Relaxed);
        let now = crate::timefmt::now_millis();
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= WARN_EVERY_MS
            && self
                .last_warn_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let count = self.unreported.swap(0, Ordering::Relaxed);
            tracing::warn!(
                sink = self.sink,
                dropped = count,
                reason = why,
                "audit records dropped (warned at most every 10 s; see hafiz_audit_dropped_total)"
            );
        }
    }

    pub(super) fn delivered(&self, n: u64) {
        self.pending.fetch_sub(n, Ordering::Relaxed);
        metrics::counter!("hafiz_audit_records_total", "sink" => self.sink).increment(n);
    }
}
