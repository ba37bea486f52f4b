//! The typed records the engine writes into the audit chain, one per kind.
//!
//! An audit entry's header carries the row, kind, agent and time; the
//! record is the entry's `fields` object. Every record is `Serialize` and
//! `Deserialize` with `deny_unknown_fields`, so two hosts following these
//! types write the same bytes and a reader refuses what it does not know.
//! The layouts are documented field by field in `docs/audit-encoding.md`
//! (§8.1 "The engine's records"), with golden vectors in
//! `testdata/engine/records.json` (checked by `tests/records.rs` and, with the
//! document's Python reference code, by `docs/check/vectors.py`).
//!
//! Records borrow (`Cow`) so the live path encodes without copying the
//! request; decoded records own their data (`Record<'static>`).
//!
//! Why one file (about 950 lines, a fifth of it tests): the chain's layout
//! is one contract. Every record type with its serde attributes sits next
//! to the others so that the layout reads against `docs/audit-encoding.md`
//! in one pass.

use std::borrow::Cow;

use al_audit_chain::Kind;
use al_breaker::{Signal, State};
use al_policy::ConditionEvaluated;
use al_types::{Digest, EntryId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::keys::KeyKind;

/// Timestamps in records are written in the canonical RFC 3339 form and
/// only that form is read back (one instant, one spelling).
pub(crate) mod canon_ts {
    use al_types::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_canonical(&s).map_err(serde::de::Error::custom)
    }

    use std::borrow::Cow;
}

pub(crate) mod canon_ts_opt {
    use al_types::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(t),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        s.map(|s| Timestamp::parse_canonical(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The decision an action got (`status` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Allowed; the action runs (HTTP 200).
    Executed,
    /// Denied, with a [`DenialReason`] (HTTP 200).
    Denied,
    /// Needs an operator's approval (HTTP 202).
    Requested,
    /// No policy matches: fail closed, the action does not run (HTTP 200).
    PolicyNotFound,
}

impl ActionStatus {
    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Executed => "executed",
            ActionStatus::Denied => "denied",
            ActionStatus::Requested => "requested",
            ActionStatus::PolicyNotFound => "policy_not_found",
        }
    }

    /// The HTTP status of a fresh (not replayed) answer.
    #[must_use]
    pub const fn http_status(self) -> u16 {
        match self {
            ActionStatus::Requested => 202,
            _ => 200,
        }
    }

    /// Whether the action does not run (denied or fail-closed).
    #[must_use]
    pub const fn is_refusal(self) -> bool {
        matches!(self, ActionStatus::Denied | ActionStatus::PolicyNotFound)
    }

    pub(crate) fn from_policy(s: al_policy::Status) -> ActionStatus {
        match s {
            al_policy::Status::Executed => ActionStatus::Executed,
            al_policy::Status::Denied => ActionStatus::Denied,
            al_policy::Status::Requested => ActionStatus::Requested,
            al_policy::Status::PolicyNotFound => ActionStatus::PolicyNotFound,
        }
    }
}

/// Why an action was denied (`denial_reason` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DenialReason {
    /// A `deny` policy decided.
    PolicyDenied,
    /// An `allow` policy's conditions did not all hold.
    ConditionsDenied,
    /// The deciding policy does not match its recorded digest.
    PolicyTampered,
    /// The action is outside the caller's delegation scope.
    DelegationScope,
    /// The agent's circuit breaker is in HALT.
    AgentHalted,
}

impl DenialReason {
    /// Stable wire code, e.g. `POLICY_DENIED`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            DenialReason::PolicyDenied => "POLICY_DENIED",
            DenialReason::ConditionsDenied => "CONDITIONS_DENIED",
            DenialReason::PolicyTampered => "POLICY_TAMPERED",
            DenialReason::DelegationScope => "DELEGATION_SCOPE",
            DenialReason::AgentHalted => "AGENT_HALTED",
        }
    }

    pub(crate) fn from_policy(r: al_policy::DenialReason) -> DenialReason {
        match r {
            al_policy::DenialReason::ConditionsDenied => DenialReason::ConditionsDenied,
            al_policy::DenialReason::PolicyTampered => DenialReason::PolicyTampered,
            al_policy::DenialReason::DelegationScope => DenialReason::DelegationScope,
            al_policy::DenialReason::AgentHalted => DenialReason::AgentHalted,
            // POLICY_DENIED, and any reason a newer policy crate adds: a denial
            // is a denial (fail closed).
            _ => DenialReason::PolicyDenied,
        }
    }
}

/// One item of `data_accessed`, normalised (`count` defaults to 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataItem {
    // Declared in canonical key order (`count`, `sensitivity`, `type`): see
    // [`ActionRecord`].
    /// How many records.
    pub count: u64,
    /// Declared sensitivity, if any.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "sensitivity_opt"
    )]
    pub sensitivity: Option<al_policy::Sensitivity>,
    /// What kind of data.
    #[serde(rename = "type")]
    pub data_type: String,
}

mod sensitivity_opt {
    use al_policy::Sensitivity;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(v: &Option<Sensitivity>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(v.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sensitivity>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        s.map(|s| {
            Sensitivity::parse(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown sensitivity `{s}`")))
        })
        .transpose()
    }
}

impl DataItem {
    pub(crate) fn to_policy(&self) -> al_policy::DataAccess {
        al_policy::DataAccess {
            data_type: self.data_type.clone(),
            count: self.count,
            sensitivity: self.sensitivity,
        }
    }
}

/// `kind: action` — a decided action (every status, including denials and
/// fail-closed `policy_not_found`). Header: the acting agent; the time the
/// engine decided (its `now`).
///
/// The fields are declared in canonical key order (bytewise by their wire
/// names), and so are [`DataItem`]'s and the members written for each
/// `conditions_evaluated` item: the canonical encoder then writes every
/// object of the hot path straight through instead of sorting it at its
/// end. The bytes are the same either way (the encoder sorts whatever
/// comes); `tests::action_record_serializes_in_canonical_key_order` keeps
/// the order from drifting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRecord<'a> {
    /// The submitted action type.
    pub action_type: Cow<'a, str>,
    /// The deciding policy's conditions, exactly as answered.
    #[serde(
        default,
        skip_serializing_if = "<[_]>::is_empty",
        serialize_with = "conditions_in_key_order"
    )]
    pub conditions_evaluated: Cow<'a, [ConditionEvaluated]>,
    /// `data_accessed`, normalised.
    pub data_accessed: Cow<'a, [DataItem]>,
    /// When the decision came from evaluating the action as one of the
    /// agent's delegators (a child never gets more than its parent), that
    /// delegator's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_as: Option<Cow<'a, str>>,
    /// The delegation the agent acted under (a delegated child always acts
    /// under its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_id: Option<Cow<'a, str>>,
    /// Set exactly when `status` is `denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denial_reason: Option<DenialReason>,
    /// `X-AL-Event-ID`, if given (replay protection, per agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Cow<'a, str>>,
    /// `metadata`, as submitted.
    pub metadata: Cow<'a, Map<String, Value>>,
    /// Digest of the deciding policy's content at decision time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_digest: Option<Digest>,
    /// Deciding policy id (absent for `policy_not_found`, `DELEGATION_SCOPE`, `AGENT_HALTED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<Cow<'a, str>>,
    /// Deciding policy name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<Cow<'a, str>>,
    /// Deciding policy version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<u64>,
    /// The request's own `timestamp` (facts such as `@time.hour` come from it).
    #[serde(with = "canon_ts")]
    pub requested_at: Timestamp,
    /// The decision.
    pub status: ActionStatus,
}

/// `conditions_evaluated` as the record writes it: each item's members in
/// canonical key order (`expected`, `field`, `operator`, `result`), where
/// `al_policy::ConditionEvaluated` declares them in the SDK's order. The
/// same members and values, so the same canonical bytes (the encoder
/// sorts); only the encoder's reordering work is saved.
#[allow(clippy::ptr_arg)] // serde's `serialize_with` passes the field's own type
fn conditions_in_key_order<S: serde::Serializer>(
    items: &Cow<'_, [ConditionEvaluated]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::{SerializeSeq, SerializeStruct};

    struct InKeyOrder<'c>(&'c ConditionEvaluated);

    impl Serialize for InKeyOrder<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            // Destructured without `..`: a member added to
            // `ConditionEvaluated` stops the build here instead of being
            // left out of the record.
            let ConditionEvaluated {
                expected,
                field,
                operator,
                result,
            } = self.0;
            let mut st = s.serialize_struct("ConditionEvaluated", 4)?;
            st.serialize_field("expected", expected)?;
            st.serialize_field("field", field)?;
            st.serialize_field("operator", operator)?;
            st.serialize_field("result", result)?;
            st.end()
        }
    }

    let mut seq = s.serialize_seq(Some(items.len()))?;
    for c in items.iter() {
        seq.serialize_element(&InKeyOrder(c))?;
    }
    seq.end()
}

/// What happened to an approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalEvent {
    /// An action needs approval; the approval is created, pending.
    Requested,
    /// `escalate_after` passed while pending.
    Escalated,
    /// A reviewer approved.
    Approved,
    /// A reviewer denied.
    Denied,
    /// The timeout passed undecided: a denial.
    TimedOut,
}

/// `kind: approval` — one step of an approval. Header: the agent whose action it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRecord<'a> {
    /// The step.
    pub event: ApprovalEvent,
    /// `apr_…`.
    pub approval_id: Cow<'a, str>,
    /// The action entry this approval is bound to.
    pub audit_event_id: EntryId,
    /// `requested`: SHA-256 of the canonical request (see
    /// [`request_digest`](crate::request_digest)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_digest: Option<Digest>,
    /// `requested`: the deciding policy's digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_digest: Option<Digest>,
    /// `requested`: the deciding policy's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<Cow<'a, str>>,
    /// `requested`: when it times out (a denial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "canon_ts_opt"
    )]
    pub timeout_at: Option<Timestamp>,
    /// `requested`: when it escalates, if the policy says so.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "canon_ts_opt"
    )]
    pub escalate_at: Option<Timestamp>,
    /// `approved` / `denied`: who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<Cow<'a, str>>,
    /// `approved` / `denied`: the reviewer's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Cow<'a, str>>,
    /// `approved` / `denied`: the deciding policy was changed or removed
    /// between the request and the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_changed: Option<bool>,
}

/// How an action ended, as its agent reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// It worked.
    Success,
    /// It failed.
    Failure,
    /// It partly worked.
    Partial,
}

impl OutcomeStatus {
    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Success => "success",
            OutcomeStatus::Failure => "failure",
            OutcomeStatus::Partial => "partial",
        }
    }

    pub(crate) fn to_breaker(self) -> al_breaker::ActionOutcome {
        match self {
            OutcomeStatus::Success => al_breaker::ActionOutcome::Success,
            OutcomeStatus::Failure => al_breaker::ActionOutcome::Failure,
            OutcomeStatus::Partial => al_breaker::ActionOutcome::Partial,
        }
    }
}

/// `kind: outcome` — an outcome report. Header: the reporting agent (the
/// action's owner).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRecord<'a> {
    /// The action entry reported on.
    pub audit_event_id: EntryId,
    /// The outcome.
    pub status: OutcomeStatus,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Cow<'a, str>>,
    /// Free-form details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Cow<'a, Map<String, Value>>>,
    /// The outcome entry this one overwrites (last write wins; the old one stays in the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<EntryId>,
}

/// What happened to a delegation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DelegationEvent {
    /// Created, with its child agent.
    Created,
    /// Revoked (by request, or in a cascade).
    Revoked,
    /// Its lifetime ended (recorded once, by the timer).
    Expired,
}

/// Why a delegation was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeCause {
    /// Someone asked (`DELETE /delegate/{id}`, `POST /delegations/revoke`).
    Request,
    /// An ancestor delegation was revoked.
    Cascade,
    /// The delegating agent was killed.
    ParentKilled,
}

/// `kind: delegation`. Header: the delegating (parent) agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationRecord<'a> {
    /// The step.
    pub event: DelegationEvent,
    /// `dlg_…`.
    pub delegation_id: Cow<'a, str>,
    /// `created`: the child agent's id (`agt_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_agent_id: Option<Cow<'a, str>>,
    /// `created`: the child's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_name: Option<Cow<'a, str>>,
    /// `created`: SHA-256 of the child's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_key_hash: Option<Digest>,
    /// `created`: the action-type patterns the child may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Cow<'a, [String]>>,
    /// `created`: the lifetime asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// `created`: when it ends (never after the parent's own delegation).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "canon_ts_opt"
    )]
    pub expires_at: Option<Timestamp>,
    /// `created`: the delegation the parent itself acts under, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_delegation_id: Option<Cow<'a, str>>,
    /// `revoked`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<RevokeCause>,
    /// `revoked`: who asked (an agent id, or `service:` + key fingerprint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<Cow<'a, str>>,
}

/// What made a breaker record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerCause {
    /// An action's `admit`/`observe` (the record follows the action record).
    Action,
    /// A delegation's creation (the record follows the delegation record).
    Delegation,
    /// An outcome report (the record follows the outcome record).
    Outcome,
    /// Time passing (`handle_timeout` → `poll`).
    Timer,
    /// An operator command.
    Operator,
}

/// An operator's breaker command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerCommand {
    /// Halt now.
    Halt,
    /// Leave HALT.
    Resume,
    /// Kill permanently.
    Kill,
    /// Forget the baseline and calibrate again.
    Recalibrate,
    /// End calibration now.
    CompleteCalibration,
}

impl BreakerCommand {
    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            BreakerCommand::Halt => "halt",
            BreakerCommand::Resume => "resume",
            BreakerCommand::Kill => "kill",
            BreakerCommand::Recalibrate => "recalibrate",
            BreakerCommand::CompleteCalibration => "complete_calibration",
        }
    }
}

/// Why a breaker changed state (the breaker's `Reason`, flattened: an
/// anomaly's signal is in the record's `signal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionReason {
    /// Calibration reached its minimum actions and duration.
    CalibrationComplete,
    /// An operator ended calibration.
    OperatorCompletedCalibration,
    /// An observation's score reached a threshold.
    Anomaly,
    /// A quiet period passed.
    QuietPeriod,
    /// An operator halted the agent.
    OperatorHalt,
    /// An operator resumed the agent.
    OperatorResume,
    /// An operator killed the agent.
    OperatorKill,
    /// An operator restarted calibration.
    OperatorRecalibrate,
    /// A reason this version of the engine has no name for (a newer breaker).
    Other,
}

impl TransitionReason {
    pub(crate) fn split(r: al_breaker::Reason) -> (TransitionReason, Option<Signal>) {
        use al_breaker::Reason as R;
        match r {
            R::CalibrationComplete => (TransitionReason::CalibrationComplete, None),
            R::OperatorCompletedCalibration => {
                (TransitionReason::OperatorCompletedCalibration, None)
            }
            R::Anomaly(s) => (TransitionReason::Anomaly, Some(s)),
            R::QuietPeriod => (TransitionReason::QuietPeriod, None),
            R::OperatorHalt => (TransitionReason::OperatorHalt, None),
            R::OperatorResume => (TransitionReason::OperatorResume, None),
            R::OperatorKill => (TransitionReason::OperatorKill, None),
            R::OperatorRecalibrate => (TransitionReason::OperatorRecalibrate, None),
            _ => (TransitionReason::Other, None),
        }
    }
}

/// One contributing signal of an observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalSeverity {
    /// Which signal.
    pub signal: Signal,
    /// 0–100.
    pub severity: u8,
}

/// `kind: breaker` — a breaker state change, or an operator command.
/// Header: the agent whose breaker it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerRecord<'a> {
    /// What caused it.
    pub cause: BreakerCause,
    /// `operator`: the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<BreakerCommand>,
    /// `operator`: who gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Cow<'a, str>>,
    /// State before (absent for an operator command that changed no state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<State>,
    /// State after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<State>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<TransitionReason>,
    /// `reason: anomaly`: the strongest signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
    /// The observation's combined score (0 for operator and time-driven changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    /// HALT and KILLED: `enforcement.triggered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<bool>,
    /// Every signal of the observation at or above the reporting severity.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub signals: Cow<'a, [SignalSeverity]>,
}

/// What happened to a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyEvent {
    /// A new name.
    Added,
    /// Content changed; version + 1.
    Modified,
    /// Removed by an import with `prune`.
    Removed,
}

impl PolicyEvent {
    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            PolicyEvent::Added => "added",
            PolicyEvent::Modified => "modified",
            PolicyEvent::Removed => "removed",
        }
    }
}

/// `kind: policy_change` — one policy added, changed or removed by an
/// import. No header agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChangeRecord<'a> {
    /// The change.
    pub event: PolicyEvent,
    /// Policy name.
    pub name: Cow<'a, str>,
    /// Policy id.
    pub policy_id: Cow<'a, str>,
    /// Version after the change (for `removed`: the last version).
    pub version: u64,
    /// `added` / `modified`: the whole policy in manifest form with its
    /// server fields (`id`, `version`, `created_at`, `digest`), so a
    /// restore rebuilds the policy set from the chain alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Cow<'a, Value>>,
    /// `modified`: which authored fields changed.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub changed: Cow<'a, [String]>,
    /// The service key that imported it (fingerprint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Cow<'a, str>>,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyEvent {
    /// The org was created with its first service key (row 1).
    OrgCreated,
    /// Another service key was issued.
    ServiceKeyIssued,
    /// A service key was replaced by a new one.
    ServiceKeyRotated,
    /// A service key stopped working.
    ServiceKeyRevoked,
    /// An agent was registered with its key.
    AgentRegistered,
    /// An agent's key was replaced by a new one.
    AgentKeyRotated,
}

/// `kind: key` — keys are recorded as their SHA-256 only. Header: the
/// agent for agent keys; none for the org and its service keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord<'a> {
    /// The step.
    pub event: KeyEvent,
    /// Which kind of key the event concerns.
    pub key_kind: KeyKind,
    /// SHA-256 of the new key (absent for `service_key_revoked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hash: Option<Digest>,
    /// SHA-256 of the key that stops working (rotations, revocations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_key_hash: Option<Digest>,
    /// `org_created`: the org id (must equal the log's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Cow<'a, str>>,
    /// Agent name, or a service key's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'a, str>>,
    /// `agent_registered`: free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
}

/// A record of any kind.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Record<'a> {
    Action(ActionRecord<'a>),
    Approval(ApprovalRecord<'a>),
    Outcome(OutcomeRecord<'a>),
    Delegation(DelegationRecord<'a>),
    Breaker(BreakerRecord<'a>),
    PolicyChange(PolicyChangeRecord<'a>),
    Key(KeyRecord<'a>),
}

impl Record<'_> {
    /// The audit entry kind this record is written as.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Record::Action(_) => Kind::Action,
            Record::Approval(_) => Kind::Approval,
            Record::Outcome(_) => Kind::Outcome,
            Record::Delegation(_) => Kind::Delegation,
            Record::Breaker(_) => Kind::Breaker,
            Record::PolicyChange(_) => Kind::PolicyChange,
            Record::Key(_) => Kind::Key,
        }
    }

    /// The entry's `fields` object.
    ///
    /// # Errors
    /// Only if a value cannot be represented (never for records the engine builds).
    pub fn to_fields(&self) -> Result<Map<String, Value>, serde_json::Error> {
        let v = match self {
            Record::Action(r) => serde_json::to_value(r),
            Record::Approval(r) => serde_json::to_value(r),
            Record::Outcome(r) => serde_json::to_value(r),
            Record::Delegation(r) => serde_json::to_value(r),
            Record::Breaker(r) => serde_json::to_value(r),
            Record::PolicyChange(r) => serde_json::to_value(r),
            Record::Key(r) => serde_json::to_value(r),
        }?;
        match v {
            Value::Object(m) => Ok(m),
            _ => Err(serde::ser::Error::custom("a record is an object")),
        }
    }

    /// Append this record to `log` through the typed path (canonical bytes
    /// straight from the struct, no intermediate JSON map).
    ///
    /// # Errors
    /// The log's refusal (a record that breaks an entry rule); the log is unchanged.
    pub fn append_to<'l>(
        &self,
        log: &'l mut al_audit_chain::AuditLog,
        agent_id: Option<&str>,
        at: Timestamp,
    ) -> Result<al_audit_chain::Sealed<'l>, al_audit_chain::Error> {
        let k = self.kind();
        match self {
            Record::Action(r) => log.append_record(k, agent_id, at, r),
            Record::Approval(r) => log.append_record(k, agent_id, at, r),
            Record::Outcome(r) => log.append_record(k, agent_id, at, r),
            Record::Delegation(r) => log.append_record(k, agent_id, at, r),
            Record::Breaker(r) => log.append_record(k, agent_id, at, r),
            Record::PolicyChange(r) => log.append_record(k, agent_id, at, r),
            Record::Key(r) => log.append_record(k, agent_id, at, r),
        }
    }

    /// Decode an entry's `fields` as the record of its kind.
    ///
    /// # Errors
    /// [`EngineError::InvalidRecord`](crate::EngineError::InvalidRecord)
    /// (`INVALID_RECORD`), naming the kind and the field that does not fit
    /// the layout.
    pub fn decode(
        kind: Kind,
        fields: Map<String, Value>,
    ) -> Result<Record<'static>, crate::EngineError> {
        let v = Value::Object(fields);
        let r = match kind {
            Kind::Action => serde_json::from_value(v).map(Record::Action),
            Kind::Approval => serde_json::from_value(v).map(Record::Approval),
            Kind::Outcome => serde_json::from_value(v).map(Record::Outcome),
            Kind::Delegation => serde_json::from_value(v).map(Record::Delegation),
            Kind::Breaker => serde_json::from_value(v).map(Record::Breaker),
            Kind::PolicyChange => serde_json::from_value(v).map(Record::PolicyChange),
            Kind::Key => serde_json::from_value(v).map(Record::Key),
        };
        r.map_err(|e| crate::EngineError::InvalidRecord {
            kind: kind.as_str(),
            message: e.to_string(),
        })
    }
}

/// Domain tag of [`request_digest`].
pub const REQUEST_DIGEST_DOMAIN: &[u8] = b"agentlattice.request.v1\0";

/// The digest that binds an approval to its exact action:
/// `SHA-256(REQUEST_DIGEST_DOMAIN || value)`, where `value` is the
/// canonical encoding (the value grammar of `docs/audit-encoding.md`) of
/// the object `{action_type, data_accessed, delegation_id, metadata}` —
/// the request minus its `timestamp`, `delegation_id` being `null` when
/// the agent acts on its own.
#[must_use]
pub fn request_digest(
    action_type: &str,
    data_accessed: &[DataItem],
    metadata: &Map<String, Value>,
    delegation_id: Option<&str>,
) -> Digest {
    let mut m = Map::new();
    m.insert("action_type".into(), Value::from(action_type));
    m.insert(
        "data_accessed".into(),
        serde_json::to_value(data_accessed).unwrap_or(Value::Null),
    );
    m.insert(
        "delegation_id".into(),
        delegation_id.map_or(Value::Null, Value::from),
    );
    m.insert("metadata".into(), Value::Object(metadata.clone()));
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(REQUEST_DIGEST_DOMAIN);
    canonical_value(&mut out, &Value::Object(m));
    Digest::of(&out)
}

/// The canonical value grammar of `docs/audit-encoding.md` (tags 0x00–0x08,
/// big-endian lengths, object keys sorted by bytes).
fn canonical_value(out: &mut Vec<u8>, v: &Value) {
    fn put_len(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    }
    match v {
        Value::Null => out.push(0x00),
        Value::Bool(false) => out.push(0x01),
        Value::Bool(true) => out.push(0x02),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push(0x03);
                out.extend_from_slice(&u.to_be_bytes());
            } else if let Some(i) = n.as_i64() {
                out.push(0x04);
                out.extend_from_slice(&i.to_be_bytes());
            } else {
                out.push(0x05);
                out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_bits().to_be_bytes());
            }
        }
        Value::String(s) => {
            out.push(0x06);
            put_len(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            out.push(0x07);
            put_len(out, a.len());
            for x in a {
                canonical_value(out, x);
            }
        }
        Value::Object(o) => {
            out.push(0x08);
            put_len(out, o.len());
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for k in keys {
                put_len(out, k.len());
                out.extend_from_slice(k.as_bytes());
                if let Some(x) = o.get(k) {
                    canonical_value(out, x);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn action_record_round_trips_and_refuses_unknown_fields() {
        let meta: Map<String, Value> =
            serde_json::from_str(r#"{"pr_size": 42, "repo": "acme/x"}"#).unwrap();
        let r = Record::Action(ActionRecord {
            action_type: "pr.merge".into(),
            status: ActionStatus::Denied,
            denial_reason: Some(DenialReason::ConditionsDenied),
            requested_at: ts("2026-11-28T12:00:00Z"),
            data_accessed: Cow::Owned(vec![DataItem {
                data_type: "code".into(),
                count: 1,
                sensitivity: Some(al_policy::Sensitivity::Low),
            }]),
            metadata: Cow::Borrowed(&meta),
            event_id: Some("e-1".into()),
            delegation_id: None,
            policy_id: Some("pol_1".into()),
            policy_name: Some("merge".into()),
            policy_version: Some(2),
            policy_digest: Some(Digest::of(b"p")),
            decided_as: None,
            conditions_evaluated: Cow::Owned(vec![]),
        });
        let fields = r.to_fields().unwrap();
        assert!(fields.get("delegation_id").is_none());
        assert_eq!(fields["requested_at"], "2026-11-28T12:00:00Z");
        assert_eq!(fields["denial_reason"], "CONDITIONS_DENIED");
        assert_eq!(fields["data_accessed"][0]["sensitivity"], "low");
        let back = Record::decode(Kind::Action, fields.clone()).unwrap();
        assert_eq!(back, r);
        let mut extra = fields.clone();
        extra.insert("surprise".into(), Value::Bool(true));
        let e = Record::decode(Kind::Action, extra).unwrap_err();
        assert!(e.to_string().contains("surprise"), "{e}");
        assert!(e.to_string().starts_with("action record: "), "{e}");
        assert_eq!(al_types::ErrorCode::code(&e), "INVALID_RECORD");
        let mut loose = fields;
        loose.insert("requested_at".into(), "2026-11-28T13:00:00+01:00".into());
        assert!(Record::decode(Kind::Action, loose).is_err());
    }

    /// An action record with every optional field set, conditions and
    /// data items (so every object the hot path writes is present).
    fn full_action(meta: &Map<String, Value>) -> ActionRecord<'_> {
        let cond =
            |field: &str, operator: &str, expected: Value, result: bool| ConditionEvaluated {
                field: field.into(),
                operator: operator.into(),
                expected,
                result,
            };
        ActionRecord {
            action_type: "a.b".into(),
            status: ActionStatus::Denied,
            denial_reason: Some(DenialReason::PolicyDenied),
            requested_at: ts("2026-11-28T12:00:00.250Z"),
            data_accessed: Cow::Owned(vec![
                DataItem {
                    data_type: "pii".into(),
                    count: 3,
                    sensitivity: Some(al_policy::Sensitivity::High),
                },
                DataItem {
                    data_type: "logs".into(),
                    count: 1,
                    sensitivity: None,
                },
            ]),
            metadata: Cow::Borrowed(meta),
            event_id: Some("e".into()),
            delegation_id: Some("dlg_1".into()),
            policy_id: Some("pol_1".into()),
            policy_name: Some("p".into()),
            policy_version: Some(3),
            policy_digest: Some(Digest::of(b"x")),
            decided_as: Some("agt_0".into()),
            conditions_evaluated: Cow::Owned(vec![
                cond("pr_size", "lt", Value::from(500), true),
                cond("repo.owner", "in", serde_json::json!(["a", "b"]), false),
                cond("reviewer", "exists", Value::Null, false),
            ]),
        }
    }

    /// Every object's keys, in the order a serializer receives them,
    /// checked to be strictly ascending (bytewise), at any depth.
    fn assert_keys_ascending(json: &str) {
        use serde::de::{DeserializeSeed, Deserializer as _, MapAccess, SeqAccess};

        struct Check(String);
        impl<'de> DeserializeSeed<'de> for Check {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_any(self)
            }
        }
        impl<'de> serde::de::Visitor<'de> for Check {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<(), E> {
                Ok(())
            }
            fn visit_u64<E>(self, _: u64) -> Result<(), E> {
                Ok(())
            }
            fn visit_i64<E>(self, _: i64) -> Result<(), E> {
                Ok(())
            }
            fn visit_f64<E>(self, _: f64) -> Result<(), E> {
                Ok(())
            }
            fn visit_str<E>(self, _: &str) -> Result<(), E> {
                Ok(())
            }
            fn visit_unit<E>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
                let mut i = 0;
                while a
                    .next_element_seed(Check(format!("{}[{i}]", self.0)))?
                    .is_some()
                {
                    i += 1;
                }
                Ok(())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
                let mut prev: Option<String> = None;
                while let Some(k) = a.next_key::<String>()? {
                    if let Some(p) = &prev {
                        assert!(
                            p.as_bytes() < k.as_bytes(),
                            "at `{}`: `{k}` is written after `{p}`",
                            self.0
                        );
                    }
                    a.next_value_seed(Check(format!("{}.{k}", self.0)))?;
                    prev = Some(k);
                }
                Ok(())
            }
        }
        serde_json::Deserializer::from_str(json)
            .deserialize_any(Check(String::new()))
            .unwrap();
    }

    /// The hot path's objects need no sorting in the canonical encoder:
    /// the fields of `ActionRecord` and `DataItem`, and the members written
    /// for each condition, come in key order (`serde_json::to_string`
    /// keeps the order the serializer receives them in).
    #[test]
    fn action_record_serializes_in_canonical_key_order() {
        let meta: Map<String, Value> =
            serde_json::from_str(r#"{"b": {"y": 1, "x": [2]}, "a": "s"}"#).unwrap();
        let json = serde_json::to_string(&full_action(&meta)).unwrap();
        assert_keys_ascending(&json);
        // The checker itself sees an unsorted object.
        let bad =
            std::panic::catch_unwind(|| assert_keys_ascending(r#"{"a": [{"c": 1, "b": 2}]}"#));
        assert!(bad.is_err());
    }

    #[test]
    fn typed_append_gives_the_bytes_of_the_map_path() {
        let meta: Map<String, Value> =
            serde_json::from_str(r#"{"n": -3, "f": 1.5, "s": "x", "deep": {"b": [1, null]}}"#)
                .unwrap();
        let recs = [
            Record::Action(full_action(&meta)),
            Record::Action(ActionRecord {
                action_type: "a.b".into(),
                status: ActionStatus::Executed,
                denial_reason: None,
                requested_at: ts("2026-11-28T12:00:00.250Z"),
                data_accessed: Cow::Owned(vec![]),
                metadata: Cow::Borrowed(&meta),
                event_id: Some("e".into()),
                delegation_id: None,
                policy_id: None,
                policy_name: None,
                policy_version: Some(3),
                policy_digest: Some(Digest::of(b"x")),
                decided_as: None,
                conditions_evaluated: Cow::Owned(vec![]),
            }),
            Record::Key(KeyRecord {
                event: KeyEvent::OrgCreated,
                key_kind: KeyKind::Service,
                key_hash: Some(Digest::of(b"k")),
                revoked_key_hash: None,
                org_id: Some("acme".into()),
                name: None,
                description: None,
            }),
        ];
        let mut typed = al_audit_chain::AuditLog::new("acme");
        let mut mapped = al_audit_chain::AuditLog::new("acme");
        for r in &recs {
            let at = ts("2026-11-28T12:00:01Z");
            let a = r
                .append_to(&mut typed, Some("agt_1"), at)
                .unwrap()
                .bytes
                .to_vec();
            let entry = al_audit_chain::NewEntry {
                kind: r.kind(),
                agent_id: Some("agt_1".into()),
                timestamp: at,
                fields: r.to_fields().unwrap(),
            };
            let b = mapped.append(&entry).unwrap().bytes.to_vec();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn request_digest_ignores_nothing_but_time() {
        let m: Map<String, Value> = serde_json::from_str(r#"{"b": 1, "a": [1, "x"]}"#).unwrap();
        let m2: Map<String, Value> = serde_json::from_str(r#"{"a": [1, "x"], "b": 1}"#).unwrap();
        let d = request_digest("a.b", &[], &m, None);
        assert_eq!(d, request_digest("a.b", &[], &m2, None));
        assert_ne!(d, request_digest("a.c", &[], &m, None));
        assert_ne!(d, request_digest("a.b", &[], &m, Some("dlg_1")));
        let m3: Map<String, Value> = serde_json::from_str(r#"{"b": 1.0, "a": [1, "x"]}"#).unwrap();
        assert_ne!(d, request_digest("a.b", &[], &m3, None));
    }
}
