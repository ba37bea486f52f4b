//! The org's chain as the API shows it: query, verify, outcome reports, posture.

use std::borrow::Cow;
use std::collections::BTreeMap;

use al_audit_chain::{Entry, Kind, Query};
use al_types::{EntryId, Timestamp};
use serde_json::Value;

use crate::body::Obj;
use crate::engine::{Effects, Engine};
use crate::error::{EngineError, cut};
use crate::records::{OutcomeRecord, OutcomeStatus, Record};
use crate::state::{Org, POSTURE_DAYS, Who};
use crate::wire::{AuditEvent, AuditPage, Posture, PostureComponent, ReportResult, VerifyAnswer};

/// `GET /audit` query parameters, as text (the engine validates them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery<'a> {
    /// Only actions of this type.
    pub action_type: Option<&'a str>,
    /// Only entries about this agent (a service key only: an agent sees its own).
    pub agent_id: Option<&'a str>,
    /// Only entries with this status (`executed`, …; `success`, … for outcomes).
    pub status: Option<&'a str>,
    /// `action` (the default), another kind, or `all`.
    pub kind: Option<&'a str>,
    /// Only entries at or after this RFC 3339 time.
    pub since: Option<&'a str>,
    /// Only entries before this RFC 3339 time.
    pub until: Option<&'a str>,
    /// Page size: default 50, values above 200 are treated as 200.
    pub limit: Option<&'a str>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<&'a str>,
}

fn ms(field: &str, v: Option<&str>) -> Result<Option<Timestamp>, EngineError> {
    v.map(|s| Timestamp::parse_rfc3339(s).map_err(|e| EngineError::invalid(field, e.to_string())))
        .transpose()
}

impl Engine {
    /// `GET /audit`: newest first, with an opaque cursor that stays correct
    /// while entries are appended. An agent key sees the entries about its
    /// own agent; a service key sees the org's. Without `kind`, only action
    /// entries are listed (the SDK's `AuditEvent` describes actions);
    /// `kind=all` lists every entry.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `403 FORBIDDEN` (an agent asking about
    /// another), `400 INVALID_REQUEST` naming the parameter, `400 INVALID_CURSOR`.
    pub fn query_audit(&self, api_key: &str, q: &AuditQuery<'_>) -> Result<AuditPage, EngineError> {
        let c = self.any_caller(api_key)?;
        let org = self.org(c.org)?;
        let agent_id = match c.who {
            Who::Service => q.agent_id.map(str::to_owned),
            Who::Agent(me) => {
                let mine = org.agent(me).map(|a| a.id.clone()).unwrap_or_default();
                if q.agent_id.is_some_and(|a| a != mine) {
                    return Err(EngineError::Forbidden(
                        "an agent key sees only its own agent's entries".into(),
                    ));
                }
                Some(mine)
            }
        };
        let kind = match q.kind {
            None => Some(Kind::Action),
            Some("all") => None,
            Some(k) => Some(Kind::parse(k).ok_or_else(|| {
                EngineError::invalid(
                    "kind",
                    format!("`{}` is not an entry kind or `all`", cut(k)),
                )
            })?),
        };
        let limit = q
            .limit
            .map(|l| {
                l.parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| {
                    EngineError::invalid("limit", "must be an integer from 1 to 200")
                })
            })
            .transpose()?;
        let query = Query {
            action_type: q.action_type.map(str::to_owned),
            agent_id,
            status: q.status.map(str::to_owned),
            kind,
            since: ms("since", q.since)?,
            until: ms("until", q.until)?,
            limit,
            cursor: q.cursor.map(str::to_owned),
        };
        let page = org.log.query(&query).map_err(|e| match e {
            al_audit_chain::Error::InvalidCursor { cursor } => {
                EngineError::InvalidCursor(cut(&cursor))
            }
            other => EngineError::invalid("query", other.to_string()),
        })?;
        let events = page
            .entries
            .iter()
            .map(|e| org.audit_event(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AuditPage {
            events,
            next_cursor: page.next_cursor,
        })
    }

    /// `GET /audit/verify` (any key of the org): re-hash the whole chain.
    /// The answer covers the org's chain, not just the caller's entries.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`.
    pub fn verify_audit(&self, now: Timestamp, api_key: &str) -> Result<VerifyAnswer, EngineError> {
        let c = self.any_caller(api_key)?;
        let org = self.org(c.org)?;
        let v = org.log.verify(None, now).result;
        Ok(VerifyAnswer {
            org_id: org.id.to_string(),
            chain_valid: v.chain_valid,
            verified_through_row: v.verified_through_row,
            chain_hash: v.chain_hash.map(|h| h.to_string()),
            verified_from_checkpoint: v.verified_from_checkpoint,
            timestamp: now,
            first_broken_at_row_id: v.first_broken_at_row_id.map(|i| i.to_string()),
        })
    }

    /// The proof that the entry `event_id` is in the org's log, against a
    /// checkpoint of the log as it is now (taken at `now`). It serialises in
    /// exactly the format `al proof verify` reads, and
    /// [`InclusionProof::verify`](al_audit_chain::InclusionProof::verify)
    /// checks it against a checkpoint the verifier trusts. Any key of the org.
    /// The checkpoint's time is the engine's clock (`now`, or the org's last
    /// entry time if later), as for [`Engine::checkpoint`].
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `400 INVALID_REQUEST` (not an event id),
    /// `404 NOT_FOUND`.
    pub fn prove(
        &self,
        now: Timestamp,
        api_key: &str,
        event_id: &str,
    ) -> Result<al_audit_chain::InclusionProof, EngineError> {
        let c = self.any_caller(api_key)?;
        let org = self.org(c.org)?;
        let id = EntryId::parse(event_id).ok_or_else(|| {
            EngineError::invalid("event_id", "must be an event id (`evt_` and 16 hex digits)")
        })?;
        org.log
            .prove_inclusion(id, org.st.clock.max(now))
            .map_err(|_| EngineError::not_found("event", event_id))
    }

    /// A checkpoint of the org's log as it is now (size, Merkle root, head
    /// hash), for the host to sign and publish. Any key of the org.
    ///
    /// Its time is the engine's clock, as for every operation and for
    /// [`Engine::prove`]: `now`, or the org's last entry time if `now` is
    /// earlier, so a checkpoint is never dated before an entry it covers.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`.
    pub fn checkpoint(
        &self,
        now: Timestamp,
        api_key: &str,
    ) -> Result<al_audit_chain::Checkpoint, EngineError> {
        let c = self.any_caller(api_key)?;
        let org = self.org(c.org)?;
        Ok(org
            .log
            .checkpoint(org.st.clock.max(now))
            .checkpoint()
            .clone())
    }

    /// `POST /report` (agent key; answer 201): body `{audit_event_id,
    /// outcome: {status: success|failure|partial, message?, metadata?}}`.
    /// Only the agent that owns the action may report, and only on an
    /// action that ran (executed, or requested and approved). The current
    /// outcome is the last one reported; every report is its own entry, so
    /// an overwritten outcome is never lost.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `400 INVALID_REQUEST`, `404 NOT_FOUND`,
    /// `403 FORBIDDEN`, `409 ACTION_NOT_EXECUTED`.
    pub fn report_outcome(
        &mut self,
        now: Timestamp,
        api_key: &str,
        body: &str,
    ) -> Result<(ReportResult, Effects), EngineError> {
        let (c, agent) = self.agent_caller(api_key)?;
        let cfg = &self.cfg;
        let mut o = Obj::parse(body, cfg)?;
        let id_text = o.req_string("audit_event_id", 64)?;
        let outcome = o
            .object("outcome")?
            .ok_or_else(|| EngineError::invalid("outcome", "is required"))?;
        o.finish()?;
        let mut out = Obj::from_map(outcome, "outcome.");
        let status = match out.take("status") {
            Some(Value::String(s)) => match s.as_str() {
                "success" => OutcomeStatus::Success,
                "failure" => OutcomeStatus::Failure,
                "partial" => OutcomeStatus::Partial,
                _ => {
                    return Err(EngineError::invalid(
                        "outcome.status",
                        format!("`{}` is not `success`, `failure` or `partial`", cut(&s)),
                    ));
                }
            },
            None => return Err(EngineError::invalid("outcome.status", "is required")),
            Some(_) => return Err(EngineError::invalid("outcome.status", "must be a string")),
        };
        let message = out.string("message", cfg.max_description_bytes)?;
        let metadata = out.object("metadata")?;
        out.finish()?;
        let target = EntryId::parse(&id_text).ok_or_else(|| {
            EngineError::invalid(
                "audit_event_id",
                "must be an event id (`evt_` and 16 hex digits)",
            )
        })?;
        let org = self.org(c.org)?;
        let (action_status, owner) = org
            .action_at(target.row())
            .ok_or_else(|| EngineError::not_found("action event", &id_text))?;
        let me = org.agent(agent).map(|a| a.id.clone()).unwrap_or_default();
        if owner.as_deref() != Some(me.as_str()) {
            return Err(EngineError::Forbidden(format!(
                "event `{id_text}` belongs to another agent"
            )));
        }
        if !org.action_ran(target.row(), action_status) {
            return Err(EngineError::ActionNotExecuted {
                audit_event_id: id_text,
                status: action_status.as_str(),
            });
        }
        let replaces = org
            .st
            .outcomes
            .get(&target.row())
            .and_then(|p| EntryId::from_row(p.row));
        let at = org.st.clock.max(now);
        let rec = Record::Outcome(OutcomeRecord {
            audit_event_id: target,
            status,
            message: message.map(Cow::Owned),
            metadata: metadata.map(Cow::Owned),
            replaces,
        });
        let mut fx = Effects::default();
        let row = self.commit(c.org, &rec, Some(&me), at, &mut fx)?;
        self.commit_pending(c.org, at, &mut fx)?;
        self.settle(c.org);
        Ok((
            ReportResult {
                audit_event_id: target,
                status,
                reported_at: at,
                outcome_event_id: EntryId::from_row(row)
                    .ok_or_else(|| EngineError::Internal("row 0".into()))?,
                replaces,
            },
            fx,
        ))
    }

    /// `GET /posture` (any key of the org): four components of 25 points,
    /// over the 30 UTC days ending with `now`'s, each rounded half up (see
    /// the crate docs for the formulas).
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`.
    pub fn posture(&self, now: Timestamp, api_key: &str) -> Result<Posture, EngineError> {
        let c = self.any_caller(api_key)?;
        let org = self.org(c.org)?;
        Ok(org.posture(now))
    }
}

/// `max × num ÷ den`, rounded half up; `max` when `den` is 0.
fn points(max: u64, num: u64, den: u64) -> u32 {
    if den == 0 {
        return u32::try_from(max).unwrap_or(0);
    }
    let n = u128::from(max) * u128::from(num.min(den)) * 2 + u128::from(den);
    u32::try_from(n / (u128::from(den) * 2)).unwrap_or(0)
}

impl Org {
    pub(crate) fn posture(&self, now: Timestamp) -> Posture {
        let today = now.unix_day();
        let (mut actions, mut covered, mut decided, mut timed_out, mut anomalies) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        for d in &self.st.days {
            if d.day > today - POSTURE_DAYS && d.day <= today {
                actions += d.actions;
                covered += d.covered;
                decided += d.approvals_decided;
                timed_out += d.approvals_timed_out;
                anomalies += d.anomalies;
            }
        }
        let window = u32::try_from(POSTURE_DAYS).unwrap_or(30);
        let mut c = BTreeMap::new();
        let has_policies = !self.specs.is_empty();
        c.insert(
            "policy_coverage",
            PostureComponent {
                score: if actions == 0 && !has_policies {
                    0
                } else {
                    points(25, covered, actions)
                },
                max: 25,
                numerator: covered,
                denominator: actions,
                window_days: window,
                formula: "25 × actions decided by a policy ÷ actions (no actions: 25 if any policy exists, else 0)",
            },
        );
        c.insert(
            "approval_rate",
            PostureComponent {
                score: points(25, decided, decided + timed_out),
                max: 25,
                numerator: decided,
                denominator: decided + timed_out,
                window_days: window,
                formula: "25 × approvals decided by a reviewer ÷ approvals closed (decided or timed out; none: 25)",
            },
        );
        let quiet = actions.saturating_sub(anomalies.saturating_mul(10));
        c.insert(
            "anomaly_frequency",
            PostureComponent {
                score: points(25, quiet, actions),
                max: 25,
                numerator: anomalies,
                denominator: actions,
                window_days: window,
                formula: "25 × max(0, 1 − 10 × high-confidence anomalies ÷ actions) (no actions: 25)",
            },
        );
        let rows = self.log.len();
        c.insert(
            "chain_integrity",
            PostureComponent {
                score: 25,
                max: 25,
                numerator: rows,
                denominator: rows,
                window_days: 0,
                formula: "25 × rows verified ÷ rows: every entry was verified on restore or sealed by this engine",
            },
        );
        let score = c.values().map(|x| x.score).sum();
        Posture {
            score,
            components: c,
        }
    }

    /// One entry as `GET /audit` shows it.
    pub(crate) fn audit_event(&self, e: &Entry) -> Result<AuditEvent, EngineError> {
        let created_at = e.timestamp;
        let s = |k: &str| e.fields.get(k).and_then(Value::as_str).map(str::to_owned);
        let meta = e.fields.get("metadata").and_then(Value::as_object);
        let ms = |k: &str| {
            meta.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (action_type, status, timestamp) = if e.kind == Kind::Action {
            (
                s("action_type").unwrap_or_default(),
                s("status").unwrap_or_default(),
                s("requested_at")
                    .and_then(|t| Timestamp::parse_rfc3339(&t).ok())
                    .unwrap_or(created_at),
            )
        } else {
            let event = match e.kind {
                Kind::Outcome => s("status"),
                Kind::Breaker => s("command").or_else(|| s("to").map(|t| t.to_lowercase())),
                _ => s("event"),
            }
            .unwrap_or_default();
            (format!("{}.{event}", e.kind.as_str()), event, created_at)
        };
        let row = e.row();
        Ok(AuditEvent {
            id: EntryId::from_row(row)
                .map(|i| i.to_string())
                .unwrap_or_default(),
            row,
            kind: e.kind.as_str(),
            agent_id: e.agent_id.clone(),
            action_type,
            status,
            timestamp,
            created_at,
            data_accessed: e
                .fields
                .get("data_accessed")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            repo: ms("repo"),
            branch: ms("branch"),
            pr_number: meta
                .and_then(|m| m.get("pr_number"))
                .and_then(Value::as_i64),
            policy_id: s("policy_id"),
            policy_version: e
                .fields
                .get("policy_version")
                .and_then(Value::as_u64)
                .map(|v| v.to_string()),
            denial_reason: s("denial_reason"),
            outcome: (e.kind == Kind::Action)
                .then(|| self.st.outcomes.get(&row).map(|o| o.status))
                .flatten(),
            fields: e.fields.clone(),
            hash: self
                .log
                .hash(row)
                .map(|h| h.to_string())
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::points;

    #[test]
    fn points_round_half_up() {
        assert_eq!(points(25, 1, 2), 13); // 12.5 → 13
        assert_eq!(points(25, 1, 3), 8); // 8.33 → 8
        assert_eq!(points(25, 2, 3), 17); // 16.67 → 17
        assert_eq!(points(25, 0, 0), 25);
        assert_eq!(points(25, 5, 4), 25); // clamped
        assert_eq!(points(25, 0, 7), 0);
    }
}
