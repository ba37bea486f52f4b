//! Outcome reports (`POST /report`): owner-only, every report chained.

use al_types::{EntryId, Timestamp};
use serde_json::{Map, Value};

use super::{AuditLog, Sealed};
use crate::entry::{Kind, NewEntry};
use crate::error::Error;

/// An outcome report (`POST /report`).
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeReport {
    /// `success`, `failure` or `partial`.
    pub status: String,
    /// Free text.
    pub message: Option<String>,
    /// Free-form details.
    pub metadata: Option<Value>,
}

impl AuditLog {
    /// Record an outcome for an action event. Only the agent that owns the
    /// event may report. The current outcome is last-write-wins, and every
    /// report is its own chained entry, so an overwritten outcome is never lost.
    ///
    /// # Errors
    /// [`Error::EventNotFound`] (no action entry has that id),
    /// [`Error::NotOwner`], or [`Error::InvalidOutcome`]; nothing is appended.
    pub fn report_outcome(
        &mut self,
        agent_id: &str,
        action: EntryId,
        report: &OutcomeReport,
        now: Timestamp,
    ) -> Result<Sealed<'_>, Error> {
        let target = self
            .entry_by_id(action)
            .filter(|e| e.kind == Kind::Action)
            .ok_or_else(|| Error::EventNotFound {
                id: action.to_string(),
            })?;
        if target.agent_id.as_deref() != Some(agent_id) {
            return Err(Error::NotOwner {
                id: action.to_string(),
            });
        }
        let mut fields = Map::new();
        fields.insert("audit_event_id".into(), Value::from(action.to_string()));
        fields.insert("status".into(), Value::from(report.status.as_str()));
        if let Some(m) = &report.message {
            fields.insert("message".into(), Value::from(m.as_str()));
        }
        if let Some(m) = &report.metadata {
            fields.insert("metadata".into(), m.clone());
        }
        let e = NewEntry {
            kind: Kind::Outcome,
            agent_id: Some(agent_id.to_owned()),
            timestamp: now,
            fields,
        };
        self.append(&e).map_err(|x| Error::InvalidOutcome {
            source: Box::new(x),
        })
    }
}
