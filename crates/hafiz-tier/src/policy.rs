//! Operator-wide placement by age: tiers with `after_days` form a ladder (hot, then
//! the tier with the smallest `after_days`, and so on), and a version belongs on the
//! highest rung its age reached. Age counts from the last modification, or from
//! the last promotion by reads, so that a promoted object is not sent back at once.
//! A version a bucket rule placed in a tier off the ladder, or further down than
//! its age says, is left where it is: policies only move data colder.

use std::sync::Arc;

use hafiz_meta::days::after_days;
use hafiz_meta::{Millis, ObjectData, ObjectVersion};

use crate::registry::Tier;

/// The tier the age policies put `v` in at `now`, if that is not where it is.
pub fn policy_target(tiers: &[Arc<Tier>], v: &ObjectVersion, now: Millis) -> Option<Arc<Tier>> {
    if v.delete_marker || matches!(v.data, ObjectData::Inline(_)) {
        return None;
    }
    let mut ladder: Vec<(u32, &Arc<Tier>)> = tiers
        .iter()
        .filter_map(|t| t.config.after_days.map(|d| (d, t)))
        .collect();
    ladder.sort_by_key(|(d, _)| *d);
    let since = v.last_modified.max(v.promoted_at.unwrap_or(0));
    let (due_days, target) = ladder
        .iter()
        .rev()
        .find(|(d, _)| after_days(since, *d) <= now)?;
    match v.tier_copy() {
        None => Some((*target).clone()),
        Some(copy) if copy.tier == target.config.name => None,
        Some(copy) => {
            // Move only from a rung above the target (a warmer tier on the ladder).
            let here = ladder.iter().find(|(_, t)| t.config.name == copy.tier)?;
            (here.0 < *due_days).then(|| (*target).clone())
        }
    }
}

/// Whether a restored temporary copy of `v` has outlived its days.
pub fn restore_expired(v: &ObjectVersion, now: Millis) -> bool {
    v.restore
        .as_ref()
        .is_some_and(|r| !r.ongoing && r.expiry.is_some_and(|e| e <= now))
}
