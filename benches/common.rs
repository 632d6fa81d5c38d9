//! Timing helpers shared by the harness-less benches (`harness = false`, plain `fn main()`).
//!
//! Machines here are noisy (2 shared cores, other builds running), so:
//! - every case is timed with the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`
//!   through the safe `cpu-time` crate), which does not count time the thread spent
//!   preempted; wall time is kept too, for information;
//! - each case runs `rounds` rounds of a calibrated number of iterations and keeps the
//!   best (minimum) round, the usual estimator of the undisturbed cost;
//! - cases are measured round-robin (round 1 of every case, then round 2, ...), so a
//!   noisy period hits the baseline (memcpy) and the candidates alike, and the ratios
//!   against the baseline measured in the same run are what to compare across machines.
//!
//! `HAFIZ_BENCH_QUICK=1` (or running the binary without `--bench`, as `cargo test
//! --all-targets` does) selects a seconds-long smoke mode for CI: same code paths and
//! correctness asserts, numbers not meaningful.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;

/// How long and how often to measure.
pub struct Config {
    pub quick: bool,
    pub rounds: usize,
    pub round_target: Duration,
}

impl Config {
    pub fn from_env() -> Config {
        let env_quick = std::env::var("HAFIZ_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        // `cargo bench` passes `--bench`; `cargo test --benches/--all-targets` does not.
        let bench_mode = std::env::args().any(|a| a == "--bench");
        if env_quick || !bench_mode {
            Config {
                quick: true,
                rounds: 3,
                round_target: Duration::from_millis(5),
            }
        } else {
            Config {
                quick: false,
                rounds: 15,
                round_target: Duration::from_millis(40),
            }
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "mode={} rounds={} round_target={}ms timing=thread-cpu best-of-rounds (wall kept for info)",
            if self.quick {
                "QUICK (smoke, numbers not meaningful)"
            } else {
                "full"
            },
            self.rounds,
            self.round_target.as_millis()
        )
    }
}

/// One measured operation.
pub struct Case<'a> {
    pub name: String,
    f: Box<dyn FnMut() + 'a>,
    iters: u64,
    best_cpu_ns: f64,
    best_wall_ns: f64,
}

impl<'a> Case<'a> {
    pub fn new(name: impl Into<String>, f: impl FnMut() + 'a) -> Case<'a> {
        Case {
            name: name.into(),
            f: Box::new(f),
            iters: 0,
            best_cpu_ns: f64::INFINITY,
            best_wall_ns: f64::INFINITY,
        }
    }

    /// Best thread-CPU nanoseconds per iteration (the figure every ratio uses).
    pub fn ns(&self) -> f64 {
        self.best_cpu_ns
    }

    /// Best wall nanoseconds per iteration (information only).
    pub fn wall_ns(&self) -> f64 {
        self.best_wall_ns
    }

    /// Warm up, then pick an iteration count so one round lasts about `target`.
    fn calibrate(&mut self, target: Duration) {
        (self.f)();
        let mut iters: u64 = 1;
        loop {
            let start = Instant::now();
            for _ in 0..iters {
                (self.f)();
            }
            let elapsed = start.elapsed();
            if elapsed >= target / 4 || iters >= 1 << 30 {
                let per_iter = elapsed.as_secs_f64() / iters as f64;
                self.iters = ((target.as_secs_f64() / per_iter.max(1e-9)).ceil() as u64).max(1);
                return;
            }
            iters *= 2;
        }
    }

    fn round(&mut self) {
        let wall = Instant::now();
        let cpu = ThreadTime::now();
        for _ in 0..self.iters {
            (self.f)();
        }
        let cpu = cpu.elapsed();
        let wall = wall.elapsed();
        let n = self.iters as f64;
        self.best_cpu_ns = self.best_cpu_ns.min(cpu.as_nanos() as f64 / n);
        self.best_wall_ns = self.best_wall_ns.min(wall.as_nanos() as f64 / n);
    }
}

/// Calibrate every case, then measure them round-robin.
pub fn run(cfg: &Config, cases: &mut [Case<'_>]) {
    for case in cases.iter_mut() {
        case.calibrate(cfg.round_target);
    }
    for _ in 0..cfg.rounds {
        for case in cases.iter_mut() {
            case.round();
        }
    }
}

/// GB/s (10^9 bytes per second) for `bytes` processed in `ns` nanoseconds.
pub fn gbps(bytes: usize, ns: f64) -> f64 {
    bytes as f64 / ns
}

/// Deterministic pseudo-random bytes (xorshift64*), so no `rand` dependency and
/// incompressible-looking input for every run.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The baseline: copy `src` into `dst` (both pre-allocated), as memcpy does.
pub fn memcpy_case<'a>(name: &str, src: &'a [u8], dst: &'a mut [u8]) -> Case<'a> {
    Case::new(name, move || {
        dst.copy_from_slice(black_box(src));
        black_box(&mut *dst);
    })
}

/// Minimal JSON string escaping for the summary lines (names are ASCII anyway).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A finite float for JSON (3 significant decimals is plenty for GB/s and ratios).
pub fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".to_owned()
    }
}
