#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use al_audit_chain::{
    AuditLog, ChainVerifier, Chunk, ChunkOutcome, LogConfig, merkle, verify_parallel,
};
use al_benches::audit::{entry, log};
use al_types::{Digest as Hash, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn scoped(chunks: Vec<Chunk<'_>>) -> Vec<ChunkOutcome> {
    std::thread::scope(|s| {
        let hs: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(move || c.run()))
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("audit");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let e = entry(7);
    g.bench_function("append_256b", |b| {
        let mut l = AuditLog::with_config("bench", LogConfig { index: false });
        b.iter(|| {
            let _ = black_box(l.append(black_box(&e)).unwrap());
        })
    });
    let l = log(20_000, false);
    let records: Vec<(Vec<u8>, Hash)> = l.records().map(|r| (r.bytes.to_vec(), r.hash)).collect();
    let bytes: u64 = records.iter().map(|r| r.0.len() as u64).sum();
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("sha256_same_bytes", |b| {
        b.iter(|| {
            for (r, _) in &records {
                black_box(Hash::of(r));
            }
        })
    });
    g.bench_function("verify_sequential", |b| {
        b.iter(|| {
            let mut v = ChainVerifier::new("bench");
            for (r, h) in &records {
                v.push(r, Some(h));
            }
            black_box(v.finish(Timestamp::UNIX_EPOCH))
        })
    });
    let refs: Vec<(&[u8], Hash)> = records.iter().map(|(b, h)| (b.as_slice(), *h)).collect();
    for threads in [1, 2] {
        g.bench_function(format!("verify_parallel_{threads}t"), |b| {
            b.iter(|| {
                black_box(verify_parallel(
                    "bench",
                    &refs,
                    None,
                    Timestamp::UNIX_EPOCH,
                    threads,
                    scoped,
                ))
            })
        });
    }
    g.throughput(Throughput::Elements(1));
    let big = log(1 << 20, false);
    let n = big.len();
    let root = big.tree().root();
    g.bench_function("inclusion_proof_1m", |b| {
        b.iter(|| black_box(big.tree().inclusion_proof(black_box(n / 3), n)))
    });
    let proof = big.tree().inclusion_proof(n / 3, n).unwrap();
    let leaf = merkle::leaf_hash(&big.hash(n / 3 + 1).unwrap());
    g.bench_function("inclusion_verify_1m", |b| {
        b.iter(|| black_box(merkle::verify_inclusion(n / 3, n, &leaf, &proof, &root).is_ok()))
    });
    g.bench_function("consistency_proof_1m", |b| {
        b.iter(|| black_box(big.tree().consistency_proof(black_box(n / 2 + 17), n)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
