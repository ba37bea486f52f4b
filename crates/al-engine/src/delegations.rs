//! Delegations: a parent agent creates a scoped, time-bounded child.

use std::borrow::Cow;

use al_breaker::{Admission, State};
use al_policy::Pattern;
use al_types::{EntryId, Timestamp};
use serde_json::Value;

use crate::body::{Obj, check_name};
use crate::engine::{Effects, Engine, derive_id};
use crate::error::{EngineError, cut};
use crate::keys::{Entropy, KeyKind, fingerprint};
use crate::records::{DelegationEvent, DelegationRecord, Record, RevokeCause};
use crate::state::{Org, Who};
use crate::wire::{DelegationCreated, DelegationEntry, DelegationsResult, RevokeResult, Scope};

/// Whether every action type `child` matches is matched by `parent`.
pub(crate) fn within(child: &Pattern, parent: &Pattern) -> bool {
    match (child, parent) {
        (_, Pattern::Any) => true,
        (Pattern::Any, _) => false,
        (Pattern::Exact(e), p) => p.matches(e),
        (Pattern::Prefix(c), Pattern::Prefix(p)) => c == p || Pattern::Prefix(p.clone()).matches(c),
        (Pattern::Prefix(_), Pattern::Exact(_)) => false,
    }
}

/// Which delegations `GET /delegations` lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DelegationFilter {
    /// `Some(true)`: only those the caller made (`role=parent`);
    /// `Some(false)`: only the caller's own (`role=child`); `None`: both.
    pub as_parent: Option<bool>,
    /// Only active ones (`active_only=true`).
    pub active_only: bool,
}

impl DelegationFilter {
    /// From the query parameters `role` (`parent`, `child`) and
    /// `active_only` (`true`, `false`).
    ///
    /// # Errors
    /// `400 INVALID_REQUEST` naming the parameter.
    pub fn from_query(role: Option<&str>, active_only: Option<&str>) -> Result<Self, EngineError> {
        let as_parent = match role {
            None => None,
            Some("parent") => Some(true),
            Some("child") => Some(false),
            Some(r) => {
                return Err(EngineError::invalid(
                    "role",
                    format!("`{}` is not `parent` or `child`", cut(r)),
                ));
            }
        };
        let active_only = match active_only {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => {
                return Err(EngineError::invalid(
                    "active_only",
                    format!("`{}` is not `true` or `false`", cut(v)),
                ));
            }
        };
        Ok(DelegationFilter {
            as_parent,
            active_only,
        })
    }
}

impl Engine {
    /// `POST /delegate` (agent key; answer 201): body `{name, capabilities,
    /// ttl_seconds}` → `{delegation_id, child_api_key, expires_at}`.
    /// Capabilities are action-type patterns, each within the caller's own
    /// (a child never widens); the child never outlives the caller's own
    /// delegation (its end is clamped to it). The caller's breaker admits
    /// and observes the delegation.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `403 AGENT_KEY_REQUIRED`, `400
    /// INVALID_REQUEST`, `403 FORBIDDEN` (widening), `403
    /// DELEGATION_INACTIVE`, `403 AGENT_HALTED`, `429 RATE_LIMITED`,
    /// `409 LIMIT_REACHED` (depth, agents).
    pub fn create_delegation(
        &mut self,
        now: Timestamp,
        api_key: &str,
        body: &str,
        entropy: &mut dyn Entropy,
    ) -> Result<(DelegationCreated, Effects), EngineError> {
        let (c, parent) = self.agent_caller(api_key)?;
        let cfg = &self.cfg;
        let mut o = Obj::parse(body, cfg)?;
        let name = o.req_string("name", cfg.max_name_bytes)?;
        let caps = o
            .array("capabilities")?
            .ok_or_else(|| EngineError::invalid("capabilities", "is required"))?;
        let ttl = match o.take("ttl_seconds") {
            Some(Value::Number(n)) => n
                .as_u64()
                .filter(|t| (1..=cfg.max_delegation_ttl_secs).contains(t)),
            None => {
                return Err(EngineError::invalid("ttl_seconds", "is required"));
            }
            Some(_) => None,
        }
        .ok_or_else(|| {
            EngineError::invalid(
                "ttl_seconds",
                format!(
                    "must be an integer from 1 to {}",
                    cfg.max_delegation_ttl_secs
                ),
            )
        })?;
        o.finish()?;
        check_name("name", &name, cfg.max_name_bytes)?;
        if caps.is_empty() || caps.len() > cfg.max_capabilities {
            return Err(EngineError::invalid(
                "capabilities",
                format!(
                    "must list 1 to {} action-type patterns",
                    cfg.max_capabilities
                ),
            ));
        }
        let mut capabilities = Vec::with_capacity(caps.len());
        let mut patterns = Vec::with_capacity(caps.len());
        for (i, v) in caps.into_iter().enumerate() {
            let field = format!("capabilities[{i}]");
            let Value::String(s) = v else {
                return Err(EngineError::invalid(field, "must be a string"));
            };
            let p = al_policy::parse_pattern(&s, cfg.policy_limits.max_pattern_len())
                .map_err(|m| EngineError::invalid(field.clone(), m.to_string()))?;
            if capabilities.contains(&s) {
                return Err(EngineError::invalid(
                    field,
                    format!("`{}` is listed twice", cut(&s)),
                ));
            }
            capabilities.push(s);
            patterns.push(p);
        }
        let org = self.org(c.org)?;
        let at = org.st.clock.max(now);
        let a = org
            .agent(parent)
            .ok_or_else(|| EngineError::Internal("unknown agent index".into()))?;
        // The caller's own delegation: active, and bounding scope and lifetime.
        let own = match a.delegation {
            Some(i) => {
                let d = org
                    .delegation(i)
                    .ok_or_else(|| EngineError::Internal("unknown delegation".into()))?;
                if !org.is_active(parent, at) {
                    return Err(EngineError::DelegationInactive {
                        delegation_id: d.id.clone(),
                        why: d.why_inactive(at).unwrap_or("revoked"),
                    });
                }
                if let Some((s, _)) = capabilities
                    .iter()
                    .zip(&patterns)
                    .find(|(_, p)| !d.patterns.iter().any(|q| within(p, q)))
                {
                    return Err(EngineError::Forbidden(format!(
                        "capability `{}` is not within the caller's own delegation",
                        cut(s)
                    )));
                }
                if d.depth as usize >= cfg.max_delegation_depth {
                    return Err(EngineError::LimitReached(format!(
                        "delegation chains are at most {} deep (`max_delegation_depth`)",
                        cfg.max_delegation_depth
                    )));
                }
                Some(d)
            }
            None => None,
        };
        if org.st.agents.len() >= cfg.max_agents_per_org {
            return Err(EngineError::LimitReached(format!(
                "the org has {} agents, the limit (`max_agents_per_org`)",
                org.st.agents.len()
            )));
        }
        let secs = i64::try_from(ttl.saturating_mul(1000)).unwrap_or(i64::MAX);
        let mut expires_at = at.saturating_add_millis(secs);
        if let Some(d) = own {
            expires_at = expires_at.min(d.expires_at);
        }
        // The caller's breaker admits the delegation, on a copy.
        let mut b = a.breaker.clone();
        match b.admit(&cfg.breaker, at).0 {
            Admission::Allow => {}
            Admission::Throttled { retry_after_ms } => {
                return Err(EngineError::RateLimited { retry_after_ms });
            }
            Admission::Denied(State::Halt) => {
                return Err(EngineError::AgentHalted {
                    agent_id: a.id.clone(),
                });
            }
            Admission::Denied(_) => {
                return Err(EngineError::AgentKilled {
                    agent_id: a.id.clone(),
                });
            }
        }
        let row = org.log.len() + 1;
        let delegation_id = derive_id("dlg_", &org.id, row);
        let child_id = derive_id("agt_", &org.id, row);
        let parent_id = a.id.clone();
        let parent_delegation_id = own.map(|d| d.id.clone());
        let key = self.mint(KeyKind::Agent, entropy)?;
        let rec = Record::Delegation(DelegationRecord {
            event: DelegationEvent::Created,
            delegation_id: Cow::Borrowed(&delegation_id),
            child_agent_id: Some(Cow::Borrowed(&child_id)),
            child_name: Some(Cow::Borrowed(&name)),
            child_key_hash: Some(key.hash()),
            capabilities: Some(Cow::Borrowed(&capabilities)),
            ttl_seconds: Some(ttl),
            expires_at: Some(expires_at),
            parent_delegation_id: parent_delegation_id.map(Cow::Owned),
            cause: None,
            revoked_by: None,
        });
        let mut fx = Effects::default();
        let row = self.commit(c.org, &rec, Some(&parent_id), at, &mut fx)?;
        self.commit_pending(c.org, at, &mut fx)?;
        self.settle(c.org);
        Ok((
            DelegationCreated {
                delegation_id,
                child_api_key: key,
                expires_at,
                child_config_id: child_id,
                parent_config_id: parent_id,
                scope: Scope { capabilities },
                audit_event_id: EntryId::from_row(row)
                    .ok_or_else(|| EngineError::Internal("row 0".into()))?,
            },
            fx,
        ))
    }

    /// `DELETE /delegate/{id}` and `POST /delegations/revoke` (body
    /// `{delegation_id}`: pass the id). The delegating agent, any agent
    /// above it in the chain, or a service key of the org may revoke.
    /// Revocation cascades to every descendant delegation (each its own
    /// entry and `delegation.revoked` event). Revoking a revoked or expired
    /// delegation is not an error and appends nothing.
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `404 NOT_FOUND`, `403 FORBIDDEN`.
    pub fn revoke_delegation(
        &mut self,
        now: Timestamp,
        api_key: &str,
        delegation_id: &str,
    ) -> Result<(RevokeResult, Effects), EngineError> {
        let c = self.any_caller(api_key)?;
        let org = self.org(c.org)?;
        let idx = *org
            .ix
            .delegation_by_id
            .get(delegation_id)
            .ok_or_else(|| EngineError::not_found("delegation", delegation_id))?;
        let revoked_by = match c.who {
            Who::Service => format!("service:{}", fingerprint(&c.key_hash)),
            Who::Agent(me) => {
                if !org.delegated_by(idx, me) {
                    return Err(EngineError::Forbidden(format!(
                        "only the delegating agent, its delegators or a service key may revoke `{}`",
                        cut(delegation_id)
                    )));
                }
                org.agent(me).map(|a| a.id.clone()).unwrap_or_default()
            }
        };
        let at = org.st.clock.max(now);
        let mut fx = Effects::default();
        let cascaded =
            self.revoke_tree(c.org, idx, RevokeCause::Request, &revoked_by, at, &mut fx)?;
        self.settle(c.org);
        Ok((
            RevokeResult {
                revoked: true,
                delegation_id: delegation_id.to_owned(),
                cascaded,
            },
            fx,
        ))
    }

    /// Revoke `root` (if active) and every active descendant, parents
    /// before children. Returns the descendants revoked.
    pub(crate) fn revoke_tree(
        &mut self,
        org: u32,
        root: u32,
        cause: RevokeCause,
        by: &str,
        at: Timestamp,
        fx: &mut Effects,
    ) -> Result<Vec<String>, EngineError> {
        let o = self.org(org)?;
        let mut order = vec![(root, cause)];
        let mut i = 0;
        while let Some(&(d, _)) = order.get(i) {
            i += 1;
            let child = o.delegation(d).map(|x| x.child);
            if let Some(kids) = child.and_then(|ch| o.ix.delegations_of.get(&ch)) {
                order.extend(kids.iter().map(|&k| (k, RevokeCause::Cascade)));
            }
        }
        let mut cascaded = Vec::new();
        for (d, cause) in order {
            let o = self.org(org)?;
            let Some(del) = o.delegation(d) else { continue };
            if del.why_inactive(at).is_some() {
                continue;
            }
            let parent = o
                .agent(del.parent)
                .map(|a| a.id.clone())
                .unwrap_or_default();
            let id = del.id.clone();
            let rec = Record::Delegation(DelegationRecord {
                event: DelegationEvent::Revoked,
                delegation_id: Cow::Borrowed(&id),
                child_agent_id: None,
                child_name: None,
                child_key_hash: None,
                capabilities: None,
                ttl_seconds: None,
                expires_at: None,
                parent_delegation_id: None,
                cause: Some(cause),
                revoked_by: Some(Cow::Borrowed(by)),
            });
            self.commit(org, &rec, Some(&parent), at, fx)?;
            if d != root {
                cascaded.push(id);
            }
        }
        Ok(cascaded)
    }

    /// `GET /delegations?role=parent|child&active_only=` (agent key).
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`, `403 AGENT_KEY_REQUIRED`.
    pub fn list_delegations(
        &self,
        now: Timestamp,
        api_key: &str,
        filter: DelegationFilter,
    ) -> Result<DelegationsResult, EngineError> {
        let (c, agent) = self.agent_caller(api_key)?;
        let org = self.org(c.org)?;
        let mut idx: Vec<u32> = Vec::new();
        if filter.as_parent != Some(false) {
            idx.extend(org.ix.delegations_of.get(&agent).into_iter().flatten());
        }
        if filter.as_parent != Some(true)
            && let Some(own) = org.agent(agent).and_then(|a| a.delegation)
        {
            idx.push(own);
        }
        idx.sort_unstable();
        let delegations = idx
            .into_iter()
            .filter_map(|i| org.delegation_entry(i, now))
            .filter(|e| !filter.active_only || e.active)
            .collect();
        Ok(DelegationsResult { delegations })
    }
}

impl Org {
    /// `agent` made delegation `d`, or made one of the delegations above it.
    pub(crate) fn delegated_by(&self, d: u32, agent: u32) -> bool {
        let mut cur = Some(d);
        while let Some(i) = cur {
            let Some(del) = self.delegation(i) else {
                return false;
            };
            if del.parent == agent {
                return true;
            }
            cur = del.parent_delegation;
        }
        false
    }

    pub(crate) fn delegation_entry(&self, i: u32, now: Timestamp) -> Option<DelegationEntry> {
        let d = self.delegation(i)?;
        let status = match d.why_inactive(now) {
            None if self.is_active(d.child, now) => "active",
            None => "revoked",
            Some(w) => w,
        };
        Some(DelegationEntry {
            id: d.id.clone(),
            parent_config_id: self.agent(d.parent)?.id.clone(),
            child_config_id: self.agent(d.child)?.id.clone(),
            scope: Scope {
                capabilities: d.capabilities.clone(),
            },
            expires_at: d.expires_at,
            active: status == "active",
            status,
            created_at: d.created_at,
            revoked_at: d.revoked_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        al_policy::parse_pattern(s, 128).unwrap()
    }

    #[test]
    fn containment_never_widens() {
        let yes = [
            ("db.read", "db.*"),
            ("db.read", "db.read"),
            ("db.x.*", "db.*"),
            ("db.*", "db.*"),
            ("*", "*"),
            ("a.b", "*"),
        ];
        for (c, q) in yes {
            assert!(within(&p(c), &p(q)), "{c} within {q}");
        }
        let no = [
            ("db.*", "db.read"),
            ("*", "db.*"),
            ("dbx.read", "db.*"),
            ("db", "db.*"),
            ("db.*", "db.x.*"),
            ("email.send", "db.*"),
        ];
        for (c, q) in no {
            assert!(!within(&p(c), &p(q)), "{c} not within {q}");
        }
    }
}
