//! Time-driven changes: approval escalation and timeout, delegation
//! expiry, breaker quiet periods.

use std::borrow::Cow;

use al_types::{EntryId, Timestamp};

use crate::action::breaker_record;
use crate::engine::{Effects, Engine};
use crate::error::EngineError;
use crate::records::{
    ApprovalEvent, ApprovalRecord, BreakerCause, DelegationEvent, DelegationRecord, Record,
};
use crate::state::{ApprovalStatus, Timer};

impl Engine {
    /// Fire every timer of `org` due at `now`, in deadline order.
    pub(crate) fn fire_timers(
        &mut self,
        org: u32,
        now: Timestamp,
        fx: &mut Effects,
    ) -> Result<(), EngineError> {
        loop {
            let o = self.org(org)?;
            let Some(&(due, timer)) = o.timers.first() else {
                break;
            };
            if due > now {
                break;
            }
            let at = due.max(o.st.clock);
            let rec: Option<(Record<'static>, String)> = match timer {
                Timer::ApprovalEscalate(i) | Timer::ApprovalTimeout(i) => {
                    let a = o
                        .approval(i)
                        .ok_or_else(|| EngineError::Internal("unknown approval".into()))?;
                    let event = match (timer, a.status) {
                        // Written only while the approval is still open at the
                        // entry's time.
                        (Timer::ApprovalEscalate(_), ApprovalStatus::Pending)
                            if a.status_at(at) == ApprovalStatus::Escalated =>
                        {
                            Some(ApprovalEvent::Escalated)
                        }
                        // The org's clock is already past the timeout (a host
                        // whose `now` lags the org's last entry): the approval
                        // times out now. Dropping the escalation instead would
                        // leave a pending approval without its escalation
                        // timer, which a restored engine would re-arm.
                        (Timer::ApprovalEscalate(_), ApprovalStatus::Pending)
                            if a.status_at(at) == ApprovalStatus::TimedOut =>
                        {
                            Some(ApprovalEvent::TimedOut)
                        }
                        (Timer::ApprovalTimeout(_), s) if s.is_open() => {
                            Some(ApprovalEvent::TimedOut)
                        }
                        _ => None,
                    };
                    let agent_id = o.agent(a.agent).map(|x| x.id.clone()).unwrap_or_default();
                    let audit_event_id = EntryId::from_row(a.action_row)
                        .ok_or_else(|| EngineError::Internal("row 0".into()))?;
                    event.map(|event| {
                        (
                            Record::Approval(ApprovalRecord {
                                event,
                                approval_id: Cow::Owned(a.id.clone()),
                                audit_event_id,
                                request_digest: None,
                                policy_digest: None,
                                policy_name: None,
                                timeout_at: None,
                                escalate_at: None,
                                reviewer: None,
                                comment: None,
                                policy_changed: None,
                            }),
                            agent_id,
                        )
                    })
                }
                Timer::DelegationExpire(i) => {
                    let d = o
                        .delegation(i)
                        .ok_or_else(|| EngineError::Internal("unknown delegation".into()))?;
                    let parent = o.agent(d.parent).map(|x| x.id.clone()).unwrap_or_default();
                    (d.revoked_at.is_none() && !d.expiry_recorded).then(|| {
                        (
                            Record::Delegation(DelegationRecord {
                                event: DelegationEvent::Expired,
                                delegation_id: Cow::Owned(d.id.clone()),
                                child_agent_id: None,
                                child_name: None,
                                child_key_hash: None,
                                capabilities: None,
                                ttl_seconds: None,
                                expires_at: None,
                                parent_delegation_id: None,
                                cause: None,
                                revoked_by: None,
                            }),
                            parent,
                        )
                    })
                }
                Timer::BreakerPoll(agent) => {
                    let a = o
                        .agent(agent)
                        .ok_or_else(|| EngineError::Internal("unknown agent".into()))?;
                    let mut b = a.breaker.clone();
                    let bfx = b.poll(&self.cfg.breaker, at);
                    bfx.transitions().next().map(|t| {
                        (
                            Record::Breaker(breaker_record(
                                BreakerCause::Timer,
                                t,
                                Vec::new(),
                                None,
                            )),
                            a.id.clone(),
                        )
                    })
                }
            };
            match rec {
                Some((rec, agent_id)) => {
                    self.commit(org, &rec, Some(&agent_id), at, fx)?;
                }
                None => {
                    // Nothing left to do for this timer (decided, revoked, or
                    // a poll with nothing due): drop it; state is unchanged.
                    if let Some(o) = self.orgs.get_mut(org as usize) {
                        o.timers.remove(&(due, timer));
                        if let Timer::BreakerPoll(a) = timer {
                            o.ix.poll_at.remove(&a);
                        }
                    }
                }
            }
        }
        self.settle(org);
        Ok(())
    }
}
