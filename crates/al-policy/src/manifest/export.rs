//! The deterministic export: policies sorted by name, fields in a fixed
//! order, defaults omitted (see `docs/policy-manifest.md`, "Export normal
//! form").

use serde::Serialize;

use super::{MANIFEST_VERSION, Manifest, format_duration};
use crate::canonical::policy_digest;
use crate::error::Error;
use crate::model::{Effect, Field, Operator, Pattern, PolicySpec};
use crate::node::Format;

impl Manifest {
    /// The deterministic export document: policies sorted by name, fields in
    /// a fixed order, defaults omitted.
    #[must_use]
    pub fn export_doc(&self, opts: ExportOptions) -> ExportDoc<'_> {
        let mut policies: Vec<&PolicySpec> = self.policies().iter().collect();
        policies.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        ExportDoc {
            version: MANIFEST_VERSION,
            policies: policies
                .into_iter()
                .map(|p| ExportPolicy::new(p, opts))
                .collect(),
        }
    }

    /// Export as YAML (deterministic; see [`Manifest::export_doc`]).
    ///
    /// # Errors
    /// [`Error::Export`] only if the YAML writer fails, which it does not
    /// for this model.
    pub fn to_yaml(&self, opts: ExportOptions) -> Result<String, Error> {
        serde_saphyr::to_string(&self.export_doc(opts)).map_err(|e| Error::Export {
            message: e.to_string(),
        })
    }

    /// Export as pretty JSON with a trailing newline (deterministic).
    ///
    /// # Errors
    /// [`Error::Export`] only if the JSON writer fails, which it does not
    /// for this model.
    pub fn to_json(&self, opts: ExportOptions) -> Result<String, Error> {
        let mut s =
            serde_json::to_string_pretty(&self.export_doc(opts)).map_err(|e| Error::Export {
                message: e.to_string(),
            })?;
        s.push('\n');
        Ok(s)
    }

    /// Export in the given format.
    ///
    /// # Errors
    /// As [`Manifest::to_yaml`].
    pub fn export(&self, format: Format, opts: ExportOptions) -> Result<String, Error> {
        match format {
            Format::Yaml => self.to_yaml(opts),
            Format::Json => self.to_json(opts),
        }
    }
}

/// What an export includes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Also write `id`, `version`, `created_at` and `digest` (the
    /// server-side record). Off by default, so exports diff cleanly between
    /// environments; the digest written is the recomputed one.
    pub include_server_fields: bool,
}

/// The serialised shape of an export. Field order is the wire order.
#[derive(Debug, Serialize)]
pub struct ExportDoc<'a> {
    /// Always 1.
    pub version: u64,
    /// Sorted by name.
    pub policies: Vec<ExportPolicy<'a>>,
}

/// One exported policy.
#[derive(Debug, Serialize)]
#[allow(missing_docs)]
pub struct ExportPolicy<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub action_type: &'a Pattern,
    pub effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ExportCondition<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ExportApproval>,
    #[serde(skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_true(b: &bool) -> bool {
    *b
}

impl<'a> ExportPolicy<'a> {
    fn new(p: &'a PolicySpec, opts: ExportOptions) -> Self {
        let server = opts.include_server_fields;
        ExportPolicy {
            name: &p.name,
            description: p.description.as_deref(),
            action_type: &p.action_type,
            effect: p.effect,
            agents: p.agents.as_deref(),
            conditions: p
                .conditions
                .iter()
                .map(|c| ExportCondition {
                    field: &c.field,
                    operator: c.operator,
                    value: c.value.as_ref(),
                })
                .collect(),
            approval: p.approval.as_ref().map(|a| ExportApproval {
                timeout: format_duration(a.timeout_secs),
                escalate_after: a.escalate_after_secs.map(format_duration),
            }),
            enabled: p.enabled,
            id: p.id.as_deref().filter(|_| server),
            version: p.version.filter(|_| server),
            created_at: p.created_at.as_deref().filter(|_| server),
            digest: server.then(|| policy_digest(p).to_string()),
        }
    }
}

/// One exported condition.
#[derive(Debug, Serialize)]
#[allow(missing_docs)]
pub struct ExportCondition<'a> {
    pub field: &'a Field,
    pub operator: Operator,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a serde_json::Value>,
}

/// Exported approval settings (durations in normal form, e.g. `8h`).
#[derive(Debug, Serialize)]
#[allow(missing_docs)]
pub struct ExportApproval {
    pub timeout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<String>,
}
