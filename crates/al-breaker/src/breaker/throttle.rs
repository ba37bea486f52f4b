//! Admission: HALT and KILLED deny, THROTTLE rate-limits with GCRA.

use al_types::Timestamp;

use super::{Breaker, after, elapsed};
use crate::config::BreakerConfig;
use crate::types::{Admission, State};

impl Breaker {
    /// GCRA emission interval in THROTTLE: the window divided by the
    /// admitted rate (a fraction of the baseline, at least one per window).
    fn emission_interval_ms(&self, cfg: &BreakerConfig) -> u64 {
        let per_window = self.base_mean * cfg.throttle_fraction;
        let per_window = if per_window > 1.0 { per_window } else { 1.0 };
        let t = cfg.window_ms as f64 / per_window;
        if t < 1.0 { 1 } else { t as u64 }
    }

    /// The answer for an action at `now`; in THROTTLE an admitted action
    /// takes a GCRA slot (and moves the clock), a throttled one changes
    /// nothing.
    pub(super) fn admission(&mut self, cfg: &BreakerConfig, now: Timestamp) -> Admission {
        match self.state {
            State::Halt | State::Killed => Admission::Denied(self.state),
            State::Throttle => {
                let t = self.emission_interval_ms(cfg);
                let tau = t.saturating_mul(u64::from(cfg.throttle_burst));
                let tat = self.gcra_tat.max(now);
                let ahead = elapsed(tat, now);
                if ahead > tau {
                    Admission::Throttled {
                        retry_after_ms: ahead - tau,
                    }
                } else {
                    self.last_now = now;
                    self.gcra_tat = after(tat, t);
                    Admission::Allow
                }
            }
            _ => Admission::Allow,
        }
    }
}
