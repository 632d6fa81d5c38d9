//! Per-phase results: latency percentiles, throughput, the human table and the JSON line.

use std::time::Duration;

/// What one phase (one op at one size and concurrency) measured.
#[derive(Debug, Clone)]
pub struct Stats {
    pub op: String,
    pub size: u64,
    pub concurrency: usize,
    /// Successful operations.
    pub ops: u64,
    pub errors: u64,
    /// Payload bytes moved (request bodies for writes, response bodies for reads).
    pub bytes: u64,
    pub elapsed: Duration,
    /// Latencies of the successful operations, sorted ascending.
    pub latencies: Vec<Duration>,
}

impl Stats {
    pub fn new(
        op: impl Into<String>,
        size: u64,
        concurrency: usize,
        errors: u64,
        bytes: u64,
        elapsed: Duration,
        mut latencies: Vec<Duration>,
    ) -> Stats {
        latencies.sort_unstable();
        Stats {
            op: op.into(),
            size,
            concurrency,
            ops: latencies.len() as u64,
            errors,
            bytes,
            elapsed,
            latencies,
        }
    }

    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Nearest-rank percentile in milliseconds (0 when nothing succeeded).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let n = self.latencies.len();
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1].as_secs_f64() * 1000.0
    }

    /// The JSON line, fields in a fixed order (op, size, concurrency, ops, rates,
    /// percentiles, errors; then secs and the optional label).
    pub fn json(&self, label: Option<&str>) -> String {
        let f = |x: f64, digits: usize| {
            serde_json::Number::from_f64(x)
                .map(|_| format!("{x:.digits$}"))
                .unwrap_or_else(|| "null".into())
        };
        let mut line = format!(
            "{{\"op\":{},\"size\":{},\"concurrency\":{},\"ops\":{},\"ops_per_sec\":{},\"mib_per_sec\":{},\"p50_ms\":{},\"p99_ms\":{},\"p999_ms\":{},\"errors\":{},\"secs\":{}",
            serde_json::Value::from(self.op.as_str()),
            self.size,
            self.concurrency,
            self.ops,
            f(self.ops_per_sec(), 1),
            f(self.mib_per_sec(), 2),
            f(self.percentile_ms(0.50), 3),
            f(self.percentile_ms(0.99), 3),
            f(self.percentile_ms(0.999), 3),
            self.errors,
            f(self.elapsed.as_secs_f64(), 3),
        );
        if let Some(l) = label {
            line.push_str(&format!(",\"label\":{}", serde_json::Value::from(l)));
        }
        line.push('}');
        line
    }
}

pub fn print_header() {
    println!(
        "{:<16} {:>9} {:>5} {:>9} {:>8} {:>11} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "op",
        "size",
        "conc",
        "ops",
        "secs",
        "ops/s",
        "MiB/s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "errors"
    );
}

pub fn print_row(s: &Stats) {
    println!(
        "{:<16} {:>9} {:>5} {:>9} {:>8.2} {:>11.1} {:>10.2} {:>9.3} {:>9.3} {:>9.3} {:>7}",
        s.op,
        format_size(s.size),
        s.concurrency,
        s.ops,
        s.elapsed.as_secs_f64(),
        s.ops_per_sec(),
        s.mib_per_sec(),
        s.percentile_ms(0.50),
        s.percentile_ms(0.99),
        s.percentile_ms(0.999),
        s.errors
    );
}

/// Parses `4KiB`, `1MiB`, `64MiB`, `1GiB`, `4K`, `4KB` (decimal), `100`, `0`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad size {s:?}: expected e.g. 4KiB, 1MiB, 64MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "ki" | "kib" => 1 << 10,
        "m" | "mi" | "mib" => 1 << 20,
        "g" | "gi" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        u => return Err(format!("bad size unit {u:?} in {s:?}")),
    };
    Ok((n * mult as f64).round() as u64)
}

pub fn format_size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (m, u) in UNITS {
        if n >= m && n.is_multiple_of(m) {
            return format!("{}{u}", n / m);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("10KB").unwrap(), 10_000);
        assert!(parse_size("4XB").is_err());
        assert_eq!(format_size(64 << 20), "64MiB");
        assert_eq!(format_size(4096), "4KiB");
        assert_eq!(format_size(1000), "1000B");
    }

    #[test]
    fn percentiles() {
        let lat: Vec<Duration> = (1..=1000).rev().map(Duration::from_millis).collect();
        let s = Stats::new("get", 1, 1, 0, 0, Duration::from_secs(1), lat);
        assert_eq!(s.percentile_ms(0.5), 500.0);
        assert_eq!(s.percentile_ms(0.99), 990.0);
        assert_eq!(s.percentile_ms(0.999), 999.0);
        assert_eq!(s.ops_per_sec(), 1000.0);
        let v: serde_json::Value = serde_json::from_str(&s.json(Some("x\"y"))).unwrap();
        assert_eq!(v["op"], "get");
        assert_eq!(v["p99_ms"], 990.0);
        assert_eq!(v["label"], "x\"y");
        assert!(
            s.json(None)
                .starts_with("{\"op\":\"get\",\"size\":1,\"concurrency\":1,")
        );
    }
}
