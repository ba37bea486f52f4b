//! Policies: manifest import and export, listing, and the dry run.

use std::borrow::Cow;

use al_breaker::State;
use al_policy::{ActionRequest, ExportOptions, Format, Manifest, PolicySet, PolicySpec};
use al_types::{EntryId, Timestamp};
use serde_json::{Map, Value};

use crate::action::{evaluate, message};
use crate::engine::{Effects, Engine};
use crate::error::{EngineError, cut};
use crate::keys::fingerprint;
use crate::records::{
    ActionRecord, ActionStatus, DenialReason, PolicyChangeRecord, PolicyEvent, Record,
};
use crate::state::{Org, Who};
use crate::wire::{CheckResult, ImportResult, PoliciesResult, PolicyExport, PolicySummary};

/// How to import a manifest (`POST /policies/import` query parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The manifest's format; `None` sniffs it from the text.
    pub format: Option<Format>,
    /// Report what would change, change nothing.
    pub dry_run: bool,
    /// Remove policies the manifest does not list.
    pub prune: bool,
}

/// Which policies `GET /policies` lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PolicyScope {
    /// Those that can govern the calling agent: org-wide ones and those
    /// limited to it (the default).
    #[default]
    Own,
    /// Every policy of the org.
    Org,
}

impl PolicyScope {
    /// From the `scope` query parameter (`own`, `org`; absent = `own`).
    ///
    /// # Errors
    /// `400 INVALID_REQUEST` naming `scope`.
    pub fn from_query(s: Option<&str>) -> Result<PolicyScope, EngineError> {
        match s {
            None | Some("own") => Ok(PolicyScope::Own),
            Some("org") => Ok(PolicyScope::Org),
            Some(x) => Err(EngineError::invalid(
                "scope",
                format!("`{}` is not `own` or `org`", cut(x)),
            )),
        }
    }
}

/// The id a policy gets when first added: `pol_` and the first 16 hex
/// digits of SHA-256 of its name (as the policy crate assigns by default).
fn policy_id(name: &str) -> String {
    let d = al_types::Digest::of(name.as_bytes());
    format!("pol_{}", hex::encode(d.0.get(..8).unwrap_or_default()))
}

/// A policy in its stored form: manifest form with server fields.
fn stored(spec: &PolicySpec, limits: &al_policy::Limits) -> Result<Value, EngineError> {
    let m = Manifest::from_policies(vec![spec.clone()], limits).map_err(EngineError::Policy)?;
    let doc = m.export_doc(ExportOptions {
        include_server_fields: true,
    });
    let v = serde_json::to_value(&doc)
        .map_err(|e| EngineError::Internal(format!("policy export: {e}")))?;
    v.get("policies")
        .and_then(|p| p.get(0))
        .cloned()
        .ok_or_else(|| EngineError::Internal("policy export is empty".into()))
}

impl Engine {
    /// `POST /policies/import` (service key): compare the manifest with the
    /// current policies by name and report `added`, `modified`, `unchanged`
    /// and `removed`. Unless `dry_run`, write one `policy_change` entry per
    /// change (`removed` ones only with `prune`). Atomic: a manifest with
    /// any error changes nothing, and every diagnostic keeps its line and
    /// column. Server fields in the manifest (`id`, `version`,
    /// `created_at`) are ignored; a recorded `digest` that does not match
    /// its policy refuses the import.
    ///
    /// # Errors
    /// `401`, `403 SERVICE_KEY_REQUIRED`, `400` (the first diagnostic's
    /// code, e.g. `UNKNOWN_KEY`), `400 POLICY_TAMPERED`.
    pub fn import_policies(
        &mut self,
        now: Timestamp,
        service_key: &str,
        manifest: &str,
        opts: ImportOptions,
    ) -> Result<(ImportResult, Effects), EngineError> {
        let c = self.service_caller(service_key)?;
        let cfg = &self.cfg;
        let format = opts.format.unwrap_or_else(|| Format::sniff(manifest));
        let new = Manifest::parse_with(manifest, format, &cfg.policy_limits)
            .map_err(EngineError::Policy)?;
        for p in new.policies() {
            if p.digest.is_some_and(|d| d != al_policy::policy_digest(p)) {
                return Err(EngineError::PolicyTampered {
                    name: p.name.clone(),
                });
            }
        }
        let org = self.org(c.org)?;
        let at = org.st.clock.max(now);
        let old = org.manifest(cfg)?;
        let diff = al_policy::diff(&old, &new);
        // The resulting specs, with server fields.
        let mut after: std::collections::BTreeMap<String, PolicySpec> = org.specs.clone();
        let mut changes: Vec<(PolicyEvent, String, Vec<String>)> = Vec::new();
        let created_at = at.to_rfc3339();
        for p in new.policies() {
            let prev = org.specs.get(&p.name);
            let modified = diff.modified.iter().find(|m| m.name == p.name);
            let (event, spec) = match (prev, modified) {
                (None, _) => {
                    let mut s = p.clone();
                    s.id = Some(policy_id(&s.name));
                    s.version = Some(1);
                    s.created_at = Some(created_at.clone());
                    s.digest = None;
                    (PolicyEvent::Added, s)
                }
                (Some(prev), Some(_)) => {
                    let mut s = p.clone();
                    s.id.clone_from(&prev.id);
                    s.created_at.clone_from(&prev.created_at);
                    s.version = Some(prev.version.unwrap_or(1) + 1);
                    s.digest = None;
                    (PolicyEvent::Modified, s)
                }
                (Some(_), None) => continue,
            };
            let fields = modified
                .map(|m| m.fields.iter().map(|f| (*f).to_owned()).collect())
                .unwrap_or_default();
            changes.push((event, p.name.clone(), fields));
            after.insert(p.name.clone(), spec);
        }
        if opts.prune {
            for name in &diff.removed {
                after.remove(name);
                changes.push((PolicyEvent::Removed, name.clone(), Vec::new()));
            }
        }
        changes.sort_by(|a, b| a.1.cmp(&b.1));
        let set_digest = PolicySet::compile_with(
            &Manifest::from_policies(after.values().cloned().collect(), &cfg.policy_limits)
                .map_err(EngineError::Policy)?,
            &cfg.policy_limits,
        )
        .digest()
        .to_string();
        let mut result = ImportResult {
            dry_run: opts.dry_run,
            prune: opts.prune,
            added: diff.added.clone(),
            modified: diff.modified.clone(),
            unchanged: diff.unchanged.clone(),
            removed: diff.removed.clone(),
            audit_event_ids: Vec::new(),
            set_digest,
        };
        if opts.dry_run || changes.is_empty() {
            return Ok((result, Effects::default()));
        }
        let by = format!("service:{}", fingerprint(&c.key_hash));
        let mut records = Vec::with_capacity(changes.len());
        for (event, name, changed) in changes {
            let (policy_id, version, policy) = match event {
                PolicyEvent::Removed => {
                    let prev = org.specs.get(&name);
                    (
                        prev.and_then(|p| p.id.clone())
                            .unwrap_or_else(|| policy_id(&name)),
                        prev.and_then(|p| p.version).unwrap_or(1),
                        None,
                    )
                }
                _ => {
                    let spec = after
                        .get(&name)
                        .ok_or_else(|| EngineError::Internal("policy vanished".into()))?;
                    (
                        spec.id.clone().unwrap_or_else(|| policy_id(&name)),
                        spec.version.unwrap_or(1),
                        Some(stored(spec, &cfg.policy_limits)?),
                    )
                }
            };
            records.push(Record::PolicyChange(PolicyChangeRecord {
                event,
                name: Cow::Owned(name),
                policy_id: Cow::Owned(policy_id),
                version,
                policy: policy.map(Cow::Owned),
                changed: Cow::Owned(changed),
                by: Some(Cow::Owned(by.clone())),
            }));
        }
        let mut fx = Effects::default();
        for r in &records {
            let row = self.commit(c.org, r, None, at, &mut fx)?;
            result.audit_event_ids.extend(EntryId::from_row(row));
        }
        self.settle(c.org);
        Ok((result, fx))
    }

    /// `GET /policies/export` (service key): the org's policies as a
    /// manifest, deterministic (sorted by name, fixed field order, defaults
    /// omitted). With `server_fields`, `id`, `version`, `created_at` and
    /// `digest` too. Importing the export is a no-op.
    ///
    /// # Errors
    /// `401`, `403 SERVICE_KEY_REQUIRED`.
    pub fn export_policies(
        &self,
        service_key: &str,
        format: Format,
        server_fields: bool,
    ) -> Result<PolicyExport, EngineError> {
        let c = self.service_caller(service_key)?;
        let org = self.org(c.org)?;
        let m = org.manifest(&self.cfg)?;
        let content = m
            .export(
                format,
                ExportOptions {
                    include_server_fields: server_fields,
                },
            )
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(PolicyExport {
            format: match format {
                Format::Yaml => "yaml",
                Format::Json => "json",
            },
            content,
            set_digest: org.set.digest().to_string(),
        })
    }

    /// `GET /policies?scope=own|org` (agent key; a service key sees `org`).
    ///
    /// # Errors
    /// `401`, `403 AGENT_KILLED`.
    pub fn list_policies(
        &self,
        api_key: &str,
        scope: PolicyScope,
    ) -> Result<PoliciesResult, EngineError> {
        let c = self.any_caller(api_key)?;
        let org = self.org(c.org)?;
        let (scope, agent) = match (scope, c.who) {
            (PolicyScope::Own, Who::Agent(a)) => ("own", org.agent(a).map(|a| a.id.as_str())),
            _ => ("org", None),
        };
        Ok(PoliciesResult {
            scope,
            policies: org.policy_summaries(agent),
        })
    }

    /// `GET /policies/check?action_type=` (agent key; the SDK's `can_i`):
    /// what submitting the action now would get, with no metadata and no
    /// data accessed. Appends nothing, creates no approval, does not touch
    /// the breaker. Delegation scope and a halted breaker are reported as
    /// the submission would report them.
    ///
    /// # Errors
    /// As [`Engine::submit_action`] would for the same agent, except that
    /// nothing is rate limited.
    pub fn check_policy(
        &self,
        now: Timestamp,
        api_key: &str,
        action_type: &str,
    ) -> Result<CheckResult, EngineError> {
        let (c, agent) = self.agent_caller(api_key)?;
        let org = self.org(c.org)?;
        let at = org.st.clock.max(now);
        let req = ActionRequest::new(
            action_type,
            at,
            Vec::new(),
            Map::new(),
            &self.cfg.policy_limits,
        )
        .map_err(EngineError::from_policy)?;
        let a = org
            .agent(agent)
            .ok_or_else(|| EngineError::Internal("unknown agent index".into()))?;
        let own = a.delegation.and_then(|i| org.delegation(i));
        if let Some(d) = own
            && !org.is_active(agent, at)
        {
            return Err(EngineError::DelegationInactive {
                delegation_id: d.id.clone(),
                why: d.why_inactive(at).unwrap_or("revoked"),
            });
        }
        let decided = if own.is_some_and(|d| !d.allows(action_type)) {
            crate::action::Decided::refused(DenialReason::DelegationScope)
        } else if a.breaker.state() == State::Halt {
            crate::action::Decided::refused(DenialReason::AgentHalted)
        } else {
            evaluate(org, agent, &req)
        };
        let policy = decided.policy.and_then(|i| org.set.policies().get(i));
        let rec = ActionRecord {
            action_type: Cow::Borrowed(action_type),
            status: decided.status,
            denial_reason: decided.denial_reason,
            requested_at: at,
            data_accessed: Cow::Owned(Vec::new()),
            metadata: Cow::Owned(Map::new()),
            event_id: None,
            delegation_id: None,
            policy_id: None,
            policy_name: policy.map(|p| Cow::Owned(p.name().to_owned())),
            policy_version: None,
            policy_digest: None,
            decided_as: decided
                .decided_as
                .and_then(|i| org.agent(i))
                .map(|x| Cow::Owned(x.id.clone())),
            conditions_evaluated: Cow::Owned(decided.conditions),
        };
        Ok(CheckResult {
            allowed: rec.status == ActionStatus::Executed,
            needs_approval: rec.status == ActionStatus::Requested,
            action_type: action_type.to_owned(),
            status: rec.status,
            policy_name: rec.policy_name.as_deref().map(str::to_owned),
            denial_reason: rec.denial_reason,
            reason: message(&rec),
            conditions_evaluated: rec.conditions_evaluated.into_owned(),
        })
    }
}

impl Org {
    /// Summaries sorted by name: all policies, or (with `agent`) those that
    /// can govern it (org-wide, or limited to it).
    pub(crate) fn policy_summaries(&self, agent: Option<&str>) -> Vec<PolicySummary> {
        self.set
            .policies()
            .iter()
            .filter(|p| match (agent, &p.spec().agents) {
                (Some(a), Some(list)) => list.iter().any(|x| x == a) || p.is_tampered(),
                _ => true,
            })
            .map(|p| {
                let s = p.spec();
                PolicySummary {
                    id: p.id().to_owned(),
                    name: p.name().to_owned(),
                    action_type: p.pattern().to_string(),
                    approval_required: p.effect() == al_policy::Effect::RequireApproval,
                    has_conditions: !s.conditions.is_empty(),
                    version: p.version(),
                    created_at: s.created_at.clone().unwrap_or_default(),
                    effect: p.effect().as_str(),
                    agent_limited: s.agents.is_some(),
                    digest: p.digest().to_string(),
                    tampered: p.is_tampered(),
                }
            })
            .collect()
    }
}
