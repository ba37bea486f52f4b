//! Levels: entering states, escalation by score, de-escalation by quiet
//! time, and the operator commands.

use al_types::Timestamp;

use super::{Breaker, after};
use crate::config::BreakerConfig;
use crate::effects::Effects;
use crate::error::BreakerError;
use crate::types::{Reason, Signal, State, Transition};

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
    /// level, note whether it was hot, and de-escalate if a quiet period has
    /// passed.
    pub(super) fn settle(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
        score: u8,
        top: Signal,
        fx: &mut Effects,
    ) {
        if matches!(self.state, State::Halt | State::Killed) {
            return;
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
            self.enter(target, Reason::Anomaly(top), score, now, fx);
        }
        let level = match self.state {
            State::Throttle => cfg.throttle_score,
            _ => cfg.warn_score,
        };
        if score.saturating_add(cfg.hysteresis) >= level {
            self.last_hot = now;
        }
        if self.deescalation_due(cfg, now) {
            self.deescalate(now, fx);
        }
    }

    /// When a quiet-period step down becomes due, if the state has one.
    pub(super) fn deescalation_deadline(&self, cfg: &BreakerConfig) -> Option<Timestamp> {
        match self.state {
            State::Warn | State::Throttle => Some(after(self.last_hot, cfg.quiet_period_ms)),
            _ => None,
        }
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
        self.last_hot = now;
    }

    pub(super) fn finish_calibration(&mut self, now: Timestamp, reason: Reason, fx: &mut Effects) {
        self.calibrated_at = Some(now);
        self.last_hot = now;
        self.enter(State::Monitoring, reason, 0, now, fx);
    }

    /// Start an operator command: refused once killed; otherwise the
    /// effects to fill and the (clamped) time, which the command moves the
    /// clock to.
    fn command(&mut self, now: Timestamp) -> Result<(Effects, Timestamp), BreakerError> {
        if self.state == State::Killed {
            return Err(BreakerError::Killed);
        }
        let (now, regressed) = self.clock(now);
        self.last_now = now;
        Ok((Effects::new(now, regressed), now))
    }

    fn refuse(&self, command: &'static str) -> BreakerError {
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
        let to = if self.calibrated_at.is_some() {
            State::Monitoring
        } else {
            State::Calibrating
        };
        self.refusal_share = self.refusals.mean;
        self.delegation_share = self.delegations.mean;
        self.last_hot = now;
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

    /// Operator: end calibration now with what has been learned.
    ///
    /// # Errors
    /// [`BreakerError::InvalidState`] unless calibrating.
    pub fn complete_calibration(&mut self, now: Timestamp) -> Result<Effects, BreakerError> {
        if self.state != State::Calibrating {
            return Err(self.refuse("complete_calibration"));
        }
        let (mut fx, now) = self.command(now)?;
        self.finish_calibration(now, Reason::OperatorCompletedCalibration, &mut fx);
        Ok(fx)
    }

    /// Operator: forget everything learned and calibrate again. Not from
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
