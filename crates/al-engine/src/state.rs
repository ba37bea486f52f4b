//! One org's state, and the one function that applies a record to it.
//!
//! INVARIANT: an org's state is a fold of its chain. [`Org::apply`] is the
//! only place state changes after the org exists; the live operations
//! append a record to the log and then apply it, and restore applies the
//! persisted records in order. "Restore equals live" therefore holds by
//! construction, and the model test checks it after every step.
//!
//! Why one file (about 1 500 lines): it is one state machine. `Org::apply`
//! is the only way state changes (live and restore), and the per-kind
//! `apply_*` functions share private helpers and invariants (pending
//! breaker transitions, the approval that must follow a `requested`
//! action, timers, day counts, indexes) that are reviewed together; split
//! by kind, each file would need all of them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use al_audit_chain::{AuditLog, LogConfig};
use al_breaker::{Admission, Breaker, Effects as BreakerEffects, Observation, State, Transition};
use al_policy::{Manifest, Pattern, PolicySet, PolicySpec};
use al_types::{Digest, EntryId, SeededMap, SeededState, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::EngineConfig;
use crate::events::{EventData, EventType, GovernanceEvent, denial_code};
use crate::records::{
    ActionRecord, ActionStatus, ApprovalEvent, ApprovalRecord, BreakerCause, BreakerCommand,
    BreakerRecord, DelegationEvent, DelegationRecord, DenialReason, KeyEvent, KeyRecord,
    OutcomeRecord, OutcomeStatus, PolicyChangeRecord, PolicyEvent, Record, SignalSeverity,
    TransitionReason,
};

/// Days of history the posture windows look at.
pub(crate) const POSTURE_DAYS: i64 = 30;

/// Who a key authenticates, within an org.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Who {
    Service,
    Agent(u32),
}

/// A service key's public facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ServiceKey {
    pub name: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct AgentState {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub key_hash: Digest,
    pub key_created_at: Timestamp,
    pub breaker: Breaker,
    /// The delegation this agent was created by (delegated children only).
    pub delegation: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct DelegationState {
    pub id: String,
    pub parent: u32,
    pub child: u32,
    pub capabilities: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// The `expired` record was written (the event is emitted once).
    pub expiry_recorded: bool,
    /// The delegation the parent acts under, if the parent is itself a child.
    pub parent_delegation: Option<u32>,
    pub depth: u32,
    #[serde(skip)]
    pub patterns: Vec<Pattern>,
}

impl DelegationState {
    pub fn why_inactive(&self, now: Timestamp) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("revoked")
        } else if now >= self.expires_at {
            Some("expired")
        } else {
            None
        }
    }

    pub fn allows(&self, action_type: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(action_type))
    }
}

/// An approval's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a reviewer.
    Pending,
    /// Waiting, past `escalate_after`.
    Escalated,
    /// A reviewer approved: the action may run, once.
    Approved,
    /// A reviewer denied.
    Denied,
    /// Nobody decided in time: a denial.
    TimedOut,
}

impl ApprovalStatus {
    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Escalated => "escalated",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
            ApprovalStatus::TimedOut => "timed_out",
        }
    }

    /// Still waiting for a decision.
    #[must_use]
    pub const fn is_open(self) -> bool {
        matches!(self, ApprovalStatus::Pending | ApprovalStatus::Escalated)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ApprovalState {
    pub id: String,
    pub agent: u32,
    pub action_row: u64,
    pub action_type: String,
    pub request_digest: Digest,
    pub policy_name: Option<String>,
    pub policy_digest: Option<Digest>,
    pub requested_at: Timestamp,
    pub timeout_at: Timestamp,
    pub escalate_at: Option<Timestamp>,
    /// As recorded (`Pending`/`Escalated` may be stale by time: see [`ApprovalState::status_at`]).
    pub status: ApprovalStatus,
    pub decided_at: Option<Timestamp>,
    pub decision_row: Option<u64>,
    pub reviewer: Option<String>,
    pub comment: Option<String>,
    pub policy_changed: bool,
}

impl ApprovalState {
    /// The status at `now`: an open approval past its timeout is timed out,
    /// past `escalate_after` escalated, whether or not the timer has fired.
    pub fn status_at(&self, now: Timestamp) -> ApprovalStatus {
        match self.status {
            s if !s.is_open() => s,
            _ if now >= self.timeout_at => ApprovalStatus::TimedOut,
            _ if self.escalate_at.is_some_and(|e| now >= e) => ApprovalStatus::Escalated,
            s => s,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutcomeState {
    pub status: OutcomeStatus,
    pub row: u64,
    pub reported_at: Timestamp,
}

/// Posture counters for one UTC day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DayCounts {
    pub day: i64,
    pub actions: u64,
    pub covered: u64,
    pub approvals_decided: u64,
    pub approvals_timed_out: u64,
    pub anomalies: u64,
}

/// The serialisable part of an org (what a snapshot holds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct OrgState {
    pub created_at: Timestamp,
    /// The time of the last entry: entries never go back in time.
    pub clock: Timestamp,
    pub service_keys: BTreeMap<Digest, ServiceKey>,
    pub agents: Vec<AgentState>,
    pub delegations: Vec<DelegationState>,
    pub approvals: Vec<ApprovalState>,
    /// Each policy as its last policy-change record wrote it.
    pub policies: BTreeMap<String, Value>,
    pub outcomes: BTreeMap<u64, OutcomeState>,
    pub days: VecDeque<DayCounts>,
}

/// What a timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Timer {
    ApprovalEscalate(u32),
    ApprovalTimeout(u32),
    DelegationExpire(u32),
    BreakerPoll(u32),
}

/// A breaker transition computed by `apply` that the next breaker record
/// must match.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pending {
    pub agent: u32,
    pub cause: BreakerCause,
    pub transition: Transition,
    pub signals: Vec<SignalSeverity>,
}

/// Lookups derived from the state (rebuilt after a snapshot load).
#[derive(Clone, Debug)]
pub(crate) struct Indexes {
    pub agent_by_id: SeededMap<Box<str>, u32>,
    pub keys: SeededMap<Digest, Who>,
    pub delegation_by_id: SeededMap<Box<str>, u32>,
    pub approval_by_id: SeededMap<Box<str>, u32>,
    pub approval_by_row: BTreeMap<u64, u32>,
    /// Delegations by parent agent, in creation order.
    pub delegations_of: BTreeMap<u32, Vec<u32>>,
    /// Per agent: `X-AL-Event-ID` → action row (replay protection).
    pub replay: Vec<SeededMap<Box<str>, u64>>,
    /// Agents whose breaker has a time-driven change scheduled, and when.
    pub poll_at: BTreeMap<u32, Timestamp>,
    pub seed: SeededState,
}

impl Indexes {
    fn new(seed: SeededState) -> Indexes {
        Indexes {
            agent_by_id: seed.map(),
            keys: seed.map(),
            delegation_by_id: seed.map(),
            approval_by_id: seed.map(),
            approval_by_row: BTreeMap::new(),
            delegations_of: BTreeMap::new(),
            replay: Vec::new(),
            poll_at: BTreeMap::new(),
            seed,
        }
    }
}

/// A change to the engine-wide key index, drained after each operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyChange {
    /// A key and whom it authenticates in the org.
    Add(Digest, Who),
    Remove(Digest),
}

/// One org: its log, state, compiled policies and derived indexes.
#[derive(Clone, Debug)]
pub(crate) struct Org {
    pub id: Arc<str>,
    pub log: AuditLog,
    pub st: OrgState,
    pub ix: Indexes,
    pub specs: BTreeMap<String, PolicySpec>,
    pub set: PolicySet,
    pub set_dirty: bool,
    pub timers: BTreeSet<(Timestamp, Timer)>,
    pub pending: VecDeque<Pending>,
    /// The row of a `requested` action whose approval record must come next.
    pub expect_approval: Option<(u64, u32)>,
    pub key_changes: Vec<KeyChange>,
    /// A live apply failed after its entry was appended: the org refuses
    /// further operations (a bug; restore from the persisted entries).
    pub poisoned: Option<String>,
}

/// An entry's header, as `apply` sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta<'a> {
    pub row: u64,
    pub at: Timestamp,
    pub agent_id: Option<&'a str>,
}

/// The breaker's `admit` for an action, made once by the live pipeline
/// (`Engine::submit_action` needs its answer before deciding) and handed
/// to [`Org::apply`] with the action record, so `apply` does not clone the
/// breaker and admit a second time. Restore passes none and `apply` makes
/// the call itself: the same call on the same breaker at the same time,
/// so the same answer (the model test's "restore equals live" checks it).
#[derive(Clone, Debug)]
pub(crate) struct Admitted {
    /// The acting agent's index.
    pub agent: u32,
    /// The time of the call (the entry's time).
    pub at: Timestamp,
    /// The agent's breaker after `admit`.
    pub breaker: Breaker,
    /// `admit`'s answer and effects.
    pub admission: Admission,
    pub effects: BreakerEffects,
}

/// Replaying a record did not fit the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Divergence(pub String);

fn diverge<T>(m: impl Into<String>) -> Result<T, Divergence> {
    Err(Divergence(m.into()))
}

type Events<'e> = Option<&'e mut Vec<GovernanceEvent>>;

impl Org {
    pub fn new(id: &str, created_at: Timestamp, cfg: &EngineConfig) -> Result<Org, String> {
        let empty =
            Manifest::from_policies(Vec::new(), &cfg.policy_limits).map_err(|e| e.to_string())?;
        Ok(Org {
            id: Arc::from(id),
            log: AuditLog::with_config(id, LogConfig { index: true }),
            st: OrgState {
                created_at,
                clock: created_at,
                service_keys: BTreeMap::new(),
                agents: Vec::new(),
                delegations: Vec::new(),
                approvals: Vec::new(),
                policies: BTreeMap::new(),
                outcomes: BTreeMap::new(),
                days: VecDeque::new(),
            },
            ix: Indexes::new(SeededState::new(cfg.hash_seed)),
            specs: BTreeMap::new(),
            set: PolicySet::compile_with(&empty, &cfg.policy_limits),
            set_dirty: false,
            timers: BTreeSet::new(),
            pending: VecDeque::new(),
            expect_approval: None,
            key_changes: Vec::new(),
            poisoned: None,
        })
    }

    pub fn agent_idx(&self, id: &str) -> Option<u32> {
        self.ix.agent_by_id.get(id).copied()
    }

    pub fn agent(&self, i: u32) -> Option<&AgentState> {
        self.st.agents.get(i as usize)
    }

    fn agent_mut(&mut self, i: u32) -> Option<&mut AgentState> {
        self.st.agents.get_mut(i as usize)
    }

    pub fn delegation(&self, i: u32) -> Option<&DelegationState> {
        self.st.delegations.get(i as usize)
    }

    pub fn approval(&self, i: u32) -> Option<&ApprovalState> {
        self.st.approvals.get(i as usize)
    }

    /// The current policies as a manifest.
    pub fn manifest(&self, cfg: &EngineConfig) -> Result<Manifest, crate::EngineError> {
        Manifest::from_policies(self.specs.values().cloned().collect(), &cfg.policy_limits)
            .map_err(crate::EngineError::Policy)
    }

    /// Recompile the policy set if an import changed it. Every stored
    /// policy passed validation when it was recorded, so this does not
    /// fail; if it ever did, the org would refuse every operation (fail
    /// closed) rather than decide with stale policies.
    pub fn refresh_policies(&mut self, cfg: &EngineConfig) {
        if self.set_dirty {
            match self.manifest(cfg) {
                Ok(m) => self.set = PolicySet::compile_with(&m, &cfg.policy_limits),
                Err(e) => self.poisoned = Some(format!("stored policies do not compile: {e}")),
            }
            self.set_dirty = false;
        }
    }

    /// Parse a stored policy (manifest form with server fields).
    pub fn parse_policy(v: &Value, cfg: &EngineConfig) -> Result<PolicySpec, String> {
        let doc = serde_json::json!({"version": 1, "policies": [v]});
        let m = Manifest::from_json_value(&doc, &cfg.policy_limits).map_err(|e| e.to_string())?;
        m.into_policies()
            .into_iter()
            .next()
            .ok_or_else(|| "policy missing".to_owned())
    }

    fn agent_of(&self, m: &Meta<'_>) -> Result<u32, Divergence> {
        let Some(id) = m.agent_id else {
            return diverge("the entry names no agent");
        };
        match self.agent_idx(id) {
            Some(i) => Ok(i),
            None => diverge(format!("unknown agent `{id}`")),
        }
    }

    fn event(
        &self,
        ev: &mut Events<'_>,
        event_type: EventType,
        at: Timestamp,
        agent_id: Option<&str>,
        data: EventData,
    ) {
        if let Some(ev) = ev.as_deref_mut() {
            ev.push(GovernanceEvent {
                event_type,
                timestamp: at,
                org_id: Arc::clone(&self.id),
                agent_id: agent_id.map(str::to_owned),
                data,
            });
        }
    }

    fn day(&mut self, at: Timestamp) -> Option<&mut DayCounts> {
        let day = at.unix_day();
        // INVARIANT: entries never go back in time, so days are appended in order.
        if self.st.days.back().is_none_or(|d| d.day < day) {
            self.st.days.push_back(DayCounts {
                day,
                ..DayCounts::default()
            });
            while self
                .st
                .days
                .front()
                .is_some_and(|d| d.day <= day - POSTURE_DAYS)
            {
                self.st.days.pop_front();
            }
        }
        self.st.days.back_mut().filter(|d| d.day == day)
    }

    /// Keep the breaker's timer for `agent` in step with its state. The
    /// deadline is a function of the breaker's state alone, so it is derived
    /// (not stored) and a restored org schedules the same instants.
    pub fn reschedule_breaker(&mut self, agent: u32, cfg: &EngineConfig) {
        let Some(a) = self.agent(agent) else { return };
        let new = a.breaker.poll_timeout(&cfg.breaker);
        let old = self.ix.poll_at.get(&agent).copied();
        if old != new {
            if let Some(t) = old {
                self.timers.remove(&(t, Timer::BreakerPoll(agent)));
                self.ix.poll_at.remove(&agent);
            }
            if let Some(t) = new {
                self.timers.insert((t, Timer::BreakerPoll(agent)));
                self.ix.poll_at.insert(agent, t);
            }
        }
    }

    /// The replay index of `agent`.
    pub fn replay_of(&self, agent: u32) -> Option<&SeededMap<Box<str>, u64>> {
        self.ix.replay.get(agent as usize)
    }

    fn replay_insert(&mut self, agent: u32, event_id: &str, row: u64) {
        let i = agent as usize;
        while self.ix.replay.len() <= i {
            let m = self.ix.seed.map();
            self.ix.replay.push(m);
        }
        if let Some(m) = self.ix.replay.get_mut(i) {
            m.insert(Box::from(event_id), row);
        }
    }

    fn push_effects(
        &mut self,
        agent: u32,
        cause: BreakerCause,
        fx: &BreakerEffects,
        row: u64,
        at: Timestamp,
        ev: &mut Events<'_>,
    ) {
        // Most breaker calls change nothing: no agent id to copy then.
        if fx.is_empty() {
            return;
        }
        let signals: Vec<SignalSeverity> = fx
            .anomalies()
            .map(|a| SignalSeverity {
                signal: a.signal,
                severity: a.severity,
            })
            .collect();
        let agent_id = self.agent(agent).map(|a| a.id.clone());
        let mut high = 0u64;
        for a in fx.anomalies() {
            if a.confidence == al_breaker::Confidence::High {
                high += 1;
            }
            if let (Some(id), Some(audit_event_id)) = (&agent_id, EntryId::from_row(row)) {
                self.event(
                    ev,
                    EventType::AnomalyDetected,
                    at,
                    Some(id),
                    EventData::Anomaly {
                        audit_event_id,
                        signal: a.signal,
                        severity: a.severity,
                        confidence: a.confidence,
                    },
                );
            }
        }
        if high > 0
            && let Some(d) = self.day(at)
        {
            d.anomalies += high;
        }
        for t in fx.transitions() {
            let sig = if matches!(t.reason, al_breaker::Reason::Anomaly(_)) {
                signals.clone()
            } else {
                Vec::new()
            };
            self.pending.push_back(Pending {
                agent,
                cause,
                transition: *t,
                signals: sig,
            });
        }
    }

    /// Apply one record. On `Err` nothing has changed.
    pub fn apply(
        &mut self,
        cfg: &EngineConfig,
        m: &Meta<'_>,
        r: &Record<'_>,
        mut ev: Events<'_>,
        admitted: Option<Admitted>,
    ) -> Result<(), Divergence> {
        if m.at < self.st.clock {
            return diverge(format!(
                "time goes back: {} is before the previous entry's {}",
                m.at, self.st.clock
            ));
        }
        let consumes_pending = matches!(r, Record::Breaker(b) if !matches!(b.cause, BreakerCause::Timer | BreakerCause::Operator));
        let is_requested_approval =
            matches!(r, Record::Approval(a) if a.event == ApprovalEvent::Requested);
        if let Some((row, _)) = self.expect_approval
            && !is_requested_approval
        {
            return diverge(format!(
                "the requested action at row {row} is not followed by its approval record"
            ));
        }
        if !self.pending.is_empty() && !consumes_pending && !is_requested_approval {
            return diverge(format!(
                "{} breaker transition(s) computed for the previous record are not recorded",
                self.pending.len()
            ));
        }
        if admitted.is_some() && !matches!(r, Record::Action(_)) {
            return diverge("a breaker admission handed with a record that is not an action");
        }
        match r {
            Record::Action(a) => self.apply_action(cfg, m, a, admitted, &mut ev)?,
            Record::Approval(a) => self.apply_approval(m, a, &mut ev)?,
            Record::Outcome(o) => self.apply_outcome(cfg, m, o, &mut ev)?,
            Record::Delegation(d) => self.apply_delegation(cfg, m, d, &mut ev)?,
            Record::Breaker(b) => self.apply_breaker(cfg, m, b, &mut ev)?,
            Record::PolicyChange(p) => self.apply_policy(cfg, m, p, &mut ev)?,
            Record::Key(k) => self.apply_key(cfg, m, k)?,
        }
        self.st.clock = m.at;
        Ok(())
    }

    fn apply_action(
        &mut self,
        cfg: &EngineConfig,
        m: &Meta<'_>,
        a: &ActionRecord<'_>,
        admitted: Option<Admitted>,
        ev: &mut Events<'_>,
    ) -> Result<(), Divergence> {
        // The live path names the agent by index; the header must agree.
        let agent = match &admitted {
            Some(p)
                if p.at == m.at
                    && m.agent_id.is_some()
                    && self.agent(p.agent).map(|x| x.id.as_str()) == m.agent_id =>
            {
                p.agent
            }
            Some(_) => return diverge("a breaker admission for another agent or time"),
            None => self.agent_of(m)?,
        };
        if (a.status == ActionStatus::Denied) != a.denial_reason.is_some() {
            return diverge("`denial_reason` must be set exactly when `status` is `denied`");
        }
        if let Some(e) = a.event_id.as_deref()
            && self.replay_of(agent).is_some_and(|m| m.contains_key(e))
        {
            return diverge(format!("event id `{e}` is used twice"));
        }
        let Some(st) = self.agent(agent) else {
            return diverge("unknown agent");
        };
        if st.breaker.state() == State::Killed {
            return diverge("a killed agent acted");
        }
        // The breaker calls an action makes (see the crate docs, "The action pipeline"):
        // out of scope: observe only; HALT: admit only; otherwise admit + observe.
        let now = m.at;
        let admit = a.denial_reason != Some(DenialReason::DelegationScope);
        let observe = a.denial_reason != Some(DenialReason::AgentHalted);
        // Live: the admission the pipeline made (on its own copy of this
        // breaker, in this operation); restore: make it here.
        let (mut b, made) = match admitted {
            Some(p) if admit => (p.breaker, Some((p.admission, p.effects))),
            Some(_) => return diverge("a breaker admission for an action that admits nothing"),
            None => (st.breaker.clone(), None),
        };
        let mut effects: Vec<BreakerEffects> = Vec::with_capacity(2);
        if admit {
            let (adm, fx) = match made {
                Some(made) => made,
                None => b.admit(&cfg.breaker, now),
            };
            let want_halt = a.denial_reason == Some(DenialReason::AgentHalted);
            match (adm, want_halt) {
                (Admission::Allow, false) | (Admission::Denied(State::Halt), true) => {}
                (other, _) => {
                    return diverge(format!(
                        "the breaker answers {other:?} for a recorded `{}` action",
                        a.status.as_str()
                    ));
                }
            }
            effects.push(fx);
        }
        if observe {
            let obs = Observation {
                action_type: &a.action_type,
                denied: a.status.is_refusal(),
                data_count: a
                    .data_accessed
                    .iter()
                    .fold(0u64, |s, d| s.saturating_add(d.count)),
                delegation_created: false,
            };
            effects.push(b.observe(&cfg.breaker, now, &obs));
        }
        // Commit.
        if let Some(st) = self.agent_mut(agent) {
            st.breaker = b;
        }
        for fx in &effects {
            self.push_effects(agent, BreakerCause::Action, fx, m.row, m.at, ev);
        }
        self.reschedule_breaker(agent, cfg);
        if let Some(e) = a.event_id.as_deref() {
            self.replay_insert(agent, e, m.row);
        }
        if a.status == ActionStatus::Requested {
            self.expect_approval = Some((m.row, agent));
        }
        if let Some(d) = self.day(m.at) {
            d.actions += 1;
            if a.status != ActionStatus::PolicyNotFound {
                d.covered += 1;
            }
        }
        let event_type = match a.status {
            ActionStatus::Executed => Some(EventType::ActionExecuted),
            ActionStatus::Denied | ActionStatus::PolicyNotFound => Some(EventType::ActionDenied),
            ActionStatus::Requested => None,
        };
        if let (Some(t), Some(audit_event_id)) = (event_type, EntryId::from_row(m.row)) {
            self.event(
                ev,
                t,
                m.at,
                m.agent_id,
                EventData::Action {
                    audit_event_id,
                    action_type: a.action_type.to_string(),
                    status: a.status,
                    denial_reason: denial_code(a.denial_reason),
                    policy_name: a.policy_name.as_deref().map(str::to_owned),
                    approval_id: None,
                    decision_event_id: None,
                },
            );
        }
        Ok(())
    }

    fn apply_approval(
        &mut self,
        m: &Meta<'_>,
        a: &ApprovalRecord<'_>,
        ev: &mut Events<'_>,
    ) -> Result<(), Divergence> {
        let agent = self.agent_of(m)?;
        if a.event == ApprovalEvent::Requested {
            let Some((row, who)) = self.expect_approval else {
                return diverge("an approval request follows no requested action");
            };
            if row != a.audit_event_id.row() || who != agent {
                return diverge(format!(
                    "the approval request names `{}`, not the requested action at row {row}",
                    a.audit_event_id
                ));
            }
            let (Some(request_digest), Some(timeout_at)) = (a.request_digest, a.timeout_at) else {
                return diverge("an approval request needs `request_digest` and `timeout_at`");
            };
            if self.ix.approval_by_id.contains_key(a.approval_id.as_ref()) {
                return diverge(format!("approval `{}` exists already", a.approval_id));
            }
            let action_type = self
                .log
                .entry(row)
                .and_then(|e| e.str_field("action_type").map(str::to_owned))
                .unwrap_or_default();
            let Ok(idx) = u32::try_from(self.st.approvals.len()) else {
                return diverge("too many approvals");
            };
            self.st.approvals.push(ApprovalState {
                id: a.approval_id.to_string(),
                agent,
                action_row: row,
                action_type,
                request_digest,
                policy_name: a.policy_name.as_deref().map(str::to_owned),
                policy_digest: a.policy_digest,
                requested_at: m.at,
                timeout_at,
                escalate_at: a.escalate_at.filter(|e| *e < timeout_at),
                status: ApprovalStatus::Pending,
                decided_at: None,
                decision_row: None,
                reviewer: None,
                comment: None,
                policy_changed: false,
            });
            self.ix
                .approval_by_id
                .insert(Box::from(a.approval_id.as_ref()), idx);
            self.ix.approval_by_row.insert(row, idx);
            self.timers
                .insert((timeout_at, Timer::ApprovalTimeout(idx)));
            if let Some(e) = a.escalate_at.filter(|e| *e < timeout_at) {
                self.timers.insert((e, Timer::ApprovalEscalate(idx)));
            }
            self.expect_approval = None;
            return Ok(());
        }
        let Some(&idx) = self.ix.approval_by_id.get(a.approval_id.as_ref()) else {
            return diverge(format!("unknown approval `{}`", a.approval_id));
        };
        let Some(ap) = self.approval(idx) else {
            return diverge("unknown approval");
        };
        if ap.agent != agent || ap.action_row != a.audit_event_id.row() {
            return diverge(format!(
                "approval `{}` belongs to another action",
                a.approval_id
            ));
        }
        let now_status = ap.status_at(m.at);
        let (status, decided) = match a.event {
            ApprovalEvent::Requested => return diverge("unreachable"),
            ApprovalEvent::Escalated => {
                if ap.status != ApprovalStatus::Pending
                    || ap.escalate_at.is_none_or(|e| m.at < e)
                    || now_status == ApprovalStatus::TimedOut
                {
                    return diverge("escalation of an approval that is not due to escalate");
                }
                (ApprovalStatus::Escalated, false)
            }
            ApprovalEvent::Approved | ApprovalEvent::Denied => {
                if !now_status.is_open() {
                    return diverge(format!(
                        "decision on approval `{}`, which is {}",
                        ap.id,
                        now_status.as_str()
                    ));
                }
                if a.reviewer.is_none() {
                    return diverge("a decision needs `reviewer`");
                }
                let s = if a.event == ApprovalEvent::Approved {
                    ApprovalStatus::Approved
                } else {
                    ApprovalStatus::Denied
                };
                (s, true)
            }
            ApprovalEvent::TimedOut => {
                if !ap.status.is_open() || m.at < ap.timeout_at {
                    return diverge("timeout of an approval that is not due");
                }
                (ApprovalStatus::TimedOut, true)
            }
        };
        let (timeout_at, escalate_at, action_row) = (ap.timeout_at, ap.escalate_at, ap.action_row);
        let action_type = ap.action_type.clone();
        let policy_name = ap.policy_name.clone();
        if let Some(ap) = self.st.approvals.get_mut(idx as usize) {
            ap.status = status;
            if decided {
                ap.decided_at = Some(m.at);
                ap.decision_row = Some(m.row);
                ap.reviewer = a.reviewer.as_deref().map(str::to_owned);
                ap.comment = a.comment.as_deref().map(str::to_owned);
                ap.policy_changed = a.policy_changed.unwrap_or(false);
            }
        }
        if let Some(e) = escalate_at {
            self.timers.remove(&(e, Timer::ApprovalEscalate(idx)));
        }
        if decided {
            self.timers
                .remove(&(timeout_at, Timer::ApprovalTimeout(idx)));
            if let Some(d) = self.day(m.at) {
                if status == ApprovalStatus::TimedOut {
                    d.approvals_timed_out += 1;
                } else {
                    d.approvals_decided += 1;
                }
            }
            let (t, reason) = match status {
                ApprovalStatus::Approved => (EventType::ActionExecuted, None),
                ApprovalStatus::Denied => (EventType::ActionDenied, Some("DENIED_BY_REVIEWER")),
                _ => (EventType::ActionDenied, Some("APPROVAL_TIMED_OUT")),
            };
            if let Some(audit_event_id) = EntryId::from_row(action_row) {
                self.event(
                    ev,
                    t,
                    m.at,
                    m.agent_id,
                    EventData::Action {
                        audit_event_id,
                        action_type,
                        status: ActionStatus::Requested,
                        denial_reason: reason,
                        policy_name,
                        approval_id: Some(a.approval_id.to_string()),
                        decision_event_id: EntryId::from_row(m.row),
                    },
                );
            }
        }
        Ok(())
    }

    /// The recorded status of the action at `row` and its agent, read from the log.
    pub fn action_at(&self, row: u64) -> Option<(ActionStatus, Option<String>)> {
        let e = self.log.entry(row)?;
        if e.kind != al_audit_chain::Kind::Action {
            return None;
        }
        let status: ActionStatus = serde_json::from_value(e.fields.get("status")?.clone()).ok()?;
        Some((status, e.agent_id))
    }

    /// Whether the action at `row` ran: executed, or requested and approved.
    pub fn action_ran(&self, row: u64, status: ActionStatus) -> bool {
        match status {
            ActionStatus::Executed => true,
            ActionStatus::Requested => self
                .ix
                .approval_by_row
                .get(&row)
                .and_then(|&i| self.approval(i))
                .is_some_and(|a| a.status == ApprovalStatus::Approved),
            _ => false,
        }
    }

    fn apply_outcome(
        &mut self,
        cfg: &EngineConfig,
        m: &Meta<'_>,
        o: &OutcomeRecord<'_>,
        ev: &mut Events<'_>,
    ) -> Result<(), Divergence> {
        let agent = self.agent_of(m)?;
        let row = o.audit_event_id.row();
        let Some((status, owner)) = self.action_at(row) else {
            return diverge(format!("no action event `{}`", o.audit_event_id));
        };
        if owner.as_deref() != self.agent(agent).map(|a| a.id.as_str()) {
            return diverge("an outcome reported by an agent that does not own the action");
        }
        if !self.action_ran(row, status) {
            return diverge("an outcome for an action that did not run");
        }
        let prev = self.st.outcomes.get(&row).map(|p| (p.row, p.status));
        if o.replaces.map(EntryId::row) != prev.map(|p| p.0) {
            return diverge("`replaces` does not name the current outcome");
        }
        // The breaker learns outcomes through its own entry point: a failure
        // counts with denials; an overwritten report is taken back.
        let Some(st) = self.agent(agent) else {
            return diverge("unknown agent");
        };
        let mut b = st.breaker.clone();
        let fx = b.report_outcome(
            &cfg.breaker,
            m.at,
            prev.map(|p| p.1.to_breaker()),
            o.status.to_breaker(),
        );
        if let Some(st) = self.agent_mut(agent) {
            st.breaker = b;
        }
        self.push_effects(agent, BreakerCause::Outcome, &fx, m.row, m.at, ev);
        self.reschedule_breaker(agent, cfg);
        self.st.outcomes.insert(
            row,
            OutcomeState {
                status: o.status,
                row: m.row,
                reported_at: m.at,
            },
        );
        Ok(())
    }

    fn apply_delegation(
        &mut self,
        cfg: &EngineConfig,
        m: &Meta<'_>,
        d: &DelegationRecord<'_>,
        ev: &mut Events<'_>,
    ) -> Result<(), Divergence> {
        let parent = self.agent_of(m)?;
        match d.event {
            DelegationEvent::Created => self.apply_delegation_created(cfg, m, parent, d, ev),
            DelegationEvent::Revoked | DelegationEvent::Expired => {
                let Some(&idx) = self.ix.delegation_by_id.get(d.delegation_id.as_ref()) else {
                    return diverge(format!("unknown delegation `{}`", d.delegation_id));
                };
                let Some(del) = self.delegation(idx) else {
                    return diverge("unknown delegation");
                };
                if del.parent != parent {
                    return diverge("the entry's agent is not the delegation's parent");
                }
                let expired = d.event == DelegationEvent::Expired;
                if expired && (del.expiry_recorded || m.at < del.expires_at) {
                    return diverge("expiry of a delegation not due to expire");
                }
                if !expired && (del.revoked_at.is_some() || m.at >= del.expires_at) {
                    return diverge("revocation of a delegation that is not active");
                }
                if expired && del.revoked_at.is_some() {
                    return diverge("expiry of a revoked delegation");
                }
                if !expired && d.cause.is_none() {
                    return diverge("a revocation needs `cause`");
                }
                let (expires_at, child) = (del.expires_at, del.child);
                let id = del.id.clone();
                if let Some(del) = self.st.delegations.get_mut(idx as usize) {
                    if expired {
                        del.expiry_recorded = true;
                    } else {
                        del.revoked_at = Some(m.at);
                    }
                }
                self.timers
                    .remove(&(expires_at, Timer::DelegationExpire(idx)));
                let child_id = self.agent(child).map(|a| a.id.clone()).unwrap_or_default();
                if let Some(audit_event_id) = EntryId::from_row(m.row) {
                    self.event(
                        ev,
                        if expired {
                            EventType::DelegationExpired
                        } else {
                            EventType::DelegationRevoked
                        },
                        m.at,
                        Some(&child_id),
                        EventData::Delegation {
                            audit_event_id,
                            delegation_id: id,
                            parent_agent_id: m.agent_id.unwrap_or_default().to_owned(),
                            child_agent_id: child_id.clone(),
                            cause: d.cause,
                        },
                    );
                }
                Ok(())
            }
        }
    }

    fn apply_delegation_created(
        &mut self,
        cfg: &EngineConfig,
        m: &Meta<'_>,
        parent: u32,
        d: &DelegationRecord<'_>,
        ev: &mut Events<'_>,
    ) -> Result<(), Divergence> {
        let (Some(child_id), Some(name), Some(key_hash), Some(caps), Some(expires_at)) = (
            d.child_agent_id.as_deref(),
            d.child_name.as_deref(),
            d.child_key_hash,
            d.capabilities.as_deref(),
            d.expires_at,
        ) else {
            return diverge(
                "a created delegation needs `child_agent_id`, `child_name`, `child_key_hash`, `capabilities` and `expires_at`",
            );
        };
        if self
            .ix
            .delegation_by_id
            .contains_key(d.delegation_id.as_ref())
        {
            return diverge(format!("delegation `{}` exists already", d.delegation_id));
        }
        if self.ix.agent_by_id.contains_key(child_id) || self.ix.keys.contains_key(&key_hash) {
            return diverge("the child agent or its key exists already");
        }
        let patterns = caps
            .iter()
            .map(|c| al_policy::parse_pattern(c, cfg.policy_limits.max_pattern_len()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Divergence(e.to_string()))?;
        let parent_delegation = match d.parent_delegation_id.as_deref() {
            None => None,
            Some(pd) => match self.ix.delegation_by_id.get(pd) {
                Some(&i) => Some(i),
                None => return diverge(format!("unknown parent delegation `{pd}`")),
            },
        };
        if self.agent(parent).and_then(|a| a.delegation) != parent_delegation {
            return diverge("`parent_delegation_id` is not the parent's own delegation");
        }
        let depth = parent_delegation
            .and_then(|i| self.delegation(i))
            .map_or(1, |p| p.depth + 1);
        let (Ok(idx), Ok(child)) = (
            u32::try_from(self.st.delegations.len()),
            u32::try_from(self.st.agents.len()),
        ) else {
            return diverge("too many delegations");
        };
        // The parent's breaker admits and observes the delegation (a storm of
        // delegations is one of the six signals).
        let Some(p) = self.agent(parent) else {
            return diverge("unknown parent");
        };
        let mut b = p.breaker.clone();
        let now = m.at;
        let (adm, fx_admit) = b.admit(&cfg.breaker, now);
        if adm != Admission::Allow {
            return diverge(format!(
                "the parent's breaker answers {adm:?} to a delegation"
            ));
        }
        let obs = Observation {
            action_type: DELEGATION_ACTION_TYPE,
            denied: false,
            data_count: 0,
            delegation_created: true,
        };
        let fx_observe = b.observe(&cfg.breaker, now, &obs);
        // Commit.
        if let Some(p) = self.agent_mut(parent) {
            p.breaker = b;
        }
        self.st.agents.push(AgentState {
            id: child_id.to_owned(),
            name: name.to_owned(),
            description: None,
            created_at: m.at,
            key_hash,
            key_created_at: m.at,
            breaker: Breaker::new(now),
            delegation: Some(idx),
        });
        self.ix.agent_by_id.insert(Box::from(child_id), child);
        self.ix.keys.insert(key_hash, Who::Agent(child));
        self.key_changes
            .push(KeyChange::Add(key_hash, Who::Agent(child)));
        self.st.delegations.push(DelegationState {
            id: d.delegation_id.to_string(),
            parent,
            child,
            capabilities: caps.to_vec(),
            created_at: m.at,
            expires_at,
            revoked_at: None,
            expiry_recorded: false,
            parent_delegation,
            depth,
            patterns,
        });
        self.ix
            .delegation_by_id
            .insert(Box::from(d.delegation_id.as_ref()), idx);
        self.ix.delegations_of.entry(parent).or_default().push(idx);
        self.timers
            .insert((expires_at, Timer::DelegationExpire(idx)));
        self.push_effects(parent, BreakerCause::Delegation, &fx_admit, m.row, m.at, ev);
        self.push_effects(
            parent,
            BreakerCause::Delegation,
            &fx_observe,
            m.row,
            m.at,
            ev,
        );
        self.reschedule_breaker(parent, cfg);
        Ok(())
    }

    fn apply_breaker(
        &mut self,
        cfg: &EngineConfig,
        m: &Meta<'_>,
        b: &BreakerRecord<'_>,
        ev: &mut Events<'_>,
    ) -> Result<(), Divergence> {
        let agent = self.agent_of(m)?;
        let recorded = match (b.from, b.to, b.reason) {
            (Some(from), Some(to), Some(reason)) => Some((from, to, reason)),
            (None, None, None) => None,
            _ => return diverge("`from`, `to` and `reason` go together"),
        };
        let matches = |t: &Transition, signals: &[SignalSeverity]| {
            let (reason, signal) = TransitionReason::split(t.reason);
            recorded == Some((t.from, t.to, reason))
                && b.signal == signal
                && b.score == Some(t.score)
                && b.enforcement == Some(t.enforcement)
                && b.signals.as_ref() == signals
        };
        let transition = match b.cause {
            BreakerCause::Action | BreakerCause::Delegation | BreakerCause::Outcome => {
                let Some(p) = self.pending.front() else {
                    return diverge("a breaker record with no transition to match");
                };
                if p.agent != agent || p.cause != b.cause || !matches(&p.transition, &p.signals) {
                    return diverge(format!(
                        "the recorded transition differs from the replayed one ({} -> {} {:?})",
                        p.transition.from, p.transition.to, p.transition.reason
                    ));
                }
                let t = p.transition;
                self.pending.pop_front();
                Some(t)
            }
            BreakerCause::Timer => {
                let Some(st) = self.agent(agent) else {
                    return diverge("unknown agent");
                };
                let mut br = st.breaker.clone();
                let fx = br.poll(&cfg.breaker, m.at);
                let ts: Vec<&Transition> = fx.transitions().collect();
                match ts.as_slice() {
                    [t] if matches(t, &[]) => {}
                    _ => {
                        return diverge(
                            "the recorded timer transition differs from the replayed one",
                        );
                    }
                }
                let t = ts.first().map(|t| **t);
                if let Some(a) = self.agent_mut(agent) {
                    a.breaker = br;
                }
                t
            }
            BreakerCause::Operator => {
                let (Some(cmd), Some(_by)) = (b.command, b.by.as_deref()) else {
                    return diverge("an operator record needs `command` and `by`");
                };
                let Some(st) = self.agent(agent) else {
                    return diverge("unknown agent");
                };
                let mut br = st.breaker.clone();
                let now = m.at;
                let res = match cmd {
                    BreakerCommand::Halt => br.halt(now),
                    BreakerCommand::Resume => br.resume(now),
                    BreakerCommand::Kill => br.kill(now),
                    BreakerCommand::Recalibrate => br.recalibrate(now),
                    BreakerCommand::CompleteCalibration => {
                        br.complete_calibration(&cfg.breaker, now)
                    }
                };
                let Ok(fx) = res else {
                    return diverge(format!("the breaker refuses `{}`", cmd.as_str()));
                };
                let ts: Vec<&Transition> = fx.transitions().collect();
                let ok = match ts.as_slice() {
                    [] => recorded.is_none(),
                    [t] => matches(t, &[]),
                    _ => false,
                };
                if !ok {
                    return diverge(
                        "the recorded command's transition differs from the replayed one",
                    );
                }
                let t = ts.first().map(|t| **t);
                if let Some(a) = self.agent_mut(agent) {
                    a.breaker = br;
                }
                t
            }
        };
        self.reschedule_breaker(agent, cfg);
        if let Some(t) = transition
            && t.enforcement
            && let Some(audit_event_id) = EntryId::from_row(m.row)
        {
            let (reason, signal) = TransitionReason::split(t.reason);
            self.event(
                ev,
                EventType::EnforcementTriggered,
                m.at,
                m.agent_id,
                EventData::Enforcement {
                    audit_event_id,
                    from: t.from,
                    to: t.to,
                    reason,
                    signal,
                    score: t.score,
                },
            );
        }
        Ok(())
    }

    fn apply_policy(
        &mut self,
        cfg: &EngineConfig,
        m: &Meta<'_>,
        p: &PolicyChangeRecord<'_>,
        ev: &mut Events<'_>,
    ) -> Result<(), Divergence> {
        let name = p.name.as_ref();
        let existing = self.specs.get(name);
        let spec = match p.event {
            PolicyEvent::Removed => {
                if existing.is_none() {
                    return diverge(format!("removal of unknown policy `{name}`"));
                }
                None
            }
            PolicyEvent::Added | PolicyEvent::Modified => {
                let Some(v) = p.policy.as_deref() else {
                    return diverge("an added or modified policy needs `policy`");
                };
                let spec = Org::parse_policy(v, cfg).map_err(Divergence)?;
                if spec.name != name
                    || spec.id.as_deref() != Some(p.policy_id.as_ref())
                    || spec.version != Some(p.version)
                {
                    return diverge("`policy` does not match `name`, `policy_id` and `version`");
                }
                let want_version = existing.and_then(|e| e.version).map_or(1, |v| v + 1);
                match (p.event, existing) {
                    (PolicyEvent::Added, None) | (PolicyEvent::Modified, Some(_)) => {}
                    _ => {
                        return diverge(format!(
                            "`{}` of policy `{name}` does not fit",
                            p.event.as_str()
                        ));
                    }
                }
                if p.version != want_version {
                    return diverge(format!(
                        "policy `{name}` version {} after {}",
                        p.version,
                        want_version - 1
                    ));
                }
                Some((spec, v.clone()))
            }
        };
        match spec {
            Some((spec, v)) => {
                self.specs.insert(name.to_owned(), spec);
                self.st.policies.insert(name.to_owned(), v);
            }
            None => {
                self.specs.remove(name);
                self.st.policies.remove(name);
            }
        }
        self.set_dirty = true;
        if let Some(audit_event_id) = EntryId::from_row(m.row) {
            self.event(
                ev,
                EventType::PolicyChanged,
                m.at,
                None,
                EventData::Policy {
                    audit_event_id,
                    name: name.to_owned(),
                    policy_id: p.policy_id.to_string(),
                    change: p.event,
                    version: p.version,
                },
            );
        }
        Ok(())
    }

    fn apply_key(
        &mut self,
        cfg: &EngineConfig,
        m: &Meta<'_>,
        k: &KeyRecord<'_>,
    ) -> Result<(), Divergence> {
        let new_key = |s: &Org| -> Result<Digest, Divergence> {
            match k.key_hash {
                Some(h) if !s.ix.keys.contains_key(&h) => Ok(h),
                Some(_) => diverge("the new key exists already"),
                None => diverge("`key_hash` is required"),
            }
        };
        match k.event {
            KeyEvent::OrgCreated => {
                if m.row != 1 || k.org_id.as_deref() != Some(self.id.as_ref()) {
                    return diverge("`org_created` must be row 1 and name this org");
                }
                let h = new_key(self)?;
                self.st.created_at = m.at;
                self.add_service_key(h, k.name.as_deref(), m.at);
            }
            _ if m.row == 1 => return diverge("row 1 must be `org_created`"),
            KeyEvent::ServiceKeyIssued => {
                let h = new_key(self)?;
                self.add_service_key(h, k.name.as_deref(), m.at);
            }
            KeyEvent::ServiceKeyRotated | KeyEvent::ServiceKeyRevoked => {
                let Some(old) = k
                    .revoked_key_hash
                    .filter(|h| self.st.service_keys.contains_key(h))
                else {
                    return diverge("`revoked_key_hash` names no service key");
                };
                let new = if k.event == KeyEvent::ServiceKeyRotated {
                    Some(new_key(self)?)
                } else {
                    None
                };
                let name = self.st.service_keys.get(&old).and_then(|s| s.name.clone());
                self.st.service_keys.remove(&old);
                self.ix.keys.remove(&old);
                self.key_changes.push(KeyChange::Remove(old));
                if let Some(h) = new {
                    self.add_service_key(h, name.as_deref(), m.at);
                }
            }
            KeyEvent::AgentRegistered => {
                let Some(id) = m.agent_id else {
                    return diverge("`agent_registered` needs the agent in the header");
                };
                if self.ix.agent_by_id.contains_key(id) {
                    return diverge(format!("agent `{id}` exists already"));
                }
                let Some(name) = k.name.as_deref() else {
                    return diverge("`agent_registered` needs `name`");
                };
                let h = new_key(self)?;
                let Ok(idx) = u32::try_from(self.st.agents.len()) else {
                    return diverge("too many agents");
                };
                if self.st.agents.len() >= cfg.max_agents_per_org {
                    return diverge("more agents than `max_agents_per_org`");
                }
                self.st.agents.push(AgentState {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    description: k.description.as_deref().map(str::to_owned),
                    created_at: m.at,
                    key_hash: h,
                    key_created_at: m.at,
                    breaker: Breaker::new(m.at),
                    delegation: None,
                });
                self.ix.agent_by_id.insert(Box::from(id), idx);
                self.ix.keys.insert(h, Who::Agent(idx));
                self.key_changes.push(KeyChange::Add(h, Who::Agent(idx)));
            }
            KeyEvent::AgentKeyRotated => {
                let agent = self.agent_of(m)?;
                let h = new_key(self)?;
                let Some(a) = self.agent(agent) else {
                    return diverge("unknown agent");
                };
                if k.revoked_key_hash != Some(a.key_hash) {
                    return diverge("`revoked_key_hash` is not the agent's key");
                }
                let old = a.key_hash;
                if let Some(a) = self.agent_mut(agent) {
                    a.key_hash = h;
                    a.key_created_at = m.at;
                }
                self.ix.keys.remove(&old);
                self.ix.keys.insert(h, Who::Agent(agent));
                self.key_changes.push(KeyChange::Remove(old));
                self.key_changes.push(KeyChange::Add(h, Who::Agent(agent)));
            }
        }
        Ok(())
    }

    fn add_service_key(&mut self, h: Digest, name: Option<&str>, at: Timestamp) {
        self.st.service_keys.insert(
            h,
            ServiceKey {
                name: name.map(str::to_owned),
                created_at: at,
            },
        );
        self.ix.keys.insert(h, Who::Service);
        self.key_changes.push(KeyChange::Add(h, Who::Service));
    }

    /// Rebuild everything derived from `st` (after loading a snapshot);
    /// `replay` is the snapshot's replay index.
    pub fn rebuild_derived(
        &mut self,
        cfg: &EngineConfig,
        replay: &[(u32, String, u64)],
    ) -> Result<(), String> {
        let mut ix = Indexes::new(SeededState::new(cfg.hash_seed));
        let mut timers = BTreeSet::new();
        for h in self.st.service_keys.keys() {
            ix.keys.insert(*h, Who::Service);
        }
        for (i, a) in self.st.agents.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| "too many agents".to_owned())?;
            if ix.agent_by_id.insert(Box::from(a.id.as_str()), i).is_some()
                || ix.keys.insert(a.key_hash, Who::Agent(i)).is_some()
            {
                return Err(format!("agent `{}` or its key appears twice", a.id));
            }
        }
        for (i, d) in self.st.delegations.iter_mut().enumerate() {
            let i = u32::try_from(i).map_err(|_| "too many delegations".to_owned())?;
            d.patterns = d
                .capabilities
                .iter()
                .map(|c| al_policy::parse_pattern(c, cfg.policy_limits.max_pattern_len()))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            ix.delegation_by_id.insert(Box::from(d.id.as_str()), i);
            ix.delegations_of.entry(d.parent).or_default().push(i);
            if d.revoked_at.is_none() && !d.expiry_recorded {
                timers.insert((d.expires_at, Timer::DelegationExpire(i)));
            }
        }
        for (i, a) in self.st.approvals.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| "too many approvals".to_owned())?;
            ix.approval_by_id.insert(Box::from(a.id.as_str()), i);
            ix.approval_by_row.insert(a.action_row, i);
            if a.status.is_open() {
                timers.insert((a.timeout_at, Timer::ApprovalTimeout(i)));
                if a.status == ApprovalStatus::Pending
                    && let Some(e) = a.escalate_at
                {
                    timers.insert((e, Timer::ApprovalEscalate(i)));
                }
            }
        }
        let mut specs = BTreeMap::new();
        for (name, v) in &self.st.policies {
            specs.insert(name.clone(), Org::parse_policy(v, cfg)?);
        }
        self.ix = ix;
        self.timers = timers;
        self.specs = specs;
        for (agent, e, row) in replay {
            if self.agent(*agent).is_none() {
                return Err(format!("replay entry for unknown agent {agent}"));
            }
            self.replay_insert(*agent, e, *row);
        }
        for i in 0..self.st.agents.len() {
            self.reschedule_breaker(u32::try_from(i).unwrap_or(u32::MAX), cfg);
        }
        self.set_dirty = true;
        self.refresh_policies(cfg);
        Ok(())
    }

    /// The next timer, if any.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.timers.first().map(|(t, _)| *t)
    }
}

/// The action type a delegation's creation is observed as by the parent's breaker.
pub(crate) const DELEGATION_ACTION_TYPE: &str = "delegation.create";
