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
//!
//! Split by job: `host.rs` is the host around the engine (persisting
//! entries, timers, checks, narration helpers); `governance.rs` scripts
//! sections 1–5 (org and policies, agents acting, an approval, an outcome,
//! a delegation); `breaker_and_record.rs` sections 6–10 (a runaway agent,
//! the chain and its checkpoint, tampering, a proof, posture); this file
//! runs them in order.

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

mod breaker_and_record;
mod governance;
mod host;

use host::{Decision, Host, Transition, engine_err};

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
