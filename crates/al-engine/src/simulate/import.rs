//! The import preview: what `POST /policies/import` would change in the
//! decisions an org already made.

use std::collections::BTreeMap;

use al_policy::{Format, Manifest, PolicySet, PolicySpec};

use super::{SimulationError, SimulationOptions, SimulationReport, Simulator};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::policies::ImportOptions;

impl Engine {
    /// The decision preview of an import (service key; reads only): replay
    /// every `action` entry of the caller's org through the policy set the
    /// import would produce — the manifest's policies, plus, without
    /// `prune`, the current policies it does not list — compared with the
    /// org's current policies (the baseline). A host serving `POST
    /// /policies/import?dry_run=true` can return this next to
    /// [`Engine::import_policies`]'s diff. The manifest is read exactly as
    /// the import reads it; `options.policy_limits` is replaced by the
    /// engine's own, and `options.hasher` is keyed by the engine's
    /// `hash_seed`. See [`crate::simulate`] for what the report holds.
    ///
    /// Cost: linear in the org's log (every entry is re-verified and every
    /// action in the window re-decided twice); memory as in the module docs.
    ///
    /// # Errors
    /// `401`, `403 SERVICE_KEY_REQUIRED`, the manifest's errors as
    /// [`Engine::import_policies`] gives them (`400` with every diagnostic,
    /// `400 POLICY_TAMPERED`), and `500 INTERNAL` if the org's own chain no
    /// longer verifies or decodes.
    pub fn simulate_import(
        &self,
        service_key: &str,
        manifest: &str,
        import: ImportOptions,
        options: SimulationOptions,
    ) -> Result<SimulationReport, EngineError> {
        let c = self.service_caller(service_key)?;
        let limits = &self.cfg.policy_limits;
        let format = import.format.unwrap_or_else(|| Format::sniff(manifest));
        let proposed =
            Manifest::parse_with(manifest, format, limits).map_err(EngineError::Policy)?;
        for p in proposed.policies() {
            if p.digest.is_some_and(|d| d != al_policy::policy_digest(p)) {
                return Err(EngineError::PolicyTampered {
                    name: p.name.clone(),
                });
            }
        }
        let org = self.org(c.org)?;
        let current = org.manifest(&self.cfg)?;
        let mut after: BTreeMap<String, PolicySpec> = if import.prune {
            BTreeMap::new()
        } else {
            current
                .policies()
                .iter()
                .map(|p| (p.name.clone(), p.clone()))
                .collect()
        };
        for p in proposed.policies() {
            let mut s = p.clone();
            // Checked above; the stored form carries no digest either.
            s.digest = None;
            after.insert(s.name.clone(), s);
        }
        let after = Manifest::from_policies(after.into_values().collect(), limits)
            .map_err(EngineError::Policy)?;
        let new_set = PolicySet::compile_with(&after, limits);
        let old_set = PolicySet::compile_with(&current, limits);
        let mut sim = Simulator::new(
            &new_set,
            Some(&old_set),
            SimulationOptions {
                policy_limits: limits.clone(),
                hasher: al_types::SeededState::new(self.cfg.hash_seed),
                ..options
            },
        );
        let internal = |e: SimulationError| {
            EngineError::Internal(format!("the org's own chain does not simulate: {e}"))
        };
        for s in org.log.records() {
            sim.push_entry(s.bytes, Some(&s.hash)).map_err(internal)?;
        }
        sim.finish().map_err(internal)
    }
}
