//! Deterministic running statistics: only `+ − × ÷ √` (IEEE 754 correctly
//! rounded, so identical on every platform); no `exp`, `ln` or `powi`.

use serde::{Deserialize, Serialize};

/// A running mean and (population) variance.
///
/// One update rule serves calibration and adaptation: with weight `a`,
/// `d = x − mean; mean += a·d; var = (1 − a)(var + a·d²)`. With `a = 1/n`
/// (the n-th sample) this is exactly the running mean and population
/// variance of all samples so far (Welford); with a fixed `a` it is an
/// exponentially weighted mean and variance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stat {
    /// Samples seen (saturating).
    pub n: u64,
    pub mean: f64,
    pub var: f64,
}

impl Stat {
    /// Add a sample: every sample weighs the same while `calibrating`;
    /// afterwards the weight is `w` (or `1/n` while that is larger, so a
    /// baseline with few samples still learns quickly).
    pub fn push(&mut self, x: f64, calibrating: bool, w: f64) {
        self.n = self.n.saturating_add(1);
        self.update(x, weight(self.n, calibrating, w));
    }

    pub fn update(&mut self, x: f64, a: f64) {
        let d = x - self.mean;
        self.mean = flush(self.mean + a * d);
        self.var = flush((1.0 - a) * (self.var + a * d * d));
    }

    /// Add `k` samples of value 0 while calibrating, in O(1) (Chan et al.'s
    /// merge of two populations).
    pub fn push_zeros(&mut self, k: u64) {
        if k == 0 {
            return;
        }
        let (na, nb) = (self.n as f64, k as f64);
        let n = na + nb;
        let m2 = self.var * na + self.mean * self.mean * na * nb / n;
        self.mean *= na / n;
        self.var = m2 / n;
        self.n = self.n.saturating_add(k);
    }

    /// Standard deviation with a floor, so a flat baseline never gives an
    /// infinite z-score.
    pub fn sd_floor(&self, floor: f64) -> f64 {
        let sd = if self.var > 0.0 { self.var.sqrt() } else { 0.0 };
        if sd > floor { sd } else { floor }
    }
}

/// A running share of events (0–1): the mean of 0/1 samples, with the same
/// weighting as [`Stat::push`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Share {
    pub n: u64,
    pub mean: f64,
}

impl Share {
    pub fn push(&mut self, yes: bool, calibrating: bool, w: f64) {
        self.n = self.n.saturating_add(1);
        let a = weight(self.n, calibrating, w);
        self.mean = flush(self.mean + a * (f64::from(u8::from(yes)) - self.mean));
    }

    /// Turn one earlier sample from `from` into `to` (an outcome reported
    /// after the action was observed). Exact for the running mean; for the
    /// weighted mean it treats the sample as the latest one.
    pub fn amend(&mut self, from: bool, to: bool, calibrating: bool, w: f64) {
        if from == to || self.n == 0 {
            return;
        }
        let a = weight(self.n, calibrating, w);
        let d = f64::from(u8::from(to)) - f64::from(u8::from(from));
        self.mean = clamp01(self.mean + a * d);
    }
}

/// The weight of the n-th sample: `1/n` while calibrating (every sample
/// weighs the same), afterwards `w`, or `1/n` while that is larger.
/// `adapt_weight` and the other weights are at least 2⁻¹⁶ (validated), so
/// past 65 536 samples `1/n` can no longer be larger: the hot path skips
/// the conversion and the division.
pub(crate) fn weight(n: u64, calibrating: bool, w: f64) -> f64 {
    if !calibrating && n >= 1 << 16 {
        return w;
    }
    let n = to_f64(n.max(1));
    // `1/n > w` is `n·w < 1`: a multiplication instead of a division on the
    // common path.
    if calibrating || n * w < 1.0 {
        1.0 / n
    } else {
        w
    }
}

/// `x` as `f64`, by the cheaper signed conversion when it fits (the same
/// value).
pub(crate) fn to_f64(x: u64) -> f64 {
    match i64::try_from(x) {
        Ok(i) => i as f64,
        Err(_) => x as f64,
    }
}

/// Values that decay geometrically (a weighted mean fed zeros) would sink
/// into subnormal numbers, which cost some CPUs a hundred cycles per
/// operation; anything this close to zero is zero for the breaker.
pub(crate) fn flush(x: f64) -> f64 {
    if x.abs() < 1e-30 { 0.0 } else { x }
}

/// Clamp to `[0, 1]` (NaN and anything flushed to 0).
pub(crate) fn clamp01(x: f64) -> f64 {
    if x > 1e-30 {
        if x < 1.0 { x } else { 1.0 }
    } else {
        0.0
    }
}

/// Clamp to a severity 0–100.
pub(crate) fn severity(x: f64) -> u8 {
    if x.is_nan() || x <= 0.0 {
        0
    } else if x >= 100.0 {
        100
    } else {
        x as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrating_matches_two_pass_and_zero_merge() {
        let xs = [3.0, 5.0, 5.0, 9.0, 0.0, 0.0, 0.0, 12.0];
        let mut s = Stat::default();
        for x in xs {
            s.push(x, true, 0.01);
        }
        let mean = xs.iter().sum::<f64>() / 8.0;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 8.0;
        assert!((s.mean - mean).abs() < 1e-12 && (s.var - var).abs() < 1e-9);
        let mut t = Stat::default();
        for x in [3.0, 5.0, 5.0, 9.0] {
            t.push(x, true, 0.01);
        }
        t.push_zeros(3);
        t.push(12.0, true, 0.01);
        assert!((t.mean - s.mean).abs() < 1e-12 && (t.var - s.var).abs() < 1e-9);
    }

    #[test]
    fn adapting_weights_new_samples_by_w() {
        let mut s = Stat {
            n: 1000,
            mean: 10.0,
            var: 4.0,
        };
        s.push(20.0, false, 0.25);
        assert_eq!(s.mean, 12.5);
        // (1 − a)(var + a·d²) = 0.75 · (4 + 0.25 · 100)
        assert_eq!(s.var, 21.75);
    }

    #[test]
    fn flat_baseline_has_a_floor() {
        let mut s = Stat::default();
        for _ in 0..100 {
            s.push(4.0, true, 0.01);
        }
        assert_eq!(s.var, 0.0);
        assert_eq!(s.sd_floor(1.5), 1.5);
    }

    #[test]
    fn share_amend_is_exact_while_calibrating() {
        let mut s = Share::default();
        for yes in [false, false, true, false] {
            s.push(yes, true, 0.1);
        }
        assert_eq!(s.mean, 0.25);
        s.amend(false, true, true, 0.1);
        assert_eq!(s.mean, 0.5);
        s.amend(true, true, true, 0.1);
        assert_eq!(s.mean, 0.5);
        s.amend(true, false, true, 0.1);
        assert_eq!(s.mean, 0.25);
    }
}
