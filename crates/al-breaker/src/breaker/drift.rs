//! Drift against the anchor: the baseline frozen when calibration ends (or
//! when an operator accepts a drift) is compared with the adapted one, so a
//! slow walk that adaptation follows is still reported.
//!
//! Three quantities are compared, each as `(current + floor) / (anchored +
//! floor)`: the week's mean rate per window over the season slots that were
//! learned at the anchor, the data per action over those slots (weighted by
//! their activity over the week), and the denial share. Only growth is drift: an agent that
//! does less than it used to is not a risk. The drift signal fires while any
//! ratio is at or above `drift_ratio`; it keeps the agent in WARN (the
//! baseline does not learn there, so the drift cannot fade by itself) until
//! an operator calls [`Breaker::accept_drift`] or `recalibrate`.

use al_types::Timestamp;

use super::Breaker;
use crate::config::BreakerConfig;
use crate::effects::Effects;
use crate::error::BreakerError;
use crate::types::{AnchorKind, Drift, DriftMetric, Reason, State};

/// The anchored baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Anchor {
    pub at: Timestamp,
    pub kind: AnchorKind,
    /// Mean rate per window over the anchored slots.
    pub rate: f64,
    /// Data per action over the anchored slots (`None`: no activity there).
    pub data: Option<f64>,
    /// Denial-share baseline.
    pub denials: f64,
}

impl Breaker {
    /// Freeze the current baseline as the anchor.
    pub(super) fn take_anchor(&mut self, cfg: &BreakerConfig, now: Timestamp, kind: AnchorKind) {
        self.profile.anchor(cfg.slot_min_windows);
        let (rate, data) = self.profile.anchored();
        self.anchor = Some(Anchor {
            at: now,
            kind,
            rate,
            data,
            denials: self.refusals.mean,
        });
        self.drifting = false;
    }

    /// Whether any quantity is past `drift_ratio`: multiplications only, for
    /// the hot path.
    pub(super) fn drifted(&self, cfg: &BreakerConfig) -> bool {
        let Some(a) = self.anchor else {
            return false;
        };
        let k = cfg.drift_ratio;
        let p = &self.profile;
        let n = p.mask_days();
        let rate = n > 0.0
            && p.mask_rate + cfg.drift_rate_floor * n >= k * (a.rate + cfg.drift_rate_floor) * n;
        let data = match a.data {
            Some(ad) if p.mask_rate > 1e-9 => {
                p.mask_rate_data + cfg.drift_data_floor * p.mask_rate
                    >= k * (ad + cfg.drift_data_floor) * p.mask_rate
            }
            _ => false,
        };
        let denials =
            self.refusals.mean + cfg.drift_denial_floor >= k * (a.denials + cfg.drift_denial_floor);
        rate || data || denials
    }

    /// The largest ratio past `drift_ratio`, explained.
    pub(super) fn drift_now(&self, cfg: &BreakerConfig) -> Option<Drift> {
        let a = self.anchor?;
        if self.state == State::Calibrating {
            return None;
        }
        let (rate, data) = self.profile.anchored();
        let ratio = |now: f64, then: f64, floor: f64| (now + floor) / (then + floor);
        let mut best: Option<(DriftMetric, f64)> = None;
        let mut consider = |m: DriftMetric, r: f64| {
            if r >= cfg.drift_ratio && best.is_none_or(|(_, b)| r > b) {
                best = Some((m, r));
            }
        };
        if self.profile.mask != 0 {
            consider(DriftMetric::Rate, ratio(rate, a.rate, cfg.drift_rate_floor));
        }
        if let (Some(d), Some(ad)) = (data, a.data) {
            consider(
                DriftMetric::DataPerAction,
                ratio(d, ad, cfg.drift_data_floor),
            );
        }
        consider(
            DriftMetric::DenialShare,
            ratio(self.refusals.mean, a.denials, cfg.drift_denial_floor),
        );
        best.map(|(metric, ratio)| Drift {
            metric,
            ratio,
            anchored_at: a.at,
            anchor: a.kind,
        })
    }

    /// Operator: accept the current baseline as the new normal. The drift
    /// reference is re-anchored to it; an agent in WARN returns to
    /// MONITORING (and learns again); THROTTLE and HALT are not lifted.
    ///
    /// # Errors
    /// [`BreakerError::InvalidState`] while calibrating (there is no anchor
    /// yet); [`BreakerError::Killed`].
    pub fn accept_drift(
        &mut self,
        cfg: &BreakerConfig,
        now: Timestamp,
    ) -> Result<Effects, BreakerError> {
        if matches!(self.state, State::Calibrating | State::Killed) || self.anchor.is_none() {
            return Err(self.refuse("accept_drift"));
        }
        let (mut fx, now) = self.command(now)?;
        self.take_anchor(cfg, now, AnchorKind::Accepted);
        if self.state == State::Warn {
            self.mark_hot(now);
            self.enter(
                State::Monitoring,
                Reason::OperatorAcceptedDrift,
                0,
                now,
                &mut fx,
            );
        }
        Ok(fx)
    }
}
