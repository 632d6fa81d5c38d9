//! Versioned buckets cost no more to read than unversioned ones: the current version
//! of a key (GET/HEAD) and listing (ListObjectsV2 pages of 1,000 keys) on a bucket
//! where some keys have thousands of versions (half of them under a delete marker),
//! against the same keys with one version each, measured in the same run.
//!
//! Ratios are versioned time / unversioned time (1.0 = as fast). The store lives in
//! `HAFIZ_BENCH_DIR` (default /dev/shm, so fsyncs do not dominate the set-up);
//! `HAFIZ_BENCH_QUICK=1` runs a smaller smoke version.

use std::time::{Duration, Instant};

use hafiz_meta::{
    BucketChange, BucketInfo, Command, ListQuery, MetaStore, Metadata, ObjectVersion, Versioning,
    WriteCondition, mint_version_id,
};

const KEYS: usize = 5_000;

struct Sizes {
    hot_keys: usize,
    versions_per_hot_key: usize,
    lookups: usize,
}

fn version(key: &str, order: u64, marker: bool) -> ObjectVersion {
    ObjectVersion {
        key: key.to_string(),
        version_id: mint_version_id(order, order),
        order,
        last_modified: (order / 1000) as i64,
        etag: "e".into(),
        size: 1,
        delete_marker: marker,
        storage_class: "STANDARD".into(),
        data: hafiz_meta::ObjectData::Inline(vec![b'x']),
        ..Default::default()
    }
}

fn key(i: usize) -> String {
    format!("dir{:02}/object-{i:06}", i % 50)
}

/// A store with one bucket of KEYS keys; when `sizes` is given the bucket versions
/// and `hot_keys` of them get `versions_per_hot_key` versions (every other one ends
/// under a delete marker, so it is not listed).
fn build(dir: &std::path::Path, sizes: Option<&Sizes>) -> MetaStore {
    let s = MetaStore::open(dir).unwrap();
    s.apply_sync(Command::CreateBucket(BucketInfo {
        name: "b".into(),
        region: "r".into(),
        ..Default::default()
    }))
    .unwrap();
    if sizes.is_some() {
        s.apply_sync(Command::UpdateBucket {
            name: "b".into(),
            change: BucketChange::Versioning(Versioning::Enabled),
        })
        .unwrap();
    }
    let mut order = 1_700_000_000_000_000u64;
    let mut put = |k: &str, marker: bool| {
        order += 1;
        s.apply_sync(Command::PutObject {
            bucket: "b".into(),
            version: version(k, order, marker),
            condition: WriteCondition::None,
        })
        .unwrap();
    };
    for i in 0..KEYS {
        put(&key(i), false);
    }
    if let Some(z) = sizes {
        for h in 0..z.hot_keys {
            let k = key(h * (KEYS / z.hot_keys));
            for _ in 1..z.versions_per_hot_key {
                put(&k, false);
            }
            if h % 2 == 1 {
                put(&k, true);
            }
        }
    }
    s
}

/// Best of 5: lookups of the current version of the hot keys.
async fn time_lookups(s: &MetaStore, z: &Sizes) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for n in 0..z.lookups {
            let h = n % z.hot_keys;
            let v = s.object("b", &key(h * (KEYS / z.hot_keys))).await.unwrap();
            assert!(v.is_some());
        }
        best = best.min(start.elapsed());
    }
    best
}

/// Best of 5: the whole bucket listed in pages of 1,000 keys; returns keys seen.
async fn time_listing(s: &MetaStore) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut seen = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let mut after = None;
        seen = 0;
        loop {
            let page = s
                .list_objects(
                    "b",
                    ListQuery {
                        after: after.clone(),
                        max: 1000,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            seen += page.entries.len();
            after = page.entries.last().map(|e| e.name().to_string());
            if !page.truncated {
                break;
            }
        }
        best = best.min(start.elapsed());
    }
    (best, seen)
}

fn main() {
    let quick = std::env::var("HAFIZ_BENCH_QUICK").is_ok_and(|v| v == "1");
    let z = Sizes {
        hot_keys: if quick { 10 } else { 40 },
        versions_per_hot_key: if quick { 300 } else { 2_000 },
        lookups: if quick { 5_000 } else { 50_000 },
    };
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
    let flat = build(&tmp.path().join("flat"), None);
    let deep = build(&tmp.path().join("deep"), Some(&z));
    let (lf, ld) =
        rt.block_on(async { (time_lookups(&flat, &z).await, time_lookups(&deep, &z).await) });
    let ((sf, nf), (sd, nd)) =
        rt.block_on(async { (time_listing(&flat).await, time_listing(&deep).await) });
    assert_eq!(nf, KEYS);
    assert_eq!(
        nd,
        KEYS - z.hot_keys / 2,
        "keys under a delete marker are not listed"
    );
    println!(
        "{} keys; versioned bucket: {} keys with {} versions each (every other one under a delete marker)",
        KEYS, z.hot_keys, z.versions_per_hot_key
    );
    println!(
        "{:<36} {:>14} {:>14} {:>8}",
        "operation", "unversioned", "versioned", "ratio"
    );
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{:<36} {:>11.2} µs {:>11.2} µs {:>8.2}",
        "current version of a hot key",
        per(lf, z.lookups),
        per(ld, z.lookups),
        ld.as_secs_f64() / lf.as_secs_f64()
    );
    println!(
        "{:<36} {:>11.2} ms {:>11.2} ms {:>8.2}",
        "list the bucket (1,000-key pages)",
        sf.as_secs_f64() * 1e3,
        sd.as_secs_f64() * 1e3,
        sd.as_secs_f64() / sf.as_secs_f64()
    );
}
