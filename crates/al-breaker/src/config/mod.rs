//! Breaker configuration: every threshold, period and weight, with its
//! default and the reason for it, validated once on the way in (by the
//! builder and by deserialisation alike).

use serde::{Deserialize, Serialize};

use crate::BreakerError;

mod validate;

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
    /// Points below `warn_score` that still count as hot (and restart the
    /// quiet period), in WARN and in THROTTLE alike. Default 10, so a score
    /// hovering just under the threshold does not step down and up again.
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
    /// MONITORING only, [2⁻¹⁶, ½]. Default 1/256: the baseline follows slow
    /// change over hours to days, and an attacker cannot walk it from WARN
    /// or above, where it does not learn.
    adapt_weight: f64 = 1.0 / 256.0;
    /// Weight of each action in the current denial and delegation shares,
    /// (0, 1]. Default 1/16: a share reflects roughly the last 16 actions,
    /// quick enough to catch probing, slow enough that one denial is noise.
    share_weight: f64 = 1.0 / 16.0;

    // --- Seasons.
    /// Rate windows a season slot (hour of day × weekday/weekend, UTC) must
    /// have learned before its own rate baseline is used (1 – 65 535);
    /// until then the all-hours baseline is. Default 60: an hour of
    /// observation in that slot (a 7-day calibration gives every slot at
    /// least 120).
    slot_min_windows: u16 = 60;
    /// Actions a slot must have learned before its own data-volume baseline
    /// is used (1 – 65 535). Default 20: enough for a mean.
    slot_min_actions: u16 = 20;
    /// Weight of each action in its slot's data-volume baseline after
    /// calibration, [2⁻¹⁶, ½]. Default 1/64: a quiet night slot sees a few
    /// dozen actions a day and must still follow (and let the drift signal
    /// see) a change within days; the rate slots learn at `adapt_weight`.
    slot_data_weight: f64 = 1.0 / 64.0;

    // --- No flapping.
    /// Scored actions in a row without a hot score that let a quiet period
    /// end (0 – 1 000 000). Default 50: a prober whose hot actions come one in
    /// five almost never gets 50 quiet ones in a row (0.8⁵⁰ ≈ 10⁻⁵), while an
    /// agent that tried one new tool does within minutes.
    quiet_actions: u32 = 50;
    /// Without `quiet_actions` quiet actions, the quiet period lasts this
    /// long instead, in ms (0 – 30 days). Default 4 hours: an agent too idle
    /// to count (or silent) still steps down, but a slow prober's gaps
    /// between probes do not pass for quiet.
    idle_quiet_ms: u64 = 4 * HOUR;
    /// Least time in WARN or THROTTLE before stepping down, in ms (0 – 30
    /// days). Default 1 hour: a steady attack settles instead of leaving
    /// and re-entering the state every quiet period.
    min_dwell_ms: u64 = HOUR;
    /// Least time between two quiet-period step-downs, in ms (0 – 30
    /// days). Default 24 hours: at most one step down in any 24 hours, so
    /// an agent makes at most 3 + 2 = 5 anomaly and timer transitions in
    /// any 24 hours (see the crate docs for the bound).
    deescalation_interval_ms: u64 = DAY;

    // --- Drift against the anchor.
    /// A baseline this many times its anchored value (each plus its floor)
    /// is reported as drift, [1.5, 1e6]. Default 3: organic growth of ×2 a
    /// month passes (with room for the seasons' lag), a threefold change in
    /// rate, data per action or denial share is reported.
    drift_ratio: f64 = 3.0;
    /// Severity of the drift signal, 0 – 100. Default 50: above
    /// `warn_score`, below `throttle_score`: drift is reported (WARN) and
    /// explained, never enforced on its own.
    drift_severity: u8 = 50;
    /// Floor added to both sides of the rate ratio, in actions per window,
    /// > 0. Default 0.5: a near-idle agent waking up is not a ×100 drift.
    drift_rate_floor: f64 = 0.5;
    /// Floor added to both sides of the data ratio, in records per action,
    /// > 0. Default 1: an agent touching nothing that starts touching three
    /// records is not a drift.
    drift_data_floor: f64 = 1.0;
    /// Floor added to both sides of the denial-share ratio, > 0. Default
    /// 0.05 (with a 2 % baseline, drift at a share of about 16 %).
    drift_denial_floor: f64 = 0.05;

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
    /// Action types remembered per agent (0 – 48; 48 keeps the serialised
    /// state under 2 KiB even as text). Default 32. The set is exact (64-bit
    /// SipHash fingerprints); once full, further new types stay unseen,
    /// which is reported, never silently treated as familiar.
    max_known_types: u8 = 32;

    // --- Off-hours.
    /// A season slot counts as off-hours when its baseline rate is below
    /// this fraction of the average over all slots, (0, 1]. Default ¼. Only
    /// slots with a trusted baseline (`slot_min_windows`) are judged.
    off_hours_share: f64 = 0.25;
    /// Highest severity of the off-hours signal (a slot with no activity),
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
