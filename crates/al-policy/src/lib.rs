#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod canonical;
mod cond;
mod diff;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod limits;
mod lint;
mod manifest;
mod model;
mod node;
#[cfg(any(feature = "testing", feature = "fuzzing"))]
pub mod reference;
mod request;
mod set;

pub use al_types::{Digest, ErrorCode, Location, Timestamp};
pub use canonical::{canonical_policy_json, policy_digest, set_digest};
pub use cond::Unknown;
pub use diff::{ManifestDiff, Modified, diff};
pub use error::{Code, Diagnostic, Error, Severity};
pub use limits::{Limits, LimitsBuilder};
pub use lint::lint;
pub use manifest::{
    ExportApproval, ExportCondition, ExportDoc, ExportOptions, ExportPolicy, MANIFEST_VERSION,
    MAX_APPROVAL_SECS, Manifest, check_action_type, format_duration, parse_duration, parse_field,
    parse_pattern,
};
pub use model::{
    Approval, Builtin, Condition, DEFAULT_APPROVAL_TIMEOUT_SECS, Effect, Field, Operator, Pattern,
    PolicySpec, Sensitivity,
};
pub use node::Format;
pub use request::{ActionRequest, DataAccess};
pub use set::{
    Agent, CompiledPolicy, ConditionEvaluated, ConditionTrace, Decision, DenialReason, Explanation,
    MatchRole, MatchedPolicy, PolicyRef, PolicySet, Status,
};

/// The answer to a dry run (`GET /policies/check`, the SDK's `can_i`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CheckResult {
    /// Would run now.
    pub allowed: bool,
    /// Would need approval.
    pub needs_approval: bool,
    /// The action type asked about.
    pub action_type: String,
    /// Deciding policy name.
    pub policy_name: Option<String>,
    /// One sentence for people.
    pub reason: String,
    /// The deciding policy's conditions.
    pub conditions_evaluated: Vec<ConditionEvaluated>,
}

impl Explanation {
    /// The dry-run view of this explanation.
    #[must_use]
    pub fn to_check(&self, action_type: &str) -> CheckResult {
        CheckResult {
            allowed: self.status == Status::Executed,
            needs_approval: self.status == Status::Requested,
            action_type: action_type.to_owned(),
            policy_name: self.policy.as_ref().map(|p| p.name.clone()),
            reason: self.reason.clone(),
            conditions_evaluated: self.conditions_evaluated.clone(),
        }
    }
}
