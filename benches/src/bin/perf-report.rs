//! Prints the headline figures as one JSON object keyed by area.
//! Run: `cargo run --release -p al-benches --bin perf-report`.

use std::collections::BTreeMap;

use al_benches::timing::{median_ns, median_ns_interleaved, round3};

fn audit_figures() -> BTreeMap<String, f64> {
    use al_audit_chain::{
        AuditLog, ChainVerifier, Chunk, ChunkOutcome, JsonlVerifier, LogConfig, merkle,
        verify_parallel,
    };
    use al_types::{Digest as Hash, Timestamp};
    const T: Timestamp = Timestamp::UNIX_EPOCH;
    fn scoped(chunks: Vec<Chunk<'_>>) -> Vec<ChunkOutcome> {
        std::thread::scope(|s| {
            let hs: Vec<_> = chunks
                .into_iter()
                .map(|c| s.spawn(move || c.run()))
                .collect();
            hs.into_iter().filter_map(|h| h.join().ok()).collect()
        })
    }
    use al_benches::audit;
    use std::time::Instant;
    let mut out = BTreeMap::new();

    // Append: entries with a 256-byte payload, no index (the core path) and with indexes.
    for (name, index) in [
        ("append_entries_per_s", false),
        ("append_indexed_entries_per_s", true),
    ] {
        let entries: Vec<_> = (0..200_000).map(audit::entry).collect();
        let rate = (0..5)
            .map(|_| {
                let mut l = AuditLog::with_config("bench", LogConfig { index });
                let t = Instant::now();
                for e in &entries {
                    let _ = std::hint::black_box(l.append(e).unwrap());
                }
                entries.len() as f64 / t.elapsed().as_secs_f64()
            })
            .fold(Vec::new(), |mut v, x| {
                v.push(x);
                v
            });
        let mut rate = rate;
        rate.sort_by(|a, b| a.partial_cmp(b).unwrap());
        out.insert(name.into(), rate[2].round());
    }

    // Verify vs raw SHA-256 over the very same canonical bytes, interleaved.
    let l = audit::log(200_000, false);
    let records: Vec<(Vec<u8>, Hash)> = l.records().map(|r| (r.bytes.to_vec(), r.hash)).collect();
    let refs: Vec<(&[u8], Hash)> = records.iter().map(|(b, h)| (b.as_slice(), *h)).collect();
    let total: f64 = records.iter().map(|r| r.0.len() as f64).sum();
    let mut sha = || {
        for (r, _) in &records {
            std::hint::black_box(Hash::of(r));
        }
    };
    let mut seq = || {
        let mut v = ChainVerifier::new("bench");
        for (r, h) in &records {
            v.push(r, Some(h));
        }
        assert!(std::hint::black_box(v.finish(T)).result.chain_valid);
    };
    let mut par1 = || {
        assert!(
            verify_parallel("bench", &refs, None, T, 1, |c: Vec<Chunk<'_>>| {
                c.into_iter().map(Chunk::run).collect()
            })
            .result
            .chain_valid
        )
    };
    let mut par2 = || {
        assert!(
            verify_parallel("bench", &refs, None, T, 2, scoped)
                .result
                .chain_valid
        )
    };
    let ns = median_ns_interleaved(9, 1, &mut [&mut sha, &mut seq, &mut par1, &mut par2]);
    let mbps = |ns: f64| total / (ns / 1e9) / 1e6;
    out.insert("sha256_mb_per_s".into(), round3(mbps(ns[0])));
    out.insert("verify_mb_per_s".into(), round3(mbps(ns[1])));
    out.insert("verify_parallel_1t_mb_per_s".into(), round3(mbps(ns[2])));
    out.insert("verify_parallel_2t_mb_per_s".into(), round3(mbps(ns[3])));
    out.insert("verify_vs_sha256_ratio".into(), round3(ns[0] / ns[1]));
    out.insert("verify_2t_vs_sha256_ratio".into(), round3(ns[0] / ns[3]));
    out.insert(
        "canonical_bytes_per_entry_mean".into(),
        round3(total / records.len() as f64),
    );

    // Streaming JSONL verification.
    let mut jsonl = Vec::new();
    l.export_jsonl(&mut jsonl).unwrap();
    let text = String::from_utf8(jsonl).unwrap();
    let t = Instant::now();
    let mut v = JsonlVerifier::new(ChainVerifier::new("bench"));
    for line in text.lines() {
        v.push_line(line.as_bytes());
    }
    assert!(v.finish(T).result.chain_valid);
    out.insert(
        "jsonl_verify_mb_per_s".into(),
        round3(text.len() as f64 / t.elapsed().as_secs_f64() / 1e6),
    );
    drop(text);
    drop(refs);
    drop(records);

    // Proofs at 1M entries; memory per entry.
    let n = 1u64 << 20;
    let big = audit::log(n, false);
    let canon = big.canonical_bytes() as f64;
    out.insert(
        "resident_bytes_per_entry_over_canonical".into(),
        round3((big.resident_bytes() as f64 - canon) / n as f64),
    );
    drop(big);
    let big = audit::log(n, false);
    let root = big.tree().root();
    let mut k = 0u64;
    let incl_gen = median_ns(21, 2000, || {
        k = (k + 7919) % n;
        std::hint::black_box(big.tree().inclusion_proof(k, n));
    });
    let proof = big.tree().inclusion_proof(n / 3, n).unwrap();
    let leaf = merkle::leaf_hash(&big.hash(n / 3 + 1).unwrap());
    let incl_ver = median_ns(21, 2000, || {
        assert!(merkle::verify_inclusion(n / 3, n, &leaf, &proof, &root).is_ok())
    });
    let mut m = 1u64;
    let cons_gen = median_ns(21, 2000, || {
        m = (m + 7919) % (n - 1) + 1;
        std::hint::black_box(big.tree().consistency_proof(m, n));
    });
    let first = n / 2 + 17;
    let cproof = big.tree().consistency_proof(first, n).unwrap();
    let froot = big.tree().root_at(first).unwrap();
    let cons_ver = median_ns(21, 2000, || {
        assert!(merkle::verify_consistency(first, n, &froot, &root, &cproof).is_ok())
    });
    out.insert("inclusion_proof_gen_ns_1m".into(), round3(incl_gen));
    out.insert("inclusion_proof_verify_ns_1m".into(), round3(incl_ver));
    out.insert("consistency_proof_gen_ns_1m".into(), round3(cons_gen));
    out.insert("consistency_proof_verify_ns_1m".into(), round3(cons_ver));
    out
}

fn main() {
    // Self-invocation under callgrind (see `al_benches::policy::eval_instructions`).
    if std::env::args().nth(1).as_deref() == Some(al_benches::policy::EVAL_LOOP_ARG) {
        let n = std::env::args()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        al_benches::policy::eval_loop(n);
        return;
    }
    let mut report: BTreeMap<&str, BTreeMap<String, f64>> = BTreeMap::new();
    let only = std::env::args().nth(1);
    let want = |area: &str| only.as_deref().is_none_or(|o| o == area);
    // Areas that allocate little first; the audit area builds a 1M-entry log last.
    if want("breaker") {
        report.insert("breaker", al_benches::breaker::figures());
    }
    if want("policy") {
        report.insert("policy", al_benches::policy::figures());
    }
    if want("audit") {
        report.insert("audit", audit_figures());
    }
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
