//! `al demo`: the product end to end, in a few screens.
//!
//! The demo is a client of [`al_engine::Engine`], exactly as a host embeds
//! it: it passes keys, bodies and `now` to the engine's operations,
//! persists the sealed entries each one returns (in order), collects the
//! events it would deliver, fires timers when `poll_timeout` says so, and
//! prints. Every decision (policies, breaker, delegation scope, approvals,
//! replay) is the engine's; this file only scripts a scenario and narrates.
//!
//! Reproducible byte for byte: time is a simulated clock the demo advances,
//! and keys come from [`DeterministicEntropy`] with a fixed seed (so the
//! demo's keys are public, never secrets).

use std::collections::BTreeMap;
use std::path::Path;

use al_audit_chain::{ChainVerifier, Ed25519Signer, JsonlVerifier, Kind, SignedCheckpoint};
use al_breaker::State;
use al_engine::{
    ActionAnswer, ActionCall, ActionResult, ActionStatus, ApprovalStatus, BreakerRecord,
    DenialReason, DeterministicEntropy, Effects, Engine, EngineConfig, EngineError, ImportOptions,
    PolicyScope, Record, SealedEntry,
};
use al_types::{ErrorCode, Timestamp};
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

/// When the simulated clock starts; the banner prints this very value.
const START: &str = "2026-11-28T09:00:00Z";
const ORG: &str = "acme";
const MIN: i64 = 60_000;
/// Seeds of the demo's deterministic randomness (public: not secrets).
const ENTROPY_SEED: u64 = 2026;
const HASH_SEED: [u8; 16] = *b"al-demo-hashseed";
const SIGNING_SEED: [u8; 32] = [42; 32];
const SIGNER_NAME: &str = "demo.agentlattice.invalid/acme";

fn engine_err(what: &str, e: &EngineError) -> UsageError {
    UsageError(format!("demo: {what}: {}: {e}", e.code()))
}

/// One scripted decision, as the JSON document reports it.
struct Decision {
    agent: String,
    action_type: String,
    answer: ActionAnswer,
}

impl Decision {
    fn label(&self) -> String {
        let r = &self.answer.result;
        let mut s = format!("{} {}", self.answer.http_status, r.status.as_str());
        if let Some(d) = r.denial_reason {
            s.push(' ');
            s.push_str(d.code());
        }
        s
    }

    fn to_json(&self) -> Value {
        let r = &self.answer.result;
        json!({
            "agent": self.agent,
            "action_type": self.action_type,
            "http_status": self.answer.http_status,
            "replayed": self.answer.replayed,
            "status": r.status,
            "denial_reason": r.denial_reason,
            "policy_name": r.policy_name,
            "approval_id": r.approval_id,
            "audit_event_id": r.audit_event_id,
            "row": r.audit_event_id.row(),
            "message": r.message,
        })
    }
}

/// A breaker record the engine wrote, for narration.
struct Transition {
    row: u64,
    agent: String,
    rec: BreakerRecord<'static>,
}

impl Transition {
    fn to_json(&self) -> Value {
        let b = &self.rec;
        json!({
            "row": self.row,
            "agent": self.agent,
            "from": b.from,
            "to": b.to,
            "reason": b.reason,
            "signal": b.signal,
            "score": b.score,
            "enforcement": b.enforcement.unwrap_or(false),
        })
    }

    fn describe(&self) -> String {
        let b = &self.rec;
        let state = |s: Option<State>| s.map_or("-", State::as_str);
        let reason = b
            .reason
            .and_then(|r| serde_json::to_value(r).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let signal = b
            .signal
            .map(|s| format!(": {}", s.as_str()))
            .unwrap_or_default();
        format!(
            "{} -> {} ({reason}{signal}, score {}){}",
            state(b.from),
            state(b.to),
            b.score.unwrap_or(0),
            if b.enforcement == Some(true) {
                "  enforcement.triggered"
            } else {
                ""
            }
        )
    }
}

/// The demo as a host: the engine, the clock, the randomness, and what a
/// host must keep (every sealed entry, in order) and deliver (events).
struct Host {
    engine: Engine,
    entropy: DeterministicEntropy,
    now: Timestamp,
    persisted: Vec<SealedEntry>,
    events: BTreeMap<&'static str, u64>,
    names: BTreeMap<String, String>,
    transitions: Vec<Transition>,
    json: bool,
    /// The org's service key.
    svc: String,
    /// Agent name → its key.
    keys: BTreeMap<String, String>,
    decisions: Vec<Decision>,
    checks: Vec<(&'static str, bool)>,
    /// The `--format json` document, section by section.
    doc: Map<String, Value>,
}

impl Host {
    fn say(&self, s: &str) {
        if !self.json {
            outln!("{s}");
        }
    }

    /// Persist an operation's entries (in order, before "answering") and
    /// queue its events; note breaker records for the narration. Returns
    /// the rows written.
    fn keep(&mut self, fx: Effects) -> Result<Vec<u64>, UsageError> {
        let mut rows = Vec::with_capacity(fx.entries.len());
        for s in fx.entries {
            let expected = self.persisted.len() as u64 + 1;
            if s.row != expected {
                return Err(UsageError(format!(
                    "demo: the engine returned row {} where row {expected} was due",
                    s.row
                )));
            }
            let entry = al_audit_chain::decode(&s.bytes)
                .map_err(|e| UsageError(format!("demo: row {}: {e}", s.row)))?;
            if entry.kind == Kind::Breaker
                && let Ok(Record::Breaker(rec)) = Record::decode(entry.kind, entry.fields)
                && rec.to.is_some()
            {
                let agent = entry
                    .agent_id
                    .as_deref()
                    .map(|id| self.name(id))
                    .unwrap_or_default();
                self.transitions.push(Transition {
                    row: s.row,
                    agent,
                    rec,
                });
            }
            rows.push(s.row);
            self.persisted.push(s);
        }
        for e in fx.events {
            *self.events.entry(e.event_type.as_str()).or_insert(0) += 1;
        }
        Ok(rows)
    }

    fn key(&self, name: &str) -> String {
        self.keys.get(name).cloned().unwrap_or_default()
    }

    fn check(&mut self, what: &'static str, passed: bool) {
        self.checks.push((what, passed));
    }

    fn report(&mut self, section: &str, v: impl serde::Serialize) {
        self.doc.insert(
            section.to_owned(),
            serde_json::to_value(v).unwrap_or_default(),
        );
    }

    fn name(&self, agent_id: &str) -> String {
        self.names
            .get(agent_id)
            .cloned()
            .unwrap_or_else(|| agent_id.to_owned())
    }

    /// Advance the clock and fire whatever timers fell due, as a host's
    /// timer loop would.
    fn tick(&mut self, ms: i64) -> Result<(), UsageError> {
        self.now = self.now.saturating_add_millis(ms);
        if self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
            let fx = self.engine.handle_timeout(self.now);
            self.keep(fx)?;
        }
        Ok(())
    }

    /// `POST /actions`. An error is an answer too (4xx): nothing is kept.
    fn act(
        &mut self,
        api_key: &str,
        body: &Value,
        event_id: Option<&str>,
        delegation_id: Option<&str>,
    ) -> Result<Result<ActionAnswer, EngineError>, UsageError> {
        let body = body.to_string();
        let call = ActionCall {
            api_key,
            body: &body,
            event_id,
            delegation_id,
        };
        match self.engine.submit_action(self.now, &call) {
            Ok((answer, fx)) => {
                self.keep(fx)?;
                Ok(Ok(answer))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// An action the script expects a decision for (not an error).
    fn decide(
        &mut self,
        agent: &str,
        api_key: &str,
        body: &Value,
        event_id: Option<&str>,
        delegation_id: Option<&str>,
    ) -> Result<Decision, UsageError> {
        let action_type = body
            .get("action_type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let answer = self
            .act(api_key, body, event_id, delegation_id)?
            .map_err(|e| engine_err(&format!("{agent} {action_type}"), &e))?;
        let d = Decision {
            agent: agent.to_owned(),
            action_type,
            answer,
        };
        let r = &d.answer.result;
        let why = if d.answer.replayed {
            format!(
                "replay of row {}: same X-AL-Event-ID, same action; nothing appended",
                r.audit_event_id.row()
            )
        } else {
            r.message.clone()
        };
        self.say(&format!(
            "   {:<4} {:<12} {:<18} {:<30} {why}",
            r.audit_event_id.row(),
            d.agent,
            d.action_type,
            d.label()
        ));
        Ok(d)
    }
}

/// One scripted action: agent, body, `X-AL-Event-ID`, and the HTTP status,
/// status and denial reason the script expects.
type Step<'a> = (
    &'a str,
    Value,
    Option<&'a str>,
    u16,
    ActionStatus,
    Option<&'a str>,
);

/// What the script expects a scripted decision to be (the demo checks the
/// engine's answers against it and says so).
fn expect(d: &Decision, http: u16, status: ActionStatus, reason: Option<&str>) -> bool {
    d.answer.http_status == http
        && d.answer.result.status == status
        && d.answer.result.denial_reason.map(|r| r.code()) == reason
}

/// The first row of an operation's entries (0 for none).
fn first(rows: &[u64]) -> u64 {
    rows.first().copied().unwrap_or(0)
}

/// `a-b` for a run of entry ids (or `-` for none).
fn row_span(ids: &[al_types::EntryId]) -> String {
    match (ids.first(), ids.last()) {
        (Some(a), Some(b)) if a == b => a.row().to_string(),
        (Some(a), Some(b)) => format!("{}-{}", a.row(), b.row()),
        _ => "-".to_owned(),
    }
}

/// What the last sections need from the earlier ones.
struct Signed {
    text: String,
    signer: Ed25519Signer,
    trusted: al_audit_chain::VerifiedCheckpoint,
}

/// Run the demo; `Ok(true)` when everything behaved as it should.
pub fn run(out: Option<&Path>, json: bool) -> Result<bool, UsageError> {
    let start = Timestamp::parse_rfc3339(START).map_err(|e| UsageError(format!("demo: {e}")))?;
    let breaker = al_breaker::BreakerConfig::builder()
        .calibration_min_actions(40)
        .calibration_min_duration_ms(20 * 60_000)
        .build()
        .map_err(|e| UsageError(format!("demo: {e}")))?;
    let config = EngineConfig::builder(HASH_SEED)
        .breaker(breaker)
        .build()
        .map_err(|e| UsageError(format!("demo: {e}")))?;
    let mut h = Host {
        engine: Engine::new(config),
        entropy: DeterministicEntropy::new(ENTROPY_SEED),
        now: start,
        persisted: Vec::new(),
        events: BTreeMap::new(),
        names: BTreeMap::new(),
        transitions: Vec::new(),
        json,
        svc: String::new(),
        keys: BTreeMap::new(),
        decisions: Vec::new(),
        checks: Vec::new(),
        doc: Map::new(),
    };
    h.say(&format!(
        "AgentLattice core demo: a host embedding al-engine, on a simulated clock from {start}"
    ));
    h.say("(keys come from a fixed seed so every run prints the same: they are not secrets)\n");
    h.report("started_at", start);
    h.report("org_id", ORG);

    h.bootstrap()?;
    let (deploy, drop) = h.agents_act()?;
    h.approve(&deploy)?;
    h.outcome(&deploy)?;
    h.delegate()?;
    h.runaway()?;
    let signed = h.chain()?;
    let text = h.tamper(&signed, &drop)?;
    let proof = h.prove(&signed, &drop)?;
    h.posture()?;

    if let Some(dir) = out {
        std::fs::create_dir_all(dir)
            .map_err(|e| UsageError(format!("cannot create `{}`: {e}", dir.display())))?;
        crate::cmd::write_file(&dir.join("manifest.yaml"), MANIFEST.as_bytes())?;
        crate::cmd::write_file(&dir.join("audit.jsonl"), text.as_bytes())?;
        crate::cmd::write_file(&dir.join("checkpoint.txt"), signed.text.as_bytes())?;
        crate::cmd::write_file(
            &dir.join("demo.pub"),
            (signed.signer.verifier().to_text() + "\n").as_bytes(),
        )?;
        let proof_doc =
            serde_json::to_string_pretty(&proof).map_err(|e| UsageError(format!("demo: {e}")))?;
        crate::cmd::write_file(&dir.join("proof.json"), (proof_doc + "\n").as_bytes())?;
        h.say(&format!(
            "\nwrote {}/{{manifest.yaml,audit.jsonl,checkpoint.txt,demo.pub,proof.json}}",
            dir.display()
        ));
        h.say(&format!(
            "try:  al verify {d}/audit.jsonl --checkpoint {d}/checkpoint.txt --key {d}/demo.pub",
            d = dir.display()
        ));
        h.say(&format!(
            "      al proof verify {d}/proof.json --checkpoint {d}/checkpoint.txt --key {d}/demo.pub",
            d = dir.display()
        ));
    }

    let ok = h.checks.iter().all(|(_, c)| *c);
    if json {
        let decisions: Vec<Value> = h.decisions.iter().map(Decision::to_json).collect();
        let transitions: Vec<Value> = h.transitions.iter().map(Transition::to_json).collect();
        let checks: Vec<Value> = h
            .checks
            .iter()
            .map(|(k, v)| json!({"check": k, "passed": v}))
            .collect();
        let events = h.events.clone();
        let entries = h.persisted.len();
        h.report("decisions", decisions);
        h.report("transitions", transitions);
        h.report("events", events);
        h.report("entries", entries);
        h.report("checks", checks);
        h.report("ok", ok);
        outln!(
            "{}",
            serde_json::to_string_pretty(&h.doc).unwrap_or_default()
        );
    } else {
        for (what, passed) in &h.checks {
            if !passed {
                outln!("check failed: {what}");
            }
        }
        outln!(
            "\n{}",
            if ok {
                "demo complete: every check behaved as expected"
            } else {
                "demo FAILED: a check did not behave as expected"
            }
        );
    }
    Ok(ok)
}

impl Host {
    /// Section 1: An org with its service key; the manifest imported with it.
    fn bootstrap(&mut self) -> Result<(), UsageError> {
        self.say("1. An org and its policies");
        let (org, fx) = self
            .engine
            .create_org(self.now, ORG, &mut self.entropy)
            .map_err(|e| engine_err("create org", &e))?;
        let rows = self.keep(fx)?;
        self.svc = org.service_key.expose().to_owned();
        self.say(&format!(
            "   org {ORG} created (row {}); service key {} (printed as its fingerprint)",
            first(&rows),
            org.service_key
        ));
        self.tick(MIN)?;
        let (import, fx) = self
            .engine
            .import_policies(self.now, &self.svc, MANIFEST, ImportOptions::default())
            .map_err(|e| engine_err("import", &e))?;
        self.keep(fx)?;
        self.say(&format!(
            "   POST /policies/import (service key): {} added, rows {}",
            import.added.len(),
            row_span(&import.audit_event_ids)
        ));
        let listed = self
            .engine
            .list_policies(&self.svc, PolicyScope::Org)
            .map_err(|e| engine_err("list policies", &e))?;
        for p in &listed.policies {
            self.say(&format!(
                "   {:<20} {:<12} {}",
                p.name, p.action_type, p.effect
            ));
        }
        self.say(&format!("   policy set digest {}\n", import.set_digest));
        self.report("policies", import);
        Ok(())
    }

    /// Section 2: Agents register with the service key and act with their own
    /// keys. Returns the deploy's result (it needs approval) and the denied
    /// `db.drop`'s (the row the tamperer edits and the proof covers).
    fn agents_act(&mut self) -> Result<(ActionResult, ActionResult), UsageError> {
        self.say(
            "2. Agents register (service key) and act (their own keys; every decision is chained)",
        );
        let mut ids = BTreeMap::new();
        for (name, description) in [
            ("release-bot", "merges and ships"),
            ("data-bot", "answers questions from the warehouse"),
            ("support-bot", "helps customers"),
            ("loop-bot", "runs CI"),
        ] {
            self.tick(MIN)?;
            let body = json!({"name": name, "description": description}).to_string();
            let (reg, fx) = self
                .engine
                .register_agent(self.now, &self.svc, &body, &mut self.entropy)
                .map_err(|e| engine_err("register", &e))?;
            let rows = self.keep(fx)?;
            self.names.insert(reg.id.clone(), name.to_owned());
            self.say(&format!(
                "   registered {name:<12} {} (row {}), key {}",
                reg.id,
                first(&rows),
                reg.api_key
            ));
            self.keys
                .insert(name.to_owned(), reg.api_key.expose().to_owned());
            ids.insert(name, reg.id);
        }
        self.report("agents", ids);
        self.say(&format!(
            "   {:<4} {:<12} {:<18} {:<30} why",
            "row", "agent", "action", "answer"
        ));
        let deploy = json!({"action_type": "deploy.production", "metadata": {"version": "2.4.1"}});
        let script: [Step<'_>; 7] = [
            (
                "release-bot",
                json!({"action_type": "pr.merge", "metadata": {"pr_size": 42, "repo": "acme/backend"}}),
                None,
                200,
                ActionStatus::Executed,
                None,
            ),
            (
                "release-bot",
                json!({"action_type": "pr.merge", "metadata": {"pr_size": 1200, "repo": "acme/backend"}}),
                None,
                200,
                ActionStatus::Denied,
                Some("CONDITIONS_DENIED"),
            ),
            (
                "release-bot",
                deploy.clone(),
                Some("deploy-2.4.1"),
                202,
                ActionStatus::Requested,
                None,
            ),
            // The SDK retries with the same X-AL-Event-ID: the original answer, as a 409.
            (
                "release-bot",
                deploy,
                Some("deploy-2.4.1"),
                409,
                ActionStatus::Requested,
                None,
            ),
            (
                "data-bot",
                json!({"action_type": "db.query", "data_accessed": [{"type": "customer_records", "count": 20, "sensitivity": "high"}]}),
                None,
                200,
                ActionStatus::Denied,
                Some("CONDITIONS_DENIED"),
            ),
            (
                "data-bot",
                json!({"action_type": "db.drop", "metadata": {"table": "users"}}),
                None,
                200,
                ActionStatus::Denied,
                Some("POLICY_DENIED"),
            ),
            (
                "support-bot",
                json!({"action_type": "email.send", "metadata": {"to": "someone@example.com"}}),
                None,
                200,
                ActionStatus::PolicyNotFound,
                None,
            ),
        ];
        let mut as_scripted = true;
        for (agent, body, event_id, http, status, reason) in script {
            self.tick(MIN)?;
            let key = self.key(agent);
            let d = self.decide(agent, &key, &body, event_id, None)?;
            as_scripted &= expect(&d, http, status, reason);
            self.decisions.push(d);
        }
        self.check(
            "every scripted action got the status the script expects",
            as_scripted,
        );
        let find = |agent: &str, at: &str| {
            self.decisions
                .iter()
                .find(|d| d.agent == agent && d.action_type == at && !d.answer.replayed)
                .map(|d| d.answer.result.clone())
                .ok_or_else(|| UsageError(format!("demo: {agent}'s {at} was not decided")))
        };
        Ok((
            find("release-bot", "deploy.production")?,
            find("data-bot", "db.drop")?,
        ))
    }

    /// Section 3: An operator approves the deploy; the SDK's `gate` sees the flip.
    fn approve(&mut self, deploy: &ActionResult) -> Result<(), UsageError> {
        self.say("\n3. An operator approves the deploy");
        let apr = deploy
            .approval_id
            .clone()
            .ok_or_else(|| UsageError("demo: the deploy has no approval".into()))?;
        let agent_key = self.key("release-bot");
        self.tick(5 * MIN)?;
        let before = self
            .engine
            .approval_status(self.now, &agent_key, &apr)
            .map_err(|e| engine_err("approval status", &e))?;
        self.say(&format!(
            "   GET /api/approvals/{apr}/status (agent key): {}, escalates {}, times out {}",
            before.status.as_str(),
            before
                .escalate_at
                .map_or_else(|| "never".to_owned(), |t| t.to_string()),
            before.timeout_at
        ));
        self.tick(2 * MIN)?;
        let body = json!({"decision": "approve", "reviewer": "alice@acme.example", "comment": "change ticket CHG-1142"}).to_string();
        let (decided, fx) = self
            .engine
            .decide_approval(self.now, &self.svc, &apr, &body)
            .map_err(|e| engine_err("decide approval", &e))?;
        let rows = self.keep(fx)?;
        self.say(&format!(
            "   alice@acme.example approves it (service key): row {}, bound to row {} only",
            first(&rows),
            decided.audit_event_id.row()
        ));
        let after = self
            .engine
            .approval_status(self.now, &agent_key, &apr)
            .map_err(|e| engine_err("approval status", &e))?;
        self.say(&format!(
            "   GET /api/approvals/{apr}/status: {} -> {}",
            before.status.as_str(),
            after.status.as_str()
        ));
        self.check(
            "the approval flipped from pending to approved",
            before.status == ApprovalStatus::Pending && after.status == ApprovalStatus::Approved,
        );
        self.report("approval", json!({"before": before, "after": after}));
        Ok(())
    }

    /// Section 4: The approved deploy ran; its agent reports how it went.
    fn outcome(&mut self, deploy: &ActionResult) -> Result<(), UsageError> {
        self.say("\n4. The deploy's outcome");
        self.tick(3 * MIN)?;
        let body = json!({"audit_event_id": deploy.audit_event_id, "outcome": {"status": "success", "message": "2.4.1 is live"}}).to_string();
        let (report, fx) = self
            .engine
            .report_outcome(self.now, &self.key("release-bot"), &body)
            .map_err(|e| engine_err("report", &e))?;
        self.keep(fx)?;
        self.say(&format!(
            "   POST /report (release-bot): 201 {} on {} (row {})",
            report.status.as_str(),
            report.audit_event_id,
            report.outcome_event_id.row()
        ));
        self.report("outcome", report);
        Ok(())
    }

    /// Section 5: A delegation: the child acts within and outside its scope, then
    /// its parent revokes it and the child's next action is refused.
    fn delegate(&mut self) -> Result<(), UsageError> {
        self.say("\n5. release-bot delegates to a helper, then revokes it");
        let parent = self.key("release-bot");
        self.tick(MIN)?;
        let body = json!({"name": "hotfix-bot", "capabilities": ["pr.merge"], "ttl_seconds": 3600})
            .to_string();
        let (dlg, fx) = self
            .engine
            .create_delegation(self.now, &parent, &body, &mut self.entropy)
            .map_err(|e| engine_err("delegate", &e))?;
        self.keep(fx)?;
        self.names
            .insert(dlg.child_config_id.clone(), "hotfix-bot".to_owned());
        self.say(&format!(
            "   POST /delegate: {} (row {}) for hotfix-bot {}: capabilities [pr.merge] until {}",
            dlg.delegation_id,
            dlg.audit_event_id.row(),
            dlg.child_config_id,
            dlg.expires_at
        ));
        let child = dlg.child_api_key.expose().to_owned();
        let mut ok = true;
        for (body, status, reason) in [
            (
                json!({"action_type": "pr.merge", "metadata": {"pr_size": 8, "repo": "acme/backend"}}),
                ActionStatus::Executed,
                None,
            ),
            (
                json!({"action_type": "deploy.production", "metadata": {"version": "2.4.2"}}),
                ActionStatus::Denied,
                Some("DELEGATION_SCOPE"),
            ),
        ] {
            self.tick(MIN)?;
            let d = self.decide("hotfix-bot", &child, &body, None, Some(&dlg.delegation_id))?;
            ok &= expect(&d, 200, status, reason);
            self.decisions.push(d);
        }
        self.tick(MIN)?;
        let (revoked, fx) = self
            .engine
            .revoke_delegation(self.now, &parent, &dlg.delegation_id)
            .map_err(|e| engine_err("revoke", &e))?;
        let rows = self.keep(fx)?;
        self.say(&format!(
            "   DELETE /delegate/{} (release-bot): revoked={} (row {})",
            revoked.delegation_id,
            revoked.revoked,
            first(&rows)
        ));
        self.tick(MIN)?;
        let rows_before = self.persisted.len();
        let body =
            json!({"action_type": "pr.merge", "metadata": {"pr_size": 3, "repo": "acme/backend"}});
        let after = self.act(&child, &body, None, Some(&dlg.delegation_id))?;
        let refused = match &after {
            Err(e) => {
                self.say(&format!(
                    "   {:<4} {:<12} {:<18} {:<30} an error, not a decision: nothing chained",
                    "-",
                    "hotfix-bot",
                    "pr.merge",
                    format!("{} {}", e.http_status(), e.code())
                ));
                json!({"agent": "hotfix-bot", "action_type": "pr.merge", "http_status": e.http_status(), "code": e.code()})
            }
            Ok(a) => {
                json!({"agent": "hotfix-bot", "action_type": "pr.merge", "http_status": a.http_status, "status": a.result.status})
            }
        };
        ok &= matches!(&after, Err(e) if e.code() == "DELEGATION_INACTIVE")
            && self.persisted.len() == rows_before;
        self.check(
            "the child acted within its scope, was denied outside it, and was refused once revoked",
            ok,
        );
        self.report(
            "delegation",
            json!({
                "created": {
                    "delegation_id": dlg.delegation_id,
                    "child_config_id": dlg.child_config_id,
                    "parent_config_id": dlg.parent_config_id,
                    "scope": dlg.scope,
                    "expires_at": dlg.expires_at,
                    "audit_event_id": dlg.audit_event_id,
                },
                "revoked": revoked,
                "after_revoke": refused,
            }),
        );
        Ok(())
    }

    /// Section 6: A runaway agent: calibrated on a calm baseline, then looping.
    /// Throttled, it gets 429s (not decisions, not chained); probing with
    /// actions it may not take, it is halted.
    fn runaway(&mut self) -> Result<(), UsageError> {
        self.say("\n6. A runaway agent");
        let key = self.key("loop-bot");
        // Two actions a minute for 30 minutes.
        self.tick(MIN)?;
        for i in 0..60 {
            self.tick(30_000)?;
            let at = if i % 2 == 0 { "ci.run" } else { "ci.test" };
            self.act(&key, &json!({"action_type": at}), None, None)?
                .map_err(|e| engine_err("loop-bot", &e))?;
        }
        let calibrated = self
            .engine
            .agent_status(self.now, &key)
            .map_err(|e| engine_err("agent status", &e))?;
        self.say(&format!(
            "   loop-bot calibrated on 60 calm actions over 30 minutes: {}",
            calibrated.cb_state.as_str()
        ));
        // Then one attempt every 2 seconds (15x its rate). Throttled, it
        // keeps hammering for a while, then probes for a way through.
        let mut rate_limited = 0u32;
        let mut longest_retry = 0u64;
        let mut first_429: Option<(u32, u64)> = None;
        let mut probing_from: Option<u32> = None;
        let mut halted_rows: Vec<u64> = Vec::new();
        let mut attempts = 0u32;
        let mut seen = self.transitions.len();
        while attempts < 5000 && halted_rows.len() < 3 {
            attempts += 1;
            self.tick(2_000)?;
            let probing = first_429.is_some_and(|(t, _)| attempts > t + 150);
            if probing && probing_from.is_none() {
                probing_from = Some(attempts);
                self.say(&format!(
                    "   attempt {attempts:>4}: still throttled, loop-bot starts probing with db.drop"
                ));
            }
            let body = if probing {
                json!({"action_type": "db.drop", "metadata": {"table": "audit"}})
            } else {
                json!({"action_type": "ci.run"})
            };
            match self.act(&key, &body, None, None)? {
                Err(e) => {
                    let ms = e
                        .retry_after_ms()
                        .ok_or_else(|| engine_err("loop-bot", &e))?;
                    rate_limited += 1;
                    longest_retry = longest_retry.max(ms);
                    if first_429.is_none() {
                        first_429 = Some((attempts, ms));
                        self.say(&format!(
                            "   attempt {attempts:>4}: first {} {} (retry_after_ms {ms}), nothing chained",
                            e.http_status(),
                            e.code()
                        ));
                    }
                }
                Ok(a) => {
                    if a.result.denial_reason == Some(DenialReason::AgentHalted) {
                        halted_rows.push(a.result.audit_event_id.row());
                    }
                }
            }
            for t in self.transitions.iter().skip(seen) {
                if t.agent == "loop-bot" && !self.json {
                    outln!(
                        "   attempt {attempts:>4} (row {:>3}): {}",
                        t.row,
                        t.describe()
                    );
                }
            }
            seen = self.transitions.len();
        }
        self.say(&format!(
            "   {attempts} attempts: {rate_limited} answered 429 RATE_LIMITED, retry_after_ms up to {longest_retry} (errors, not decisions: nothing chained)"
        ));
        self.say(&format!(
            "   {} attempts denied AGENT_HALTED (rows {}); only an operator's resume lifts HALT",
            halted_rows.len(),
            halted_rows
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let status = self
            .engine
            .agent_status(self.now, &key)
            .map_err(|e| engine_err("agent status", &e))?;
        self.say(&format!(
            "   GET /agent/status (loop-bot): {} since {}{}",
            status.cb_state.as_str(),
            status.since,
            status
                .signal
                .map(|s| format!(", signal {}", s.as_str()))
                .unwrap_or_default()
        ));
        let throttled = self
            .transitions
            .iter()
            .any(|t| t.agent == "loop-bot" && t.rec.to == Some(State::Throttle));
        self.check(
            "the runaway was throttled (429 with retry_after_ms) before it was halted",
            throttled
                && rate_limited > 0
                && longest_retry > 0
                && status.cb_state == State::Halt
                && !halted_rows.is_empty(),
        );
        self.report(
            "runaway",
            json!({
                "calibrated_state": calibrated.cb_state,
                "attempts": attempts,
                "rate_limited": rate_limited,
                "first_rate_limited": first_429.map(|(n, ms)| json!({"attempt": n, "retry_after_ms": ms})),
                "longest_retry_after_ms": longest_retry,
                "probing_from_attempt": probing_from,
                "halted_denial_rows": halted_rows,
                "status": status,
            }),
        );
        self.report("rate_limited", rate_limited);
        Ok(())
    }

    /// Section 7: Verify the chain, restart from the persisted entries, sign a
    /// checkpoint with the demo key.
    fn chain(&mut self) -> Result<Signed, UsageError> {
        self.say("\n7. The audit chain");
        self.tick(MIN)?;
        let verified = self
            .engine
            .verify_audit(self.now, &self.svc)
            .map_err(|e| engine_err("verify", &e))?;
        self.say(&format!(
            "   {} entries persisted; GET /audit/verify: chain_valid={} through row {}",
            self.persisted.len(),
            verified.chain_valid,
            verified.verified_through_row
        ));
        self.check(
            "the chain verifies",
            verified.chain_valid && verified.verified_through_row == self.persisted.len() as u64,
        );
        let mut restarted = Engine::new(self.engine.config().clone());
        let same = restarted
            .restore_org(ORG, self.persisted.iter().map(|s| s.bytes.as_slice()))
            .is_ok()
            && restarted.snapshot(ORG).map(|s| s.as_bytes().to_vec()).ok()
                == self
                    .engine
                    .snapshot(ORG)
                    .map(|s| s.as_bytes().to_vec())
                    .ok();
        self.say(&format!(
            "   restart: restore_org from the persisted entries rebuilds the same state: {same}"
        ));
        self.check("the persisted entries restore the same engine", same);
        let cp = self
            .engine
            .checkpoint(self.now, &self.svc)
            .map_err(|e| engine_err("checkpoint", &e))?;
        let signer = Ed25519Signer::from_seed(SIGNER_NAME, SIGNING_SEED)
            .map_err(|e| UsageError(format!("demo: {e}")))?;
        let text = cp
            .sign(&[&signer])
            .map_err(|e| UsageError(format!("demo: {e}")))?;
        let trusted = SignedCheckpoint::parse(&text)
            .and_then(|s| s.verify(&[&signer.verifier()], Some(ORG)))
            .map_err(|e| UsageError(format!("demo: {e}")))?;
        self.say(&format!(
            "   checkpoint: size {} root {}, signed by {SIGNER_NAME}",
            cp.size, cp.root
        ));
        let events = self
            .events
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        self.say(&format!("   events for webhooks: {events}"));
        self.report("verify", verified);
        self.report("restored_identical", same);
        self.report("checkpoint", cp);
        Ok(Signed {
            text,
            signer,
            trusted,
        })
    }

    /// Section 8: Export the log as JSON Lines; an edited copy fails verification at
    /// the edited row. Returns the (untouched) export.
    fn tamper(&mut self, signed: &Signed, drop: &ActionResult) -> Result<String, UsageError> {
        self.say("\n8. Someone edits the exported log");
        let mut text = String::new();
        for s in &self.persisted {
            let e = al_audit_chain::decode(&s.bytes)
                .map_err(|e| UsageError(format!("demo: row {}: {e}", s.row)))?;
            text.push_str(&al_audit_chain::entry_to_line(&e, &s.hash));
            text.push('\n');
        }
        let row = drop.audit_event_id.row();
        let mut v = JsonlVerifier::new(ChainVerifier::new(ORG).against(&signed.trusted));
        for (l, r) in text.lines().zip(1u64..) {
            if r == row {
                let edited = l.replace("\"status\":\"denied\"", "\"status\":\"executed\"");
                v.push_line(edited.as_bytes());
            } else {
                v.push_line(l.as_bytes());
            }
        }
        let caught = v.finish(self.now).result;
        self.say(&format!(
            "   row {row} (data-bot's denied db.drop) rewritten as executed: chain_valid={}, first_broken_at_row_id={}",
            caught.chain_valid,
            caught
                .first_broken_at_row_id
                .map_or_else(|| "-".to_owned(), |i| i.to_string())
        ));
        self.check(
            "the tampered copy fails at the edited row",
            !caught.chain_valid && caught.first_broken_at_row_id == Some(drop.audit_event_id),
        );
        self.report("tampered", json!({"row": row}));
        self.report("tampered_verify", caught);
        Ok(text)
    }

    /// Section 9: The engine proves the `db.drop` denial is in the log; the proof
    /// checks against the signed checkpoint.
    fn prove(
        &mut self,
        signed: &Signed,
        drop: &ActionResult,
    ) -> Result<al_audit_chain::InclusionProof, UsageError> {
        self.say("\n9. Proof of one event");
        let proof = self
            .engine
            .prove(self.now, &self.svc, &drop.audit_event_id.to_string())
            .map_err(|e| engine_err("prove", &e))?;
        let ok = proof.verify(&signed.trusted).is_ok();
        self.say(&format!(
            "   {} is in the log of size {}: {} hashes, verified against the signed checkpoint: {ok}",
            drop.audit_event_id,
            signed.trusted.checkpoint().size,
            proof.path.len()
        ));
        self.check("the inclusion proof verifies", ok);
        self.report("proof_valid", ok);
        Ok(proof)
    }

    /// Section 10: The org's posture.
    fn posture(&mut self) -> Result<(), UsageError> {
        self.say("\n10. Posture");
        let posture = self
            .engine
            .posture(self.now, &self.svc)
            .map_err(|e| engine_err("posture", &e))?;
        self.say(&format!("   GET /posture: {}/100", posture.score));
        for (name, c) in &posture.components {
            self.say(&format!(
                "   {name:<18} {:>2}/{}  {}/{}: {}",
                c.score, c.max, c.numerator, c.denominator, c.formula
            ));
        }
        self.report("posture", posture);
        Ok(())
    }
}
