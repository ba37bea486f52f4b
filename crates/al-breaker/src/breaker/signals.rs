//! Scoring: each signal's severity (0–100) and the combined score.

use al_types::Timestamp;

use super::{Breaker, elapsed};
use crate::config::BreakerConfig;
use crate::effects::Effects;
use crate::stats::severity;
use crate::types::{
    BULK, DELEGATIONS, DENIALS, FREQUENCY, OFF_HOURS, Observation, SIGNALS, Signal, UNSEEN,
};

impl Breaker {
    /// Whether the baseline has seen enough to score against.
    fn scored(&self, cfg: &BreakerConfig) -> bool {
        self.calibrated_at.is_some() || self.rate.n >= u64::from(cfg.min_windows_before_scoring)
    }

    /// Score an observation (after its window and shares are updated):
    /// fills `fx`'s severities and score, returns the score and the strongest
    /// signal.
    pub(super) fn score(
        &self,
        cfg: &BreakerConfig,
        now: Timestamp,
        obs: &Observation<'_>,
        fp: u64,
        fx: &mut Effects,
    ) -> (u8, Signal) {
        let mut sev = [0u8; SIGNALS.len()];
        if self.scored(cfg) {
            sev[FREQUENCY] = self.frequency(cfg, now);
            if !self.types.contains(fp) {
                sev[UNSEEN] = cfg.unseen_type_severity;
            }
            sev[OFF_HOURS] = self.off_hours(cfg, now);
            sev[BULK] = self.bulk(cfg, obs.data_count);
            sev[DENIALS] = self.denials(cfg);
            sev[DELEGATIONS] = self.delegation_churn(cfg);
        }
        combine(cfg, &sev, fx)
    }

    /// Score only the refusal share (after an outcome report).
    pub(super) fn score_refusals(&self, cfg: &BreakerConfig, fx: &mut Effects) -> (u8, Signal) {
        let mut sev = [0u8; SIGNALS.len()];
        if self.scored(cfg) {
            sev[DENIALS] = self.denials(cfg);
        }
        combine(cfg, &sev, fx)
    }

    /// z-score of a sliding-window estimate of the current rate against
    /// the per-window baseline.
    fn frequency(&self, cfg: &BreakerConfig, now: Timestamp) -> u8 {
        let into = elapsed(now, self.window_start) as f64 / cfg.window_ms as f64;
        let est = f64::from(self.window_count) + f64::from(self.prev_window_count) * (1.0 - into);
        let z = (est - self.rate.mean) / self.rate_sd;
        severity((z - cfg.spike_z) * cfg.spike_slope).min(cfg.spike_max)
    }

    /// This hour's share of activity, against a uniform day's (1/24). Only
    /// once the profile has watched a whole day: after a one-hour
    /// calibration every other hour would look unusual.
    fn off_hours(&self, cfg: &BreakerConfig, now: Timestamp) -> u8 {
        let total = self.hours_total;
        let watched_until = self.calibrated_at.unwrap_or(now);
        if total < cfg.off_hours_min_actions
            || total == 0
            || elapsed(watched_until, self.calibration_started) < 86_400_000
        {
            return 0;
        }
        let here = self
            .hours
            .get(usize::from(now.hour()))
            .copied()
            .unwrap_or(0);
        let share = f64::from(here) / total as f64 * 24.0;
        if share >= cfg.off_hours_share {
            return 0;
        }
        severity(f64::from(cfg.off_hours_max) * (1.0 - share / cfg.off_hours_share))
    }

    /// z-score of `data_count` against the per-action baseline.
    fn bulk(&self, cfg: &BreakerConfig, data_count: u64) -> u8 {
        let dm = self.data.mean;
        let x = data_count as f64;
        let floor = cfg.data_sd_floor_base + cfg.data_sd_floor_linear * dm;
        // The standard deviation is at least the floor, so below this the
        // z-score cannot pass `bulk_z`: skip the square root.
        if x - dm <= cfg.bulk_z * floor {
            return 0;
        }
        let z = (x - dm) / self.data.sd_floor(floor);
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
}

/// The combined score: the strongest signal plus `second_signal_share` of
/// the next, capped at 100. Records reportable severities in `fx`.
fn combine(cfg: &BreakerConfig, sev: &[u8; SIGNALS.len()], fx: &mut Effects) -> (u8, Signal) {
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
    let score = severity(f64::from(s1) + f64::from(s2) * cfg.second_signal_share);
    fx.score = score;
    (score, top)
}
