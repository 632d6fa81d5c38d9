//! Erasure-coding micro-benchmark: one 1 MiB object block split into k data shards of
//! ceil(1 MiB / k) bytes (rounded up to even, which reed-solomon-simd needs; exact for
//! the layouts here), m parity shards.
//!
//! For each library and layout:
//! - encode: compute the m parity shards from the k data shards (data shards are
//!   slices of the contiguous block, no copy; reed-solomon-erasure writes parity into
//!   caller buffers, reed-solomon-simd copies the input into its work space and hands
//!   back borrowed parity slices);
//! - reconstruct: the worst case for a degraded read, min(m, k) *data* shards missing
//!   (the first ones), rebuilt from the remaining data shards plus parity; only data is
//!   rebuilt (`reconstruct_data`; reed-solomon-simd restores originals only anyway).
//!   Pre-allocated buffers, codec / matrices built once outside the timed loop, as a
//!   server would keep them.
//!
//! Every reconstructed shard is asserted equal to the original bytes, and every parity
//! produced in the timed loop is asserted equal to a reference encode.
//!
//! GB/s counts the 1 MiB of object data per operation (10^9 bytes/s); "x memcpy" is the
//! operation's time divided by the time of a memcpy of that same 1 MiB, measured in the
//! same run (lower is better; 1.0 = as cheap as copying the block once).
//!
//! Run: `cargo bench -p hafiz-benches --bench ec`; `HAFIZ_BENCH_QUICK=1` for a smoke run.

mod common;

use std::hint::black_box;

use common::{Case, Config, gbps, json_num, json_str, memcpy_case, pseudo_random_bytes};
use reed_solomon_erasure::galois_8::ReedSolomon;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

const BLOCK: usize = 1 << 20;
const LAYOUTS: [(usize, usize); 4] = [(1, 1), (2, 2), (4, 2), (8, 4)];
const RSE: &str = "reed-solomon-erasure";
const SIMD: &str = "reed-solomon-simd";

/// Read-only inputs of one layout.
struct Stripe {
    k: usize,
    m: usize,
    shard_len: usize,
    /// The object block, zero-padded to k * shard_len.
    data: Vec<u8>,
    /// Reference parity from a fresh codec of each library (they are different codes).
    rse_parity: Vec<Vec<u8>>,
    simd_parity: Vec<Vec<u8>>,
    rse: ReedSolomon,
}

impl Stripe {
    fn new(k: usize, m: usize, block: usize, seed: u64) -> Stripe {
        let shard_len = block.div_ceil(k).next_multiple_of(2);
        let mut data = pseudo_random_bytes(block, seed);
        data.resize(k * shard_len, 0);
        let rse = ReedSolomon::new(k, m).expect("reed-solomon-erasure layout");
        let mut rse_parity = vec![vec![0u8; shard_len]; m];
        ReedSolomon::new(k, m)
            .unwrap()
            .encode_sep(&data.chunks(shard_len).collect::<Vec<_>>(), &mut rse_parity)
            .expect("reference encode (reed-solomon-erasure)");
        let simd_parity = reed_solomon_simd::encode(k, m, data.chunks(shard_len))
            .expect("reference encode (reed-solomon-simd)");
        Stripe {
            k,
            m,
            shard_len,
            data,
            rse_parity,
            simd_parity,
            rse,
        }
    }

    fn layout(&self) -> String {
        format!("{}+{}", self.k, self.m)
    }

    fn shard(&self, i: usize) -> &[u8] {
        &self.data[i * self.shard_len..(i + 1) * self.shard_len]
    }

    /// How many data shards the worst-case degraded read is missing.
    fn missing(&self) -> usize {
        self.m.min(self.k)
    }
}

/// Mutable work space of one layout (one field per timed closure, so they borrow disjointly).
struct Work {
    rse_parity: Vec<Vec<u8>>,
    /// All k + m shards; the first `missing` data shards are flagged absent.
    rse_shards: Vec<(Vec<u8>, bool)>,
    simd_enc: ReedSolomonEncoder,
    simd_dec: ReedSolomonDecoder,
}

impl Work {
    fn new(s: &Stripe) -> Work {
        let mut rse_shards: Vec<(Vec<u8>, bool)> = (0..s.k)
            .map(|i| (s.shard(i).to_vec(), i >= s.missing()))
            .chain(s.rse_parity.iter().map(|p| (p.clone(), true)))
            .collect();
        // Poison the missing shards so a no-op "reconstruction" cannot pass the asserts.
        for shard in rse_shards.iter_mut().take(s.missing()) {
            shard.0.fill(0xA5);
        }
        Work {
            rse_parity: vec![vec![0u8; s.shard_len]; s.m],
            rse_shards,
            simd_enc: ReedSolomonEncoder::new(s.k, s.m, s.shard_len).expect("simd encoder"),
            simd_dec: ReedSolomonDecoder::new(s.k, s.m, s.shard_len).expect("simd decoder"),
        }
    }
}

fn rse_encode(s: &Stripe, parity: &mut [Vec<u8>]) {
    let data: Vec<&[u8]> = (0..s.k).map(|i| black_box(s.shard(i))).collect();
    s.rse.encode_sep(&data, parity).expect("rse encode");
}

fn rse_reconstruct(s: &Stripe, shards: &mut [(Vec<u8>, bool)]) {
    s.rse.reconstruct_data(shards).expect("rse reconstruct");
}

/// Encode with reed-solomon-simd; `check` sees the parity slices before the encoder resets.
fn simd_encode(s: &Stripe, enc: &mut ReedSolomonEncoder, check: impl FnOnce(&[&[u8]])) {
    for i in 0..s.k {
        enc.add_original_shard(black_box(s.shard(i)))
            .expect("simd add original");
    }
    let result = enc.encode().expect("simd encode");
    let parity: Vec<&[u8]> = result.recovery_iter().collect();
    check(&parity);
}

/// Reconstruct the missing data shards with reed-solomon-simd; `check` sees them.
fn simd_reconstruct(s: &Stripe, dec: &mut ReedSolomonDecoder, check: impl FnOnce(&[&[u8]])) {
    let missing = s.missing();
    for i in missing..s.k {
        dec.add_original_shard(i, black_box(s.shard(i)))
            .expect("simd add original");
    }
    for (j, p) in s.simd_parity.iter().enumerate().take(missing) {
        dec.add_recovery_shard(j, black_box(p))
            .expect("simd add recovery");
    }
    let result = dec.decode().expect("simd decode");
    let restored: Vec<&[u8]> = (0..missing)
        .map(|i| result.restored_original(i).expect("restored shard"))
        .collect();
    check(&restored);
}

/// Assert the outputs of each library (run before and after the timed loops).
fn verify(s: &Stripe, w: &mut Work) {
    rse_encode(s, &mut w.rse_parity);
    assert_eq!(w.rse_parity, s.rse_parity, "{RSE} {} parity", s.layout());
    assert!(
        s.rse
            .verify(&{
                let mut all: Vec<&[u8]> = (0..s.k).map(|i| s.shard(i)).collect();
                all.extend(w.rse_parity.iter().map(Vec::as_slice));
                all
            })
            .expect("rse verify")
    );
    for shard in w.rse_shards.iter_mut().take(s.missing()) {
        shard.0.fill(0xA5);
    }
    rse_reconstruct(s, &mut w.rse_shards);
    for i in 0..s.missing() {
        assert!(
            w.rse_shards[i].0 == s.shard(i),
            "{RSE} {} shard {i} reconstructed",
            s.layout()
        );
    }
    simd_encode(s, &mut w.simd_enc, |parity| {
        assert_eq!(parity.len(), s.m);
        for (j, p) in parity.iter().enumerate() {
            assert!(
                *p == s.simd_parity[j].as_slice(),
                "{SIMD} {} parity {j}",
                s.layout()
            );
        }
    });
    simd_reconstruct(s, &mut w.simd_dec, |restored| {
        for (i, r) in restored.iter().enumerate() {
            assert!(
                *r == s.shard(i),
                "{SIMD} {} shard {i} reconstructed",
                s.layout()
            );
        }
    });
}

struct Row {
    lib: &'static str,
    layout: String,
    shard_len: usize,
    enc_ns: f64,
    rec_ns: f64,
}

fn main() {
    let cfg = Config::from_env();
    let stripes: Vec<Stripe> = LAYOUTS
        .iter()
        .enumerate()
        .map(|(n, &(k, m))| Stripe::new(k, m, BLOCK, 0x9E37_79B9_7F4A_7C15 ^ n as u64))
        // Last, not in the table: 4+2 with 64-byte shards, to show each library's fixed
        // per-call cost (reed-solomon-simd's decoder evaluates an error-locator polynomial
        // over the whole GF(2^16), whatever the shard size).
        .chain([Stripe::new(4, 2, 4 * 64, 0xF1)])
        .collect();
    let mut works: Vec<Work> = stripes.iter().map(Work::new).collect();
    for (s, w) in stripes.iter().zip(works.iter_mut()) {
        verify(s, w);
    }

    let src = pseudo_random_bytes(BLOCK, 7);
    let mut dst = vec![0u8; BLOCK];
    let mut cases = vec![memcpy_case("memcpy 1 MiB", &src, &mut dst)];
    for (s, w) in stripes.iter().zip(works.iter_mut()) {
        let Work {
            rse_parity,
            rse_shards,
            simd_enc,
            simd_dec,
        } = w;
        let l = if s.data.len() < BLOCK {
            format!("{} {}B-shards", s.layout(), s.shard_len)
        } else {
            s.layout()
        };
        cases.push(Case::new(format!("{RSE} {l} encode"), move || {
            rse_encode(s, rse_parity);
            black_box(&mut *rse_parity);
        }));
        cases.push(Case::new(format!("{RSE} {l} reconstruct"), move || {
            rse_reconstruct(s, rse_shards);
            black_box(&mut *rse_shards);
        }));
        cases.push(Case::new(format!("{SIMD} {l} encode"), move || {
            simd_encode(s, simd_enc, |p| {
                black_box(p);
            });
        }));
        cases.push(Case::new(format!("{SIMD} {l} reconstruct"), move || {
            simd_reconstruct(s, simd_dec, |r| {
                black_box(r);
            });
        }));
    }
    println!("# hafiz-benches ec: {}", cfg.describe());
    common::run(&cfg, &mut cases);

    let memcpy_ns = cases[0].ns();
    let rows: Vec<Row> = stripes[..LAYOUTS.len()]
        .iter()
        .enumerate()
        .flat_map(|(n, s)| {
            let c = &cases[1 + 4 * n..1 + 4 * (n + 1)];
            [
                Row {
                    lib: RSE,
                    layout: s.layout(),
                    shard_len: s.shard_len,
                    enc_ns: c[0].ns(),
                    rec_ns: c[1].ns(),
                },
                Row {
                    lib: SIMD,
                    layout: s.layout(),
                    shard_len: s.shard_len,
                    enc_ns: c[2].ns(),
                    rec_ns: c[3].ns(),
                },
            ]
        })
        .collect();
    let wall_info: Vec<(String, f64, f64)> = cases
        .iter()
        .map(|c| (c.name.clone(), c.ns(), c.wall_ns()))
        .collect();
    drop(cases);
    // The timed loops ran on the same buffers: check them again.
    for (s, w) in stripes.iter().zip(works.iter_mut()) {
        verify(s, w);
    }

    println!(
        "# block {BLOCK} bytes; reconstruct = min(m,k) data shards missing; GB/s = 1e9 B/s of object data; \
         x memcpy = time / time(memcpy 1 MiB) (lower is better)"
    );
    println!(
        "# memcpy 1 MiB: {:.2} GB/s ({:.1} us)",
        gbps(BLOCK, memcpy_ns),
        memcpy_ns / 1e3
    );
    println!(
        "{:<22} {:>6} {:>8} {:>11} {:>10} {:>12} {:>10}",
        "library", "layout", "shard B", "encode GB/s", "enc x cpy", "recon GB/s", "rec x cpy"
    );
    for r in &rows {
        println!(
            "{:<22} {:>6} {:>8} {:>11.2} {:>10.2} {:>12.2} {:>10.2}",
            r.lib,
            r.layout,
            r.shard_len,
            gbps(BLOCK, r.enc_ns),
            r.enc_ns / memcpy_ns,
            gbps(BLOCK, r.rec_ns),
            r.rec_ns / memcpy_ns
        );
    }
    // Per layout: which library wins each operation, and the speedup (slower time / faster time).
    let mut winners = Vec::new();
    for pair in rows.chunks(2) {
        let (a, b) = (&pair[0], &pair[1]);
        for (op, ta, tb) in [
            ("encode", a.enc_ns, b.enc_ns),
            ("reconstruct", a.rec_ns, b.rec_ns),
        ] {
            let (win, speedup) = if ta <= tb {
                (a.lib, tb / ta)
            } else {
                (b.lib, ta / tb)
            };
            let note = if speedup < 1.05 {
                " (within noise: a tie)"
            } else {
                ""
            };
            println!("# {} {op}: {win} faster by {speedup:.2}x{note}", a.layout);
            winners.push(format!(
                "{{\"layout\":{},\"op\":{},\"winner\":{},\"speedup\":{}}}",
                json_str(&a.layout),
                json_str(op),
                json_str(win),
                json_num(speedup)
            ));
        }
    }
    let fixed = &wall_info[1 + 4 * LAYOUTS.len()..];
    let fixed_us: Vec<f64> = fixed.iter().map(|&(_, cpu, _)| cpu / 1e3).collect();
    println!(
        "# fixed per-call cost (4+2, 64 B shards): {RSE} encode {:.1} us, reconstruct {:.1} us; \
         {SIMD} encode {:.1} us, reconstruct {:.1} us",
        fixed_us[0], fixed_us[1], fixed_us[2], fixed_us[3]
    );
    println!("# per-case best times (thread CPU vs wall):");
    for (name, cpu, wall) in &wall_info {
        println!(
            "#   {name:<50} cpu {:>9.1} us  wall {:>9.1} us",
            cpu / 1e3,
            wall / 1e3
        );
    }
    let results: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"lib\":{},\"layout\":{},\"shard_bytes\":{},\"encode_gbps\":{},\"encode_x_memcpy\":{},\
                 \"reconstruct_gbps\":{},\"reconstruct_x_memcpy\":{}}}",
                json_str(r.lib),
                json_str(&r.layout),
                r.shard_len,
                json_num(gbps(BLOCK, r.enc_ns)),
                json_num(r.enc_ns / memcpy_ns),
                json_num(gbps(BLOCK, r.rec_ns)),
                json_num(r.rec_ns / memcpy_ns)
            )
        })
        .collect();
    println!(
        "{{\"bench\":\"ec\",\"quick\":{},\"block_bytes\":{BLOCK},\"timing\":\"thread_cpu_best_of_{}\",\
         \"memcpy_gbps\":{},\"fixed_cost_us_4p2_64B\":{{\"rse_encode\":{},\"rse_reconstruct\":{},\
         \"simd_encode\":{},\"simd_reconstruct\":{}}},\"results\":[{}],\"winners\":[{}]}}",
        cfg.quick,
        cfg.rounds,
        json_num(gbps(BLOCK, memcpy_ns)),
        json_num(fixed_us[0]),
        json_num(fixed_us[1]),
        json_num(fixed_us[2]),
        json_num(fixed_us[3]),
        results.join(","),
        winners.join(",")
    );
}
