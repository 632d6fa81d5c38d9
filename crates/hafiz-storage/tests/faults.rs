//! Fault tests of the erasure-coded store on a 4+2 set: drives wiped, shards rotted,
//! healing, and losses beyond parity. Every read is checked byte for byte.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;
use hafiz_storage::{BlobStore, ErasureStore, StorageError, StoredBlob};

const SIZES: &[usize] = &[
    128 * 1024 + 1,
    1024 * 1024,
    1024 * 1024 + 1,
    5 * 1024 * 1024 + 17,
];

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn drives(root: &Path, n: usize) -> Vec<PathBuf> {
    (0..n).map(|i| root.join(format!("d{i}"))).collect()
}

async fn put(store: &ErasureStore, key: &str, body: &[u8]) -> (String, u64) {
    let mut w = store.writer(key).await.unwrap();
    for c in body.chunks(100_000) {
        w.write(Bytes::copy_from_slice(c)).await.unwrap();
    }
    match w.finish().await.unwrap() {
        StoredBlob::Stored { id, size } => (id, size),
        StoredBlob::Inline(_) => panic!("expected a stored blob"),
    }
}

async fn get(
    store: &ErasureStore,
    id: &str,
    size: u64,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, StorageError> {
    let mut s = store.read(id, size, offset, len).await?;
    let mut out = Vec::new();
    while let Some(b) = s.next().await {
        out.extend_from_slice(&b?);
    }
    Ok(out)
}

fn shard_files(drive: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(drive.join("shards")) {
        for sub in rd.flatten() {
            for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
                out.push(f.path());
            }
        }
    }
    out
}

/// Flip one byte in every chunk region of every shard file on the drive.
fn rot(drive: &Path) {
    for f in shard_files(drive) {
        let mut b = std::fs::read(&f).unwrap();
        let mut pos = 40;
        while pos < b.len() {
            b[pos] ^= 0x5A;
            pos += 100_000;
        }
        std::fs::write(&f, b).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiped_and_rotten_drives_are_tolerated_then_healed() {
    let root = tempfile::tempdir().unwrap();
    let paths = drives(root.path(), 6);
    let store = ErasureStore::open(&paths, None).unwrap();
    assert_eq!(store.layout_summary(), "1 set(s) of 4+2");
    let mut blobs = Vec::new();
    for (i, size) in SIZES.iter().enumerate() {
        let body = data(*size, i as u64);
        let (id, sz) = put(&store, &format!("b/k{i}"), &body).await;
        blobs.push((id, sz, body));
    }
    drop(store);

    // Drive 1 is wiped and comes back blank; drive 4's shards rot. At the same time.
    std::fs::remove_dir_all(&paths[1]).unwrap();
    rot(&paths[4]);
    let store = ErasureStore::open(&paths, None).unwrap();
    assert!(
        store.needs_full_heal(),
        "the blank drive must be marked for healing"
    );
    for (id, size, body) in &blobs {
        assert_eq!(&get(&store, id, *size, 0, *size).await.unwrap(), body);
        // a range in the middle of the last block
        let (off, len) = (*size - 20, 10);
        assert_eq!(
            get(&store, id, *size, off, len).await.unwrap(),
            body[off as usize..(off + len) as usize]
        );
    }
    let damaged: Vec<String> = store.take_damaged().into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        damaged.len(),
        blobs.len(),
        "every read of a damaged blob queues it for healing"
    );

    // Heal: a dry run changes nothing; the real one rebuilds two shards per blob.
    for (id, size, _) in &blobs {
        let r = store.heal(id, *size, true).await.unwrap();
        assert_eq!(r.damaged.len(), 2, "{r:?}");
        assert_eq!(r.rebuilt, 0);
    }
    for (id, size, _) in &blobs {
        let r = store.heal(id, *size, false).await.unwrap();
        assert_eq!((r.damaged.len(), r.rebuilt), (2, 2), "{r:?}");
        assert_eq!(
            store.heal(id, *size, true).await.unwrap().damaged,
            Vec::<usize>::new()
        );
    }
    store.finish_full_heal();
    drop(store);

    // Two *other* drives are lost: the first damage must have been healed, not
    // merely tolerated, for every blob to read back.
    std::fs::remove_dir_all(&paths[0]).unwrap();
    rot(&paths[5]);
    std::fs::remove_dir_all(paths[5].join("shards")).unwrap();
    let store = ErasureStore::open(&paths, None).unwrap();
    for (id, size, body) in &blobs {
        assert_eq!(&get(&store, id, *size, 0, *size).await.unwrap(), body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_parity_is_an_error_never_wrong_bytes() {
    let root = tempfile::tempdir().unwrap();
    let paths = drives(root.path(), 4);
    let store = ErasureStore::open(&paths, None).unwrap();
    let body = data(3 * 1024 * 1024 + 5, 7);
    let (id, size) = put(&store, "b/k", &body).await;
    // rot three of four drives: more than m = 2
    for p in &paths[..3] {
        rot(p);
    }
    let err = get(&store, &id, size, 0, size).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(store.heal(&id, size, false).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_quorum() {
    let root = tempfile::tempdir().unwrap();
    let paths = drives(root.path(), 4);
    let store = ErasureStore::open(&paths, None).unwrap();
    // 2+2 needs 3 drives: take two away (their format files vanish).
    std::fs::remove_file(paths[0].join("format.json")).unwrap();
    std::fs::remove_file(paths[1].join("format.json")).unwrap();
    store.refresh_drives();
    assert!(!store.ready().await);
    let mut w = store.writer("b/k").await.unwrap();
    let err = w
        .write(Bytes::from(vec![1u8; 300 * 1024]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::WriteQuorum { online: 2, need: 3 }),
        "{err}"
    );
    // small objects stay inline and never touch the drives
    let mut w = store.writer("b/small").await.unwrap();
    w.write(Bytes::from_static(b"tiny")).await.unwrap();
    assert!(matches!(w.finish().await.unwrap(), StoredBlob::Inline(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_are_chosen_stably_and_shards_spread() {
    let root = tempfile::tempdir().unwrap();
    let paths = drives(root.path(), 32);
    let store = ErasureStore::open(&paths, None).unwrap();
    assert_eq!(store.layout_summary(), "2 set(s) of 12+4");
    let (a, _) = put(&store, "bucket/key-a", &data(200_000, 1)).await;
    let (b, _) = put(&store, "bucket/key-a", &data(200_000, 2)).await;
    assert_eq!(a[..4], b[..4], "same bucket/key, same set");
    let sets: std::collections::HashSet<String> = {
        let mut s = std::collections::HashSet::new();
        for i in 0..20 {
            s.insert(
                put(&store, &format!("bucket/k{i}"), &data(140_000, i))
                    .await
                    .0[..4]
                    .to_string(),
            );
        }
        s
    };
    assert_eq!(sets.len(), 2, "keys spread over both sets");
    let store2 = ErasureStore::open(&paths, None).unwrap();
    let body = data(200_000, 2);
    assert_eq!(get(&store2, &b, 200_000, 0, 200_000).await.unwrap(), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_keep_the_block_size_they_were_written_with() {
    let root = tempfile::tempdir().unwrap();
    let paths = drives(root.path(), 4);
    let topo = hafiz_storage::drive::assemble(&paths, None).unwrap();
    let big_blocks = ErasureStore::with_block_size(&topo, 4 << 20).unwrap();
    let body = data(9 * 1024 * 1024 + 3, 11);
    let (id, size) = put(&big_blocks, "b/k", &body).await;
    drop(big_blocks);
    drop(topo);
    let store = ErasureStore::open(&paths, None).unwrap();
    assert_eq!(get(&store, &id, size, 0, size).await.unwrap(), body);
    assert_eq!(
        get(&store, &id, size, 5 << 20, 100).await.unwrap(),
        body[5 << 20..(5 << 20) + 100]
    );
    rot(&paths[0]);
    assert_eq!(get(&store, &id, size, 0, size).await.unwrap(), body);
    let r = store.heal(&id, size, false).await.unwrap();
    assert_eq!(r.rebuilt, 1);
    assert!(
        store
            .heal(&id, size, true)
            .await
            .unwrap()
            .damaged
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rot_scattered_over_more_than_m_shards_is_healed_block_by_block() {
    let root = tempfile::tempdir().unwrap();
    let paths = drives(root.path(), 4); // 2+2
    let store = ErasureStore::open(&paths, None).unwrap();
    let body = data(4 * 1024 * 1024, 21); // 4 blocks, chunks of 512 KiB
    let (id, size) = put(&store, "b/k", &body).await;
    // Three shards rot, each in a different block: no block loses more than m = 2.
    let chunk = 512 * 1024 + 4;
    for (drive, block) in [(0usize, 0usize), (1, 1), (2, 2)] {
        let f = &shard_files(&paths[drive])[0];
        let mut b = std::fs::read(f).unwrap();
        b[32 + block * chunk + 10] ^= 0xFF;
        std::fs::write(f, b).unwrap();
    }
    assert_eq!(get(&store, &id, size, 0, size).await.unwrap(), body);
    let r = store.heal(&id, size, false).await.unwrap();
    assert_eq!((r.damaged.len(), r.rebuilt), (3, 3), "{r:?}");
    assert!(
        store
            .heal(&id, size, true)
            .await
            .unwrap()
            .damaged
            .is_empty()
    );
}
