//! Agents: registration, key rotation, identity and breaker status.

use std::borrow::Cow;

use al_breaker::State;
use al_types::{EntryId, Timestamp};

use crate::body::{Obj, check_name};
use crate::engine::{Effects, Engine, derive_id};
use crate::error::EngineError;
use crate::keys::{Entropy, KeyKind, fingerprint};
use crate::records::{KeyEvent, KeyRecord, Record, TransitionReason};
use crate::state::{AgentState, Org, Who};
use crate::wire::{
    AgentKeyRotated, AgentStatus, Calibration, DelegationsByRole, KeyInfo, Registered, Whoami,
};

impl Engine {
    /// `POST /api/agents/register` (service key; answer 201): body
    /// `{name, description?}` → `{id, name, api_key, created_at}`. The key
    /// is in the answer only; the chain holds its SHA-256.
    ///
    /// # Errors
    /// `401`, `403 SERVICE_KEY_REQUIRED`, `400 INVALID_REQUEST`, `409 LIMIT_REACHED`.
    pub fn register_agent(
        &mut self,
        now: Timestamp,
        service_key: &str,
        body: &str,
        entropy: &mut dyn Entropy,
    ) -> Result<(Registered, Effects), EngineError> {
        let c = self.service_caller(service_key)?;
        let mut o = Obj::parse(body, &self.cfg)?;
        let name = o.req_string("name", self.cfg.max_name_bytes)?;
        let description = o.string("description", self.cfg.max_description_bytes)?;
        o.finish()?;
        check_name("name", &name, self.cfg.max_name_bytes)?;
        let org = self.org(c.org)?;
        if org.st.agents.len() >= self.cfg.max_agents_per_org {
            return Err(EngineError::LimitReached(format!(
                "the org has {} agents, the limit (`max_agents_per_org`)",
                org.st.agents.len()
            )));
        }
        let at = self.clock(c.org, now)?;
        let row = org.log.len() + 1;
        let id = derive_id("agt_", &org.id, row);
        let key = self.mint(KeyKind::Agent, entropy)?;
        let rec = Record::Key(KeyRecord {
            event: KeyEvent::AgentRegistered,
            key_kind: KeyKind::Agent,
            key_hash: Some(key.hash()),
            revoked_key_hash: None,
            org_id: None,
            name: Some(Cow::Borrowed(&name)),
            description: description.as_deref().map(Cow::Borrowed),
        });
        let mut fx = Effects::default();
        let row = self.commit(c.org, &rec, Some(&id), at, &mut fx)?;
        self.settle(c.org);
        Ok((
            Registered {
                id,
                name,
                api_key: key,
                created_at: at,
                description,
                audit_event_id: EntryId::from_row(row)
                    .ok_or_else(|| EngineError::Internal("row 0".into()))?,
            },
            fx,
        ))
    }

    /// Rotate an agent's key: a new key is issued and the old one stops
    /// working, in one entry. An agent may rotate its own key; a service
    /// key may rotate any agent's of its org.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `403 FORBIDDEN` (another agent's key), `404`.
    pub fn rotate_agent_key(
        &mut self,
        now: Timestamp,
        api_key: &str,
        agent_id: &str,
        entropy: &mut dyn Entropy,
    ) -> Result<(AgentKeyRotated, Effects), EngineError> {
        let c = self.any_caller(api_key)?;
        let org = self.org(c.org)?;
        let agent = org
            .agent_idx(agent_id)
            .ok_or_else(|| EngineError::not_found("agent", agent_id))?;
        if let Who::Agent(me) = c.who
            && me != agent
        {
            return Err(EngineError::Forbidden(
                "an agent may rotate only its own key".into(),
            ));
        }
        self.check_alive(c.org, agent)?;
        let old = org
            .agent(agent)
            .map(|a| a.key_hash)
            .ok_or_else(|| EngineError::Internal("unknown agent index".into()))?;
        let at = self.clock(c.org, now)?;
        let key = self.mint(KeyKind::Agent, entropy)?;
        let rec = Record::Key(KeyRecord {
            event: KeyEvent::AgentKeyRotated,
            key_kind: KeyKind::Agent,
            key_hash: Some(key.hash()),
            revoked_key_hash: Some(old),
            org_id: None,
            name: None,
            description: None,
        });
        let mut fx = Effects::default();
        self.commit(c.org, &rec, Some(agent_id), at, &mut fx)?;
        self.settle(c.org);
        Ok((
            AgentKeyRotated {
                id: agent_id.to_owned(),
                api_key: key,
                revoked_fingerprint: fingerprint(&old),
                created_at: at,
            },
            fx,
        ))
    }

    /// `GET /whoami` (agent key): identity, breaker state, calibration,
    /// the policies that can govern the agent, its delegations, key metadata.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `403 AGENT_KEY_REQUIRED`.
    pub fn whoami(&self, now: Timestamp, api_key: &str) -> Result<Whoami, EngineError> {
        let (c, agent) = self.agent_caller(api_key)?;
        let org = self.org(c.org)?;
        let a = org
            .agent(agent)
            .ok_or_else(|| EngineError::Internal("unknown agent index".into()))?;
        let as_parent = org
            .ix
            .delegations_of
            .get(&agent)
            .into_iter()
            .flatten()
            .filter_map(|&i| org.delegation_entry(i, now))
            .collect();
        let as_child = a
            .delegation
            .and_then(|i| org.delegation_entry(i, now))
            .into_iter()
            .collect();
        Ok(Whoami {
            config_id: a.id.clone(),
            name: a.name.clone(),
            org_id: org.id.to_string(),
            is_active: org.is_active(agent, now),
            cb_state: a.breaker.state(),
            calibration: calibration(a, self, now),
            policies: org.policy_summaries(Some(&a.id)),
            delegations: DelegationsByRole {
                as_parent,
                as_child,
            },
            key: KeyInfo {
                prefix: KeyKind::Agent.prefix(),
                fingerprint: fingerprint(&a.key_hash),
                created_at: a.key_created_at,
            },
            created_at: a.created_at,
            description: a.description.clone(),
        })
    }

    /// `GET /agent/status` (agent key): breaker state, since when, why,
    /// calibration progress.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `403 AGENT_KEY_REQUIRED`.
    pub fn agent_status(&self, now: Timestamp, api_key: &str) -> Result<AgentStatus, EngineError> {
        let (c, agent) = self.agent_caller(api_key)?;
        self.status_of(c.org, agent, now, None)
    }

    pub(crate) fn status_of(
        &self,
        org: u32,
        agent: u32,
        now: Timestamp,
        audit_event_id: Option<EntryId>,
    ) -> Result<AgentStatus, EngineError> {
        let o = self.org(org)?;
        let a = o
            .agent(agent)
            .ok_or_else(|| EngineError::Internal("unknown agent index".into()))?;
        let st = a.breaker.status(&self.cfg.breaker, now);
        let (reason, signal) = match st.reason {
            Some(r) => {
                let (r, s) = TransitionReason::split(r);
                (Some(r), s)
            }
            None => (None, None),
        };
        let since = st.since;
        Ok(AgentStatus {
            config_id: a.id.clone(),
            cb_state: st.state,
            since,
            reason,
            signal,
            calibration: calibration(a, self, now),
            is_active: o.is_active(agent, now),
            audit_event_id,
        })
    }
}

fn calibration(a: &AgentState, e: &Engine, now: Timestamp) -> Calibration {
    let p = a.breaker.calibration_percent(&e.cfg.breaker, now);
    Calibration {
        progress_percent: p,
        complete: a.breaker.state() != State::Calibrating && p == 100,
    }
}

impl Org {
    /// Not killed, and (for a delegated child) every delegation up the chain active.
    pub(crate) fn is_active(&self, agent: u32, now: Timestamp) -> bool {
        let Some(a) = self.agent(agent) else {
            return false;
        };
        if a.breaker.state() == State::Killed {
            return false;
        }
        let mut cur = a.delegation;
        while let Some(i) = cur {
            let Some(d) = self.delegation(i) else {
                return false;
            };
            if d.why_inactive(now).is_some() {
                return false;
            }
            cur = d.parent_delegation;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn derived_ids_are_stable_and_org_scoped() {
        let a = crate::engine::derive_id("agt_", "acme", 2);
        assert_eq!(a, crate::engine::derive_id("agt_", "acme", 2));
        assert_ne!(a, crate::engine::derive_id("agt_", "acme", 3));
        assert_ne!(a, crate::engine::derive_id("agt_", "other", 2));
        assert!(a.starts_with("agt_") && a.len() == 20);
    }
}
