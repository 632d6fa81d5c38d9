//! The metadata store against a model: apply semantics, preconditions, and listing
//! (prefix, delimiter, pagination) checked against a plain BTreeMap.

use std::collections::BTreeMap;

use hafiz_meta::command::WriteCondition;
use hafiz_meta::*;
use proptest::prelude::*;

fn store() -> (tempfile::TempDir, MetaStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(&dir.path().join("meta")).unwrap();
    (dir, s)
}

fn bucket(s: &MetaStore, name: &str) {
    s.apply_sync(Command::CreateBucket(BucketInfo {
        name: name.into(),
        created: 1,
        region: "us-east-1".into(),
        ..Default::default()
    }))
    .unwrap();
}

fn version(key: &str, etag: &str, at: Millis, blob: Option<&str>) -> ObjectVersion {
    ObjectVersion {
        key: key.into(),
        version_id: "null".into(),
        size: 1,
        etag: etag.into(),
        last_modified: at,
        headers: ContentHeaders::default(),
        user_meta: vec![],
        storage_class: "STANDARD".into(),
        tags: vec![],
        checksum: None,
        parts: None,
        data: match blob {
            Some(id) => ObjectData::Blobs(vec![BlobSpan {
                location: BlobLocation::Stored(id.into()),
                size: 1,
            }]),
            None => ObjectData::Inline(vec![b'x']),
        },
        ..Default::default()
    }
}

fn put(s: &MetaStore, b: &str, v: ObjectVersion, c: WriteCondition) -> MetaResult<Outcome> {
    s.apply_sync(Command::PutObject {
        bucket: b.into(),
        version: v,
        condition: c,
    })
}

#[tokio::test]
async fn overwrite_releases_old_blob_and_conditions_hold() {
    let (_d, s) = store();
    bucket(&s, "b");
    assert!(matches!(
        s.apply_sync(Command::CreateBucket(BucketInfo {
            name: "b".into(),
            created: 2,
            region: "r".into(),
            ..Default::default()
        })),
        Err(MetaError::BucketExists(_))
    ));
    put(
        &s,
        "b",
        version("k", "e1", 10, Some("blob1")),
        WriteCondition::Absent,
    )
    .unwrap();
    assert!(matches!(
        put(
            &s,
            "b",
            version("k", "e2", 11, None),
            WriteCondition::Absent
        ),
        Err(MetaError::PreconditionFailed)
    ));
    assert!(matches!(
        put(
            &s,
            "b",
            version("k", "e2", 11, None),
            WriteCondition::EtagMatches("nope".into())
        ),
        Err(MetaError::PreconditionFailed)
    ));
    let out = put(
        &s,
        "b",
        version("k", "e2", 12, None),
        WriteCondition::EtagMatches("e1".into()),
    )
    .unwrap();
    assert_eq!(out.released_blobs, vec!["blob1".to_string()]);
    let cur = s.object("b", "k").await.unwrap().unwrap();
    assert_eq!(cur.etag, "e2");
    assert!(matches!(
        put(
            &s,
            "missing",
            version("k", "e", 1, None),
            WriteCondition::None
        ),
        Err(MetaError::NoSuchBucket(_))
    ));
    assert!(matches!(
        s.apply_sync(Command::DeleteBucket { name: "b".into() }),
        Err(MetaError::BucketNotEmpty(_))
    ));
    let out = s
        .apply_sync(Command::DeleteObject {
            bucket: "b".into(),
            key: "k".into(),
            version_id: None,
            marker: None,
            bypass_governance: false,
            now: 0,
        })
        .unwrap();
    assert!(out.removed);
    assert!(s.object("b", "k").await.unwrap().is_none());
    s.apply_sync(Command::DeleteBucket { name: "b".into() })
        .unwrap();
    assert!(s.bucket("b").await.unwrap().is_none());
}

#[tokio::test]
async fn multipart_complete_checks_etags_and_releases_unused_parts() {
    let (_d, s) = store();
    bucket(&s, "b");
    upload(&s, "b", "k", "u1");
    for (n, blob) in [(1, "p1"), (2, "p2"), (3, "p3")] {
        let part = PartInfo {
            number: n,
            size: 1,
            etag: format!("e{n}"),
            last_modified: 1,
            checksum: None,
            data: BlobSpan {
                location: BlobLocation::Stored(blob.into()),
                size: 1,
            },
        };
        s.apply_sync(Command::PutPart {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: "u1".into(),
            part,
        })
        .unwrap();
    }
    // re-uploading part 2 releases the first blob for it
    let part = PartInfo {
        number: 2,
        size: 1,
        etag: "e2b".into(),
        last_modified: 1,
        checksum: None,
        data: BlobSpan {
            location: BlobLocation::Stored("p2b".into()),
            size: 1,
        },
    };
    let out = s
        .apply_sync(Command::PutPart {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: "u1".into(),
            part,
        })
        .unwrap();
    assert_eq!(out.released_blobs, vec!["p2".to_string()]);
    assert_eq!(s.parts("u1", 0, 10).await.unwrap().len(), 3);
    assert_eq!(s.parts("u1", 1, 1).await.unwrap()[0].number, 2);

    let mut v = version("k", "x-2", 5, None);
    v.data = ObjectData::Blobs(vec![
        BlobSpan {
            location: BlobLocation::Stored("p1".into()),
            size: 1,
        },
        BlobSpan {
            location: BlobLocation::Stored("p2b".into()),
            size: 1,
        },
    ]);
    let stale = Command::CompleteUpload {
        bucket: "b".into(),
        upload_id: "u1".into(),
        parts: vec![(1, "e1".into()), (2, "e2".into())],
        version: v.clone(),
        condition: WriteCondition::None,
    };
    assert!(matches!(
        s.apply_sync(stale),
        Err(MetaError::InvalidPart(2))
    ));
    let ok = Command::CompleteUpload {
        bucket: "b".into(),
        upload_id: "u1".into(),
        parts: vec![(1, "e1".into()), (2, "e2b".into())],
        version: v,
        condition: WriteCondition::None,
    };
    let out = s.apply_sync(ok).unwrap();
    assert_eq!(out.released_blobs, vec!["p3".to_string()]);
    assert!(s.upload("b", "k", "u1").await.unwrap().is_none());
    assert!(s.parts("u1", 0, 10).await.unwrap().is_empty());
    let mut ids: Vec<_> = s
        .referenced_blobs(None)
        .await
        .unwrap()
        .into_keys()
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["p1".to_string(), "p2b".to_string()]);
    assert_eq!(
        s.referenced_blobs(Some("other".into()))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(s.referenced_blobs(Some("b".into())).await.unwrap().len(), 2);
}

#[tokio::test]
async fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = MetaStore::open(&dir.path().join("meta")).unwrap();
        bucket(&s, "b");
        put(&s, "b", version("k", "e", 1, None), WriteCondition::None).unwrap();
    }
    let s = MetaStore::open(&dir.path().join("meta")).unwrap();
    assert_eq!(s.object("b", "k").await.unwrap().unwrap().etag, "e");
}

/// The listing S3 defines, computed naively over a sorted map.
fn model_list(
    keys: &BTreeMap<String, ()>,
    prefix: &str,
    delim: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> (Vec<String>, bool) {
    let mut out: Vec<String> = Vec::new();
    for k in keys.keys() {
        if !k.starts_with(prefix) {
            continue;
        }
        let entry = match delim.and_then(|d| {
            k[prefix.len()..]
                .find(d)
                .map(|i| k[..prefix.len() + i + d.len()].to_string())
        }) {
            Some(cp) => cp,
            None => k.clone(),
        };
        if after.is_some_and(|a| entry.as_str() <= a) {
            continue;
        }
        if out.last() != Some(&entry) {
            out.push(entry);
        }
    }
    let truncated = out.len() > max;
    out.truncate(max);
    (out, truncated)
}

fn key_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("a"),
            Just("b"),
            Just("/"),
            Just("é"),
            Just(" "),
            Just("+"),
            Just("%"),
            Just("."),
            Just("ab/")
        ],
        1..6,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn listing_pages_match_the_model(
        keys in proptest::collection::btree_set(key_strategy(), 0..40),
        prefix in prop_oneof![Just(""), Just("a"), Just("ab/"), Just("é")],
        delim in prop_oneof![Just(None), Just(Some("/")), Just(Some("b"))],
        max in 1usize..7,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (_d, s) = store();
        bucket(&s, "bk");
        bucket(&s, "bk2"); // a neighbour whose rows must never leak in
        let mut model = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            put(&s, "bk", version(k, "e", i as i64, None), WriteCondition::None).unwrap();
            put(&s, "bk2", version(k, "e", i as i64, None), WriteCondition::None).unwrap();
            model.insert(k.clone(), ());
        }
        // walk every page as a client would, continuing after the last entry
        let mut after: Option<String> = None;
        let mut all = Vec::new();
        loop {
            let q = ListQuery { prefix: prefix.to_string(), delimiter: delim.map(str::to_string), after: after.clone(), max };
            let page = rt.block_on(s.list_objects("bk", q)).unwrap();
            let names: Vec<String> = page.entries.iter().map(|e| e.name().to_string()).collect();
            let (want, want_trunc) = model_list(&model, prefix, delim, after.as_deref(), max);
            prop_assert_eq!(&names, &want);
            prop_assert_eq!(page.truncated, want_trunc);
            all.extend(names.clone());
            if !page.truncated { break; }
            after = names.last().cloned();
        }
        let (full, _) = model_list(&model, prefix, delim, None, usize::MAX);
        prop_assert_eq!(all, full);
    }
}

#[tokio::test]
async fn mirrors_survive_losing_the_first_drive_and_catch_up_when_stale() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<std::path::PathBuf> = (0..3).map(|i| dir.path().join(format!("m{i}"))).collect();
    {
        let s = MetaStore::open_mirrored(&paths).unwrap();
        bucket(&s, "b");
        put(&s, "b", version("k1", "e1", 1, None), WriteCondition::None).unwrap();
    }
    // The first drive is lost: the others hold everything.
    std::fs::remove_dir_all(&paths[0]).unwrap();
    {
        let s = MetaStore::open_mirrored(&paths).unwrap();
        assert_eq!(s.object("b", "k1").await.unwrap().unwrap().etag, "e1");
        assert_eq!(s.mirrors().len(), 3, "the blank mirror was rebuilt");
    }
    // Mirror 2 is offline while a command is applied, then comes back stale.
    {
        let s = MetaStore::open_mirrored(&paths[..2]).unwrap();
        put(&s, "b", version("k2", "e2", 2, None), WriteCondition::None).unwrap();
    }
    {
        let s = MetaStore::open_mirrored(&paths).unwrap();
        assert!(s.object("b", "k2").await.unwrap().is_some());
    }
    // ...and now holds the command on its own.
    let only_last = MetaStore::open_mirrored(&paths[2..]).unwrap();
    assert_eq!(
        only_last.object("b", "k2").await.unwrap().unwrap().etag,
        "e2"
    );
}

#[tokio::test]
async fn a_mirror_wiped_while_running_is_rebuilt_live() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<std::path::PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("d{i}")).join("meta"))
        .collect();
    let s = MetaStore::open_mirrored(&paths).unwrap();
    bucket(&s, "b");
    put(&s, "b", version("k1", "e1", 1, None), WriteCondition::None).unwrap();
    // Drives 0 and 1 are replaced one after the other while the store runs.
    for wiped in [0, 1] {
        let drive = paths[wiped].parent().unwrap();
        std::fs::remove_dir_all(drive).unwrap();
        std::fs::create_dir_all(drive).unwrap();
        assert_eq!(s.repair_mirrors().unwrap(), 1);
    }
    put(&s, "b", version("k2", "e2", 2, None), WriteCondition::None).unwrap();
    drop(s);
    // Only the two rebuilt mirrors are left: they hold everything.
    let s = MetaStore::open_mirrored(&paths[..2]).unwrap();
    assert_eq!(s.object("b", "k1").await.unwrap().unwrap().etag, "e1");
    assert_eq!(s.object("b", "k2").await.unwrap().unwrap().etag, "e2");
    assert_eq!(s.repair_mirrors().unwrap(), 0);
}

#[tokio::test]
async fn listing_stays_exact_over_ten_thousand_keys() {
    let (_d, s) = store();
    bucket(&s, "b");
    let mut model = BTreeMap::new();
    let shapes = ["a/", "a b/", "a+b/", "a%b/", "é/", "x//y/", "../", "z/"];
    for i in 0..10_500u32 {
        let shape = shapes[i as usize % shapes.len()];
        let key = if i % 7 == 0 {
            format!("{shape}{i:05}/")
        } else {
            format!("{shape}{i:05}")
        };
        put(
            &s,
            "b",
            version(&key, "e", i as i64, None),
            WriteCondition::None,
        )
        .unwrap();
        model.insert(key, ());
    }
    for (prefix, delim) in [("", None), ("", Some("/")), ("a", Some("/")), ("é/", None)] {
        let (want, _) = model_list(&model, prefix, delim, None, usize::MAX);
        let mut got = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let q = ListQuery {
                prefix: prefix.into(),
                delimiter: delim.map(str::to_string),
                after: after.clone(),
                max: 1000,
            };
            let page = s.list_objects("b", q).await.unwrap();
            got.extend(page.entries.iter().map(|e| e.name().to_string()));
            if !page.truncated {
                break;
            }
            after = got.last().cloned();
        }
        assert_eq!(got, want, "prefix {prefix:?} delimiter {delim:?}");
    }
}

fn sized(key: &str, size: u64) -> ObjectVersion {
    ObjectVersion {
        size,
        ..version(key, "e", 1, None)
    }
}

fn set_quota(s: &MetaStore, b: &str, q: Quota) {
    s.apply_sync(Command::UpdateBucket {
        name: b.into(),
        change: BucketChange::Quota(Some(q)),
    })
    .unwrap();
}

#[tokio::test]
async fn bucket_quota_refuses_growth_but_not_shrinking() {
    let (_d, s) = store();
    bucket(&s, "q");
    set_quota(
        &s,
        "q",
        Quota {
            max_bytes: Some(100),
            max_objects: Some(2),
        },
    );
    put(&s, "q", sized("a", 60), WriteCondition::None).unwrap();
    // Over the byte limit: refused, and nothing of it is counted.
    let e = put(&s, "q", sized("b", 41), WriteCondition::None).unwrap_err();
    assert!(matches!(e, MetaError::QuotaExceeded(_)), "{e:?}");
    assert_eq!(
        s.bucket_usage("q").await.unwrap(),
        Usage {
            bytes: 60,
            objects: 1,
            pending_bytes: 0,
        }
    );
    assert!(s.object("q", "b").await.unwrap().is_none());
    put(&s, "q", sized("b", 40), WriteCondition::None).unwrap();
    // The object limit.
    let e = put(&s, "q", sized("c", 0), WriteCondition::None).unwrap_err();
    assert!(matches!(e, MetaError::QuotaExceeded(_)), "{e:?}");
    // Overwriting with something smaller shrinks usage and is allowed at the limit.
    put(&s, "q", sized("a", 10), WriteCondition::None).unwrap();
    assert_eq!(
        s.bucket_usage("q").await.unwrap(),
        Usage {
            bytes: 50,
            objects: 2,
            pending_bytes: 0,
        }
    );
    s.apply_sync(Command::DeleteObject {
        bucket: "q".into(),
        key: "b".into(),
        version_id: None,
        marker: None,
        bypass_governance: false,
        now: 0,
    })
    .unwrap();
    put(&s, "q", sized("c", 50), WriteCondition::None).unwrap();
    assert_eq!(
        s.bucket_usage("q").await.unwrap(),
        Usage {
            bytes: 60,
            objects: 2,
            pending_bytes: 0,
        }
    );
}

#[tokio::test]
async fn account_quota_spans_its_buckets_and_concurrent_writers_stay_exact() {
    let (_d, s) = store();
    s.apply_sync(Command::Iam(iam::IamCommand::CreateAccount(iam::Account {
        name: "acme".into(),
        id: "123456789012".into(),
        created: 0,
        quota: Some(Quota {
            max_bytes: None,
            max_objects: Some(25),
        }),
    })))
    .unwrap();
    for b in ["x", "y"] {
        s.apply_sync(Command::CreateBucket(BucketInfo {
            name: b.into(),
            region: "r".into(),
            account: "acme".into(),
            ..Default::default()
        }))
        .unwrap();
    }
    // 4 threads race 10 puts each into two buckets: exactly 25 may land.
    let s = std::sync::Arc::new(s);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                (0..10)
                    .filter(|i| {
                        let b = if (t + i) % 2 == 0 { "x" } else { "y" };
                        put(&s, b, sized(&format!("k{t}-{i}"), 3), WriteCondition::None).is_ok()
                    })
                    .count()
            })
        })
        .collect();
    let landed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(landed, 25);
    let (x, y) = (
        s.bucket_usage("x").await.unwrap(),
        s.bucket_usage("y").await.unwrap(),
    );
    assert_eq!(x.objects + y.objects, 25);
    assert_eq!(
        s.account_usage("acme").await.unwrap(),
        Usage {
            bytes: 75,
            objects: 25,
            pending_bytes: 0,
        }
    );
    // An account that owns buckets cannot go.
    let e = s
        .apply_sync(Command::Iam(iam::IamCommand::DeleteAccount {
            name: "acme".into(),
        }))
        .unwrap_err();
    assert!(matches!(e, MetaError::DeleteConflict(_)), "{e:?}");
}

fn upload(s: &MetaStore, b: &str, key: &str, id: &str) {
    s.apply_sync(Command::CreateUpload(UploadInfo {
        bucket: b.into(),
        key: key.into(),
        upload_id: id.into(),
        initiated: 1,
        headers: ContentHeaders::default(),
        user_meta: vec![],
        storage_class: "STANDARD".into(),
        tags: vec![],
        checksum_algorithm: None,
        checksum_type: None,
        retention: None,
        legal_hold: None,
        acl: Default::default(),
        grants: None,
        owner: None,
        encryption: None,
    }))
    .unwrap();
}

fn put_part(s: &MetaStore, b: &str, id: &str, n: u32, size: u64) -> MetaResult<Outcome> {
    s.apply_sync(Command::PutPart {
        bucket: b.into(),
        key: "big".into(),
        upload_id: id.into(),
        part: PartInfo {
            number: n,
            size,
            etag: format!("e{n}"),
            last_modified: 1,
            checksum: None,
            data: BlobSpan {
                location: BlobLocation::Stored(format!("{id}-{n}-{size}")),
                size,
            },
        },
    })
}

#[tokio::test]
async fn parts_of_incomplete_uploads_count_against_the_quota() {
    let (_d, s) = store();
    bucket(&s, "m");
    set_quota(
        &s,
        "m",
        Quota {
            max_bytes: Some(100),
            max_objects: None,
        },
    );
    upload(&s, "m", "big", "u1");
    upload(&s, "m", "big", "u2");
    put_part(&s, "m", "u1", 1, 40).unwrap();
    put_part(&s, "m", "u2", 1, 40).unwrap();
    // Two uploads left incomplete cannot together exceed the quota.
    let e = put_part(&s, "m", "u2", 2, 30).unwrap_err();
    assert!(matches!(e, MetaError::QuotaExceeded(_)), "{e:?}");
    // Re-uploading a part replaces its bytes.
    put_part(&s, "m", "u2", 1, 50).unwrap();
    let usage = s.bucket_usage("m").await.unwrap();
    assert_eq!((usage.bytes, usage.pending_bytes), (0, 90));
    // Aborting frees its parts.
    s.apply_sync(Command::AbortUpload {
        bucket: "m".into(),
        key: "big".into(),
        upload_id: "u1".into(),
    })
    .unwrap();
    assert_eq!(s.bucket_usage("m").await.unwrap().pending_bytes, 50);
    // Completing turns the used parts into the object's bytes.
    let mut v = version("big", "x-1", 5, None);
    v.size = 50;
    s.apply_sync(Command::CompleteUpload {
        bucket: "m".into(),
        upload_id: "u2".into(),
        parts: vec![(1, "e1".into())],
        version: v,
        condition: WriteCondition::None,
    })
    .unwrap();
    assert_eq!(
        s.bucket_usage("m").await.unwrap(),
        Usage {
            bytes: 50,
            objects: 1,
            pending_bytes: 0
        }
    );
}

#[tokio::test]
async fn a_recount_agrees_with_the_counters_kept_by_apply() {
    let (_d, s) = store();
    s.apply_sync(Command::Iam(iam::IamCommand::CreateAccount(iam::Account {
        name: "acme".into(),
        id: "123456789012".into(),
        created: 0,
        quota: None,
    })))
    .unwrap();
    s.apply_sync(Command::CreateBucket(BucketInfo {
        name: "t".into(),
        region: "r".into(),
        account: "acme".into(),
        ..Default::default()
    }))
    .unwrap();
    bucket(&s, "d");
    for (b, k, size) in [("t", "a", 7), ("t", "b", 11), ("d", "c", 13), ("t", "a", 5)] {
        put(&s, b, sized(k, size), WriteCondition::None).unwrap();
    }
    upload(&s, "t", "big", "u1");
    put_part(&s, "t", "u1", 1, 17).unwrap();
    let before = (
        s.bucket_usage("t").await.unwrap(),
        s.bucket_usage("d").await.unwrap(),
        s.account_usage("acme").await.unwrap(),
    );
    assert_eq!(
        before.0,
        Usage {
            bytes: 16,
            objects: 2,
            pending_bytes: 17
        }
    );
    s.apply_sync(Command::RecountUsage).unwrap();
    let after = (
        s.bucket_usage("t").await.unwrap(),
        s.bucket_usage("d").await.unwrap(),
        s.account_usage("acme").await.unwrap(),
    );
    assert_eq!(before, after);
    assert_eq!(after.2, after.0);
}

/// Transitions: the move is conditional on the version and idempotent, a copy is
/// only adopted into an existing tier, dropping the version queues the copy's
/// deletion in the same commit, and a tier holding copies cannot be removed.
#[tokio::test]
async fn tier_copies_are_moved_counted_and_released_in_one_commit() {
    let (_d, s) = store();
    bucket(&s, "b");
    put(
        &s,
        "b",
        version("k", "e", 10, Some("hot1")),
        WriteCondition::None,
    )
    .unwrap();
    let v = s.object("b", "k").await.unwrap().unwrap();
    let copy = TierCopy {
        tier: "cold".into(),
        name: "0123456789abcdef0123456789abcdef".into(),
        size: 1,
    };
    let mv = |expect: ObjectData, order: u64| Command::SetObjectData {
        bucket: "b".into(),
        key: "k".into(),
        version_id: "null".into(),
        order,
        expect,
        data: ObjectData::Tiered(copy.clone()),
        storage_class: "GLACIER".into(),
        now: 20,
    };
    // No such tier yet: refused.
    assert!(matches!(
        s.apply_sync(mv(v.data.clone(), v.sort_order())),
        Err(MetaError::PreconditionFailed)
    ));
    s.apply_sync(Command::PutSetting {
        key: "tier/cold".into(),
        value: Some(b"{}".to_vec()),
    })
    .unwrap();
    // Wrong order (another `null` version): refused.
    assert!(matches!(
        s.apply_sync(mv(v.data.clone(), v.sort_order() + 1)),
        Err(MetaError::PreconditionFailed)
    ));
    let out = s.apply_sync(mv(v.data.clone(), v.sort_order())).unwrap();
    assert_eq!(out.released_blobs, vec!["hot1".to_string()]);
    // Applied again (a retried proposal): a no-op success that releases nothing.
    let again = s.apply_sync(mv(v.data.clone(), v.sort_order())).unwrap();
    assert!(again.released_blobs.is_empty() && again.released_copies.is_empty());
    let moved = s.object("b", "k").await.unwrap().unwrap();
    assert_eq!(moved.storage_class, "GLACIER");
    assert_eq!(moved.tier_copy(), Some(&copy));
    assert_eq!(s.tier_usage("cold").await.unwrap().objects, 1);
    // The tier cannot go while it holds the copy.
    assert!(matches!(
        s.apply_sync(Command::PutSetting {
            key: "tier/cold".into(),
            value: None
        }),
        Err(MetaError::DeleteConflict(_))
    ));
    // Overwriting the version releases the copy: a deletion job in the same commit.
    let out = put(
        &s,
        "b",
        version("k", "e2", 30, Some("hot2")),
        WriteCondition::None,
    )
    .unwrap();
    assert_eq!(out.released_copies, vec![copy.clone()]);
    let job = out
        .jobs
        .iter()
        .find(|j| j.kind == TIER_DELETE_JOB)
        .expect("a tier-delete job");
    assert_eq!(
        serde_json::from_slice::<TierCopy>(&job.payload).unwrap(),
        copy
    );
    assert!(
        s.job(&job.id).await.unwrap().is_some(),
        "the job is durable"
    );
    assert_eq!(s.tier_usage("cold").await.unwrap().objects, 0);
    s.apply_sync(Command::PutSetting {
        key: "tier/cold".into(),
        value: None,
    })
    .unwrap();
}

/// Events are rows of the change's own commit: a refused write queues none, a
/// committed one queues one per matching target in order, and an acknowledgement
/// removes exactly what it names.
#[tokio::test]
async fn events_queue_in_the_commit_of_the_change() {
    let (_d, s) = store();
    bucket(&s, "ev");
    let target = "arn:hafiz:sqs::t:webhook";
    s.apply_sync(Command::PutSetting {
        key: format!("{}{target}", events::TARGET_SETTING_PREFIX),
        value: Some(br#"{"kind":"webhook"}"#.to_vec()),
    })
    .unwrap();
    let cfg = hafiz_notify::NotificationConfig {
        rules: vec![hafiz_notify::NotifyRule {
            id: "r".into(),
            kind: hafiz_notify::RuleKind::Queue,
            arn: target.into(),
            events: vec!["s3:ObjectCreated:*".into()],
            filter: hafiz_notify::KeyFilter {
                prefix: Some("in/".into()),
                ..Default::default()
            },
        }],
    };
    s.apply_sync(Command::UpdateBucket {
        name: "ev".into(),
        change: BucketChange::Notification(Some(cfg.to_json())),
    })
    .unwrap();
    let origin = events::Origin {
        request_id: "REQ".into(),
        ..Default::default()
    };
    let traced = |v: ObjectVersion, c: WriteCondition| {
        Command::PutObject {
            bucket: "ev".into(),
            version: v,
            condition: c,
        }
        .traced(origin.clone())
    };
    let g0 = s.events_generation();
    s.apply_sync(traced(version("in/a", "e1", 1, None), WriteCondition::None))
        .unwrap();
    s.apply_sync(traced(
        version("out/b", "e2", 2, None),
        WriteCondition::None,
    ))
    .unwrap();
    // Refused (the key exists): no event for a write that did not happen.
    assert!(
        s.apply_sync(traced(
            version("in/a", "e3", 3, None),
            WriteCondition::Absent
        ))
        .is_err()
    );
    s.apply_sync(traced(version("in/c", "e4", 4, None), WriteCondition::None))
        .unwrap();
    assert!(s.events_generation() > g0);
    let q = s.queued_events(target, 0, 100).await.unwrap();
    let keys: Vec<_> = q.iter().map(|e| e.record.key.as_str()).collect();
    assert_eq!(keys, ["in/a", "in/c"]);
    assert_eq!(q[0].record.event_name, "s3:ObjectCreated:Put");
    assert_eq!(q[0].record.request_id, "REQ");
    assert!(q[0].seq < q[1].seq);
    s.apply_sync(Command::Events(events::EventCommand::Ack {
        target: target.into(),
        upto: q[0].seq,
    }))
    .unwrap();
    let left = s.queued_events(target, 0, 100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].record.key, "in/c");
    let queues = s.event_queues().await.unwrap();
    assert_eq!(queues[0].1.queued, 1);
}

/// The `x-amz-replication-status` a version reports.
async fn replication_status(s: &MetaStore, v: &ObjectVersion) -> Option<&'static str> {
    s.object_version("src", &v.key, &v.version_id)
        .await
        .unwrap()
        .unwrap()
        .replication
        .and_then(|r| r.header())
}

/// A versioned version with a minted id (replication keys versions by id).
fn minted(key: &str, order: u64, tags: Vec<(String, String)>) -> ObjectVersion {
    ObjectVersion {
        version_id: mint_version_id(order, 7),
        order,
        tags,
        ..version(
            key,
            "e",
            order as Millis,
            Some(&format!("blob-{key}-{order}")),
        )
    }
}

#[tokio::test]
async fn replication_queues_in_the_commit_of_the_change() {
    use hafiz_meta::replication::{ReplicationCommand, ReplicationOp, VersionStatus};
    let (_d, s) = store();
    bucket(&s, "src");
    let target = "arn:hafiz:replication::dr:dst";
    let cfg = ReplicationConfig {
        role: String::new(),
        rules: vec![ReplicationRule {
            id: "r".into(),
            enabled: true,
            prefix: "in/".into(),
            delete_markers: true,
            target: target.into(),
            ..Default::default()
        }],
    };
    // Replication needs versioning on, and then versioning cannot be suspended.
    let set_cfg = || {
        s.apply_sync(Command::UpdateBucket {
            name: "src".into(),
            change: BucketChange::Replication(Some(cfg.clone())),
        })
    };
    assert!(matches!(set_cfg(), Err(MetaError::InvalidBucketState(_))));
    s.apply_sync(Command::UpdateBucket {
        name: "src".into(),
        change: BucketChange::Versioning(Versioning::Enabled),
    })
    .unwrap();
    set_cfg().unwrap();
    assert!(
        s.apply_sync(Command::UpdateBucket {
            name: "src".into(),
            change: BucketChange::Versioning(Versioning::Suspended),
        })
        .is_err()
    );

    let g0 = s.events_generation();
    let a = minted("in/a", 10, vec![]);
    assert_eq!(
        put(&s, "src", a.clone(), WriteCondition::None)
            .unwrap()
            .replications,
        1
    );
    // Outside the prefix: nothing queued, no status.
    let b = minted("out/b", 11, vec![]);
    assert_eq!(
        put(&s, "src", b.clone(), WriteCondition::None)
            .unwrap()
            .replications,
        0
    );
    // A refused write queues nothing.
    assert!(
        put(
            &s,
            "src",
            minted("in/a", 12, vec![]),
            WriteCondition::Absent
        )
        .is_err()
    );
    // A replica (written by another cluster's replication) is never replicated onward.
    let mut replica = minted("in/r", 13, vec![]);
    replica.replication = Some(ReplicationState {
        replica: true,
        targets: vec![],
    });
    let origin = events::Origin {
        replica: true,
        ..Default::default()
    };
    let out = s
        .apply_sync(
            Command::PutObject {
                bucket: "src".into(),
                version: replica.clone(),
                condition: WriteCondition::None,
            }
            .traced(origin.clone()),
        )
        .unwrap();
    assert_eq!(out.replications, 0);
    // Written again (replication is at least once): one version, the first blob released.
    let again = ObjectVersion {
        data: ObjectData::Blobs(vec![BlobSpan {
            location: BlobLocation::Stored("blob-again".into()),
            size: 1,
        }]),
        ..replica.clone()
    };
    let out = s
        .apply_sync(
            Command::PutObject {
                bucket: "src".into(),
                version: again,
                condition: WriteCondition::None,
            }
            .traced(origin),
        )
        .unwrap();
    assert_eq!(out.released_blobs, vec!["blob-in/r-13".to_string()]);
    assert_eq!(s.bucket_usage("src").await.unwrap().objects, 3);
    // A delete marker.
    let out = s
        .apply_sync(Command::DeleteObject {
            bucket: "src".into(),
            key: "in/a".into(),
            version_id: None,
            marker: Some(minted("in/a", 14, vec![])),
            bypass_governance: false,
            now: 14,
        })
        .unwrap();
    assert_eq!(out.replications, 1);
    assert!(s.events_generation() > g0);

    assert_eq!(replication_status(&s, &a).await, Some("PENDING"));
    assert_eq!(replication_status(&s, &b).await, None);
    assert_eq!(replication_status(&s, &replica).await, Some("REPLICA"));

    let q = s.queued_replications(target, 0, 100).await.unwrap();
    let ops: Vec<_> = q.iter().map(|i| (i.key.as_str(), i.op)).collect();
    assert_eq!(
        ops,
        [
            ("in/a", ReplicationOp::Version),
            ("in/a", ReplicationOp::DeleteMarker)
        ]
    );
    assert_eq!(s.replication_queues().await.unwrap()[0].1.queued, 2);
    assert_eq!(s.replication_queues().await.unwrap()[0].1.bytes, 1);
    s.apply_sync(Command::Replication(ReplicationCommand::Done {
        target: target.into(),
        upto: Some(q[0].seq),
        statuses: vec![VersionStatus {
            bucket: "src".into(),
            key: "in/a".into(),
            version_id: a.version_id.clone(),
            status: ReplicationStatus::Completed,
        }],
    }))
    .unwrap();
    assert_eq!(replication_status(&s, &a).await, Some("COMPLETED"));
    let left = s.queued_replications(target, 0, 100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(s.replication_queues().await.unwrap()[0].1.bytes, 0);

    // Written while no rule selects it.
    let d = minted("out/d", 15, vec![]);
    assert_eq!(
        put(&s, "src", d.clone(), WriteCondition::None)
            .unwrap()
            .replications,
        0
    );
    // A resync queues what the rules select and was not replicated yet.
    let mut cfg2 = cfg.clone();
    cfg2.rules[0].existing_objects = true;
    cfg2.rules[0].prefix = String::new();
    s.apply_sync(Command::UpdateBucket {
        name: "src".into(),
        change: BucketChange::Replication(Some(cfg2)),
    })
    .unwrap();
    let out = s
        .apply_sync(Command::Replication(ReplicationCommand::Enqueue {
            bucket: "src".into(),
            versions: vec![
                ("in/a".into(), a.version_id.clone()),
                ("out/b".into(), b.version_id.clone()),
                ("in/r".into(), replica.version_id.clone()),
            ],
            scope: replication::ResyncScope::ExistingObjectRules,
            now: 20,
        }))
        .unwrap();
    // in/a is COMPLETED there already, in/r is a replica: only out/b.
    assert_eq!(out.replications, 1);
    assert_eq!(replication_status(&s, &b).await, Some("PENDING"));
    // A tag change of a version never sent sends it whole.
    let out = s
        .apply_sync(Command::UpdateObject {
            bucket: "src".into(),
            key: "out/d".into(),
            version_id: Some(d.version_id.clone()),
            change: ObjectChange::Tags(vec![("k".into(), "v".into())]),
            bypass_governance: false,
            now: 21,
        })
        .unwrap();
    assert_eq!(out.replications, 1);
    let q = s.queued_replications(target, 0, 100).await.unwrap();
    let last = q.last().unwrap();
    assert_eq!(
        (last.key.as_str(), last.op),
        ("out/d", ReplicationOp::Version)
    );
    // A tag change of a version sent already sends the change alone.
    s.apply_sync(Command::UpdateObject {
        bucket: "src".into(),
        key: "in/a".into(),
        version_id: Some(a.version_id.clone()),
        change: ObjectChange::Tags(vec![("k".into(), "v".into())]),
        bypass_governance: false,
        now: 22,
    })
    .unwrap();
    let q = s.queued_replications(target, 0, 100).await.unwrap();
    let last = q.last().unwrap();
    assert_eq!(
        (last.key.as_str(), last.op),
        ("in/a", ReplicationOp::Metadata)
    );
}

#[tokio::test]
async fn completed_uploads_are_remembered_a_day_and_then_forgotten() {
    let (_d, s) = store();
    bucket(&s, "c");
    let complete = |id: &str, at: Millis| {
        upload(&s, "c", "big", id);
        put_part(&s, "c", id, 1, 10).unwrap();
        s.apply_sync(Command::CompleteUpload {
            bucket: "c".into(),
            upload_id: id.into(),
            parts: vec![(1, "e1".into())],
            version: version("big", &format!("{id}-1"), at, None),
            condition: WriteCondition::None,
        })
        .unwrap()
    };
    const DAY: Millis = completed::COMPLETED_TTL;
    let out = complete("u1", 1_000);
    let done = s.completed_upload("u1").await.unwrap().unwrap();
    assert_eq!(
        (done.bucket.as_str(), done.key.as_str(), done.etag.as_str()),
        ("c", "big", "u1-1")
    );
    assert_eq!(done.version_id, out.version_id);
    assert!(done.live(1_000 + DAY - 1) && !done.live(1_000 + DAY));
    assert!(s.completed_upload("nope").await.unwrap().is_none());
    // A completion a day later forgets the expired record in the same commit.
    complete("u2", 1_000 + DAY - 1);
    assert!(s.completed_upload("u1").await.unwrap().is_some());
    complete("u3", 1_000 + DAY);
    assert!(s.completed_upload("u1").await.unwrap().is_none());
    assert!(s.completed_upload("u2").await.unwrap().is_some());
    assert!(s.completed_upload("u3").await.unwrap().is_some());
}
