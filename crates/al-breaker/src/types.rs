//! The breaker's vocabulary: states, signals, reasons, and the plain data
//! that goes in (observations, outcomes) and comes out (admissions,
//! transitions, anomalies, status).

use std::fmt;

use al_types::Timestamp;
use serde::{Deserialize, Serialize};

/// The six states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Learning the baseline; anomalies are reported, never enforced.
    Calibrating,
    /// Normal; every action is scored against the baseline.
    Monitoring,
    /// Normal, but anomalies are above the warning level; reported.
    Warn,
    /// Rate-limited to a fraction of the baseline rate.
    Throttle,
    /// Every action denied until an operator resumes.
    Halt,
    /// Permanent.
    Killed,
}

impl State {
    /// Wire name (`CALIBRATING`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Calibrating => "CALIBRATING",
            State::Monitoring => "MONITORING",
            State::Warn => "WARN",
            State::Throttle => "THROTTLE",
            State::Halt => "HALT",
            State::Killed => "KILLED",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The anomaly signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Signal {
    /// The action rate is far above the baseline.
    FrequencySpike,
    /// An action type the agent has not used before.
    UnseenActionType,
    /// Activity in an hour the agent is rarely active.
    OffHours,
    /// Far more records accessed than usual.
    BulkDataAccess,
    /// The share of denied or failed actions is climbing (scope probing).
    RisingDenials,
    /// Delegations are created far more often than usual.
    DelegationChurn,
}

/// Signals in the order of [`Effects`](crate::Effects)'s severities.
pub(crate) const SIGNALS: [Signal; 6] = [
    Signal::FrequencySpike,
    Signal::UnseenActionType,
    Signal::OffHours,
    Signal::BulkDataAccess,
    Signal::RisingDenials,
    Signal::DelegationChurn,
];

/// Index of a signal's severity.
pub(crate) const FREQUENCY: usize = 0;
pub(crate) const UNSEEN: usize = 1;
pub(crate) const OFF_HOURS: usize = 2;
pub(crate) const BULK: usize = 3;
pub(crate) const DENIALS: usize = 4;
pub(crate) const DELEGATIONS: usize = 5;

impl Signal {
    /// Wire name (`frequency_spike`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Signal::FrequencySpike => "frequency_spike",
            Signal::UnseenActionType => "unseen_action_type",
            Signal::OffHours => "off_hours",
            Signal::BulkDataAccess => "bulk_data_access",
            Signal::RisingDenials => "rising_denials",
            Signal::DelegationChurn => "delegation_churn",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much the baseline behind a score can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// During calibration: reported, never enforced.
    Low,
    /// After calibration.
    High,
}

/// An `anomaly.detected` event.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Anomaly {
    /// Which signal.
    pub signal: Signal,
    /// 0–100.
    pub severity: u8,
    /// Baseline trust.
    pub confidence: Confidence,
    /// When (the caller's `now`).
    pub at: Timestamp,
}

/// Why the state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Calibration reached its minimum actions and duration.
    CalibrationComplete,
    /// An operator ended calibration.
    OperatorCompletedCalibration,
    /// A score reached a threshold; the strongest signal.
    Anomaly(Signal),
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
}

/// A state change; every one belongs in the audit chain.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Transition {
    /// Before.
    pub from: State,
    /// After.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// Score that caused it (0 for operator and time-driven changes).
    pub score: u8,
    /// When (the caller's `now`, or the latest time the breaker had seen if
    /// `now` ran backwards).
    pub at: Timestamp,
    /// HALT and KILLED emit `enforcement.triggered`.
    pub enforcement: bool,
}

/// How an action ended, as its owner reports it (`POST /report`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionOutcome {
    /// It worked.
    Success,
    /// It failed: counted with denials in the rising-denials share.
    Failure,
    /// It partly worked: counted as a success.
    Partial,
}

impl ActionOutcome {
    /// Whether the breaker counts it as a refusal.
    pub(crate) fn refused(outcome: Option<ActionOutcome>) -> bool {
        outcome == Some(ActionOutcome::Failure)
    }
}

/// What happened, as the breaker needs to know it. The time of the action
/// is the `now` passed with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation<'a> {
    /// The action type.
    pub action_type: &'a str,
    /// Whether the action was refused (by policy, scope, or because no
    /// policy matched).
    pub denied: bool,
    /// Sum of `data_accessed[].count`.
    pub data_count: u64,
    /// The action created a delegation.
    pub delegation_created: bool,
}

/// The answer to `admit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Admission {
    /// Go ahead.
    Allow,
    /// THROTTLE: try again after this many milliseconds (`429 RATE_LIMITED`).
    Throttled {
        /// `retry_after_ms`, at least 1.
        retry_after_ms: u64,
    },
    /// HALT (`AGENT_HALTED`) or KILLED (`403 AGENT_KILLED`).
    Denied(State),
}

/// `GET /agent/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// Current state.
    pub state: State,
    /// Since when.
    pub since: Timestamp,
    /// Why it entered this state, if not the initial one.
    pub reason: Option<Reason>,
    /// Calibration progress, 0–100 (100 once calibrated).
    pub calibration_percent: u8,
    /// Action types remembered (see `max_known_types`).
    pub known_types: u8,
}
