//! The per-agent breaker.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::BreakerConfig;
use crate::stats::{Stat, fnv1a, severity};

/// The six states (SPEC §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Learning the baseline; anomalies are reported, never enforced.
    Calibrating,
    /// Normal; every action is scored against the baseline.
    Monitoring,
    /// Normal, but anomalies are above the warning level.
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
pub enum Signal {
    /// The action rate is far above the baseline.
    FrequencySpike,
    /// An action type never seen during calibration.
    UnseenActionType,
    /// Activity in an hour the agent is rarely active.
    OffHours,
    /// Far more records accessed than usual.
    BulkDataAccess,
    /// The share of denied actions is climbing (scope probing).
    RisingDenials,
    /// Delegations are created far more often than usual.
    DelegationChurn,
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
pub struct Anomaly {
    /// Which signal.
    pub signal: Signal,
    /// 0–100.
    pub severity: u8,
    /// Baseline trust.
    pub confidence: Confidence,
    /// When (the caller's `now`).
    pub at_ms: u64,
}

/// Why the state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Calibration reached its minimum actions and duration.
    CalibrationComplete,
    /// An operator ended calibration.
    OperatorCompletedCalibration,
    /// An observation's score reached a threshold.
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
pub struct Transition {
    /// Before.
    pub from: State,
    /// After.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// Score that caused it (0 for operator and time-driven changes).
    pub score: u8,
    /// When.
    pub at_ms: u64,
    /// HALT and KILLED emit `enforcement.triggered`.
    pub enforcement: bool,
}

/// What a call caused: at most two transitions and one anomaly per signal.
/// Fixed size and compact (anomalies are kept as six severities and built
/// on iteration), so producing it never allocates and copies little.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[must_use]
pub struct Effects {
    transitions: [Option<Transition>; 2],
    severities: [u8; 6],
    low_confidence: bool,
    at_ms: u64,
    /// The observation's combined score (0–100).
    pub score: u8,
    /// `now` was earlier than the last `now` seen; it was treated as equal.
    pub clock_regressed: bool,
}

const SIGNALS: [Signal; 6] = [
    Signal::FrequencySpike,
    Signal::UnseenActionType,
    Signal::OffHours,
    Signal::BulkDataAccess,
    Signal::RisingDenials,
    Signal::DelegationChurn,
];

impl Effects {
    /// State changes, in order.
    pub fn transitions(&self) -> impl Iterator<Item = &Transition> {
        self.transitions.iter().flatten()
    }
    /// `anomaly.detected` events, one per signal at or above the report severity.
    pub fn anomalies(&self) -> impl Iterator<Item = Anomaly> + '_ {
        let confidence = if self.low_confidence {
            Confidence::Low
        } else {
            Confidence::High
        };
        self.severities
            .iter()
            .zip(SIGNALS)
            .filter(|(s, _)| **s > 0)
            .map(move |(s, signal)| Anomaly {
                signal,
                severity: *s,
                confidence,
                at_ms: self.at_ms,
            })
    }
    fn push_transition(&mut self, t: Transition) {
        if let Some(slot) = self.transitions.iter_mut().find(|s| s.is_none()) {
            *slot = Some(t);
        }
    }
}

/// How an action ended, when the host knows (`POST /report`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionOutcome {
    /// It worked.
    Success,
    /// It failed.
    Failure,
    /// It partly worked.
    Partial,
}

/// What happened, as the breaker needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation<'a> {
    /// The action type.
    pub action_type: &'a str,
    /// Whether the action was denied (by policy, scope or breaker).
    pub denied: bool,
    /// Sum of `data_accessed[].count`.
    pub data_count: u64,
    /// Hour of day (UTC, 0–23) of the action's timestamp.
    pub hour_utc: u8,
    /// The action created a delegation.
    pub delegation_created: bool,
    /// How it ended, if known. Failures count with denials in the
    /// rising-denials share: an agent whose actions keep failing or being
    /// refused is probing.
    pub outcome: Option<ActionOutcome>,
}

/// The answer to `admit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Admission {
    /// Go ahead.
    Allow,
    /// THROTTLE: try again after this many milliseconds (`429 RATE_LIMITED`).
    Throttled {
        /// `retry_after_ms`.
        retry_after_ms: u64,
    },
    /// HALT (`AGENT_HALTED`) or KILLED (`403 AGENT_KILLED`).
    Denied(State),
}

/// An operator command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The agent is killed; nothing changes it.
    #[error("agent is killed")]
    Killed,
    /// The command does not apply in this state.
    #[error("`{command}` does not apply in state {state}")]
    InvalidState {
        /// The command.
        command: &'static str,
        /// The state.
        state: State,
    },
}

impl CommandError {
    /// Stable code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            CommandError::Killed => "AGENT_KILLED",
            CommandError::InvalidState { .. } => "INVALID_STATE",
        }
    }
}

/// `GET /agent/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Current state.
    pub state: State,
    /// Since when.
    pub since_ms: u64,
    /// Why it entered this state, if not the initial one.
    pub reason: Option<Reason>,
    /// Calibration progress, 0–100 (100 once calibrated).
    pub calibration_percent: u8,
}

/// Number of bits in the seen-action-type filter.
const TYPE_BITS: usize = 1024;

/// One agent's breaker. Deterministic: the same calls with the same
/// arguments give the same effects and the same serialised state.
///
/// **Call order.** For each action: [`admit`](Self::admit) before running
/// it, then [`observe`](Self::observe) with what happened. Operator
/// commands may come at any time. Every call takes `now` in milliseconds
/// on the caller's clock, which should not run backwards; if it does, the
/// breaker treats `now` as equal to the latest time it has seen (time never
/// runs backwards inside it) and sets [`Effects::clock_regressed`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breaker {
    state: State,
    since_ms: u64,
    reason: Option<Reason>,
    last_now: u64,
    calibration_started_ms: u64,
    calibration_actions: u64,
    calibrated_once: bool,
    // Rate windows.
    window_start_ms: u64,
    window_count: u32,
    prev_window_count: u32,
    rate: Stat,
    /// Rate standard deviation (with its floor), recomputed when a window closes.
    rate_sd: f64,
    // Per-action baselines.
    data: Stat,
    denials: Stat,
    delegations: Stat,
    denial_ewma: f64,
    delegation_ewma: f64,
    hours: [u32; 24],
    hours_total: u64,
    types: [u64; TYPE_BITS / 64],
    // De-escalation and throttling.
    last_hot_ms: u64,
    gcra_tat_ms: u64,
}

impl Breaker {
    /// A new agent, CALIBRATING from `now`.
    #[must_use]
    pub fn new(now_ms: u64) -> Breaker {
        Breaker {
            state: State::Calibrating,
            since_ms: now_ms,
            reason: None,
            last_now: now_ms,
            calibration_started_ms: now_ms,
            calibration_actions: 0,
            calibrated_once: false,
            window_start_ms: now_ms,
            window_count: 0,
            prev_window_count: 0,
            rate: Stat::default(),
            rate_sd: 1.0,
            data: Stat::default(),
            denials: Stat::default(),
            delegations: Stat::default(),
            denial_ewma: 0.0,
            delegation_ewma: 0.0,
            hours: [0; 24],
            hours_total: 0,
            types: [0; TYPE_BITS / 64],
            last_hot_ms: now_ms,
            gcra_tat_ms: now_ms,
        }
    }

    /// Current state.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// `GET /agent/status`.
    #[must_use]
    pub fn status(&self, cfg: &BreakerConfig, now_ms: u64) -> Status {
        Status {
            state: self.state,
            since_ms: self.since_ms,
            reason: self.reason,
            calibration_percent: self.calibration_percent(cfg, now_ms),
        }
    }

    /// Calibration progress: the lesser of the action and time fractions, 0–100.
    #[must_use]
    pub fn calibration_percent(&self, cfg: &BreakerConfig, now_ms: u64) -> u8 {
        if self.state != State::Calibrating && self.calibrated_once {
            return 100;
        }
        let by_actions = self
            .calibration_actions
            .saturating_mul(100)
            .checked_div(cfg.calibration_min_actions)
            .unwrap_or(100);
        let elapsed = now_ms
            .max(self.last_now)
            .saturating_sub(self.calibration_started_ms);
        let by_time = elapsed
            .saturating_mul(100)
            .checked_div(cfg.calibration_min_duration_ms)
            .unwrap_or(100);
        u8::try_from(by_actions.min(by_time).min(100)).unwrap_or(100)
    }

    fn clock(&mut self, now_ms: u64, fx: &mut Effects) -> u64 {
        if now_ms < self.last_now {
            fx.clock_regressed = true;
            return self.last_now;
        }
        self.last_now = now_ms;
        now_ms
    }

    fn enter(&mut self, to: State, reason: Reason, score: u8, now: u64, fx: &mut Effects) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.since_ms = now;
        self.reason = Some(reason);
        if to == State::Throttle {
            self.gcra_tat_ms = now;
        }
        fx.push_transition(Transition {
            from,
            to,
            reason,
            score,
            at_ms: now,
            enforcement: matches!(to, State::Halt | State::Killed),
        });
    }

    /// GCRA emission interval in THROTTLE: the window divided by the
    /// admitted rate (a fraction of the baseline, at least one per window).
    fn emission_interval_ms(&self, cfg: &BreakerConfig) -> u64 {
        let per_window = self.rate.mean * cfg.throttle_fraction;
        let per_window = if per_window > 1.0 { per_window } else { 1.0 };
        let t = cfg.window_ms as f64 / per_window;
        if t < 1.0 { 1 } else { t as u64 }
    }

    /// Before an action: may it run now? In THROTTLE an allowed action
    /// consumes a GCRA slot. Also applies quiet-period de-escalation.
    pub fn admit(&mut self, cfg: &BreakerConfig, now_ms: u64) -> (Admission, Effects) {
        let mut fx = Effects::default();
        let now = self.clock(now_ms, &mut fx);
        self.deescalate(cfg, now, &mut fx);
        let a = match self.state {
            State::Halt | State::Killed => Admission::Denied(self.state),
            State::Throttle => {
                let t = self.emission_interval_ms(cfg);
                let tau = t.saturating_mul(u64::from(cfg.throttle_burst));
                let tat = self.gcra_tat_ms.max(now);
                if tat.saturating_sub(now) > tau {
                    Admission::Throttled {
                        retry_after_ms: tat - now - tau,
                    }
                } else {
                    self.gcra_tat_ms = tat.saturating_add(t);
                    Admission::Allow
                }
            }
            _ => Admission::Allow,
        };
        (a, fx)
    }

    /// When [`poll`](Self::poll) will next change the state by itself: the
    /// end of the quiet period in WARN or THROTTLE; `None` in other states.
    /// A host sleeps until then instead of polling every agent.
    #[must_use]
    pub fn next_timeout(&self, cfg: &BreakerConfig) -> Option<u64> {
        matches!(self.state, State::Warn | State::Throttle)
            .then(|| self.last_hot_ms.saturating_add(cfg.quiet_period_ms))
    }

    /// Apply time-driven changes (quiet-period de-escalation) without an action.
    pub fn poll(&mut self, cfg: &BreakerConfig, now_ms: u64) -> Effects {
        let mut fx = Effects::default();
        let now = self.clock(now_ms, &mut fx);
        self.deescalate(cfg, now, &mut fx);
        fx
    }

    fn deescalate(&mut self, cfg: &BreakerConfig, now: u64, fx: &mut Effects) {
        let down = match self.state {
            State::Throttle => State::Warn,
            State::Warn => State::Monitoring,
            _ => return,
        };
        if now.saturating_sub(self.last_hot_ms) >= cfg.quiet_period_ms {
            self.enter(down, Reason::QuietPeriod, 0, now, fx);
            self.last_hot_ms = now;
        }
    }

    fn roll_windows(&mut self, cfg: &BreakerConfig, now: u64) {
        let w = cfg.window_ms;
        if now < self.window_start_ms.saturating_add(w) {
            return;
        }
        let elapsed = (now - self.window_start_ms) / w;
        let closed = f64::from(self.window_count);
        let empty = elapsed - 1;
        let learn = self.learning();
        if self.state == State::Calibrating {
            self.rate.push(closed);
            self.rate.push_many(0.0, empty);
        } else if learn {
            self.rate.adapt(closed, cfg.adapt_weight);
            // Long idle gaps count, but only up to a day of windows.
            for _ in 0..empty.min(86_400_000 / w) {
                self.rate.adapt(0.0, cfg.adapt_weight);
            }
        }
        self.rate_sd = self
            .rate
            .sd_floor(1.0 + 0.5 * self.rate.mean.sqrt() + 0.25 * self.rate.mean);
        self.prev_window_count = if empty == 0 { self.window_count } else { 0 };
        self.window_count = 0;
        self.window_start_ms = self
            .window_start_ms
            .saturating_add(elapsed.saturating_mul(w));
    }

    /// Whether the baseline may learn now: while calibrating, and afterwards
    /// only in MONITORING (so an attacker cannot drift it from WARN or above).
    fn learning(&self) -> bool {
        matches!(self.state, State::Calibrating | State::Monitoring)
    }

    fn type_bits(action_type: &str) -> [usize; 2] {
        let h = fnv1a(action_type);
        [(h as usize) % TYPE_BITS, ((h >> 32) as usize) % TYPE_BITS]
    }

    fn type_seen(&self, action_type: &str) -> bool {
        Self::type_bits(action_type).iter().all(|&b| {
            self.types
                .get(b / 64)
                .is_some_and(|w| w & (1 << (b % 64)) != 0)
        })
    }

    fn remember_type(&mut self, action_type: &str) {
        for b in Self::type_bits(action_type) {
            if let Some(w) = self.types.get_mut(b / 64) {
                *w |= 1 << (b % 64);
            }
        }
    }

    /// After an action: score it, update the baseline, and change state if
    /// the score says so. Never allocates.
    pub fn observe(&mut self, cfg: &BreakerConfig, now_ms: u64, obs: &Observation<'_>) -> Effects {
        let mut fx = Effects::default();
        let now = self.clock(now_ms, &mut fx);
        if self.state == State::Killed {
            return fx;
        }
        self.roll_windows(cfg, now);
        self.window_count = self.window_count.saturating_add(1);
        let calibrating = self.state == State::Calibrating;
        fx.low_confidence = calibrating;
        fx.at_ms = now;
        let scored = self.rate.n >= 10 || self.calibrated_once;

        // --- Signals.
        let mut sev = [0u8; 6];
        if scored {
            // Frequency: sliding-window estimate of the current rate.
            let into = now.saturating_sub(self.window_start_ms) as f64 / cfg.window_ms as f64;
            let est =
                f64::from(self.window_count) + f64::from(self.prev_window_count) * (1.0 - into);
            let z = (est - self.rate.mean) / self.rate_sd;
            sev[0] = severity((z - 4.0) * 12.0).min(80);
            // Unseen action type.
            if !self.type_seen(obs.action_type) {
                sev[1] = 45;
            }
            // Off-hours: this hour's share of activity under a quarter of uniform (1/24).
            let total = self.hours_total;
            if total >= 100 {
                let here = u64::from(
                    self.hours
                        .get(usize::from(obs.hour_utc % 24))
                        .copied()
                        .unwrap_or(0),
                );
                if here * 96 < total {
                    let share = here as f64 / total as f64 * 24.0;
                    sev[2] = severity(40.0 * (1.0 - 4.0 * share));
                }
            }
            // Bulk data access; the z-score is only needed past four floor deviations.
            let dm = self.data.mean;
            let x = obs.data_count as f64;
            if x - dm > 4.0 * (1.0 + 0.25 * dm) {
                let dsd = self.data.sd_floor(1.0 + 0.25 * dm);
                sev[3] = severity(((x - dm) / dsd - 4.0) * 10.0).min(85);
            }
        }
        // Denials and delegations: exponentially weighted shares (weight 1/16).
        let refused = obs.denied || obs.outcome == Some(ActionOutcome::Failure);
        let x = if refused { 1.0 } else { 0.0 };
        self.denial_ewma += (x - self.denial_ewma) / 16.0;
        let y = if obs.delegation_created { 1.0 } else { 0.0 };
        self.delegation_ewma += (y - self.delegation_ewma) / 16.0;
        if scored {
            sev[4] = severity((self.denial_ewma - self.denials.mean - 0.05) * 160.0);
            sev[5] =
                severity((self.delegation_ewma - self.delegations.mean - 0.05) * 150.0).min(85);
        }

        // Combined score: the strongest signal plus half the next.
        let (mut s1, mut s2, mut top) = (0u8, 0u8, Signal::FrequencySpike);
        for ((s, sig), out) in sev.iter().zip(SIGNALS).zip(fx.severities.iter_mut()) {
            if *s > s1 {
                s2 = s1;
                s1 = *s;
                top = sig;
            } else if *s > s2 {
                s2 = *s;
            }
            if *s >= cfg.report_severity {
                *out = *s;
            }
        }
        let score = (u16::from(s1) + u16::from(s2) / 2).min(100) as u8;
        fx.score = score;

        // --- Learning.
        if self.learning() {
            let w = cfg.adapt_weight;
            if calibrating {
                self.data.push(obs.data_count as f64);
                self.denials.push(x);
                self.delegations.push(y);
                self.calibration_actions += 1;
            } else {
                self.data.adapt(obs.data_count as f64, w);
                self.denials.adapt(x, w);
                self.delegations.adapt(y, w);
            }
            if let Some(h) = self.hours.get_mut(usize::from(obs.hour_utc % 24)) {
                *h = h.saturating_add(1);
                self.hours_total += 1;
            }
            // Keep the profile adaptive: halve it when it grows large.
            if self.hours_total > 1 << 20 {
                for h in &mut self.hours {
                    *h /= 2;
                }
                self.hours_total = self.hours.iter().map(|&h| u64::from(h)).sum();
            }
            if calibrating || sev[1] > 0 && self.state == State::Monitoring {
                self.remember_type(obs.action_type);
            }
        }

        // --- State.
        if calibrating {
            let enough = self.calibration_actions >= cfg.calibration_min_actions
                && now.saturating_sub(self.calibration_started_ms)
                    >= cfg.calibration_min_duration_ms;
            if enough {
                self.finish_calibration(now, Reason::CalibrationComplete, &mut fx);
            }
            return fx;
        }
        if matches!(self.state, State::Halt | State::Killed) {
            return fx;
        }
        let target = if score >= cfg.halt_score {
            State::Halt
        } else if score >= cfg.throttle_score {
            State::Throttle
        } else if score >= cfg.warn_score {
            State::Warn
        } else {
            State::Monitoring
        };
        if target > self.state {
            self.enter(target, Reason::Anomaly(top), score, now, &mut fx);
        }
        let level = match self.state {
            State::Warn => cfg.warn_score,
            State::Throttle => cfg.throttle_score,
            _ => cfg.warn_score,
        };
        if score.saturating_add(cfg.hysteresis) >= level {
            self.last_hot_ms = now;
        }
        self.deescalate(cfg, now, &mut fx);
        fx
    }

    fn finish_calibration(&mut self, now: u64, reason: Reason, fx: &mut Effects) {
        self.rate.start_adapting();
        self.data.start_adapting();
        self.denials.start_adapting();
        self.delegations.start_adapting();
        self.calibrated_once = true;
        self.last_hot_ms = now;
        self.enter(State::Monitoring, reason, 0, now, fx);
    }

    /// Start an operator command: refused once killed; otherwise the
    /// effects to fill and the (clamped) time.
    fn command(&mut self, now_ms: u64) -> Result<(Effects, u64), CommandError> {
        if self.state == State::Killed {
            return Err(CommandError::Killed);
        }
        let mut fx = Effects::default();
        let now = self.clock(now_ms, &mut fx);
        Ok((fx, now))
    }

    fn refuse(&self, command: &'static str) -> CommandError {
        CommandError::InvalidState {
            command,
            state: self.state,
        }
    }

    /// Operator: halt now.
    ///
    /// # Errors
    /// [`CommandError::Killed`].
    pub fn halt(&mut self, now_ms: u64) -> Result<Effects, CommandError> {
        let (mut fx, now) = self.command(now_ms)?;
        self.enter(State::Halt, Reason::OperatorHalt, 0, now, &mut fx);
        Ok(fx)
    }

    /// Operator: leave HALT (the only way out of it), to MONITORING, or to
    /// CALIBRATING if calibration never completed.
    ///
    /// # Errors
    /// [`CommandError::InvalidState`] unless halted; [`CommandError::Killed`].
    pub fn resume(&mut self, now_ms: u64) -> Result<Effects, CommandError> {
        if self.state != State::Killed && self.state != State::Halt {
            return Err(self.refuse("resume"));
        }
        let (mut fx, now) = self.command(now_ms)?;
        let to = if self.calibrated_once {
            State::Monitoring
        } else {
            State::Calibrating
        };
        self.denial_ewma = self.denials.mean;
        self.delegation_ewma = self.delegations.mean;
        self.last_hot_ms = now;
        self.enter(to, Reason::OperatorResume, 0, now, &mut fx);
        Ok(fx)
    }

    /// Operator: kill permanently.
    ///
    /// # Errors
    /// [`CommandError::Killed`] if already killed.
    pub fn kill(&mut self, now_ms: u64) -> Result<Effects, CommandError> {
        let (mut fx, now) = self.command(now_ms)?;
        self.enter(State::Killed, Reason::OperatorKill, 0, now, &mut fx);
        Ok(fx)
    }

    /// Operator: end calibration now with what has been learned.
    ///
    /// # Errors
    /// [`CommandError::InvalidState`] unless calibrating.
    pub fn complete_calibration(&mut self, now_ms: u64) -> Result<Effects, CommandError> {
        if self.state != State::Killed && self.state != State::Calibrating {
            return Err(self.refuse("complete_calibration"));
        }
        let (mut fx, now) = self.command(now_ms)?;
        self.finish_calibration(now, Reason::OperatorCompletedCalibration, &mut fx);
        Ok(fx)
    }

    /// Operator: forget the baseline and calibrate again. Not from HALT
    /// (only `resume` leaves HALT).
    ///
    /// # Errors
    /// [`CommandError::InvalidState`] in HALT; [`CommandError::Killed`].
    pub fn recalibrate(&mut self, now_ms: u64) -> Result<Effects, CommandError> {
        if self.state != State::Killed && self.state == State::Halt {
            return Err(self.refuse("recalibrate"));
        }
        let (mut fx, now) = self.command(now_ms)?;
        let fresh = Breaker::new(now);
        let (state, since, reason) = (self.state, self.since_ms, self.reason);
        *self = fresh;
        self.state = state;
        self.since_ms = since;
        self.reason = reason;
        self.enter(
            State::Calibrating,
            Reason::OperatorRecalibrate,
            0,
            now,
            &mut fx,
        );
        Ok(fx)
    }
}
