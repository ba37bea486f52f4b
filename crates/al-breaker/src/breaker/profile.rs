//! The seasonal profile: rate and data-volume baselines per hour of day and
//! per weekday/weekend (48 slots, UTC), fixed size.
//!
//! Each slot keeps, for the rate windows that started in it, the mean and
//! variance of their counts, and for the actions observed in it, their mean
//! `data_count`. Data spread is pooled across slots as a *relative* variance
//! (of `(x − m)/(m + 1)`), so a slot whose actions touch thousands of records
//! and one whose actions touch ten share one notion of "unusually large"
//! without either inflating the other. Values are kept as `f32` (computed
//! in `f64`, rounded on store: IEEE 754, so deterministic), which keeps the
//! profile at 768 bytes.
//!
//! Aggregates the drift signal and the off-hours signal need (the mean rate
//! over all slots; rate and rate × data summed over the slots learned at
//! the anchor) are kept as running sums, updated by the change of each slot
//! value, so reading them costs nothing on the hot path.

use al_types::Timestamp;

use crate::stats::{Stat, flush};

/// Number of slots: 24 hours × {weekday, weekend}.
pub(crate) const SLOTS: usize = 48;

/// How many days a week a slot stands for: 5 for weekday slots, 2 for
/// weekend ones. Aggregates over slots weigh each by it, so they are
/// averages over the week, not over the 48 slots.
pub(crate) fn days(i: u8) -> f64 {
    if i < 24 { 5.0 } else { 2.0 }
}

/// The slot of an instant: its UTC hour, plus 24 on Saturdays and Sundays.
pub(crate) fn slot_of(t: Timestamp) -> u8 {
    t.hour() + if t.weekday() >= 6 { 24 } else { 0 }
}

/// The start of the next hour after `t` (where the slot may change).
pub(crate) fn slot_end(t: Timestamp) -> Timestamp {
    const HOUR: i64 = 3_600_000;
    let ms = t.unix_millis();
    t.saturating_add_millis(HOUR - ms.rem_euclid(HOUR))
}

/// One slot's baselines.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Slot {
    /// Rate windows learned (saturating).
    pub rate_n: u16,
    /// Actions learned (saturating).
    pub data_n: u16,
    pub rate_mean: f32,
    pub rate_var: f32,
    pub data_mean: f32,
}

/// The 48 slots and the running sums over them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Profile {
    pub slots: [Slot; SLOTS],
    /// Σ days × rate_mean over all slots.
    pub rate_sum: f64,
    /// Slots learned when the anchor was taken (bit i: slot i).
    pub mask: u64,
    /// Σ days × rate_mean over the masked slots.
    pub mask_rate: f64,
    /// Σ days × rate_mean × data_mean over the masked slots.
    pub mask_rate_data: f64,
    /// Pooled relative variance of data counts.
    pub data_rel_var: f64,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            slots: [Slot::default(); SLOTS],
            rate_sum: 0.0,
            mask: 0,
            mask_rate: 0.0,
            mask_rate_data: 0.0,
            data_rel_var: 0.0,
        }
    }
}

/// The weight of the n-th sample (see [`Stat::push`]).
fn weight(n: u16, calibrating: bool, w: f64) -> f64 {
    crate::stats::weight(u64::from(n), calibrating, w)
}

impl Profile {
    pub fn slot(&self, i: u8) -> Slot {
        self.slots.get(usize::from(i)).copied().unwrap_or_default()
    }

    fn masked(&self, i: u8) -> bool {
        self.mask >> i & 1 == 1
    }

    /// Set slot `i`'s rate mean and variance, keeping the sums in step.
    fn set_rate(&mut self, i: u8, mean: f64, var: f64) {
        let masked = self.masked(i);
        let Some(s) = self.slots.get_mut(usize::from(i)) else {
            return;
        };
        let old = f64::from(s.rate_mean);
        s.rate_mean = mean as f32;
        s.rate_var = var as f32;
        let d = (f64::from(s.rate_mean) - old) * days(i);
        self.rate_sum += d;
        if masked {
            self.mask_rate += d;
            self.mask_rate_data += d * f64::from(s.data_mean);
        }
    }

    /// A closed window's count, as a sample of its slot's rate.
    pub fn learn_rate(&mut self, i: u8, count: f64, calibrating: bool, w: f64) {
        let s = self.slot(i);
        let n = s.rate_n.saturating_add(1);
        let mut st = Stat {
            n: 0,
            mean: f64::from(s.rate_mean),
            var: f64::from(s.rate_var),
        };
        st.update(count, weight(n, calibrating, w));
        if let Some(slot) = self.slots.get_mut(usize::from(i)) {
            slot.rate_n = n;
        }
        self.set_rate(i, st.mean, st.var);
    }

    /// `k` empty windows in slot `i` while calibrating: merged in O(1).
    pub fn learn_zeros_calibrating(&mut self, i: u8, k: u64) {
        let s = self.slot(i);
        let mut st = Stat {
            n: u64::from(s.rate_n),
            mean: f64::from(s.rate_mean),
            var: f64::from(s.rate_var),
        };
        st.push_zeros(k);
        if let Some(slot) = self.slots.get_mut(usize::from(i)) {
            slot.rate_n = u16::try_from(st.n).unwrap_or(u16::MAX);
        }
        self.set_rate(i, st.mean, st.var);
    }

    /// An action's `data_count`, as a sample of its slot's data volume and
    /// of the pooled relative spread. `m` is the mean it was scored against.
    pub fn learn_data(&mut self, i: u8, x: f64, m: f64, calibrating: bool, w: f64, n_all: u64) {
        let r = (x - m) / (m + 1.0);
        let a = crate::stats::weight(n_all.saturating_add(1), calibrating, w);
        self.data_rel_var = flush((1.0 - a) * self.data_rel_var + a * r * r);
        let masked = self.masked(i);
        let Some(s) = self.slots.get_mut(usize::from(i)) else {
            return;
        };
        s.data_n = s.data_n.saturating_add(1);
        let old = f64::from(s.data_mean);
        let new = flush(old + weight(s.data_n, calibrating, w) * (x - old));
        s.data_mean = new as f32;
        if masked {
            self.mask_rate_data +=
                days(i) * f64::from(s.rate_mean) * (f64::from(s.data_mean) - old);
        }
    }

    /// Take a new anchor: the slots whose rate baseline is trusted now; the
    /// sums over them are recomputed exactly.
    pub fn anchor(&mut self, min_windows: u16) {
        let mut mask = 0u64;
        let (mut r, mut rd, mut all) = (0.0, 0.0, 0.0);
        for (i, s) in self.slots.iter().enumerate() {
            let k = days(u8::try_from(i).unwrap_or(0));
            let (m, d) = (k * f64::from(s.rate_mean), f64::from(s.data_mean));
            all += m;
            if s.rate_n >= min_windows.max(1) {
                mask |= 1 << i;
                r += m;
                rd += m * d;
            }
        }
        self.mask = mask;
        self.mask_rate = r;
        self.mask_rate_data = rd;
        self.rate_sum = all;
    }

    /// Total weight (days) of the masked slots.
    pub fn mask_days(&self) -> f64 {
        let wd = (self.mask & 0xff_ffff).count_ones();
        let we = (self.mask >> 24).count_ones();
        5.0 * f64::from(wd) + 2.0 * f64::from(we)
    }

    /// The week's mean rate per window over the anchored slots, and data
    /// per action over them (`None` without activity there).
    pub fn anchored(&self) -> (f64, Option<f64>) {
        let n = self.mask_days();
        if n == 0.0 {
            return (0.0, None);
        }
        let rate = clamp_nonneg(self.mask_rate) / n;
        let data = if self.mask_rate > 1e-9 {
            Some(clamp_nonneg(self.mask_rate_data / self.mask_rate))
        } else {
            None
        };
        (rate, data)
    }
}

fn clamp_nonneg(x: f64) -> f64 {
    if x > 0.0 { x } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_utc_hour_and_weekend() {
        // 2025-12-01 is a Monday; 2025-12-06 a Saturday.
        let mon = Timestamp::parse_rfc3339("2025-12-01T02:30:00Z").unwrap();
        let sat = Timestamp::parse_rfc3339("2025-12-06T23:59:59Z").unwrap();
        let sun = Timestamp::parse_rfc3339("2025-12-07T00:00:00Z").unwrap();
        assert_eq!((slot_of(mon), slot_of(sat), slot_of(sun)), (2, 47, 24));
    }

    #[test]
    fn running_sums_match_recomputation() {
        let mut p = Profile::default();
        let mut x = 1.0;
        for k in 0..5000u32 {
            let i = (k * 7 % 48) as u8;
            x = (x * 1.37 + 0.11) % 13.0;
            p.learn_rate(i, x, k < 1000, 1.0 / 256.0);
            if k % 3 == 0 {
                p.learn_data(
                    i,
                    x * 40.0,
                    f64::from(p.slot(i).data_mean),
                    k < 1000,
                    1.0 / 256.0,
                    u64::from(k),
                );
            }
            if k == 1000 {
                p.anchor(10);
            }
            if k % 1000 == 999 {
                p.learn_zeros_calibrating(i, 17);
            }
        }
        let mut q = p;
        q.anchor(10);
        assert_eq!(q.mask, p.mask);
        assert!((q.mask_rate - p.mask_rate).abs() < 1e-9 * q.mask_rate.max(1.0));
        assert!((q.mask_rate_data - p.mask_rate_data).abs() < 1e-9 * q.mask_rate_data.max(1.0));
        assert!((q.rate_sum - p.rate_sum).abs() < 1e-9 * q.rate_sum.max(1.0));
    }
}
