//! Versioning against a model: random PUT / DELETE / delete-by-version / enable /
//! suspend sequences, after each of which the store's version rows (order, latest,
//! delete markers, the `null` version), current versions, listing and lookups by id
//! must equal a plain in-memory model.

use std::collections::BTreeMap;

use hafiz_meta::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put(usize),
    Delete(usize),
    /// Delete the n-th version (mod count) of a key by id.
    DeleteVersion(usize, usize),
    Enable,
    Suspend,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize).prop_map(Op::Put),
        2 => (0..3usize).prop_map(Op::Delete),
        2 => (0..3usize, 0..8usize).prop_map(|(k, n)| Op::DeleteVersion(k, n)),
        1 => Just(Op::Enable),
        1 => Just(Op::Suspend),
    ]
}

/// One version in the model: (id, delete marker, etag).
type ModelVersion = (String, bool, String);

#[derive(Default)]
struct Model {
    versioning: Versioning,
    /// Per key, newest first.
    keys: BTreeMap<String, Vec<ModelVersion>>,
}

impl Model {
    fn add(&mut self, key: &str, id: String, marker: bool, etag: String) {
        let versions = self.keys.entry(key.to_string()).or_default();
        if self.versioning != Versioning::Enabled {
            versions.retain(|(v, _, _)| v != "null");
        }
        versions.insert(0, (id, marker, etag));
    }
}

const KEYS: [&str; 3] = ["a", "a/b", "b"];

/// Each version's size, told by its etag (`e<n>`), so the model can sum usage.
fn size_of(etag: &str) -> u64 {
    etag[1..].parse::<u64>().unwrap() * 10 + 1
}

fn version(key: &str, id: String, order: u64, etag: &str, marker: bool) -> ObjectVersion {
    ObjectVersion {
        size: if marker { 0 } else { size_of(etag) },
        key: key.into(),
        version_id: id,
        etag: etag.into(),
        last_modified: (order / 1000) as Millis,
        order,
        delete_marker: marker,
        storage_class: "STANDARD".into(),
        ..Default::default()
    }
}

async fn check(s: &MetaStore, m: &Model) {
    let page = s
        .list_versions(
            "b",
            VersionListQuery {
                max: 10_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got: Vec<(String, String, bool, bool)> = page
        .entries
        .iter()
        .map(|e| match e {
            VersionEntry::Version { version, is_latest } => (
                version.key.clone(),
                version.version_id.clone(),
                version.delete_marker,
                *is_latest,
            ),
            VersionEntry::Prefix(p) => panic!("no delimiter, yet prefix {p}"),
        })
        .collect();
    let want: Vec<(String, String, bool, bool)> = m
        .keys
        .iter()
        .flat_map(|(k, vs)| {
            vs.iter()
                .enumerate()
                .map(move |(i, (id, marker, _))| (k.clone(), id.clone(), *marker, i == 0))
        })
        .collect();
    assert_eq!(got, want);

    let listed: Vec<String> = s
        .list_objects(
            "b",
            ListQuery {
                max: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .entries
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    let visible: Vec<String> = m
        .keys
        .iter()
        .filter(|(_, vs)| vs.first().is_some_and(|v| !v.1))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(listed, visible);

    // The usage counter kept by apply equals what the versions hold.
    let (bytes, objects) = m
        .keys
        .values()
        .flatten()
        .filter(|(_, marker, _)| !marker)
        .fold((0, 0), |(b, o), (_, _, etag)| (b + size_of(etag), o + 1));
    assert_eq!(
        s.bucket_usage("b").await.unwrap(),
        Usage {
            bytes,
            objects,
            pending_bytes: 0
        },
        "usage"
    );

    for key in KEYS {
        let versions = m.keys.get(key).cloned().unwrap_or_default();
        let current = s.object("b", key).await.unwrap();
        assert_eq!(
            current.map(|v| (v.version_id, v.delete_marker, v.etag)),
            versions.first().cloned()
        );
        for (id, marker, etag) in &versions {
            let v = s.object_version("b", key, id).await.unwrap().unwrap();
            assert_eq!(
                (&v.version_id, v.delete_marker, &v.etag),
                (id, *marker, etag)
            );
        }
    }
}

fn run(ops: Vec<Op>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(&dir.path().join("meta")).unwrap();
    s.apply_sync(Command::CreateBucket(BucketInfo {
        name: "b".into(),
        region: "r".into(),
        ..Default::default()
    }))
    .unwrap();
    let mut m = Model::default();
    // Several versions share a millisecond: the order, not the time, sorts them.
    let mut clock = 1_700_000_000_000_000u64;
    for (n, op) in ops.into_iter().enumerate() {
        clock += 7;
        let id = mint_version_id(clock, n as u64);
        let etag = format!("e{n}");
        match op {
            Op::Put(k) => {
                let out = s
                    .apply_sync(Command::PutObject {
                        bucket: "b".into(),
                        version: version(KEYS[k], id.clone(), clock, &etag, false),
                        condition: WriteCondition::None,
                    })
                    .unwrap();
                let want = if m.versioning == Versioning::Enabled {
                    id
                } else {
                    "null".to_string()
                };
                assert_eq!(out.version_id.as_deref(), Some(want.as_str()));
                m.add(KEYS[k], want, false, etag);
            }
            Op::Delete(k) => {
                let out = s
                    .apply_sync(Command::DeleteObject {
                        bucket: "b".into(),
                        key: KEYS[k].into(),
                        version_id: None,
                        marker: Some(version(KEYS[k], id.clone(), clock, &etag, true)),
                        bypass_governance: false,
                        now: 0,
                    })
                    .unwrap();
                match m.versioning {
                    Versioning::Unversioned => {
                        m.keys.remove(KEYS[k]);
                    }
                    Versioning::Enabled => {
                        assert!(out.delete_marker);
                        m.add(KEYS[k], id, true, etag);
                    }
                    Versioning::Suspended => {
                        assert_eq!(out.version_id.as_deref(), Some("null"));
                        m.add(KEYS[k], "null".into(), true, etag);
                    }
                }
            }
            Op::DeleteVersion(k, i) => {
                let Some(versions) = m.keys.get_mut(KEYS[k]) else {
                    continue;
                };
                let (vid, marker, _) = versions.remove(i % versions.len());
                let out = s
                    .apply_sync(Command::DeleteObject {
                        bucket: "b".into(),
                        key: KEYS[k].into(),
                        version_id: Some(vid.clone()),
                        marker: None,
                        bypass_governance: false,
                        now: 0,
                    })
                    .unwrap();
                assert!(out.removed);
                assert_eq!(out.delete_marker, marker);
                if versions.is_empty() {
                    m.keys.remove(KEYS[k]);
                }
            }
            Op::Enable | Op::Suspend => {
                let v = if matches!(op, Op::Enable) {
                    Versioning::Enabled
                } else {
                    Versioning::Suspended
                };
                s.apply_sync(Command::UpdateBucket {
                    name: "b".into(),
                    change: BucketChange::Versioning(v),
                })
                .unwrap();
                m.versioning = v;
            }
        }
        rt.block_on(check(&s, &m));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn versions_match_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops);
    }
}

#[test]
fn the_null_version_is_replaced_in_place_after_suspending() {
    use Op::*;
    run(vec![
        Put(0),
        Enable,
        Put(0),
        Put(0),
        Suspend,
        Put(0),
        Put(0),
        Delete(0),
        DeleteVersion(0, 0),
    ]);
}

#[test]
fn version_ids_carry_their_order() {
    let id = mint_version_id(123_456, 0xabc);
    assert_eq!(id.len(), 32);
    assert_eq!(version_id_order(&id), Some(123_456));
    assert!(mint_version_id(2, 0) < mint_version_id(1, 0));
    assert_eq!(version_id_order("null"), None);
    assert_eq!(version_id_order("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"), None);
}
