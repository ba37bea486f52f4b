//! The workload generator: one seed of a scenario through a breaker.

use super::{Kind, Scenario, Workload};
use crate::{Admission, Breaker, BreakerConfig, Observation, Reason, State, Timestamp};

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() <= p
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
    /// An exponential variate with mean 1.
    fn exp(&mut self) -> f64 {
        -ln(self.unit())
    }
}

/// Natural logarithm with `+ − × ÷` only (so the generator is the same on
/// every platform): x = m · 2^e with m in [1, 2), ln m = 2 atanh((m−1)/(m+1)).
fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52));
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let (mut term, mut sum) = (s, 0.0);
    for k in 0..30 {
        sum += term / f64::from(2 * k + 1);
        term *= s2;
    }
    2.0 * sum + e as f64 * std::f64::consts::LN_2
}

const TYPES: [&str; 5] = ["pr.open", "pr.merge", "ci.run", "issue.comment", "db.read"];
const BATCH_TYPES: [&str; 2] = ["etl.load", "report.build"];
const PROBE_TYPES: [&str; 8] = [
    "iam.grant",
    "secrets.read",
    "db.drop",
    "billing.refund",
    "iam.role.create",
    "kms.decrypt",
    "vault.unseal",
    "org.member.remove",
];
const NEW_TYPES: [&str; 10] = [
    "docs.publish",
    "release.tag",
    "search.index",
    "cache.flush",
    "sbom.scan",
    "lint.fix",
    "backup.verify",
    "deps.update",
    "image.build",
    "notify.slack",
];

pub(super) const MIN: u64 = 60_000;
pub(super) const HOUR: u64 = 3_600_000;
pub(super) const DAY: u64 = 86_400_000;
/// 2025-12-01T00:00:00Z, a Monday.
const START: u64 = 1_764_547_200_000;

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(i64::try_from(ms).unwrap()).unwrap()
}

/// Rate at `t`, actions per minute, before phase modifiers; and whether the
/// nightly batch is running.
fn rhythm(w: Workload, rate: f64, t: u64) -> (f64, bool) {
    let hour = (t / HOUR) % 24;
    let weekend = ts(t).weekday() >= 6;
    match w {
        Workload::Daily => {
            let f = match hour {
                8..=17 => 1.0,
                6..=7 | 18..=22 => 0.33,
                _ => 0.1,
            };
            (rate * f, false)
        }
        Workload::OfficeHours => {
            let f = if weekend {
                0.0
            } else if (8..18).contains(&hour) {
                1.0
            } else {
                0.02
            };
            (rate * f, false)
        }
        Workload::NightlyBatch => {
            let trickle = (rate * 0.2).min(1.0);
            let in_day = t % DAY;
            if (2 * HOUR..2 * HOUR + 20 * MIN).contains(&in_day) {
                (trickle + 15.0, true)
            } else {
                (trickle, false)
            }
        }
    }
}

/// What one run (one seed) came to.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Highest state after calibration completed.
    pub max_after_calibration: Option<State>,
    /// Highest state per phase.
    pub max_per_phase: Vec<State>,
    /// First arrival at each state per phase: (state, attempts into the phase).
    pub reach_per_phase: Vec<Vec<(State, u64)>>,
    /// Attempts after calibration, and how many were answered 429 or
    /// `AGENT_HALTED`.
    pub attempts_after_calibration: u64,
    /// See `attempts_after_calibration`.
    pub refused_after_calibration: u64,
    /// The most transitions in one UTC day.
    pub max_transitions_per_day: u32,
    /// Days simulated after calibration.
    pub days_after_calibration: f64,
    /// From the first attack (or drift) phase: the first WARN, THROTTLE and
    /// HALT as (attempts, ms) after its start.
    pub first: [Option<(u64, u64)>; 3],
    /// The first drift explanation seen.
    pub drift: Option<String>,
    /// Every transition: (ms since the start, from, to, reason, score).
    pub log: Vec<(u64, State, State, Reason, u8)>,
}

/// Run one seed of a scenario.
#[must_use]
pub fn run(s: &Scenario, seed: u64) -> Run {
    let cfg = BreakerConfig::default();
    let mut rng = Rng(seed);
    let mut now = START;
    let mut b = Breaker::new(ts(now));
    let mut out = Run::default();
    let mut calibrated_at: Option<u64> = None;
    let mut day_counts: Vec<(u64, u32)> = Vec::new();
    let mut watch_from: Option<u64> = None;
    let mut attempts_since_watch = 0u64;
    let mut note = |fx: &crate::Effects,
                    now: u64,
                    out: &mut Run,
                    reach: &mut Vec<(State, u64)>,
                    n: u64,
                    calibrated_at: &mut Option<u64>,
                    watch_from: Option<u64>,
                    since_watch: u64| {
        for t in fx.transitions() {
            out.log.push((now - START, t.from, t.to, t.reason, t.score));
            let day = now / DAY;
            match day_counts.last_mut() {
                Some((d, c)) if *d == day => *c += 1,
                _ => day_counts.push((day, 1)),
            }
            if t.reason == Reason::CalibrationComplete {
                calibrated_at.get_or_insert(now);
            }
            if !reach.iter().any(|(st, _)| *st == t.to) {
                reach.push((t.to, n));
            }
            if let Some(w) = watch_from {
                for (i, st) in [State::Warn, State::Throttle, State::Halt]
                    .iter()
                    .enumerate()
                {
                    if t.to >= *st && out.first[i].is_none() {
                        out.first[i] = Some((since_watch, now - w));
                    }
                }
            }
        }
        if out.drift.is_none() && watch_from.is_some() {
            out.drift = fx.drift().map(|d| d.to_string());
        }
    };
    for phase in &s.phases {
        let start = now;
        let total = phase.actions.unwrap_or(u64::MAX);
        let end = phase
            .days
            .map_or(u64::MAX, |d| start + (d * DAY as f64) as u64);
        let length = end.saturating_sub(start) as f64;
        if (phase.kind.is_attack() || phase.kind == Kind::DataDrift) && watch_from.is_none() {
            watch_from = Some(start);
            // Already there when it began: no delay.
            for (i, st) in [State::Warn, State::Throttle, State::Halt]
                .iter()
                .enumerate()
            {
                if b.state() >= *st && b.state() != State::Killed {
                    out.first[i] = Some((0, 0));
                }
            }
        }
        let mut n = 0u64;
        let mut max = b.state();
        let mut reach: Vec<(State, u64)> = Vec::new();
        let mut introduced = 0usize;
        while n < total && now < end {
            let (base, batch) = rhythm(s.workload, s.rate_per_min, now);
            let progress = if end == u64::MAX {
                n as f64 / total as f64
            } else {
                (now - start) as f64 / length
            };
            let rate = match phase.kind {
                Kind::Runaway => base * phase.multiplier.unwrap_or(10.0),
                Kind::Lull => base * phase.multiplier.unwrap_or(0.02),
                Kind::Growth => base * (1.0 + (phase.multiplier.unwrap_or(2.0) - 1.0) * progress),
                _ => base,
            };
            if rate <= 1e-9 {
                now = (now / HOUR + 1) * HOUR;
                continue;
            }
            let gap = rng.exp() * MIN as f64 / rate;
            now += (gap as u64).max(1);
            if phase.kind == Kind::Exfiltration {
                // Off-hours: push the clock to 03:00 UTC.
                let h = (now / HOUR) % 24;
                if !(2..5).contains(&h) {
                    now += ((27 - h) % 24) * HOUR;
                }
            }
            if now >= end {
                break;
            }
            if phase.kind == Kind::NewTypes {
                let every = phase.every_days.unwrap_or(3.0) * DAY as f64;
                introduced = ((((now - start) as f64) / every) as usize + 1).min(NEW_TYPES.len());
            }
            let days_in = (now - start) / DAY;
            let mut data = 5 + rng.next() % 30;
            let mut action_type = rng.pick(&TYPES);
            if batch {
                action_type = rng.pick(&BATCH_TYPES);
                data *= 10;
            }
            let (mut denied, mut delegation) = (rng.chance(0.02), rng.chance(0.005));
            match phase.kind {
                Kind::NewTypes => {
                    let k = rng.next() % (TYPES.len() + introduced) as u64;
                    if let Some(t) = (k as usize)
                        .checked_sub(TYPES.len())
                        .and_then(|i| NEW_TYPES.get(i))
                    {
                        action_type = t;
                        denied = false;
                    }
                }
                Kind::DataDrift => {
                    let f = phase.per_day.unwrap_or(1.1);
                    let mut m = 1.0;
                    for _ in 0..days_in {
                        m *= f;
                    }
                    data = (data as f64 * m) as u64;
                }
                Kind::Prober => {
                    if rng.chance(0.5) {
                        action_type = rng.pick(&PROBE_TYPES[..4]);
                    }
                    denied = rng.chance(0.02 + 0.93 * (2.0 * progress).min(1.0));
                }
                Kind::LowSlowProber if rng.chance(0.2) => {
                    action_type = rng.pick(&PROBE_TYPES);
                    denied = true;
                }
                Kind::Exfiltration => {
                    action_type = "db.export";
                    denied = false;
                    data = 20_000 + rng.next() % 5_000;
                }
                Kind::DelegationStorm => delegation = rng.chance(0.9),
                _ => {}
            }
            n += 1;
            if watch_from.is_some() {
                attempts_since_watch += 1;
            }
            let (adm, afx) = b.admit(&cfg, ts(now));
            note(
                &afx,
                now,
                &mut out,
                &mut reach,
                n,
                &mut calibrated_at,
                watch_from,
                attempts_since_watch,
            );
            let after_cal = calibrated_at.is_some();
            if after_cal {
                out.attempts_after_calibration += 1;
            }
            match adm {
                Admission::Allow => {
                    let obs = Observation {
                        action_type,
                        denied,
                        data_count: data,
                        delegation_created: delegation,
                    };
                    let fx = b.observe(&cfg, ts(now), &obs);
                    note(
                        &fx,
                        now,
                        &mut out,
                        &mut reach,
                        n,
                        &mut calibrated_at,
                        watch_from,
                        attempts_since_watch,
                    );
                }
                Admission::Throttled { retry_after_ms } => {
                    if after_cal {
                        out.refused_after_calibration += 1;
                    }
                    // A well-behaved client waits; a runaway one keeps hammering.
                    if phase.kind != Kind::Runaway {
                        now += retry_after_ms;
                    }
                }
                Admission::Denied(_) => {
                    if after_cal {
                        out.refused_after_calibration += 1;
                    }
                }
            }
            max = max.max(b.state());
            if calibrated_at.is_some() {
                out.max_after_calibration = Some(
                    out.max_after_calibration
                        .map_or(b.state(), |m| m.max(b.state())),
                );
            }
        }
        out.max_per_phase.push(max);
        out.reach_per_phase.push(reach);
    }
    out.max_transitions_per_day = day_counts.iter().map(|(_, c)| *c).max().unwrap_or(0);
    out.days_after_calibration = calibrated_at.map_or(0.0, |c| (now - c) as f64 / DAY as f64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_is_accurate() {
        for x in [
            1e-300, 1e-9, 0.001, 0.5, 0.999_999, 1.0, 1.5, 2.0, 10.0, 1e300,
        ] {
            let (mine, std) = (ln(x), x.ln());
            assert!(
                (mine - std).abs() <= 1e-13 * std.abs().max(1.0),
                "{x}: {mine} vs {std}"
            );
        }
    }
}
