//! Scoring: each signal's severity (0–100) and the combined score.

use al_types::Timestamp;

use super::{Breaker, elapsed};
use crate::config::BreakerConfig;
use crate::effects::Effects;
use crate::stats::{severity, to_f64};
use crate::types::{
    BULK, DELEGATIONS, DENIALS, DRIFT, FREQUENCY, OFF_HOURS, Observation, SIGNALS, Signal, UNSEEN,
};

impl Breaker {
    /// Whether the baseline has seen enough to score against.
    fn scored(&self, cfg: &BreakerConfig) -> bool {
        self.anchor.is_some() || self.rate.n >= u64::from(cfg.min_windows_before_scoring)
    }

    /// Score an observation (after its window and shares are updated):
    /// fills `fx`'s severities, score and drift explanation; returns the
    /// score and the strongest signal.
    pub(super) fn score(
        &self,
        cfg: &BreakerConfig,
        now: Timestamp,
        obs: &Observation<'_>,
        known_type: bool,
        fx: &mut Effects,
    ) -> (u8, Signal) {
        if !self.scored(cfg) {
            return nothing(fx);
        }
        let unseen = if known_type {
            0
        } else {
            cfg.unseen_type_severity
        };
        let (freq, off, bulk) = (
            self.frequency(cfg, now),
            self.off_hours(cfg),
            self.bulk(cfg, obs.data_count),
        );
        let (den, del, drift) = (
            self.denials(cfg),
            self.delegation_churn(cfg),
            self.drift_signal(cfg, fx),
        );
        // The common case, nothing at all, decided on the values in
        // registers (reading the array back as one word right after storing
        // its bytes one by one would stall on store forwarding).
        if freq | unseen | off | bulk | den | del | drift == 0 {
            return nothing(fx);
        }
        let mut sev = [0u8; SIGNALS.len()];
        sev[FREQUENCY] = freq;
        sev[UNSEEN] = unseen;
        sev[OFF_HOURS] = off;
        sev[BULK] = bulk;
        sev[DENIALS] = den;
        sev[DELEGATIONS] = del;
        sev[DRIFT] = drift;
        combine(cfg, &sev, fx)
    }

    /// Score the refusal share and drift only (after an outcome report).
    pub(super) fn score_refusals(&self, cfg: &BreakerConfig, fx: &mut Effects) -> (u8, Signal) {
        let mut sev = [0u8; SIGNALS.len()];
        if self.scored(cfg) {
            sev[DENIALS] = self.denials(cfg);
            sev[DRIFT] = self.drift_signal(cfg, fx);
        }
        combine(cfg, &sev, fx)
    }

    /// z-score of a sliding-window estimate of the current rate against the
    /// window's baseline (its season slot's, once trusted).
    fn frequency(&self, cfg: &BreakerConfig, now: Timestamp) -> u8 {
        // The estimate, in window units: `count + prev · (1 − into)` with
        // `into` the fraction of the window gone; kept multiplied by the
        // window's length so the common case (no spike) needs no division.
        let w = to_f64(cfg.window_ms);
        let left = w - to_f64(elapsed(now, self.window_start));
        let excess_w = f64::from(self.window_count) * w + f64::from(self.prev_window_count) * left
            - self.base_mean * w;
        // Below `spike_z` deviations the severity is 0.
        if excess_w <= cfg.spike_z * self.base_sd * w {
            return 0;
        }
        let z = excess_w / w / self.base_sd;
        severity((z - cfg.spike_z) * cfg.spike_slope).min(cfg.spike_max)
    }

    /// A trusted season slot whose baseline rate is under `off_hours_share`
    /// of the average over all slots.
    fn off_hours(&self, cfg: &BreakerConfig) -> u8 {
        let s = self.profile.slot(self.window_slot);
        if s.rate_n < cfg.slot_min_windows {
            return 0;
        }
        // The week's mean rate: weekday slots stand for 5 days, weekend ones 2.
        let avg = self.profile.rate_sum / (7.0 * 24.0);
        let low = cfg.off_hours_share * avg;
        let here = f64::from(s.rate_mean);
        if here >= low || low <= 0.0 {
            return 0;
        }
        severity(f64::from(cfg.off_hours_max) * (1.0 - here / low))
    }

    /// The data-volume baseline for the window's slot: mean and standard
    /// deviation (with its floor).
    pub(super) fn data_baseline(&self, cfg: &BreakerConfig) -> (f64, f64) {
        let s = self.profile.slot(self.window_slot);
        if s.data_n >= cfg.slot_min_actions {
            let m = f64::from(s.data_mean);
            let floor = cfg.data_sd_floor_base + cfg.data_sd_floor_linear * m;
            let v = self.profile.data_rel_var;
            let sd = if v > 0.0 { v.sqrt() * (m + 1.0) } else { 0.0 };
            (m, if sd > floor { sd } else { floor })
        } else {
            let m = self.data.mean;
            (
                m,
                self.data
                    .sd_floor(cfg.data_sd_floor_base + cfg.data_sd_floor_linear * m),
            )
        }
    }

    /// z-score of `data_count` against the slot's data baseline.
    fn bulk(&self, cfg: &BreakerConfig, data_count: u64) -> u8 {
        let s = self.profile.slot(self.window_slot);
        let m = if s.data_n >= cfg.slot_min_actions {
            f64::from(s.data_mean)
        } else {
            self.data.mean
        };
        let x = to_f64(data_count);
        // The standard deviation is at least the floor, so below this the
        // z-score cannot pass `bulk_z`: skip the square root.
        let floor = cfg.data_sd_floor_base + cfg.data_sd_floor_linear * m;
        if x - m <= cfg.bulk_z * floor {
            return 0;
        }
        let (m, sd) = self.data_baseline(cfg);
        let z = (x - m) / sd;
        severity((z - cfg.bulk_z) * cfg.bulk_slope).min(cfg.bulk_max)
    }

    fn denials(&self, cfg: &BreakerConfig) -> u8 {
        severity((self.refusal_share - self.refusals.mean - cfg.denial_margin) * cfg.denial_slope)
    }

    fn delegation_churn(&self, cfg: &BreakerConfig) -> u8 {
        severity(
            (self.delegation_share - self.delegations.mean - cfg.delegation_margin)
                * cfg.delegation_slope,
        )
        .min(cfg.delegation_max)
    }

    /// `drift_severity` while the baseline has drifted past `drift_ratio`
    /// (checked as each window closes), with the explanation recorded in
    /// `fx`.
    fn drift_signal(&self, cfg: &BreakerConfig, fx: &mut Effects) -> u8 {
        if !self.drifting {
            return 0;
        }
        fx.drift = self.drift_now(cfg);
        if fx.drift.is_some() {
            cfg.drift_severity
        } else {
            0
        }
    }
}

/// The score when no signal fired.
fn nothing(fx: &mut Effects) -> (u8, Signal) {
    fx.score = 0;
    (0, Signal::FrequencySpike)
}

/// The combined score: the strongest signal plus `second_signal_share` of
/// the next, capped at 100. Records reportable severities in `fx`.
fn combine(cfg: &BreakerConfig, sev: &[u8; SIGNALS.len()], fx: &mut Effects) -> (u8, Signal) {
    let (mut s1, mut s2, mut top) = (0u8, 0u8, Signal::FrequencySpike);
    for ((&s, sig), out) in sev.iter().zip(SIGNALS).zip(fx.severities.iter_mut()) {
        if s > s1 {
            s2 = s1;
            s1 = s;
            top = sig;
        } else if s > s2 {
            s2 = s;
        }
        if s >= cfg.report_severity {
            *out = s;
        }
    }
    let score = severity(f64::from(s1) + f64::from(s2) * cfg.second_signal_share);
    fx.score = score;
    (score, top)
}
