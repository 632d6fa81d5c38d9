//! Row-key encoding. Object rows are `bucket 0x00 key 0x00 version-order`, so a prefix
//! scan over `bucket 0x00` yields keys in UTF-8 byte order (what S3 listing needs) and
//! the versions of one key newest first. Keys containing NUL are refused at the S3
//! layer, which keeps the separator unambiguous.

use crate::model::{NULL_VERSION, ObjectVersion};

pub const SEP: u8 = 0;

pub fn bucket_prefix(bucket: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1);
    k.extend_from_slice(bucket.as_bytes());
    k.push(SEP);
    k
}

/// `bucket 0x00 key 0x00`: the prefix of every version row of one key.
pub fn object_key_prefix(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k.push(SEP);
    k
}

/// Newest first: the inverted order sorts later versions before earlier ones.
pub fn object_row_key(bucket: &str, key: &str, order: u64, version_id: &str) -> Vec<u8> {
    let mut k = object_key_prefix(bucket, key);
    k.extend_from_slice(&(u64::MAX - order).to_be_bytes());
    k.extend_from_slice(version_id.as_bytes());
    k
}

/// The row of a version: where it sorts among the versions of its key.
pub fn version_row_key(bucket: &str, v: &ObjectVersion) -> Vec<u8> {
    object_row_key(bucket, &v.key, v.sort_order(), &v.version_id)
}

/// Whether a row (of a key whose prefix is `prefix_len` bytes) holds the `null` version:
/// minted ids are 32 hex digits, so the suffix alone tells, without decoding the row.
pub fn is_null_row(prefix_len: usize, row: &[u8]) -> bool {
    row.len() == prefix_len + 8 + NULL_VERSION.len() && row.ends_with(NULL_VERSION.as_bytes())
}

/// The first row key after every version of `key` (and before any longer key).
pub fn after_object(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k.push(SEP + 1);
    k
}

/// The first row key after every key that starts with `prefix`. 0xFF never occurs in
/// UTF-8, so it sorts after any continuation of the prefix.
pub fn after_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    k.extend_from_slice(prefix.as_bytes());
    k.push(0xFF);
    k
}

/// The object key inside a row key of `bucket` (None if the row is malformed).
pub fn object_key_of(bucket_prefix_len: usize, row: &[u8]) -> Option<&str> {
    let rest = row.get(bucket_prefix_len..)?;
    let end = rest.iter().position(|b| *b == SEP)?;
    std::str::from_utf8(&rest[..end]).ok()
}

pub fn upload_row_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = object_key_prefix(bucket, key);
    k.extend_from_slice(upload_id.as_bytes());
    k
}

pub fn part_prefix(upload_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(upload_id.len() + 5);
    k.extend_from_slice(upload_id.as_bytes());
    k.push(SEP);
    k
}

pub fn part_row_key(upload_id: &str, number: u32) -> Vec<u8> {
    let mut k = part_prefix(upload_id);
    k.extend_from_slice(&number.to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sort_in_key_order_then_newest_first() {
        let mut rows = [
            object_row_key("b", "a/b", 5, "v"),
            object_row_key("b", "a", 1, "v"),
            object_row_key("b", "a", 9, "v"),
            object_row_key("b", "a-", 1, "v"),
            object_row_key("b", "é", 1, "v"),
            object_row_key("b", "z", 1, "v"),
        ];
        rows.sort();
        let order: Vec<_> = rows
            .iter()
            .map(|r| object_key_of(2, r).unwrap().to_string())
            .collect();
        assert_eq!(order, ["a", "a", "a-", "a/b", "z", "é"]);
        assert!(rows[0] < rows[1]);
        assert_eq!(rows[0], object_row_key("b", "a", 9, "v"));
    }

    #[test]
    fn after_bounds_skip_exactly_what_they_should() {
        let a = object_row_key("b", "a", 3, "x");
        let a_child = object_row_key("b", "a/c", 3, "x");
        let ab = object_row_key("b", "a\u{1}", 3, "x");
        assert!(a < after_object("b", "a"));
        assert!(ab >= after_object("b", "a"));
        assert!(a_child < after_prefix("b", "a/"));
        assert!(object_row_key("b", "a0", 1, "x") > after_prefix("b", "a/"));
        // a bucket whose name extends another never leaks into its scan
        assert!(!object_row_key("bb", "a", 1, "x").starts_with(&bucket_prefix("b")));
    }
}
