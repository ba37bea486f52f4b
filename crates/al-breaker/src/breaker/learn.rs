//! Learning: rate windows, per-action baselines (all-hours and seasonal),
//! the current shares and the known action types.

use al_types::Timestamp;

use super::profile::Profile;
use super::{Breaker, after, elapsed, slot_end, slot_of};
use crate::config::BreakerConfig;
use crate::stats::{clamp01, flush};
use crate::types::{Observation, State};

const HOUR_MS: i64 = 3_600_000;

impl Breaker {
    /// Close the rate windows that ended before `now`: the closed window's
    /// count and the empty ones after it are samples of the rate baselines
    /// (all-hours, and the season slot each window started in). Then set the
    /// new window's baseline.
    pub(super) fn roll_windows(&mut self, cfg: &BreakerConfig, now: Timestamp) {
        let w = cfg.window_ms;
        let since = elapsed(now, self.window_start);
        // Most calls land in the open window: no division for them.
        if since < w {
            return;
        }
        let windows = since / w;
        let closed = f64::from(self.window_count);
        let empty = windows - 1;
        let aw = cfg.adapt_weight;
        match self.state {
            State::Calibrating => {
                self.rate.push(closed, true, aw);
                self.rate.push_zeros(empty);
                self.profile.learn_rate(self.window_slot, closed, true, aw);
                self.empty_windows_by_slot(w, empty, |p, slot, k| {
                    p.learn_zeros_calibrating(slot, k);
                });
            }
            State::Monitoring => {
                self.rate.push(closed, false, aw);
                self.profile.learn_rate(self.window_slot, closed, false, aw);
                // Long idle gaps count, but only up to `max_idle_windows`.
                let k = empty.min(u64::from(cfg.max_idle_windows));
                for _ in 0..k {
                    self.rate.push(0.0, false, aw);
                }
                self.empty_windows_by_slot(w, k, |p, slot, m| {
                    for _ in 0..m {
                        p.learn_rate(slot, 0.0, false, aw);
                    }
                });
            }
            _ => {}
        }
        self.prev_window_count = if empty == 0 { self.window_count } else { 0 };
        self.window_count = 0;
        let closed_slot = self.window_slot;
        self.window_start = after(self.window_start, windows.saturating_mul(w));
        if self.window_start >= self.slot_end {
            self.window_slot = slot_of(self.window_start);
            self.slot_end = slot_end(self.window_start);
        }
        self.set_window_baseline(cfg, closed_slot);
        // Drift moves slowly: checking it once a window is enough and keeps
        // it off the per-action path.
        self.drifting = self.drifted(cfg);
    }

    /// Hand the `k` empty windows after the closed one to `f`, grouped by
    /// the hour (so the slot) they start in: at most one call per hour.
    fn empty_windows_by_slot(&mut self, w: u64, k: u64, mut f: impl FnMut(&mut Profile, u8, u64)) {
        if k == 0 {
            return;
        }
        let mut t = after(self.window_start, w);
        let mut left = k;
        while left > 0 {
            let ms = t.unix_millis();
            let to_hour_end = (ms.div_euclid(HOUR_MS) + 1) * HOUR_MS - ms;
            let in_hour = u64::try_from(to_hour_end)
                .unwrap_or(1)
                .div_ceil(w)
                .clamp(1, left);
            f(&mut self.profile, slot_of(t), in_hour);
            left -= in_hour;
            t = after(t, in_hour.saturating_mul(w));
        }
    }

    /// The rate baseline of the window now open: its slot's once the slot
    /// has learned `slot_min_windows`, the all-hours one before. The first
    /// window of a new slot still carries the previous window's actions in
    /// its sliding estimate, so it is judged against the busier of the two
    /// slots (otherwise the end of office hours would look like a spike).
    pub(super) fn set_window_baseline(&mut self, cfg: &BreakerConfig, closed_slot: u8) {
        let (mut m, mut sd) = self.slot_baseline(cfg, self.window_slot);
        if closed_slot != self.window_slot && self.prev_window_count > 0 {
            let (pm, psd) = self.slot_baseline(cfg, closed_slot);
            m = m.max(pm);
            sd = sd.max(psd);
        }
        self.base_mean = m;
        self.base_sd = sd;
    }

    /// Mean and standard deviation (with its floor) of a slot's rate.
    fn slot_baseline(&self, cfg: &BreakerConfig, slot: u8) -> (f64, f64) {
        let s = self.profile.slot(slot);
        let (m, var) = if s.rate_n >= cfg.slot_min_windows {
            (f64::from(s.rate_mean), f64::from(s.rate_var))
        } else {
            (self.rate.mean, self.rate.var)
        };
        let floor = cfg.rate_sd_floor_base
            + cfg.rate_sd_floor_sqrt * if m > 0.0 { m.sqrt() } else { 0.0 }
            + cfg.rate_sd_floor_linear * m;
        let sd = if var > 0.0 { var.sqrt() } else { 0.0 };
        (m, if sd > floor { sd } else { floor })
    }

    /// Move the current denial and delegation shares by this action.
    pub(super) fn update_shares(&mut self, cfg: &BreakerConfig, obs: &Observation<'_>) {
        let w = cfg.share_weight;
        let x = f64::from(u8::from(obs.denied));
        self.refusal_share = flush(self.refusal_share + w * (x - self.refusal_share));
        let y = f64::from(u8::from(obs.delegation_created));
        self.delegation_share = flush(self.delegation_share + w * (y - self.delegation_share));
    }

    /// Learn the per-action baselines (all-hours and the window's slot).
    pub(super) fn learn(&mut self, cfg: &BreakerConfig, obs: &Observation<'_>, calibrating: bool) {
        let w = cfg.adapt_weight;
        let x = crate::stats::to_f64(obs.data_count);
        let (m, _) = self.data_baseline(cfg);
        self.profile.learn_data(
            self.window_slot,
            x,
            m,
            calibrating,
            cfg.slot_data_weight,
            self.data.n,
        );
        self.data.push(x, calibrating, w);
        self.refusals.push(obs.denied, calibrating, w);
        self.delegations
            .push(obs.delegation_created, calibrating, w);
        if calibrating {
            self.calibration_actions = self.calibration_actions.saturating_add(1);
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
