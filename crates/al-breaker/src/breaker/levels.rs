//! Levels: entering states, escalation by score, de-escalation by quiet
//! time, and the operator commands.

use al_types::Timestamp;

use super::{Breaker, after};
use crate::config::BreakerConfig;
use crate::effects::Effects;
use crate::error::BreakerError;
use crate::types::{AnchorKind, Reason, Signal, State, Transition};

impl Breaker {
    pub(super) fn enter(
        &mut self,
        to: State,
        reason: Reason,
        score: u8,
        now: Timestamp,
        fx: &mut Effects,
    ) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.since = now;
        self.reason = Some(reason);
        if to == State::Throttle {
            self.gcra_tat = now;
        }
        fx.push_transition(Transition {
            from,
            to,
            reason,
            score,
            at: now,
            enforcement: matches!(to, State::Halt | State::Killed),
        });
    }

    /// After a score outside calibration: escalate if it reaches a higher
    /// level, note whether it was hot, and step down if that is due.
    /// `action`: the score is an observed action's (counted towards
    /// `quiet_actions`), not an outcome report's.
    ///
    /// The common case (MONITORING, a cold score) is decided here, inline
    /// on the hot path; everything else goes to [`Self::settle_slow`].
    #[inline]
    pub(super) fn settle(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
        score: u8,
        top: Signal,
        action: bool,
        fx: &mut Effects,
    ) {
        if self.state == State::Monitoring && score.saturating_add(cfg.hysteresis) < cfg.warn_score
        {
            if action {
                self.quiet_actions = self.quiet_actions.saturating_add(1);
            }
            return;
        }
        self.settle_slow(cfg, now, score, top, action, fx);
    }

    /// [`Self::settle`] for every other case.
    #[inline(never)]
    fn settle_slow(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
        score: u8,
        top: Signal,
        action: bool,
        fx: &mut Effects,
    ) {
        if matches!(self.state, State::Halt | State::Killed) {
            return;
        }
        // Hot: a score within `hysteresis` of `warn_score`, whatever the
        // level. A throttled agent that keeps scoring at WARN level is still
        // attacking: it stays throttled instead of stepping down to WARN and
        // straight back up (the de-escalation rule that makes a steady
        // attack settle). Only a hot score can escalate.
        if score.saturating_add(cfg.hysteresis) >= cfg.warn_score {
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
                self.enter(target, Reason::Anomaly(top), score, now, fx);
            }
            self.mark_hot(now);
        } else if action {
            self.quiet_actions = self.quiet_actions.saturating_add(1);
        }
        // Only WARN and THROTTLE step down.
        if !matches!(self.state, State::Warn | State::Throttle) {
            return;
        }
        if self.deescalation_due(cfg, now) {
            self.deescalate(now, fx);
        }
    }

    /// A hot score (or a fresh start of the quiet count) at `now`.
    pub(super) fn mark_hot(&mut self, now: Timestamp) {
        self.last_hot = now;
        self.quiet_actions = 0;
    }

    /// When a step down becomes due, if the state has one: the latest of
    /// - the end of the quiet period after the last hot score, extended to
    ///   `idle_quiet_ms` unless `quiet_actions` scored actions since then were
    ///   all quiet (a low-and-slow prober whose hot actions are further
    ///   apart than the quiet period still never gets that many quiet ones
    ///   in a row; an agent too idle to count actions waits longer instead),
    /// - the minimum dwell after entering the state,
    /// - the minimum interval after the previous step down.
    pub(super) fn deescalation_deadline(&self, cfg: &BreakerConfig) -> Option<Timestamp> {
        if !matches!(self.state, State::Warn | State::Throttle) {
            return None;
        }
        let quiet_for = if self.quiet_actions >= cfg.quiet_actions {
            cfg.quiet_period_ms
        } else {
            cfg.quiet_period_ms.max(cfg.idle_quiet_ms)
        };
        let quiet = after(self.last_hot, quiet_for);
        let dwell = after(self.since, cfg.min_dwell_ms);
        let spaced = self
            .last_deescalation
            .map_or(quiet, |d| after(d, cfg.deescalation_interval_ms));
        Some(quiet.max(dwell).max(spaced))
    }

    pub(super) fn deescalation_due(&self, cfg: &BreakerConfig, now: Timestamp) -> bool {
        self.deescalation_deadline(cfg).is_some_and(|d| now >= d)
    }

    /// Step down one level (call only when due).
    pub(super) fn deescalate(&mut self, now: Timestamp, fx: &mut Effects) {
        let down = match self.state {
            State::Throttle => State::Warn,
            State::Warn => State::Monitoring,
            _ => return,
        };
        self.enter(down, Reason::QuietPeriod, 0, now, fx);
        self.mark_hot(now);
        self.last_deescalation = Some(now);
    }

    pub(super) fn finish_calibration(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
        reason: Reason,
        fx: &mut Effects,
    ) {
        self.take_anchor(cfg, now, AnchorKind::Calibration);
        self.mark_hot(now);
        self.enter(State::Monitoring, reason, 0, now, fx);
    }

    /// Start an operator command: refused once killed; otherwise the
    /// effects to fill and the (clamped) time, which the command moves the
    /// clock to.
    pub(super) fn command(&mut self, now: Timestamp) -> Result<(Effects, Timestamp), BreakerError> {
        if self.state == State::Killed {
            return Err(BreakerError::Killed);
        }
        let (now, regressed) = self.clock(now);
        self.last_now = now;
        Ok((Effects::new(now, regressed), now))
    }

    pub(super) fn refuse(&self, command: &'static str) -> BreakerError {
        if self.state == State::Killed {
            return BreakerError::Killed;
        }
        BreakerError::InvalidState {
            command,
            state: self.state,
        }
    }

    /// Operator: halt now. Halting a halted agent changes nothing.
    ///
    /// # Errors
    /// [`BreakerError::Killed`].
    pub fn halt(&mut self, now: Timestamp) -> Result<Effects, BreakerError> {
        let (mut fx, now) = self.command(now)?;
        self.enter(State::Halt, Reason::OperatorHalt, 0, now, &mut fx);
        Ok(fx)
    }

    /// Operator: leave HALT (the only way out of it), to MONITORING, or to
    /// CALIBRATING if calibration never completed. The current denial and
    /// delegation shares restart from their baselines.
    ///
    /// # Errors
    /// [`BreakerError::InvalidState`] unless halted; [`BreakerError::Killed`].
    pub fn resume(&mut self, now: Timestamp) -> Result<Effects, BreakerError> {
        if self.state != State::Halt {
            return Err(self.refuse("resume"));
        }
        let (mut fx, now) = self.command(now)?;
        let to = if self.anchor.is_some() {
            State::Monitoring
        } else {
            State::Calibrating
        };
        self.refusal_share = self.refusals.mean;
        self.delegation_share = self.delegations.mean;
        self.mark_hot(now);
        self.enter(to, Reason::OperatorResume, 0, now, &mut fx);
        Ok(fx)
    }

    /// Operator: kill permanently.
    ///
    /// # Errors
    /// [`BreakerError::Killed`] if already killed.
    pub fn kill(&mut self, now: Timestamp) -> Result<Effects, BreakerError> {
        let (mut fx, now) = self.command(now)?;
        self.enter(State::Killed, Reason::OperatorKill, 0, now, &mut fx);
        Ok(fx)
    }

    /// Operator: end calibration now with what has been learned (season
    /// slots not yet learned fall back to the all-hours baseline until they
    /// are).
    ///
    /// # Errors
    /// [`BreakerError::InvalidState`] unless calibrating.
    pub fn complete_calibration(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
    ) -> Result<Effects, BreakerError> {
        if self.state != State::Calibrating {
            return Err(self.refuse("complete_calibration"));
        }
        let (mut fx, now) = self.command(now)?;
        self.finish_calibration(cfg, now, Reason::OperatorCompletedCalibration, &mut fx);
        Ok(fx)
    }

    /// Operator: forget everything learned (baselines, seasons, known types,
    /// the drift anchor) and calibrate again. Not from
    /// HALT (only `resume` leaves HALT).
    ///
    /// # Errors
    /// [`BreakerError::InvalidState`] in HALT; [`BreakerError::Killed`].
    pub fn recalibrate(&mut self, now: Timestamp) -> Result<Effects, BreakerError> {
        if matches!(self.state, State::Halt | State::Killed) {
            return Err(self.refuse("recalibrate"));
        }
        let (mut fx, now) = self.command(now)?;
        let (state, since, reason) = (self.state, self.since, self.reason);
        *self = Breaker::new(now);
        self.state = state;
        self.since = since;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The inline fast paths of `settle` and `admit` against the general
    /// code they skip, for every state, score and kind of call: the same
    /// state (field for field) and the same effects.
    #[test]
    fn fast_paths_match_the_general_code() {
        let cfg = BreakerConfig::default();
        let t0 = Timestamp::from_unix_millis(1_764_288_000_000).unwrap();
        let mut calibrated = Breaker::new(t0);
        let _ = calibrated.complete_calibration(&cfg, t0).unwrap();
        let states = [
            State::Calibrating,
            State::Monitoring,
            State::Warn,
            State::Throttle,
            State::Halt,
            State::Killed,
        ];
        // Early and late enough for a step down to be due or not.
        let times = [1_000, 3 * 3_600_000, 3 * 86_400_000];
        for state in states {
            for ms in times {
                let now = t0.saturating_add_millis(ms);
                let mut b = calibrated.clone();
                b.state = state;
                b.quiet_actions = 60;
                for score in 0..=100 {
                    for action in [false, true] {
                        let (mut fast, mut slow) = (b.clone(), b.clone());
                        let (mut fx_fast, mut fx_slow) =
                            (Effects::new(now, false), Effects::new(now, false));
                        fast.settle(
                            &cfg,
                            now,
                            score,
                            Signal::FrequencySpike,
                            action,
                            &mut fx_fast,
                        );
                        slow.settle_slow(
                            &cfg,
                            now,
                            score,
                            Signal::FrequencySpike,
                            action,
                            &mut fx_slow,
                        );
                        assert_eq!(fast, slow, "{state} score {score} action {action}");
                        assert_eq!(fx_fast, fx_slow, "{state} score {score} action {action}");
                    }
                }
                let (mut fast, mut slow) = (b.clone(), b.clone());
                let (a_fast, fx_fast) = fast.admit(&cfg, now);
                let mut fx_slow = Effects::new(now, false);
                let a_slow = slow.admit_slow(&cfg, now, &mut fx_slow);
                assert_eq!((a_fast, fx_fast), (a_slow, fx_slow), "admit in {state}");
                assert_eq!(fast, slow, "admit in {state}");
            }
        }
    }
}
