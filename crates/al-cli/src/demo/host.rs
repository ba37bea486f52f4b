//! The host around the engine: it persists the sealed entries each
//! operation returns, fires timers, records checks and narrates.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn engine_err(what: &str, e: &EngineError) -> UsageError {
    UsageError(format!("demo: {what}: {}: {e}", e.code()))
}

/// One scripted decision, as the JSON document reports it.
pub(super) struct Decision {
    pub(super) agent: String,
    pub(super) action_type: String,
    pub(super) answer: ActionAnswer,
}

impl Decision {
    pub(super) fn label(&self) -> String {
        let r = &self.answer.result;
        let mut s = format!("{} {}", self.answer.http_status, r.status.as_str());
        if let Some(d) = r.denial_reason {
            s.push(' ');
            s.push_str(d.code());
        }
        s
    }

    pub(super) fn to_json(&self) -> Value {
        let r = &self.answer.result;
        json!({
            "agent": self.agent,
            "action_type": self.action_type,
            "http_status": self.answer.http_status,
            "replayed": self.answer.replayed,
            "status": r.status,
            "denial_reason": r.denial_reason,
            "policy_name": r.policy_name,
            "approval_id": r.approval_id,
            "audit_event_id": r.audit_event_id,
            "row": r.audit_event_id.row(),
            "message": r.message,
        })
    }
}

/// A breaker record the engine wrote, for narration.
pub(super) struct Transition {
    pub(super) row: u64,
    pub(super) agent: String,
    pub(super) rec: BreakerRecord<'static>,
}

impl Transition {
    pub(super) fn to_json(&self) -> Value {
        let b = &self.rec;
        json!({
            "row": self.row,
            "agent": self.agent,
            "from": b.from,
            "to": b.to,
            "reason": b.reason,
            "signal": b.signal,
            "score": b.score,
            "enforcement": b.enforcement.unwrap_or(false),
        })
    }

    pub(super) fn describe(&self) -> String {
        let b = &self.rec;
        let state = |s: Option<State>| s.map_or("-", State::as_str);
        let reason = b
            .reason
            .and_then(|r| serde_json::to_value(r).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let signal = b
            .signal
            .map(|s| format!(": {}", s.as_str()))
            .unwrap_or_default();
        format!(
            "{} -> {} ({reason}{signal}, score {}){}",
            state(b.from),
            state(b.to),
            b.score.unwrap_or(0),
            if b.enforcement == Some(true) {
                "  enforcement.triggered"
            } else {
                ""
            }
        )
    }
}

/// The demo as a host: the engine, the clock, the randomness, and what a
/// host must keep (every sealed entry, in order) and deliver (events).
pub(super) struct Host {
    pub(super) engine: Engine,
    pub(super) entropy: DeterministicEntropy,
    pub(super) now: Timestamp,
    pub(super) persisted: Vec<SealedEntry>,
    pub(super) events: BTreeMap<&'static str, u64>,
    pub(super) names: BTreeMap<String, String>,
    pub(super) transitions: Vec<Transition>,
    pub(super) json: bool,
    /// The org's service key.
    pub(super) svc: String,
    /// Agent name → its key.
    pub(super) keys: BTreeMap<String, String>,
    pub(super) decisions: Vec<Decision>,
    pub(super) checks: Vec<(&'static str, bool)>,
    /// The `--format json` document, section by section.
    pub(super) doc: Map<String, Value>,
}

impl Host {
    pub(super) fn say(&self, s: &str) {
        if !self.json {
            outln!("{s}");
        }
    }

    /// Persist an operation's entries (in order, before "answering") and
    /// queue its events; note breaker records for the narration. Returns
    /// the rows written.
    pub(super) fn keep(&mut self, fx: Effects) -> Result<Vec<u64>, UsageError> {
        let mut rows = Vec::with_capacity(fx.entries.len());
        for s in fx.entries {
            let expected = self.persisted.len() as u64 + 1;
            if s.row != expected {
                return Err(UsageError(format!(
                    "demo: the engine returned row {} where row {expected} was due",
                    s.row
                )));
            }
            let entry = al_audit_chain::decode(&s.bytes)
                .map_err(|e| UsageError(format!("demo: row {}: {e}", s.row)))?;
            if entry.kind == Kind::Breaker
                && let Ok(Record::Breaker(rec)) = Record::decode(entry.kind, entry.fields)
                && rec.to.is_some()
            {
                let agent = entry
                    .agent_id
                    .as_deref()
                    .map(|id| self.name(id))
                    .unwrap_or_default();
                self.transitions.push(Transition {
                    row: s.row,
                    agent,
                    rec,
                });
            }
            rows.push(s.row);
            self.persisted.push(s);
        }
        for e in fx.events {
            *self.events.entry(e.event_type.as_str()).or_insert(0) += 1;
        }
        Ok(rows)
    }

    pub(super) fn key(&self, name: &str) -> String {
        self.keys.get(name).cloned().unwrap_or_default()
    }

    pub(super) fn check(&mut self, what: &'static str, passed: bool) {
        self.checks.push((what, passed));
    }

    pub(super) fn report(&mut self, section: &str, v: impl serde::Serialize) {
        self.doc.insert(
            section.to_owned(),
            serde_json::to_value(v).unwrap_or_default(),
        );
    }

    pub(super) fn name(&self, agent_id: &str) -> String {
        self.names
            .get(agent_id)
            .cloned()
            .unwrap_or_else(|| agent_id.to_owned())
    }

    /// Advance the clock and fire whatever timers fell due, as a host's
    /// timer loop would.
    pub(super) fn tick(&mut self, ms: i64) -> Result<(), UsageError> {
        self.now = self.now.saturating_add_millis(ms);
        if self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
            let fx = self.engine.handle_timeout(self.now);
            self.keep(fx)?;
        }
        Ok(())
    }

    /// `POST /actions`. An error is an answer too (4xx): nothing is kept.
    pub(super) fn act(
        &mut self,
        api_key: &str,
        body: &Value,
        event_id: Option<&str>,
        delegation_id: Option<&str>,
    ) -> Result<Result<ActionAnswer, EngineError>, UsageError> {
        let body = body.to_string();
        let call = ActionCall {
            api_key,
            body: &body,
            event_id,
            delegation_id,
        };
        match self.engine.submit_action(self.now, &call) {
            Ok((answer, fx)) => {
                self.keep(fx)?;
                Ok(Ok(answer))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// An action the script expects a decision for (not an error).
    pub(super) fn decide(
        &mut self,
        agent: &str,
        api_key: &str,
        body: &Value,
        event_id: Option<&str>,
        delegation_id: Option<&str>,
    ) -> Result<Decision, UsageError> {
        let action_type = body
            .get("action_type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let answer = self
            .act(api_key, body, event_id, delegation_id)?
            .map_err(|e| engine_err(&format!("{agent} {action_type}"), &e))?;
        let d = Decision {
            agent: agent.to_owned(),
            action_type,
            answer,
        };
        let r = &d.answer.result;
        let why = if d.answer.replayed {
            format!(
                "replay of row {}: same X-AL-Event-ID, same action; nothing appended",
                r.audit_event_id.row()
            )
        } else {
            r.message.clone()
        };
        self.say(&format!(
            "   {:<4} {:<12} {:<18} {:<30} {why}",
            r.audit_event_id.row(),
            d.agent,
            d.action_type,
            d.label()
        ));
        Ok(d)
    }
}
