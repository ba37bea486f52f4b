//! `al demo` end to end: which action got which status (by agent and row,
//! checked against the audit log it writes), the approval, outcome,
//! delegation and runaway stories, dates, reproducibility, and the files
//! it writes verifying with the commands it prints.
//!
//! Why one file (545 lines): one test per section of the demo, checked row
//! by row against the audit log it writes, sharing the runner and the row
//! lookups.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{al, code, json, stderr, stdout, tmp};

/// `al --format json demo --out DIR`: the document and the log, by row.
fn run_json(name: &str) -> (Value, Vec<Value>, std::path::PathBuf) {
    let dir = tmp(name);
    let o = al(&["--format", "json", "demo", "--out", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["ok"], true, "{}", doc["checks"]);
    let log: Vec<Value> = std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (doc, log, dir)
}

/// The log line at `row` (1-based).
fn row(log: &[Value], row: u64) -> &Value {
    let l = &log[usize::try_from(row).unwrap() - 1];
    assert_eq!(l["row"], row);
    l
}

/// Agent, action type, row, HTTP status, status, denial reason, deciding
/// policy, replayed.
type Want<'a> = (
    &'a str,
    &'a str,
    u64,
    u64,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    bool,
);

#[test]
fn each_scripted_action_gets_its_status_in_the_answer_and_in_the_log() {
    let (doc, log, _) = run_json("demo-decisions");
    let agents = &doc["agents"];
    let hotfix = doc["delegation"]["created"]["child_config_id"].clone();
    let id_of = |name: &str| {
        if name == "hotfix-bot" {
            hotfix.clone()
        } else {
            agents[name].clone()
        }
    };
    let want: [Want<'_>; 9] = [
        (
            "release-bot",
            "pr.merge",
            11,
            200,
            "executed",
            None,
            Some("merge-small-prs"),
            false,
        ),
        (
            "release-bot",
            "pr.merge",
            12,
            200,
            "denied",
            Some("CONDITIONS_DENIED"),
            Some("merge-small-prs"),
            false,
        ),
        (
            "release-bot",
            "deploy.production",
            13,
            202,
            "requested",
            None,
            Some("production-deploys"),
            false,
        ),
        // The SDK's retry under the same X-AL-Event-ID: the original result, nothing appended.
        (
            "release-bot",
            "deploy.production",
            13,
            409,
            "requested",
            None,
            Some("production-deploys"),
            true,
        ),
        (
            "data-bot",
            "db.query",
            15,
            200,
            "denied",
            Some("CONDITIONS_DENIED"),
            Some("read-only-db"),
            false,
        ),
        (
            "data-bot",
            "db.drop",
            16,
            200,
            "denied",
            Some("POLICY_DENIED"),
            Some("no-schema-drops"),
            false,
        ),
        (
            "support-bot",
            "email.send",
            17,
            200,
            "policy_not_found",
            None,
            None,
            false,
        ),
        (
            "hotfix-bot",
            "pr.merge",
            21,
            200,
            "executed",
            None,
            Some("merge-small-prs"),
            false,
        ),
        (
            "hotfix-bot",
            "deploy.production",
            22,
            200,
            "denied",
            Some("DELEGATION_SCOPE"),
            None,
            false,
        ),
    ];
    let got = doc["decisions"].as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (d, (agent, at, r, http, status, reason, policy, replayed)) in got.iter().zip(want) {
        let ctx = format!("{agent} {at} row {r}: {d}");
        assert_eq!(d["agent"], agent, "{ctx}");
        assert_eq!(d["action_type"], at, "{ctx}");
        assert_eq!(d["row"], r, "{ctx}");
        assert_eq!(d["audit_event_id"], format!("evt_{r:016x}"), "{ctx}");
        assert_eq!(d["http_status"], http, "{ctx}");
        assert_eq!(d["status"], status, "{ctx}");
        assert_eq!(d["denial_reason"].as_str(), reason, "{ctx}");
        assert_eq!(d["policy_name"].as_str(), policy, "{ctx}");
        assert_eq!(d["replayed"], replayed, "{ctx}");
        // The log says the same, about the same agent.
        let l = row(&log, r);
        assert_eq!(l["kind"], "action", "{ctx}");
        assert_eq!(l["agent_id"], id_of(agent), "{ctx}");
        assert_eq!(l["action_type"], at, "{ctx}");
        assert_eq!(l["status"], status, "{ctx}");
        assert_eq!(l["denial_reason"].as_str(), reason, "{ctx}");
        assert_eq!(l["policy_name"].as_str(), policy, "{ctx}");
    }
    // The replay appended nothing: row 14 is the deploy's approval request.
    let l = row(&log, 14);
    assert_eq!(
        (l["kind"].as_str(), l["event"].as_str()),
        (Some("approval"), Some("requested"))
    );
    assert_eq!(l["audit_event_id"], "evt_000000000000000d");
    let requested = log
        .iter()
        .filter(|l| {
            l["kind"] == "action"
                && l["action_type"] == "deploy.production"
                && l["agent_id"] == agents["release-bot"]
        })
        .count();
    assert_eq!(requested, 1, "the replay must not be chained");
}

#[test]
fn approval_outcome_and_delegation_are_the_engines_answers_and_entries() {
    let (doc, log, _) = run_json("demo-stories");
    let deploy = "evt_000000000000000d";
    // Approval: pending, then approved by the operator; the decision is an
    // approval entry bound to the deploy's row.
    let (before, after) = (&doc["approval"]["before"], &doc["approval"]["after"]);
    assert_eq!(before["status"], "pending");
    assert_eq!(after["status"], "approved");
    assert_eq!(after["approval_id"], before["approval_id"]);
    assert_eq!(
        (
            before["audit_event_id"].as_str(),
            after["reviewer"].as_str()
        ),
        (Some(deploy), Some("alice@acme.example"))
    );
    let decision = row_of(&after["decision_event_id"]);
    let l = row(&log, decision);
    assert_eq!(
        (
            l["kind"].as_str(),
            l["event"].as_str(),
            l["audit_event_id"].as_str()
        ),
        (Some("approval"), Some("approved"), Some(deploy))
    );
    assert_eq!(l["reviewer"], "alice@acme.example");
    // Outcome: reported on the deploy, as its own entry.
    let o = &doc["outcome"];
    assert_eq!(
        (o["audit_event_id"].as_str(), o["status"].as_str()),
        (Some(deploy), Some("success"))
    );
    let l = row(&log, row_of(&o["outcome_event_id"]));
    assert_eq!(
        (
            l["kind"].as_str(),
            l["status"].as_str(),
            l["audit_event_id"].as_str()
        ),
        (Some("outcome"), Some("success"), Some(deploy))
    );
    assert!(
        row_of(&o["outcome_event_id"]) > decision,
        "reported after the approval"
    );
    // Delegation: created by release-bot, revoked, and the child's last
    // attempt refused with nothing chained (two child actions in the log).
    let d = &doc["delegation"];
    assert_eq!(
        d["created"]["parent_config_id"],
        doc["agents"]["release-bot"]
    );
    assert_eq!(
        d["created"]["scope"]["capabilities"],
        serde_json::json!(["pr.merge"])
    );
    assert_eq!(d["revoked"]["revoked"], true);
    assert_eq!(d["after_revoke"]["http_status"], 403);
    assert_eq!(d["after_revoke"]["code"], "DELEGATION_INACTIVE");
    let dlg = d["created"]["delegation_id"].as_str().unwrap();
    let child = &d["created"]["child_config_id"];
    let events: Vec<&str> = log
        .iter()
        .filter(|l| l["kind"] == "delegation" && l["delegation_id"] == dlg)
        .map(|l| l["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["created", "revoked"]);
    let child_actions: Vec<&str> = log
        .iter()
        .filter(|l| l["kind"] == "action" && &l["agent_id"] == child)
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(child_actions, ["executed", "denied"]);
}

/// The row of an `evt_…` id.
fn row_of(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().strip_prefix("evt_").unwrap(), 16).unwrap()
}

#[test]
fn the_runaway_is_throttled_with_429s_then_halted() {
    let (doc, log, _) = run_json("demo-runaway");
    let r = &doc["runaway"];
    let loop_bot = &doc["agents"]["loop-bot"];
    assert_eq!(r["calibrated_state"], "MONITORING");
    let limited = r["rate_limited"].as_u64().unwrap();
    assert!(limited > 0);
    assert!(r["first_rate_limited"]["retry_after_ms"].as_u64().unwrap() > 0);
    assert!(
        r["longest_retry_after_ms"].as_u64().unwrap()
            >= r["first_rate_limited"]["retry_after_ms"].as_u64().unwrap()
    );
    // Its transitions, in order: calibrated, warned, throttled, halted (enforced).
    let tos: Vec<(&str, &str)> = doc["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["agent"] == "loop-bot")
        .map(|t| (t["to"].as_str().unwrap(), t["reason"].as_str().unwrap()))
        .collect();
    let pos = |s: &str| {
        tos.iter()
            .position(|t| t.0 == s)
            .unwrap_or_else(|| panic!("no {s}: {tos:?}"))
    };
    assert!(
        pos("MONITORING") < pos("THROTTLE") && pos("THROTTLE") < pos("HALT"),
        "{tos:?}"
    );
    let halt = doc["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["to"] == "HALT")
        .unwrap();
    assert_eq!(
        (halt["enforcement"].as_bool(), halt["reason"].as_str()),
        (Some(true), Some("anomaly"))
    );
    let l = row(&log, halt["row"].as_u64().unwrap());
    assert_eq!(
        (l["kind"].as_str(), l["to"].as_str()),
        (Some("breaker"), Some("HALT"))
    );
    // The HALT first, then the denials it answers with, each chained.
    let halted = r["halted_denial_rows"].as_array().unwrap();
    assert_eq!(halted.len(), 3);
    for h in halted {
        let h = h.as_u64().unwrap();
        assert!(h > halt["row"].as_u64().unwrap());
        let l = row(&log, h);
        assert_eq!(
            (
                l["agent_id"] == *loop_bot,
                l["status"].as_str(),
                l["denial_reason"].as_str()
            ),
            (true, Some("denied"), Some("AGENT_HALTED"))
        );
    }
    assert_eq!(r["status"]["cb_state"], "HALT");
    // A 429 is not a decision: loop-bot's action rows are its 60 calm
    // actions plus the attempts that were not rate limited.
    let actions = log
        .iter()
        .filter(|l| l["kind"] == "action" && l["agent_id"] == *loop_bot)
        .count() as u64;
    assert_eq!(actions, 60 + r["attempts"].as_u64().unwrap() - limited);
    assert_eq!(doc["rate_limited"], limited);
}

#[test]
fn chain_tamper_proof_posture_and_dates_agree() {
    let (doc, log, dir) = run_json("demo-chain");
    let n = log.len() as u64;
    assert_eq!(doc["entries"], n);
    assert_eq!(
        (
            doc["verify"]["chain_valid"].as_bool(),
            doc["verify"]["verified_through_row"].as_u64()
        ),
        (Some(true), Some(n))
    );
    assert_eq!(doc["restored_identical"], true);
    assert_eq!(doc["checkpoint"]["size"], n);
    assert_eq!(doc["checkpoint"]["head_hash"], log[log.len() - 1]["hash"]);
    // The tampered row is data-bot's denied db.drop, caught exactly there.
    let t = doc["tampered"]["row"].as_u64().unwrap();
    assert_eq!(
        (
            row(&log, t)["action_type"].as_str(),
            row(&log, t)["status"].as_str()
        ),
        (Some("db.drop"), Some("denied"))
    );
    assert_eq!(doc["tampered_verify"]["chain_valid"], false);
    assert_eq!(
        doc["tampered_verify"]["first_broken_at_row_id"],
        format!("evt_{t:016x}")
    );
    assert_eq!(doc["tampered_verify"]["verified_through_row"], t - 1);
    assert_eq!(doc["proof_valid"], true);
    let proof: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("proof.json")).unwrap()).unwrap();
    assert_eq!(proof["entry_id"], format!("evt_{t:016x}"));
    // Posture: the four components add up.
    let comps = doc["posture"]["components"].as_object().unwrap();
    let keys: Vec<&str> = comps.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "anomaly_frequency",
            "approval_rate",
            "chain_integrity",
            "policy_coverage"
        ]
    );
    let sum: u64 = comps.values().map(|c| c["score"].as_u64().unwrap()).sum();
    assert_eq!(doc["posture"]["score"], sum);
    assert_eq!(
        comps["approval_rate"]["score"], 25,
        "the one approval was decided by a reviewer"
    );
    // Dates: the banner's start is row 1's time; every entry and the
    // checkpoint fall on that day, in order.
    let start = doc["started_at"].as_str().unwrap();
    assert_eq!(start, "2026-11-28T09:00:00Z");
    assert_eq!(log[0]["timestamp"], start);
    let times: Vec<&str> = log
        .iter()
        .map(|l| l["timestamp"].as_str().unwrap())
        .collect();
    assert!(
        times.iter().all(|t| t.starts_with("2026-11-28T")),
        "{times:?}"
    );
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        doc["checkpoint"]["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-28T")
    );
    let text = stdout(&al(&["demo"]));
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(&format!("from {start}")),
        "{text}"
    );
}

/// Same run, same bytes: the text, the JSON and every file written.
#[test]
fn the_demo_is_reproducible_byte_for_byte() {
    let a = al(&["demo"]);
    let b = al(&["demo"]);
    assert_eq!(code(&a), 0);
    assert_eq!(a.stdout, b.stdout);
    let (da, db) = (tmp("demo-repro-a"), tmp("demo-repro-b"));
    let files = |d: &Path| -> BTreeMap<String, Vec<u8>> {
        let o = al(&["--format", "json", "demo", "--out", d.to_str().unwrap()]);
        assert_eq!(code(&o), 0);
        let mut m: BTreeMap<String, Vec<u8>> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        m.insert("stdout".into(), o.stdout);
        m
    };
    let (fa, fb) = (files(&da), files(&db));
    assert_eq!(
        fa.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "audit.jsonl",
            "checkpoint.txt",
            "demo.pub",
            "manifest.yaml",
            "proof.json",
            "stdout"
        ]
    );
    assert_eq!(fa, fb);
}

/// The follow-up commands the demo prints work exactly as printed, and a
/// tampered copy of the log it wrote fails them at the edited row.
#[test]
fn the_printed_follow_up_commands_verify_the_files() {
    let dir = tmp("demo-printed");
    let o = al(&["demo", "--out", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let commands: Vec<Vec<String>> = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("try:").or_else(|| {
                l.strip_prefix("     ")
                    .filter(|r| r.trim_start().starts_with("al "))
            })
        })
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    assert_eq!(commands.len(), 2, "{text}");
    let run = |args: &[String]| {
        assert_eq!(args[0], "al");
        Command::new(env!("CARGO_BIN_EXE_al"))
            .args(&args[1..])
            .output()
            .unwrap()
    };
    for c in &commands {
        let o = run(c);
        assert_eq!(code(&o), 0, "{c:?}: {}{}", stdout(&o), stderr(&o));
    }
    assert!(
        stdout(&run(&commands[0])).contains("valid"),
        "{}",
        stdout(&run(&commands[0]))
    );
    // The same `al verify` command on an edited copy: exit 1, naming the row.
    let log = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    let edited = log.replacen(
        "\"denial_reason\":\"POLICY_DENIED\"",
        "\"denial_reason\":\"CONDITIONS_DENIED\"",
        1,
    );
    assert_ne!(edited, log);
    std::fs::write(dir.join("audit.jsonl"), edited).unwrap();
    let mut c = commands[0].clone();
    c.extend(["--format".to_owned(), "json".to_owned()]);
    let o = run(&c);
    assert_eq!(code(&o), 1);
    assert_eq!(json(&o)["first_broken_at_row_id"], "evt_0000000000000010");
}

/// The demo is a client: governance happens in al-engine, not in the CLI.
#[test]
fn the_demo_makes_no_governance_calls_itself() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/demo");
    let mut src = String::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        src.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
    }
    for call in [
        ".admit(",
        ".observe(",
        ".evaluate(",
        ".explain(",
        ".append(",
        "PolicySet",
        "Breaker::new",
        "AuditLog",
    ] {
        assert!(
            !src.contains(call),
            "src/demo/ calls `{call}`: the engine must do it"
        );
    }
    assert!(src.contains("submit_action"));
}
