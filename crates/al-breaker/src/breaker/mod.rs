//! The per-agent breaker: its state, and the calls that change it.
//!
//! `mod.rs` holds the state and the public calls; the work is split by job:
//! [`learn`] (rate windows and baselines), [`profile`] (the seasonal
//! baselines), [`signals`] (scoring), [`drift`] (the anchored baseline),
//! [`levels`] (escalation, de-escalation, operator commands), [`throttle`]
//! (admission and GCRA), [`known`] (the set of known action types) and
//! [`wire`] and [`base64`] (the serialised layout).

mod base64;
mod drift;
mod known;
mod learn;
mod levels;
mod profile;
mod signals;
mod throttle;
mod wire;

use crate::config::BreakerConfig;
use crate::effects::Effects;
use crate::stats::{Share, Stat};
use crate::types::{ActionOutcome, Admission, Drift, Observation, Reason, State, Status};
use al_types::Timestamp;
pub(crate) use drift::Anchor;
pub(crate) use known::{KnownTypes, LastType, fingerprint};
pub(crate) use profile::{Profile, slot_end, slot_of};

/// One agent's breaker. Deterministic: the same calls with the same
/// arguments give the same effects and the same serialised state.
///
/// **Call order.** For each action: [`admit`](Self::admit) before running
/// it; if it answers [`Admission::Allow`], run the action and then
/// [`observe`](Self::observe) what happened. An outcome reported later goes
/// to [`report_outcome`](Self::report_outcome). Operator commands may come
/// at any time, and [`poll`](Self::poll) at (or after)
/// [`poll_timeout`](Self::poll_timeout) applies time-driven de-escalation.
///
/// **Time.** Every call takes `now`, which should not run backwards. If it
/// does, the breaker uses the latest time it has seen instead (time never
/// runs backwards inside it) and sets [`Effects::clock_regressed`].
///
/// **Calls that change nothing leave nothing behind.** An `admit` that
/// answers [`Admission::Throttled`], and a `poll` that reports no
/// transition, leave the state exactly as it was (serialised byte for
/// byte), so a host that does not record them (a `429` is an error, not an
/// audit entry) can still replay the breaker from its audit log.
///
/// **Serialisation.** [`to_bytes`](Self::to_bytes) /
/// [`from_bytes`](Self::from_bytes), or serde (one base64 string in text
/// formats): a compact versioned layout that restores the state exactly and
/// validates every field on the way in (see the crate docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Breaker {
    state: State,
    since: Timestamp,
    reason: Option<Reason>,
    /// The latest `now` of a call that changed the state.
    last_now: Timestamp,
    calibration_started: Timestamp,
    calibration_actions: u64,
    /// The baseline frozen at the end of calibration or at the last
    /// `accept_drift` (`None`: never calibrated, or recalibrating).
    anchor: Option<Anchor>,
    /// The drift signal fires: set as each window closes.
    drifting: bool,
    // Rate windows.
    window_start: Timestamp,
    /// The season slot of `window_start`, and when it ends (derived from
    /// `window_start`, not serialised).
    window_slot: u8,
    slot_end: Timestamp,
    window_count: u32,
    prev_window_count: u32,
    /// The current window's rate baseline (its slot's, or the all-hours one
    /// while the slot is not trusted) and its standard deviation with the
    /// floor, set when a window opens.
    base_mean: f64,
    base_sd: f64,
    /// All-hours baselines: the fallback for slots not yet trusted.
    rate: Stat,
    data: Stat,
    /// Seasonal baselines.
    profile: Profile,
    // Per-action shares: baselines and current values (weight `share_weight`).
    refusals: Share,
    delegations: Share,
    refusal_share: f64,
    delegation_share: f64,
    types: KnownTypes,
    /// Memo of the last type's fingerprint (not serialised).
    last_type: LastType,
    // De-escalation and throttling.
    last_hot: Timestamp,
    /// Scored actions since `last_hot`, none of them hot.
    quiet_actions: u32,
    last_deescalation: Option<Timestamp>,
    gcra_tat: Timestamp,
}

impl Breaker {
    /// A new agent, CALIBRATING from `now`.
    #[must_use]
    pub fn new(now: Timestamp) -> Breaker {
        Breaker {
            state: State::Calibrating,
            since: now,
            reason: None,
            last_now: now,
            calibration_started: now,
            calibration_actions: 0,
            anchor: None,
            drifting: false,
            window_start: now,
            window_slot: slot_of(now),
            slot_end: slot_end(now),
            window_count: 0,
            prev_window_count: 0,
            base_mean: 0.0,
            base_sd: 1.0,
            rate: Stat::default(),
            data: Stat::default(),
            profile: Profile::default(),
            refusals: Share::default(),
            delegations: Share::default(),
            refusal_share: 0.0,
            delegation_share: 0.0,
            types: KnownTypes::default(),
            last_type: LastType::default(),
            last_hot: now,
            quiet_actions: 0,
            last_deescalation: None,
            gcra_tat: now,
        }
    }

    /// Current state.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// `GET /agent/status`.
    #[must_use]
    pub fn status(&self, cfg: &BreakerConfig, now: Timestamp) -> Status {
        Status {
            state: self.state,
            since: self.since,
            reason: self.reason,
            calibration_percent: self.calibration_percent(cfg, now),
            known_types: self.types.len(),
            drift: self.drift(cfg),
        }
    }

    /// The baseline's drift from its anchor, if past `drift_ratio` (see
    /// [`Drift`]); `None` while calibrating.
    #[must_use]
    pub fn drift(&self, cfg: &BreakerConfig) -> Option<Drift> {
        self.drift_now(cfg)
    }

    /// Calibration progress: the lesser of the action and time fractions,
    /// 0–100 (100 once calibrated).
    #[must_use]
    pub fn calibration_percent(&self, cfg: &BreakerConfig, now: Timestamp) -> u8 {
        if self.state != State::Calibrating && self.anchor.is_some() {
            return 100;
        }
        let by_actions = self
            .calibration_actions
            .saturating_mul(100)
            .checked_div(cfg.calibration_min_actions)
            .unwrap_or(100);
        let by_time = elapsed(now.max(self.last_now), self.calibration_started)
            .saturating_mul(100)
            .checked_div(cfg.calibration_min_duration_ms)
            .unwrap_or(100);
        u8::try_from(by_actions.min(by_time).min(100)).unwrap_or(100)
    }

    /// Whether `action_type` is among the types the agent is known to use.
    #[must_use]
    pub fn knows_type(&self, action_type: &str) -> bool {
        self.types.contains(fingerprint(action_type))
    }

    /// `now`, clamped so time never runs backwards, and whether it had to be.
    /// Reads only: calls that change nothing must not even move the clock.
    fn clock(&self, now: Timestamp) -> (Timestamp, bool) {
        if now < self.last_now {
            (self.last_now, true)
        } else {
            (now, false)
        }
    }

    /// Before an action: may it run now? In THROTTLE an admitted action
    /// takes a GCRA slot. Also applies time-driven de-escalation (whose
    /// transitions are returned). An answer of [`Admission::Throttled`]
    /// changes nothing.
    pub fn admit(&mut self, cfg: &BreakerConfig, now: Timestamp) -> (Admission, Effects) {
        let (now, regressed) = self.clock(now);
        // The hot path: CALIBRATING and MONITORING admit everything and have
        // no step down to wait for.
        if matches!(self.state, State::Calibrating | State::Monitoring) {
            return (Admission::Allow, Effects::new(now, regressed));
        }
        let mut fx = Effects::new(now, regressed);
        let a = self.admit_slow(cfg, now, &mut fx);
        (a, fx)
    }

    /// [`Self::admit`] in the other states: a due step down, then the
    /// answer.
    #[inline(never)]
    pub(super) fn admit_slow(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
        fx: &mut Effects,
    ) -> Admission {
        if self.deescalation_due(cfg, now) {
            self.last_now = now;
            self.deescalate(now, fx);
        }
        self.admission(cfg, now)
    }

    /// Apply time-driven changes (quiet-period de-escalation) without an
    /// action. Changes nothing unless it returns a transition.
    pub fn poll(&mut self, cfg: &BreakerConfig, now: Timestamp) -> Effects {
        let (now, regressed) = self.clock(now);
        let mut fx = Effects::new(now, regressed);
        if self.deescalation_due(cfg, now) {
            self.last_now = now;
            self.deescalate(now, &mut fx);
        }
        fx
    }

    /// The earliest time at which [`poll`](Self::poll) would change the
    /// state if nothing else happened before, or `None` if only an action
    /// or an operator can. A host keeps these in a deadline queue.
    #[must_use]
    pub fn poll_timeout(&self, cfg: &BreakerConfig) -> Option<Timestamp> {
        self.deescalation_deadline(cfg)
    }

    /// After an admitted action ran (or was refused by policy): score it,
    /// learn from it, and change state if the score says so. Never
    /// allocates. A KILLED agent ignores it.
    pub fn observe(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
        obs: &Observation<'_>,
    ) -> Effects {
        let (now, regressed) = self.clock(now);
        let mut fx = Effects::new(now, regressed);
        if self.state == State::Killed {
            return fx;
        }
        self.last_now = now;
        self.roll_windows(cfg, now);
        self.window_count = self.window_count.saturating_add(1);
        let calibrating = self.state == State::Calibrating;
        fx.low_confidence = calibrating;
        let (fp, known) = self.last_type.lookup(obs.action_type, &self.types);
        self.update_shares(cfg, obs);
        let (score, top) = self.score(cfg, now, obs, known, &mut fx);
        if self.learning() {
            self.learn(cfg, obs, calibrating);
        }
        if !known {
            self.learn_type(cfg, obs, fp, calibrating);
        }
        if calibrating {
            if self.calibration_done(cfg, now) {
                self.finish_calibration(cfg, now, Reason::CalibrationComplete, &mut fx);
            }
            return fx;
        }
        self.settle(cfg, now, score, top, true, &mut fx);
        fx
    }

    /// An outcome reported after the action was observed (`POST /report`).
    /// `previous` is the outcome last reported for the same action (`None`
    /// for its first report), so that an overwritten report is taken back:
    /// a failure counts with denials in the rising-denials share, a success
    /// or partial success does not. A report that does not change the
    /// count (success after nothing, failure after failure) changes
    /// nothing. Do not report outcomes of denied actions (they did not
    /// run; their denial was counted at `observe`).
    pub fn report_outcome(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
        previous: Option<ActionOutcome>,
        outcome: ActionOutcome,
    ) -> Effects {
        let (now, regressed) = self.clock(now);
        let mut fx = Effects::new(now, regressed);
        let (from, to) = (
            ActionOutcome::refused(previous),
            ActionOutcome::refused(Some(outcome)),
        );
        if from == to || self.state == State::Killed {
            return fx;
        }
        self.last_now = now;
        let calibrating = self.state == State::Calibrating;
        fx.low_confidence = calibrating;
        self.amend_refusal(cfg, from, to, calibrating);
        let (score, top) = self.score_refusals(cfg, &mut fx);
        if !calibrating {
            self.settle(cfg, now, score, top, false, &mut fx);
        }
        fx
    }

    /// Whether the baseline may learn now: while calibrating, and afterwards
    /// only in MONITORING (so an attacker cannot drift it from WARN or above).
    fn learning(&self) -> bool {
        matches!(self.state, State::Calibrating | State::Monitoring)
    }
}

/// Milliseconds from `earlier` to `later`, 0 if `later` is not later.
pub(crate) fn elapsed(later: Timestamp, earlier: Timestamp) -> u64 {
    u64::try_from(later.millis_since(earlier)).unwrap_or(0)
}

/// `t + ms`, saturating at the end of representable time.
pub(crate) fn after(t: Timestamp, ms: u64) -> Timestamp {
    t.saturating_add_millis(i64::try_from(ms).unwrap_or(i64::MAX))
}
