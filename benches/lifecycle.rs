//! The lifecycle scanner's throughput: versions evaluated per second by a bucket job
//! (`Scanner::run_bucket`: listing in pages plus rule evaluation, nothing due), against
//! a plain metadata scan of the same versions (the same pages, no rules) in the same
//! run; then the rate of expirations when every object is due (each one a metadata
//! command), against the same plain scan.
//!
//! The store lives in `HAFIZ_BENCH_DIR` (default /dev/shm); `HAFIZ_BENCH_QUICK=1`
//! runs a smaller smoke version.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hafiz_lifecycle::scanner::BucketCursor;
use hafiz_lifecycle::{LifecycleConfig, Scanner};
use hafiz_meta::{
    BucketChange, BucketInfo, Command, MetaStore, Metadata, ObjectVersion, VersionEntry,
    VersionListQuery, WriteCondition, mint_version_id,
};

fn version(key: &str, order: u64) -> ObjectVersion {
    ObjectVersion {
        key: key.to_string(),
        version_id: mint_version_id(order, order),
        order,
        last_modified: (order / 1000) as i64,
        etag: "e".into(),
        size: 1,
        storage_class: "STANDARD".into(),
        data: hafiz_meta::ObjectData::Inline(vec![b'x']),
        ..Default::default()
    }
}

fn rules(days: u32) -> String {
    let xml = format!(
        "<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>dir</Prefix></Filter><Status>Enabled</Status>\
         <Expiration><Days>{days}</Days></Expiration></Rule>\
         <Rule><ID>t</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status>\
         <Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>"
    );
    LifecycleConfig::from_xml(xml.as_bytes(), &[])
        .unwrap()
        .to_json()
}

fn build(dir: &std::path::Path, keys: usize, created: u64) -> Arc<MetaStore> {
    let s = MetaStore::open(dir).unwrap();
    s.apply_sync(Command::CreateBucket(BucketInfo {
        name: "b".into(),
        region: "r".into(),
        ..Default::default()
    }))
    .unwrap();
    for i in 0..keys {
        s.apply_sync(Command::PutObject {
            bucket: "b".into(),
            version: version(&format!("dir{:02}/obj-{i:07}", i % 50), created + i as u64),
            condition: WriteCondition::None,
        })
        .unwrap();
    }
    Arc::new(s)
}

async fn plain_scan(s: &MetaStore) -> usize {
    let (mut marker, mut vmarker, mut n) = (None, None, 0);
    loop {
        let page = s
            .list_versions(
                "b",
                VersionListQuery {
                    prefix: String::new(),
                    delimiter: None,
                    key_marker: marker.clone(),
                    version_id_marker: vmarker.clone(),
                    max: 1000,
                },
            )
            .await
            .unwrap();
        for e in &page.entries {
            if let VersionEntry::Version { version, .. } = e {
                n += 1;
                marker = Some(version.key.clone());
                vmarker = Some(version.version_id.clone());
            }
        }
        if !page.truncated {
            return n;
        }
    }
}

fn main() {
    let quick = std::env::var("HAFIZ_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
        || !std::env::args().any(|a| a == "--bench");
    let (keys, rounds) = if quick { (3_000, 2) } else { (50_000, 5) };
    let base = std::env::var("HAFIZ_BENCH_DIR").unwrap_or_else(|_| {
        if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm".into()
        } else {
            std::env::temp_dir().to_string_lossy().into_owned()
        }
    });
    let tmp = tempfile::tempdir_in(base).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let blobs_dir = tmp.path().join("drive");
    let topology = hafiz_storage::drive::assemble(&[blobs_dir], None).unwrap();
    let blobs: Arc<dyn hafiz_storage::BlobStore> =
        Arc::new(hafiz_storage::ErasureStore::new(&topology).unwrap());
    let now_us = (hafiz_jobs::now_millis() as u64) * 1000;

    // Nothing due: rules are evaluated for every version, no command is sent.
    let store = build(&tmp.path().join("idle"), keys, now_us);
    store
        .apply_sync(Command::UpdateBucket {
            name: "b".into(),
            change: BucketChange::Lifecycle(Some(rules(365))),
        })
        .unwrap();
    let meta: Arc<dyn Metadata> = store.clone();
    let scanner = Scanner::new(meta, blobs.clone(), None);
    let (mut plain, mut eval) = (Duration::MAX, Duration::MAX);
    rt.block_on(async {
        for _ in 0..rounds {
            let t = Instant::now();
            assert_eq!(plain_scan(&store).await, keys);
            plain = plain.min(t.elapsed());
            let t = Instant::now();
            let stats = scanner
                .run_bucket(
                    BucketCursor {
                        bucket: "b".into(),
                        ..Default::default()
                    },
                    None,
                )
                .await
                .unwrap();
            eval = eval.min(t.elapsed());
            assert_eq!(stats.versions_evaluated, keys as u64);
            assert_eq!(stats.expired, 0);
        }
    });

    // Everything due (created 400 days ago): one delete per object.
    let old_us = now_us - 400 * 86_400_000_000;
    let due = build(&tmp.path().join("due"), keys, old_us);
    due.apply_sync(Command::UpdateBucket {
        name: "b".into(),
        change: BucketChange::Lifecycle(Some(rules(1))),
    })
    .unwrap();
    let due_meta: Arc<dyn Metadata> = due.clone();
    let expire = rt.block_on(async {
        let t = Instant::now();
        let stats = Scanner::new(due_meta, blobs.clone(), None)
            .run_bucket(
                BucketCursor {
                    bucket: "b".into(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(stats.expired, keys as u64);
        t.elapsed()
    });
    assert_eq!(rt.block_on(plain_scan(&due)), 0, "every object expired");

    let rate = |d: Duration| keys as f64 / d.as_secs_f64();
    println!(
        "# {keys} objects, one bucket, 2 rules{}",
        if quick {
            " (QUICK: numbers not meaningful)"
        } else {
            ""
        }
    );
    println!("{:<44} {:>14} {:>8}", "case", "versions/s", "ratio");
    println!(
        "{:<44} {:>14.0} {:>8.2}",
        "plain metadata scan (baseline)",
        rate(plain),
        1.0
    );
    println!(
        "{:<44} {:>14.0} {:>8.2}",
        "lifecycle bucket job, nothing due",
        rate(eval),
        plain.as_secs_f64() / eval.as_secs_f64()
    );
    println!(
        "{:<44} {:>14.0} {:>8.2}",
        "lifecycle bucket job, every object expired",
        rate(expire),
        plain.as_secs_f64() / expire.as_secs_f64()
    );
    println!(
        "{{\"bench\":\"lifecycle\",\"objects\":{keys},\"scan_ratio\":{:.3},\"expire_ratio\":{:.3},\"quick\":{quick}}}",
        plain.as_secs_f64() / eval.as_secs_f64(),
        plain.as_secs_f64() / expire.as_secs_f64()
    );
}
