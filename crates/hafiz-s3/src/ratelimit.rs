//! Rate limits per access key and per bucket: token buckets for requests and for
//! bytes, configured through the admin API (rows in the IAM table) and reloaded when
//! IAM changes.
//!
//! Hand-written rather than `governor`: bytes are charged after the fact (a
//! download's length is known once it is answered), so a bucket may go into debt and
//! later requests wait until it is repaid, which a GCRA cell check does not model.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hafiz_meta::Metadata;
use hafiz_meta::iam::{RateLimit, RateScope};

/// The longest a client is told to wait, and so the deepest debt a key or bucket can
/// run into: a misconfigured or abused limit never locks anyone out for longer.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The smallest request rate a limit may set (one request in 100 s).
pub const MIN_REQUEST_RATE: f64 = 0.01;

/// One token bucket: `rate` tokens a second up to `capacity`. Tokens may go below
/// zero (debt) when a charge is larger than what is left.
#[derive(Debug, Clone)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: f64, now: Instant) -> TokenBucket {
        // One second's worth of burst, and at least one whole request.
        let capacity = rate.max(1.0);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }

    /// How long until `need` tokens are there (zero: they are), at most MAX_WAIT.
    fn wait_for(&self, need: f64) -> Duration {
        if self.tokens >= need {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64((need - self.tokens) / self.rate)
                .unwrap_or(MAX_WAIT)
                .min(MAX_WAIT)
        }
    }

    /// Take `n` tokens; the debt this may leave is bounded by MAX_WAIT's worth.
    fn take(&mut self, n: f64) {
        self.tokens = (self.tokens - n).max(-self.rate * MAX_WAIT.as_secs_f64());
    }
}

/// The buckets of one limited key or bucket.
#[derive(Debug)]
struct Limited {
    requests: Option<TokenBucket>,
    bytes: Option<TokenBucket>,
}

impl Limited {
    fn new(l: &RateLimit, now: Instant) -> Limited {
        Limited {
            requests: l
                .requests_per_second
                .filter(|r| *r > 0.0)
                .map(|r| TokenBucket::new(r, now)),
            bytes: l
                .bytes_per_second
                .filter(|b| *b > 0)
                .map(|b| TokenBucket::new(b as f64, now)),
        }
    }

    /// How long the caller must wait before this request may start.
    fn wait(&mut self, now: Instant) -> Duration {
        let mut wait = Duration::ZERO;
        if let Some(r) = &mut self.requests {
            r.refill(now);
            wait = wait.max(r.wait_for(1.0));
        }
        if let Some(b) = &mut self.bytes {
            b.refill(now);
            // Bytes may be owed: a request waits until the debt is repaid.
            wait = wait.max(b.wait_for(0.0));
        }
        wait
    }

    fn take(&mut self) {
        if let Some(r) = &mut self.requests {
            r.take(1.0);
        }
    }

    fn charge(&mut self, bytes: u64) {
        if let Some(b) = &mut self.bytes {
            b.take(bytes as f64);
        }
    }
}

#[derive(Default)]
struct Table {
    limits: HashMap<(RateScope, String), Limited>,
}

/// The limiter shared by every request.
pub struct RateLimiter {
    table: Mutex<Table>,
    /// One reload at a time; requests meanwhile use the table they find.
    reloading: AtomicBool,
    /// Whether any limit is configured: requests skip the lock when none is.
    any: AtomicBool,
    /// The IAM generation the table was loaded at (u64::MAX: never loaded); IAM's
    /// generation moves on every IAM or rate-limit change.
    seen: AtomicU64,
}

impl Default for RateLimiter {
    fn default() -> RateLimiter {
        RateLimiter {
            table: Mutex::default(),
            reloading: AtomicBool::new(false),
            any: AtomicBool::new(false),
            seen: AtomicU64::new(u64::MAX),
        }
    }
}

/// A request refused for its rate: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowDown {
    pub retry_after: Duration,
}

impl SlowDown {
    /// `Retry-After` in whole seconds, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

impl RateLimiter {
    /// Load the configured limits again when IAM has changed since the last load.
    pub async fn refresh(&self, meta: &dyn Metadata) {
        let generation = meta.iam_generation();
        if self.seen.load(Ordering::Acquire) == generation
            || self
                .reloading
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        match meta.rate_limits().await {
            Ok(limits) => self.install(generation, &limits, Instant::now()),
            Err(e) => tracing::warn!(error = %e, "cannot load rate limits; keeping the old ones"),
        }
        self.reloading.store(false, Ordering::Release);
    }

    fn install(&self, generation: u64, limits: &[RateLimit], now: Instant) {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = HashMap::new();
        for l in limits {
            let id = (l.scope, l.name.clone());
            let fresh = Limited::new(l, now);
            // A key whose limits did not change keeps its tokens (and its debt).
            let kept = t.limits.remove(&id).filter(|old| {
                old.requests.as_ref().map(|b| b.rate) == fresh.requests.as_ref().map(|b| b.rate)
                    && old.bytes.as_ref().map(|b| b.rate) == fresh.bytes.as_ref().map(|b| b.rate)
            });
            next.insert(id, kept.unwrap_or(fresh));
        }
        t.limits = next;
        self.any.store(!t.limits.is_empty(), Ordering::Release);
        self.seen.store(generation, Ordering::Release);
    }

    /// Admit a request signed with `key` (None: anonymous) to `bucket` ("" for
    /// service-level requests), or say how long to wait. Both limits must admit it;
    /// a request token is taken only when both do. Bytes are charged afterwards, as
    /// they move ([`RateLimiter::charge`]).
    pub fn admit(&self, key: Option<&str>, bucket: &str) -> Result<(), SlowDown> {
        self.admit_at(key, bucket, Instant::now())
    }

    fn admit_at(&self, key: Option<&str>, bucket: &str, now: Instant) -> Result<(), SlowDown> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let ids = scopes(key, bucket);
        let mut wait = Duration::ZERO;
        for id in ids.iter().flatten() {
            if let Some(l) = t.limits.get_mut(id) {
                wait = wait.max(l.wait(now));
            }
        }
        if !wait.is_zero() {
            return Err(SlowDown { retry_after: wait });
        }
        for id in ids.iter().flatten() {
            if let Some(l) = t.limits.get_mut(id) {
                l.take();
            }
        }
        Ok(())
    }

    /// Charge bytes sent in a response (known only once it is answered).
    pub fn charge(&self, key: Option<&str>, bucket: &str, bytes_out: u64) {
        if bytes_out == 0 || !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        for id in scopes(key, bucket).iter().flatten() {
            if let Some(l) = t.limits.get_mut(id) {
                l.charge(bytes_out);
            }
        }
    }
}

fn scopes(key: Option<&str>, bucket: &str) -> [Option<(RateScope, String)>; 2] {
    [
        key.map(|k| (RateScope::Key, k.to_string())),
        (!bucket.is_empty()).then(|| (RateScope::Bucket, bucket.to_string())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(scope: RateScope, name: &str, rps: Option<f64>, bps: Option<u64>) -> RateLimit {
        RateLimit {
            scope,
            name: name.into(),
            requests_per_second: rps,
            bytes_per_second: bps,
        }
    }

    #[test]
    fn requests_beyond_the_burst_wait_for_refill() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        l.install(1, &[limit(RateScope::Key, "K", Some(5.0), None)], t0);
        for _ in 0..5 {
            assert_eq!(l.admit_at(Some("K"), "b", t0), Ok(()));
        }
        let e = l.admit_at(Some("K"), "b", t0).unwrap_err();
        assert!((e.retry_after.as_secs_f64() - 0.2).abs() < 1e-9, "{e:?}");
        assert_eq!(e.retry_after_secs(), 1);
        // Another key and an unlimited bucket are not affected.
        assert_eq!(l.admit_at(Some("other"), "b", t0), Ok(()));
        // 0.2 s later one request's token is back, and only one.
        let t1 = t0 + Duration::from_millis(200);
        assert_eq!(l.admit_at(Some("K"), "b", t1), Ok(()));
        assert!(l.admit_at(Some("K"), "b", t1).is_err());
    }

    #[test]
    fn bytes_debt_blocks_until_repaid() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        l.install(1, &[limit(RateScope::Bucket, "b", None, Some(1000))], t0);
        // A download of 3000 bytes is admitted, then owed.
        assert_eq!(l.admit_at(None, "b", t0), Ok(()));
        l.charge(None, "b", 3000);
        let e = l.admit_at(None, "b", t0).unwrap_err();
        assert!((e.retry_after.as_secs_f64() - 2.0).abs() < 1e-9, "{e:?}");
        assert_eq!(e.retry_after_secs(), 2);
        assert!(
            l.admit_at(None, "b", t0 + Duration::from_millis(1999))
                .is_err()
        );
        assert_eq!(l.admit_at(None, "b", t0 + Duration::from_secs(2)), Ok(()));
        // Other buckets never notice.
        assert_eq!(l.admit_at(None, "c", t0), Ok(()));
    }

    #[test]
    fn a_refusal_takes_no_tokens_and_reload_keeps_unchanged_state() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        let limits = [
            limit(RateScope::Key, "K", Some(1.0), None),
            limit(RateScope::Bucket, "b", Some(2.0), None),
        ];
        l.install(1, &limits, t0);
        assert_eq!(l.admit_at(Some("K"), "b", t0), Ok(()));
        // The key is out; the bucket must not pay for the refused request.
        assert!(l.admit_at(Some("K"), "b", t0).is_err());
        assert_eq!(l.admit_at(Some("J"), "b", t0), Ok(()));
        assert!(l.admit_at(Some("J"), "b", t0).is_err());
        // Reloading the same limits does not hand out a fresh burst.
        l.install(2, &limits, t0);
        assert!(l.admit_at(Some("K"), "", t0).is_err());
        // Removing them lifts them.
        l.install(3, &[], t0);
        assert_eq!(l.admit_at(Some("K"), "b", t0), Ok(()));
    }

    #[test]
    fn absurd_charges_and_rates_wait_at_most_an_hour() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        l.install(
            1,
            &[
                limit(RateScope::Bucket, "b", None, Some(1)),
                limit(RateScope::Key, "K", Some(1e-30), None),
            ],
            t0,
        );
        l.charge(None, "b", u64::MAX);
        let e = l.admit_at(None, "b", t0).unwrap_err();
        assert_eq!(e.retry_after, MAX_WAIT);
        // The debt is bounded too: an hour later the bucket is usable again.
        assert_eq!(l.admit_at(None, "b", t0 + MAX_WAIT), Ok(()));
        assert_eq!(l.admit_at(Some("K"), "", t0), Ok(()));
        assert_eq!(
            l.admit_at(Some("K"), "", t0).unwrap_err().retry_after,
            MAX_WAIT
        );
    }
}
