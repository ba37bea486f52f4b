//! Golden files for checkpoints, proof files and the JSON Lines rules
//! (`testdata/audit/`, specified in `docs/audit-encoding.md`). They are
//! published formats: a change is a failure unless `AL_BLESS=1` is set
//! (then review the diff). The Python checker (`docs/check/vectors.py`)
//! reads the same files.
//!
//! (Over 500 lines on purpose: one test per published file, each listing
//! its cases inline next to the code the file pins.)
//!
//! Why one file (561 lines): each golden family (checkpoints, proof files,
//! line rules) is a short test over its data file in `testdata/audit/`,
//! sharing the loader and the `AL_BLESS` rewriting.

use al_audit_chain::{
    AuditLog, Ed25519Signer, Ed25519Verifier, Error, LogConfig, NoteVerifier, Proof,
    SignedCheckpoint, VerifiedCheckpoint,
};
use al_types::{Digest, EntryId, ErrorCode, Timestamp};
use serde_json::{Value, json};

/// The test signing key (public test material, not a secret).
pub const TEST_KEY_NAME: &str = "example.com/agentlattice-test";
pub const TEST_SEED: [u8; 32] = [0x11; 32];

pub fn at() -> Timestamp {
    Timestamp::parse_canonical("2025-11-28T13:00:00Z").unwrap()
}

/// Compare `text` with the file, or write it under `AL_BLESS`.
fn golden(name: &str, text: &str) {
    let path = crate::root().join("testdata/audit").join(name);
    if std::env::var("AL_BLESS").is_ok() {
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (AL_BLESS=1 creates it)", path.display()));
    assert!(
        want == text,
        "{name} changed: it is a published format (AL_BLESS=1 to regenerate, then review)"
    );
}

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(TEST_KEY_NAME, TEST_SEED).unwrap()
}

pub fn jsonl(log: &AuditLog) -> String {
    let mut out = Vec::new();
    log.export_jsonl(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn checkpoints() {
    let log = crate::log_of(16);
    golden("log.jsonl", &jsonl(&log));
    let key = signer();
    golden("test.key", &(key.to_text() + "\n"));
    golden("test.pub", &(key.verifier().to_text() + "\n"));
    let cp = log.checkpoint(at());
    let body = cp.checkpoint().body().unwrap();
    let note = cp.checkpoint().sign(&[&key]).unwrap();
    golden("checkpoint.txt", &note);
    golden("checkpoint-unsigned.txt", &body);
    let v = key.verifier();
    let trust: [&dyn NoteVerifier; 1] = [&v];
    // Invalid checkpoints, each with the code a verifier must give.
    let other = Ed25519Signer::from_seed(TEST_KEY_NAME, [0x22; 32]).unwrap();
    let last_sig = note.lines().last().unwrap();
    let flipped = {
        let (head, b64) = last_sig.rsplit_once(' ').unwrap();
        let mut b = b64.as_bytes().to_vec();
        b[10] = if b[10] == b'A' { b'B' } else { b'A' };
        format!("{head} {}", String::from_utf8(b).unwrap())
    };
    let invalid = [
        ("unsigned", body.clone(), "CHECKPOINT_UNVERIFIED"),
        (
            "signed by an unknown key",
            cp.checkpoint().sign(&[&other]).unwrap(),
            "CHECKPOINT_UNVERIFIED",
        ),
        (
            "signature of the trusted key does not verify",
            note.replace(last_sig, &flipped),
            "CHECKPOINT_SIGNATURE_INVALID",
        ),
        (
            "size edited after signing",
            note.replacen("\n16\n", "\n15\n", 1),
            "CHECKPOINT_SIGNATURE_INVALID",
        ),
        (
            "garbage signature line",
            note.clone() + "signature: 00ff\n",
            "INVALID_CHECKPOINT",
        ),
        (
            "signature line that is not base64",
            format!("{body}\n— {TEST_KEY_NAME} not*base64\n"),
            "INVALID_CHECKPOINT",
        ),
        (
            "old text format",
            "agentlattice checkpoint v1\norg_id: acme\n".to_owned(),
            "INVALID_CHECKPOINT",
        ),
        (
            "size with a leading zero",
            body.replacen("\n16\n", "\n016\n", 1),
            "INVALID_CHECKPOINT",
        ),
    ];
    let mut cases = Vec::new();
    for (why, text, code) in &invalid {
        let got = SignedCheckpoint::parse(text).and_then(|s| s.verify(&trust, Some("acme")));
        assert_eq!(
            got.as_ref().err().map(ErrorCode::code),
            Some(*code),
            "{why}"
        );
        cases.push(json!({"why": why, "note": text, "code": code}));
    }
    // The right note for another org.
    let globex = AuditLog::rebuild(
        "globex",
        LogConfig::default(),
        log.records().map(|r| r.bytes),
    )
    .unwrap()
    .checkpoint(at());
    let globex_note = globex.checkpoint().sign(&[&key]).unwrap();
    let e = SignedCheckpoint::parse(&globex_note)
        .unwrap()
        .verify(&trust, Some("acme"))
        .unwrap_err();
    assert_eq!(e.code(), "CHECKPOINT_ORG_MISMATCH");
    cases.push(json!({"why": "for another org than the trusted `acme`", "note": globex_note, "code": e.code()}));
    let ok = SignedCheckpoint::parse(&note)
        .unwrap()
        .verify(&trust, Some("acme"))
        .unwrap();
    assert_eq!(ok, cp);
    golden(
        "checkpoints.json",
        &pretty(&json!({
            "verifier_key": v.to_text(),
            "org_id": "acme",
            "valid": {"note": note, "checkpoint": cp.checkpoint(), "body": body},
            "invalid": cases,
        })),
    );
    // The verifier key text round-trips.
    assert_eq!(Ed25519Verifier::from_text(&v.to_text()).unwrap(), v);
}

pub fn proof_value(p: &impl serde::Serialize) -> Value {
    serde_json::to_value(p).unwrap()
}

#[test]
fn proof_files() {
    let log = crate::log_of(16);
    let cp = log.checkpoint(at());
    let mut valid = Vec::new();
    for row in [1u64, 3, 8, 16] {
        let p = log
            .prove_inclusion(EntryId::from_row(row).unwrap(), at())
            .unwrap();
        p.verify(&cp).unwrap();
        valid.push(proof_value(&p));
    }
    for first in [1u64, 7, 8, 16] {
        let p = log.prove_consistency(first, at()).unwrap();
        p.verify(&cp).unwrap();
        valid.push(proof_value(&p));
    }
    let incl = proof_value(
        &log.prove_inclusion(EntryId::from_row(3).unwrap(), at())
            .unwrap(),
    );
    let cons = proof_value(&log.prove_consistency(7, at()).unwrap());
    golden("proof-inclusion.json", &pretty(&incl));
    golden("proof-consistency.json", &pretty(&cons));
    let edit = |base: &Value, f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    let zero = Digest::ZERO.to_string();
    let invalid = vec![
        (
            "entry_id does not name row",
            edit(&incl, &|v| v["entry_id"] = json!("evt_0000000000000004")),
            "entry_id",
        ),
        (
            "leaf_index is not row - 1",
            edit(&incl, &|v| v["leaf_index"] = json!(3)),
            "leaf",
        ),
        (
            "leaf_hash is not the leaf of entry_hash",
            edit(&incl, &|v| v["leaf_hash"] = json!(zero)),
            "leaf",
        ),
        (
            "checkpoint of another org",
            edit(&incl, &|v| v["checkpoint"]["org_id"] = json!("globex")),
            "org",
        ),
        (
            "checkpoint of another size",
            edit(&incl, &|v| v["checkpoint"]["size"] = json!(15)),
            "checkpoint",
        ),
        (
            "path one hash short",
            edit(&incl, &|v| {
                v["path"].as_array_mut().unwrap().pop();
            }),
            "path_length",
        ),
        (
            "path hash changed",
            edit(&incl, &|v| v["path"][0] = json!(zero)),
            "root",
        ),
        (
            "entry_hash changed (leaf recomputed)",
            edit(&incl, &|v| {
                let h = Digest::of(b"other");
                v["entry_hash"] = json!(h.to_string());
                v["leaf_hash"] = json!(al_audit_chain::merkle::leaf_hash(&h).to_string());
            }),
            "root",
        ),
        (
            "row beyond the tree",
            edit(&incl, &|v| {
                v["row"] = json!(17);
                v["entry_id"] = json!("evt_0000000000000011");
                v["leaf_index"] = json!(16);
            }),
            "index",
        ),
        (
            "consistency: first size above the checkpoint's",
            edit(&cons, &|v| v["first"]["size"] = json!(17)),
            "size_order",
        ),
        (
            "consistency: first size 0",
            edit(&cons, &|v| v["first"]["size"] = json!(0)),
            "size_order",
        ),
        (
            "consistency: first root changed",
            edit(&cons, &|v| v["first"]["root"] = json!(zero)),
            "first_root",
        ),
        (
            "consistency: path one hash short",
            edit(&cons, &|v| {
                v["path"].as_array_mut().unwrap().pop();
            }),
            "path_length",
        ),
    ];
    let mut cases = Vec::new();
    for (why, v, check) in invalid {
        let p = Proof::from_json(&v.to_string()).unwrap();
        let e = p.verify(&cp).unwrap_err();
        let name = check_name(&e);
        assert_eq!(e.check(), name, "the library's check name");
        assert_eq!(name, check, "{why}: {e}");
        cases.push(json!({"why": why, "proof": v, "check": check, "message": e.to_string()}));
    }
    // Files that are not proofs at all.
    let text = incl.to_string();
    let refused = [
        (
            "a repeated key",
            text.replacen("\"row\":3", "\"row\":3,\"row\":3", 1),
            "DUPLICATE_KEY",
        ),
        (
            "an unknown member",
            text.replacen("\"row\":3", "\"row\":3,\"extra\":1", 1),
            "INVALID_PROOF_FILE",
        ),
        (
            "an uppercase hash",
            text.replacen(
                incl["entry_hash"].as_str().unwrap(),
                &incl["entry_hash"].as_str().unwrap().to_uppercase(),
                1,
            ),
            "INVALID_PROOF_FILE",
        ),
        (
            "an empty path element",
            text.replacen("\"path\":[", "\"path\":[\"\",", 1),
            "INVALID_PROOF_FILE",
        ),
        (
            "an unknown type",
            text.replacen("\"inclusion\"", "\"exclusion\"", 1),
            "INVALID_PROOF_FILE",
        ),
        (
            "an integer beyond 64 bits",
            text.replacen("\"row\":3", "\"row\":18446744073709551619", 1),
            "INVALID_PROOF_FILE",
        ),
    ];
    let mut files = Vec::new();
    for (why, t, code) in &refused {
        assert_ne!(&text, t, "{why}: the edit did not apply");
        let e = Proof::from_json(t).unwrap_err();
        assert_eq!(e.code(), *code, "{why}: {e}");
        files.push(json!({"why": why, "text": t, "code": code}));
    }
    golden(
        "proofs.json",
        &pretty(&json!({
            "checkpoint": cp.checkpoint(),
            "valid": valid,
            "invalid": cases,
            "refused_files": files,
        })),
    );
    let _: &VerifiedCheckpoint = &cp;
}

/// The documented name of the check a proof failed.
pub fn check_name(e: &al_audit_chain::ProofError) -> &'static str {
    use al_audit_chain::ProofError as E;
    match e {
        E::EmptyTree => "size_zero",
        E::IndexOutOfRange { .. } => "index",
        E::SizeOrder { .. } => "size_order",
        E::PathLength { .. } => "path_length",
        E::RootMismatch { .. } => "root",
        E::FirstRootMismatch { .. } => "first_root",
        E::EqualSizes => "equal_sizes",
        E::EntryIdMismatch { .. } => "entry_id",
        E::LeafMismatch(_) => "leaf",
        E::CheckpointMismatch { .. } => "checkpoint",
        E::OrgMismatch { .. } => "org",
        _ => "other",
    }
}

/// Lines a reader must accept (re-formattings of a canonical line that
/// describe the same entry, so the same hash) and lines it must refuse.
#[test]
fn line_rules() {
    let log = crate::log_of(3);
    let text = jsonl(&log);
    let line1 = text.lines().next().unwrap().to_owned();
    let hash1 = log.hash(1).unwrap().to_string();
    let accepted: Vec<(&str, String)> = vec![
        ("canonical", line1.clone()),
        ("keys in another order", {
            let v: serde_json::Map<String, Value> = serde_json::from_str(&line1).unwrap();
            let mut pairs: Vec<_> = v.into_iter().collect();
            pairs.reverse();
            let parts: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}:{}", json!(k), v))
                .collect();
            format!("{{{}}}", parts.join(","))
        }),
        (
            "insignificant whitespace",
            line1
                .replace("\":", "\" : ")
                .replace(",\"", " ,\t\"")
                .replacen('{', "  { ", 1)
                + " \r",
        ),
        (
            "escapes for the same characters",
            line1
                .replace("pr.merge", "pr\\u002emerge")
                .replace("é", "\\u00e9")
                .replace("\"status\"", "\"st\\u0061tus\""),
        ),
        ("-0 is the integer 0", line1.replace("\"n\":0", "\"n\":-0")),
        (
            "another spelling of the float 0.5",
            line1.replace("\"f\":0.5", "\"f\":5e-1"),
        ),
    ];
    let mut acc = Vec::new();
    for (why, l) in &accepted {
        let (e, stored) =
            al_audit_chain::parse_line(l).unwrap_or_else(|e| panic!("{why}: {e}\n{l}"));
        assert_eq!(e.hash().to_string(), hash1, "{why}: {l}");
        assert_eq!(stored.to_string(), hash1);
        acc.push(json!({"why": why, "line": l}));
    }
    let prev = log.hash(1).unwrap().to_string();
    let line2 = text.lines().nth(1).unwrap().to_owned();
    let rejected: Vec<(&str, String, &str)> = vec![
        (
            "a repeated key",
            line1.replacen(
                "\"status\":\"executed\"",
                "\"status\":\"executed\",\"status\":\"denied\"",
                1,
            ),
            "DUPLICATE_KEY",
        ),
        (
            "a repeated key deep inside",
            line1.replacen("\"n\":0", "\"n\":0,\"n\":1", 1),
            "DUPLICATE_KEY",
        ),
        ("a blank line", String::new(), "INVALID_AUDIT_LOG"),
        ("a line of spaces", "   ".into(), "INVALID_AUDIT_LOG"),
        (
            "action without status",
            line1.replacen(",\"status\":\"executed\"", "", 1),
            "INVALID_ENTRY",
        ),
        (
            "action with an unknown status",
            line1.replacen("\"status\":\"executed\"", "\"status\":\"weird\"", 1),
            "INVALID_ENTRY",
        ),
        (
            "outcome without audit_event_id",
            outcome_line(&log, false),
            "INVALID_ENTRY",
        ),
        (
            "outcome with status weird",
            outcome_line(&log, true),
            "INVALID_ENTRY",
        ),
        (
            "row as a float",
            line1.replacen("\"row\":1", "\"row\":1.0", 1),
            "INVALID_AUDIT_LOG",
        ),
        (
            "id that does not name the row",
            line1.replacen("evt_0000000000000001", "evt_0000000000000002", 1),
            "INVALID_AUDIT_LOG",
        ),
        (
            "unknown kind",
            line1.replacen("\"kind\":\"action\"", "\"kind\":\"Action\"", 1),
            "INVALID_AUDIT_LOG",
        ),
        (
            "timestamp not canonical",
            line1.replacen("T12:00:00Z", "T12:00:00.000Z", 1),
            "INVALID_AUDIT_LOG",
        ),
        (
            "timestamp with an offset",
            line1.replacen("T12:00:00Z", "T13:00:00+01:00", 1),
            "INVALID_AUDIT_LOG",
        ),
        (
            "uppercase hash",
            line2.replace(&prev, &prev.to_uppercase()),
            "INVALID_AUDIT_LOG",
        ),
        (
            "agent_id not a string",
            line1.replacen("\"agent_id\":\"agt_0\"", "\"agent_id\":7", 1),
            "INVALID_AUDIT_LOG",
        ),
        (
            "missing header key",
            line1.replacen("\"kind\":\"action\",", "", 1),
            "INVALID_AUDIT_LOG",
        ),
        (
            "integer beyond 64 bits",
            line1.replacen("\"n\":0", "\"n\":18446744073709551616", 1),
            "INVALID_AUDIT_LOG",
        ),
        (
            "float out of range",
            line1.replacen("\"f\":0.5", "\"f\":1e400", 1),
            "INVALID_JSON",
        ),
        (
            "NaN",
            line1.replacen("\"f\":0.5", "\"f\":NaN", 1),
            "INVALID_JSON",
        ),
        ("trailing text", line1.clone() + " x", "INVALID_JSON"),
        (
            "two entries on one line",
            line1.clone() + &line1,
            "INVALID_JSON",
        ),
        (
            "nested 33 levels",
            line1.replacen(
                "\"n\":0",
                &format!("\"n\":{}0{}", "[".repeat(31), "]".repeat(31)),
                1,
            ),
            "TOO_DEEP",
        ),
        ("not an object", "[1,2]".into(), "INVALID_AUDIT_LOG"),
    ];
    let mut rej = Vec::new();
    for (why, l, code) in &rejected {
        let e: Error = al_audit_chain::parse_line(l)
            .err()
            .unwrap_or_else(|| panic!("{why} accepted: {l}"));
        assert_eq!(e.code(), *code, "{why}: {e}");
        rej.push(json!({"why": why, "line": l, "code": code}));
    }
    // 32 levels is the limit, and accepted (the hash changes: it is another entry).
    let deepest = line1.replacen(
        "\"n\":0",
        &format!("\"n\":{}0{}", "[".repeat(30), "]".repeat(30)),
        1,
    );
    assert!(al_audit_chain::parse_line(&deepest).is_ok());
    golden(
        "lines.json",
        &pretty(
            &json!({"hash": hash1, "accepted": acc, "rejected": rej, "depth_32_accepted": deepest}),
        ),
    );
}

/// An outcome line for row 1, broken one way or the other (its hash is
/// not checked: the line rules fail first).
fn outcome_line(log: &AuditLog, weird_status: bool) -> String {
    let mut l = log.clone();
    let _ = l
        .report_outcome(
            "agt_0",
            EntryId::from_row(1).unwrap(),
            &al_audit_chain::OutcomeReport {
                status: "success".into(),
                message: None,
                metadata: None,
            },
            at(),
        )
        .unwrap();
    let text = jsonl(&l);
    let line = text.lines().last().unwrap();
    if weird_status {
        line.replacen("\"status\":\"success\"", "\"status\":\"weird\"", 1)
    } else {
        line.replacen("\"audit_event_id\":\"evt_0000000000000001\",", "", 1)
    }
}
