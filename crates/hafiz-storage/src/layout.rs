//! How drives form erasure sets: MinIO-style `{a...b}` expansion of drive arguments,
//! the default parity per set size, and the split of many drives into equal sets.

use crate::error::{StorageError, StorageResult};

/// Expand every `{a...b}` range in `arg` (zero padding follows `a`'s width).
pub fn expand_ellipsis(arg: &str) -> StorageResult<Vec<String>> {
    let Some(open) = arg.find('{') else {
        return Ok(vec![arg.to_string()]);
    };
    let close = arg[open..]
        .find('}')
        .map(|c| open + c)
        .ok_or_else(|| StorageError::Layout(format!("unclosed '{{' in {arg:?}")))?;
    let inner = &arg[open + 1..close];
    let Some((a, b)) = inner.split_once("...") else {
        return Err(StorageError::Layout(format!(
            "expected {{a...b}} in {arg:?}"
        )));
    };
    let (lo, hi): (u64, u64) = match (a.parse(), b.parse()) {
        (Ok(lo), Ok(hi)) if lo <= hi => (lo, hi),
        _ => {
            return Err(StorageError::Layout(format!(
                "bad range {{{inner}}} in {arg:?}"
            )));
        }
    };
    let width = if a.starts_with('0') && a.len() > 1 {
        a.len()
    } else {
        0
    };
    let mut out = Vec::new();
    for n in lo..=hi {
        let head = format!("{}{:0width$}", &arg[..open], n, width = width);
        for tail in expand_ellipsis(&arg[close + 1..])? {
            out.push(format!("{head}{tail}"));
        }
    }
    Ok(out)
}

/// Parity drives for a set of `n` drives: 1→0, 2→1, 3→1, 4→2, 5–7→2, 8–16→4. Sets of
/// 4 and up lose no data with two drives gone, which covers a drive dying during the
/// rebuild of another; from 8 drives, 4 parity keeps that margin per half of the set.
pub fn default_parity(n: usize) -> usize {
    match n {
        0 | 1 => 0,
        2 | 3 => 1,
        4..=7 => 2,
        _ => 4,
    }
}

/// The size of each erasure set for `n` drives: all drives in one set up to 16, else
/// the largest divisor of `n` between 4 and 16 (sets must be equal).
pub fn set_size(n: usize) -> StorageResult<usize> {
    if n == 0 {
        return Err(StorageError::Layout("no drives given".into()));
    }
    if n <= 16 {
        return Ok(n);
    }
    (4..=16)
        .rev()
        .find(|s| n.is_multiple_of(*s))
        .ok_or_else(|| {
            StorageError::Layout(format!(
                "{n} drives cannot be split into equal erasure sets of 4 to 16 drives"
            ))
        })
}

/// Write quorum: k, or k+1 when k = m, so that two disjoint halves of a set can never
/// both accept writes (same reasoning as MinIO).
pub fn write_quorum(k: usize, m: usize) -> usize {
    if k == m { k + 1 } else { k }
}

pub fn validate_parity(n: usize, m: usize) -> StorageResult<()> {
    if n > 1 && m > n / 2 {
        return Err(StorageError::Layout(format!(
            "parity {m} is more than half of a {n}-drive set"
        )));
    }
    if n == 1 && m > 0 {
        return Err(StorageError::Layout(
            "a single drive cannot hold parity".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsis() {
        assert_eq!(expand_ellipsis("/d").unwrap(), vec!["/d"]);
        assert_eq!(
            expand_ellipsis("/mnt/disk{1...3}").unwrap(),
            vec!["/mnt/disk1", "/mnt/disk2", "/mnt/disk3"]
        );
        assert_eq!(
            expand_ellipsis("/d{01...02}/x").unwrap(),
            vec!["/d01/x", "/d02/x"]
        );
        assert_eq!(expand_ellipsis("/n{1...2}/d{1...2}").unwrap().len(), 4);
        assert!(expand_ellipsis("/d{3...1}").is_err());
        assert!(expand_ellipsis("/d{1..3}").is_err());
        assert!(expand_ellipsis("/d{1...3").is_err());
    }

    #[test]
    fn parity_and_sets() {
        let table: Vec<_> = (1..=16).map(default_parity).collect();
        assert_eq!(table, vec![0, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
        assert_eq!(set_size(6).unwrap(), 6);
        assert_eq!(set_size(32).unwrap(), 16);
        assert_eq!(set_size(24).unwrap(), 12);
        assert!(set_size(17).is_err());
        assert_eq!(write_quorum(2, 2), 3);
        assert_eq!(write_quorum(4, 2), 4);
        assert!(validate_parity(4, 3).is_err());
        assert!(validate_parity(4, 2).is_ok());
    }
}
