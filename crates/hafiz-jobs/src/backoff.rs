use std::time::Duration;

use rand::Rng;

/// Exponential backoff with full jitter: attempt n waits a uniform random time in
/// `[base * 2^(n-1) / 2, base * 2^(n-1)]`, capped at `max`. Half the window is kept
/// fixed so that a retry is never immediate, and the other half spreads the retries
/// of jobs that failed together (one broken target, one busy drive).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(600),
        }
    }
}

impl Backoff {
    /// The delay after the `attempt`-th failure (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let ceiling = self
            .base
            .saturating_mul(1u32 << exp.min(20))
            .min(self.max)
            .max(Duration::from_millis(1));
        let floor = ceiling / 2;
        rand::thread_rng().gen_range(floor..=ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_attempts_within_jittered_bounds_and_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for _ in 0..200 {
            let d1 = b.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = b.delay(3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(b.delay(40) <= Duration::from_secs(1));
        }
        // Jitter: not every delay is the same.
        let set: std::collections::HashSet<_> = (0..50).map(|_| b.delay(4)).collect();
        assert!(set.len() > 1);
    }
}
