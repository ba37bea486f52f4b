//! Breaker configuration, validated once by a builder.

use serde::{Deserialize, Serialize};

/// Thresholds, periods and weights. Build with [`BreakerConfig::builder`];
/// [`BreakerConfig::default`] gives the documented defaults.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `calibration_min_actions` | 200 | actions before calibration can end |
/// | `calibration_min_duration_ms` | 7 days | time before calibration can end |
/// | `window_ms` | 60 000 | rate window |
/// | `warn_score` / `throttle_score` / `halt_score` | 40 / 70 / 90 | escalate when an observation's score reaches these |
/// | `hysteresis` | 10 | a score this far below the current level's threshold counts as quiet |
/// | `quiet_period_ms` | 15 min | quiet time before WARN/THROTTLE step down one level |
/// | `throttle_fraction` | 0.5 | THROTTLE admits this fraction of the baseline rate |
/// | `throttle_burst` | 5 | GCRA burst tolerance, in actions |
/// | `adapt_weight` | 1/256 | weight of each new sample in the baseline, MONITORING only |
/// | `report_severity` | 20 | signals at or above this severity emit `anomaly.detected` |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakerConfig {
    pub(crate) calibration_min_actions: u64,
    pub(crate) calibration_min_duration_ms: u64,
    pub(crate) window_ms: u64,
    pub(crate) warn_score: u8,
    pub(crate) throttle_score: u8,
    pub(crate) halt_score: u8,
    pub(crate) hysteresis: u8,
    pub(crate) quiet_period_ms: u64,
    pub(crate) throttle_fraction: f64,
    pub(crate) throttle_burst: u32,
    pub(crate) adapt_weight: f64,
    pub(crate) report_severity: u8,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            calibration_min_actions: 200,
            calibration_min_duration_ms: 7 * 86_400_000,
            window_ms: 60_000,
            warn_score: 40,
            throttle_score: 70,
            halt_score: 90,
            hysteresis: 10,
            quiet_period_ms: 15 * 60_000,
            throttle_fraction: 0.5,
            throttle_burst: 5,
            adapt_weight: 1.0 / 256.0,
            report_severity: 20,
        }
    }
}

/// A configuration value is out of range.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid breaker config: {0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// Stable code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "INVALID_CONFIG"
    }
}

/// Builder for [`BreakerConfig`].
#[derive(Clone, Debug, Default)]
pub struct BreakerConfigBuilder(BreakerConfig);

macro_rules! fields {
    ($($(#[$d:meta])* $name:ident: $t:ty;)*) => {
        impl BreakerConfigBuilder {
            $( $(#[$d])* #[must_use] pub fn $name(mut self, v: $t) -> Self { self.0.$name = v; self } )*
        }
        impl BreakerConfig {
            $( $(#[$d])* #[must_use] pub fn $name(&self) -> $t { self.$name } )*
        }
    };
}

fields! {
    /// Actions before calibration can end.
    calibration_min_actions: u64;
    /// Time before calibration can end, in ms.
    calibration_min_duration_ms: u64;
    /// Rate window, in ms.
    window_ms: u64;
    /// Score that escalates to WARN.
    warn_score: u8;
    /// Score that escalates to THROTTLE.
    throttle_score: u8;
    /// Score that escalates to HALT.
    halt_score: u8;
    /// Points below the current level's threshold that count as quiet.
    hysteresis: u8;
    /// Quiet time before WARN/THROTTLE step down, in ms.
    quiet_period_ms: u64;
    /// Fraction of the baseline rate THROTTLE admits.
    throttle_fraction: f64;
    /// GCRA burst tolerance, in actions.
    throttle_burst: u32;
    /// Weight of each new sample in the baseline (MONITORING only).
    adapt_weight: f64;
    /// Severity at which a signal is reported.
    report_severity: u8;
}

impl BreakerConfig {
    /// A builder starting from the defaults.
    #[must_use]
    pub fn builder() -> BreakerConfigBuilder {
        BreakerConfigBuilder::default()
    }
}

impl BreakerConfigBuilder {
    /// Validate and build.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad value.
    pub fn build(self) -> Result<BreakerConfig, ConfigError> {
        let c = self.0;
        let bad = |m: &str| Err(ConfigError(m.to_owned()));
        if c.window_ms < 1000 || c.window_ms > 86_400_000 {
            return bad("`window_ms` must be between 1 000 and 86 400 000");
        }
        if !(c.warn_score < c.throttle_score
            && c.throttle_score < c.halt_score
            && c.halt_score <= 100)
        {
            return bad("scores must satisfy warn < throttle < halt <= 100");
        }
        if c.hysteresis >= c.warn_score {
            return bad("`hysteresis` must be below `warn_score`");
        }
        if !(c.throttle_fraction > 0.0 && c.throttle_fraction <= 1.0) {
            return bad("`throttle_fraction` must be in (0, 1]");
        }
        if !(c.adapt_weight > 0.0 && c.adapt_weight <= 0.5) {
            return bad("`adapt_weight` must be in (0, 0.5]");
        }
        if c.throttle_burst == 0 || c.quiet_period_ms == 0 {
            return bad("`throttle_burst` and `quiet_period_ms` must be positive");
        }
        if c.report_severity == 0 || c.report_severity > 100 {
            return bad("`report_severity` must be in 1..=100");
        }
        Ok(c)
    }
}
