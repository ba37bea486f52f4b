//! End-to-end tests of the `al` binary over files in `testdata/`.
//!
//! Why one file (997 lines): one end-to-end test per command and exit code
//! of the `al` binary, sharing the helpers that run it over `testdata/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod demo;
mod simulate;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data(p: &str) -> String {
    root().join("testdata").join(p).display().to_string()
}

fn al(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_al"))
        .args(args)
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

fn no_panic(o: &Output) {
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("al-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn check_json_shape_and_exit_codes() {
    let o = al(&[
        "check",
        "--policies",
        &data("cli/manifest.yaml"),
        "--action",
        &data("cli/action-small-pr.json"),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "action_type",
        "status",
        "allowed",
        "needs_approval",
        "policy_name",
        "denial_reason",
        "reason",
        "conditions_evaluated",
    ] {
        assert!(keys.contains(&k), "missing {k}: {v}");
    }
    assert_eq!(v["status"], "executed");
    assert_eq!(
        v["conditions_evaluated"][0],
        serde_json::json!({"field": "pr_size", "operator": "lt", "expected": 100, "result": true})
    );
    let o = al(&[
        "check",
        "--policies",
        &data("cli/manifest.yaml"),
        "--action",
        &data("cli/action-big-pr.yaml"),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 1);
    assert_eq!(json(&o)["denial_reason"], "CONDITIONS_DENIED");
    let o = al(&[
        "check",
        "--policies",
        &data("cli/manifest.yaml"),
        "--action",
        &data("cli/action-bad.json"),
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("INVALID_REQUEST") && stderr(&o).contains("action_type"),
        "{}",
        stderr(&o)
    );
    let o = al(&[
        "check",
        "--policies",
        &data("cli/typo.yaml"),
        "--action",
        &data("cli/action-bad.json"),
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("typo.yaml:5:5: error[UNKNOWN_KEY]"),
        "{}",
        stderr(&o)
    );
}

/// The golden policy corpus, through the CLI (the same files the library test reads).
#[test]
fn golden_cases_through_check() {
    #[derive(serde::Deserialize)]
    struct File {
        manifest: String,
        cases: Vec<Value>,
    }
    let dir = tmp("golden");
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("testdata/policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let f: File = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let m = dir.join("m.yaml");
        std::fs::write(&m, &f.manifest).unwrap();
        for c in f.cases.iter().step_by(3) {
            let mut req = c["request"].clone();
            if req.get("timestamp").is_none() {
                req["timestamp"] = "2026-11-28T12:00:00Z".into();
            }
            let a = dir.join("a.json");
            std::fs::write(&a, req.to_string()).unwrap();
            let agent = c.get("agent").and_then(Value::as_str).unwrap_or("agt_1");
            let o = al(&[
                "check",
                "--policies",
                m.to_str().unwrap(),
                "--action",
                a.to_str().unwrap(),
                "--agent",
                agent,
                "--format",
                "json",
            ]);
            let v = json(&o);
            let name = c["name"].as_str().unwrap();
            assert_eq!(v["status"], c["status"], "{}: {name}", path.display());
            assert_eq!(v["policy_name"], c["policy"], "{}: {name}", path.display());
            assert_eq!(code(&o), if c["status"] == "executed" { 0 } else { 1 });
            n += 1;
        }
    }
    assert!(n >= 30);
}

#[test]
fn lint_reports_errors_and_warnings_with_locations() {
    let o = al(&["lint", &data("cli/typo.yaml")]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.contains(
            "typo.yaml:5:5: error[UNKNOWN_KEY]: unknown key `efect`; did you mean `effect`?"
        ),
        "{out}"
    );
    assert!(out.contains("error[INVALID_PATTERN]"), "{out}");
    let o = al(&["lint", &data("cli/warnings.yaml"), "--format", "json"]);
    assert_eq!(code(&o), 0);
    let v = json(&o);
    assert_eq!(
        (v["errors"].as_u64(), v["warnings"].as_u64()),
        (Some(0), Some(2))
    );
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["ALLOW_ALL", "NEVER_HOLDS"]);
    assert_eq!(v["diagnostics"][1]["location"]["line"], 4);
    let o = al(&["lint", &data("cli/manifest.yaml")]);
    assert_eq!(code(&o), 0);
}

#[test]
fn diff_is_the_import_dry_run() {
    let o = al(&[
        "diff",
        &data("cli/manifest.yaml"),
        &data("cli/manifest-v2.json"),
    ]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    for line in [
        "+ 1 added",
        "~ 1 modified",
        "~ merge-small-prs (conditions)",
        "= 1 unchanged",
        "- 1 removed",
    ] {
        assert!(out.contains(line), "{out}");
    }
    let v = json(&al(&[
        "diff",
        &data("cli/manifest.yaml"),
        &data("cli/manifest-v2.json"),
        "--format",
        "json",
    ]));
    assert_eq!(v["added"], serde_json::json!(["ci"]));
    assert_eq!(v["removed"], serde_json::json!(["no-drops"]));
    assert_eq!(v["modified"][0]["name"], "merge-small-prs");
}

#[test]
fn export_is_a_fixed_point_in_both_formats() {
    let dir = tmp("export");
    for to in ["yaml", "json"] {
        let o = al(&["export", &data("cli/manifest-v2.json"), "--to", to]);
        assert_eq!(code(&o), 0);
        let f = dir.join(format!("m.{to}"));
        std::fs::write(&f, &o.stdout).unwrap();
        let again = al(&["export", f.to_str().unwrap(), "--to", to]);
        assert_eq!(
            stdout(&again),
            stdout(&o),
            "export of export differs ({to})"
        );
        let d = json(&al(&[
            "diff",
            &data("cli/manifest-v2.json"),
            f.to_str().unwrap(),
            "--format",
            "json",
        ]));
        assert_eq!(d["unchanged"].as_array().unwrap().len(), 3);
    }
}

fn demo_out(name: &str) -> PathBuf {
    let dir = tmp(name);
    let o = al(&["demo", "--out", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("demo complete"));
    dir
}

fn p(d: &Path, f: &str) -> String {
    d.join(f).display().to_string()
}

#[test]
fn demo_output_verifies_and_a_flipped_byte_names_its_row() {
    let d = demo_out("verify");
    let o = al(&[
        "verify",
        &p(&d, "audit.jsonl"),
        "--checkpoint",
        &p(&d, "checkpoint.txt"),
        "--key",
        &p(&d, "demo.pub"),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let v = json(&o);
    assert_eq!(v["chain_valid"], true);
    assert_eq!(v["org_id"], "acme");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "org_id",
        "chain_valid",
        "verified_through_row",
        "chain_hash",
        "verified_from_checkpoint",
        "timestamp",
        "first_broken_at_row_id",
    ] {
        assert!(keys.contains(&k), "{k}");
    }
    let text = std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (row, threads) in [(1usize, "1"), (7, "1"), (40, "2"), (lines.len(), "2")] {
        // Flip one byte inside a value of that row.
        let mut bytes = text.clone().into_bytes();
        let start: usize = lines[..row - 1].iter().map(|l| l.len() + 1).sum();
        let at = start + lines[row - 1].find("\"timestamp\":\"").unwrap() + 14;
        bytes[at] ^= 0x01;
        let f = d.join("flipped.jsonl");
        std::fs::write(&f, bytes).unwrap();
        let o = al(&[
            "verify",
            f.to_str().unwrap(),
            "--checkpoint",
            &p(&d, "checkpoint.txt"),
            "--key",
            &p(&d, "demo.pub"),
            "--threads",
            threads,
            "--format",
            "json",
        ]);
        assert_eq!(code(&o), 1, "row {row}: {}", stdout(&o));
        let v = json(&o);
        assert_eq!(v["chain_valid"], false);
        assert_eq!(
            v["first_broken_at_row_id"],
            format!("evt_{row:016x}"),
            "row {row}: {v}"
        );
    }
    // Truncation is only visible against the checkpoint.
    let f = d.join("short.jsonl");
    std::fs::write(&f, lines[..10].join("\n")).unwrap();
    assert_eq!(code(&al(&["verify", f.to_str().unwrap()])), 0);
    let o = al(&[
        "verify",
        f.to_str().unwrap(),
        "--checkpoint",
        &p(&d, "checkpoint.txt"),
        "--key",
        &p(&d, "demo.pub"),
    ]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("TRUNCATED"), "{}", stdout(&o));
}

#[test]
fn proofs_round_trip_and_forgeries_fail() {
    let d = demo_out("proofs");
    let o = al(&[
        "proof",
        "verify",
        &p(&d, "proof.json"),
        "--checkpoint",
        &p(&d, "checkpoint.txt"),
        "--key",
        &p(&d, "demo.pub"),
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let o = al(&["prove", "inclusion", &p(&d, "audit.jsonl"), "--row", "3"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let proof = json(&o);
    let f = d.join("p3.json");
    std::fs::write(&f, &o.stdout).unwrap();
    // Against the checkpoint it carries only when the user says so.
    assert_eq!(code(&al(&["proof", "verify", f.to_str().unwrap()])), 2);
    let trust = |f: &Path| al(&["proof", "verify", f.to_str().unwrap(), "--trust-unsigned"]);
    assert_eq!(code(&trust(&f)), 0);
    // Raw arguments, for auditors using other tools.
    let path: Vec<&str> = proof["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let args = |leaf: &str, idx: &str| {
        let joined = path.join(",");
        al(&[
            "proof",
            "verify-inclusion",
            "--leaf-hash",
            leaf,
            "--index",
            idx,
            "--size",
            &proof["checkpoint"]["size"].to_string(),
            "--root",
            proof["checkpoint"]["root"].as_str().unwrap(),
            "--path",
            &joined,
        ])
    };
    assert_eq!(code(&args(proof["leaf_hash"].as_str().unwrap(), "2")), 0);
    assert_eq!(
        code(&args(proof["leaf_hash"].as_str().unwrap(), "3")),
        1,
        "wrong index must fail"
    );
    let o = al(&[
        "proof",
        "verify-inclusion",
        "--entry-hash",
        "zz",
        "--index",
        "0",
        "--size",
        "1",
        "--root",
        "00",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--entry-hash"), "{}", stderr(&o));
    // A forged proof file fails.
    let mut forged = proof.clone();
    forged["leaf_index"] = 4.into();
    std::fs::write(&f, forged.to_string()).unwrap();
    assert_eq!(code(&trust(&f)), 1);
    // Consistency.
    let o = al(&[
        "prove",
        "consistency",
        &p(&d, "audit.jsonl"),
        "--from",
        "10",
    ]);
    assert_eq!(code(&o), 0);
    let c = json(&o);
    std::fs::write(&f, &o.stdout).unwrap();
    assert_eq!(code(&trust(&f)), 0);
    let path: Vec<&str> = c["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let o = al(&[
        "proof",
        "verify-consistency",
        "--first",
        "10",
        "--second",
        &c["checkpoint"]["size"].to_string(),
        "--first-root",
        c["first"]["root"].as_str().unwrap(),
        "--second-root",
        c["checkpoint"]["root"].as_str().unwrap(),
        "--path",
        &path.join(","),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        code(&al(&[
            "prove",
            "consistency",
            &p(&d, "audit.jsonl"),
            "--from",
            "0"
        ])),
        2
    );
}

#[test]
fn hostile_and_malformed_inputs_exit_2_with_a_message() {
    for args in [
        vec!["lint".to_owned(), data("cli/does-not-exist.yaml")],
        vec![
            "check".to_owned(),
            "--policies".to_owned(),
            data("cli/garbage.yaml"),
            "--action".to_owned(),
            data("cli/action-small-pr.json"),
        ],
        vec!["verify".to_owned(), data("cli/nope.jsonl")],
        vec![
            "export".to_owned(),
            data("cli/manifest.yaml"),
            "--to".to_owned(),
            "xml".to_owned(),
        ],
        vec!["frobnicate".to_owned()],
        vec![],
    ] {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = al(&refs);
        no_panic(&o);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty());
    }
    let o = al(&["lint", &data("cli/does-not-exist.yaml")]);
    assert!(stderr(&o).contains("does-not-exist.yaml"), "{}", stderr(&o));
    // A JSONL file that is not a log: the answer is "no", naming the line.
    let d = tmp("junk");
    let f = d.join("junk.jsonl");
    std::fs::write(&f, "{\"row\": 1}\nnot json\n").unwrap();
    let o = al(&["verify", f.to_str().unwrap(), "--format", "json"]);
    no_panic(&o);
    assert_eq!(code(&o), 1);
    assert!(
        json(&o)["failure"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1"),
        "{}",
        stdout(&o)
    );
}

/// `al … | head` closes the pipe early: the command stops quietly with
/// status 0 (as ripgrep does), without a panic or a backtrace.
#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    for args in [&["demo"][..], &["--format", "json", "demo"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_al"))
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the child writes anything.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?}");
    }
}

// ---- audit commands over the golden files in testdata/audit ----

fn audit_file(name: &str) -> String {
    data(&format!("audit/{name}"))
}

#[test]
fn verify_against_signed_unsigned_and_hostile_checkpoints() {
    let log = audit_file("log.jsonl");
    let cp = audit_file("checkpoint.txt");
    let key = audit_file("test.pub");
    let ok = al(&[
        "verify",
        &log,
        "--checkpoint",
        &cp,
        "--key",
        &key,
        "--format",
        "json",
    ]);
    assert_eq!(code(&ok), 0, "{}{}", stdout(&ok), stderr(&ok));
    assert_eq!(json(&ok)["verified_through_row"], 16);
    // The key may be given inline too.
    let inline = std::fs::read_to_string(&key).unwrap();
    assert_eq!(
        code(&al(&[
            "verify",
            &log,
            "--checkpoint",
            &cp,
            "--key",
            inline.trim()
        ])),
        0
    );
    // Unsigned: refused unless the user vouches for it.
    let unsigned = audit_file("checkpoint-unsigned.txt");
    let o = al(&["verify", &log, "--checkpoint", &unsigned, "--key", &key]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("CHECKPOINT_UNVERIFIED"),
        "{}",
        stderr(&o)
    );
    let o = al(&["verify", &log, "--checkpoint", &cp]);
    assert_eq!(code(&o), 2, "no key: {}", stderr(&o));
    let o = al(&[
        "verify",
        &log,
        "--checkpoint",
        &unsigned,
        "--trust-unsigned",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("warning"), "{}", stderr(&o));
    // The org must match the trusted one.
    let o = al(&[
        "verify",
        &log,
        "--checkpoint",
        &cp,
        "--key",
        &key,
        "--org",
        "globex",
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("CHECKPOINT_ORG_MISMATCH"),
        "{}",
        stderr(&o)
    );
    // A malformed key and a checkpoint that is not text carry their codes.
    let bad_key = inline.trim().replacen('+', "+0", 1);
    let o = al(&["verify", &log, "--checkpoint", &cp, "--key", &bad_key]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("INVALID_KEY"), "{}", stderr(&o));
    let d = tmp("checkpoint-bytes");
    let f = d.join("cp.txt");
    let mut bytes = std::fs::read(&cp).unwrap();
    let at = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    bytes.insert(at, 0xff);
    std::fs::write(&f, bytes).unwrap();
    for args in [
        vec![
            "verify",
            &log,
            "--checkpoint",
            f.to_str().unwrap(),
            "--key",
            &key,
        ],
        vec!["checkpoint", "verify", f.to_str().unwrap(), "--key", &key],
    ] {
        let o = al(&args);
        assert_eq!(code(&o), 2);
        assert!(stderr(&o).contains("INVALID_CHECKPOINT"), "{}", stderr(&o));
        assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    }
    // Every invalid checkpoint of the golden set is refused with its code,
    // `--trust-unsigned` or not, except the two that are merely unverified.
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(audit_file("checkpoints.json")).unwrap())
            .unwrap();
    let d = tmp("checkpoints");
    for case in doc["invalid"].as_array().unwrap() {
        let f = d.join("cp.txt");
        std::fs::write(&f, case["note"].as_str().unwrap()).unwrap();
        let want = case["code"].as_str().unwrap();
        let args = [
            "verify",
            &log,
            "--checkpoint",
            f.to_str().unwrap(),
            "--key",
            &key,
            "--org",
            "acme",
        ];
        let o = al(&args);
        no_panic(&o);
        assert_eq!(code(&o), 2, "{}: {}", case["why"], stdout(&o));
        assert!(stderr(&o).contains(want), "{}: {}", case["why"], stderr(&o));
        let mut trusting = args.to_vec();
        trusting.push("--trust-unsigned");
        let o = al(&trusting);
        let expect = if want == "CHECKPOINT_UNVERIFIED" {
            0
        } else {
            2
        };
        assert_eq!(
            code(&o),
            expect,
            "{} with --trust-unsigned: {}",
            case["why"],
            stderr(&o)
        );
    }
}

#[test]
fn keygen_sign_and_verify_end_to_end() {
    let d = tmp("keygen");
    let prefix = d.join("log");
    let o = al(&[
        "keygen",
        "--name",
        "log.example/acme",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let vkey = stdout(&o).trim().to_owned();
    assert!(vkey.starts_with("log.example/acme+"), "{vkey}");
    let secret = std::fs::read_to_string(d.join("log.key")).unwrap();
    assert!(secret.starts_with("PRIVATE+KEY+log.example/acme+"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("log.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the secret key is private");
    }
    // Refuses to overwrite a key.
    assert_eq!(
        code(&al(&[
            "keygen",
            "--name",
            "x",
            "--out",
            prefix.to_str().unwrap()
        ])),
        2
    );
    let cp = d.join("cp.txt");
    let o = al(&[
        "checkpoint",
        "sign",
        &audit_file("log.jsonl"),
        "--key",
        d.join("log.key").to_str().unwrap(),
        "--org",
        "acme",
        "--out",
        cp.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = al(&[
        "checkpoint",
        "verify",
        cp.to_str().unwrap(),
        "--key",
        &vkey,
        "--org",
        "acme",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["size"], 16);
    let o = al(&[
        "verify",
        &audit_file("log.jsonl"),
        "--checkpoint",
        cp.to_str().unwrap(),
        "--key",
        d.join("log.pub").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Another key does not verify it.
    let o = al(&[
        "checkpoint",
        "verify",
        cp.to_str().unwrap(),
        "--key",
        &audit_file("test.pub"),
    ]);
    assert_eq!(code(&o), 2);
    // A garbled key file is refused with the file named.
    std::fs::write(d.join("bad.key"), "PRIVATE+KEY+nope").unwrap();
    let o = al(&[
        "checkpoint",
        "sign",
        &audit_file("log.jsonl"),
        "--key",
        d.join("bad.key").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("bad.key"), "{}", stderr(&o));
}

#[test]
fn proof_files_name_the_failed_check() {
    let cp = audit_file("checkpoint.txt");
    let key = audit_file("test.pub");
    for f in ["proof-inclusion.json", "proof-consistency.json"] {
        let o = al(&[
            "proof",
            "verify",
            &audit_file(f),
            "--checkpoint",
            &cp,
            "--key",
            &key,
        ]);
        assert_eq!(code(&o), 0, "{f}: {}{}", stdout(&o), stderr(&o));
    }
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(audit_file("proofs.json")).unwrap()).unwrap();
    let d = tmp("proofs");
    let f = d.join("p.json");
    for case in doc["invalid"].as_array().unwrap() {
        std::fs::write(&f, case["proof"].to_string()).unwrap();
        let o = al(&[
            "proof",
            "verify",
            f.to_str().unwrap(),
            "--checkpoint",
            &cp,
            "--key",
            &key,
            "--format",
            "json",
        ]);
        assert_eq!(code(&o), 1, "{}: {}", case["why"], stderr(&o));
        let v = json(&o);
        assert_eq!(v["valid"], false);
        assert_eq!(v["code"], "PROOF_INVALID");
        assert_eq!(v["reason"], case["message"], "{}", case["why"]);
        assert_eq!(v["check"], case["check"], "{}", case["why"]);
    }
    for case in doc["refused_files"].as_array().unwrap() {
        std::fs::write(&f, case["text"].as_str().unwrap()).unwrap();
        let o = al(&[
            "proof",
            "verify",
            f.to_str().unwrap(),
            "--checkpoint",
            &cp,
            "--key",
            &key,
        ]);
        assert_eq!(code(&o), 2, "{}", case["why"]);
        assert!(
            stderr(&o).contains(case["code"].as_str().unwrap()),
            "{}: {}",
            case["why"],
            stderr(&o)
        );
    }
    // Raw verifiers: an empty path element is refused, not skipped.
    let p: Value =
        serde_json::from_str(&std::fs::read_to_string(audit_file("proof-inclusion.json")).unwrap())
            .unwrap();
    let path: Vec<&str> = p["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let raw = |path: String| {
        al(&[
            "proof",
            "verify-inclusion",
            "--entry-hash",
            p["entry_hash"].as_str().unwrap(),
            "--index",
            "2",
            "--size",
            "16",
            "--root",
            p["checkpoint"]["root"].as_str().unwrap(),
            "--path",
            &path,
        ])
    };
    assert_eq!(code(&raw(path.join(","))), 0);
    for bad in [
        format!(",{}", path.join(",")),
        format!("{},", path.join(",")),
        path.join(",,"),
    ] {
        let o = raw(bad.clone());
        assert_eq!(code(&o), 2, "{bad}");
        assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
    }
    let o = raw(path[1..].join(","));
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("path has 3 hashes"), "{}", stdout(&o));
}

/// `al verify` reads an al-server segment file (al-store's format) as it
/// reads a JSON Lines export: valid, torn tail noted, damage named by row,
/// checked against a checkpoint.
#[test]
fn verify_reads_server_segment_files() {
    use al_audit_chain::{AuditLog, LogConfig};
    let d = demo_out("segment");
    let text = std::fs::read(d.join("audit.jsonl")).unwrap();
    let log = AuditLog::import_jsonl("acme", LogConfig::default(), &mut &text[..]).unwrap();
    let mut seg = al_store::segment::header("acme");
    let mut ends = vec![seg.len()];
    for r in log.records() {
        al_store::segment::push_frame(&mut seg, r.bytes, &r.hash.0);
        ends.push(seg.len());
    }
    let f = d.join("segment.alseg");
    std::fs::write(&f, &seg).unwrap();
    let cp = p(&d, "checkpoint.txt");
    let key = p(&d, "demo.pub");
    let o = al(&[
        "verify",
        f.to_str().unwrap(),
        "--checkpoint",
        &cp,
        "--key",
        &key,
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let v = json(&o);
    assert_eq!(
        (v["chain_valid"].clone(), v["org_id"].clone()),
        (true.into(), "acme".into())
    );
    assert_eq!(v["verified_through_row"], log.len());
    // A torn final frame: noted, the rest verifies (the checkpoint then says truncated).
    let torn = d.join("torn.alseg");
    std::fs::write(&torn, &seg[..seg.len() - 10]).unwrap();
    let o = al(&["verify", torn.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("torn tail"), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("through row {}", log.len() - 1)),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        code(&al(&[
            "verify",
            torn.to_str().unwrap(),
            "--checkpoint",
            &cp,
            "--key",
            &key
        ])),
        1
    );
    // A flipped byte inside row 5's entry, and a damaged frame header before row 9.
    for (at, row) in [(ends[4] + 50, 5u64), (ends[8] + 2, 9)] {
        let mut b = seg.clone();
        b[at] ^= 0x04;
        let bad = d.join("bad.alseg");
        std::fs::write(&bad, &b).unwrap();
        let o = al(&["verify", bad.to_str().unwrap(), "--format", "json"]);
        assert_eq!(code(&o), 1, "{}", stdout(&o));
        assert_eq!(
            json(&o)["first_broken_at_row_id"],
            format!("evt_{row:016x}")
        );
    }
    // A checkpoint of another org is refused.
    let other = d.join("other.alseg");
    let mut b = al_store::segment::header("beta");
    b.extend_from_slice(&seg[al_store::segment::header("acme").len()..]);
    std::fs::write(&other, &b).unwrap();
    let o = al(&[
        "verify",
        other.to_str().unwrap(),
        "--checkpoint",
        &cp,
        "--key",
        &key,
    ]);
    assert_eq!(code(&o), 2, "{}{}", stdout(&o), stderr(&o));
}

/// `al verify` applies every rule of a line whatever `--threads` says: an
/// entry whose canonical bytes pass 1 MiB (here a 300 kB line of
/// integers, 9 bytes each once encoded) is refused on both paths, naming
/// the line, as `docs/audit-encoding.md` §1 requires.
#[test]
fn verify_refuses_an_oversized_entry_with_any_thread_count() {
    use al_audit_chain::{Entry, Kind, entry_to_line};
    use al_types::{Digest, EntryId, Timestamp};
    let fields =
        serde_json::json!({"action_type": "a", "status": "executed", "ones": vec![1; 150_000]});
    let e = Entry {
        id: EntryId::FIRST,
        kind: Kind::Action,
        agent_id: None,
        timestamp: Timestamp::UNIX_EPOCH,
        fields: fields.as_object().unwrap().clone(),
        prev_hash: Digest::ZERO,
    };
    assert!(e.encoded_len() > al_audit_chain::MAX_ENTRY_BYTES);
    let d = tmp("oversized");
    let f = d.join("log.jsonl");
    std::fs::write(&f, entry_to_line(&e, &e.hash()) + "\n").unwrap();
    for threads in ["1", "2"] {
        let o = al(&[
            "verify",
            f.to_str().unwrap(),
            "--threads",
            threads,
            "--format",
            "json",
        ]);
        no_panic(&o);
        assert_eq!(code(&o), 1, "--threads {threads}: {}", stdout(&o));
        let v = json(&o);
        assert_eq!(v["failure"]["code"], "UNDECODABLE", "--threads {threads}");
        let msg = v["failure"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with("line 1: ") && msg.contains("over the limit of 1048576"),
            "--threads {threads}: {msg}"
        );
    }
}
