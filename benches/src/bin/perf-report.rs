//! Prints the headline figures as one JSON object keyed by area.
//! Run: `cargo run --release -p al-benches --bin perf-report`.

use std::collections::BTreeMap;

use al_benches::policy::{AGENT, Hit, SIZES, manifest_json, manifest_yaml, request};
use al_benches::timing::{median_ms, median_ns, median_ns_interleaved, round3};
use al_policy::{Format, Manifest, PolicySet};

fn label(n: usize) -> String {
    match n {
        1_000 => "1k".into(),
        10_000 => "10k".into(),
        100_000 => "100k".into(),
        n => n.to_string(),
    }
}

fn policy_figures() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    // Evaluation: for each (conditions, hit) every size is measured in the
    // same interleaved rounds, so size ratios are not skewed by noise.
    let manifests: Vec<(usize, usize, bool, Manifest)> = SIZES
        .iter()
        .flat_map(|&n| {
            [0, 3, 10]
                .into_iter()
                .flat_map(move |k| [false, true].map(move |star| (n, k, star)))
        })
        .map(|(n, k, star)| {
            (
                n,
                k,
                star,
                Manifest::parse(&manifest_json(n, k, star), Format::Json).unwrap(),
            )
        })
        .collect();
    for k in [0, 3, 10] {
        for hit in Hit::ALL {
            let star = hit == Hit::Star;
            let sets: Vec<PolicySet> = manifests
                .iter()
                .filter(|m| m.1 == k && m.2 == star)
                .map(|m| PolicySet::compile(&m.3))
                .collect();
            let req = request(hit);
            let mut closures: Vec<Box<dyn FnMut()>> = sets
                .iter()
                .map(|set| {
                    let req = &req;
                    Box::new(move || {
                        let _ =
                            std::hint::black_box(set.evaluate(std::hint::black_box(req), &AGENT));
                    }) as Box<dyn FnMut()>
                })
                .collect();
            let mut refs: Vec<&mut dyn FnMut()> = closures
                .iter_mut()
                .map(|b| b.as_mut() as &mut dyn FnMut())
                .collect();
            let ns = median_ns_interleaved(41, 3000, &mut refs);
            for (&n, ns) in SIZES.iter().zip(ns) {
                let l = label(n);
                out.insert(
                    format!("eval_ns_median_{}_{k}c_{l}", hit.name()),
                    round3(ns),
                );
                if hit == Hit::Exact && k == 3 {
                    out.insert(format!("eval_ns_median_{l}_policies"), round3(ns));
                }
            }
        }
    }
    drop(manifests);
    for &n in &SIZES {
        let l = label(n);
        let runs = if n >= 100_000 {
            3
        } else if n >= 10_000 {
            5
        } else {
            11
        };
        let yaml = manifest_yaml(n, 3, true);
        let json = manifest_json(n, 3, true);
        let m = Manifest::parse(&yaml, Format::Yaml).unwrap();
        out.insert(
            format!("parse_yaml_ms_{l}_policies"),
            round3(median_ms(runs, || {
                Manifest::parse(&yaml, Format::Yaml).unwrap()
            })),
        );
        out.insert(
            format!("parse_json_ms_{l}_policies"),
            round3(median_ms(runs, || {
                Manifest::parse(&json, Format::Json).unwrap()
            })),
        );
        out.insert(
            format!("compile_ms_{l}_policies"),
            round3(median_ms(runs, || PolicySet::compile(&m))),
        );
        out.insert(
            format!("parse_compile_yaml_ms_{l}_policies"),
            round3(median_ms(runs, || {
                PolicySet::compile(&Manifest::parse(&yaml, Format::Yaml).unwrap())
            })),
        );
        out.insert(
            format!("baseline_saphyr_to_json_value_ms_{l}_policies"),
            round3(median_ms(runs, || {
                let mut o = serde_saphyr::Options::default();
                o.budget = None;
                serde_saphyr::from_str_with_options::<serde_json::Value>(&yaml, o).unwrap()
            })),
        );
        out.insert(
            format!("parse_compile_json_ms_{l}_policies"),
            round3(median_ms(runs, || {
                PolicySet::compile(&Manifest::parse(&json, Format::Json).unwrap())
            })),
        );
    }
    let ratio = |k: &str| {
        out.get(&format!("eval_ns_median_{k}_3c_100k")).unwrap()
            / out.get(&format!("eval_ns_median_{k}_3c_10")).unwrap()
    };
    let worst = Hit::ALL.iter().map(|h| ratio(h.name())).fold(0.0, f64::max);
    out.insert(
        "eval_100k_vs_10_ratio_exact_3c".into(),
        round3(ratio("exact")),
    );
    out.insert("eval_100k_vs_10_ratio_worst_3c".into(), round3(worst));
    let max3 = out
        .iter()
        .filter(|(k, _)| k.contains("_3c_"))
        .map(|(_, v)| *v)
        .fold(0.0, f64::max);
    out.insert("eval_ns_median_max_3c_any_size".into(), max3);
    out
}

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
    let mut report: BTreeMap<&str, BTreeMap<String, f64>> = BTreeMap::new();
    let only = std::env::args().nth(1);
    let want = |area: &str| only.as_deref().is_none_or(|o| o == area);
    // Areas that allocate little first; the audit area builds a 1M-entry log last.
    if want("breaker") {
        report.insert("breaker", al_benches::breaker::figures());
    }
    if want("policy") {
        report.insert("policy", policy_figures());
    }
    if want("audit") {
        report.insert("audit", audit_figures());
    }
    // Needs a quiet machine: it measures HTTP throughput and builds a 1M-entry org.
    if want("server") {
        report.insert("server", al_benches::server::figures());
    }
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
