//! Manifests: the validated model ([`Manifest`]), and the jobs around it,
//! one file each: reading text into a positioned tree is `crate::node`;
//! `read` checks the document and policies, `condition` checks conditions
//! and their values, `syntax` holds the small grammars (patterns, fields,
//! action types, agent ids, regexes), `duration` the approval durations and
//! `export` the deterministic export.
//!
//! ```text
//! version: 1
//! policies:
//!   - name: production-safety
//!     action_type: deploy.*
//!     effect: require_approval
//!     conditions:
//!       - { field: env, operator: eq, value: production }
//!     approval: { timeout: 8h, escalate_after: 2h }
//! ```
//!
//! Unknown keys are errors (a typo such as `efect:` must never silently
//! weaken a policy). Validation collects every error with its location; a
//! manifest with any error is rejected whole.

mod condition;
mod duration;
mod export;
mod read;
mod syntax;

use std::collections::BTreeMap;

use al_types::{Digest, Location};

use crate::error::{Code, Diagnostic, Error};
use crate::limits::Limits;
use crate::model::PolicySpec;
use crate::node::{self, Format, Node};

pub use duration::{MAX_APPROVAL_SECS, format_duration, parse_duration};
pub use export::{ExportApproval, ExportCondition, ExportDoc, ExportOptions, ExportPolicy};
pub use syntax::{check_action_type, parse_field, parse_pattern};
pub(crate) use syntax::{compile_regex, fact_kind, truncate};

/// A validated manifest: `version: 1` and a list of policies with unique
/// names, every one of which obeys every rule of `docs/policy-manifest.md`.
///
/// That is a type invariant: the only ways to get a `Manifest` are to read
/// one ([`Manifest::parse`], [`Manifest::from_json_value`]) or to build one
/// from policies with [`Manifest::from_policies`], which checks them the
/// same way. The policies are read-only.
///
/// Equality compares the policies only, not where they were read from.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The policies, in source order.
    policies: Vec<PolicySpec>,
    /// Source locations, parallel to `policies` when read from text.
    spans: Vec<PolicySpan>,
}

impl PartialEq for Manifest {
    fn eq(&self, other: &Self) -> bool {
        self.policies == other.policies
    }
}

/// Where a policy and its parts stood in the source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PolicySpan {
    pub policy: Option<Location>,
    pub action_type: Option<Location>,
    pub effect: Option<Location>,
    pub conditions: Vec<Option<Location>>,
}

/// The only manifest version this library reads and writes.
pub const MANIFEST_VERSION: u64 = 1;

impl Manifest {
    /// A manifest of policies built in code, checked by every rule a parsed
    /// manifest obeys (it goes through its JSON export and back). Recorded
    /// digests are kept as given, so a policy whose content no longer
    /// matches its `digest` still compiles as tampered.
    ///
    /// # Errors
    /// [`Error::Manifest`] as for parsing, without line and column.
    pub fn from_policies(policies: Vec<PolicySpec>, limits: &Limits) -> Result<Manifest, Error> {
        let unchecked = Manifest {
            policies,
            spans: Vec::new(),
        };
        let doc = serde_json::to_value(unchecked.export_doc(ExportOptions {
            include_server_fields: true,
        }))
        .map_err(|e| Error::one(Diagnostic::new(Code::Parse, "", e.to_string())))?;
        let mut m = Manifest::from_json_value(&doc, limits)?;
        // Keep the recorded digests as given, not recomputed (the export
        // reorders by name, so match by name).
        let recorded: BTreeMap<&str, Option<Digest>> = unchecked
            .policies
            .iter()
            .map(|p| (p.name.as_str(), p.digest))
            .collect();
        for p in &mut m.policies {
            p.digest = recorded.get(p.name.as_str()).copied().flatten();
        }
        Ok(m)
    }

    pub(crate) fn span(&self, i: usize) -> PolicySpan {
        self.spans.get(i).cloned().unwrap_or_default()
    }

    /// Read a manifest in the given format with the default [`Limits`].
    ///
    /// # Errors
    /// [`Error::Manifest`] with every error found, each with its location.
    pub fn parse(text: &str, format: Format) -> Result<Manifest, Error> {
        Manifest::parse_with(text, format, &Limits::default())
    }

    /// Read a manifest, guessing the format from its content ([`Format::sniff`]).
    ///
    /// # Errors
    /// As [`Manifest::parse`].
    pub fn parse_auto(text: &str) -> Result<Manifest, Error> {
        Manifest::parse(text, Format::sniff(text))
    }

    /// Read a manifest with explicit limits.
    ///
    /// # Errors
    /// As [`Manifest::parse`].
    pub fn parse_with(text: &str, format: Format, limits: &Limits) -> Result<Manifest, Error> {
        let root = node::parse(text, format, limits)?;
        Manifest::from_node(&root, limits)
    }

    /// Build a manifest from an already-parsed JSON value (no locations).
    ///
    /// # Errors
    /// As [`Manifest::parse`], without line and column.
    pub fn from_json_value(value: &serde_json::Value, limits: &Limits) -> Result<Manifest, Error> {
        Manifest::from_node(&Node::from_json(value), limits)
    }

    pub(crate) fn from_node(root: &Node, limits: &Limits) -> Result<Manifest, Error> {
        let (policies, spans, mut errors) = read::manifest(root, limits);
        if errors.is_empty() {
            Ok(Manifest { policies, spans })
        } else {
            errors.sort_by_key(|d| d.location);
            Err(Error::Manifest {
                diagnostics: errors,
            })
        }
    }

    /// The policies, in source order.
    #[must_use]
    pub fn policies(&self) -> &[PolicySpec] {
        &self.policies
    }

    /// The policies, by value (to edit them and check them again with
    /// [`Manifest::from_policies`]).
    #[must_use]
    pub fn into_policies(self) -> Vec<PolicySpec> {
        self.policies
    }

    /// Number of policies.
    #[must_use]
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// No policies.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// A policy by name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&PolicySpec> {
        self.policies.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests;
