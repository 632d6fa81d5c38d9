//! Export of the file sink's records between two instants as one CloudTrail log
//! file document, `{"Records":[…]}`.
//!
//! Blocking and streaming: records are copied line by line from the files to the
//! writer, never collected, so an export of any size runs in constant memory (call
//! it from `spawn_blocking`). Files are read oldest first: rotated files by the
//! millis in their names, then `audit.log`. Within a file records are in the order
//! they were written, which is the order requests finished; `eventTime` is when a
//! request started, so a long request may follow shorter ones that began after it,
//! as in CloudTrail's own files.
//!
//! It is safe while the server writes: every file is opened before any is read, and
//! an open file stays readable when it is rotated or removed meanwhile.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use hafiz_meta::Millis;
use serde::Deserialize;

use super::file::{CURRENT, ROTATED_PREFIX, ROTATED_SUFFIX};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{value:?} is not an RFC 3339 time (e.g. 2026-11-24T12:00:00Z)")]
    Time { value: String },
    #[error("the export range is empty: from ({from}) is after to ({to})")]
    Range { from: Millis, to: Millis },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the export: {0}")]
    Write(std::io::Error),
}

/// What an export wrote and what it could not read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportStats {
    /// Records written (those with `from <= eventTime < to`).
    pub records: u64,
    /// Lines that were not a JSON object with an RFC 3339 `eventTime`, such as a
    /// line cut short by a crash; left out of the export.
    pub skipped: u64,
}

/// Milliseconds since the epoch of an RFC 3339 time (`2026-11-24T12:00:00Z`, with
/// or without fractions, `Z` or an offset), as `from` and `to` are given.
pub fn parse_time(s: &str) -> Result<Millis, ExportError> {
    crate::timefmt::parse_iso8601(s).ok_or_else(|| ExportError::Time {
        value: s.to_string(),
    })
}

/// Writes the records of `dir` (the `--audit-dir`) with `from <= eventTime < to`
/// (epoch milliseconds) to `out` as `{"Records":[…]}`.
pub fn export<W: Write + ?Sized>(
    dir: &Path,
    from: Millis,
    to: Millis,
    out: &mut W,
) -> Result<ExportStats, ExportError> {
    if from > to {
        return Err(ExportError::Range { from, to });
    }
    let files = open_files(dir, from)?;
    let mut out = std::io::BufWriter::new(out);
    let mut stats = ExportStats::default();
    out.write_all(b"{\"Records\":[")
        .map_err(ExportError::Write)?;
    for (path, file) in files {
        copy_records(&path, file, from, to, &mut out, &mut stats)?;
    }
    out.write_all(b"\n]}\n").map_err(ExportError::Write)?;
    out.flush().map_err(ExportError::Write)?;
    Ok(stats)
}

/// The files that may hold records at or after `from`, oldest first, all open.
fn open_files(dir: &Path, from: Millis) -> Result<Vec<(PathBuf, File)>, ExportError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Read { path, source }
    };
    // Opened first: if it is rotated while the directory is listed, the listing
    // shows it under its new name as well, and the duplicate is recognised below.
    let current_path = dir.join(CURRENT);
    let current = match File::open(&current_path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(read_err(&current_path)(e)),
    };
    let current_id = match &current {
        Some(f) => Some(file_id(f).map_err(read_err(&current_path))?),
        None => None,
    };
    let mut rotated = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
        let entry = entry.map_err(read_err(dir))?;
        let name = entry.file_name();
        let Some(millis) = name
            .to_str()
            .and_then(|n| n.strip_prefix(ROTATED_PREFIX)?.strip_suffix(ROTATED_SUFFIX))
            .and_then(|m| m.parse::<Millis>().ok())
        else {
            continue;
        };
        // Every record in it was written, so its request started, before the file
        // was rotated at `millis`.
        if millis < from {
            continue;
        }
        rotated.push((millis, entry.path()));
    }
    rotated.sort();
    let mut files = Vec::with_capacity(rotated.len() + 1);
    for (_, path) in rotated {
        let file = match File::open(&path) {
            Ok(f) => f,
            // Removed by retention since the listing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(read_err(&path)(e)),
        };
        if current_id.is_some() && current_id == Some(file_id(&file).map_err(read_err(&path))?) {
            continue;
        }
        files.push((path, file));
    }
    if let Some(f) = current {
        files.push((current_path, f));
    }
    Ok(files)
}

fn file_id(f: &File) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = f.metadata()?;
    Ok((m.dev(), m.ino()))
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "eventTime")]
    event_time: String,
}

fn copy_records<W: Write>(
    path: &Path,
    file: File,
    from: Millis,
    to: Millis,
    out: &mut W,
    stats: &mut ExportStats,
) -> Result<(), ExportError> {
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut skipped = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| ExportError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        let record = line.trim_ascii();
        if record.is_empty() {
            continue;
        }
        // Parsing the whole line, not only eventTime, keeps a truncated or otherwise
        // broken line from corrupting the exported document.
        let time = serde_json::from_slice::<Probe>(record)
            .ok()
            .and_then(|p| crate::timefmt::parse_iso8601(&p.event_time));
        let Some(time) = time else {
            skipped += 1;
            continue;
        };
        if time < from || time >= to {
            continue;
        }
        let sep: &[u8] = if stats.records == 0 { b"\n" } else { b",\n" };
        out.write_all(sep)
            .and_then(|_| out.write_all(record))
            .map_err(ExportError::Write)?;
        stats.records += 1;
    }
    if skipped > 0 {
        tracing::warn!(file = %path.display(), skipped, "audit export skipped malformed lines");
        stats.skipped += skipped;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_795_521_600_000; // 2026-11-24T12:00:00Z

    fn line(id: &str, at: Millis) -> String {
        serde_json::json!({
            "eventTime": crate::timefmt::iso8601(at),
            "requestID": id,
            "eventName": "PutObject",
        })
        .to_string()
            + "\n"
    }

    fn ids(doc: &[u8]) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(doc).expect("valid JSON");
        v["Records"]
            .as_array()
            .expect("Records array")
            .iter()
            .map(|r| r["requestID"].as_str().unwrap().to_string())
            .collect()
    }

    fn run(dir: &Path, from: Millis, to: Millis) -> (Vec<String>, ExportStats) {
        let mut out = Vec::new();
        let stats = export(dir, from, to, &mut out).unwrap();
        (ids(&out), stats)
    }

    /// Three generations of files, written out of name order on purpose.
    fn three_files(dir: &Path) {
        std::fs::write(
            dir.join("audit.log"),
            line("e", T0 + 4000) + &line("f", T0 + 5000),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("audit-{}.log", T0 + 3500)),
            line("c", T0 + 2000) + &line("d", T0 + 3000),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("audit-{}.log", T0 + 1500)),
            line("a", T0) + &line("b", T0 + 1000),
        )
        .unwrap();
        std::fs::write(dir.join("unrelated.txt"), "not a record\n").unwrap();
        std::fs::write(dir.join("audit-old.log"), line("zz", T0)).unwrap();
    }

    #[test]
    fn records_come_in_file_order_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        three_files(dir.path());
        let (ids, stats) = run(dir.path(), 0, Millis::MAX);
        assert_eq!(ids, ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(
            stats,
            ExportStats {
                records: 6,
                skipped: 0
            }
        );
    }

    #[test]
    fn from_is_inclusive_and_to_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        three_files(dir.path());
        assert_eq!(run(dir.path(), T0 + 1000, T0 + 4000).0, ["b", "c", "d"]);
        assert_eq!(run(dir.path(), T0 + 1001, T0 + 4001).0, ["c", "d", "e"]);
        assert_eq!(
            run(dir.path(), T0 + 3000, T0 + 3000).0,
            Vec::<String>::new()
        );
        assert_eq!(
            run(dir.path(), T0 + 6000, T0 + 9000).0,
            Vec::<String>::new()
        );
        assert!(matches!(
            export(dir.path(), T0 + 1, T0, &mut Vec::new()),
            Err(ExportError::Range { .. })
        ));
    }

    #[test]
    fn malformed_lines_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let content = line("a", T0)
            + "{\"eventTime\": \"2026-11-24T12:00:01Z\", \"requestID\": \"cut\n"
            + "\n"
            + "[1,2]\n"
            + "{\"eventTime\": \"yesterday\"}\n"
            + "{\"requestID\": \"no-time\"}\n"
            + &line("b", T0 + 1)
            // A crash mid-write leaves a last line without its newline.
            + "{\"eventTime\": \"2026-11-24T12:0";
        std::fs::write(dir.path().join("audit.log"), content).unwrap();
        let (ids, stats) = run(dir.path(), 0, Millis::MAX);
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(
            stats,
            ExportStats {
                records: 2,
                skipped: 5
            }
        );
    }

    #[test]
    fn rotated_files_older_than_from_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        // A file rotated at T0 cannot hold a record at T0 + 10: the impossible
        // record shows whether the file was read.
        let stale = dir.path().join(format!("audit-{}.log", T0));
        std::fs::write(&stale, line("x", T0 + 10)).unwrap();
        std::fs::write(dir.path().join("audit.log"), line("y", T0 + 20)).unwrap();
        assert_eq!(run(dir.path(), T0 + 5, Millis::MAX).0, ["y"]);
        assert_eq!(run(dir.path(), T0 - 5, Millis::MAX).0, ["x", "y"]);
    }

    #[test]
    fn an_empty_or_missing_log_is_an_empty_document_or_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        assert_eq!(
            export(dir.path(), 0, 1, &mut out).unwrap(),
            ExportStats::default()
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
            serde_json::json!({"Records": []})
        );
        assert!(matches!(
            export(&dir.path().join("nope"), 0, 1, &mut Vec::new()),
            Err(ExportError::Read { .. })
        ));
    }

    #[test]
    fn a_file_rotated_during_the_listing_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("audit.log"), line("a", T0)).unwrap();
        // The same file under both names, as a rotation between opening audit.log
        // and listing the directory leaves it.
        std::fs::hard_link(
            dir.path().join("audit.log"),
            dir.path().join(format!("audit-{}.log", T0 + 1)),
        )
        .unwrap();
        assert_eq!(run(dir.path(), 0, Millis::MAX).0, ["a"]);
    }

    #[test]
    fn times_parse_as_rfc3339() {
        assert_eq!(parse_time("2026-11-24T12:00:00Z").unwrap(), T0);
        assert_eq!(parse_time("2026-11-24T13:00:00.000+01:00").unwrap(), T0);
        assert!(matches!(
            parse_time("2026-11-24"),
            Err(ExportError::Time { .. })
        ));
    }
}
