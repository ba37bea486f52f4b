//! What the operations answer: `Serialize` types with exactly the field
//! names the Python SDK 0.4.2 parses (every key it reads as `d["…"]` is
//! always present; keys it reads with `d.get` may be absent). Golden JSON
//! for each is under `testdata/engine/wire/`.
//!
//! Why one file (about 520 lines): the answer types of the whole API are
//! the wire contract; together they read against the SDK's parser in one
//! file.

use std::collections::BTreeMap;

use al_breaker::{Signal, State};
use al_policy::ConditionEvaluated;
use al_types::{EntryId, Timestamp};
use serde::Serialize;

use crate::keys::ApiKey;
use crate::records::{ActionStatus, DenialReason, OutcomeStatus};
use crate::state::ApprovalStatus;

/// `POST /actions`: the SDK's `ActionResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionResult {
    /// The decision.
    pub status: ActionStatus,
    /// The action's entry (`evt_…`).
    pub audit_event_id: EntryId,
    /// `requested`: the approval to wait for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// One sentence for people.
    pub message: String,
    /// `requested`: when the approval times out (a denial).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_at: Option<Timestamp>,
    /// `denied`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_reason: Option<DenialReason>,
    /// The deciding policy's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// The deciding policy's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// The deciding policy's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<u64>,
    /// The deciding policy's conditions (empty when it has none).
    pub conditions_evaluated: Vec<ConditionEvaluated>,
}

/// The answer to [`Engine::submit_action`](crate::Engine::submit_action):
/// the result and the HTTP status to send it with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionAnswer {
    /// 200 (executed, denied, policy_not_found), 202 (requested), or 409
    /// when this is a replay of an earlier `X-AL-Event-ID` (the body is the
    /// original result, as the SDK expects).
    pub http_status: u16,
    /// This answer repeats an earlier decision; nothing was appended.
    pub replayed: bool,
    /// The body.
    pub result: ActionResult,
}

/// Host bootstrap: an org and its first service key.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrgCreated {
    /// The org.
    pub org_id: String,
    /// The first service key, shown once.
    pub service_key: ApiKey,
    /// When.
    pub created_at: Timestamp,
}

/// A service key issued or rotated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceKeyIssued {
    /// The org.
    pub org_id: String,
    /// The new key, shown once.
    pub service_key: ApiKey,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The key that stopped working, for rotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_fingerprint: Option<String>,
    /// When.
    pub created_at: Timestamp,
}

/// `POST /api/agents/register` (201): what the SDK's `register` reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Registered {
    /// The agent (config) id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its key, shown once.
    pub api_key: ApiKey,
    /// When.
    pub created_at: Timestamp,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The audit entry that registered it.
    pub audit_event_id: EntryId,
}

/// An agent key rotated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentKeyRotated {
    /// The agent.
    pub id: String,
    /// The new key, shown once.
    pub api_key: ApiKey,
    /// The old key's fingerprint (it no longer works).
    pub revoked_fingerprint: String,
    /// When.
    pub created_at: Timestamp,
}

/// `GET /api/approvals/{id}/status` and the operator's decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApprovalView {
    /// `apr_…`.
    pub approval_id: String,
    /// `pending`, `escalated`, `approved`, `denied` or `timed_out` (the SDK's `gate` reads this).
    pub status: ApprovalStatus,
    /// The action entry the approval is bound to.
    pub audit_event_id: EntryId,
    /// The agent whose action it is.
    pub agent_id: String,
    /// The action type.
    pub action_type: String,
    /// When it was requested.
    pub requested_at: Timestamp,
    /// When it times out.
    pub timeout_at: Timestamp,
    /// When it escalates, if the policy says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_at: Option<Timestamp>,
    /// When it was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
    /// Who decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    /// The reviewer's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The deciding policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// The deciding policy changed or was removed before the decision.
    pub policy_changed: bool,
    /// The decision's entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_event_id: Option<EntryId>,
}

/// A delegation's scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// Action-type patterns the child may use.
    pub capabilities: Vec<String>,
}

/// `POST /delegate` (201): what the SDK's `DelegationContext` reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DelegationCreated {
    /// `dlg_…`: send it as `X-AL-Delegation-ID`.
    pub delegation_id: String,
    /// The child's key, shown once.
    pub child_api_key: ApiKey,
    /// When it ends (never after the parent's own delegation).
    pub expires_at: Timestamp,
    /// The child agent.
    pub child_config_id: String,
    /// The delegating agent.
    pub parent_config_id: String,
    /// What the child may do.
    pub scope: Scope,
    /// The delegation's entry.
    pub audit_event_id: EntryId,
}

/// `DELETE /delegate/{id}`, `POST /delegations/revoke`: the SDK's `RevokeResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RevokeResult {
    /// The delegation is revoked (also when it already was: revoking twice is not an error).
    pub revoked: bool,
    /// The delegation.
    pub delegation_id: String,
    /// Descendant delegations revoked with it by this call.
    pub cascaded: Vec<String>,
}

/// One delegation: the SDK's `DelegationEntry`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DelegationEntry {
    /// `dlg_…`.
    pub id: String,
    /// The delegating agent.
    pub parent_config_id: String,
    /// The delegated agent.
    pub child_config_id: String,
    /// What the child may do.
    pub scope: Scope,
    /// When it ends.
    pub expires_at: Timestamp,
    /// Not revoked and not expired at the caller's `now`.
    pub active: bool,
    /// `active`, `revoked` or `expired`.
    pub status: &'static str,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

/// `GET /delegations`: the SDK's `DelegationsResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DelegationsResult {
    /// Oldest first.
    pub delegations: Vec<DelegationEntry>,
}

/// One policy: the SDK's `PolicySummary`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicySummary {
    /// Policy id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Pattern.
    pub action_type: String,
    /// Effect `require_approval`.
    pub approval_required: bool,
    /// Has conditions.
    pub has_conditions: bool,
    /// Version.
    pub version: u64,
    /// When first added.
    pub created_at: String,
    /// Effect.
    pub effect: &'static str,
    /// Limited to certain agents.
    pub agent_limited: bool,
    /// Content digest.
    pub digest: String,
    /// Content does not match the recorded digest.
    pub tampered: bool,
}

/// `GET /policies`: the SDK's `PoliciesResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoliciesResult {
    /// `own` or `org`.
    pub scope: &'static str,
    /// Sorted by name.
    pub policies: Vec<PolicySummary>,
}

/// `GET /policies/check`: the SDK's `CanIResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckResult {
    /// Would run now.
    pub allowed: bool,
    /// Would need approval.
    pub needs_approval: bool,
    /// The action type asked about.
    pub action_type: String,
    /// What a submission would get.
    pub status: ActionStatus,
    /// Deciding policy name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// Why, when it would be denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_reason: Option<DenialReason>,
    /// One sentence for people.
    pub reason: String,
    /// The deciding policy's conditions (evaluated without metadata unless given).
    pub conditions_evaluated: Vec<ConditionEvaluated>,
}

/// Calibration progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Calibration {
    /// 0–100 (100 once calibrated).
    pub progress_percent: u8,
    /// Calibration has completed.
    pub complete: bool,
}

/// Key metadata (never the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// `al_live_` or `al_svc_`.
    pub prefix: &'static str,
    /// First 8 hex digits of the key's SHA-256.
    pub fingerprint: String,
    /// When the key was issued.
    pub created_at: Timestamp,
}

/// Delegations by role.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DelegationsByRole {
    /// Delegations this agent made.
    pub as_parent: Vec<DelegationEntry>,
    /// The delegation this agent was made by.
    pub as_child: Vec<DelegationEntry>,
}

/// `GET /whoami`: the SDK's `WhoamiResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Whoami {
    /// The agent id.
    pub config_id: String,
    /// Its name.
    pub name: String,
    /// Its org.
    pub org_id: String,
    /// Not killed, and (for a delegated child) its delegation is active.
    pub is_active: bool,
    /// Breaker state.
    pub cb_state: State,
    /// Calibration progress.
    pub calibration: Calibration,
    /// The policies that can govern this agent.
    pub policies: Vec<PolicySummary>,
    /// Its delegations.
    pub delegations: DelegationsByRole,
    /// Its key's metadata.
    pub key: KeyInfo,
    /// When it was registered.
    pub created_at: Timestamp,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `GET /agent/status` and the operator commands' answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentStatus {
    /// The agent id.
    pub config_id: String,
    /// Breaker state.
    pub cb_state: State,
    /// Since when.
    pub since: Timestamp,
    /// Why it entered this state (absent for the initial one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<crate::records::TransitionReason>,
    /// The anomaly's strongest signal, when `reason` is `anomaly`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
    /// Calibration progress.
    pub calibration: Calibration,
    /// Not killed, and (for a delegated child) its delegation is active.
    pub is_active: bool,
    /// The entry an operator command wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_event_id: Option<EntryId>,
}

/// One entry as `GET /audit` shows it: the SDK's `AuditEvent`.
///
/// `action_type` and `status` are always present: for entries that are not
/// actions they name the record (`approval.approved`, `breaker.transition`,
/// `key.agent_registered`, … and the record's event).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEvent {
    /// `evt_…`.
    pub id: String,
    /// 1-based row.
    pub row: u64,
    /// Entry kind.
    pub kind: &'static str,
    /// The agent concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Action type (or record label).
    pub action_type: String,
    /// Status (or record event).
    pub status: String,
    /// Actions: the request's own timestamp; others: the entry's time.
    pub timestamp: Timestamp,
    /// When the entry was written.
    pub created_at: Timestamp,
    /// Actions: `data_accessed`.
    pub data_accessed: Vec<serde_json::Value>,
    /// Actions: `metadata.repo`, when a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Actions: `metadata.branch`, when a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Actions: `metadata.pr_number`, when an integer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<i64>,
    /// Actions: the deciding policy id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Actions: the deciding policy's version, as text (the SDK types it `str`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
    /// Actions: `denied` reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_reason: Option<String>,
    /// Actions: the current (last reported) outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeStatus>,
    /// The record, as chained.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The entry's hash.
    pub hash: String,
}

/// `GET /audit`: the SDK's `AuditResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditPage {
    /// Newest first.
    pub events: Vec<AuditEvent>,
    /// Pass back as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// `GET /audit/verify`: the SDK's `VerifyResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerifyAnswer {
    /// The org.
    pub org_id: String,
    /// Every entry chained and hashed as recorded.
    pub chain_valid: bool,
    /// The last row checked.
    pub verified_through_row: u64,
    /// The head hash.
    pub chain_hash: Option<String>,
    /// Verification started from a checkpoint.
    pub verified_from_checkpoint: bool,
    /// When (the caller's `now`).
    pub timestamp: Timestamp,
    /// The first bad row's id.
    pub first_broken_at_row_id: Option<String>,
}

/// `POST /report` (201): the SDK's `ReportResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportResult {
    /// The action reported on.
    pub audit_event_id: EntryId,
    /// The outcome now in force.
    pub status: OutcomeStatus,
    /// When.
    pub reported_at: Timestamp,
    /// This report's entry.
    pub outcome_event_id: EntryId,
    /// The outcome entry this report overwrote (last write wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<EntryId>,
}

/// One posture component: the SDK's `PostureComponent` (`score`, `max`, extras).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PostureComponent {
    /// Points, 0..=`max`, rounded half up.
    pub score: u32,
    /// 25.
    pub max: u32,
    /// The formula's numerator.
    pub numerator: u64,
    /// The formula's denominator (0: nothing to measure, full points).
    pub denominator: u64,
    /// The window, in days (0 for `chain_integrity`).
    pub window_days: u32,
    /// The formula, in words.
    pub formula: &'static str,
}

/// `GET /posture`: the SDK's `PostureResult`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Posture {
    /// The sum of the components, 0–100.
    pub score: u32,
    /// `policy_coverage`, `approval_rate`, `anomaly_frequency`, `chain_integrity`.
    pub components: BTreeMap<&'static str, PostureComponent>,
}

/// `POST /policies/import`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImportResult {
    /// Nothing was changed (asked for with `dry_run`).
    pub dry_run: bool,
    /// Policies absent from the manifest are removed.
    pub prune: bool,
    /// New policies.
    pub added: Vec<String>,
    /// Changed policies, with the fields that changed.
    pub modified: Vec<al_policy::Modified>,
    /// Identical policies.
    pub unchanged: Vec<String>,
    /// Policies absent from the manifest (removed only with `prune`).
    pub removed: Vec<String>,
    /// The policy-change entries written, in order.
    pub audit_event_ids: Vec<EntryId>,
    /// The digest of the policy set after the import (or that it would have).
    pub set_digest: String,
}

/// `GET /policies/export`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyExport {
    /// `yaml` or `json`.
    pub format: &'static str,
    /// The manifest: deterministic, sorted by name; importing it is a no-op.
    pub content: String,
    /// The set digest.
    pub set_digest: String,
}
