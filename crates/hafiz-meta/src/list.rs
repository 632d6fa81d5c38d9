//! Listing as a bounded prefix scan: keys in UTF-8 byte order, one entry per key (its
//! newest version), keys below a delimiter rolled up into common prefixes that are
//! skipped over with one seek rather than walked.

use crate::error::MetaResult;
use crate::keys;
use crate::kv::{Kv, Table};
use crate::model::{ObjectVersion, UploadInfo};
use crate::store::decode;

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Exclusive start: a key or a common prefix returned by an earlier page.
    pub after: Option<String>,
    pub max: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ListedEntry {
    Object(Box<ObjectVersion>),
    Prefix(String),
}

impl ListedEntry {
    pub fn name(&self) -> &str {
        match self {
            ListedEntry::Object(o) => &o.key,
            ListedEntry::Prefix(p) => p,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub entries: Vec<ListedEntry>,
    pub truncated: bool,
}

/// The common prefix `key` rolls up into, if any.
fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let delim = delimiter.filter(|d| !d.is_empty())?;
    // `key` may be a client-supplied marker that does not start with the prefix.
    let rest = key.strip_prefix(prefix)?;
    rest.find(delim)
        .map(|i| &key[..prefix.len() + i + delim.len()])
}

pub(crate) fn list_objects(kv: &Kv, bucket: &str, q: &ListQuery) -> MetaResult<ListPage> {
    let bucket_prefix = keys::bucket_prefix(bucket);
    let mut scan_prefix = bucket_prefix.clone();
    scan_prefix.extend_from_slice(q.prefix.as_bytes());
    let mut from = match &q.after {
        Some(after) if after.as_str() >= q.prefix.as_str() => {
            // After a rolled-up prefix, skip everything under it; after a key, skip its versions.
            if common_prefix(after, &q.prefix, q.delimiter.as_deref()) == Some(after.as_str()) {
                keys::after_prefix(bucket, after)
            } else {
                keys::after_object(bucket, after)
            }
        }
        _ => scan_prefix.clone(),
    };
    let mut page = ListPage::default();
    if q.max == 0 {
        return Ok(page);
    }
    'restart: loop {
        // The newest version of a key comes first; older rows of the same key that
        // follow are stepped over in place (a seek costs far more than stepping over
        // a row, and most keys have one version), or skipped with one seek once a key
        // turns out to have many. Rolled-up prefixes are skipped with one seek.
        let mut last_key: Option<String> = None;
        let mut stepped = 0;
        for row in kv.scan(Table::Objects, &scan_prefix, &from) {
            let (k, v) = row?;
            let Some(key) = keys::object_key_of(bucket_prefix.len(), &k) else {
                continue;
            };
            if last_key.as_deref() == Some(key) {
                stepped += 1;
                if stepped > MAX_STEPS {
                    from = keys::after_object(bucket, key);
                    continue 'restart;
                }
                continue;
            }
            stepped = 0;
            if let Some(cp) = common_prefix(key, &q.prefix, q.delimiter.as_deref()) {
                if page.entries.len() == q.max {
                    page.truncated = true;
                    return Ok(page);
                }
                let cp = cp.to_string();
                from = keys::after_prefix(bucket, &cp);
                page.entries.push(ListedEntry::Prefix(cp));
                continue 'restart;
            }
            let version: ObjectVersion = decode(&v)?;
            last_key = Some(key.to_string());
            // A key whose newest version is a delete marker is not listed.
            if version.delete_marker {
                continue;
            }
            if page.entries.len() == q.max {
                page.truncated = true;
                return Ok(page);
            }
            page.entries.push(ListedEntry::Object(Box::new(version)));
        }
        return Ok(page);
    }
}

/// Rows of one key stepped over before seeking past the key instead.
const MAX_STEPS: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct VersionListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    /// With `key_marker`: start after this version of that key.
    pub version_id_marker: Option<String>,
    pub max: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VersionEntry {
    Version {
        version: Box<ObjectVersion>,
        is_latest: bool,
    },
    Prefix(String),
}

#[derive(Debug, Clone, Default)]
pub struct VersionListPage {
    /// Keys in order, the versions of each newest first, prefixes where they fall.
    pub entries: Vec<VersionEntry>,
    pub truncated: bool,
}

/// ListObjectVersions: every version row (delete markers included) in row order.
/// `after_version` is the row key of the version-id marker, when one was given.
pub(crate) fn list_versions(
    kv: &Kv,
    bucket: &str,
    q: &VersionListQuery,
    after_version: Option<Vec<u8>>,
) -> MetaResult<VersionListPage> {
    let bucket_prefix = keys::bucket_prefix(bucket);
    let mut scan_prefix = bucket_prefix.clone();
    scan_prefix.extend_from_slice(q.prefix.as_bytes());
    // Starting inside a key: its first row seen is not its latest version.
    let mut last_key: Option<String> = None;
    let mut from = match (&q.key_marker, after_version) {
        (Some(k), Some(mut row)) => {
            row.push(0);
            last_key = Some(k.clone());
            row
        }
        (Some(k), None) if k.as_str() >= q.prefix.as_str() => {
            if common_prefix(k, &q.prefix, q.delimiter.as_deref()) == Some(k.as_str()) {
                keys::after_prefix(bucket, k)
            } else {
                keys::after_object(bucket, k)
            }
        }
        _ => scan_prefix.clone(),
    };
    let mut page = VersionListPage::default();
    if q.max == 0 {
        return Ok(page);
    }
    'restart: loop {
        for row in kv.scan(Table::Objects, &scan_prefix, &from) {
            let (k, v) = row?;
            let Some(key) = keys::object_key_of(bucket_prefix.len(), &k) else {
                continue;
            };
            if page.entries.len() == q.max {
                page.truncated = true;
                return Ok(page);
            }
            let first_of_key = last_key.as_deref() != Some(key);
            if first_of_key && let Some(cp) = common_prefix(key, &q.prefix, q.delimiter.as_deref())
            {
                let cp = cp.to_string();
                from = keys::after_prefix(bucket, &cp);
                page.entries.push(VersionEntry::Prefix(cp));
                last_key = None;
                continue 'restart;
            }
            let version: ObjectVersion = decode(&v)?;
            last_key = Some(key.to_string());
            page.entries.push(VersionEntry::Version {
                version: Box::new(version),
                is_latest: first_of_key,
            });
        }
        return Ok(page);
    }
}

#[derive(Debug, Clone, Default)]
pub struct UploadListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max: usize,
}

#[derive(Debug, Clone, Default)]
pub struct UploadListPage {
    pub uploads: Vec<UploadInfo>,
    /// The last entry returned (an upload's key or a common prefix): where the next
    /// page starts.
    pub next_key_marker: Option<String>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
}

pub(crate) fn list_uploads(
    kv: &Kv,
    bucket: &str,
    q: &UploadListQuery,
) -> MetaResult<UploadListPage> {
    let bucket_prefix = keys::bucket_prefix(bucket);
    let mut scan_prefix = bucket_prefix.clone();
    scan_prefix.extend_from_slice(q.prefix.as_bytes());
    let mut from = match (&q.key_marker, &q.upload_id_marker) {
        (Some(k), Some(id)) => {
            let mut f = keys::upload_row_key(bucket, k, id);
            f.push(0);
            f
        }
        // A marker that is a rolled-up prefix skips everything under it.
        (Some(k), None)
            if common_prefix(k, &q.prefix, q.delimiter.as_deref()) == Some(k.as_str()) =>
        {
            keys::after_prefix(bucket, k)
        }
        (Some(k), None) => keys::after_object(bucket, k),
        _ => scan_prefix.clone(),
    };
    let mut page = UploadListPage::default();
    if q.max == 0 {
        return Ok(page);
    }
    'restart: loop {
        for row in kv.scan(Table::Uploads, &scan_prefix, &from) {
            let (k, v) = row?;
            let Some(key) = keys::object_key_of(bucket_prefix.len(), &k) else {
                continue;
            };
            if page.uploads.len() + page.prefixes.len() == q.max {
                page.truncated = true;
                return Ok(page);
            }
            if let Some(cp) = common_prefix(key, &q.prefix, q.delimiter.as_deref()) {
                let cp = cp.to_string();
                from = keys::after_prefix(bucket, &cp);
                page.next_key_marker = Some(cp.clone());
                page.prefixes.push(cp);
                continue 'restart;
            }
            let upload: UploadInfo = decode(&v)?;
            page.next_key_marker = Some(upload.key.clone());
            page.uploads.push(upload);
        }
        return Ok(page);
    }
}
