//! The `simulate_log` target: the policy simulator over logs made from
//! arbitrary JSON lines.
//!
//! Mutated lines would nearly always just break the hash chain, so the
//! harness rebuilds one: every line the audit crate's strict reader
//! accepts becomes an entry (kind, agent, timestamp, fields) appended to a
//! fresh [`AuditLog`], which recomputes rows, `prev_hash` and hashes; lines
//! it refuses, and entries the log refuses, are skipped. The records inside
//! are whatever the fuzzer made of them, so the simulator's record readers
//! (the fast reader of `simulate/facts.rs` and its strict fallback) see
//! hostile fields behind a valid chain.
//!
//! That log is simulated as JSON lines ([`Simulator::push_line`]) and as
//! canonical bytes ([`simulate_entries`], and [`Simulator::push_entry`]
//! with the stored hashes under another hash seed), under four
//! comparisons: a new set against the record, against a baseline set and
//! against itself, and the baseline set against the record. Checked:
//!
//! - nothing panics, and no run reports a broken chain (the log wrote it);
//! - every path gives the same answer: the same report (`to_json` and
//!   `==`), or the same error; the hash seed changes nothing;
//! - a record is refused (`INVALID_RECORD`, same row and message) under
//!   every comparison or under none: which metadata members the sets'
//!   conditions read must not change what the record readers accept;
//! - a report covers the log: its rows and head hash are the log's, every
//!   action is in the window (no filters), `in_window = simulated + held`,
//!   `simulated = unchanged + changed`, the matrix adds up to `simulated`,
//!   the changes to `changed`, the held reasons to `held`; the same entries
//!   are simulated and held whatever the sets;
//! - a set compared with itself changes nothing; a baseline's mismatches
//!   with the record are exactly the changes that set reports against the
//!   record.

use std::sync::OnceLock;

use al_audit_chain::{AuditLog, Kind, NewEntry, decode, entry_to_line, parse_line_bytes};
use al_policy::{Format, Manifest, PolicySet};
use al_types::{Digest, ErrorCode};

use crate::simulate::{
    SimulationError, SimulationOptions, SimulationReport, Simulator, simulate_entries,
};

/// The set under test: conditions on metadata members (top level and
/// nested), on `@data.*`, `@time.*` and `@agent.*`, over the action types
/// of `testdata/simulate/log.jsonl`.
const NEW: &str = r#"version: 1
policies:
  - name: merge-small-prs
    action_type: pr.merge
    effect: allow
    conditions:
      - { field: pr_size, operator: lt, value: 50 }
  - name: no-secret-merges
    action_type: pr.merge
    effect: deny
    conditions:
      - { field: repo, operator: eq, value: acme/secrets }
  - name: deploys-need-approval
    action_type: deploy.*
    effect: require_approval
    approval: { timeout: 1h }
  - name: gold-prod
    action_type: deploy.production
    effect: deny
    conditions:
      - { field: config.tier, operator: in, value: [gold, platinum] }
  - name: staging-deploys
    action_type: deploy.staging
    effect: allow
  - name: big-reads
    action_type: db.*
    effect: deny
    conditions:
      - { field: "@data.count", operator: gt, value: 1000 }
  - name: sensitive-data
    action_type: "*"
    effect: require_approval
    conditions:
      - { field: "@data.max_sensitivity", operator: gte, value: high }
  - name: no-pii
    action_type: "*"
    effect: deny
    conditions:
      - { field: "@data.types", operator: contains, value: pii }
  - name: database-reads
    action_type: db.read
    effect: allow
  - name: docs
    action_type: docs.*
    effect: conditional
    conditions:
      - { field: "@time.hour", operator: gte, value: 8 }
      - { field: "@time.weekday", operator: lt, value: 6 }
  - name: docs-publish
    action_type: docs.publish
    effect: conditional
    conditions:
      - { field: "@agent.name", operator: starts_with, value: docs }
  - name: safe-ci
    action_type: ci.*
    effect: allow
    conditions:
      - { field: tags, operator: contains, value: safe }
      - { field: env, operator: ne, value: prod }
  - name: reports
    action_type: reports.*
    effect: allow
"#;

/// The baseline: the manifest `testdata/simulate/log.jsonl` was recorded
/// under (`testdata/simulate/old.yaml`), inlined so the crate does not
/// read outside itself.
const BASELINE: &str = r#"version: 1
policies:
  - name: merge-small-prs
    action_type: pr.merge
    effect: allow
    conditions:
      - { field: pr_size, operator: lt, value: 100 }
  - name: deploys-need-approval
    action_type: deploy.*
    effect: require_approval
    approval: { timeout: 1h }
  - name: no-drops
    action_type: db.drop
    effect: deny
  - name: db-reads
    action_type: db.read
    effect: allow
  - name: docs
    action_type: docs.*
    effect: allow
  - name: docs-publish
    action_type: docs.publish
    effect: conditional
    conditions:
      - { field: "@agent.name", operator: in, value: [docs-helper] }
"#;

/// The two sets, compiled once.
fn sets() -> &'static (PolicySet, PolicySet) {
    static SETS: OnceLock<(PolicySet, PolicySet)> = OnceLock::new();
    SETS.get_or_init(|| {
        let compile = |text: &str| {
            let m = Manifest::parse(text, Format::Yaml)
                .unwrap_or_else(|e| panic!("a fixed manifest is refused: {e}"));
            PolicySet::compile(&m)
        };
        (compile(NEW), compile(BASELINE))
    })
}

/// The log the lines of `data` describe, re-chained (see the module docs).
fn rechain(data: &[u8]) -> AuditLog {
    let mut log = AuditLog::new("fuzz");
    for line in data.split(|&b| b == b'\n') {
        let Ok((entry, _stored)) = parse_line_bytes(line) else {
            continue;
        };
        // A refused entry leaves the log unchanged.
        let _ = log.append(&NewEntry {
            kind: entry.kind,
            agent_id: entry.agent_id,
            timestamp: entry.timestamp,
            fields: entry.fields,
        });
    }
    log
}

/// Simulate `data` (JSON lines, see the module docs); panics when an
/// invariant breaks. Returns the new set's simulation against the record
/// (so a replay can tell that its seeds reach the simulator).
pub fn simulate_log(data: &[u8]) -> Result<SimulationReport, SimulationError> {
    let log = rechain(data);
    let mut lines = Vec::new();
    let mut entries: Vec<(&[u8], Digest)> = Vec::new();
    let mut actions = 0u64;
    for s in log.records() {
        let entry = decode(s.bytes).unwrap_or_else(|e| panic!("the log's own entry: {e}"));
        actions += u64::from(entry.kind == Kind::Action);
        lines.push(entry_to_line(&entry, &s.hash));
        entries.push((s.bytes, s.hash));
    }
    let (new, base) = sets();
    let by_lines = |set: &PolicySet, baseline: Option<&PolicySet>| {
        let mut sim = Simulator::new(set, baseline, SimulationOptions::new([0; 16]));
        for l in &lines {
            sim.push_line(l.as_bytes())?;
        }
        sim.finish()
    };
    let by_bytes = |set: &PolicySet, baseline: Option<&PolicySet>| {
        simulate_entries(
            entries.iter().map(|(b, _)| *b),
            set,
            baseline,
            SimulationOptions::new([0; 16]),
        )
    };
    let runs = [
        (new, None),
        (new, Some(base)),
        (new, Some(new)),
        (base, None),
    ]
    .map(|(set, baseline)| {
        let a = by_lines(set, baseline);
        let b = by_bytes(set, baseline);
        agree(&a, &b, "JSON lines and canonical bytes");
        a
    });
    // Stored hashes given, another hash seed: the same answer.
    let seeded = {
        let mut sim = Simulator::new(new, None, SimulationOptions::new([0xA5; 16]));
        entries
            .iter()
            .try_for_each(|(b, h)| sim.push_entry(b, Some(h)))
            .and_then(|()| sim.finish())
    };
    let [recorded, against_base, against_self, base_recorded] = &runs;
    agree(recorded, &seeded, "another hash seed and stored hashes");

    // Refused under one comparison, refused under all, the same way.
    let errors: Vec<Option<&SimulationError>> = runs.iter().map(|r| r.as_ref().err()).collect();
    for e in errors.iter().flatten() {
        assert!(
            !matches!(e, SimulationError::ChainBroken { .. }),
            "the chain the log wrote does not verify: {e}"
        );
    }
    assert!(
        errors.iter().all(|e| *e == errors[0]),
        "the record readers answer differently under other sets: {errors:?}"
    );
    let (Ok(recorded), Ok(against_base), Ok(against_self), Ok(base_recorded)) =
        (recorded, against_base, against_self, base_recorded)
    else {
        return runs[0].clone();
    };
    for r in [recorded, against_base, against_self, base_recorded] {
        covers(r, &log, actions);
        // Which entries are simulated or held does not depend on the sets.
        assert_eq!(
            (r.totals.simulated, r.totals.held, &r.held),
            (
                recorded.totals.simulated,
                recorded.totals.held,
                &recorded.held
            ),
            "{}",
            r.to_json()
        );
    }
    assert!(!against_self.has_changes(), "{}", against_self.to_json());
    assert_eq!(against_self.totals.same_status_other_policy, 0);
    // A baseline's mismatches with the record are the changes it reports
    // against the record.
    assert_eq!(
        against_self.totals.baseline_mismatches,
        Some(recorded.totals.changed)
    );
    assert_eq!(
        against_base.totals.baseline_mismatches,
        Some(base_recorded.totals.changed)
    );
    assert_eq!(recorded.totals.baseline_mismatches, None);
    Ok(recorded.clone())
}

/// Two paths give the same answer.
fn agree(
    a: &Result<SimulationReport, SimulationError>,
    b: &Result<SimulationReport, SimulationError>,
    what: &str,
) {
    match (a, b) {
        (Ok(x), Ok(y)) => {
            assert_eq!(x.to_json(), y.to_json(), "{what}: other reports");
            assert_eq!(x, y, "{what}: other reports");
        }
        (Err(x), Err(y)) => {
            assert_eq!(
                (x.code(), x.row()),
                (y.code(), y.row()),
                "{what}: {x} / {y}"
            );
            assert_eq!(x, y, "{what}: other errors");
        }
        _ => panic!("{what} disagree: {a:?} / {b:?}"),
    }
}

/// A report accounts for the whole log and adds up.
fn covers(r: &SimulationReport, log: &AuditLog, actions: u64) {
    let head = (!log.is_empty()).then(|| log.head_hash());
    assert_eq!(
        (r.log.rows, r.log.head_hash, r.log.actions),
        (log.len(), head, actions),
        "the report's log is not the log read"
    );
    let t = &r.totals;
    assert_eq!(t.in_window, actions, "no filters: every action is in");
    assert_eq!(t.in_window, t.simulated + t.held);
    assert_eq!(t.simulated, t.unchanged + t.changed);
    assert!(t.same_status_other_policy <= t.unchanged);
    assert_eq!(r.matrix.iter().map(|c| c.count).sum::<u64>(), t.simulated);
    assert_eq!(r.changes.iter().map(|c| c.count).sum::<u64>(), t.changed);
    assert_eq!(r.held.iter().map(|h| h.count).sum::<u64>(), t.held);
    assert_eq!(r.has_changes(), t.changed > 0);
}
