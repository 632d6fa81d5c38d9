//! Schedule specs: a cron expression (the `cron` crate's syntax, seconds first, e.g.
//! `0 0 3 * * *`; five-field expressions get a leading `0`) or `every <N><s|m|h|d>`.

use std::str::FromStr;

use hafiz_meta::Millis;

#[derive(Debug, thiserror::Error)]
#[error("invalid schedule {spec:?}: {reason}")]
pub struct ScheduleSpecError {
    pub spec: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub enum ScheduleSpec {
    Every(u64),
    Cron(Box<cron::Schedule>),
}

impl ScheduleSpec {
    pub fn parse(spec: &str) -> Result<ScheduleSpec, ScheduleSpecError> {
        let err = |reason: String| ScheduleSpecError {
            spec: spec.to_string(),
            reason,
        };
        let s = spec.trim();
        if let Some(rest) = s.strip_prefix("every ") {
            let rest = rest.trim();
            let split = rest
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| err("a unit (s, m, h, d) is required".into()))?;
            let (n, unit) = rest.split_at(split);
            let n: u64 = n
                .parse()
                .map_err(|_| err("the interval must be a number".into()))?;
            let unit_ms = match unit.trim() {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                u => return Err(err(format!("unknown unit {u:?}"))),
            };
            let ms = n.saturating_mul(unit_ms);
            if ms < 100 {
                return Err(err("the interval must be at least 100 ms".into()));
            }
            return Ok(ScheduleSpec::Every(ms));
        }
        let fields = s.split_whitespace().count();
        let expr = if fields == 5 {
            format!("0 {s}")
        } else {
            s.to_string()
        };
        cron::Schedule::from_str(&expr)
            .map(|c| ScheduleSpec::Cron(Box::new(c)))
            .map_err(|e| err(e.to_string()))
    }

    /// The latest tick at or before `now`, if any after `since` (exclusive). Missed
    /// ticks collapse into one run: a schedule that was down for a day runs once.
    pub fn due(&self, since: Millis, now: Millis) -> Option<Millis> {
        let tick = match self {
            ScheduleSpec::Every(ms) => {
                let ms = *ms as i64;
                now - now.rem_euclid(ms)
            }
            ScheduleSpec::Cron(c) => {
                // Look back at most a day (and at most 10,000 ticks) for the latest tick.
                let start = since.max(now - 86_400_000);
                let from = chrono::DateTime::from_timestamp_millis(start)?;
                let mut last = None;
                for t in c.after(&from).take(10_000) {
                    let t = t.timestamp_millis();
                    if t > now {
                        break;
                    }
                    last = Some(t);
                }
                last?
            }
        };
        (tick > since).then_some(tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_and_cron_ticks() {
        let e = ScheduleSpec::parse("every 10s").unwrap();
        assert_eq!(e.due(0, 25_000), Some(20_000));
        assert_eq!(e.due(20_000, 25_000), None);
        assert_eq!(e.due(20_000, 30_000), Some(30_000));
        // Five fields: minute-level cron.
        let c = ScheduleSpec::parse("*/5 * * * *").unwrap();
        let t0 = 1_700_000_000_000i64 - 1_700_000_000_000i64 % 300_000;
        assert_eq!(c.due(t0 - 1, t0 + 1000), Some(t0));
        assert_eq!(c.due(t0, t0 + 299_000), None);
        assert_eq!(c.due(t0, t0 + 3_600_000), Some(t0 + 3_600_000));
        for bad in [
            "every",
            "every 5",
            "every 5y",
            "every 10ms",
            "* * *",
            "nonsense",
        ] {
            assert!(ScheduleSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
