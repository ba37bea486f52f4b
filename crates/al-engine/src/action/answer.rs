//! The answer to an action: the `ActionResult` of a recorded action, the
//! same for the first answer and every replay, and its sentence for people.

use std::borrow::Cow;

use al_types::EntryId;

use super::body::Parsed;
use crate::error::EngineError;
use crate::records::{ActionRecord, ActionStatus, DenialReason, Record};
use crate::state::{ApprovalState, Org};
use crate::wire::{ActionAnswer, ActionResult};

/// The answer to a repeated `X-AL-Event-ID`.
pub(crate) fn replay(
    org: &Org,
    row: u64,
    event_id: &str,
    p: &Parsed,
    delegation_id: Option<&str>,
) -> Result<ActionAnswer, EngineError> {
    let original = org
        .log
        .entry(row)
        .ok_or_else(|| EngineError::Internal("replay row missing".into()))
        .and_then(|e| {
            // Our own entry: one that does not decode is a bug, not bad input.
            Record::decode(e.kind, e.fields).map_err(|e| EngineError::Internal(e.to_string()))
        })?;
    let Record::Action(rec) = original else {
        return Err(EngineError::Internal("replay row is not an action".into()));
    };
    let same = rec.action_type.as_ref() == p.req.action_type()
        && rec.data_accessed.as_ref() == p.data.as_slice()
        && rec.metadata.as_ref() == p.req.metadata()
        && rec.delegation_id.as_deref() == delegation_id;
    if !same {
        return Err(EngineError::IdempotencyConflict {
            event_id: crate::error::cut(event_id),
            original_row: row,
        });
    }
    let approval = org
        .ix
        .approval_by_row
        .get(&row)
        .and_then(|&i| org.approval(i));
    let id = EntryId::from_row(row).ok_or_else(|| EngineError::Internal("row 0".into()))?;
    Ok(ActionAnswer {
        http_status: 409,
        replayed: true,
        result: action_result(id, rec, approval),
    })
}

/// The `ActionResult` of a recorded action: the same function answers the
/// first time and every replay, so a replay is the original result. Takes
/// the record by value: what it owns moves into the answer uncopied.
pub(crate) fn action_result(
    audit_event_id: EntryId,
    rec: ActionRecord<'_>,
    approval: Option<&ApprovalState>,
) -> ActionResult {
    ActionResult {
        status: rec.status,
        audit_event_id,
        approval_id: approval.map(|a| a.id.clone()),
        message: message(&rec),
        timeout_at: approval.map(|a| a.timeout_at),
        denial_reason: rec.denial_reason,
        policy_name: rec.policy_name.map(Cow::into_owned),
        policy_id: rec.policy_id.map(Cow::into_owned),
        policy_version: rec.policy_version,
        conditions_evaluated: rec.conditions_evaluated.into_owned(),
    }
}

/// One sentence for people, from the record alone.
pub(crate) fn message(rec: &ActionRecord<'_>) -> String {
    let name = rec.policy_name.as_deref().unwrap_or("");
    let failing = || -> String {
        let f: Vec<String> = rec
            .conditions_evaluated
            .iter()
            .filter(|c| !c.result)
            .map(|c| format!("`{} {} {}` does not hold", c.field, c.operator, c.expected))
            .collect();
        f.join("; ")
    };
    let as_whom = match rec.decided_as.as_deref() {
        Some(d) => format!(" (as delegator `{d}`)"),
        None => String::new(),
    };
    match (rec.status, rec.denial_reason) {
        (ActionStatus::Executed, _) => format!("allowed by policy `{name}`{as_whom}"),
        (ActionStatus::PolicyNotFound, _) => format!(
            "no policy matches `{}`{as_whom}: denied by default (fail closed)",
            rec.action_type
        ),
        (ActionStatus::Requested, _) if rec.conditions_evaluated.iter().any(|c| !c.result) => {
            format!(
                "policy `{name}`{as_whom} needs approval because a condition failed: {}",
                failing()
            )
        }
        (ActionStatus::Requested, _) => format!("policy `{name}`{as_whom} requires approval"),
        (ActionStatus::Denied, Some(DenialReason::ConditionsDenied)) => format!(
            "policy `{name}`{as_whom} allows only when its conditions hold: {}",
            failing()
        ),
        (ActionStatus::Denied, Some(DenialReason::PolicyTampered)) => {
            format!("policy `{name}` does not match its recorded digest: denied (fail closed)")
        }
        (ActionStatus::Denied, Some(DenialReason::DelegationScope)) => format!(
            "`{}` is outside the delegation's capabilities",
            rec.action_type
        ),
        (ActionStatus::Denied, Some(DenialReason::AgentHalted)) => {
            "the agent's circuit breaker is in HALT: an operator must resume it".to_owned()
        }
        (ActionStatus::Denied, _) => format!("denied by policy `{name}`{as_whom}"),
    }
}
