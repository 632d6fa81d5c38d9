//! A circuit breaker per target: after [`TRIP_AFTER`] failures in a row the target
//! is left alone for a cool-down (doubling while it keeps failing, up to
//! [`MAX_COOL_DOWN`]); then one attempt is let through (half open), which closes
//! the breaker or opens it again. Redelivery jobs of a target whose breaker is open
//! fail fast instead of each waiting for a timeout.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TRIP_AFTER: u32 = 5;
const FIRST_COOL_DOWN: Duration = Duration::from_secs(1);
pub const MAX_COOL_DOWN: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Breaker {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// Times it opened since it last closed (the cool-down doubles with each).
    trips: u32,
}

impl Breaker {
    /// None when an attempt may go ahead; otherwise how long the breaker stays open.
    pub fn wait(&self) -> Option<Duration> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let until = s.open_until?;
        until.checked_duration_since(Instant::now())
    }

    pub fn is_open(&self) -> bool {
        self.wait().is_some()
    }

    pub fn success(&self) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = State::default();
    }

    /// Record a failure; true when it opened the breaker.
    pub fn failure(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.failures += 1;
        if s.failures < TRIP_AFTER {
            return false;
        }
        let cool = FIRST_COOL_DOWN
            .saturating_mul(1 << s.trips.min(10))
            .min(MAX_COOL_DOWN);
        s.open_until = Some(Instant::now() + cool);
        s.trips += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_after_failures_in_a_row_and_closes_on_success() {
        let b = Breaker::default();
        for _ in 0..TRIP_AFTER - 1 {
            assert!(!b.failure());
        }
        assert!(!b.is_open());
        assert!(b.failure());
        let w = b.wait().expect("open");
        assert!(w <= FIRST_COOL_DOWN && w > FIRST_COOL_DOWN / 2);
        // Half open: the next failure opens it again, for longer.
        assert!(b.failure());
        assert!(b.wait().unwrap() > FIRST_COOL_DOWN);
        b.success();
        assert!(!b.is_open());
        assert!(!b.failure());
    }
}
