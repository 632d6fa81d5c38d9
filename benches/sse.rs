//! Encryption at rest, single thread: sealing and opening 1 MiB of an object in
//! 64 KiB AES-256-GCM chunks (`hafiz-crypto`), against memcpy and MD5 of the same
//! 1 MiB measured in the same run (MD5 is what every PUT already computes for the
//! ETag). "x memcpy" is time / time(memcpy), lower is better.
//!
//! Run: `cargo bench -p hafiz-benches --bench sse`; `HAFIZ_BENCH_QUICK=1` for a smoke run.

mod common;

use std::hint::black_box;

use bytes::Bytes;
use common::{Case, Config, gbps, json_num, json_str, memcpy_case, pseudo_random_bytes};
use hafiz_crypto::{ChunkSealer, DataKey, RangeOpener, Segment};
use md5::{Digest, Md5};

const MIB: usize = 1 << 20;

fn seal(key: &DataKey, plain: &[u8]) -> Vec<u8> {
    let mut s = ChunkSealer::new(key, 0);
    let mut out = Vec::with_capacity(plain.len() + plain.len() / 1000);
    for c in s.push(plain) {
        out.extend_from_slice(&c);
    }
    if let Some(c) = s.finish() {
        out.extend_from_slice(&c);
    }
    out
}

fn open(key: &DataKey, sealed: &[u8], len: u64) -> usize {
    let mut o = RangeOpener::new(
        key,
        vec![Segment {
            number: 0,
            plain_len: len,
        }],
        0,
        len,
    );
    let n = o
        .push(Bytes::copy_from_slice(sealed))
        .expect("opens")
        .iter()
        .map(Bytes::len)
        .sum();
    o.finish().expect("whole range");
    n
}

fn main() {
    let cfg = Config::from_env();
    let plain = pseudo_random_bytes(MIB, 0x55E);
    let key = DataKey::generate();
    let sealed = seal(&key, &plain);
    // Round trip first: the bench measures a correct path.
    {
        let mut o = RangeOpener::new(
            &key,
            vec![Segment {
                number: 0,
                plain_len: MIB as u64,
            }],
            0,
            MIB as u64,
        );
        let back: Vec<u8> = o
            .push(Bytes::copy_from_slice(&sealed))
            .unwrap()
            .iter()
            .flat_map(|b| b.iter().copied())
            .collect();
        assert_eq!(back, plain);
    }
    let mut dst = vec![0u8; MIB];
    let mut cases = vec![
        memcpy_case("memcpy 1 MiB", &plain, &mut dst),
        Case::new("md5 1 MiB", || {
            black_box(Md5::digest(black_box(&plain)));
        }),
        Case::new("seal 1 MiB (16 chunks)", || {
            black_box(seal(&key, black_box(&plain)));
        }),
        Case::new("open 1 MiB (copy in + 16 chunks)", || {
            black_box(open(&key, black_box(&sealed), MIB as u64));
        }),
    ];
    println!("# hafiz-benches sse: {}", cfg.describe());
    common::run(&cfg, &mut cases);
    let base = cases[0].ns();
    println!(
        "{:<36} {:>10} {:>10} {:>12}",
        "case", "GB/s", "x memcpy", "wall us"
    );
    for c in &cases {
        println!(
            "{:<36} {:>10.2} {:>10.2} {:>12.1}",
            c.name,
            gbps(MIB, c.ns()),
            c.ns() / base,
            c.wall_ns() / 1e3
        );
    }
    for c in &cases {
        println!(
            "{{\"bench\":\"sse\",\"case\":{},\"gb_per_s\":{},\"x_memcpy\":{}}}",
            json_str(&c.name),
            json_num(gbps(MIB, c.ns())),
            json_num(c.ns() / base)
        );
    }
    println!(
        "seal / md5 = {:.2}, open / md5 = {:.2} (an SSE-S3 PUT adds the first to what it already pays for MD5)",
        cases[2].ns() / cases[1].ns(),
        cases[3].ns() / cases[1].ns()
    );
}
