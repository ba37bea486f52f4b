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
//!     SimulationOptions::default(),
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
//!    [`ActionRecord`] (and the `key`, `delegation`, `breaker` and
//!    `approval` entries it needs as theirs): a record that does not fit
//!    its layout is [`SimulationError::InvalidRecord`];
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

mod import;
mod render;
mod report;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use al_audit_chain::{ChainVerifier, Entry, FailureCode, Kind, decode, encode_line};
use al_breaker::State;
use al_policy::{ActionRequest, Agent, ConditionEvaluated, Limits, PolicySet};
use al_types::{Digest, EntryId, ErrorCode, Timestamp};

use crate::records::{
    ActionRecord, ActionStatus, ApprovalEvent, DataItem, DelegationEvent, DenialReason, KeyEvent,
    Record,
};

pub use render::RenderStyle;
pub use report::{
    AgentChanges, ApprovalFate, ApprovalFates, Cell, Change, Comparison, Example, FailingCondition,
    Held, HeldExample, HeldReason, LogSummary, PolicyChanges, REPORT_VERSION, Side,
    SimulationReport, ThrottledAgent, Totals, Window,
};

use report::{Acc, ReportHead, idx};

/// Examples kept per changed cell and per held reason unless told otherwise.
pub const DEFAULT_EXAMPLES_PER_CELL: usize = 5;

/// How to simulate.
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
}

impl Default for SimulationOptions {
    fn default() -> SimulationOptions {
        SimulationOptions {
            since: None,
            until: None,
            agent_id: None,
            examples_per_cell: DEFAULT_EXAMPLES_PER_CELL,
            policy_limits: Limits::default(),
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
    /// layout (`INVALID_RECORD`): the log was not written by a host
    /// following `docs/audit-encoding.md`.
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
    /// Entries in the window decided while in THROTTLE.
    throttled: u64,
}

/// A delegation as the log records its creation.
#[derive(Debug)]
struct DelegationInfo {
    parent: String,
    parent_delegation: Option<String>,
}

/// An open approval of a changed entry recorded as `requested`.
#[derive(Debug)]
struct OpenApproval {
    cell: (usize, usize),
    /// Its index among the cell's examples, when it is one.
    example: Option<usize>,
    timeout_at: Option<Timestamp>,
}

/// One decision: status, reason, deciding policy, as whom.
struct Decided {
    status: ActionStatus,
    denial_reason: Option<DenialReason>,
    policy: Option<String>,
    decided_as: Option<String>,
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
    agents: BTreeMap<String, AgentInfo>,
    delegations: BTreeMap<String, DelegationInfo>,
    open: BTreeMap<u64, OpenApproval>,
    deadlines: BTreeSet<(Timestamp, u64)>,
    acc: Acc,
    error: Option<SimulationError>,
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
            agents: BTreeMap::new(),
            delegations: BTreeMap::new(),
            open: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            acc,
            error: None,
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
        // straight to canonical bytes, anything else read strictly.
        match encode_line(text, &mut self.buf) {
            Ok(stored) => {
                self.verify(Some(&stored))?;
                match decode(&self.buf) {
                    Ok(entry) => self.process(entry),
                    Err(e) => {
                        let e = SimulationError::ChainBroken {
                            row: line_no,
                            failure: FailureCode::Undecodable,
                            message: format!("line {line_no}: {e}"),
                        };
                        self.fail(e)
                    }
                }
            }
            Err(e) => {
                self.chain
                    .fail(FailureCode::Undecodable, format!("line {line_no}: {e}"));
                self.verify(None)
            }
        }
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
        match decode(bytes) {
            Ok(entry) => {
                self.verify(stored_hash)?;
                self.process(entry)
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
        let throttled = self
            .agents
            .iter()
            .filter(|(_, a)| a.throttled > 0)
            .map(|(id, a)| ThrottledAgent {
                agent_id: id.clone(),
                entries: a.throttled,
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
        Ok(self.acc.finish(head))
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
        if !self.chain.failed() && self.chain.push(&self.buf, stored) {
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

    fn invalid(&mut self, row: u64, message: String) -> Result<(), SimulationError> {
        self.fail(SimulationError::InvalidRecord { row, message })
    }

    fn process(&mut self, e: Entry) -> Result<(), SimulationError> {
        let row = e.row();
        self.expire(e.timestamp);
        match e.kind {
            Kind::Action => {
                self.actions += 1;
                let in_window = self.opts.since.is_none_or(|s| e.timestamp >= s)
                    && self.opts.until.is_none_or(|u| e.timestamp < u)
                    && self
                        .opts
                        .agent_id
                        .as_deref()
                        .is_none_or(|a| e.agent_id.as_deref() == Some(a));
                if in_window {
                    match Record::decode(Kind::Action, e.fields) {
                        Ok(Record::Action(rec)) => {
                            self.simulate(row, e.id, e.agent_id, e.timestamp, rec);
                        }
                        Ok(_) => return self.invalid(row, "not an action record".into()),
                        Err(e) => return self.invalid(row, e.to_string()),
                    }
                }
            }
            Kind::Key | Kind::Delegation | Kind::Breaker | Kind::Approval => {
                match Record::decode(e.kind, e.fields) {
                    Ok(r) => {
                        if let Err(m) = self.track(e.agent_id, r) {
                            return self.invalid(row, m);
                        }
                    }
                    Err(e) => return self.invalid(row, e.to_string()),
                }
            }
            // Outcomes and policy changes do not bear on a re-decision
            // (the manifests under test replace the recorded policies).
            _ => {}
        }
        Ok(())
    }

    /// The state the log carries that a re-decision needs.
    fn track(&mut self, agent: Option<String>, r: Record<'_>) -> Result<(), String> {
        match r {
            Record::Key(k) => match k.event {
                KeyEvent::OrgCreated => self.org_id = k.org_id.map(|s| s.into_owned()),
                KeyEvent::AgentRegistered => {
                    let (Some(id), Some(name)) = (agent, k.name) else {
                        return Err("`agent_registered` needs the agent and `name`".into());
                    };
                    self.agents.insert(
                        id,
                        AgentInfo {
                            name: name.into_owned(),
                            delegation: None,
                            breaker: State::Calibrating,
                            throttled: 0,
                        },
                    );
                }
                _ => {}
            },
            Record::Delegation(d) if d.event == DelegationEvent::Created => {
                let (Some(parent), Some(child), Some(name)) =
                    (agent, d.child_agent_id, d.child_name)
                else {
                    return Err(
                        "a created delegation needs its delegator, `child_agent_id` and `child_name`"
                            .into(),
                    );
                };
                let id = d.delegation_id.into_owned();
                self.agents.insert(
                    child.into_owned(),
                    AgentInfo {
                        name: name.into_owned(),
                        delegation: Some(id.clone()),
                        breaker: State::Calibrating,
                        throttled: 0,
                    },
                );
                self.delegations.insert(
                    id,
                    DelegationInfo {
                        parent,
                        parent_delegation: d.parent_delegation_id.map(|s| s.into_owned()),
                    },
                );
            }
            Record::Breaker(b) => {
                if let (Some(to), Some(a)) = (b.to, agent.and_then(|a| self.agents.get_mut(&a))) {
                    a.breaker = to;
                }
            }
            Record::Approval(a) => {
                let row = a.audit_event_id.row();
                let fate = match a.event {
                    ApprovalEvent::Requested => {
                        if let (Some(open), Some(t)) = (self.open.get_mut(&row), a.timeout_at) {
                            open.timeout_at = Some(t);
                            self.deadlines.insert((t, row));
                        }
                        None
                    }
                    ApprovalEvent::Escalated => None,
                    ApprovalEvent::Approved => Some(ApprovalFate::Approved),
                    ApprovalEvent::Denied => Some(ApprovalFate::Denied),
                    ApprovalEvent::TimedOut => Some(ApprovalFate::TimedOut),
                };
                if let Some(f) = fate
                    && let Some(open) = self.open.remove(&row)
                {
                    if let Some(t) = open.timeout_at {
                        self.deadlines.remove(&(t, row));
                    }
                    self.close(open, f);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Approvals whose timeout passed before `now` timed out, whether or
    /// not the host's timer wrote it down yet (as the engine reads them).
    fn expire(&mut self, now: Timestamp) {
        while let Some(&(t, row)) = self.deadlines.first() {
            if t >= now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(open) = self.open.remove(&row) {
                self.close(open, ApprovalFate::TimedOut);
            }
        }
    }

    fn close(&mut self, open: OpenApproval, fate: ApprovalFate) {
        let (i, j) = open.cell;
        if let Some(f) = self.acc.fates.get_mut(i).and_then(|r| r.get_mut(j)) {
            f.add(fate);
        }
        if let Some(ex) = open.example.and_then(|k| {
            self.acc
                .examples
                .get_mut(i)
                .and_then(|r| r.get_mut(j))
                .and_then(|v| v.get_mut(k))
        }) {
            ex.approval = Some(fate);
        }
    }

    fn simulate(
        &mut self,
        row: u64,
        id: EntryId,
        agent_id: Option<String>,
        at: Timestamp,
        rec: ActionRecord<'static>,
    ) {
        let ActionRecord {
            action_type,
            status: recorded,
            denial_reason,
            requested_at,
            data_accessed,
            metadata,
            policy_name,
            decided_as,
            conditions_evaluated,
            ..
        } = rec;
        let keep = self.opts.examples_per_cell;
        let acc = &mut self.acc;
        acc.totals.in_window += 1;
        acc.first_action_at.get_or_insert(at);
        acc.last_action_at = Some(at);
        let held = |detail: Option<String>| HeldExample {
            row,
            id,
            agent_id: agent_id.clone(),
            action_type: action_type.to_string(),
            timestamp: at,
            status: recorded,
            denial_reason,
            detail,
        };
        let state_reason = match denial_reason {
            Some(DenialReason::AgentHalted) => Some(HeldReason::BreakerHalt),
            Some(DenialReason::DelegationScope) => Some(HeldReason::DelegationScope),
            _ => None,
        };
        if let Some(reason) = state_reason {
            acc.hold(reason, keep, || held(None));
            return;
        }
        let Some(agent) = agent_id.as_deref().and_then(|a| self.agents.get_mut(a)) else {
            acc.hold(HeldReason::UnknownAgent, keep, || held(None));
            return;
        };
        if agent.breaker == State::Throttle {
            agent.throttled += 1;
        }
        let data: Vec<al_policy::DataAccess> =
            data_accessed.iter().map(DataItem::to_policy).collect();
        let req = match ActionRequest::new(
            action_type.as_ref(),
            requested_at,
            data,
            metadata.into_owned(),
            &self.opts.policy_limits,
        ) {
            Ok(r) => r,
            Err(e) => {
                acc.hold(HeldReason::InvalidRequest, keep, || {
                    held(Some(e.to_string()))
                });
                return;
            }
        };
        let agent_id = agent_id.unwrap_or_default();
        acc.totals.simulated += 1;
        let new = decide(self.new, &req, &agent_id, &self.agents, &self.delegations);
        let old = match self.baseline {
            Some(b) => {
                let d = decide(b, &req, &agent_id, &self.agents, &self.delegations);
                if d.status != recorded
                    && let Some(m) = acc.totals.baseline_mismatches.as_mut()
                {
                    *m += 1;
                }
                d
            }
            None => Decided {
                status: recorded,
                denial_reason,
                policy: policy_name.map(Cow::into_owned),
                decided_as: decided_as.map(Cow::into_owned),
            },
        };
        let (i, j) = (idx(old.status), idx(new.status));
        if let Some(c) = acc.matrix.get_mut(i).and_then(|r| r.get_mut(j)) {
            *c += 1;
        }
        if i == j {
            acc.totals.unchanged += 1;
            if old.policy != new.policy {
                acc.totals.same_status_other_policy += 1;
            }
            return;
        }
        acc.totals.changed += 1;
        acc.by_old.add(old.policy.as_deref(), i, j);
        acc.by_new.add(new.policy.as_deref(), i, j);
        acc.add_agent(&agent_id, i, j);
        let mut example = None;
        if let Some(examples) = acc.examples.get_mut(i).and_then(|r| r.get_mut(j))
            && examples.len() < keep
        {
            let old_failing = match self.baseline {
                Some(b) => failing(b, &req, &old, &agent_id, &self.agents),
                None => conditions_evaluated
                    .iter()
                    .filter(|c| !c.result)
                    .map(failing_condition)
                    .collect(),
            };
            let new_failing = failing(self.new, &req, &new, &agent_id, &self.agents);
            example = Some(examples.len());
            examples.push(Example {
                row,
                id,
                agent_id,
                action_type: action_type.into_owned(),
                timestamp: at,
                requested_at,
                old: side(old, old_failing),
                new: side(new, new_failing),
                approval: None,
            });
        }
        if recorded == ActionStatus::Requested {
            self.open.insert(
                row,
                OpenApproval {
                    cell: (i, j),
                    example,
                    timeout_at: None,
                },
            );
        }
    }
}

fn side(d: Decided, failing: Vec<FailingCondition>) -> Side {
    Side {
        status: d.status,
        denial_reason: d.denial_reason,
        policy: d.policy,
        decided_as: d.decided_as,
        failing,
    }
}

fn failing_condition(c: &ConditionEvaluated) -> FailingCondition {
    FailingCondition {
        field: c.field.clone(),
        operator: c.operator.clone(),
        expected: c.expected.clone(),
    }
}

/// How strict a decision is: a child never gets more than its delegator.
fn rank(s: ActionStatus) -> u8 {
    match s {
        ActionStatus::Executed => 0,
        ActionStatus::Requested => 1,
        ActionStatus::Denied | ActionStatus::PolicyNotFound => 2,
    }
}

/// The engine's policy step (`action::evaluate`): evaluate as the agent
/// and, for a delegated child, as each delegator up the chain; the first
/// more restrictive answer decides.
fn decide(
    set: &PolicySet,
    req: &ActionRequest,
    agent_id: &str,
    agents: &BTreeMap<String, AgentInfo>,
    delegations: &BTreeMap<String, DelegationInfo>,
) -> Decided {
    let one = |id: &str| {
        agents.get(id).map(|a| {
            let d = set.evaluate(req, &Agent { id, name: &a.name });
            (
                ActionStatus::from_policy(d.status),
                d.denial_reason.map(DenialReason::from_policy),
                d.policy,
            )
        })
    };
    let Some((mut status, mut reason, mut policy)) = one(agent_id) else {
        return Decided {
            status: ActionStatus::Denied,
            denial_reason: Some(DenialReason::PolicyDenied),
            policy: None,
            decided_as: None,
        };
    };
    let mut decided_as: Option<&str> = None;
    let mut cur = agents.get(agent_id).and_then(|a| a.delegation.as_deref());
    while let Some(di) = cur {
        let Some(d) = delegations.get(di) else { break };
        if rank(status) == 2 {
            break;
        }
        if let Some((s, r, p)) = one(&d.parent)
            && rank(s) > rank(status)
        {
            (status, reason, policy, decided_as) = (s, r, p, Some(d.parent.as_str()));
        }
        cur = d.parent_delegation.as_deref();
    }
    Decided {
        status,
        denial_reason: reason,
        policy: policy.map(|p| p.name().to_owned()),
        decided_as: decided_as.map(str::to_owned),
    }
}

/// The deciding policy's failing conditions, explained as the engine
/// explains them (as the agent that decided).
fn failing(
    set: &PolicySet,
    req: &ActionRequest,
    d: &Decided,
    agent_id: &str,
    agents: &BTreeMap<String, AgentInfo>,
) -> Vec<FailingCondition> {
    if d.policy.is_none() {
        return Vec::new();
    }
    let who = d.decided_as.as_deref().unwrap_or(agent_id);
    let Some(a) = agents.get(who) else {
        return Vec::new();
    };
    set.explain(
        req,
        &Agent {
            id: who,
            name: &a.name,
        },
    )
    .conditions_evaluated
    .iter()
    .filter(|c| !c.result)
    .map(failing_condition)
    .collect()
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
