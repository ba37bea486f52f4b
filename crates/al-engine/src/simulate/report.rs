//! The simulation report: what it holds and its JSON form (field order is
//! the struct order; every key is always present, `null` when empty). The
//! bounded accumulator that builds it is `tally.rs`.

use al_types::{Digest, EntryId, Timestamp};
use serde::Serialize;
use serde_json::Value;

use crate::records::{ActionStatus, DenialReason};

/// Version of the report's JSON layout. A change that removes, renames or
/// retypes a key bumps it; new keys may be added within a version.
pub const REPORT_VERSION: u32 = 1;

/// The four decisions, in the order every matrix and list uses.
pub(crate) const STATUSES: [ActionStatus; 4] = [
    ActionStatus::Executed,
    ActionStatus::Requested,
    ActionStatus::Denied,
    ActionStatus::PolicyNotFound,
];

pub(crate) const fn idx(s: ActionStatus) -> usize {
    match s {
        ActionStatus::Executed => 0,
        ActionStatus::Requested => 1,
        ActionStatus::Denied => 2,
        ActionStatus::PolicyNotFound => 3,
    }
}

/// What the new manifest's decisions are compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// The decision recorded in each entry (what actually happened).
    Recorded,
    /// A baseline manifest, evaluated the same way as the new one.
    Baseline,
}

/// The whole report (`al simulate --format json`; the layout is
/// documented in `docs/simulate.md`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimulationReport {
    /// [`REPORT_VERSION`].
    pub report_version: u32,
    /// The org named by the log's `org_created` entry, if it has one.
    pub org_id: Option<String>,
    /// What the new decisions are compared with.
    pub compared_with: Comparison,
    /// Digest of the new policy set.
    pub new_set_digest: Digest,
    /// Digest of the baseline set (`null` when comparing with the record).
    pub baseline_set_digest: Option<Digest>,
    /// The filters applied.
    pub window: Window,
    /// The log read (every row is verified, whatever the filters).
    pub log: LogSummary,
    /// Counts over the action entries in the window.
    pub totals: Totals,
    /// Every non-empty cell of the old × new decision matrix, unchanged
    /// cells included, in status order (`executed`, `requested`, `denied`,
    /// `policy_not_found`).
    pub matrix: Vec<Cell>,
    /// The cells where the decision changes, with examples.
    pub changes: Vec<Change>,
    /// Changed decisions grouped by the policy that decided before.
    pub by_old_policy: Vec<PolicyChanges>,
    /// Changed decisions grouped by the policy that decides now.
    pub by_new_policy: Vec<PolicyChanges>,
    /// Changed decisions grouped by acting agent.
    pub by_agent: Vec<AgentChanges>,
    /// Entries not re-decided, because their recorded decision came from
    /// state the log does not let us replay under another manifest.
    pub held: Vec<Held>,
    /// Agents with entries decided while their breaker was in THROTTLE:
    /// the requests the throttle refused (`429`) are not in the log.
    pub throttled: Vec<ThrottledAgent>,
}

/// The filters of a simulation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Only entries at or after this time (the entry's `timestamp`).
    pub since: Option<Timestamp>,
    /// Only entries before this time.
    pub until: Option<Timestamp>,
    /// Only this agent's actions.
    pub agent_id: Option<String>,
    /// Time of the first action entry in the window.
    pub first_action_at: Option<Timestamp>,
    /// Time of the last action entry in the window.
    pub last_action_at: Option<Timestamp>,
}

/// The log that was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogSummary {
    /// Rows read and verified (all of them: the chain held).
    pub rows: u64,
    /// Hash of the last row.
    pub head_hash: Option<Digest>,
    /// `action` entries in the whole log.
    pub actions: u64,
}

/// Counts over the action entries in the window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Action entries in the window (`simulated + held`).
    pub in_window: u64,
    /// Re-decided under the new manifest.
    pub simulated: u64,
    /// Same decision (status) as before.
    pub unchanged: u64,
    /// A different decision: the exit status is 3 when this is not zero.
    pub changed: u64,
    /// Not re-decided (see `held`).
    pub held: u64,
    /// Same decision, but another policy decides it now.
    pub same_status_other_policy: u64,
    /// With a baseline: entries whose baseline decision differs from the
    /// recorded one (the baseline is not what decided them); `null`
    /// when comparing with the record.
    pub baseline_mismatches: Option<u64>,
}

/// One cell of a decision matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Decision before.
    pub from: ActionStatus,
    /// Decision under the new manifest.
    pub to: ActionStatus,
    /// Entries.
    pub count: u64,
}

/// A changed cell with its examples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// Decision before.
    pub from: ActionStatus,
    /// Decision under the new manifest.
    pub to: ActionStatus,
    /// Entries.
    pub count: u64,
    /// Of this cell's entries recorded as `requested`, how their approvals
    /// ended: what a reviewer decided is not something a simulation can
    /// repeat (`null` when none was recorded as `requested`).
    pub approvals: Option<ApprovalFates>,
    /// The first entries of the cell, in row order (at most the
    /// `examples_per_cell` option).
    pub examples: Vec<Example>,
}

/// How the approvals of recorded `requested` entries ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApprovalFates {
    /// A reviewer approved: the action ran.
    pub approved: u64,
    /// A reviewer denied.
    pub denied: u64,
    /// Nobody decided in time (a denial).
    pub timed_out: u64,
    /// Still open where the log ends.
    pub pending: u64,
}

impl ApprovalFates {
    pub(crate) fn add(&mut self, f: ApprovalFate) {
        let c = match f {
            ApprovalFate::Approved => &mut self.approved,
            ApprovalFate::Denied => &mut self.denied,
            ApprovalFate::TimedOut => &mut self.timed_out,
            ApprovalFate::Pending => &mut self.pending,
        };
        *c += 1;
    }

    pub(super) fn total(&self) -> u64 {
        self.approved + self.denied + self.timed_out + self.pending
    }
}

/// How one approval ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalFate {
    /// A reviewer approved.
    Approved,
    /// A reviewer denied.
    Denied,
    /// It timed out.
    TimedOut,
    /// Still open where the log ends.
    Pending,
}

impl ApprovalFate {
    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ApprovalFate::Approved => "approved",
            ApprovalFate::Denied => "denied",
            ApprovalFate::TimedOut => "timed_out",
            ApprovalFate::Pending => "pending",
        }
    }
}

/// One entry whose decision changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Example {
    /// Row in the log.
    pub row: u64,
    /// Entry id (`evt_…`).
    pub id: EntryId,
    /// Acting agent.
    pub agent_id: String,
    /// Action type.
    pub action_type: String,
    /// The entry's time (when it was decided).
    pub timestamp: Timestamp,
    /// The request's own timestamp (what `@time.hour` and `@time.weekday` read).
    pub requested_at: Timestamp,
    /// The decision before.
    pub old: Side,
    /// The decision under the new manifest.
    pub new: Side,
    /// For an entry recorded as `requested`: how its approval ended.
    pub approval: Option<ApprovalFate>,
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    /// Decision.
    pub status: ActionStatus,
    /// Set when `denied`.
    pub denial_reason: Option<DenialReason>,
    /// Deciding policy (`null` for `policy_not_found`).
    pub policy: Option<String>,
    /// For a delegated agent: the delegator whose evaluation decided.
    pub decided_as: Option<String>,
    /// The deciding policy's conditions that did not hold, from
    /// `conditions_evaluated`.
    pub failing: Vec<FailingCondition>,
}

/// A condition that did not hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailingCondition {
    /// Field as written.
    pub field: String,
    /// Operator wire name.
    pub operator: String,
    /// Expected value as written.
    pub expected: Value,
}

/// Changed decisions of one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyChanges {
    /// Policy name (`null`: no policy decided, i.e. `policy_not_found`).
    pub policy: Option<String>,
    /// Changed entries.
    pub changed: u64,
    /// Per changed cell.
    pub transitions: Vec<Cell>,
}

/// Changed decisions of one agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentChanges {
    /// Agent id.
    pub agent_id: String,
    /// Changed entries.
    pub changed: u64,
    /// Per changed cell.
    pub transitions: Vec<Cell>,
}

/// Why an entry is not re-decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeldReason {
    /// Denied `AGENT_HALTED`: the breaker refused it before any policy was
    /// consulted, and whether the breaker would have halted the agent under
    /// the new manifest depends on decisions the log does not replay.
    BreakerHalt,
    /// Denied `DELEGATION_SCOPE`: outside the delegation's capabilities,
    /// decided before any policy; the manifest cannot change it.
    DelegationScope,
    /// The log registers no such agent (no `agent_registered` or
    /// delegation entry), so facts such as `@agent.name` are unknown.
    UnknownAgent,
    /// The recorded request does not pass the request rules (limits) of
    /// this simulation, so it cannot be evaluated.
    InvalidRequest,
}

impl HeldReason {
    pub(crate) const ALL: [HeldReason; 4] = [
        HeldReason::BreakerHalt,
        HeldReason::DelegationScope,
        HeldReason::UnknownAgent,
        HeldReason::InvalidRequest,
    ];

    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            HeldReason::BreakerHalt => "breaker_halt",
            HeldReason::DelegationScope => "delegation_scope",
            HeldReason::UnknownAgent => "unknown_agent",
            HeldReason::InvalidRequest => "invalid_request",
        }
    }

    /// One phrase for people.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            HeldReason::BreakerHalt => "denied by the circuit breaker (HALT), not by a policy",
            HeldReason::DelegationScope => "denied by delegation scope, decided before any policy",
            HeldReason::UnknownAgent => "the log does not register the acting agent",
            HeldReason::InvalidRequest => "the recorded request does not pass the request limits",
        }
    }

    pub(super) const fn idx(self) -> usize {
        match self {
            HeldReason::BreakerHalt => 0,
            HeldReason::DelegationScope => 1,
            HeldReason::UnknownAgent => 2,
            HeldReason::InvalidRequest => 3,
        }
    }
}

/// Entries held for one reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Held {
    /// Why.
    pub reason: HeldReason,
    /// Entries.
    pub count: u64,
    /// The first ones, in row order.
    pub examples: Vec<HeldExample>,
}

/// An entry that was not re-decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeldExample {
    /// Row.
    pub row: u64,
    /// Entry id.
    pub id: EntryId,
    /// Acting agent, if the entry names one.
    pub agent_id: Option<String>,
    /// Action type.
    pub action_type: String,
    /// The entry's time.
    pub timestamp: Timestamp,
    /// The recorded decision.
    pub status: ActionStatus,
    /// The recorded denial reason.
    pub denial_reason: Option<DenialReason>,
    /// Details (for `invalid_request`, the rule it breaks).
    pub detail: Option<String>,
}

/// An agent with entries decided while its breaker was in THROTTLE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThrottledAgent {
    /// Agent id.
    pub agent_id: String,
    /// Entries in the window decided while throttled.
    pub entries: u64,
}

impl SimulationReport {
    /// Whether any decision changes (the CLI's exit status 3).
    #[must_use]
    pub fn has_changes(&self) -> bool {
        self.totals.changed > 0
    }

    /// The report as pretty-printed JSON (the documented, stable form).
    #[must_use]
    pub fn to_json(&self) -> String {
        // Every field is a plain value with string keys: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
