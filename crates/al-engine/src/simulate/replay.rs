//! Replaying one entry: reading its record, tracking the state the log
//! carries (agents, delegations, breakers, approvals), re-deciding an
//! action with the policy sets under test, and tallying the result.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

use al_audit_chain::{EntryRef, Kind};
use al_breaker::State;
use al_policy::{ActionRequest, Agent, ConditionEvaluated, PolicySet};
use al_types::Timestamp;

use super::facts::ActionFacts;
use super::report::idx;
use super::{
    AgentInfo, Agents, ApprovalFate, Decided, DelegationInfo, Example, FailingCondition,
    HeldExample, HeldReason, OpenApproval, Side, SimulationError, Simulator,
};
use crate::config::MAX_DELEGATION_DEPTH;
use crate::records::{
    ActionStatus, ApprovalEvent, DelegationEvent, DenialReason, KeyEvent, Record,
};

impl Simulator<'_> {
    fn invalid(&mut self, row: u64, message: String) -> Result<(), SimulationError> {
        self.fail(SimulationError::InvalidRecord { row, message })
    }

    pub(super) fn process(&mut self, e: &EntryRef<'_>) -> Result<(), SimulationError> {
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
                        .is_none_or(|a| e.agent_id == Some(a));
                if in_window {
                    // The members a re-decision reads, straight from the
                    // bytes; anything the fast reader cannot prove is read
                    // (and refused, and worded) the strict way.
                    if let Some(facts) =
                        ActionFacts::read(e.fields_bytes(), Some(&self.metadata_keys))
                    {
                        self.simulate(row, e, facts, None);
                    } else {
                        match record(e) {
                            Ok(Record::Action(rec)) => {
                                let facts = ActionFacts::of_record(&rec);
                                self.simulate(row, e, facts, Some(&rec.conditions_evaluated));
                            }
                            Ok(_) => return self.invalid(row, "not an action record".into()),
                            Err(m) => return self.invalid(row, m),
                        }
                    }
                }
            }
            Kind::Key | Kind::Delegation | Kind::Breaker | Kind::Approval => match record(e) {
                Ok(r) => {
                    if let Err(m) = self.track(e.agent_id.map(str::to_owned), r) {
                        return self.invalid(row, m);
                    }
                }
                Err(m) => return self.invalid(row, m),
            },
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
                    self.register(id, name.into_owned(), None)?;
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
                // As the engine restores a log: a delegation names a
                // registered delegator and, when that delegator acts under
                // a delegation itself, exactly that one; so every chain
                // ends, within the deepest chain a configuration allows.
                let id = d.delegation_id.into_owned();
                if self.delegations.contains_key(&id) {
                    return Err(format!("delegation `{id}` is created twice"));
                }
                let Some(delegator) = self.agents.get(&parent) else {
                    return Err(format!("the delegator `{parent}` is not registered"));
                };
                let parent_delegation = d.parent_delegation_id.map(|s| s.into_owned());
                if delegator.delegation != parent_delegation {
                    return Err(format!(
                        "`parent_delegation_id` of `{id}` is not the delegator's own delegation"
                    ));
                }
                let depth = match &parent_delegation {
                    None => 1,
                    Some(p) => self.delegations.get(p).map_or(1, |p| p.depth + 1),
                };
                if depth > MAX_DELEGATION_DEPTH {
                    return Err(format!(
                        "delegation `{id}` is {depth} levels deep, over the {MAX_DELEGATION_DEPTH} any configuration allows"
                    ));
                }
                self.register(child.into_owned(), name.into_owned(), Some(id.clone()))?;
                self.delegations.insert(
                    id,
                    DelegationInfo {
                        parent,
                        parent_delegation,
                        depth,
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

    /// Record an agent's registration; an id registered twice is refused,
    /// as the engine refuses it when it restores the log.
    fn register(
        &mut self,
        id: String,
        name: String,
        delegation: Option<String>,
    ) -> Result<(), String> {
        match self.agents.entry(id) {
            Entry::Occupied(o) => Err(format!("agent `{}` is registered twice", o.key())),
            Entry::Vacant(v) => {
                v.insert(AgentInfo {
                    name,
                    delegation,
                    breaker: State::Calibrating,
                    throttled: Cell::new(0),
                    tally: self.acc.new_agent(),
                });
                Ok(())
            }
        }
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

    pub(super) fn close(&mut self, open: OpenApproval, fate: ApprovalFate) {
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

    /// Re-decide one action. `conditions` are the recorded
    /// `conditions_evaluated` when the record was read the strict way;
    /// otherwise they are read from `e` only if an example needs them.
    fn simulate(
        &mut self,
        row: u64,
        e: &EntryRef<'_>,
        facts: ActionFacts<'_>,
        conditions: Option<&[ConditionEvaluated]>,
    ) {
        let (id, agent_id, at) = (e.id, e.agent_id, e.timestamp);
        let ActionFacts {
            action_type,
            status: recorded,
            denial_reason,
            requested_at,
            data,
            metadata,
            policy_name,
            decided_as,
        } = facts;
        let keep = self.opts.examples_per_cell;
        let acc = &mut self.acc;
        acc.totals.in_window += 1;
        acc.first_action_at.get_or_insert(at);
        acc.last_action_at = Some(at);
        let held = |detail: Option<String>| HeldExample {
            row,
            id,
            agent_id: agent_id.map(str::to_owned),
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
        // The agent is looked up once; its delegators only when it has some.
        let Some(agent) = agent_id.and_then(|a| self.agents.get(a)) else {
            acc.hold(HeldReason::UnknownAgent, keep, || held(None));
            return;
        };
        if agent.breaker == State::Throttle {
            agent.throttled.set(agent.throttled.get() + 1);
        }
        let req = match ActionRequest::new(
            action_type,
            requested_at,
            data,
            metadata,
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
        let me = (agent_id, agent);
        let new = decide(self.new, &req, me, &self.agents, &self.delegations);
        let old = match self.baseline {
            Some(b) => {
                let d = decide(b, &req, me, &self.agents, &self.delegations);
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
                policy: policy_name,
                decided_as,
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
        acc.by_old.add(old.policy, i, j);
        acc.by_new.add(new.policy, i, j);
        acc.add_agent(agent.tally, i, j);
        let mut example = None;
        if let Some(examples) = acc.examples.get_mut(i).and_then(|r| r.get_mut(j))
            && examples.len() < keep
        {
            let old_failing = match (self.baseline, conditions) {
                (Some(b), _) => failing(b, &req, &old, agent_id, &self.agents),
                (None, Some(c)) => recorded_failing(c),
                // Read the fast way: the strict reader accepts these
                // fields too (see `facts`), and has the conditions.
                (None, None) => match record(e) {
                    Ok(Record::Action(rec)) => recorded_failing(&rec.conditions_evaluated),
                    _ => Vec::new(),
                },
            };
            let new_failing = failing(self.new, &req, &new, agent_id, &self.agents);
            example = Some(examples.len());
            examples.push(Example {
                row,
                id,
                agent_id: agent_id.to_owned(),
                action_type: action_type.to_owned(),
                timestamp: at,
                requested_at,
                old: side(&old, old_failing),
                new: side(&new, new_failing),
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

/// An entry's record, deserialized straight from its canonical bytes; on
/// any refusal read again through [`Record::decode`] (a JSON map), whose
/// answer, and message, is the one that counts.
fn record(e: &EntryRef<'_>) -> Result<Record<'static>, String> {
    let direct = match e.kind {
        Kind::Action => e.fields().map(Record::Action),
        Kind::Approval => e.fields().map(Record::Approval),
        Kind::Outcome => e.fields().map(Record::Outcome),
        Kind::Delegation => e.fields().map(Record::Delegation),
        Kind::Breaker => e.fields().map(Record::Breaker),
        Kind::PolicyChange => e.fields().map(Record::PolicyChange),
        Kind::Key => e.fields().map(Record::Key),
    };
    direct.or_else(|_| {
        let entry = e.to_entry().map_err(|x| x.to_string())?;
        Record::decode(e.kind, entry.fields).map_err(|x| x.to_string())
    })
}

fn side(d: &Decided<'_>, failing: Vec<FailingCondition>) -> Side {
    Side {
        status: d.status,
        denial_reason: d.denial_reason,
        policy: d.policy.map(str::to_owned),
        decided_as: d.decided_as.map(str::to_owned),
        failing,
    }
}

/// The failing conditions among recorded ones.
fn recorded_failing(c: &[ConditionEvaluated]) -> Vec<FailingCondition> {
    c.iter()
        .filter(|c| !c.result)
        .map(failing_condition)
        .collect()
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
fn decide<'a>(
    set: &'a PolicySet,
    req: &ActionRequest,
    (agent_id, agent): (&str, &AgentInfo),
    agents: &Agents,
    delegations: &'a BTreeMap<String, DelegationInfo>,
) -> Decided<'a> {
    let as_agent = |id: &str, a: &AgentInfo| {
        let d = set.evaluate(req, &Agent { id, name: &a.name });
        (
            ActionStatus::from_policy(d.status),
            d.denial_reason.map(DenialReason::from_policy),
            d.policy,
        )
    };
    let one = |id: &str| agents.get(id).map(|a| as_agent(id, a));
    let (mut status, mut reason, mut policy) = as_agent(agent_id, agent);
    let mut decided_as: Option<&str> = None;
    let mut cur = agent.delegation.as_deref();
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
        policy: policy.map(|p| p.name()),
        decided_as,
    }
}

/// The deciding policy's failing conditions, explained as the engine
/// explains them (as the agent that decided).
fn failing(
    set: &PolicySet,
    req: &ActionRequest,
    d: &Decided<'_>,
    agent_id: &str,
    agents: &Agents,
) -> Vec<FailingCondition> {
    if d.policy.is_none() {
        return Vec::new();
    }
    let who = d.decided_as.unwrap_or(agent_id);
    let Some(a) = agents.get(who) else {
        return Vec::new();
    };
    // The conditions from the deciding evaluation (as `explain` reports
    // them, without its second pass).
    let mut conditions = Vec::new();
    let _decision = set.evaluate_with_conditions(
        req,
        &Agent {
            id: who,
            name: &a.name,
        },
        &mut conditions,
    );
    conditions
        .iter()
        .filter(|c| !c.result)
        .map(failing_condition)
        .collect()
}
