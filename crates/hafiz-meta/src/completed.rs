//! Recently completed multipart uploads. A CompleteMultipartUpload retried after it
//! succeeded (its answer lost on the way back) gets the same answer again, as on AWS,
//! instead of NoSuchUpload: the record is written in the batch that completes the
//! upload and read by upload id.
//!
//! Rows of [`crate::kv::Table::Completed`]: `i` + upload id holds the record, and
//! `t` + completion time (big-endian) + upload id orders them for expiry, which each
//! later completion does a little of (see [`EXPIRE_PER_COMMIT`]).

use serde::{Deserialize, Serialize};

use crate::model::{Checksum, Millis};

/// How long a completed upload is remembered.
pub const COMPLETED_TTL: Millis = 24 * 60 * 60 * 1000;

/// Expired records one completion removes: more than one, so that a backlog (after
/// a quiet day) shrinks while uploads go on.
pub(crate) const EXPIRE_PER_COMMIT: usize = 16;

/// What a CompleteMultipartUpload answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletedUpload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    /// The version id it got (`null` outside versioning).
    pub version_id: Option<String>,
    /// Unquoted, `-N` included.
    pub etag: String,
    /// The object's checksum, when the upload asked for one.
    pub checksum: Option<Checksum>,
    pub completed: Millis,
}

impl CompletedUpload {
    /// Whether it is still answered for at `now`.
    pub fn live(&self, now: Millis) -> bool {
        now < self.completed.saturating_add(COMPLETED_TTL)
    }
}

pub(crate) mod rows {
    use crate::model::Millis;

    pub const BY_ID: &[u8] = b"i";
    pub const BY_TIME: &[u8] = b"t";

    pub fn by_id(upload_id: &str) -> Vec<u8> {
        [BY_ID, upload_id.as_bytes()].concat()
    }

    pub fn by_time(completed: Millis, upload_id: &str) -> Vec<u8> {
        [BY_TIME, &completed.to_be_bytes(), upload_id.as_bytes()].concat()
    }

    /// The completion time and upload id of a `by_time` row.
    pub fn parse_by_time(row: &[u8]) -> Option<(Millis, &str)> {
        let rest = row.strip_prefix(BY_TIME)?;
        let (time, id) = rest.split_at_checked(8)?;
        let time = Millis::from_be_bytes(time.try_into().ok()?);
        Some((time, std::str::from_utf8(id).ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_rows_sort_by_time_and_parse_back() {
        let a = rows::by_time(5, "zz");
        let b = rows::by_time(300, "aa");
        assert!(a < b);
        assert_eq!(rows::parse_by_time(&b), Some((300, "aa")));
        assert_eq!(rows::parse_by_time(b"i123"), None);
    }

    #[test]
    fn records_expire_after_a_day() {
        let r = CompletedUpload {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: "u".into(),
            version_id: None,
            etag: "e-1".into(),
            checksum: None,
            completed: 1_000,
        };
        assert!(r.live(1_000 + COMPLETED_TTL - 1));
        assert!(!r.live(1_000 + COMPLETED_TTL));
    }
}
