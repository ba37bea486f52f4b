//! Breaker configuration: every threshold, period and weight, with its
//! default and the reason for it, validated once on the way in (by the
//! builder and by deserialisation alike).

use std::fmt::Display;

use serde::{Deserialize, Serialize};

use crate::BreakerError;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Declares the configuration once: the struct, its defaults, the raw form
/// deserialisation reads (missing fields take their defaults; unknown fields
/// are errors), the builder's setters and the getters.
macro_rules! config {
    ($( $(#[doc = $d:literal])* $name:ident : $t:ty = $default:expr ; )*) => {
        /// Thresholds, periods and weights of the breaker; see the
        /// [crate docs](crate#configuration) for the table of defaults and
        /// why each is what it is.
        ///
        /// Build with [`BreakerConfig::builder`]; [`BreakerConfig::default`]
        /// gives the documented defaults. Deserialising (JSON, YAML, …)
        /// validates exactly as [`BreakerConfigBuilder::build`] does, so a
        /// config file can never hold a value that would divide by zero or
        /// loop without bound; fields left out take their defaults and
        /// unknown fields are errors.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(try_from = "RawConfig")]
        pub struct BreakerConfig {
            $( pub(crate) $name: $t, )*
        }

        impl Default for BreakerConfig {
            fn default() -> Self {
                BreakerConfig { $( $name: $default, )* }
            }
        }

        /// What deserialisation reads before validating.
        #[derive(Deserialize)]
        #[serde(default, deny_unknown_fields)]
        struct RawConfig {
            $( $name: $t, )*
        }

        impl Default for RawConfig {
            fn default() -> Self {
                RawConfig { $( $name: $default, )* }
            }
        }

        impl TryFrom<RawConfig> for BreakerConfig {
            type Error = BreakerError;
            fn try_from(r: RawConfig) -> Result<Self, BreakerError> {
                BreakerConfigBuilder(BreakerConfig { $( $name: r.$name, )* }).build()
            }
        }

        impl BreakerConfigBuilder {
            $( $(#[doc = $d])* #[must_use] pub fn $name(mut self, v: $t) -> Self { self.0.$name = v; self } )*
        }

        impl BreakerConfig {
            $( $(#[doc = $d])* #[must_use] pub fn $name(&self) -> $t { self.$name } )*
        }
    };
}

config! {
    // --- Calibration.
    /// Actions before calibration can end. Default 200: enough samples for
    /// a mean and a spread of every per-action quantity.
    calibration_min_actions: u64 = 200;
    /// Time before calibration can end, in ms. Default 7 days: one of each
    /// weekday, so the learned rhythm covers a whole week.
    calibration_min_duration_ms: u64 = 7 * DAY;

    // --- Rate windows.
    /// Rate window, in ms (1 000 – 86 400 000). Default 60 000: a minute
    /// resolves a runaway loop within seconds to a minute and keeps a
    /// window's count large enough to be meaningful at a few actions a
    /// minute.
    window_ms: u64 = MINUTE;
    /// Closed windows before any signal is scored (during calibration, at
    /// low confidence). Default 10: the first minutes of an agent's life are
    /// not scored against an empty baseline.
    min_windows_before_scoring: u32 = 10;
    /// Empty windows an idle gap may teach the baseline after calibration
    /// (0 – 100 000; it bounds the work one call can do). Default 1 440, a
    /// day of one-minute windows: a long silence lowers the baseline but
    /// does not erase it.
    max_idle_windows: u32 = 1_440;

    // --- Levels, hysteresis and de-escalation.
    /// Score that escalates to WARN. Default 40: one moderate signal (an
    /// unseen action type) is reported, nothing is enforced.
    warn_score: u8 = 40;
    /// Score that escalates to THROTTLE. Default 70: a strong signal, or a
    /// moderate one backed by a second.
    throttle_score: u8 = 70;
    /// Score that escalates to HALT. Default 90: two strong signals at
    /// once; rate alone (capped at `spike_max`) never halts.
    halt_score: u8 = 90;
    /// Points below the current level's threshold that still count as hot
    /// (and restart the quiet period). Default 10, so a score hovering just
    /// under the threshold does not step down and up again.
    hysteresis: u8 = 10;
    /// Time without a hot score before WARN or THROTTLE steps down one level,
    /// in ms (1 ms – 30 days). Default 15 minutes.
    quiet_period_ms: u64 = 15 * MINUTE;

    // --- Throttling (GCRA).
    /// THROTTLE admits this fraction of the baseline rate, (0, 1].
    /// Default ½: enough for a legitimate agent to make progress, too little
    /// for a runaway loop to do damage.
    throttle_fraction: f64 = 0.5;
    /// GCRA burst tolerance in THROTTLE, in actions (1 – 10 000). Default 5.
    throttle_burst: u32 = 5;

    // --- Learning.
    /// Weight of each new sample in a baseline after calibration, in
    /// MONITORING only, (0, ½]. Default 1/256: the baseline follows slow
    /// change over hours to days, and an attacker cannot walk it from WARN
    /// or above, where it does not learn.
    adapt_weight: f64 = 1.0 / 256.0;
    /// Weight of each action in the current denial and delegation shares,
    /// (0, 1]. Default 1/16: a share reflects roughly the last 16 actions,
    /// quick enough to catch probing, slow enough that one denial is noise.
    share_weight: f64 = 1.0 / 16.0;
    /// Activity counted in the hour-of-day profile before it is halved, so
    /// it keeps adapting (100 – 2^40). Default 2^20 actions.
    hour_profile_cap: u64 = 1 << 20;

    // --- Combining signals and reporting.
    /// An observation's score is its strongest signal plus this share of
    /// the second strongest (capped at 100), [0, 1]. Default ½: one signal
    /// alone rarely halts, two together escalate faster.
    second_signal_share: f64 = 0.5;
    /// Signals at or above this severity emit `anomaly.detected`, 1 – 100.
    /// Default 20: below it a signal is noise not worth an event.
    report_severity: u8 = 20;

    // --- Frequency spike.
    /// z-score of the windowed rate where the frequency signal starts, ≥ 0.
    /// Default 4: Poisson-like counts pass z = 4 about once in 30 000
    /// windows, three weeks of minutes.
    spike_z: f64 = 4.0;
    /// Severity per z-score point above `spike_z`, > 0. Default 12: z = 10
    /// (six points above) reaches THROTTLE.
    spike_slope: f64 = 12.0;
    /// Highest severity the frequency signal gives, 0 – 100. Default 80:
    /// rate alone throttles but never halts (a busy agent is not a
    /// compromised one).
    spike_max: u8 = 80;
    /// Rate standard-deviation floor, constant term, > 0. Default 1 (one
    /// action per window): a flat baseline never gives infinite z-scores.
    rate_sd_floor_base: f64 = 1.0;
    /// Rate standard-deviation floor, term in √mean, ≥ 0. Default ½: half
    /// the Poisson spread.
    rate_sd_floor_sqrt: f64 = 0.5;
    /// Rate standard-deviation floor, term in mean, ≥ 0. Default ¼: the
    /// rate may vary by a quarter of itself without being unusual.
    rate_sd_floor_linear: f64 = 0.25;

    // --- Unseen action types.
    /// Severity of an action type the agent has not used before, 0 – 100.
    /// Default 45: above `warn_score`, so a new type is reported (WARN) but
    /// never enforced on its own.
    unseen_type_severity: u8 = 45;
    /// Action types remembered per agent (0 – 64). Default 32. The set is
    /// exact (64-bit SipHash fingerprints); once full, further new types stay
    /// unseen, which is reported, never silently treated as familiar.
    max_known_types: u8 = 32;

    // --- Off-hours.
    /// Actions in the hour-of-day profile before the off-hours signal
    /// scores. Default 100: fewer say nothing about a rhythm.
    off_hours_min_actions: u64 = 100;
    /// An hour counts as off-hours when its share of activity is below this
    /// fraction of a uniform day's share (1/24), (0, 1]. Default ¼.
    off_hours_share: f64 = 0.25;
    /// Highest severity of the off-hours signal (an hour with no history),
    /// 0 – 100. Default 40: off-hours activity alone is reported, never
    /// enforced.
    off_hours_max: u8 = 40;

    // --- Bulk data access.
    /// z-score of `data_count` where the bulk signal starts, ≥ 0. Default 4.
    bulk_z: f64 = 4.0;
    /// Severity per z-score point above `bulk_z`, > 0. Default 10.
    bulk_slope: f64 = 10.0;
    /// Highest severity of the bulk signal, 0 – 100. Default 85: bulk access
    /// alone throttles; with a second signal (off-hours) it halts.
    bulk_max: u8 = 85;
    /// Data standard-deviation floor, constant term, > 0. Default 1 record.
    data_sd_floor_base: f64 = 1.0;
    /// Data standard-deviation floor, term in mean, ≥ 0. Default ¼.
    data_sd_floor_linear: f64 = 0.25;

    // --- Rising denials.
    /// The denial share may exceed its baseline by this much before the
    /// signal starts, [0, 1]. Default 0.05: five points of noise.
    denial_margin: f64 = 0.05;
    /// Severity per unit of denial share above baseline plus margin, > 0.
    /// Default 160: a share 30 points above baseline reaches THROTTLE,
    /// 60 points above reaches 100.
    denial_slope: f64 = 160.0;

    // --- Delegation churn.
    /// The delegation share may exceed its baseline by this much, [0, 1].
    /// Default 0.05.
    delegation_margin: f64 = 0.05;
    /// Severity per unit of delegation share above baseline plus margin,
    /// > 0. Default 150.
    delegation_slope: f64 = 150.0;
    /// Highest severity of the delegation signal, 0 – 100. Default 85:
    /// churn alone throttles, never halts.
    delegation_max: u8 = 85;
}

/// Builder for [`BreakerConfig`], starting from the defaults.
#[derive(Clone, Debug, Default)]
pub struct BreakerConfigBuilder(BreakerConfig);

impl BreakerConfig {
    /// A builder starting from the defaults.
    #[must_use]
    pub fn builder() -> BreakerConfigBuilder {
        BreakerConfigBuilder::default()
    }
}

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
            in_range(c.adapt_weight, 0.0, true, 0.5),
            "adapt_weight",
            "in (0, 0.5]",
            c.adapt_weight,
        )?;
        check(
            in_range(c.share_weight, 0.0, true, 1.0),
            "share_weight",
            "in (0, 1]",
            c.share_weight,
        )?;
        check(
            (100..=1 << 40).contains(&c.hour_profile_cap),
            "hour_profile_cap",
            "between 100 and 2^40",
            c.hour_profile_cap,
        )?;
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
            c.max_known_types <= 64,
            "max_known_types",
            "at most 64",
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
    use super::*;
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
