//! Golden vectors (`testdata/audit/`), specified in `docs/audit-encoding.md`.
//! `AL_BLESS=1` regenerates them.

use al_audit_chain::{decode, merkle};
use al_types::Digest;

#[test]
fn golden_vectors() {
    let path = crate::root().join("testdata/audit/vectors.json");
    let log = crate::log_of(16);
    let mut entries = Vec::new();
    for r in log.records() {
        let e = log.entry(r.row).unwrap();
        entries.push(serde_json::json!({
            "json": al_audit_chain::entry_to_line(&e, &r.hash),
            "canonical_hex": hex::encode(r.bytes),
            "hash": r.hash.to_string(),
            "leaf_hash": merkle::leaf_hash(&r.hash).to_string(),
        }));
    }
    let roots: Vec<String> = (0..=16)
        .map(|n| log.tree().root_at(n).unwrap().to_string())
        .collect();
    let doc =
        serde_json::json!({"org_id": "acme", "entries": entries, "merkle_roots_by_size": roots});
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var("AL_BLESS").is_ok() {
        std::fs::write(&path, &text).unwrap();
    }
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        doc, want,
        "golden vectors changed: the canonical encoding is a published format"
    );
    // The vectors decode and re-encode to themselves, and the naive root agrees.
    let mut hashes = Vec::new();
    for e in want["entries"].as_array().unwrap() {
        let bytes = hex::decode(e["canonical_hex"].as_str().unwrap()).unwrap();
        assert_eq!(decode(&bytes).unwrap().encode(), bytes);
        let h = Digest::of(&bytes);
        assert_eq!(h.to_string(), e["hash"].as_str().unwrap());
        let (parsed, stored) = al_audit_chain::parse_line(e["json"].as_str().unwrap()).unwrap();
        assert_eq!(stored, h);
        assert_eq!(parsed.encode(), bytes);
        hashes.push(h);
    }
    for n in 0..=16 {
        assert_eq!(
            merkle::naive_root(&hashes[..n]).to_string(),
            want["merkle_roots_by_size"][n].as_str().unwrap()
        );
    }
    assert_eq!(
        merkle::empty_root().to_string(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

/// Every audit fuzz target's seeds and minimised regressions, replayed on
/// stable. Both directories must exist for every target: a missing one is
/// a failure, not a skip (files starting with `.` are not inputs).
#[test]
fn fuzz_seeds_replay() {
    let fuzz = crate::root().join("fuzz");
    for (target, f) in [
        (
            "jsonl_import",
            al_audit_chain::fuzzing::jsonl_import as fn(&[u8]),
        ),
        (
            "canonical_decode",
            al_audit_chain::fuzzing::canonical_decode,
        ),
        ("proof_verify", al_audit_chain::fuzzing::proof_verify),
        ("jsonl_line", al_audit_chain::fuzzing::jsonl_line),
        ("jsonl_fast", |d| {
            al_audit_chain::fuzzing::jsonl_fast(d);
        }),
        ("proof_file", al_audit_chain::fuzzing::proof_file),
        ("checkpoint_note", al_audit_chain::fuzzing::checkpoint_note),
        ("line_reader", al_audit_chain::fuzzing::line_reader),
    ] {
        let mut seeds = 0;
        for dir in ["seeds", "regressions"] {
            let path = fuzz.join(dir).join(target);
            let rd = std::fs::read_dir(&path)
                .unwrap_or_else(|e| panic!("{} must exist: {e}", path.display()));
            for e in rd {
                let p = e.unwrap().path();
                if p.file_name().unwrap().to_string_lossy().starts_with('.') {
                    continue;
                }
                f(&std::fs::read(&p).unwrap());
                seeds += usize::from(dir == "seeds");
            }
        }
        assert!(seeds > 0, "no seeds for {target}");
    }
}

/// The `proof_file` target's seeds include real proofs of its fixture log,
/// so the fuzzer starts from proofs that verify (`AL_BLESS=1` writes them).
#[test]
fn proof_file_seeds_include_fixture_proofs() {
    let dir = crate::root().join("fuzz/seeds/proof_file");
    for (i, p) in al_audit_chain::fuzzing::fixture_proofs().iter().enumerate() {
        let path = dir.join(format!("fixture-{i}.json"));
        if std::env::var("AL_BLESS").is_ok() {
            std::fs::write(&path, p).unwrap();
        }
        assert_eq!(
            &std::fs::read_to_string(&path).unwrap(),
            p,
            "{}",
            path.display()
        );
    }
}
