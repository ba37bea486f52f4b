//! Audit workloads: entries with a 256-byte payload.

use std::collections::BTreeMap;

use al_audit_chain::{AuditLog, Kind, LogConfig, NewEntry};

use crate::timing::{median_ns, median_ns_interleaved, round3};
use al_types::Timestamp;
use serde_json::{Map, Value, json};

/// An action entry: the required fields and a 256-byte `metadata.payload`.
pub fn entry(i: u64) -> NewEntry {
    let payload: String = std::iter::repeat_n('x', 256).collect();
    let fields =
        json!({"action_type": "pr.merge", "status": "executed", "metadata": {"payload": payload}});
    NewEntry {
        kind: Kind::Action,
        agent_id: Some(format!("agt_{}", i % 16)),
        timestamp: Timestamp::from_unix_millis(1_764_331_200_000 + i as i64).unwrap(),
        fields: match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    }
}

/// A log of `n` such entries.
pub fn log(n: u64, index: bool) -> AuditLog {
    let mut log = AuditLog::with_config("bench", LogConfig { index });
    for i in 0..n {
        let _ = log.append(&entry(i)).unwrap();
    }
    log
}

/// The same action as a typed record, for the typed append path. Its
/// fields are declared in key order, as the canonical encoding wants them
/// (other orders work, at the cost of a reorder).
#[derive(serde::Serialize)]
pub struct Action<'a> {
    pub action_type: &'a str,
    pub metadata: Payload<'a>,
    pub status: &'a str,
}

/// `metadata` of [`Action`].
#[derive(serde::Serialize)]
pub struct Payload<'a> {
    pub payload: &'a str,
}

/// Append `n` typed records (the engine's path) to a fresh log.
pub fn append_typed(n: u64, payload: &str) -> AuditLog {
    let mut log = AuditLog::with_config("bench", LogConfig { index: false });
    let agents: Vec<String> = (0..16).map(|i| format!("agt_{i}")).collect();
    for i in 0..n {
        let rec = Action {
            action_type: "pr.merge",
            status: "executed",
            metadata: Payload { payload },
        };
        let _ = std::hint::black_box(
            log.append_record(
                Kind::Action,
                Some(&agents[(i % 16) as usize]),
                Timestamp::from_unix_millis(1_764_331_200_000 + i as i64).unwrap(),
                &rec,
            )
            .unwrap(),
        );
    }
    log
}

/// Exactly the SHA-256 work `append` does for entries with these canonical
/// bytes: the entry hash, its RFC 9162 leaf hash, and the interior nodes
/// the tree completes when the n-th leaf arrives (`trailing_zeros(n)` of
/// them). The throughput of this is the bound append is measured against.
pub fn sha_bound(canonical: &[Vec<u8>]) {
    use al_audit_chain::merkle::{leaf_hash, node_hash};
    use al_types::Digest;
    for (i, b) in canonical.iter().enumerate() {
        let h = Digest::of(b);
        let mut node = leaf_hash(&h);
        for _ in 0..(i as u64 + 1).trailing_zeros() {
            node = node_hash(&node, &node);
        }
        std::hint::black_box(node);
    }
}

/// The `audit` area of `perf-report`.
pub fn figures() -> BTreeMap<String, f64> {
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
    use std::time::Instant;
    let mut out = BTreeMap::new();

    // Append: entries with a 256-byte payload, no index (the core path) and with indexes.
    for (name, index) in [
        ("append_entries_per_s", false),
        ("append_indexed_entries_per_s", true),
    ] {
        let entries: Vec<_> = (0..200_000).map(entry).collect();
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

    append_figures(&mut out);

    // Verify vs raw SHA-256 over the very same canonical bytes, interleaved.
    let l = log(200_000, false);
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
    let big = log(n, false);
    let canon = big.canonical_bytes() as f64;
    out.insert(
        "resident_bytes_per_entry_over_canonical".into(),
        round3((big.resident_bytes() as f64 - canon) / n as f64),
    );
    drop(big);
    let big = log(n, false);
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

/// Append against its SHA-256 bound (the exact hashing append does, see
/// [`sha_bound`]), map and typed paths. Each of 9 rounds times the three
/// workloads back to back (so machine noise hits them alike) and the
/// medians are compared. Only the appends are timed: dropping the log
/// afterwards (returning its memory) is not part of appending, and the map
/// entries are built in batches of 256 just before they are appended (as
/// a host builds an entry and appends it), so the figure is not a measure
/// of DRAM latency on 100 000 maps built long before.
pub fn append_vs_bound(out: &mut BTreeMap<String, f64>) {
    use std::time::Instant;
    let n = 100_000u64;
    let canonical: Vec<Vec<u8>> = log(n, false).records().map(|r| r.bytes.to_vec()).collect();
    let payload = "x".repeat(256);
    let mut samples: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..10 {
        let t = Instant::now();
        sha_bound(&canonical);
        let bound = t.elapsed().as_nanos() as f64;
        let mut l = AuditLog::with_config("bench", LogConfig { index: false });
        let mut map = 0.0;
        for batch in (0..n).collect::<Vec<_>>().chunks(256) {
            let entries: Vec<NewEntry> = batch.iter().map(|&i| entry(i)).collect();
            let t = Instant::now();
            for e in &entries {
                let _ = std::hint::black_box(l.append(e).unwrap());
            }
            map += t.elapsed().as_nanos() as f64;
        }
        drop(std::hint::black_box(l));
        let t = Instant::now();
        let l = append_typed(n, &payload);
        let typed = t.elapsed().as_nanos() as f64;
        drop(std::hint::black_box(l));
        // Round 0 warms caches and the allocator.
        if round > 0 {
            for (s, x) in samples.iter_mut().zip([bound, map, typed]) {
                s.push(x);
            }
        }
    }
    let ns: Vec<f64> = samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(|a, b| a.partial_cmp(b).unwrap());
            s[s.len() / 2]
        })
        .collect();
    let per_s = |ns: f64| (n as f64 / (ns / 1e9)).round();
    // What first-touch page faults cost here: a log's memory is fresh pages
    // (the bound hashes bytes already in memory), one 4 KiB page per
    // `4096 / bytes_per_entry` entries.
    let l = append_typed(n, &payload);
    let bytes_per_entry = l.resident_bytes() as f64 / n as f64;
    drop(l);
    let fault_ns = first_touch_ns_per_page();
    out.insert(
        "append_resident_bytes_per_entry".into(),
        round3(bytes_per_entry),
    );
    out.insert("first_touch_ns_per_4k_page".into(), round3(fault_ns));
    out.insert(
        "append_first_touch_ns_per_entry".into(),
        round3(fault_ns * bytes_per_entry / 4096.0),
    );
    out.insert("sha_bound_entries_per_s".into(), per_s(ns[0]));
    out.insert("append_same_run_entries_per_s".into(), per_s(ns[1]));
    out.insert("append_typed_entries_per_s".into(), per_s(ns[2]));
    out.insert("append_vs_sha_bound_ratio".into(), round3(ns[0] / ns[1]));
    out.insert(
        "append_typed_vs_sha_bound_ratio".into(),
        round3(ns[0] / ns[2]),
    );
}

/// First argument under which `perf-report` and the `append_ratio` example
/// run only [`append_vs_bound`] and print its figures as JSON: the child
/// process [`append_figures`] starts once per allocator configuration.
pub const APPEND_ARG: &str = "--audit-append-child";

/// The allocator configurations the append figures are measured under, each
/// in a fresh child process: `(suffix of the figure names, GLIBC_TUNABLES)`.
/// `None` removes the variable (glibc's defaults).
pub const APPEND_CONFIGS: [(&str, Option<&str>); 3] = [
    // glibc defaults: 4 KiB pages, freed memory returned to the kernel.
    ("", None),
    // glibc asks the kernel for transparent huge pages (`madvise`) for the
    // heap and for mmapped chunks: a page fault maps 2 MiB instead of 4 KiB.
    ("_thp", Some("glibc.malloc.hugetlb=1")),
    // Huge pages, and the allocator keeps freed memory (chunks of up to
    // 32 MiB come from the heap, which is never trimmed): a log built after
    // another was dropped reuses its pages instead of faulting fresh ones.
    (
        "_thp_retained",
        Some(
            "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=8000000000",
        ),
    ),
];

/// Run by a child process started with [`APPEND_ARG`]: the figures of
/// [`append_vs_bound`] as one JSON object on stdout.
pub fn append_child() {
    let mut out = BTreeMap::new();
    append_vs_bound(&mut out);
    println!("{}", serde_json::to_string(&out).unwrap());
}

/// The append-vs-bound figures under each of [`APPEND_CONFIGS`], in the
/// same run: this binary re-runs itself with [`APPEND_ARG`] once per
/// configuration (one after the other, so they do not compete) and the
/// figures of each child are named with the configuration's suffix. The
/// default configuration's figures keep the plain names. If a child cannot
/// be started, its figures are measured in this process (default) or left
/// out (the others), with a note on stderr.
pub fn append_figures(out: &mut BTreeMap<String, f64>) {
    for (suffix, tunables) in APPEND_CONFIGS {
        match append_in_child(tunables) {
            Ok(figures) => {
                for (k, v) in figures {
                    if suffix.is_empty() || k != "append_resident_bytes_per_entry" {
                        out.insert(format!("{k}{suffix}"), v);
                    }
                }
            }
            Err(e) => {
                eprintln!("audit append figures{suffix}: child process failed ({e})");
                if suffix.is_empty() {
                    append_vs_bound(out);
                }
            }
        }
    }
}

fn append_in_child(tunables: Option<&str>) -> Result<BTreeMap<String, f64>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg(APPEND_ARG);
    match tunables {
        Some(t) => cmd.env("GLIBC_TUNABLES", t),
        None => cmd.env_remove("GLIBC_TUNABLES"),
    };
    let done = cmd.output().map_err(|e| e.to_string())?;
    if !done.status.success() {
        return Err(format!("exit status {}", done.status));
    }
    serde_json::from_slice(&done.stdout).map_err(|e| e.to_string())
}

/// Nanoseconds the first write to a fresh 4 KiB page costs (the page fault
/// that maps it), median of 5: writing 64 MiB of fresh memory, less writing
/// the same memory again.
pub fn first_touch_ns_per_page() -> f64 {
    use std::time::Instant;
    const BYTES: usize = 64 << 20;
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let mut v: Vec<u8> = Vec::with_capacity(BYTES);
            let t = Instant::now();
            v.resize(BYTES, 1);
            let fresh = t.elapsed().as_nanos() as f64;
            let t = Instant::now();
            v.fill(2);
            let warm = t.elapsed().as_nanos() as f64;
            std::hint::black_box(&v);
            (fresh - warm) / (BYTES / 4096) as f64
        })
        .collect();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[2]
}
