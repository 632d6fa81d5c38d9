//! Live metrics: the numbers `/metrics` exports (the same registry, rendered on
//! demand), summed into what an operator watches. The page shows them as of its
//! render; the console's script polls `/metrics/data` and charts rates over time.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;
use serde::Serialize;

use super::{Notice, shell};
use crate::{Console, Signed};

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Snapshot {
    /// Milliseconds since the epoch.
    pub t: i64,
    pub requests: f64,
    pub errors: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub in_flight: f64,
    /// Latency percentiles over the process's life, in milliseconds.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub drives_online: f64,
    pub drives_total: f64,
    pub drives_healing: f64,
}

/// `name{labels} value` -> (name, labels, value).
fn sample(line: &str) -> Option<(&str, &str, f64)> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let (head, value) = line.rsplit_once(' ')?;
    let value: f64 = value.trim().parse().ok()?;
    match head.split_once('{') {
        Some((name, rest)) => Some((name, rest.trim_end_matches('}'), value)),
        None => Some((head, "", value)),
    }
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

/// The quantile `q` of summed histogram buckets (upper bound, Prometheus' way).
fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    buckets
        .iter()
        .find(|(_, c)| *c >= q * total)
        .map(|(le, _)| *le)
}

pub fn snapshot(text: &str) -> Snapshot {
    let mut s = Snapshot {
        t: time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000,
        ..Default::default()
    };
    let mut buckets: std::collections::BTreeMap<u64, f64> = Default::default();
    let mut quantiles: [(f64, f64); 2] = [(0.0, 0.0); 2];
    for line in text.lines() {
        let Some((name, labels, v)) = sample(line) else {
            continue;
        };
        match name {
            "hafiz_s3_requests_total" => {
                s.requests += v;
                if label(labels, "status")
                    .and_then(|c| c.parse::<u16>().ok())
                    .is_some_and(|c| c >= 400)
                {
                    s.errors += v;
                }
            }
            "hafiz_s3_received_bytes_total" => s.bytes_in += v,
            "hafiz_s3_sent_bytes_total" => s.bytes_out += v,
            "hafiz_s3_requests_in_flight" => s.in_flight += v,
            "hafiz_drive_online" => {
                s.drives_total += 1.0;
                s.drives_online += v;
            }
            "hafiz_drive_healing" => s.drives_healing += v,
            "hafiz_s3_request_duration_seconds_bucket" => {
                if let Some(le) = label(labels, "le").and_then(|l| {
                    l.parse::<f64>()
                        .ok()
                        .or((l == "+Inf").then_some(f64::INFINITY))
                }) {
                    // Keyed by the bound's bits: f64 is not Ord, finite positive bounds sort as their bits.
                    *buckets.entry(le.to_bits()).or_default() += v;
                }
            }
            "hafiz_s3_request_duration_seconds" => {
                // A summary: the worst operation's quantile stands for all.
                for (i, q) in ["0.5", "0.99"].iter().enumerate() {
                    if label(labels, "quantile") == Some(q) && v.is_finite() {
                        quantiles[i].0 = quantiles[i].0.max(v);
                        quantiles[i].1 = 1.0;
                    }
                }
            }
            _ => {}
        }
    }
    let b: Vec<(f64, f64)> = buckets
        .into_iter()
        .map(|(k, v)| (f64::from_bits(k), v))
        .collect();
    if !b.is_empty() {
        s.p50_ms = quantile(&b, 0.5).map(|x| x * 1000.0);
        s.p99_ms = quantile(&b, 0.99).map(|x| x * 1000.0);
    } else {
        s.p50_ms = (quantiles[0].1 > 0.0).then_some(quantiles[0].0 * 1000.0);
        s.p99_ms = (quantiles[1].1 > 0.0).then_some(quantiles[1].0 * 1000.0);
    }
    s
}

fn current(c: &Console) -> Snapshot {
    c.metrics
        .as_ref()
        .map(|m| snapshot(&m()))
        .unwrap_or_default()
}

/// The heal's progress (admin API GetHealStatus), when the caller may see it.
async fn heal(c: &Console, s: &Signed) -> Option<serde_json::Value> {
    super::identity::admin_json(c, s, axum::http::Method::GET, "/v1/heal", None)
        .await
        .ok()
}

fn heal_line(h: &serde_json::Value) -> String {
    format!(
        "{}: {} checked, {} damaged, {} rebuilt, {} failed",
        h["state"].as_str().unwrap_or("unknown"),
        h["checked"].as_u64().unwrap_or(0),
        h["damaged"].as_u64().unwrap_or(0),
        h["rebuilt"].as_u64().unwrap_or(0),
        h["failed"].as_u64().unwrap_or(0)
    )
}

pub async fn data(State(c): State<Console>, s: Signed) -> Response {
    let mut v = serde_json::to_value(current(&c)).unwrap_or_default();
    if let Some(h) = heal(&c, &s).await {
        v["heal"] = serde_json::Value::String(heal_line(&h));
    }
    Json(v).into_response()
}

pub async fn page(State(c): State<Console>, s: Signed) -> Response {
    let m = current(&c);
    let heal_now = heal(&c, &s)
        .await
        .map(|h| heal_line(&h))
        .unwrap_or_else(|| "—".into());
    let ms = |v: Option<f64>| {
        v.map(|x| format!("{x:.1} ms"))
            .unwrap_or_else(|| "—".into())
    };
    let facts = vec![
        (
            "Requests (since start)",
            format!("{}", m.requests as u64),
            "requests",
        ),
        (
            "Errors (4xx and 5xx)",
            format!("{}", m.errors as u64),
            "errors",
        ),
        ("Bytes in", super::human_size(m.bytes_in as u64), "bytes_in"),
        (
            "Bytes out",
            super::human_size(m.bytes_out as u64),
            "bytes_out",
        ),
        ("In flight", format!("{}", m.in_flight as u64), "in_flight"),
        ("Latency p50", ms(m.p50_ms), "p50_ms"),
        ("Latency p99", ms(m.p99_ms), "p99_ms"),
        (
            "Drives online",
            format!("{} of {}", m.drives_online as u64, m.drives_total as u64),
            "drives",
        ),
        (
            "Drives healing",
            format!("{}", m.drives_healing as u64),
            "healing",
        ),
        ("Heal", heal_now, "heal"),
    ];
    let rows = facts
        .into_iter()
        .map(|(k, v, id)| view! { <tr><th>{k}</th><td id=format!("m-{id}")>{v}</td></tr> })
        .collect::<Vec<_>>();
    let charts = [
        ("rate", "Requests per second"),
        ("error_rate", "Errors per second"),
        ("in_rate", "Bytes in per second"),
        ("out_rate", "Bytes out per second"),
    ]
    .into_iter()
    .map(|(id, title)| {
        view! {
            <figure class="chart">
                <figcaption>{title}" "<span class="last" id=format!("last-{id}")></span></figcaption>
                <svg id=format!("chart-{id}") data-series=id viewBox="0 0 300 80" preserveAspectRatio="none"><polyline points=""></polyline></svg>
            </figure>
        }
    })
    .collect::<Vec<_>>();
    let body = view! {
        <h1>"Metrics"</h1>
        <section id="charts" data-source="/metrics/data" data-every-ms="2000">{charts}</section>
        <table class="facts" id="metrics">{rows}</table>
    }
    .into_any();
    shell("Metrics", Some(&s.session), Notice::None, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_exposition() {
        let text = "# TYPE hafiz_s3_requests_total counter\n\
hafiz_s3_requests_total{op=\"GetObject\",status=\"200\"} 10\n\
hafiz_s3_requests_total{op=\"GetObject\",status=\"404\"} 2\n\
hafiz_s3_requests_total{op=\"PutObject\",status=\"503\"} 1\n\
hafiz_s3_received_bytes_total 2048\n\
hafiz_drive_online{set=\"0\",slot=\"0\"} 1\n\
hafiz_drive_online{set=\"0\",slot=\"1\"} 0\n\
hafiz_s3_request_duration_seconds_bucket{op=\"GetObject\",le=\"0.005\"} 6\n\
hafiz_s3_request_duration_seconds_bucket{op=\"GetObject\",le=\"0.05\"} 12\n\
hafiz_s3_request_duration_seconds_bucket{op=\"GetObject\",le=\"+Inf\"} 13\n";
        let s = snapshot(text);
        assert_eq!((s.requests, s.errors, s.bytes_in), (13.0, 3.0, 2048.0));
        assert_eq!((s.drives_online, s.drives_total), (1.0, 2.0));
        assert_eq!(s.p50_ms, Some(50.0));
        assert_eq!(s.p99_ms, Some(f64::INFINITY));
    }

    #[test]
    fn reads_summaries_too() {
        let text = "hafiz_s3_request_duration_seconds{op=\"a\",quantile=\"0.5\"} 0.002\n\
hafiz_s3_request_duration_seconds{op=\"b\",quantile=\"0.5\"} 0.004\n\
hafiz_s3_request_duration_seconds{op=\"b\",quantile=\"0.99\"} 0.010\n";
        let s = snapshot(text);
        assert_eq!(s.p50_ms, Some(4.0));
        assert_eq!(s.p99_ms, Some(10.0));
    }
}
