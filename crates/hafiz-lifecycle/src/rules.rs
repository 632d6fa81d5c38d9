//! What the rules say about one key's versions: which to expire now, and (for the
//! `x-amz-expiration` header) when the current version will expire and by which rule.

use hafiz_meta::{Millis, ObjectVersion, UploadInfo};

use crate::config::{Filter, LifecycleConfig, Rule};

pub use hafiz_meta::days::{after_days, day_millis};

#[cfg(test)]
const DAY: Millis = 86_400_000;

/// Whether a rule's filter selects an object with this key, size and tags.
pub fn selects(f: &Filter, key: &str, size: u64, tags: &[(String, String)]) -> bool {
    key.starts_with(&f.prefix)
        && f.tags.iter().all(|t| tags.contains(t))
        && f.size_greater_than.is_none_or(|gt| size > gt)
        && f.size_less_than.is_none_or(|lt| size < lt)
}

fn selects_version(r: &Rule, v: &ObjectVersion) -> bool {
    r.enabled && selects(&r.filter, &v.key, v.size, &v.tags)
}

/// When the current version `v` expires, and the rule that says so (the earliest).
pub fn current_expiry<'a>(
    cfg: &'a LifecycleConfig,
    v: &ObjectVersion,
) -> Option<(Millis, &'a str)> {
    if v.delete_marker {
        return None;
    }
    cfg.rules
        .iter()
        .filter(|r| selects_version(r, v))
        .filter_map(|r| {
            let e = r.expiration.as_ref()?;
            let at = match (e.days, e.date) {
                (Some(d), _) => after_days(v.last_modified, d),
                (None, Some(date)) => date,
                _ => return None,
            };
            Some((at, r.id.as_str()))
        })
        .min_by_key(|(at, _)| *at)
}

/// The `x-amz-expiration` header value for a current version, if a rule expires it.
pub fn expiration_header(cfg: &LifecycleConfig, v: &ObjectVersion) -> Option<String> {
    let (at, rule) = current_expiry(cfg, v)?;
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(at.max(0) as u64);
    Some(format!(
        "expiry-date=\"{}\", rule-id=\"{}\"",
        httpdate::fmt_http_date(when),
        rule.replace('"', "")
    ))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Expire the current version: removed when unversioned, hidden behind a new
    /// delete marker when versioning is on or suspended.
    ExpireCurrent { key: String, rule: String },
    /// Permanently delete one noncurrent version.
    DeleteVersion {
        key: String,
        version_id: String,
        rule: String,
    },
    /// Remove a delete marker that no longer hides anything.
    RemoveMarker {
        key: String,
        version_id: String,
        rule: String,
    },
    AbortUpload {
        key: String,
        upload_id: String,
        rule: String,
    },
    /// Move one version's data to the tier of `storage_class`.
    Transition {
        key: String,
        version_id: String,
        storage_class: String,
        rule: String,
    },
}

/// What the bucket's transition rules say about one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulePlacement<'a> {
    /// No rule has transitions for it (operator age policies decide).
    Unruled,
    /// Rules have transitions for it, none due yet (policies leave it alone).
    Later,
    /// Of the transitions due, the one due last (the furthest along).
    Due {
        storage_class: &'a str,
        rule: &'a str,
    },
}

/// Where the rules send version `i` of `versions` (newest first) at `now`.
pub fn transition_due<'a>(
    cfg: &'a LifecycleConfig,
    versions: &[ObjectVersion],
    i: usize,
    now: Millis,
) -> RulePlacement<'a> {
    let v = &versions[i];
    if v.delete_marker {
        return RulePlacement::Unruled;
    }
    let mut best: Option<(Millis, &str, &str)> = None;
    let mut any = false;
    for r in cfg.rules.iter().filter(|r| selects_version(r, v)) {
        let due: Vec<(Millis, &str)> = if i == 0 {
            r.transitions
                .iter()
                .filter_map(|t| {
                    let at = match (t.days, t.date) {
                        (Some(d), _) => after_days(v.last_modified, d),
                        (None, Some(date)) => date,
                        _ => return None,
                    };
                    Some((at, t.storage_class.as_str()))
                })
                .collect()
        } else {
            let since = versions[i - 1].last_modified;
            let newer = (i - 1) as u32;
            r.noncurrent_transitions
                .iter()
                .filter(|n| n.newer_noncurrent_versions.is_none_or(|keep| newer >= keep))
                .filter_map(|n| {
                    Some((
                        after_days(since, n.noncurrent_days?),
                        n.storage_class.as_str(),
                    ))
                })
                .collect()
        };
        any |= !due.is_empty();
        for (at, class) in due {
            if at <= now && best.is_none_or(|(b, _, _)| at > b) {
                best = Some((at, class, r.id.as_str()));
            }
        }
    }
    match best {
        Some((_, storage_class, rule)) => RulePlacement::Due {
            storage_class,
            rule,
        },
        None if any => RulePlacement::Later,
        None => RulePlacement::Unruled,
    }
}

/// The actions due at `now` for one key, given all its versions newest first.
pub fn plan_key(cfg: &LifecycleConfig, versions: &[ObjectVersion], now: Millis) -> Vec<Action> {
    let mut out = Vec::new();
    let Some(current) = versions.first() else {
        return out;
    };
    if let Some((at, rule)) = current_expiry(cfg, current)
        && at <= now
    {
        out.push(Action::ExpireCurrent {
            key: current.key.clone(),
            rule: rule.to_string(),
        });
    }
    // Noncurrent versions: version i became noncurrent when version i-1 was written.
    let mut deleted = 0;
    for (i, v) in versions.iter().enumerate().skip(1) {
        let since = versions[i - 1].last_modified;
        let newer_noncurrent = (i - 1) as u32;
        let rule = cfg
            .rules
            .iter()
            .filter(|r| selects_version(r, v))
            .find(|r| {
                r.noncurrent_expiration.as_ref().is_some_and(|n| {
                    n.noncurrent_days
                        .is_some_and(|d| after_days(since, d) <= now)
                        && n.newer_noncurrent_versions
                            .is_none_or(|keep| newer_noncurrent >= keep)
                })
            });
        if let Some(r) = rule {
            deleted += 1;
            out.push(Action::DeleteVersion {
                key: v.key.clone(),
                version_id: v.version_id.clone(),
                rule: r.id.clone(),
            });
        }
    }
    // Transitions of what is not going now.
    let expiring = out.len();
    for (i, v) in versions.iter().enumerate() {
        let gone = out[..expiring].iter().any(|a| match a {
            Action::ExpireCurrent { .. } => i == 0,
            Action::DeleteVersion { version_id, .. } => *version_id == v.version_id,
            _ => false,
        });
        if gone || (i == 0 && current.delete_marker) {
            continue;
        }
        // Emitted even when the version shows the class already: its bytes may
        // still be hot (a PUT naming the class); the scanner compares placements.
        if let RulePlacement::Due {
            storage_class: class,
            rule,
        } = transition_due(cfg, versions, i, now)
        {
            out.push(Action::Transition {
                key: v.key.clone(),
                version_id: v.version_id.clone(),
                storage_class: class.to_string(),
                rule: rule.to_string(),
            });
        }
    }
    // A delete marker left with no versions behind it.
    if current.delete_marker && versions.len() - 1 == deleted {
        let rule = cfg.rules.iter().find(|r| {
            r.enabled
                && current.key.starts_with(&r.filter.prefix)
                && r.filter.tags.is_empty()
                && r.expiration
                    .as_ref()
                    .is_some_and(|e| e.expired_object_delete_marker == Some(true))
        });
        if let Some(r) = rule {
            out.push(Action::RemoveMarker {
                key: current.key.clone(),
                version_id: current.version_id.clone(),
                rule: r.id.clone(),
            });
        }
    }
    out
}

/// Whether an incomplete multipart upload is due for abort at `now`.
pub fn plan_upload(cfg: &LifecycleConfig, u: &UploadInfo, now: Millis) -> Option<Action> {
    let r = cfg.rules.iter().find(|r| {
        r.enabled
            && u.key.starts_with(&r.filter.prefix)
            && r.abort_multipart_days
                .is_some_and(|d| after_days(u.initiated, d) <= now)
    })?;
    Some(Action::AbortUpload {
        key: u.key.clone(),
        upload_id: u.upload_id.clone(),
        rule: r.id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(rules: &str) -> LifecycleConfig {
        LifecycleConfig::from_xml(
            format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>").as_bytes(),
            &[],
        )
        .unwrap()
    }

    fn version(key: &str, id: &str, at: Millis, marker: bool) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version_id: id.into(),
            last_modified: at,
            delete_marker: marker,
            size: 100,
            ..Default::default()
        }
    }

    #[test]
    fn real_days_round_up_to_midnight() {
        // 2024-05-17T10:00:00Z + 1 day -> 2024-05-19T00:00:00Z.
        let t = 1_715_940_000_000;
        assert_eq!(after_days(t, 1), 1_716_076_800_000);
        assert_eq!(after_days(1_716_076_800_000, 1), 1_716_163_200_000);
    }

    #[test]
    fn current_noncurrent_and_marker_actions() {
        let c = cfg(
            r#"<Rule><ID>exp</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>
<Rule><ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>
<Rule><ID>dm</ID><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>
<Rule><ID>off</ID><Filter/><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>"#,
        );
        let d = DAY;
        let now = 10 * d;
        // Current, old enough, under the prefix: expired; elsewhere: not.
        let v = vec![version("logs/a", "v1", 0, false)];
        assert!(
            matches!(&plan_key(&c, &v, now)[..], [Action::ExpireCurrent { rule, .. }] if rule == "exp")
        );
        assert!(plan_key(&c, &[version("data/a", "v1", 0, false)], now).is_empty());
        assert!(
            expiration_header(&c, &v[0])
                .unwrap()
                .contains("rule-id=\"exp\"")
        );
        // Three noncurrent versions, keep the newest one: two go.
        let v = vec![
            version("k", "v4", 4 * d, false),
            version("k", "v3", 3 * d, false),
            version("k", "v2", 2 * d, false),
            version("k", "v1", d, false),
        ];
        let ids: Vec<_> = plan_key(&c, &v, now)
            .into_iter()
            .filter_map(|a| match a {
                Action::DeleteVersion { version_id, .. } => Some(version_id),
                _ => None,
            })
            .collect();
        assert_eq!(ids, vec!["v2", "v1"]);
        // Not yet a day noncurrent: nothing.
        assert!(
            plan_key(&c, &v, 4 * d + 1).iter().all(
                |a| !matches!(a, Action::DeleteVersion { version_id, .. } if version_id == "v3")
            )
        );
        // A lone delete marker goes; one hiding a version it keeps does not.
        let lone = vec![version("k", "m", d, true)];
        assert!(
            matches!(&plan_key(&c, &lone, now)[..], [Action::RemoveMarker { rule, .. }] if rule == "dm")
        );
        let hiding = vec![version("k", "m", 5 * d, true), version("k", "v1", d, false)];
        assert!(
            plan_key(&c, &hiding, now).is_empty(),
            "the newest noncurrent is kept"
        );
    }

    #[test]
    fn tag_and_size_filters() {
        let c = cfg(
            r#"<Rule><ID>t</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>tier</Key><Value>tmp</Value></Tag><ObjectSizeGreaterThan>50</ObjectSizeGreaterThan><ObjectSizeLessThan>200</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"#,
        );
        let mut v = version("p/x", "v", 0, false);
        assert!(current_expiry(&c, &v).is_none(), "untagged");
        v.tags = vec![("tier".into(), "tmp".into())];
        assert!(current_expiry(&c, &v).is_some());
        v.size = 300;
        assert!(current_expiry(&c, &v).is_none(), "too large");
    }
}
