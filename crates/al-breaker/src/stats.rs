//! Deterministic running statistics: only `+ - * / sqrt` (IEEE 754
//! correctly rounded, so identical on every platform); no `exp` or `ln`.

use serde::{Deserialize, Serialize};

/// Welford's running mean and variance, switching to an exponentially
/// weighted update (fixed weight) once calibration ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stat {
    pub n: u64,
    pub mean: f64,
    /// Sum of squared deviations while counting; variance once adapting.
    pub m2: f64,
    pub adapting: bool,
}

impl Stat {
    pub fn push(&mut self, x: f64) {
        self.n = self.n.saturating_add(1);
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Add `k` samples of value `x` at once (Chan et al.'s merge).
    pub fn push_many(&mut self, x: f64, k: u64) {
        if k == 0 {
            return;
        }
        let (na, nb) = (self.n as f64, k as f64);
        let n = na + nb;
        let d = x - self.mean;
        self.mean += d * nb / n;
        self.m2 += d * d * na * nb / n;
        self.n = self.n.saturating_add(k);
    }

    pub fn variance(&self) -> f64 {
        if self.adapting {
            self.m2
        } else if self.n > 1 {
            self.m2 / (self.n - 1) as f64
        } else {
            0.0
        }
    }

    /// Freeze the counted statistics into an adaptive baseline.
    pub fn start_adapting(&mut self) {
        if !self.adapting {
            self.m2 = self.variance();
            self.adapting = true;
        }
    }

    /// Exponentially weighted update with a fixed weight.
    pub fn adapt(&mut self, x: f64, w: f64) {
        let d = x - self.mean;
        self.mean += w * d;
        self.m2 = (1.0 - w) * (self.m2 + w * d * d);
    }

    /// Standard deviation with a floor, so a flat baseline never gives an
    /// infinite z-score.
    pub fn sd_floor(&self, floor: f64) -> f64 {
        let v = self.variance();
        let sd = if v > 0.0 { v.sqrt() } else { 0.0 };
        if sd > floor { sd } else { floor }
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

/// FNV-1a, for the seen-action-type filter.
pub(crate) fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_two_pass_and_merge() {
        let xs = [3.0, 5.0, 5.0, 9.0, 0.0, 0.0, 0.0, 12.0];
        let mut s = Stat::default();
        for x in xs {
            s.push(x);
        }
        let mean = xs.iter().sum::<f64>() / 8.0;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 7.0;
        assert!((s.mean - mean).abs() < 1e-12 && (s.variance() - var).abs() < 1e-9);
        let mut t = Stat::default();
        for x in [3.0, 5.0, 5.0, 9.0] {
            t.push(x);
        }
        t.push_many(0.0, 3);
        t.push(12.0);
        assert!((t.mean - s.mean).abs() < 1e-12 && (t.variance() - s.variance()).abs() < 1e-9);
    }

    #[test]
    fn flat_baseline_has_a_floor() {
        let mut s = Stat::default();
        s.push_many(4.0, 100);
        assert_eq!(s.variance(), 0.0);
        assert_eq!(s.sd_floor(1.5), 1.5);
    }
}
