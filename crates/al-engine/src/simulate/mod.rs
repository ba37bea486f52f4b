//! Policy simulation: what a manifest would have decided for every action
//! an audit log recorded, before it ships (`al simulate`, and the preview of
//! `POST /policies/import?dry_run=true` through
//! [`Engine::simulate_import`](crate::Engine::simulate_import)). The report's
//! JSON layout and the CLI are documented in `docs/simulate.md`.
//!
//! ```
//! use al_engine::simulate::{SimulationOptions, simulate_entries};
//! use al_engine::{ActionCall, ActionStatus, DeterministicEntropy, Engine, EngineConfig, ImportOptions};
//! use al_policy::{Format, Manifest, PolicySet};
//! use al_types::Timestamp;
//!
//! // An org that allows merges, and one merge.
//! let mut engine = Engine::new(EngineConfig::builder([7; 16]).build()?);
//! let mut rng = DeterministicEntropy::new(1);
//! let now = Timestamp::parse_rfc3339("2026-11-28T09:00:00Z")?;
//! let (org, _fx) = engine.create_org(now, "acme", &mut rng)?;
//! let svc = org.service_key.expose().to_owned();
//! let allow = "version: 1\npolicies:\n  - { name: merges, action_type: pr.merge, effect: allow }\n";
//! let _fx = engine.import_policies(now, &svc, allow, ImportOptions::default())?;
//! let (bot, _fx) = engine.register_agent(now, &svc, r#"{"name": "bot"}"#, &mut rng)?;
//! let call = ActionCall {
//!     api_key: bot.api_key.expose(),
//!     body: r#"{"action_type": "pr.merge"}"#,
//!     event_id: None,
//!     delegation_id: None,
//! };
//! let _fx = engine.submit_action(now, &call)?;
//!
//! // What a stricter manifest would have done to that traffic.
//! let stricter = "version: 1\npolicies:\n  - { name: merges, action_type: pr.merge, effect: require_approval }\n";
//! let stricter = PolicySet::compile(&Manifest::parse(stricter, Format::Yaml)?);
//! let entries = engine.entries("acme")?; // what the host persisted
//! let report = simulate_entries(
//!     entries.iter().map(|e| e.bytes.as_slice()),
//!     &stricter,
//!     None, // compare with the recorded decisions
//!     SimulationOptions::new([9; 16]), // in production: 16 random bytes
//! )?;
//! let change = &report.changes[0];
//! assert_eq!((change.from, change.to, change.count), (ActionStatus::Executed, ActionStatus::Requested, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A [`Simulator`] takes the log one entry at a time, oldest first, as JSON
//! Lines ([`Simulator::push_line`]) or canonical bytes
//! ([`Simulator::push_entry`]), and
//!
//! 1. **verifies the chain** as it reads, with the audit crate's strict
//!    reader and [`ChainVerifier`] (the checks of `al verify`): a broken
//!    chain stops the simulation with [`SimulationError::ChainBroken`]
//!    naming the row, and every row is verified whatever the filters;
//! 2. **decodes** each `action` entry in the window as the engine's typed
//!    [`ActionRecord`](crate::ActionRecord) (and the `key`, `delegation`, `breaker` and
//!    `approval` entries it needs as theirs): a record that does not fit
//!    its layout is [`SimulationError::InvalidRecord`], and so are
//!    registrations the engine would refuse to restore — an agent id
//!    registered twice, a delegation created twice, by an unregistered
//!    delegator, under another delegation than the delegator's own, or
//!    deeper than the 64 levels any configuration allows (so every
//!    delegation chain the re-decision walks ends);
//! 3. **rebuilds the request**: action type, metadata, data accessed, the
//!    acting agent (its id and the name its registration recorded) and the
//!    request's own timestamp (`requested_at`, which `@time.hour` and
//!    `@time.weekday` read);
//! 4. **re-decides** it with the new policy set exactly as the engine's
//!    pipeline does at its policy step: as the agent, and for a delegated
//!    child also as each delegator up its chain, the first more restrictive
//!    answer deciding. The old decision is the baseline set's, decided the
//!    same way, or, without a baseline, the one recorded in the entry;
//! 5. **tallies** the old × new decision matrix, per deciding policy (old
//!    and new) and per agent, keeping the first `examples_per_cell` entries
//!    of each changed cell with the conditions that failed.
//!
//! ## What is not re-decided
//!
//! A decision that came from state rather than from policies is *held*,
//! counted under its [`HeldReason`], never silently re-decided:
//! `AGENT_HALTED` (the breaker refused before policies were consulted; the
//! breaker's path under another manifest is not replayable, since denials
//! feed its signals), `DELEGATION_SCOPE` (the delegation's capabilities
//! decided, and a manifest cannot change them), an agent the log never
//! registers, and a recorded request that breaks this simulation's
//! request limits. Two more things are reported rather than guessed:
//!
//! - entries decided while the agent's breaker was in **THROTTLE** are
//!   re-decided (admission does not depend on policies) but listed per
//!   agent in `throttled`, because the requests the throttle refused
//!   (`429`) were never chained, so the log under-represents that agent;
//! - for changed entries recorded as **`requested`**, how their approval
//!   ended (approved, denied, timed out, still pending): a reviewer's
//!   decision is not something a simulation can repeat, but a reviewer of
//!   the change wants to know that a new `deny` would have blocked actions
//!   people approved.
//!
//! The simulation does not re-run the breaker: a changed decision could
//! have changed an agent's breaker path (refusals feed the rising-denials
//! signal), and that second-order effect is left to the reader.
//!
//! ## Decisions, windows and memory
//!
//! A decision is its status (`executed`, `requested`, `denied`,
//! `policy_not_found`); a different denial reason under the same status is
//! not a change, and the same status from another policy is counted apart
//! (`same_status_other_policy`). The window (`since` inclusive, `until`
//! exclusive, as the audit query) applies to the entry's `timestamp`, the
//! engine's clock when it decided, which only moves forward along the
//! chain; `agent` selects the exact acting agent.
//!
//! Memory does not grow with the number of entries: the simulator keeps
//! one line's buffers, the agents and delegations the log registers, the
//! matrices per policy and per agent, the bounded examples, and the open
//! approvals of changed `requested` entries (an approval closes when it is
//! decided or its `timeout_at` passes). `crates/al-engine/tests/simulate.rs`
//! asserts that the peak heap use over a log ten times longer is the same.

mod facts;
mod import;
mod render;
mod replay;
mod report;
mod tally;

use std::collections::{BTreeMap, BTreeSet};

use al_audit_chain::{ChainVerifier, FailureCode, decode_ref, read_line};
use al_breaker::State;
use al_policy::{Limits, PolicySet};
use al_types::{Digest, ErrorCode, SeededMap, SeededState, Timestamp};

use crate::records::{ActionStatus, DenialReason};

pub use render::RenderStyle;
pub use report::{
    AgentChanges, ApprovalFate, ApprovalFates, Cell, Change, Comparison, Example, FailingCondition,
    Held, HeldExample, HeldReason, LogSummary, PolicyChanges, REPORT_VERSION, Side,
    SimulationReport, ThrottledAgent, Totals, Window,
};

use tally::{Acc, ReportHead};

/// Examples kept per changed cell and per held reason unless told otherwise.
pub const DEFAULT_EXAMPLES_PER_CELL: usize = 5;

/// How to simulate: [`SimulationOptions::new`] and the fields to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulationOptions {
    /// Only action entries at or after this time.
    pub since: Option<Timestamp>,
    /// Only action entries before this time.
    pub until: Option<Timestamp>,
    /// Only this agent's actions.
    pub agent_id: Option<String>,
    /// Examples kept per changed cell and per held reason (default
    /// [`DEFAULT_EXAMPLES_PER_CELL`]).
    pub examples_per_cell: usize,
    /// The request limits recorded requests are rebuilt under: those of
    /// the engine that wrote the log (default [`Limits::default`], the
    /// engine's own default).
    pub policy_limits: Limits,
    /// Keys the SipHash of the simulator's table of agents, whose ids are
    /// whatever the log says (a log made to collide under a known key
    /// would turn every lookup into a scan). As the engine's `hash_seed`
    /// (`EngineConfig`), no default: a host passes 16 random bytes; a
    /// report never depends on them.
    pub hasher: SeededState,
}

impl SimulationOptions {
    /// The defaults (no window, no agent filter,
    /// [`DEFAULT_EXAMPLES_PER_CELL`], [`Limits::default`]), with the agent
    /// table keyed by `hash_seed` (16 random bytes).
    #[must_use]
    pub fn new(hash_seed: [u8; 16]) -> SimulationOptions {
        SimulationOptions {
            since: None,
            until: None,
            agent_id: None,
            examples_per_cell: DEFAULT_EXAMPLES_PER_CELL,
            policy_limits: Limits::default(),
            hasher: SeededState::new(hash_seed),
        }
    }
}

/// Why a simulation stopped. Nothing is reported for a log that does not
/// verify or decode: a partial replay would mislead.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// The chain does not verify (`CHAIN_BROKEN`); the row named is the
    /// first that fails, as `al verify` names it.
    #[error("the audit chain is broken at row {row} ({}): {message}", failure_name(*.failure))]
    ChainBroken {
        /// First failing row.
        row: u64,
        /// How it fails.
        failure: FailureCode,
        /// Details for people.
        message: String,
    },
    /// The chain verifies but an entry's fields do not fit its record
    /// layout, or registrations contradict each other (`INVALID_RECORD`):
    /// the log was not written by a host following
    /// `docs/audit-encoding.md`.
    #[error("row {row}: {message}")]
    InvalidRecord {
        /// The row.
        row: u64,
        /// The field that does not fit, and how.
        message: String,
    },
}

impl ErrorCode for SimulationError {
    fn code(&self) -> &'static str {
        match self {
            SimulationError::ChainBroken { .. } => "CHAIN_BROKEN",
            SimulationError::InvalidRecord { .. } => "INVALID_RECORD",
        }
    }
}

impl SimulationError {
    /// The row named.
    #[must_use]
    pub fn row(&self) -> u64 {
        match self {
            SimulationError::ChainBroken { row, .. }
            | SimulationError::InvalidRecord { row, .. } => *row,
        }
    }
}

/// The verifier's failure code as its wire name.
fn failure_name(f: FailureCode) -> &'static str {
    match f {
        FailureCode::HashMismatch => "HASH_MISMATCH",
        FailureCode::BrokenLink => "BROKEN_LINK",
        FailureCode::RowMismatch => "ROW_MISMATCH",
        FailureCode::Undecodable => "UNDECODABLE",
        FailureCode::Truncated => "TRUNCATED",
        FailureCode::CheckpointMismatch => "CHECKPOINT_MISMATCH",
        _ => "CHAIN_BROKEN",
    }
}

/// An agent as the log registers it.
#[derive(Debug)]
struct AgentInfo {
    name: String,
    /// The delegation it acts under (delegated children).
    delegation: Option<String>,
    /// Its breaker state after the last breaker entry.
    breaker: State,
    /// Entries in the window decided while in THROTTLE (cells, so that
    /// one shared lookup serves the counts and the decision).
    throttled: std::cell::Cell<u64>,
    /// Its row in the accumulator's per-agent matrices (kept apart so
    /// that the table the hot path probes stays small).
    tally: usize,
}

/// The agents the log registers, by id.
type Agents = SeededMap<String, AgentInfo>;

/// A delegation as the log records its creation.
#[derive(Debug)]
struct DelegationInfo {
    parent: String,
    parent_delegation: Option<String>,
    /// 1 for a delegation of an agent acting on its own, +1 per level.
    depth: usize,
}

/// An open approval of a changed entry recorded as `requested`.
#[derive(Debug)]
struct OpenApproval {
    cell: (usize, usize),
    /// Its index among the cell's examples, when it is one.
    example: Option<usize>,
    timeout_at: Option<Timestamp>,
}

/// One decision: status, reason, deciding policy, as whom (borrowed from
/// the policy set, the entry or the delegations).
struct Decided<'a> {
    status: ActionStatus,
    denial_reason: Option<DenialReason>,
    policy: Option<&'a str>,
    decided_as: Option<&'a str>,
}

/// Streams an audit log through a new (and optionally a baseline) policy
/// set. See the [module docs](self).
#[derive(Debug)]
pub struct Simulator<'p> {
    new: &'p PolicySet,
    baseline: Option<&'p PolicySet>,
    opts: SimulationOptions,
    chain: ChainVerifier,
    buf: Vec<u8>,
    rows: u64,
    actions: u64,
    org_id: Option<String>,
    agents: Agents,
    delegations: BTreeMap<String, DelegationInfo>,
    open: BTreeMap<u64, OpenApproval>,
    deadlines: BTreeSet<(Timestamp, u64)>,
    acc: Acc,
    error: Option<SimulationError>,
    /// The metadata members the sets' conditions read.
    metadata_keys: facts::MetadataKeys,
}

impl<'p> Simulator<'p> {
    /// A simulator of `new` against `baseline`, or against the recorded
    /// decisions when `baseline` is `None`.
    #[must_use]
    pub fn new(
        new: &'p PolicySet,
        baseline: Option<&'p PolicySet>,
        options: SimulationOptions,
    ) -> Simulator<'p> {
        let mut acc = Acc::default();
        if baseline.is_some() {
            acc.totals.baseline_mismatches = Some(0);
        }
        let hasher = options.hasher;
        let metadata_keys = facts::MetadataKeys::of(
            std::iter::once(new).chain(baseline),
            options.policy_limits.max_depth(),
        );
        Simulator {
            new,
            baseline,
            opts: options,
            // The org id only labels a verification result, which is not reported.
            chain: ChainVerifier::new("simulation"),
            buf: Vec::with_capacity(1024),
            rows: 0,
            actions: 0,
            org_id: None,
            agents: hasher.map(),
            delegations: BTreeMap::new(),
            open: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            acc,
            error: None,
            metadata_keys,
        }
    }

    /// Feed the next JSON line (with or without its newline), read with the
    /// audit crate's strict reader.
    ///
    /// # Errors
    /// The first [`SimulationError`]; once one is returned, every later
    /// call returns it again and nothing more is read.
    pub fn push_line(&mut self, line: &[u8]) -> Result<(), SimulationError> {
        self.check()?;
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let line_no = self.rows + 1;
        // The audit crate's line reader: the writer's layout is transcoded
        // straight to canonical bytes, anything else read strictly; the
        // entry is then read in place, its record deserialized from the
        // bytes.
        let mut buf = std::mem::take(&mut self.buf);
        let r = match read_line(text, &mut buf) {
            Ok((entry, stored)) => match self.verify_bytes(entry.bytes(), Some(&stored)) {
                Ok(()) => self.process(&entry),
                Err(e) => Err(e),
            },
            Err(e) => {
                self.chain
                    .fail(FailureCode::Undecodable, format!("line {line_no}: {e}"));
                self.verify_bytes(&[], None)
            }
        };
        self.buf = buf;
        r
    }

    /// Feed the next entry as canonical bytes (what a host persisted from
    /// [`Effects::entries`](crate::Effects), or a store's segment), with its
    /// stored hash when the host kept one.
    ///
    /// # Errors
    /// As [`push_line`](Self::push_line).
    pub fn push_entry(
        &mut self,
        bytes: &[u8],
        stored_hash: Option<&Digest>,
    ) -> Result<(), SimulationError> {
        self.check()?;
        self.buf.clear();
        self.buf.extend_from_slice(bytes);
        match decode_ref(bytes) {
            Ok(entry) => {
                self.verify(stored_hash)?;
                self.process(&entry)
            }
            Err(e) => {
                self.chain.fail(FailureCode::Undecodable, e.to_string());
                self.verify(None)
            }
        }
    }

    /// Rows read and verified so far.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The report.
    ///
    /// # Errors
    /// The error a push returned, if any.
    pub fn finish(mut self) -> Result<SimulationReport, SimulationError> {
        self.check()?;
        // Approvals still open where the log ends.
        let open = std::mem::take(&mut self.open);
        for a in open.into_values() {
            self.close(a, ApprovalFate::Pending);
        }
        // The agent table's order is the hasher's: sorted before it
        // reaches the report.
        let mut throttled: Vec<ThrottledAgent> = self
            .agents
            .iter()
            .filter(|(_, a)| a.throttled.get() > 0)
            .map(|(id, a)| ThrottledAgent {
                agent_id: id.clone(),
                entries: a.throttled.get(),
            })
            .collect();
        throttled.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
        let by_agent = self
            .agents
            .iter()
            .map(|(id, a)| {
                let m = self.acc.by_agent.get(a.tally).copied().unwrap_or_default();
                (id.as_str(), m)
            })
            .collect();
        // The verifier hashed every row once; its result names the head.
        let head_hash = self
            .chain
            .clone()
            .finish(Timestamp::UNIX_EPOCH)
            .result
            .chain_hash;
        let head = ReportHead {
            org_id: self.org_id,
            compared_with: if self.baseline.is_some() {
                Comparison::Baseline
            } else {
                Comparison::Recorded
            },
            new_set_digest: self.new.digest(),
            baseline_set_digest: self.baseline.map(PolicySet::digest),
            since: self.opts.since,
            until: self.opts.until,
            agent_id: self.opts.agent_id,
            log: LogSummary {
                rows: self.rows,
                head_hash,
                actions: self.actions,
            },
            throttled,
        };
        Ok(self.acc.finish(head, by_agent))
    }

    fn check(&self) -> Result<(), SimulationError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn fail(&mut self, e: SimulationError) -> Result<(), SimulationError> {
        self.error = Some(e.clone());
        Err(e)
    }

    /// Chain `self.buf` (the entry's canonical bytes) onto the rows before.
    fn verify(&mut self, stored: Option<&Digest>) -> Result<(), SimulationError> {
        let buf = std::mem::take(&mut self.buf);
        let r = self.verify_bytes(&buf, stored);
        self.buf = buf;
        r
    }

    /// Chain an entry's canonical bytes onto the rows before.
    fn verify_bytes(
        &mut self,
        bytes: &[u8],
        stored: Option<&Digest>,
    ) -> Result<(), SimulationError> {
        if !self.chain.failed() && self.chain.push(bytes, stored) {
            self.rows += 1;
            return Ok(());
        }
        let v = self.chain.clone().finish(Timestamp::UNIX_EPOCH);
        let e = match v.failure {
            Some(f) => SimulationError::ChainBroken {
                row: f.row,
                failure: f.code,
                message: f.message,
            },
            None => SimulationError::ChainBroken {
                row: self.rows + 1,
                failure: FailureCode::Undecodable,
                message: "the verifier refused the entry".into(),
            },
        };
        self.fail(e)
    }
}

/// Simulate a whole log given as canonical entry bytes, oldest first (a
/// host's persisted entries).
///
/// # Errors
/// As [`Simulator::push_entry`].
pub fn simulate_entries<'b>(
    entries: impl IntoIterator<Item = &'b [u8]>,
    new: &PolicySet,
    baseline: Option<&PolicySet>,
    options: SimulationOptions,
) -> Result<SimulationReport, SimulationError> {
    let mut sim = Simulator::new(new, baseline, options);
    for e in entries {
        sim.push_entry(e, None)?;
    }
    sim.finish()
}
