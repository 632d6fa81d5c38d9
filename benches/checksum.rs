//! Bitrot-checksum micro-benchmark: one-shot checksum of a 1 MiB and a 256 KiB block
//! (the unit a shard file would be checksummed in), single thread.
//!
//! Candidates: crc-fast CRC-32C (`Crc32Iscsi`, what hafiz-storage uses today) and
//! CRC-64/NVME, the `crc32c` crate, BLAKE3 (no rayon), XXH3-64 (`xxhash-rust`),
//! HighwayHash-256 and -64 (`highway`, what MinIO uses), and SHA-256 (`sha2` 0.10, with
//! SHA-NI when the CPU has it) for reference.
//!
//! GB/s = 1e9 bytes/s; "x memcpy" = time / time(memcpy of the same block) measured in the
//! same run (lower is better). Known-answer and cross-implementation asserts run first.
//!
//! Run: `cargo bench -p hafiz-benches --bench checksum`; `HAFIZ_BENCH_QUICK=1` for a smoke run.

mod common;

use std::hint::black_box;

use common::{Case, Config, gbps, json_num, json_str, memcpy_case, pseudo_random_bytes};
use crc_fast::CrcAlgorithm;
use highway::{HighwayHash, HighwayHasher, Key};
use sha2::{Digest, Sha256};

const SIZES: [(usize, &str); 2] = [(1 << 20, "1 MiB"), (256 << 10, "256 KiB")];
/// A fixed, arbitrary HighwayHash key (a deployment would configure its own).
const HIGHWAY_KEY: [u64; 4] = [
    0x0706_0504_0302_0100,
    0x0F0E_0D0C_0B0A_0908,
    0x1716_1514_1312_1110,
    0x1F1E_1D1C_1B1A_1918,
];

type Checksum = fn(&[u8]) -> u64;

/// (name, output bits, function folding the digest to a u64 so the optimiser must compute it).
const CANDIDATES: [(&str, u32, Checksum); 8] = [
    ("crc-fast CRC32C", 32, |b| {
        crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, b)
    }),
    ("crc-fast CRC64NVME", 64, |b| {
        crc_fast::checksum(CrcAlgorithm::Crc64Nvme, b)
    }),
    ("crc32c crate", 32, |b| u64::from(crc32c::crc32c(b))),
    ("blake3", 256, |b| {
        let h = blake3::hash(b);
        u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap())
    }),
    ("xxh3_64", 64, xxhash_rust::xxh3::xxh3_64),
    ("highway 256", 256, |b| {
        HighwayHasher::new(Key(HIGHWAY_KEY)).hash256(b)[0]
    }),
    ("highway 64", 64, |b| {
        HighwayHasher::new(Key(HIGHWAY_KEY)).hash64(b)
    }),
    ("sha256 (ref)", 256, |b| {
        let h = Sha256::digest(b);
        u64::from_le_bytes(h[..8].try_into().unwrap())
    }),
];

fn sanity_checks() {
    let check = b"123456789";
    assert_eq!(
        crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, check),
        0xE306_9283
    );
    assert_eq!(crc32c::crc32c(check), 0xE306_9283);
    assert_eq!(
        crc_fast::checksum(CrcAlgorithm::Crc64Nvme, check),
        0xAE8B_1486_0A79_9888
    );
    assert_eq!(
        blake3::hash(b"").to_hex().as_str(),
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
    assert_eq!(xxhash_rust::xxh3::xxh3_64(b""), 0x2D06_8005_38D3_94C2);
    assert_eq!(
        format!("{:x}", Sha256::digest(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // Large inputs take the SIMD paths: the two CRC-32C implementations must agree there too,
    // and streaming HighwayHash must match one-shot.
    for len in [(1usize << 20) + 13, 256 << 10, 4097] {
        let data = pseudo_random_bytes(len, len as u64);
        assert_eq!(
            crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, &data),
            u64::from(crc32c::crc32c(&data)),
            "CRC-32C implementations disagree on {len} bytes"
        );
        let mut hh = HighwayHasher::new(Key(HIGHWAY_KEY));
        for part in data.chunks(1000) {
            hh.append(part);
        }
        assert_eq!(
            hh.finalize256(),
            HighwayHasher::new(Key(HIGHWAY_KEY)).hash256(&data)
        );
    }
}

struct Row {
    name: &'static str,
    bits: u32,
    size_label: &'static str,
    size: usize,
    ns: f64,
    memcpy_ns: f64,
}

fn main() {
    let cfg = Config::from_env();
    sanity_checks();

    let blocks: Vec<Vec<u8>> = SIZES
        .iter()
        .map(|&(n, _)| pseudo_random_bytes(n, n as u64 ^ 0x5EED))
        .collect();
    let mut dsts: Vec<Vec<u8>> = SIZES.iter().map(|&(n, _)| vec![0u8; n]).collect();
    let mut cases = Vec::new();
    for ((block, dst), &(_, label)) in blocks.iter().zip(dsts.iter_mut()).zip(SIZES.iter()) {
        cases.push(memcpy_case(&format!("memcpy {label}"), block, dst));
        for &(name, _, f) in &CANDIDATES {
            cases.push(Case::new(format!("{name} {label}"), move || {
                black_box(f(black_box(block)));
            }));
        }
    }
    println!("# hafiz-benches checksum: {}", cfg.describe());
    common::run(&cfg, &mut cases);

    let per_size = 1 + CANDIDATES.len();
    let mut rows = Vec::new();
    for (n, &(size, size_label)) in SIZES.iter().enumerate() {
        let c = &cases[n * per_size..(n + 1) * per_size];
        for (i, &(name, bits, _)) in CANDIDATES.iter().enumerate() {
            rows.push(Row {
                name,
                bits,
                size_label,
                size,
                ns: c[1 + i].ns(),
                memcpy_ns: c[0].ns(),
            });
        }
    }

    println!(
        "# GB/s = 1e9 B/s; x memcpy = time / time(memcpy of the same block) (lower is better)"
    );
    for (n, &(size, label)) in SIZES.iter().enumerate() {
        let m = cases[n * per_size].ns();
        println!(
            "# memcpy {label}: {:.2} GB/s ({:.1} us)",
            gbps(size, m),
            m / 1e3
        );
    }
    println!(
        "{:<20} {:>5} {:>8} {:>9} {:>9} {:>11}",
        "checksum", "bits", "block", "GB/s", "x memcpy", "vs CRC32C"
    );
    for chunk in rows.chunks(CANDIDATES.len()) {
        let crc32c_ns = chunk[0].ns;
        for r in chunk {
            println!(
                "{:<20} {:>5} {:>8} {:>9.2} {:>9.2} {:>10.2}x",
                r.name,
                r.bits,
                r.size_label,
                gbps(r.size, r.ns),
                r.ns / r.memcpy_ns,
                r.ns / crc32c_ns
            );
        }
    }
    let mut winners = Vec::new();
    for chunk in rows.chunks(CANDIDATES.len()) {
        let mut sorted: Vec<&Row> = chunk.iter().collect();
        sorted.sort_by(|a, b| a.ns.total_cmp(&b.ns));
        let (first, second) = (sorted[0], sorted[1]);
        println!(
            "# {}: fastest {} ({:.2} GB/s), {:.2}x faster than runner-up {}{}; slowest {} is {:.1}x slower than the fastest",
            first.size_label,
            first.name,
            gbps(first.size, first.ns),
            second.ns / first.ns,
            second.name,
            if second.ns / first.ns < 1.05 {
                " (within noise: a tie)"
            } else {
                ""
            },
            sorted[sorted.len() - 1].name,
            sorted[sorted.len() - 1].ns / first.ns
        );
        winners.push(format!(
            "{{\"block\":{},\"winner\":{},\"runner_up\":{},\"speedup\":{}}}",
            json_str(first.size_label),
            json_str(first.name),
            json_str(second.name),
            json_num(second.ns / first.ns)
        ));
    }
    println!("# per-case best times (thread CPU vs wall):");
    for c in &cases {
        println!(
            "#   {:<30} cpu {:>9.1} us  wall {:>9.1} us",
            c.name,
            c.ns() / 1e3,
            c.wall_ns() / 1e3
        );
    }
    let results: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"name\":{},\"bits\":{},\"block_bytes\":{},\"gbps\":{},\"x_memcpy\":{}}}",
                json_str(r.name),
                r.bits,
                r.size,
                json_num(gbps(r.size, r.ns)),
                json_num(r.ns / r.memcpy_ns)
            )
        })
        .collect();
    let memcpy: Vec<String> = SIZES
        .iter()
        .enumerate()
        .map(|(n, &(size, _))| {
            format!(
                "\"{size}\":{}",
                json_num(gbps(size, cases[n * per_size].ns()))
            )
        })
        .collect();
    println!(
        "{{\"bench\":\"checksum\",\"quick\":{},\"timing\":\"thread_cpu_best_of_{}\",\"memcpy_gbps\":{{{}}},\
         \"results\":[{}],\"winners\":[{}]}}",
        cfg.quick,
        cfg.rounds,
        memcpy.join(","),
        results.join(","),
        winners.join(",")
    );
}
