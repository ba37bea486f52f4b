//! `al simulate` end to end: the golden cases of `testdata/simulate/`
//! (the same `cases.json` the library test reads), and every exit status.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use super::{code, json, no_panic, root, stderr, stdout, tmp};

fn sim_dir() -> PathBuf {
    root().join("testdata/simulate")
}

/// Run `al` in `testdata/simulate/`, so file names print as the cases name them.
fn al_here(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_al"))
        .args(args)
        .current_dir(sim_dir())
        .output()
        .unwrap()
}

#[test]
fn golden_cases_through_the_cli() {
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(sim_dir().join("cases.json")).unwrap())
            .unwrap();
    assert!(cases.len() >= 4);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let mut args: Vec<String> = vec![
            "simulate".into(),
            "--log".into(),
            "log.jsonl".into(),
            "--policies".into(),
            c["policies"].as_str().unwrap().into(),
        ];
        for (key, flag) in [
            ("baseline", "--baseline"),
            ("since", "--since"),
            ("until", "--until"),
            ("agent", "--agent"),
        ] {
            if let Some(v) = c[key].as_str() {
                args.extend([flag.to_owned(), v.to_owned()]);
            }
        }
        if let Some(n) = c["examples"].as_u64() {
            args.extend(["--examples".to_owned(), n.to_string()]);
        }
        for f in c["formats"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            let mut a = args.clone();
            a.extend(["--format".to_owned(), f.to_owned()]);
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            let o = al_here(&refs);
            no_panic(&o);
            assert_eq!(
                i64::from(code(&o)),
                c["exit"].as_i64().unwrap(),
                "{name} {f}: {}",
                stderr(&o)
            );
            let ext = match f {
                "text" => "txt",
                "markdown" => "md",
                _ => "json",
            };
            let expected =
                std::fs::read_to_string(sim_dir().join(format!("expected/{name}.{ext}"))).unwrap();
            assert_eq!(stdout(&o), expected, "{name} {f}");
        }
    }
}

#[test]
fn a_broken_chain_exits_1_naming_the_row() {
    let d = tmp("simulate-broken");
    let text = std::fs::read_to_string(sim_dir().join("log.jsonl")).unwrap();
    let bad = d.join("tampered.jsonl");
    std::fs::write(&bad, text.replace("\"pr_size\":60", "\"pr_size\":6")).unwrap();
    let new = sim_dir().join("new.yaml");
    let (bad, new) = (bad.to_str().unwrap(), new.to_str().unwrap());
    let o = al_here(&["simulate", "--log", bad, "--policies", new]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("row 14"), "{}", stderr(&o));
    assert!(stderr(&o).contains("HASH_MISMATCH"), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "",
        "nothing is reported for a log that does not verify"
    );
    let o = al_here(&[
        "simulate",
        "--log",
        bad,
        "--policies",
        new,
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 1);
    let v = json(&o);
    assert_eq!(v["chain_valid"], false);
    assert_eq!(v["error"]["row"], 14);
    assert_eq!(v["error"]["code"], "CHAIN_BROKEN");
    // A cut line (no newline, half a record) at the end.
    let cut = d.join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() - 40]).unwrap();
    let o = al_here(&[
        "simulate",
        "--log",
        cut.to_str().unwrap(),
        "--policies",
        new,
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("row 98"), "{}", stderr(&o));
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let d = tmp("simulate-input");
    let typo = root().join("testdata/cli/typo.yaml");
    // An action record a host wrote with a field the layout does not have:
    // the chain holds, the record does not.
    let mut log = al_audit_chain::AuditLog::new("acme");
    let mut fields = serde_json::Map::new();
    fields.insert("action_type".into(), "pr.merge".into());
    fields.insert("status".into(), "executed".into());
    fields.insert("colour".into(), "blue".into());
    let s = log
        .append(&al_audit_chain::NewEntry {
            kind: al_audit_chain::Kind::Action,
            agent_id: Some("agt_1".into()),
            timestamp: al_types::Timestamp::parse_rfc3339("2026-11-28T12:00:00Z").unwrap(),
            fields,
        })
        .unwrap();
    let hash = s.hash;
    let line = al_audit_chain::entry_to_line(&log.entry(1).unwrap(), &hash);
    let invalid = d.join("invalid-record.jsonl");
    std::fs::write(&invalid, format!("{line}\n")).unwrap();
    let invalid = invalid.to_str().unwrap();
    for (args, needle) in [
        (
            vec![
                "simulate",
                "--log",
                "log.jsonl",
                "--policies",
                typo.to_str().unwrap(),
            ],
            "efect",
        ),
        (
            vec![
                "simulate",
                "--log",
                "missing.jsonl",
                "--policies",
                "new.yaml",
            ],
            "missing.jsonl",
        ),
        (
            vec![
                "simulate",
                "--log",
                "log.jsonl",
                "--policies",
                "new.yaml",
                "--since",
                "last week",
            ],
            "--since",
        ),
        (
            vec![
                "simulate",
                "--log",
                "log.jsonl",
                "--policies",
                "new.yaml",
                "--since",
                "2026-11-24",
                "--until",
                "2026-11-23",
            ],
            "window is empty",
        ),
        (
            vec!["simulate", "--log", invalid, "--policies", "new.yaml"],
            "INVALID_RECORD",
        ),
        (
            vec!["lint", "new.yaml", "--format", "markdown"],
            "only for `al simulate`",
        ),
        (vec!["simulate", "--log", "log.jsonl"], "--policies"),
    ] {
        let o = al_here(&args);
        no_panic(&o);
        assert_eq!(code(&o), 2, "{args:?}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_date_is_its_midnight_and_segment_files_simulate_like_json_lines() {
    let since = al_here(&[
        "simulate",
        "--log",
        "log.jsonl",
        "--policies",
        "new.yaml",
        "--since",
        "2026-11-24",
        "--format",
        "json",
    ]);
    assert_eq!(code(&since), 3, "{}", stderr(&since));
    assert_eq!(json(&since)["window"]["since"], "2026-11-24T00:00:00Z");
    // The same log as an al-server segment file.
    let d = tmp("simulate-segment");
    let text = std::fs::read(sim_dir().join("log.jsonl")).unwrap();
    let log = al_audit_chain::AuditLog::import_jsonl(
        "acme",
        al_audit_chain::LogConfig::default(),
        &mut &text[..],
    )
    .unwrap();
    let mut seg = al_store::segment::header("acme");
    for r in log.records() {
        al_store::segment::push_frame(&mut seg, r.bytes, &r.hash.0);
    }
    let f = d.join("acme.alseg");
    std::fs::write(&f, &seg).unwrap();
    let o = al_here(&[
        "simulate",
        "--log",
        f.to_str().unwrap(),
        "--policies",
        "new.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(sim_dir().join("expected/recorded.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json(&o), expected);
    // A damaged frame is a broken chain at its row.
    let mut bad = seg.clone();
    let n = bad.len();
    bad[n - 20] ^= 0x01;
    std::fs::write(&f, &bad).unwrap();
    let o = al_here(&[
        "simulate",
        "--log",
        f.to_str().unwrap(),
        "--policies",
        "new.yaml",
    ]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("row 98"), "{}", stderr(&o));
}

/// The worked example in the CLI README is the golden output, abridged
/// (`…` stands for what was left out).
#[test]
fn the_readme_example_is_the_real_output() {
    let readme = std::fs::read_to_string(root().join("crates/al-cli/README.md")).unwrap();
    let expected = std::fs::read_to_string(sim_dir().join("expected/recorded.txt")).unwrap();
    let block = readme
        .split("$ al simulate --log log.jsonl --policies new.yaml\n")
        .nth(1)
        .and_then(|b| b.split("$ echo $?").next())
        .unwrap();
    let mut shown = 0;
    for line in block.lines() {
        let line = line.trim_end();
        if line.trim() == "…" || line.is_empty() {
            continue;
        }
        let (head, tail) = line.split_once('…').unwrap_or((line, ""));
        let tail = tail.trim_start_matches(')');
        assert!(
            expected
                .lines()
                .any(|l| l.starts_with(head) && l.ends_with(tail)),
            "README line not in the output: {line}"
        );
        shown += 1;
    }
    assert!(shown > 10);
    assert!(readme.contains("$ echo $?\n3\n"));
}
