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
    /// The learned baseline has drifted several-fold from the one anchored
    /// at calibration (or at the last `accept_drift`); see [`Drift`].
    BaselineDrift,
}

/// Signals in the order of [`Effects`](crate::Effects)'s severities.
pub(crate) const SIGNALS: [Signal; 7] = [
    Signal::FrequencySpike,
    Signal::UnseenActionType,
    Signal::OffHours,
    Signal::BulkDataAccess,
    Signal::RisingDenials,
    Signal::DelegationChurn,
    Signal::BaselineDrift,
];

/// Index of a signal's severity.
pub(crate) const FREQUENCY: usize = 0;
pub(crate) const UNSEEN: usize = 1;
pub(crate) const OFF_HOURS: usize = 2;
pub(crate) const BULK: usize = 3;
pub(crate) const DENIALS: usize = 4;
pub(crate) const DELEGATIONS: usize = 5;
pub(crate) const DRIFT: usize = 6;

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
            Signal::BaselineDrift => "baseline_drift",
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
    /// An operator accepted the drift of the baseline as the new normal.
    OperatorAcceptedDrift,
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
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
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
    /// The baseline's drift from its anchor, when it is past `drift_ratio`.
    pub drift: Option<Drift>,
}

/// What drifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftMetric {
    /// Actions per rate window, averaged over the hours learned at the anchor.
    Rate,
    /// Records accessed per action.
    DataPerAction,
    /// Share of actions refused or reported as failed.
    DenialShare,
}

impl DriftMetric {
    /// Wire name (`rate`, `data_per_action`, `denial_share`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            DriftMetric::Rate => "rate",
            DriftMetric::DataPerAction => "data_per_action",
            DriftMetric::DenialShare => "denial_share",
        }
    }
}

/// What the drift is measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnchorKind {
    /// The baseline frozen when calibration completed.
    Calibration,
    /// The baseline an operator accepted with `accept_drift`.
    Accepted,
}

/// The explanation of a [`Signal::BaselineDrift`]: which quantity grew, by
/// how much, since when. `Display` gives the sentence an operator reads:
/// `data per action ×8.2 since calibration on 2025-12-05`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Drift {
    /// The quantity that grew the most relative to its threshold.
    pub metric: DriftMetric,
    /// Current ÷ anchored, each plus its floor (so tiny baselines do not
    /// give huge ratios).
    pub ratio: f64,
    /// When the anchor was taken.
    pub anchored_at: Timestamp,
    /// Calibration or an operator's acceptance.
    pub anchor: AnchorKind,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.metric {
            DriftMetric::Rate => "rate",
            DriftMetric::DataPerAction => "data per action",
            DriftMetric::DenialShare => "denial share",
        };
        let since = match self.anchor {
            AnchorKind::Calibration => "calibration",
            AnchorKind::Accepted => "accepted baseline",
        };
        let day = self.anchored_at.to_rfc3339();
        let day = day.get(..10).unwrap_or(&day);
        write!(f, "{what} \u{d7}{:.1} since {since} on {day}", self.ratio)
    }
}
