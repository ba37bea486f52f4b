//! `POST /actions`: the action pipeline ([`Engine::submit_action`]), by job:
//! reading the body (`body.rs`), the policy step (`decide.rs`), the answer
//! and its replay (`answer.rs`); the pipeline itself and the breaker
//! records it writes are here.

mod answer;
mod body;
mod decide;

use std::borrow::Cow;

use al_breaker::{Admission, State};
use al_types::{EntryId, Timestamp};

use crate::engine::{Effects, Engine, derive_id};
use crate::error::EngineError;
use crate::records::{
    ActionRecord, ActionStatus, ApprovalEvent, ApprovalRecord, BreakerRecord, DenialReason, Record,
    SignalSeverity, TransitionReason, request_digest,
};
use crate::state::{Admitted, Who};
use crate::wire::ActionAnswer;

use answer::replay;
pub(crate) use answer::{action_result, message};
use body::{check_header, parse_action};
pub(crate) use decide::{Decided, evaluate};

/// One `POST /actions` call, as the host received it.
#[derive(Clone, Copy, Debug)]
pub struct ActionCall<'a> {
    /// The bearer token (without `Bearer `).
    pub api_key: &'a str,
    /// The JSON body: `{action_type, timestamp?, data_accessed?, metadata?}`.
    pub body: &'a str,
    /// `X-AL-Event-ID`, if sent.
    pub event_id: Option<&'a str>,
    /// `X-AL-Delegation-ID`, if sent.
    pub delegation_id: Option<&'a str>,
}

impl Engine {
    /// `POST /actions`: authenticate → validate the body → replay check →
    /// killed → delegation active and in scope → breaker admit → policy
    /// evaluation → append → approval for `requested` → breaker observe →
    /// breaker transitions appended → events. See the crate docs.
    ///
    /// # Errors
    /// `401 UNAUTHORIZED`, `403 AGENT_KEY_REQUIRED`, `400 INVALID_REQUEST`
    /// (or the JSON reader's code), `409 IDEMPOTENCY_CONFLICT`, `403
    /// AGENT_KILLED`, `403 FORBIDDEN` (someone else's delegation), `403
    /// DELEGATION_INACTIVE`, `429 RATE_LIMITED`. An error appends nothing
    /// and touches no breaker.
    pub fn submit_action(
        &mut self,
        now: Timestamp,
        call: &ActionCall<'_>,
    ) -> Result<(ActionAnswer, Effects), EngineError> {
        // Authenticate: the key's SHA-256 names the principal.
        let c = self.authenticate(call.api_key)?;
        let Who::Agent(agent) = c.who else {
            return Err(EngineError::AgentKeyRequired);
        };
        let org_idx = c.org;
        let at = self.clock(org_idx, now)?;
        // Validate: nothing is recorded, no breaker is touched.
        if let Some(e) = call.event_id {
            check_header("X-AL-Event-ID", e, self.cfg.max_event_id_bytes)?;
        }
        if let Some(d) = call.delegation_id {
            check_header("X-AL-Delegation-ID", d, self.cfg.max_name_bytes)?;
        }
        let p = parse_action(call.body, at, &self.cfg)?;
        let org = self.org(org_idx)?;
        let a = org
            .agent(agent)
            .ok_or_else(|| EngineError::Internal("unknown agent index".into()))?;
        let own_delegation = a.delegation.and_then(|i| org.delegation(i).map(|d| (i, d)));
        let delegation_id: Option<&str> = match own_delegation {
            Some((_, d)) => Some(d.id.as_str()),
            None => call.delegation_id,
        };
        // Replay: the same event id and the same action answers the original.
        if let Some(e) = call.event_id
            && let Some(&row) = org.replay_of(agent).and_then(|m| m.get(e))
        {
            return replay(org, row, e, &p, delegation_id).map(|r| (r, Effects::default()));
        }
        // Killed.
        if a.breaker.state() == State::Killed {
            return Err(EngineError::AgentKilled {
                agent_id: a.id.clone(),
            });
        }
        // Delegation active and in scope.
        let mut scope_denied = false;
        match (own_delegation, call.delegation_id) {
            (Some((_, d)), Some(h)) if h != d.id => {
                return Err(EngineError::Forbidden(format!(
                    "`X-AL-Delegation-ID` `{}` is not the caller's delegation",
                    crate::error::cut(h)
                )));
            }
            (None, Some(h)) => {
                return Err(EngineError::Forbidden(format!(
                    "the caller acts under no delegation, so not under `{}`",
                    crate::error::cut(h)
                )));
            }
            (Some((i, _)), _) => {
                let mut cur = Some(i);
                while let Some(di) = cur {
                    let Some(d) = org.delegation(di) else { break };
                    if let Some(why) = d.why_inactive(at) {
                        return Err(EngineError::DelegationInactive {
                            delegation_id: d.id.clone(),
                            why,
                        });
                    }
                    cur = d.parent_delegation;
                }
                scope_denied = own_delegation.is_some_and(|(_, d)| !d.allows(p.req.action_type()));
            }
            (None, None) => {}
        }
        // Breaker admit, once, on a copy: `apply` takes the copy over
        // with the action record (restore makes the same call itself).
        let mut halted = false;
        let mut admitted = None;
        if !scope_denied {
            let mut b = a.breaker.clone();
            let (admission, effects) = b.admit(&self.cfg.breaker, at);
            match admission {
                Admission::Allow => {}
                Admission::Throttled { retry_after_ms } => {
                    return Err(EngineError::RateLimited { retry_after_ms });
                }
                Admission::Denied(State::Halt) => halted = true,
                Admission::Denied(_) => {
                    return Err(EngineError::AgentKilled {
                        agent_id: a.id.clone(),
                    });
                }
            }
            admitted = Some(Admitted {
                agent,
                at,
                breaker: b,
                admission,
                effects,
            });
        }
        // Decide.
        let decided = if scope_denied {
            Decided::refused(DenialReason::DelegationScope)
        } else if halted {
            Decided::refused(DenialReason::AgentHalted)
        } else {
            evaluate(org, agent, &p.req)
        };
        let policy = decided.policy.and_then(|i| org.set.policies().get(i));
        let agent_id = a.id.clone();
        let decided_as = decided
            .decided_as
            .and_then(|i| org.agent(i))
            .map(|x| x.id.clone());
        let record = ActionRecord {
            action_type: Cow::Borrowed(p.req.action_type()),
            status: decided.status,
            denial_reason: decided.denial_reason,
            requested_at: p.requested_at,
            data_accessed: Cow::Borrowed(&p.data),
            metadata: Cow::Borrowed(p.req.metadata()),
            event_id: call.event_id.map(Cow::Borrowed),
            delegation_id: delegation_id.map(|d| Cow::Owned(d.to_owned())),
            policy_id: policy.map(|x| Cow::Owned(x.id().to_owned())),
            policy_name: policy.map(|x| Cow::Owned(x.name().to_owned())),
            policy_version: policy.map(al_policy::CompiledPolicy::version),
            policy_digest: policy.map(al_policy::CompiledPolicy::digest),
            decided_as: decided_as.map(Cow::Owned),
            conditions_evaluated: Cow::Owned(decided.conditions),
        };
        let approval = match (decided.status, policy) {
            (ActionStatus::Requested, Some(pol)) => {
                let ap = pol.approval();
                let secs = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
                let timeout_at = at.saturating_add_millis(secs(ap.timeout_secs));
                Some((
                    request_digest(
                        &record.action_type,
                        &record.data_accessed,
                        &record.metadata,
                        delegation_id,
                    ),
                    timeout_at,
                    ap.escalate_after_secs
                        .map(|e| at.saturating_add_millis(secs(e)))
                        .filter(|e| *e < timeout_at),
                ))
            }
            _ => None,
        };
        // Append and apply.
        let mut fx = Effects::default();
        let rec = Record::Action(record);
        let row = self.commit_admitted(org_idx, &rec, Some(&agent_id), at, &mut fx, admitted)?;
        let Record::Action(record) = rec else {
            return Err(EngineError::Internal("record kind changed".into()));
        };
        let audit_event_id =
            EntryId::from_row(row).ok_or_else(|| EngineError::Internal("row 0".into()))?;
        if let Some((digest, timeout_at, escalate_at)) = approval {
            let org_id = self.org(org_idx)?.id.clone();
            let ar = Record::Approval(ApprovalRecord {
                event: ApprovalEvent::Requested,
                approval_id: Cow::Owned(derive_id("apr_", &org_id, row)),
                audit_event_id,
                request_digest: Some(digest),
                policy_digest: record.policy_digest,
                policy_name: record.policy_name.clone(),
                timeout_at: Some(timeout_at),
                escalate_at,
                reviewer: None,
                comment: None,
                policy_changed: None,
            });
            self.commit(org_idx, &ar, Some(&agent_id), at, &mut fx)?;
        }
        self.commit_pending(org_idx, at, &mut fx)?;
        self.settle(org_idx);
        let org = self.org(org_idx)?;
        let approval = org
            .ix
            .approval_by_row
            .get(&row)
            .and_then(|&i| org.approval(i));
        let http_status = record.status.http_status();
        let result = action_result(audit_event_id, record, approval);
        Ok((
            ActionAnswer {
                http_status,
                replayed: false,
                result,
            },
            fx,
        ))
    }

    /// Write the breaker transitions `apply` computed as breaker records.
    pub(crate) fn commit_pending(
        &mut self,
        org: u32,
        at: Timestamp,
        fx: &mut Effects,
    ) -> Result<(), EngineError> {
        loop {
            let o = self.org(org)?;
            let Some(p) = o.pending.front() else {
                return Ok(());
            };
            let agent_id = o
                .agent(p.agent)
                .map(|a| a.id.clone())
                .ok_or_else(|| EngineError::Internal("unknown agent index".into()))?;
            let rec = Record::Breaker(breaker_record(
                p.cause,
                &p.transition,
                p.signals.clone(),
                None,
            ));
            self.commit(org, &rec, Some(&agent_id), at, fx)?;
        }
    }
}

/// A breaker record for a transition.
pub(crate) fn breaker_record(
    cause: crate::records::BreakerCause,
    t: &al_breaker::Transition,
    signals: Vec<SignalSeverity>,
    operator: Option<(crate::records::BreakerCommand, String)>,
) -> BreakerRecord<'static> {
    let (reason, signal) = TransitionReason::split(t.reason);
    let (command, by) = match operator {
        Some((c, by)) => (Some(c), Some(Cow::Owned(by))),
        None => (None, None),
    };
    BreakerRecord {
        cause,
        command,
        by,
        from: Some(t.from),
        to: Some(t.to),
        reason: Some(reason),
        signal,
        score: Some(t.score),
        enforcement: Some(t.enforcement),
        signals: Cow::Owned(signals),
    }
}
