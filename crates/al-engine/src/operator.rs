//! Operator commands on an agent's breaker.

use al_breaker::BreakerError;
use al_types::{EntryId, Timestamp};

use crate::action::breaker_record;
use crate::body::{Obj, check_name};
use crate::engine::{Effects, Engine};
use crate::error::EngineError;
use crate::records::{BreakerCause, BreakerCommand, BreakerRecord, Record, RevokeCause};
use crate::wire::AgentStatus;

impl Engine {
    /// Operator (service key): `halt`, `resume`, `kill`, `recalibrate` or
    /// `complete_calibration` an agent's breaker. Body `{by}` names the
    /// operator. Every command is its own entry (with the transition it
    /// caused, if any). Killing an agent also revokes every delegation it
    /// made, with their descendants.
    ///
    /// # Errors
    /// `401`, `403 SERVICE_KEY_REQUIRED`, `400 INVALID_REQUEST`, `404`,
    /// `403 AGENT_KILLED` (nothing changes a killed agent), `409
    /// INVALID_STATE` (e.g. `resume` when not halted).
    pub fn operate_breaker(
        &mut self,
        now: Timestamp,
        service_key: &str,
        agent_id: &str,
        command: BreakerCommand,
        body: &str,
    ) -> Result<(AgentStatus, Effects), EngineError> {
        let c = self.service_caller(service_key)?;
        let mut o = Obj::parse(body, &self.cfg)?;
        let by = o.req_string("by", self.cfg.max_name_bytes)?;
        o.finish()?;
        check_name("by", &by, self.cfg.max_name_bytes)?;
        let org = self.org(c.org)?;
        let agent = org
            .agent_idx(agent_id)
            .ok_or_else(|| EngineError::not_found("agent", agent_id))?;
        let at = org.st.clock.max(now);
        let a = org
            .agent(agent)
            .ok_or_else(|| EngineError::Internal("unknown agent index".into()))?;
        // Try the command on a copy: `apply` runs it for real.
        let mut b = a.breaker.clone();
        let res = match command {
            BreakerCommand::Halt => b.halt(at),
            BreakerCommand::Resume => b.resume(at),
            BreakerCommand::Kill => b.kill(at),
            BreakerCommand::Recalibrate => b.recalibrate(at),
            BreakerCommand::CompleteCalibration => b.complete_calibration(&self.cfg.breaker, at),
        };
        let fx_b = res.map_err(|e| match e {
            BreakerError::InvalidState { command, state } => EngineError::InvalidState {
                agent_id: agent_id.to_owned(),
                command,
                state: state.as_str(),
            },
            _ => EngineError::AgentKilled {
                agent_id: agent_id.to_owned(),
            },
        })?;
        let rec = match fx_b.transitions().next() {
            Some(tr) => breaker_record(
                BreakerCause::Operator,
                tr,
                Vec::new(),
                Some((command, by.clone())),
            ),
            None => BreakerRecord {
                cause: BreakerCause::Operator,
                command: Some(command),
                by: Some(by.clone().into()),
                from: None,
                to: None,
                reason: None,
                signal: None,
                score: None,
                enforcement: None,
                signals: Vec::new().into(),
            },
        };
        let made: Vec<u32> = org
            .ix
            .delegations_of
            .get(&agent)
            .cloned()
            .unwrap_or_default();
        let mut fx = Effects::default();
        let row = self.commit(c.org, &Record::Breaker(rec), Some(agent_id), at, &mut fx)?;
        if command == BreakerCommand::Kill {
            let who = format!("operator:{by}");
            for d in made {
                self.revoke_tree(c.org, d, RevokeCause::ParentKilled, &who, at, &mut fx)?;
            }
        }
        self.settle(c.org);
        let status = self.status_of(c.org, agent, at, EntryId::from_row(row))?;
        Ok((status, fx))
    }
}
