//! Human-readable views of the API's JSON answers. They read the answers as loose
//! JSON rather than typed structs: a field the server adds later, or leaves out, must
//! not make the CLI fail where `--json` would still work.

use serde_json::Value;

/// Aligned columns separated by two spaces, header first.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let headers = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (cell, w) in row.iter().zip(&widths) {
                line.push_str(&format!("{cell:<w$}  "));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A list answer, or a single entity shown as a one-row table.
fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// A scalar or list of scalars as one cell; absent and null are `-`.
fn cell(v: &Value, key: &str) -> String {
    scalar(v.get(key).unwrap_or(&Value::Null))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) if a.is_empty() => "-".into(),
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(","),
        Value::Object(_) => v.to_string(),
    }
}

fn bytes_cell(v: Option<&Value>) -> String {
    match v.and_then(Value::as_u64) {
        Some(n) => human_bytes(n),
        None => "-".into(),
    }
}

/// The default account is the empty name; a blank cell would read as missing.
fn account_name(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) if s.is_empty() => "(default)".into(),
        Some(other) => scalar(other),
        None => "-".into(),
    }
}

fn quota_cell(quota: Option<&Value>) -> String {
    let Some(q) = quota.filter(|q| q.is_object()) else {
        return "-".into();
    };
    let mut parts = Vec::new();
    if let Some(b) = q.get("max_bytes").and_then(Value::as_u64) {
        parts.push(human_bytes(b));
    }
    if let Some(o) = q.get("max_objects").and_then(Value::as_u64) {
        parts.push(format!("{o} objects"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

pub fn users(v: &Value) -> String {
    let mut t = Table::new(&["NAME", "ACCOUNT", "GROUPS", "POLICIES", "CREATED"]);
    for u in items(v) {
        t.row(vec![
            cell(u, "name"),
            account_name(u.get("account")),
            cell(u, "groups"),
            cell(u, "policies"),
            cell(u, "created"),
        ]);
    }
    t.render()
}

pub fn keys(v: &Value) -> String {
    let mut t = Table::new(&["ACCESS KEY ID", "USER", "STATUS", "CREATED"]);
    for k in items(v) {
        t.row(vec![
            cell(k, "access_key_id"),
            cell(k, "user"),
            cell(k, "status"),
            cell(k, "created"),
        ]);
    }
    t.render()
}

pub fn new_key(v: &Value) -> String {
    let mut t = Table::new(&["ACCESS KEY ID", "SECRET KEY", "USER", "STATUS"]);
    t.row(vec![
        cell(v, "access_key_id"),
        cell(v, "secret_key"),
        cell(v, "user"),
        cell(v, "status"),
    ]);
    t.render()
}

pub fn groups(v: &Value) -> String {
    let mut t = Table::new(&["NAME", "MEMBERS", "POLICIES", "CREATED"]);
    for g in items(v) {
        t.row(vec![
            cell(g, "name"),
            cell(g, "members"),
            cell(g, "policies"),
            cell(g, "created"),
        ]);
    }
    t.render()
}

pub fn policies(v: &Value) -> String {
    let mut t = Table::new(&["NAME", "ATTACHMENTS", "CREATED"]);
    for p in items(v) {
        t.row(vec![
            cell(p, "name"),
            cell(p, "attachments"),
            cell(p, "created"),
        ]);
    }
    t.render()
}

/// One policy with its document, which is what one usually wants to read.
pub fn policy(v: &Value) -> String {
    let document = v.get("document").unwrap_or(&Value::Null);
    format!("{}\n{}\n", policies(v), pretty(document))
}

pub fn buckets(v: &Value) -> String {
    let mut t = Table::new(&[
        "NAME",
        "ACCOUNT",
        "VERSIONING",
        "OBJECT LOCK",
        "OBJECTS",
        "BYTES",
        "QUOTA",
    ]);
    for b in items(v) {
        let usage = b.get("usage");
        t.row(vec![
            cell(b, "name"),
            account_name(b.get("account")),
            cell(b, "versioning"),
            cell(b, "object_lock"),
            usage.map_or_else(|| "-".into(), |u| cell(u, "objects")),
            bytes_cell(usage.and_then(|u| u.get("bytes"))),
            quota_cell(b.get("quota")),
        ]);
    }
    t.render()
}

pub fn quota(v: &Value) -> String {
    let mut t = Table::new(&["MAX BYTES", "MAX OBJECTS"]);
    t.row(vec![bytes_cell(v.get("max_bytes")), cell(v, "max_objects")]);
    t.render()
}

pub fn accounts(v: &Value) -> String {
    let mut t = Table::new(&[
        "NAME", "ID", "USERS", "BUCKETS", "OBJECTS", "BYTES", "QUOTA",
    ]);
    for a in items(v) {
        let usage = a.get("usage");
        t.row(vec![
            account_name(a.get("name")),
            cell(a, "id"),
            cell(a, "users"),
            cell(a, "buckets"),
            usage.map_or_else(|| "-".into(), |u| cell(u, "objects")),
            bytes_cell(usage.and_then(|u| u.get("bytes"))),
            quota_cell(a.get("quota")),
        ]);
    }
    t.render()
}

pub fn rate_limits(v: &Value) -> String {
    let mut t = Table::new(&["SCOPE", "NAME", "REQUESTS/S", "BYTES/S"]);
    for r in items(v) {
        t.row(vec![
            cell(r, "scope"),
            cell(r, "name"),
            cell(r, "requests_per_second"),
            bytes_cell(r.get("bytes_per_second")),
        ]);
    }
    t.render()
}

pub fn server_info(v: &Value) -> String {
    let drives = v.get("drives");
    let online = drives.map_or_else(|| "-".into(), |d| cell(d, "online"));
    let total = drives.map_or_else(|| "-".into(), |d| cell(d, "total"));
    let uptime = v
        .get("uptime_seconds")
        .and_then(Value::as_u64)
        .map_or_else(|| "-".into(), human_duration);
    let mut t = Table::new(&["FIELD", "VALUE"]);
    for (k, val) in [
        ("version", cell(v, "version")),
        ("region", cell(v, "region")),
        ("s3 address", cell(v, "s3_address")),
        ("admin address", cell(v, "admin_address")),
        ("uptime", uptime),
        ("buckets", cell(v, "buckets")),
        ("objects", cell(v, "objects")),
        ("bytes", bytes_cell(v.get("bytes"))),
        ("drives online", format!("{online}/{total}")),
    ] {
        t.row(vec![k.into(), val]);
    }
    t.render()
}

pub fn cluster(v: &Value) -> String {
    let raft = v.get("raft").cloned().unwrap_or(Value::Null);
    let mut r = Table::new(&[
        "RAFT NODE",
        "ADDRESS",
        "ROLE",
        "STATE",
        "TERM",
        "APPLIED",
        "LAG",
    ]);
    for m in raft.get("members").map(items).unwrap_or_default() {
        r.row(vec![
            cell(m, "id"),
            cell(m, "rpc_address"),
            cell(m, "role"),
            cell(m, "state"),
            cell(m, "term"),
            cell(m, "last_applied"),
            cell(m, "lag"),
        ]);
    }
    format!(
        "cluster {} · leader {} · term {} · this node {} ({}), log {} applied {}\n{}\n{}",
        cell(&raft, "cluster_id"),
        cell(&raft, "leader"),
        cell(&raft, "term"),
        cell(&raft, "node_id"),
        cell(&raft, "state"),
        cell(&raft, "last_log_index"),
        cell(&raft, "last_applied"),
        r.render(),
        drives_table(v)
    )
}

fn drives_table(v: &Value) -> String {
    let mut t = Table::new(&[
        "NODE",
        "ADDRESS",
        "STATE",
        "SET",
        "SLOT",
        "DRIVE",
        "DRIVE STATE",
        "FREE",
    ]);
    let nodes = v.get("nodes").map(items).unwrap_or_default();
    for n in nodes {
        let drives = n.get("drives").map(items).unwrap_or_default();
        if drives.is_empty() {
            t.row(vec![
                cell(n, "id"),
                cell(n, "address"),
                cell(n, "state"),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for d in drives {
            t.row(vec![
                cell(n, "id"),
                cell(n, "address"),
                cell(n, "state"),
                cell(d, "set"),
                cell(d, "slot"),
                cell(d, "path"),
                cell(d, "state"),
                bytes_cell(d.get("free_bytes")),
            ]);
        }
    }
    t.render()
}

pub fn heal_status(v: &Value) -> String {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    for key in [
        "state", "bucket", "dry_run", "checked", "damaged", "rebuilt", "failed", "started",
        "finished",
    ] {
        t.row(vec![key.replace('_', " "), cell(v, key)]);
    }
    t.render()
}

pub fn aliases(v: &Value) -> String {
    let mut t = Table::new(&["NAME", "URL", "ACCESS KEY", "REGION"]);
    for a in items(v) {
        t.row(vec![
            cell(a, "name"),
            cell(a, "url"),
            cell(a, "access_key"),
            cell(a, "region"),
        ]);
    }
    t.render()
}

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("a JSON value always serializes")
}

fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s:02}s"),
        (0, _, _) => format!("{h}h{m:02}m"),
        _ => format!("{d}d{h:02}h"),
    }
}

pub fn jobs(v: &Value) -> String {
    let mut t = Table::new(&[
        "ID",
        "KIND",
        "STATE",
        "ATTEMPTS",
        "NEXT RUN",
        "UPDATED",
        "LAST ERROR",
    ]);
    for j in v.get("jobs").map(items).unwrap_or_default() {
        t.row(vec![
            cell(j, "id"),
            cell(j, "kind"),
            cell(j, "state"),
            format!("{}/{}", cell(j, "attempts"), cell(j, "max_attempts")),
            cell(j, "next_run"),
            cell(j, "updated"),
            cell(j, "last_error"),
        ]);
    }
    let mut c = Table::new(&["KIND", "STATE", "COUNT"]);
    for n in v.get("counts").map(items).unwrap_or_default() {
        c.row(vec![cell(n, "kind"), cell(n, "state"), cell(n, "count")]);
    }
    format!("{}\n{}", t.render(), c.render())
}

pub fn job(v: &Value) -> String {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    for key in [
        "id",
        "kind",
        "state",
        "priority",
        "attempts",
        "max_attempts",
        "timeout_seconds",
        "next_run",
        "created",
        "updated",
        "depends_on",
        "leased_by",
        "lease_until",
        "last_error",
        "result",
        "payload",
        "sealed",
    ] {
        t.row(vec![key.replace('_', " "), cell(v, key)]);
    }
    t.render()
}

fn tier_where(t: &Value) -> String {
    match t.get("type").and_then(Value::as_str) {
        Some("local") => t
            .get("drives")
            .map(items)
            .unwrap_or_default()
            .iter()
            .map(|d| scalar(d))
            .collect::<Vec<_>>()
            .join(","),
        _ => format!(
            "{}/{}/{}",
            cell(t, "endpoint"),
            cell(t, "bucket"),
            cell(t, "prefix")
        ),
    }
}

pub fn tiers(v: &Value) -> String {
    let mut t = Table::new(&[
        "NAME",
        "CLASS",
        "TYPE",
        "ARCHIVE",
        "AFTER DAYS",
        "OBJECTS",
        "BYTES",
        "WHERE",
    ]);
    for r in v.get("tiers").map(items).unwrap_or_default() {
        t.row(vec![
            cell(r, "name"),
            cell(r, "storage_class"),
            cell(r, "type"),
            cell(r, "archive"),
            cell(r, "after_days"),
            cell(r, "objects"),
            bytes_cell(r.get("bytes")),
            tier_where(r),
        ]);
    }
    t.render()
}

pub fn notify_targets(v: &Value) -> String {
    let mut t = Table::new(&["ARN", "KIND", "ENDPOINT", "DESTINATION", "QUEUED"]);
    for r in v.get("targets").map(items).unwrap_or_default() {
        t.row(vec![
            cell(r, "arn"),
            cell(r, "kind"),
            cell(r, "endpoint"),
            cell(r, "destination"),
            cell(r, "queued"),
        ]);
    }
    t.render()
}

pub fn replication_targets(v: &Value) -> String {
    let mut t = Table::new(&["ARN", "ENDPOINT", "BUCKET", "QUEUED", "QUEUED BYTES"]);
    for r in v.get("targets").map(items).unwrap_or_default() {
        t.row(vec![
            cell(r, "arn"),
            cell(r, "endpoint"),
            cell(r, "bucket"),
            cell(r, "queued"),
            cell(r, "queued_bytes"),
        ]);
    }
    t.render()
}

pub fn kms_keys(v: &Value) -> String {
    let mut t = Table::new(&[
        "ID",
        "ENABLED",
        "BUILTIN",
        "VERSIONS",
        "CURRENT",
        "DESCRIPTION",
    ]);
    for k in v.get("keys").map(items).unwrap_or_default() {
        let versions = k.get("versions").map(items).unwrap_or_default();
        t.row(vec![
            cell(k, "id"),
            cell(k, "enabled"),
            cell(k, "builtin"),
            versions.len().to_string(),
            versions.last().map_or_else(|| "-".into(), |x| scalar(x)),
            cell(k, "description"),
        ]);
    }
    t.render()
}

pub fn kms_key(v: &Value) -> String {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    for key in ["id", "description", "enabled", "builtin", "created"] {
        t.row(vec![key.to_string(), cell(v, key)]);
    }
    let versions = v.get("versions").map(items).unwrap_or_default();
    for (i, version) in versions.iter().enumerate() {
        let label = if i + 1 == versions.len() {
            "version (current)"
        } else {
            "version"
        };
        t.row(vec![label.to_string(), scalar(version)]);
    }
    t.render()
}

pub fn kms_status(v: &Value) -> String {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    for key in ["master_key_id", "keys"] {
        t.row(vec![key.to_string(), cell(v, key)]);
    }
    t.render()
}

pub fn replication_target(v: &Value) -> String {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    for key in [
        "arn",
        "id",
        "endpoint",
        "bucket",
        "region",
        "access_key",
        "timeout_ms",
        "queued",
        "queued_bytes",
    ] {
        if v.get(key).is_some_and(|x| !x.is_null() && x != "") {
            t.row(vec![key.to_string(), cell(v, key)]);
        }
    }
    t.render()
}

pub fn notify_target(v: &Value) -> String {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    for key in [
        "arn",
        "id",
        "kind",
        "endpoint",
        "destination",
        "routing_key",
        "format",
        "username",
        "has_password",
        "has_hmac_secret",
        "timeout_ms",
        "max_attempts",
        "queued",
    ] {
        if v.get(key).is_some_and(|x| !x.is_null() && x != "") {
            t.row(vec![key.to_string(), cell(v, key)]);
        }
    }
    if let Some(routes) = v
        .get("routes")
        .filter(|r| r.as_array().is_some_and(|a| !a.is_empty()))
    {
        t.row(vec!["routes".into(), routes.to_string()]);
    }
    t.render()
}

pub fn tier(v: &Value) -> String {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    for key in [
        "name",
        "storage_class",
        "type",
        "archive",
        "after_days",
        "promote_reads",
        "endpoint",
        "bucket",
        "prefix",
        "access_key",
        "objects",
        "bytes",
    ] {
        if v.get(key).is_some_and(|x| !x.is_null()) {
            t.row(vec![key.to_string(), cell(v, key)]);
        }
    }
    if v.get("type").and_then(Value::as_str) == Some("local") {
        t.row(vec!["drives".into(), tier_where(v)]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn users_are_aligned_columns() {
        let v = json!([
            {"name": "alice", "id": "AIDA1", "account": "", "arn": "arn:aws:iam::000000000000:user/alice",
             "created": "2026-01-02T03:04:05Z", "groups": ["ops", "dev"], "policies": [], "inline_policies": []},
            {"name": "bob-the-builder", "id": "AIDA2", "account": "acme", "arn": "x",
             "created": "2026-02-03T04:05:06Z", "groups": [], "policies": ["readonly"], "inline_policies": []}
        ]);
        assert_eq!(
            users(&v),
            "NAME             ACCOUNT    GROUPS   POLICIES  CREATED\n\
             alice            (default)  ops,dev  -         2026-01-02T03:04:05Z\n\
             bob-the-builder  acme       -        readonly  2026-02-03T04:05:06Z\n"
        );
    }

    #[test]
    fn buckets_show_human_sizes_and_quota() {
        let v = json!([{
            "name": "photos", "account": "acme", "created": "2026-01-01T00:00:00Z",
            "versioning": null, "object_lock": false,
            "usage": {"bytes": 1536, "objects": 3},
            "quota": {"max_bytes": 10485760, "max_objects": null}
        }]);
        assert_eq!(
            buckets(&v),
            "NAME    ACCOUNT  VERSIONING  OBJECT LOCK  OBJECTS  BYTES    QUOTA\n\
             photos  acme     -           no           3        1.5 KiB  10.0 MiB\n"
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
        assert_eq!(human_duration(59), "59s");
        assert_eq!(human_duration(3 * 86_400 + 7200), "3d02h");
    }
}
