//! 64 MiB object PUT and GET through the erasure-coded store on 4 drive directories
//! (2+2), against the physical baseline measured in the same run: the same bytes
//! written (with fsync) and read as plain files striped over those directories.
//!
//! Ratios > 1 mean faster than the baseline. Targets (issue 3): GET >= 0.7, PUT >= 0.5.
//! An EC 2+2 PUT writes twice the bytes of the baseline (parity), so 0.5 is the
//! physical ceiling's neighbourhood on a disk-bound machine.
//!
//! `HAFIZ_BENCH_DIR` picks where the drive directories go (default: the system temp
//! dir); `HAFIZ_BENCH_QUICK=1` runs a seconds-long smoke version.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use hafiz_storage::{BlobStore, ErasureStore, StoredBlob};

const CHUNK: usize = 256 * 1024;

fn baseline_write(dirs: &[PathBuf], body: &[u8]) -> Duration {
    let start = Instant::now();
    let part = body.len().div_ceil(dirs.len());
    std::thread::scope(|s| {
        for (i, d) in dirs.iter().enumerate() {
            let slice = &body[(i * part).min(body.len())..((i + 1) * part).min(body.len())];
            s.spawn(move || {
                let mut f = std::fs::File::create(d.join("baseline")).unwrap();
                for c in slice.chunks(CHUNK) {
                    f.write_all(c).unwrap();
                }
                f.sync_all().unwrap();
            });
        }
    });
    start.elapsed()
}

fn baseline_read(dirs: &[PathBuf]) -> (Duration, usize) {
    let start = Instant::now();
    let total: usize = std::thread::scope(|s| {
        let hs: Vec<_> = dirs
            .iter()
            .map(|d| {
                s.spawn(move || {
                    let mut f = std::fs::File::open(d.join("baseline")).unwrap();
                    let mut buf = vec![0u8; CHUNK];
                    let mut n = 0;
                    loop {
                        let r = f.read(&mut buf).unwrap();
                        if r == 0 {
                            break n;
                        }
                        n += r;
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    (start.elapsed(), total)
}

async fn store_put(store: &ErasureStore, body: &Bytes) -> (Duration, String) {
    let start = Instant::now();
    let mut w = store.writer("bench/object").await.unwrap();
    let mut off = 0;
    while off < body.len() {
        let end = (off + CHUNK).min(body.len());
        w.write(body.slice(off..end)).await.unwrap();
        off = end;
    }
    let StoredBlob::Stored { id, .. } = w.finish().await.unwrap() else {
        panic!("inline")
    };
    (start.elapsed(), id)
}

async fn store_get(store: &ErasureStore, id: &str, size: u64) -> (Duration, u64) {
    let start = Instant::now();
    let mut s = store.read(id, size, 0, size).await.unwrap();
    let mut n = 0u64;
    while let Some(b) = s.next().await {
        n += b.unwrap().len() as u64;
    }
    (start.elapsed(), n)
}

fn best(v: &[Duration]) -> Duration {
    v.iter().copied().min().unwrap_or_default()
}

fn main() {
    let quick = std::env::var("HAFIZ_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
        || !std::env::args().any(|a| a == "--bench");
    let (size, rounds) = if quick { (4 << 20, 2) } else { (64 << 20, 7) };
    let base = std::env::var_os("HAFIZ_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let root = tempfile::tempdir_in(&base).unwrap();
    let dirs: Vec<PathBuf> = (0..4)
        .map(|i| root.path().join(format!("drive{i}")))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let topology = hafiz_storage::drive::assemble(&dirs, None).unwrap();
    let store = ErasureStore::new(&topology).unwrap();
    // The block size the issue asks to compare: 1 MiB (default) against 4 MiB.
    let store4 = ErasureStore::with_block_size(&topology, 4 << 20).unwrap();
    let body = Bytes::from(
        (0..size)
            .map(|i| (i * 131 % 251) as u8)
            .collect::<Vec<u8>>(),
    );

    // The same number of bytes an EC 2+2 write puts on the drives (data + parity).
    let doubled: Vec<u8> = body.iter().chain(body.iter()).copied().collect();
    let (mut bw, mut br, mut pw, mut pr, mut bw2) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut pw4, mut pr4) = (vec![], vec![]);
    // Interleave baseline and store rounds so noise hits both alike.
    for _ in 0..rounds {
        bw2.push(baseline_write(&dirs, &doubled));
        bw.push(baseline_write(&dirs, &body));
        let (t, n) = baseline_read(&dirs);
        assert_eq!(n, size);
        br.push(t);
        let (t, id) = rt.block_on(store_put(&store, &body));
        pw.push(t);
        let (t, n) = rt.block_on(store_get(&store, &id, size as u64));
        assert_eq!(n, size as u64);
        pr.push(t);
        rt.block_on(store.delete(&id)).unwrap();
        let (t, id) = rt.block_on(store_put(&store4, &body));
        pw4.push(t);
        let (t, n) = rt.block_on(store_get(&store4, &id, size as u64));
        assert_eq!(n, size as u64);
        pr4.push(t);
        rt.block_on(store4.delete(&id)).unwrap();
    }
    let (pw4, pr4) = (best(&pw4), best(&pr4));
    let mib = size as f64 / (1 << 20) as f64;
    let rate = |d: Duration| mib / d.as_secs_f64();
    let (bw, br, pw, pr, bw2) = (best(&bw), best(&br), best(&pw), best(&pr), best(&bw2));
    println!(
        "# {} MiB object, 4 drives (2+2) under {}, best of {rounds}{}",
        mib,
        base.display(),
        if quick {
            " (QUICK: numbers not meaningful)"
        } else {
            ""
        }
    );
    println!("{:<28} {:>10} {:>10}", "case", "MiB/s", "ratio");
    println!(
        "{:<28} {:>10.0} {:>10}",
        "plain files write+fsync",
        rate(bw),
        "1.00"
    );
    println!(
        "{:<28} {:>10.0} {:>10.2}",
        "plain files, 2x bytes",
        rate(bw2),
        bw.as_secs_f64() / bw2.as_secs_f64()
    );
    println!(
        "{:<28} {:>10.0} {:>10.2}",
        "erasure PUT",
        rate(pw),
        bw.as_secs_f64() / pw.as_secs_f64()
    );
    println!(
        "{:<28} {:>10.0} {:>10.2}",
        "erasure PUT, 4 MiB blocks",
        rate(pw4),
        bw.as_secs_f64() / pw4.as_secs_f64()
    );
    println!(
        "{:<28} {:>10.0} {:>10}",
        "plain files read",
        rate(br),
        "1.00"
    );
    println!(
        "{:<28} {:>10.0} {:>10.2}",
        "erasure GET",
        rate(pr),
        br.as_secs_f64() / pr.as_secs_f64()
    );
    println!(
        "{:<28} {:>10.0} {:>10.2}",
        "erasure GET, 4 MiB blocks",
        rate(pr4),
        br.as_secs_f64() / pr4.as_secs_f64()
    );
    println!(
        "{{\"bench\":\"storage\",\"size\":{size},\"put_ratio\":{:.3},\"get_ratio\":{:.3},\"quick\":{quick}}}",
        bw.as_secs_f64() / pw.as_secs_f64(),
        br.as_secs_f64() / pr.as_secs_f64()
    );
    drop(root);
}
