//! `al demo`: the product end to end, in a few screens.
//!
//! The demo is a host like any other: it composes al-policy, al-audit-chain
//! and al-breaker in the order SPEC §2 and §6 describe (admit → evaluate →
//! chain the decision → observe → chain the transitions) and owns nothing
//! the crates should own. Time is simulated, so every run prints the same.

use std::collections::BTreeMap;
use std::path::Path;

use al_audit_chain::{AuditLog, ChainVerifier, JsonlVerifier, Kind, NewEntry};
use al_breaker::{Admission, Breaker, BreakerConfig, Observation, State};
use al_policy::{ActionRequest, Agent, Limits, Manifest, PolicySet, Status, Timestamp};
use al_types::{EntryId, ErrorCode};
use serde_json::{Map, Value, json};

use crate::io::UsageError;

/// The built-in manifest.
pub const MANIFEST: &str = r#"version: 1
policies:
  - name: merge-small-prs
    description: Small PRs to our own repos merge without review.
    action_type: pr.merge
    effect: allow
    conditions:
      - { field: pr_size, operator: lt, value: 100 }
      - { field: repo, operator: starts_with, value: "acme/" }
  - name: production-deploys
    action_type: deploy.*
    effect: require_approval
    approval: { timeout: 8h, escalate_after: 2h }
  - name: no-schema-drops
    action_type: db.drop
    effect: deny
  - name: read-only-db
    action_type: db.*
    effect: allow
    conditions:
      - { field: "@data.max_sensitivity", operator: lte, value: medium }
  - name: ci
    action_type: ci.*
    effect: allow
"#;

const T0: i64 = 1_764_320_400_000; // 2026-11-28T09:00:00Z

struct Host {
    set: PolicySet,
    log: AuditLog,
    cfg: BreakerConfig,
    breakers: BTreeMap<String, Breaker>,
    transitions: Vec<Value>,
}

/// What one attempt came to.
enum Outcome {
    Decided {
        status: Status,
        code: Option<&'static str>,
        policy: Option<String>,
        reason: String,
        row: u64,
    },
    RateLimited {
        retry_after_ms: u64,
    },
}

impl Host {
    /// Append an entry; a refused append is an error, never a silent row 0.
    fn chain(
        &mut self,
        kind: Kind,
        agent: &str,
        now: i64,
        fields: Value,
    ) -> Result<u64, UsageError> {
        let fields = match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let entry = NewEntry {
            kind,
            agent_id: Some(agent.to_owned()),
            timestamp: al_types::Timestamp::from_unix_millis(now)
                .ok_or_else(|| UsageError(format!("demo: time {now} out of range")))?,
            fields,
        };
        match self.log.append(&entry) {
            Ok(s) => Ok(s.row),
            Err(e) => Err(UsageError(format!(
                "demo: audit append refused: {}: {e}",
                e.code()
            ))),
        }
    }

    fn record_effects(
        &mut self,
        agent: &str,
        now: i64,
        fx: &al_breaker::Effects,
    ) -> Result<(), UsageError> {
        for t in fx.transitions() {
            let v = json!({"from": t.from.as_str(), "to": t.to.as_str(), "reason": reason_str(t.reason), "score": t.score, "enforcement": t.enforcement});
            self.chain(Kind::Breaker, agent, now, v.clone())?;
            let mut v = v;
            if let Some(o) = v.as_object_mut() {
                o.insert("agent_id".into(), json!(agent));
            }
            self.transitions.push(v);
        }
        Ok(())
    }

    fn act(&mut self, agent: &str, body: Value, now: i64) -> Result<Outcome, UsageError> {
        let ts = Timestamp::from_unix_millis(now)
            .ok_or_else(|| UsageError("demo clock out of range".into()))?;
        let cfg = self.cfg.clone();
        let breaker = self
            .breakers
            .entry(agent.to_owned())
            .or_insert_with(|| Breaker::new(ts));
        let (adm, fx) = breaker.admit(&cfg, ts);
        self.record_effects(agent, now, &fx)?;
        let req = ActionRequest::from_value(&body, ts, &Limits::default())
            .map_err(|e| UsageError(e.to_string()))?;
        let (status, code, policy, reason) = match adm {
            Admission::Throttled { retry_after_ms } => {
                return Ok(Outcome::RateLimited { retry_after_ms });
            }
            Admission::Denied(State::Halt) => (
                Status::Denied,
                Some("AGENT_HALTED"),
                None,
                "the agent's circuit breaker is in HALT".to_owned(),
            ),
            Admission::Denied(_) => {
                return Err(UsageError(format!(
                    "agent `{agent}` is killed (AGENT_KILLED)"
                )));
            }
            Admission::Allow => {
                let e = self.set.explain(
                    &req,
                    &Agent {
                        id: agent,
                        name: agent,
                    },
                );
                (
                    e.status,
                    e.denial_reason.map(|r| r.code()),
                    e.policy.as_ref().map(|p| p.name.clone()),
                    e.reason,
                )
            }
        };
        let policy_ref = policy.as_deref().and_then(|n| self.set.get(n));
        let mut fields = json!({
            "action_type": req.action_type(),
            "status": status.as_str(),
            "data_accessed": req.data_accessed(),
            "metadata": req.metadata(),
        });
        if let Some(o) = fields.as_object_mut() {
            if let Some(p) = policy_ref {
                o.insert("policy_id".into(), json!(p.id()));
                o.insert("policy_version".into(), json!(p.version()));
            }
            if let Some(c) = code {
                o.insert("denial_reason".into(), json!(c));
            }
        }
        let row = self.chain(Kind::Action, agent, now, fields)?;
        if code != Some("AGENT_HALTED") {
            let obs = Observation {
                action_type: req.action_type(),
                denied: status == Status::Denied || status == Status::PolicyNotFound,
                data_count: req.data_accessed().iter().map(|d| d.count).sum(),
                delegation_created: false,
            };
            let breaker = self
                .breakers
                .entry(agent.to_owned())
                .or_insert_with(|| Breaker::new(ts));
            let fx = breaker.observe(&cfg, ts, &obs);
            self.record_effects(agent, now, &fx)?;
        }
        Ok(Outcome::Decided {
            status,
            code,
            policy,
            reason,
            row,
        })
    }
}

fn reason_str(r: al_breaker::Reason) -> String {
    match serde_json::to_value(r) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("")))
            .collect(),
        _ => String::new(),
    }
}

fn say(json: bool, s: &str) {
    if !json {
        outln!("{s}");
    }
}

/// Run the demo; `Ok(true)` when everything behaved as it should.
pub fn run(out: Option<&Path>, json: bool) -> Result<bool, UsageError> {
    let manifest = Manifest::parse_auto(MANIFEST).map_err(|e| UsageError(e.to_string()))?;
    let set = PolicySet::compile(&manifest);
    let cfg = BreakerConfig::builder()
        .calibration_min_actions(40)
        .calibration_min_duration_ms(20 * 60_000)
        .build()
        .map_err(|e| UsageError(e.to_string()))?;
    let mut host = Host {
        set,
        log: AuditLog::new("acme"),
        cfg,
        breakers: BTreeMap::new(),
        transitions: Vec::new(),
    };
    let mut decisions: Vec<Value> = Vec::new();

    say(
        json,
        "AgentLattice core demo — simulated clock from 2026-11-28T09:00:00Z\n",
    );
    say(json, "1. Policies (built-in manifest)");
    for p in host.set.policies() {
        say(
            json,
            &format!(
                "   {:<20} {:<12} {}",
                p.name(),
                p.pattern().to_string(),
                p.effect()
            ),
        );
    }
    say(
        json,
        &format!("   policy set digest {}\n", host.set.digest()),
    );

    say(json, "2. Agents act (every decision is chained)");
    let mut now = T0;
    let script: [(&str, Value); 6] = [
        (
            "release-bot",
            json!({"action_type": "pr.merge", "metadata": {"pr_size": 42, "repo": "acme/backend"}}),
        ),
        (
            "release-bot",
            json!({"action_type": "pr.merge", "metadata": {"pr_size": 1200, "repo": "acme/backend"}}),
        ),
        (
            "release-bot",
            json!({"action_type": "deploy.production", "metadata": {"version": "2.4.1"}}),
        ),
        (
            "data-bot",
            json!({"action_type": "db.query", "data_accessed": [{"type": "customer_records", "count": 20, "sensitivity": "high"}]}),
        ),
        (
            "data-bot",
            json!({"action_type": "db.drop", "metadata": {"table": "users"}}),
        ),
        (
            "support-bot",
            json!({"action_type": "email.send", "metadata": {"to": "someone@example.com"}}),
        ),
    ];
    let mut drop_row = 0;
    for (agent, body) in script {
        now += 60_000;
        let at = body
            .get("action_type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if let Outcome::Decided {
            status,
            code,
            policy,
            reason,
            row,
        } = host.act(agent, body, now)?
        {
            if at == "db.drop" {
                drop_row = row;
            }
            let label = match code {
                Some(c) => format!("{status} {c}"),
                None => status.to_string(),
            };
            say(
                json,
                &format!("   {agent:<12} {at:<18} {label:<28} {reason}"),
            );
            decisions.push(json!({"agent_id": agent, "action_type": at, "status": status, "denial_reason": code, "policy_name": policy, "audit_event_id": EntryId::from_row(row).map(|i| i.to_string())}));
        }
    }

    say(json, "\n3. A runaway agent");
    // loop-bot learns a calm baseline: two actions a minute for 30 minutes.
    now += 60_000;
    for i in 0..60 {
        now += 30_000;
        let at = if i % 2 == 0 { "ci.run" } else { "ci.test" };
        host.act("loop-bot", json!({"action_type": at}), now)?;
    }
    let st = host.breakers.get("loop-bot").map(|b| b.state());
    say(
        json,
        &format!(
            "   loop-bot calibrated on 60 calm actions over 30 minutes: {}",
            st.map_or("-", State::as_str)
        ),
    );
    // Then it loops: one action every 2 seconds (15× its rate). Throttled,
    // it keeps hammering for a while, then starts probing for a way through.
    let mut rate_limited = 0u32;
    let mut longest_retry = 0u64;
    let mut halted_denials = 0u32;
    let mut seen = host.transitions.len();
    let mut attempts = 0u32;
    let mut throttled_at: Option<u32> = None;
    while attempts < 5000 {
        attempts += 1;
        now += 2_000;
        if throttled_at.is_none()
            && host
                .breakers
                .get("loop-bot")
                .is_some_and(|b| b.state() >= State::Throttle)
        {
            throttled_at = Some(attempts);
        }
        let probing = throttled_at.is_some_and(|t| attempts > t + 150);
        let body = if probing {
            json!({"action_type": "db.drop", "metadata": {"table": "audit"}})
        } else {
            json!({"action_type": "ci.run"})
        };
        match host.act("loop-bot", body, now)? {
            Outcome::RateLimited { retry_after_ms } => {
                rate_limited += 1;
                longest_retry = longest_retry.max(retry_after_ms);
            }
            Outcome::Decided {
                code: Some("AGENT_HALTED"),
                ..
            } => {
                halted_denials += 1;
                if halted_denials >= 3 {
                    break;
                }
            }
            Outcome::Decided { .. } => {}
        }
        for t in host.transitions.iter().skip(seen) {
            say(
                json,
                &format!(
                    "   attempt {attempts:>4}: {} -> {} ({}, score {}){}",
                    t["from"].as_str().unwrap_or(""),
                    t["to"].as_str().unwrap_or(""),
                    t["reason"].as_str().unwrap_or(""),
                    t["score"],
                    if t["enforcement"] == json!(true) {
                        "  enforcement.triggered"
                    } else {
                        ""
                    }
                ),
            );
        }
        seen = host.transitions.len();
    }
    say(
        json,
        &format!(
            "   {rate_limited} attempts answered 429 RATE_LIMITED, retry_after_ms up to {longest_retry} (errors are not decisions: not chained)"
        ),
    );
    say(
        json,
        &format!(
            "   {halted_denials} attempts denied AGENT_HALTED; only an operator's resume lifts HALT"
        ),
    );
    let halted = host
        .breakers
        .get("loop-bot")
        .is_some_and(|b| b.state() == State::Halt);

    say(json, "\n4. The audit chain");
    let now_u = al_types::Timestamp::from_unix_millis(now)
        .ok_or_else(|| UsageError(format!("demo: time {now} out of range")))?;
    let cp = host.log.checkpoint(now_u);
    let verified = host.log.verify(Some(&cp), now_u);
    say(
        json,
        &format!(
            "   {} entries; verify: chain_valid={} through row {}",
            host.log.len(),
            verified.result.chain_valid,
            verified.result.verified_through_row
        ),
    );
    say(
        json,
        &format!(
            "   checkpoint: size {} root {}",
            cp.checkpoint().size,
            cp.checkpoint().root
        ),
    );

    say(json, "\n5. Someone edits the exported log");
    let mut jsonl = Vec::new();
    host.log
        .export_jsonl(&mut jsonl)
        .map_err(|e| UsageError(e.to_string()))?;
    let text = String::from_utf8(jsonl).map_err(|e| UsageError(e.to_string()))?;
    let tampered: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let l = if i + 1 == drop_row as usize {
                l.replace("\"status\":\"denied\"", "\"status\":\"executed\"")
            } else {
                l.to_owned()
            };
            l + "\n"
        })
        .collect();
    let mut v = JsonlVerifier::new(ChainVerifier::new("acme").against(&cp));
    for l in tampered.lines() {
        v.push_line(l.as_bytes());
    }
    let caught = v.finish(now_u);
    say(
        json,
        &format!(
            "   row {drop_row} (data-bot's denied db.drop) rewritten as executed: chain_valid={}, first_broken_at_row_id={}",
            caught.result.chain_valid,
            caught
                .result
                .first_broken_at_row_id
                .map_or_else(|| "-".to_owned(), |i| i.to_string())
        ),
    );

    say(json, "\n6. Proof of one event");
    let size = cp.checkpoint().size;
    let drop_id = EntryId::from_row(drop_row)
        .ok_or_else(|| UsageError("demo: the db.drop action was not recorded".into()))?;
    let proof = host
        .log
        .prove_inclusion(drop_id, now_u)
        .map_err(|e| UsageError(format!("demo: {e}")))?;
    let proof_ok = proof.verify(&cp).is_ok();
    say(
        json,
        &format!(
            "   {drop_id} is in the log of size {size}: {} hashes, verified={proof_ok}",
            proof.path.len()
        ),
    );

    if let Some(dir) = out {
        std::fs::create_dir_all(dir)
            .map_err(|e| UsageError(format!("cannot create `{}`: {e}", dir.display())))?;
        let proof_doc = serde_json::to_value(&proof).unwrap_or_default();
        crate::cmd::write_file(&dir.join("manifest.yaml"), MANIFEST.as_bytes())?;
        crate::cmd::write_file(&dir.join("audit.jsonl"), text.as_bytes())?;
        // A fixed demo key, so the demo stays reproducible: not a secret.
        let key =
            al_audit_chain::Ed25519Signer::from_seed("demo.agentlattice.invalid/acme", [42; 32])
                .map_err(|e| UsageError(format!("demo: {e}")))?;
        let signed = cp
            .checkpoint()
            .sign(&[&key])
            .map_err(|e| UsageError(format!("demo: {e}")))?;
        crate::cmd::write_file(&dir.join("checkpoint.txt"), signed.as_bytes())?;
        crate::cmd::write_file(
            &dir.join("demo.pub"),
            (key.verifier().to_text() + "\n").as_bytes(),
        )?;
        crate::cmd::write_file(
            &dir.join("proof.json"),
            (serde_json::to_string_pretty(&proof_doc).unwrap_or_default() + "\n").as_bytes(),
        )?;
        say(
            json,
            &format!(
                "\nwrote {}/{{manifest.yaml,audit.jsonl,checkpoint.txt,demo.pub,proof.json}}",
                dir.display()
            ),
        );
        say(
            json,
            &format!(
                "try:  al verify {d}/audit.jsonl --checkpoint {d}/checkpoint.txt --key {d}/demo.pub",
                d = dir.display()
            ),
        );
    }
    let ok = verified.result.chain_valid && !caught.result.chain_valid && proof_ok && halted;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "decisions": decisions,
                "transitions": host.transitions,
                "rate_limited": rate_limited,
                "entries": host.log.len(),
                "verify": verified.result,
                "tampered_verify": caught.result,
                "proof_valid": proof_ok,
                "checkpoint": serde_json::to_value(cp.checkpoint()).unwrap_or_default(),
            }))
            .unwrap_or_default()
        );
    } else {
        say(
            json,
            &format!(
                "\n{}",
                if ok {
                    "demo complete: every check behaved as expected"
                } else {
                    "demo FAILED: a check did not behave as expected"
                }
            ),
        );
    }
    Ok(ok)
}
