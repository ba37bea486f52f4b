//! Learning: rate windows, per-action baselines, the hour-of-day profile,
//! the current shares and the known action types.

use al_types::Timestamp;

use super::{Breaker, elapsed};
use crate::config::BreakerConfig;
use crate::stats::clamp01;
use crate::types::{Observation, State};

impl Breaker {
    /// Close the rate windows that ended before `now`: the closed window's
    /// count and the empty ones after it are samples of the rate baseline.
    pub(super) fn roll_windows(&mut self, cfg: &BreakerConfig, now: Timestamp) {
        let w = cfg.window_ms;
        let windows = elapsed(now, self.window_start) / w;
        if windows == 0 {
            return;
        }
        let closed = f64::from(self.window_count);
        let empty = windows - 1;
        match self.state {
            State::Calibrating => {
                self.rate.push(closed, true, cfg.adapt_weight);
                self.rate.push_zeros(empty);
            }
            State::Monitoring => {
                self.rate.push(closed, false, cfg.adapt_weight);
                // Long idle gaps count, but only up to `max_idle_windows`.
                for _ in 0..empty.min(u64::from(cfg.max_idle_windows)) {
                    self.rate.push(0.0, false, cfg.adapt_weight);
                }
            }
            _ => {}
        }
        let m = self.rate.mean;
        let floor = cfg.rate_sd_floor_base
            + cfg.rate_sd_floor_sqrt * if m > 0.0 { m.sqrt() } else { 0.0 }
            + cfg.rate_sd_floor_linear * m;
        self.rate_sd = self.rate.sd_floor(floor);
        self.prev_window_count = if empty == 0 { self.window_count } else { 0 };
        self.window_count = 0;
        self.window_start = super::after(self.window_start, windows.saturating_mul(w));
    }

    /// Move the current denial and delegation shares by this action.
    pub(super) fn update_shares(&mut self, cfg: &BreakerConfig, obs: &Observation<'_>) {
        let w = cfg.share_weight;
        let x = f64::from(u8::from(obs.denied));
        self.refusal_share += w * (x - self.refusal_share);
        let y = f64::from(u8::from(obs.delegation_created));
        self.delegation_share += w * (y - self.delegation_share);
    }

    /// Learn the per-action baselines and the hour-of-day profile.
    pub(super) fn learn(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
        obs: &Observation<'_>,
        calibrating: bool,
    ) {
        let w = cfg.adapt_weight;
        self.data.push(obs.data_count as f64, calibrating, w);
        self.refusals.push(obs.denied, calibrating, w);
        self.delegations
            .push(obs.delegation_created, calibrating, w);
        if calibrating {
            self.calibration_actions = self.calibration_actions.saturating_add(1);
        }
        if let Some(h) = self.hours.get_mut(usize::from(now.hour())) {
            *h = h.saturating_add(1);
            self.hours_total += 1;
        }
        // Keep the profile adaptive: halve it when it grows large.
        if self.hours_total > cfg.hour_profile_cap {
            for h in &mut self.hours {
                *h /= 2;
            }
            self.hours_total = self.hours.iter().map(|&h| u64::from(h)).sum();
        }
    }

    /// Remember the action's type: every type while calibrating; afterwards,
    /// in MONITORING and WARN, types whose action was not refused (a new tool
    /// the agent is allowed to use becomes familiar; a prober's refused
    /// types stay unseen).
    pub(super) fn learn_type(
        &mut self,
        cfg: &BreakerConfig,
        obs: &Observation<'_>,
        fp: u64,
        calibrating: bool,
    ) {
        let allowed_here = matches!(self.state, State::Monitoring | State::Warn) && !obs.denied;
        if calibrating || allowed_here {
            self.types.insert(fp, cfg.max_known_types);
        }
    }

    /// An outcome report turned one earlier sample of the refusal share
    /// from `from` into `to`.
    pub(super) fn amend_refusal(
        &mut self,
        cfg: &BreakerConfig,
        from: bool,
        to: bool,
        calibrating: bool,
    ) {
        let d = f64::from(u8::from(to)) - f64::from(u8::from(from));
        self.refusal_share = clamp01(self.refusal_share + cfg.share_weight * d);
        if self.learning() {
            self.refusals.amend(from, to, calibrating, cfg.adapt_weight);
        }
    }

    /// Both calibration minimums are met.
    pub(super) fn calibration_done(&self, cfg: &BreakerConfig, now: Timestamp) -> bool {
        self.calibration_actions >= cfg.calibration_min_actions
            && elapsed(now, self.calibration_started) >= cfg.calibration_min_duration_ms
    }
}
