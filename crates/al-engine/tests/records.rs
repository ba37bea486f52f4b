//! Golden vectors of the engine's records (`testdata/engine/records.json`),
//! documented field by field in `docs/audit-encoding.md` §8.1.
//!
//! A scripted org writes every record kind and (nearly) every event: the
//! first entry of each distinct shape (kind, event, status, reason, cause)
//! becomes a vector holding its header, its record (the entry's fields),
//! its JSON line, its canonical bytes and its hash. The test checks that
//! the engine still writes exactly these bytes, that each record decodes
//! and re-encodes to them, and that the refusal vectors are refused.
//! `AL_BLESS=1 cargo test -p al-engine --test integration records` rewrites
//! the file (review the diff: it is a published format).

use al_engine::{BreakerCommand, ImportOptions, Record};
use serde_json::{Map, Value, json};

use crate::common::{Fx, MIN, root};

fn bless() -> bool {
    std::env::var_os("AL_BLESS").is_some()
}

/// The distinguishing shape of a record: which vector it would be.
fn shape(kind: &str, f: &Map<String, Value>) -> String {
    let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let has = |k: &str, label: &str| {
        if f.contains_key(k) {
            label.to_owned()
        } else {
            String::new()
        }
    };
    let parts: Vec<String> = match kind {
        "action" => vec![
            s("status"),
            s("denial_reason"),
            has("delegation_id", "(delegated)"),
            has("event_id", "(event id)"),
            has("conditions_evaluated", "(conditions)"),
        ],
        "outcome" => vec![s("status"), has("replaces", "(replaces)")],
        "breaker" => vec![s("cause"), s("command"), s("reason")],
        "delegation" => vec![s("event"), s("cause")],
        _ => vec![s("event")],
    };
    std::iter::once(kind.to_owned())
        .chain(parts.into_iter().filter(|p| !p.is_empty()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Drive an org through every operation that writes a record.
fn scripted_log() -> Vec<Vec<u8>> {
    let mut f = Fx::new();
    let svc = f.svc.clone();
    // Keys.
    let (bot, bot_key) = f.register("release-bot");
    let issued = f
        .run(|e, now, rng| e.issue_service_key(now, "acme", Some("ci"), rng))
        .unwrap();
    let ci_key = issued.service_key.expose().to_owned();
    let rotated = f
        .run(|e, now, rng| e.rotate_service_key(now, &ci_key, rng))
        .unwrap();
    let fp = rotated.fingerprint.clone();
    f.run(|e, now, _| e.revoke_service_key(now, &svc, &fp).map(|fx| ((), fx)))
        .unwrap();
    let bot_key = f
        .run(|e, now, rng| e.rotate_agent_key(now, &svc, &bot, rng))
        .map(|r| r.api_key.expose().to_owned())
        .unwrap_or(bot_key);
    // Actions: calibrate, then every decision.
    f.calibrate(&bot_key);
    f.tick(MIN);
    let merged = f
        .act(
            &bot_key,
            r#"{"action_type": "pr.merge", "timestamp": "2026-11-28T09:41:00Z",
                "metadata": {"pr_size": 42, "repo": "acme/widgets"},
                "data_accessed": [{"type": "source_code", "count": 3, "sensitivity": "low"}]}"#,
            Some("7d3f0c2a-merge"),
        )
        .unwrap();
    f.tick(MIN);
    f.act(
        &bot_key,
        r#"{"action_type": "pr.merge", "metadata": {"pr_size": 500}}"#,
        None,
    )
    .unwrap();
    f.tick(MIN);
    f.act(&bot_key, r#"{"action_type": "db.drop"}"#, None)
        .unwrap();
    f.tick(MIN);
    f.act(&bot_key, r#"{"action_type": "mail.send"}"#, None)
        .unwrap();
    // Approvals: escalated then approved; denied; timed out.
    let deploy = |f: &mut Fx, env: &str| {
        f.tick(MIN);
        f.act(
            &bot_key,
            &format!(r#"{{"action_type": "deploy.prod", "metadata": {{"env": "{env}"}}}}"#),
            None,
        )
        .unwrap()
        .result
        .approval_id
        .unwrap()
    };
    let a1 = deploy(&mut f, "eu");
    f.tick(2 * 60 * MIN);
    let _ = f.timers();
    f.run(|e, now, _| {
        e.decide_approval(
            now,
            &svc,
            &a1,
            r#"{"decision": "approve", "reviewer": "ana@acme.test", "comment": "change window"}"#,
        )
    })
    .unwrap();
    let a2 = deploy(&mut f, "us");
    f.run(|e, now, _| {
        e.decide_approval(
            now,
            &svc,
            &a2,
            r#"{"decision": "deny", "reviewer": "ana@acme.test"}"#,
        )
    })
    .unwrap();
    deploy(&mut f, "ap");
    f.tick(8 * 60 * MIN);
    let _ = f.timers();
    // Outcomes: a report, then one that replaces it.
    let id = merged.result.audit_event_id.to_string();
    for status in ["success", "partial"] {
        f.tick(MIN);
        let body = format!(
            r#"{{"audit_event_id": "{id}", "outcome": {{"status": "{status}", "message": "merged", "metadata": {{"sha": "9fceb02"}}}}}}"#
        );
        f.run(|e, now, _| e.report_outcome(now, &bot_key, &body))
            .unwrap();
    }
    // Delegations: created; an out-of-scope action; a grandchild revoked
    // in a cascade; one expiring; one revoked when its parent is killed.
    f.tick(MIN);
    let child = f
        .run(|e, now, rng| {
            e.create_delegation(
                now,
                &bot_key,
                r#"{"name": "ci-helper", "capabilities": ["ci.*"], "ttl_seconds": 3600}"#,
                rng,
            )
        })
        .unwrap();
    let child_key = child.child_api_key.expose().to_owned();
    f.tick(MIN);
    f.act(&child_key, r#"{"action_type": "pr.merge"}"#, None)
        .unwrap();
    f.tick(MIN);
    f.act(&child_key, r#"{"action_type": "ci.run"}"#, None)
        .unwrap();
    f.tick(MIN);
    f.run(|e, now, rng| {
        e.create_delegation(
            now,
            &child_key,
            r#"{"name": "ci-grandchild", "capabilities": ["ci.test"], "ttl_seconds": 600}"#,
            rng,
        )
    })
    .unwrap();
    f.tick(MIN);
    let dlg = child.delegation_id.clone();
    f.run(|e, now, _| e.revoke_delegation(now, &bot_key, &dlg))
        .unwrap();
    f.tick(MIN);
    f.run(|e, now, rng| {
        e.create_delegation(
            now,
            &bot_key,
            r#"{"name": "short-lived", "capabilities": ["ci.run"], "ttl_seconds": 60}"#,
            rng,
        )
    })
    .unwrap();
    f.tick(2 * MIN);
    let _ = f.timers();
    // Operator commands: halt (an action refused under HALT), resume,
    // recalibrate, complete calibration, kill.
    f.tick(MIN);
    f.operate(&bot, BreakerCommand::Halt).unwrap();
    f.tick(MIN);
    f.act(&bot_key, r#"{"action_type": "ci.run"}"#, None)
        .unwrap();
    f.tick(MIN);
    f.operate(&bot, BreakerCommand::Resume).unwrap();
    f.tick(MIN);
    f.operate(&bot, BreakerCommand::Recalibrate).unwrap();
    f.tick(MIN);
    f.operate(&bot, BreakerCommand::CompleteCalibration)
        .unwrap();
    f.tick(MIN);
    let (_, other_key) = f.register("scratch-bot");
    let (other, _) = (f.e.whoami(f.now, &other_key).unwrap(), ());
    f.tick(MIN);
    f.run(|e, now, rng| {
        e.create_delegation(
            now,
            &other_key,
            r#"{"name": "orphan", "capabilities": ["ci.*"], "ttl_seconds": 3600}"#,
            rng,
        )
    })
    .unwrap();
    f.tick(MIN);
    let other_id = serde_json::to_value(&other).unwrap()["config_id"]
        .as_str()
        .unwrap()
        .to_owned();
    f.operate(&other_id, BreakerCommand::Kill).unwrap();
    // Policies: one modified, one removed (prune).
    f.tick(MIN);
    let manifest = crate::common::MANIFEST
        .replace("value: 100 }", "value: 200 }")
        .replace(
            "  - name: ci\n    action_type: ci.*\n    effect: allow\n",
            "",
        );
    f.run(|e, now, _| {
        e.import_policies(
            now,
            &svc,
            &manifest,
            ImportOptions {
                prune: true,
                ..ImportOptions::default()
            },
        )
    })
    .unwrap();
    f.assert_restores();
    f.log().to_vec()
}

/// Records a reader must refuse, derived from a valid one.
fn refusals(vectors: &[Value]) -> Vec<Value> {
    let find = |name: &str| {
        vectors
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no vector `{name}`"))["record"]
            .as_object()
            .unwrap()
            .clone()
    };
    let mut out = Vec::new();
    let mut push = |why: &str,
                    kind: &str,
                    mut r: Map<String, Value>,
                    edit: &dyn Fn(&mut Map<String, Value>)| {
        edit(&mut r);
        out.push(json!({"why": why, "kind": kind, "record": r}));
    };
    let exec = find("action executed");
    push("an unknown field", "action", exec.clone(), &|r| {
        r.insert("note".into(), json!("x"));
    });
    push(
        "a required field missing (`requested_at`)",
        "action",
        exec.clone(),
        &|r| {
            r.remove("requested_at");
        },
    );
    push("a status outside the list", "action", exec.clone(), &|r| {
        r.insert("status".into(), json!("allowed"));
    });
    push(
        "a timestamp not in the canonical form",
        "action",
        exec.clone(),
        &|r| {
            r.insert("requested_at".into(), json!("2026-11-28T10:41:00+01:00"));
        },
    );
    push("a digest in uppercase hex", "action", exec.clone(), &|r| {
        let d = r["policy_digest"].as_str().unwrap().to_uppercase();
        r.insert("policy_digest".into(), json!(d));
    });
    push("a `count` that is not an integer", "action", exec, &|r| {
        r.insert(
            "data_accessed".into(),
            json!([{"type": "source_code", "count": 3.0}]),
        );
    });
    push(
        "an unknown breaker state",
        "breaker",
        find("breaker action calibration_complete"),
        &|r| {
            r.insert("to".into(), json!("monitoring"));
        },
    );
    push(
        "an entry id that is not `evt_` and 16 hex digits",
        "outcome",
        find("outcome success"),
        &|r| {
            r.insert("audit_event_id".into(), json!("evt_12"));
        },
    );
    push(
        "a key event outside the list",
        "key",
        find("key agent_registered"),
        &|r| {
            r.insert("event".into(), json!("agent_deleted"));
        },
    );
    out
}

fn build() -> Value {
    let log = scripted_log();
    let mut seen = std::collections::BTreeSet::new();
    let mut vectors = Vec::new();
    for bytes in &log {
        let e = al_audit_chain::decode(bytes).unwrap();
        let kind = e.kind.as_str();
        let name = shape(kind, &e.fields);
        if !seen.insert(name.clone()) {
            continue;
        }
        let hash = al_types::Digest::of(bytes);
        let line = al_audit_chain::entry_to_line(&e, &hash);
        vectors.push(json!({
            "name": name,
            "row": e.id.row(),
            "kind": kind,
            "agent_id": e.agent_id,
            "timestamp": e.timestamp.to_string(),
            "prev_hash": e.prev_hash.to_string(),
            "record": Value::Object(e.fields.clone()),
            "json_line": line.trim_end(),
            "canonical_hex": hex::encode(bytes),
            "hash": hash.to_string(),
        }));
    }
    let refused = refusals(&vectors);
    json!({
        "about": "The engine's records (docs/audit-encoding.md section 8.1): for each distinct record shape, the first entry of a scripted org's log with its header, record, JSON line, canonical bytes (hex) and SHA-256; then records a reader must refuse. Generated by crates/al-engine/tests/records.rs (AL_BLESS=1 rewrites).",
        "org_id": "acme",
        "entries_in_log": log.len(),
        "vectors": vectors,
        "refused": refused,
    })
}

#[test]
fn records_golden_vectors() {
    let v = build();
    // Every vector decodes as its kind's record and re-encodes to its bytes.
    for x in v["vectors"].as_array().unwrap() {
        let e = al_audit_chain::decode(&hex::decode(x["canonical_hex"].as_str().unwrap()).unwrap())
            .unwrap();
        let rec = Record::decode(e.kind, e.fields.clone())
            .unwrap_or_else(|m| panic!("{}: {m}", x["name"]));
        assert_eq!(
            Value::Object(rec.to_fields().unwrap()),
            x["record"],
            "{}",
            x["name"]
        );
    }
    for x in v["refused"].as_array().unwrap() {
        let kind = al_audit_chain::Kind::parse(x["kind"].as_str().unwrap()).unwrap();
        let r = Record::decode(kind, x["record"].as_object().unwrap().clone());
        assert!(r.is_err(), "accepted: {}", x["why"]);
    }
    // Every kind is covered.
    for k in [
        "action",
        "approval",
        "outcome",
        "delegation",
        "breaker",
        "policy_change",
        "key",
    ] {
        assert!(
            v["vectors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["kind"] == k),
            "no `{k}` vector"
        );
    }
    let path = root().join("testdata/engine/records.json");
    let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
    if bless() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (AL_BLESS=1 writes it)", path.display()));
    assert!(
        text == want,
        "testdata/engine/records.json differs: the engine writes other bytes. It is a published format: \
         `AL_BLESS=1 cargo test -p al-engine --test integration records` rewrites it; review the diff"
    );
}
