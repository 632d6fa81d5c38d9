//! Drives and their format files. Each drive carries `format.json` naming its cluster,
//! the set layout and its own id, so drives swapped between mount points are put back
//! in their slots, a foreign drive is refused, and a blank replacement is recognized
//! (and healed).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::layout;

pub const FORMAT_FILE: &str = "format.json";
pub const SHARDS_DIR: &str = "shards";
pub const TMP_DIR: &str = "tmp";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DriveFormat {
    pub version: u32,
    pub cluster_id: String,
    /// This drive's id.
    pub this: String,
    /// Drive ids by set, in shard-slot order.
    pub sets: Vec<Vec<String>>,
    pub parity: usize,
}

/// One drive slot of an erasure set.
#[derive(Debug)]
pub struct Drive {
    pub path: PathBuf,
    pub id: String,
    pub set: usize,
    pub slot: usize,
    /// What this drive's format file must say.
    format: DriveFormat,
    online: AtomicBool,
    /// The drive came back blank and is being rebuilt.
    healing: AtomicBool,
}

impl Drive {
    pub fn online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    pub fn healing(&self) -> bool {
        self.healing.load(Ordering::Relaxed)
    }

    pub fn set_healing(&self, v: bool) {
        self.healing.store(v, Ordering::Relaxed)
    }

    /// Re-check that the drive is usable (its format file is there and is ours).
    pub fn refresh(&self) -> bool {
        let ok = matches!(read_format(&self.path), Ok(Some(f)) if f == self.format);
        self.online.store(ok, Ordering::Relaxed);
        ok
    }

    pub fn shard_path(&self, id: &str) -> PathBuf {
        self.path
            .join(SHARDS_DIR)
            .join(&id[id.len() - 2..])
            .join(id)
    }

    pub fn tmp_path(&self, name: &str) -> PathBuf {
        self.path.join(TMP_DIR).join(name)
    }

    pub fn status(&self) -> DriveStatus {
        DriveStatus {
            set: self.set,
            slot: self.slot,
            path: self.path.display().to_string(),
            id: self.id.clone(),
            state: if !self.online() {
                "offline"
            } else if self.healing() {
                "healing"
            } else {
                "online"
            },
            free_bytes: fs4::available_space(&self.path).ok(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DriveStatus {
    pub set: usize,
    pub slot: usize,
    pub path: String,
    pub id: String,
    pub state: &'static str,
    pub free_bytes: Option<u64>,
}

fn read_format(dir: &Path) -> StorageResult<Option<DriveFormat>> {
    let p = dir.join(FORMAT_FILE);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            StorageError::Layout(format!("{}: unreadable format file: {e}", p.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io(&p, e)),
    }
}

fn write_format(dir: &Path, f: &DriveFormat) -> StorageResult<()> {
    for sub in [SHARDS_DIR, TMP_DIR] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| StorageError::io(dir.join(sub), e))?;
    }
    let tmp = dir.join(format!("{FORMAT_FILE}.tmp"));
    let body = serde_json::to_vec_pretty(f).map_err(|e| StorageError::Layout(e.to_string()))?;
    std::fs::write(&tmp, body).map_err(|e| StorageError::io(&tmp, e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| StorageError::io(&tmp, e))?;
    std::fs::rename(&tmp, dir.join(FORMAT_FILE)).map_err(|e| StorageError::io(dir, e))?;
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

/// What a drive directory holds, read without changing anything (for status output
/// while a node may be running).
pub fn inspect(path: &Path) -> DriveStatus {
    let (state, format) = match read_format(path) {
        Ok(Some(f)) => ("online", Some(f)),
        Ok(None) if path.is_dir() => ("blank", None),
        Ok(None) => ("missing", None),
        Err(_) => ("unreadable", None),
    };
    let (set, slot, id) = format
        .as_ref()
        .and_then(|f| {
            f.sets.iter().enumerate().find_map(|(s, ids)| {
                ids.iter()
                    .position(|i| *i == f.this)
                    .map(|slot| (s, slot, f.this.clone()))
            })
        })
        .unwrap_or((usize::MAX, usize::MAX, String::new()));
    DriveStatus {
        set,
        slot,
        path: path.display().to_string(),
        id,
        state,
        free_bytes: fs4::available_space(path).ok(),
    }
}

/// Format a drive whose directory exists but is empty (a replaced disk mounted in
/// place) into its old slot. A missing directory is left alone: it may be an unmounted
/// disk that comes back with its data.
pub fn reformat_if_empty(d: &Drive) -> bool {
    let empty = std::fs::read_dir(&d.path)
        .map(|mut rd| rd.next().is_none())
        .unwrap_or(false);
    empty && write_format(&d.path, &d.format).is_ok()
}

/// The drives of a node, by set and slot.
#[derive(Debug)]
pub struct Topology {
    pub cluster_id: String,
    pub parity: usize,
    pub sets: Vec<Vec<std::sync::Arc<Drive>>>,
}

/// Identify the drives given on the command line and put each in its slot, writing
/// format files on a fresh node or on blank replacement drives.
pub fn assemble(paths: &[PathBuf], parity: Option<usize>) -> StorageResult<Topology> {
    let n = paths.len();
    let set_size = layout::set_size(n)?;
    let mut formats = Vec::with_capacity(n);
    for p in paths {
        // A missing directory is a wiped (or replaced) drive: it is recreated blank.
        if let Err(e) = std::fs::create_dir_all(p) {
            tracing::warn!(drive = %p.display(), error = %e, "drive unavailable");
            formats.push(Err(StorageError::io(p, e)));
            continue;
        }
        formats.push(read_format(p));
    }
    for (p, f) in paths.iter().zip(&formats) {
        // An unreadable format file makes that drive unusable, not the node: it stays
        // offline (it can be replaced and healed) while the others serve.
        if let Err(StorageError::Layout(msg)) = f {
            tracing::warn!(drive = %p.display(), error = %msg, "unreadable format file; drive offline");
        }
    }
    let existing: Vec<&DriveFormat> = formats
        .iter()
        .filter_map(|f| f.as_ref().ok().and_then(|o| o.as_ref()))
        .collect();
    let reference = match existing.first() {
        None => {
            let m = parity.unwrap_or_else(|| layout::default_parity(set_size));
            layout::validate_parity(set_size, m)?;
            let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
            DriveFormat {
                version: 1,
                cluster_id: uuid::Uuid::new_v4().to_string(),
                this: String::new(),
                sets: ids.chunks(set_size).map(|c| c.to_vec()).collect(),
                parity: m,
            }
        }
        Some(first) => {
            let r = (*first).clone();
            for f in &existing {
                if f.cluster_id != r.cluster_id || f.sets != r.sets {
                    return Err(StorageError::Layout(format!(
                        "drive {} belongs to another cluster or layout (cluster {}, expected {}); refusing to start",
                        f.this, f.cluster_id, r.cluster_id
                    )));
                }
            }
            let total: usize = r.sets.iter().map(Vec::len).sum();
            if total != n {
                return Err(StorageError::Layout(format!(
                    "the drives were formatted as {total} drives, but {n} were given"
                )));
            }
            if let Some(p) = parity.filter(|p| *p != r.parity) {
                tracing::warn!(
                    requested = p,
                    formatted = r.parity,
                    "--parity differs from the drives' format; keeping the format's parity"
                );
            }
            r
        }
    };
    // Slots claimed by formatted drives; blank drives take the remaining slots in order.
    let all_ids: Vec<String> = reference.sets.concat();
    // (path, needs healing) per slot
    let mut slot_path: Vec<Option<(PathBuf, bool)>> = vec![None; n];
    for (p, f) in paths.iter().zip(&formats) {
        if let Ok(Some(f)) = f {
            let pos = all_ids.iter().position(|id| *id == f.this).ok_or_else(|| {
                StorageError::Layout(format!(
                    "drive {} has an id not in its own layout",
                    p.display()
                ))
            })?;
            if slot_path[pos].is_some() {
                return Err(StorageError::Layout(format!(
                    "two drives claim slot {pos} ({})",
                    p.display()
                )));
            }
            slot_path[pos] = Some((p.clone(), false));
        }
    }
    let fresh = existing.is_empty();
    for (p, f) in paths.iter().zip(&formats) {
        if matches!(f, Ok(Some(_))) {
            continue;
        }
        let pos = slot_path
            .iter()
            .position(Option::is_none)
            .expect("as many slots as drives");
        if matches!(f, Ok(None)) {
            let mut fmt = reference.clone();
            fmt.this = all_ids[pos].clone();
            match write_format(p, &fmt) {
                Ok(()) if !fresh => {
                    tracing::warn!(drive = %p.display(), slot = pos, "blank drive takes over a missing drive's slot; it will be healed")
                }
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(drive = %p.display(), error = %e, "cannot format drive; it stays offline")
                }
            }
        }
        // needs healing unless the whole node is new
        slot_path[pos] = Some((p.clone(), !fresh));
    }
    let mut sets = Vec::new();
    let mut idx = 0;
    for (s, ids) in reference.sets.iter().enumerate() {
        let mut drives = Vec::new();
        for (slot, id) in ids.iter().enumerate() {
            let (path, needs_heal) = slot_path[idx].clone().expect("every slot assigned");
            let mut format = reference.clone();
            format.this = id.clone();
            let d = Drive {
                path: path.clone(),
                id: id.clone(),
                set: s,
                slot,
                format,
                online: AtomicBool::new(false),
                healing: AtomicBool::new(false),
            };
            let online = d.refresh();
            // A drive that was blank when a formatted cluster started must be rebuilt.
            d.set_healing(online && needs_heal);
            drives.push(std::sync::Arc::new(d));
            idx += 1;
        }
        sets.push(drives);
    }
    // Temporaries left by a crash are garbage.
    for d in sets.iter().flatten().filter(|d| d.online()) {
        if let Ok(rd) = std::fs::read_dir(d.path.join(TMP_DIR)) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(Topology {
        cluster_id: reference.cluster_id,
        parity: reference.parity,
        sets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(root: &Path, n: usize) -> Vec<PathBuf> {
        (0..n).map(|i| root.join(format!("d{i}"))).collect()
    }

    #[test]
    fn fresh_swapped_blank_and_foreign_drives() {
        let root = tempfile::tempdir().unwrap();
        let paths = dirs(root.path(), 4);
        let t = assemble(&paths, None).unwrap();
        assert_eq!(t.parity, 2);
        let ids: Vec<String> = t.sets[0].iter().map(|d| d.id.clone()).collect();
        assert!(t.sets[0].iter().all(|d| d.online() && !d.healing()));

        // Swapped mount points: each drive goes back to its slot.
        let mut swapped = paths.clone();
        swapped.swap(0, 3);
        let t = assemble(&swapped, None).unwrap();
        let ids2: Vec<String> = t.sets[0].iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids, ids2);
        assert_eq!(t.sets[0][0].path, paths[0]);

        // A wiped drive comes back blank: same slot, marked for healing.
        std::fs::remove_dir_all(&paths[2]).unwrap();
        let t = assemble(&paths, None).unwrap();
        assert!(t.sets[0][2].healing());
        assert_eq!(t.sets[0][2].id, ids[2]);

        // A drive from another cluster is refused.
        let other = tempfile::tempdir().unwrap();
        let other_paths = dirs(other.path(), 4);
        assemble(&other_paths, None).unwrap();
        let mut mixed = paths.clone();
        mixed[1] = other_paths[1].clone();
        let err = assemble(&mixed, None).unwrap_err().to_string();
        assert!(err.contains("another cluster"), "{err}");
    }
}
