//! Approvals: status (the SDK's `gate` polls it) and the operator's decision.

use std::borrow::Cow;

use al_types::{EntryId, Timestamp};
use serde_json::Value;

use crate::body::{Obj, check_name};
use crate::engine::{Effects, Engine};
use crate::error::{EngineError, cut};
use crate::records::{ApprovalEvent, ApprovalRecord, Record};
use crate::state::{Org, Who};
use crate::wire::ApprovalView;

impl Engine {
    /// `GET /api/approvals/{id}/status`: the owning agent's key or a
    /// service key of the org. The status is evaluated at `now`: an open
    /// approval past its timeout reads `timed_out` (a denial) even before
    /// the timer has written its entry.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `404 NOT_FOUND`, `403 FORBIDDEN` (another agent's).
    pub fn approval_status(
        &self,
        now: Timestamp,
        api_key: &str,
        approval_id: &str,
    ) -> Result<ApprovalView, EngineError> {
        let c = self.any_caller(api_key)?;
        let org = self.org(c.org)?;
        let idx = *org
            .ix
            .approval_by_id
            .get(approval_id)
            .ok_or_else(|| EngineError::not_found("approval", approval_id))?;
        if let Who::Agent(me) = c.who
            && org.approval(idx).is_some_and(|a| a.agent != me)
        {
            return Err(EngineError::Forbidden(format!(
                "approval `{}` belongs to another agent",
                cut(approval_id)
            )));
        }
        org.approval_view(idx, org.st.clock.max(now))
    }

    /// Operator (service key): approve or deny. Body `{decision:
    /// "approve"|"deny", reviewer, comment?}`. The decision applies to the
    /// exact action the approval is bound to, once; it reports
    /// `policy_changed` when the deciding policy changed or was removed
    /// since the request.
    ///
    /// # Errors
    /// `401`, `403 SERVICE_KEY_REQUIRED`, `400 INVALID_REQUEST`, `404`,
    /// `409 APPROVAL_NOT_PENDING` (decided, or timed out at `now`).
    pub fn decide_approval(
        &mut self,
        now: Timestamp,
        service_key: &str,
        approval_id: &str,
        body: &str,
    ) -> Result<(ApprovalView, Effects), EngineError> {
        let c = self.service_caller(service_key)?;
        let cfg = &self.cfg;
        let mut o = Obj::parse(body, cfg)?;
        let approve = match o.take("decision") {
            Some(Value::String(s)) if s == "approve" => true,
            Some(Value::String(s)) if s == "deny" => false,
            None => return Err(EngineError::invalid("decision", "is required")),
            Some(_) => {
                return Err(EngineError::invalid(
                    "decision",
                    "must be `approve` or `deny`",
                ));
            }
        };
        let reviewer = o.req_string("reviewer", cfg.max_name_bytes)?;
        let comment = o.string("comment", cfg.max_description_bytes)?;
        o.finish()?;
        check_name("reviewer", &reviewer, cfg.max_name_bytes)?;
        let org = self.org(c.org)?;
        let idx = *org
            .ix
            .approval_by_id
            .get(approval_id)
            .ok_or_else(|| EngineError::not_found("approval", approval_id))?;
        let at = org.st.clock.max(now);
        let a = org
            .approval(idx)
            .ok_or_else(|| EngineError::Internal("unknown approval".into()))?;
        let status = a.status_at(at);
        if !status.is_open() {
            return Err(EngineError::ApprovalNotPending {
                approval_id: a.id.clone(),
                status: status.as_str(),
            });
        }
        let current = a.policy_name.as_deref().and_then(|n| org.set.get(n));
        let policy_changed = current.map(al_policy::CompiledPolicy::digest) != a.policy_digest;
        let agent_id = org.agent(a.agent).map(|x| x.id.clone()).unwrap_or_default();
        let rec = Record::Approval(ApprovalRecord {
            event: if approve {
                ApprovalEvent::Approved
            } else {
                ApprovalEvent::Denied
            },
            approval_id: Cow::Owned(a.id.clone()),
            audit_event_id: EntryId::from_row(a.action_row)
                .ok_or_else(|| EngineError::Internal("row 0".into()))?,
            request_digest: None,
            policy_digest: None,
            policy_name: None,
            timeout_at: None,
            escalate_at: None,
            reviewer: Some(Cow::Owned(reviewer)),
            comment: comment.map(Cow::Owned),
            policy_changed: Some(policy_changed),
        });
        let mut fx = Effects::default();
        self.commit(c.org, &rec, Some(&agent_id), at, &mut fx)?;
        self.settle(c.org);
        let view = self.org(c.org)?.approval_view(idx, at)?;
        Ok((view, fx))
    }
}

impl Org {
    pub(crate) fn approval_view(
        &self,
        idx: u32,
        now: Timestamp,
    ) -> Result<ApprovalView, EngineError> {
        let a = self
            .approval(idx)
            .ok_or_else(|| EngineError::Internal("unknown approval".into()))?;
        Ok(ApprovalView {
            approval_id: a.id.clone(),
            status: a.status_at(now),
            audit_event_id: EntryId::from_row(a.action_row)
                .ok_or_else(|| EngineError::Internal("row 0".into()))?,
            agent_id: self
                .agent(a.agent)
                .map(|x| x.id.clone())
                .unwrap_or_default(),
            action_type: a.action_type.clone(),
            requested_at: a.requested_at,
            timeout_at: a.timeout_at,
            escalate_at: a.escalate_at,
            decided_at: a.decided_at,
            reviewer: a.reviewer.clone(),
            comment: a.comment.clone(),
            policy_name: a.policy_name.clone(),
            policy_changed: a.policy_changed,
            decision_event_id: a.decision_row.and_then(EntryId::from_row),
        })
    }
}
