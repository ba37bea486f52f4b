//! Validation: every field's range, checked once by the builder and by
//! deserialisation alike.

use std::fmt::Display;

use super::{BreakerConfig, BreakerConfigBuilder, DAY};
use crate::BreakerError;

fn check(
    ok: bool,
    field: &'static str,
    expected: &'static str,
    found: impl Display,
) -> Result<(), BreakerError> {
    if ok {
        Ok(())
    } else {
        Err(BreakerError::InvalidConfig {
            field,
            expected,
            found: found.to_string(),
        })
    }
}

/// `x` is finite and in `[lo, hi]` (`lo_open`: excluding `lo`).
fn in_range(x: f64, lo: f64, lo_open: bool, hi: f64) -> bool {
    x.is_finite() && x <= hi && if lo_open { x > lo } else { x >= lo }
}

impl BreakerConfigBuilder {
    /// Validate and build.
    ///
    /// # Errors
    /// [`BreakerError::InvalidConfig`] naming the first bad field.
    pub fn build(self) -> Result<BreakerConfig, BreakerError> {
        let c = self.0;
        check(
            (1_000..=DAY).contains(&c.window_ms),
            "window_ms",
            "between 1000 and 86400000",
            c.window_ms,
        )?;
        check(
            c.max_idle_windows <= 100_000,
            "max_idle_windows",
            "at most 100000",
            c.max_idle_windows,
        )?;
        check(c.warn_score > 0, "warn_score", "above 0", c.warn_score)?;
        check(
            c.throttle_score > c.warn_score,
            "throttle_score",
            "above `warn_score`",
            c.throttle_score,
        )?;
        check(
            c.halt_score > c.throttle_score && c.halt_score <= 100,
            "halt_score",
            "above `throttle_score` and at most 100",
            c.halt_score,
        )?;
        check(
            c.hysteresis < c.warn_score,
            "hysteresis",
            "below `warn_score`",
            c.hysteresis,
        )?;
        check(
            (1..=30 * DAY).contains(&c.quiet_period_ms),
            "quiet_period_ms",
            "between 1 and 2592000000",
            c.quiet_period_ms,
        )?;
        check(
            in_range(c.throttle_fraction, 0.0, true, 1.0),
            "throttle_fraction",
            "in (0, 1]",
            c.throttle_fraction,
        )?;
        check(
            (1..=10_000).contains(&c.throttle_burst),
            "throttle_burst",
            "between 1 and 10000",
            c.throttle_burst,
        )?;
        check(
            in_range(c.adapt_weight, 1.0 / 65_536.0, false, 0.5),
            "adapt_weight",
            "in [2^-16, 0.5]",
            c.adapt_weight,
        )?;
        check(
            in_range(c.slot_data_weight, 1.0 / 65_536.0, false, 0.5),
            "slot_data_weight",
            "in [2^-16, 0.5]",
            c.slot_data_weight,
        )?;
        check(
            in_range(c.share_weight, 0.0, true, 1.0),
            "share_weight",
            "in (0, 1]",
            c.share_weight,
        )?;
        check(
            c.slot_min_windows > 0,
            "slot_min_windows",
            "at least 1",
            c.slot_min_windows,
        )?;
        check(
            c.slot_min_actions > 0,
            "slot_min_actions",
            "at least 1",
            c.slot_min_actions,
        )?;
        check(
            c.quiet_actions <= 1_000_000,
            "quiet_actions",
            "at most 1000000",
            c.quiet_actions,
        )?;
        for (field, ms) in [
            ("idle_quiet_ms", c.idle_quiet_ms),
            ("min_dwell_ms", c.min_dwell_ms),
            ("deescalation_interval_ms", c.deescalation_interval_ms),
        ] {
            check(ms <= 30 * DAY, field, "at most 2592000000", ms)?;
        }
        check(
            in_range(c.drift_ratio, 1.5, false, 1e6),
            "drift_ratio",
            "in [1.5, 1e6]",
            c.drift_ratio,
        )?;
        check(
            c.drift_severity <= 100,
            "drift_severity",
            "at most 100",
            c.drift_severity,
        )?;
        for (field, f) in [
            ("drift_rate_floor", c.drift_rate_floor),
            ("drift_data_floor", c.drift_data_floor),
            ("drift_denial_floor", c.drift_denial_floor),
        ] {
            check(in_range(f, 0.0, true, 1e9), field, "in (0, 1e9]", f)?;
        }
        check(
            in_range(c.second_signal_share, 0.0, false, 1.0),
            "second_signal_share",
            "in [0, 1]",
            c.second_signal_share,
        )?;
        check(
            (1..=100).contains(&c.report_severity),
            "report_severity",
            "between 1 and 100",
            c.report_severity,
        )?;
        for (field, z) in [("spike_z", c.spike_z), ("bulk_z", c.bulk_z)] {
            check(in_range(z, 0.0, false, 1e6), field, "in [0, 1e6]", z)?;
        }
        for (field, s) in [
            ("spike_slope", c.spike_slope),
            ("bulk_slope", c.bulk_slope),
            ("denial_slope", c.denial_slope),
            ("delegation_slope", c.delegation_slope),
        ] {
            check(in_range(s, 0.0, true, 1e6), field, "in (0, 1e6]", s)?;
        }
        for (field, m) in [
            ("spike_max", c.spike_max),
            ("unseen_type_severity", c.unseen_type_severity),
            ("off_hours_max", c.off_hours_max),
            ("bulk_max", c.bulk_max),
            ("delegation_max", c.delegation_max),
        ] {
            check(m <= 100, field, "at most 100", m)?;
        }
        for (field, b) in [
            ("rate_sd_floor_base", c.rate_sd_floor_base),
            ("data_sd_floor_base", c.data_sd_floor_base),
        ] {
            // Divides: must stay away from zero.
            check(in_range(b, 1e-3, false, 1e6), field, "in [0.001, 1e6]", b)?;
        }
        for (field, k) in [
            ("rate_sd_floor_sqrt", c.rate_sd_floor_sqrt),
            ("rate_sd_floor_linear", c.rate_sd_floor_linear),
            ("data_sd_floor_linear", c.data_sd_floor_linear),
        ] {
            check(in_range(k, 0.0, false, 1e6), field, "in [0, 1e6]", k)?;
        }
        check(
            c.max_known_types <= 48,
            "max_known_types",
            "at most 48",
            c.max_known_types,
        )?;
        check(
            in_range(c.off_hours_share, 0.0, true, 1.0),
            "off_hours_share",
            "in (0, 1]",
            c.off_hours_share,
        )?;
        for (field, m) in [
            ("denial_margin", c.denial_margin),
            ("delegation_margin", c.delegation_margin),
        ] {
            check(in_range(m, 0.0, false, 1.0), field, "in [0, 1]", m)?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::BreakerConfig;
    use al_types::ErrorCode;

    #[test]
    fn defaults_validate_and_round_trip() {
        let d = BreakerConfig::default();
        assert_eq!(BreakerConfig::builder().build().unwrap(), d);
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<BreakerConfig>(&j).unwrap(), d);
        assert_eq!(serde_json::from_str::<BreakerConfig>("{}").unwrap(), d);
    }

    #[test]
    fn deserialisation_validates_and_names_the_field() {
        let e = serde_json::from_str::<BreakerConfig>(r#"{"window_ms": 0}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("`window_ms` must be between 1000 and 86400000, found `0`"),
            "{e}"
        );
        let e = serde_json::from_str::<BreakerConfig>(r#"{"windw_ms": 60000}"#).unwrap_err();
        assert!(e.to_string().contains("windw_ms"), "{e}");
        let e = BreakerConfig::builder()
            .rate_sd_floor_base(0.0)
            .build()
            .unwrap_err();
        assert_eq!(e.code(), "INVALID_CONFIG");
        assert!(
            BreakerConfig::builder()
                .throttle_fraction(f64::NAN)
                .build()
                .is_err()
        );
    }
}
