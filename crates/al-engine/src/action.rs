//! `POST /actions`: the action pipeline.

use std::borrow::Cow;

use al_breaker::{Admission, State};
use al_policy::{ActionRequest, Agent, ConditionEvaluated};
use al_types::{EntryId, Timestamp};
use serde_json::Value;

use crate::body::Obj;
use crate::config::EngineConfig;
use crate::engine::{Effects, Engine, derive_id};
use crate::error::EngineError;
use crate::records::{
    ActionRecord, ActionStatus, ApprovalEvent, ApprovalRecord, BreakerRecord, DataItem,
    DenialReason, Record, SignalSeverity, TransitionReason, request_digest,
};
use crate::state::{ApprovalState, Org, Who};
use crate::wire::{ActionAnswer, ActionResult};

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

/// A validated request body.
pub(crate) struct Parsed {
    pub req: ActionRequest,
    pub requested_at: Timestamp,
    pub data: Vec<DataItem>,
}

/// Read a `POST /actions` body. `timestamp` is optional (`default_ts` then);
/// `count` defaults to 1; unknown keys are refused.
pub(crate) fn parse_action(
    body: &str,
    default_ts: Timestamp,
    cfg: &EngineConfig,
) -> Result<Parsed, EngineError> {
    let mut o = Obj::parse(body, cfg)?;
    let action_type = o.req_string("action_type", cfg.policy_limits.max_pattern_len())?;
    let requested_at = match o.take("timestamp") {
        None => default_ts,
        Some(Value::String(s)) => Timestamp::parse_rfc3339(&s).map_err(|e| {
            EngineError::invalid("timestamp", format!("is not an RFC 3339 timestamp: {e}"))
        })?,
        Some(_) => {
            return Err(EngineError::invalid(
                "timestamp",
                "must be an RFC 3339 string",
            ));
        }
    };
    let items = o.array("data_accessed")?.unwrap_or_default();
    if items.len() > cfg.policy_limits.max_data_accessed() {
        return Err(EngineError::invalid(
            "data_accessed",
            format!(
                "{} items, over the limit of {}",
                items.len(),
                cfg.policy_limits.max_data_accessed()
            ),
        ));
    }
    let mut data = Vec::with_capacity(items.len());
    for (i, it) in items.into_iter().enumerate() {
        data.push(data_item(i, it, cfg)?);
    }
    let metadata = o.object("metadata")?.unwrap_or_default();
    o.finish()?;
    let policy_data: Vec<al_policy::DataAccess> = data.iter().map(DataItem::to_policy).collect();
    let req = ActionRequest::new(
        action_type,
        requested_at,
        policy_data,
        metadata,
        &cfg.policy_limits,
    )
    .map_err(EngineError::from_policy)?;
    Ok(Parsed {
        req,
        requested_at,
        data,
    })
}

fn data_item(i: usize, v: Value, cfg: &EngineConfig) -> Result<DataItem, EngineError> {
    let field = |f: &str| format!("data_accessed[{i}]{f}");
    let Value::Object(m) = v else {
        return Err(EngineError::invalid(field(""), "must be an object"));
    };
    let mut o = Obj::from_map(m, field("."));
    let data_type = match o.take("type") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= cfg.policy_limits.max_name_len() => s,
        Some(Value::String(_)) => {
            return Err(EngineError::invalid(
                field(".type"),
                format!(
                    "must be 1 to {} bytes long",
                    cfg.policy_limits.max_name_len()
                ),
            ));
        }
        Some(_) => return Err(EngineError::invalid(field(".type"), "must be a string")),
        None => return Err(EngineError::invalid(field(".type"), "is required")),
    };
    let count = match o.take("count") {
        None => 1,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            EngineError::invalid(field(".count"), "must be a non-negative integer")
        })?,
        Some(_) => {
            return Err(EngineError::invalid(
                field(".count"),
                "must be a non-negative integer",
            ));
        }
    };
    let sensitivity = match o.take("sensitivity") {
        None => None,
        Some(Value::String(s)) => Some(al_policy::Sensitivity::parse(&s).ok_or_else(|| {
            EngineError::invalid(
                field(".sensitivity"),
                format!(
                    "`{}` is not one of `public`, `low`, `medium`, `high`, `critical`",
                    crate::error::cut(&s)
                ),
            )
        })?),
        Some(_) => {
            return Err(EngineError::invalid(
                field(".sensitivity"),
                "must be a string",
            ));
        }
    };
    o.finish()?;
    Ok(DataItem {
        data_type,
        count,
        sensitivity,
    })
}

fn check_header(name: &str, v: &str, max: usize) -> Result<(), EngineError> {
    if v.is_empty() || v.len() > max || v.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(EngineError::invalid(
            name,
            format!("must be 1 to {max} printable ASCII characters without spaces"),
        ));
    }
    Ok(())
}

/// The decision before anything is written.
pub(crate) struct Decided {
    pub status: ActionStatus,
    pub denial_reason: Option<DenialReason>,
    /// Index of the deciding policy in the org's set.
    pub policy: Option<usize>,
    pub decided_as: Option<u32>,
    pub conditions: Vec<ConditionEvaluated>,
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
        // Breaker admit, on a copy: `apply` makes the same calls for real.
        let mut halted = false;
        if !scope_denied {
            let mut b = a.breaker.clone();
            match b.admit(&self.cfg.breaker, at).0 {
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
        let row = self.commit(org_idx, &rec, Some(&agent_id), at, &mut fx)?;
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
        let result = action_result(audit_event_id, &record, approval);
        Ok((
            ActionAnswer {
                http_status: record.status.http_status(),
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

impl Decided {
    pub(crate) fn refused(r: DenialReason) -> Decided {
        Decided {
            status: ActionStatus::Denied,
            denial_reason: Some(r),
            policy: None,
            decided_as: None,
            conditions: Vec::new(),
        }
    }
}

fn rank(s: ActionStatus) -> u8 {
    match s {
        ActionStatus::Executed => 0,
        ActionStatus::Requested => 1,
        ActionStatus::Denied | ActionStatus::PolicyNotFound => 2,
    }
}

/// Evaluate as the agent and, for a delegated child, as each delegator up
/// the chain: a child never gets more than its parent would, so the first
/// more restrictive answer decides.
pub(crate) fn evaluate(org: &Org, agent: u32, req: &ActionRequest) -> Decided {
    let one = |who: u32| -> Option<(ActionStatus, Option<DenialReason>, Option<usize>)> {
        let a = org.agent(who)?;
        let d = org.set.evaluate(
            req,
            &Agent {
                id: &a.id,
                name: &a.name,
            },
        );
        let idx = d.policy.and_then(|p| {
            org.set
                .policies()
                .binary_search_by(|q| q.name().cmp(p.name()))
                .ok()
        });
        Some((
            ActionStatus::from_policy(d.status),
            d.denial_reason.map(DenialReason::from_policy),
            idx,
        ))
    };
    let Some((mut status, mut reason, mut policy)) = one(agent) else {
        return Decided::refused(DenialReason::PolicyDenied);
    };
    let mut decided_as = None;
    let mut cur = org.agent(agent).and_then(|a| a.delegation);
    while let Some(di) = cur {
        let Some(d) = org.delegation(di) else { break };
        if rank(status) == 2 {
            break;
        }
        if let Some((s, r, p)) = one(d.parent)
            && rank(s) > rank(status)
        {
            (status, reason, policy, decided_as) = (s, r, p, Some(d.parent));
        }
        cur = d.parent_delegation;
    }
    // Conditions, exactly as the SDK shows them: only when the deciding
    // policy has any (the explanation allocates; most decisions skip it).
    let conditions = match policy.and_then(|i| org.set.policies().get(i)) {
        Some(p) if !p.spec().conditions.is_empty() => {
            let who = decided_as.unwrap_or(agent);
            org.agent(who)
                .map(|a| {
                    org.set
                        .explain(
                            req,
                            &Agent {
                                id: &a.id,
                                name: &a.name,
                            },
                        )
                        .conditions_evaluated
                })
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    Decided {
        status,
        denial_reason: reason,
        policy,
        decided_as,
        conditions,
    }
}

/// The answer to a repeated `X-AL-Event-ID`.
fn replay(
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
        .and_then(|e| Record::decode(e.kind, e.fields).map_err(EngineError::Internal))?;
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
        result: action_result(id, &rec, approval),
    })
}

/// The `ActionResult` of a recorded action: the same function answers the
/// first time and every replay, so a replay is the original result.
pub(crate) fn action_result(
    audit_event_id: EntryId,
    rec: &ActionRecord<'_>,
    approval: Option<&ApprovalState>,
) -> ActionResult {
    ActionResult {
        status: rec.status,
        audit_event_id,
        approval_id: approval.map(|a| a.id.clone()),
        message: message(rec),
        timeout_at: approval.map(|a| a.timeout_at),
        denial_reason: rec.denial_reason,
        policy_name: rec.policy_name.as_deref().map(str::to_owned),
        policy_id: rec.policy_id.as_deref().map(str::to_owned),
        policy_version: rec.policy_version,
        conditions_evaluated: rec.conditions_evaluated.to_vec(),
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
