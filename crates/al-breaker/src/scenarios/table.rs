//! Summarising runs into the quality table and checking the targets.

use std::fmt::Write as _;

use super::generate::{DAY, HOUR, MIN, Run, run};
use super::{Class, Kind, Scenario};
use crate::State;

/// One row of the quality table: the worst over a scenario's seeds.
#[derive(Clone, Debug)]
pub struct Row {
    /// Scenario name.
    pub name: String,
    /// Its class.
    pub class: Class,
    /// Seeds run.
    pub seeds: usize,
    /// Simulated days after calibration (shortest seed).
    pub days: f64,
    /// Highest state after calibration.
    pub max_state: State,
    /// Percent of attempts after calibration answered 429 or AGENT_HALTED.
    pub refused_pct: f64,
    /// The most transitions in one UTC day.
    pub max_transitions_per_day: u32,
    /// Slowest first WARN / THROTTLE / HALT after the attack or drift
    /// began: (attempts, ms); `None` if some seed never got there.
    pub first: [Option<(u64, u64)>; 3],
    /// A drift explanation seen.
    pub drift: Option<String>,
    /// Failed per-phase expectations and targets.
    pub failures: Vec<String>,
}

/// Run every seed of a scenario and check its targets.
#[must_use]
pub fn evaluate(s: &Scenario) -> Row {
    let runs: Vec<Run> = s.seeds.iter().map(|&seed| run(s, seed)).collect();
    let mut failures = Vec::new();
    for (seed, r) in s.seeds.iter().zip(&runs) {
        for e in &s.expect {
            let (Some(max), Some(reach)) =
                (r.max_per_phase.get(e.phase), r.reach_per_phase.get(e.phase))
            else {
                failures.push(format!(
                    "{} seed {seed}: expectation names missing phase {}",
                    s.name, e.phase
                ));
                continue;
            };
            if let Some(cap) = e.never_above
                && *max > cap
            {
                failures.push(format!(
                    "{} seed {seed}: phase {} reached {max}, above {cap}",
                    s.name, e.phase
                ));
            }
            if let Some(want) = e.reaches {
                let at = reach
                    .iter()
                    .filter(|(st, _)| *st >= want)
                    .map(|(_, n)| *n)
                    .min();
                match (at, e.within) {
                    (None, _) => failures.push(format!(
                        "{} seed {seed}: phase {} never reached {want}",
                        s.name, e.phase
                    )),
                    (Some(n), Some(w)) if n > w => failures.push(format!(
                        "{} seed {seed}: phase {} reached {want} after {n} attempts, bound {w}",
                        s.name, e.phase
                    )),
                    _ => {}
                }
            }
        }
    }
    let worst = |i: usize| -> Option<(u64, u64)> {
        let mut w = (0, 0);
        for r in &runs {
            let (a, t) = r.first[i]?;
            w = (w.0.max(a), w.1.max(t));
        }
        Some(w)
    };
    let row = Row {
        name: s.name.clone(),
        class: s.class,
        seeds: runs.len(),
        days: runs
            .iter()
            .map(|r| r.days_after_calibration)
            .fold(f64::MAX, f64::min),
        max_state: runs
            .iter()
            .filter_map(|r| r.max_after_calibration)
            .max()
            .unwrap_or(State::Calibrating),
        refused_pct: runs
            .iter()
            .map(|r| {
                100.0 * r.refused_after_calibration as f64
                    / r.attempts_after_calibration.max(1) as f64
            })
            .fold(0.0, f64::max),
        max_transitions_per_day: runs
            .iter()
            .map(|r| r.max_transitions_per_day)
            .max()
            .unwrap_or(0),
        first: [worst(0), worst(1), worst(2)],
        drift: runs.iter().find_map(|r| r.drift.clone()),
        failures,
    };
    check_targets(s, row)
}

/// The targets: legitimate workloads never reach THROTTLE (and
/// nothing is throttled or denied); attacks reach WARN within a day, and
/// runaways THROTTLE within 100 attempts; drift is reported (WARN) with its
/// explanation; at most 4 transitions per UTC day everywhere.
fn check_targets(s: &Scenario, mut row: Row) -> Row {
    let name = &s.name;
    if row.max_transitions_per_day > 4 {
        row.failures.push(format!(
            "{name}: {} transitions in one day",
            row.max_transitions_per_day
        ));
    }
    match s.class {
        Class::Legitimate => {
            if row.max_state >= State::Throttle {
                row.failures.push(format!(
                    "{name}: a legitimate workload reached {}",
                    row.max_state
                ));
            }
            if row.refused_pct > 0.0 {
                row.failures.push(format!(
                    "{name}: {:.2} % of attempts refused",
                    row.refused_pct
                ));
            }
            if row.days < 30.0 {
                row.failures.push(format!(
                    "{name}: only {:.1} days after calibration",
                    row.days
                ));
            }
        }
        Class::Attack => match row.first[0] {
            Some((_, ms)) if ms <= DAY => {}
            other => row
                .failures
                .push(format!("{name}: first WARN {other:?}, not within a day")),
        },
        Class::Drift => {
            if row.first[0].is_none() || row.drift.is_none() {
                row.failures
                    .push(format!("{name}: drift never reported with an explanation"));
            }
        }
    }
    if s.phases.iter().any(|p| p.kind == Kind::Runaway) {
        match row.first[1] {
            Some((n, _)) if n <= 100 => {}
            other => row.failures.push(format!(
                "{name}: runaway THROTTLE at {other:?}, not within 100 attempts"
            )),
        }
    }
    row
}

fn delay(d: Option<(u64, u64)>) -> String {
    match d {
        None => "—".into(),
        Some((n, ms)) if ms < HOUR => format!("{n} ({} min)", ms.div_ceil(MIN)),
        Some((n, ms)) if ms < 2 * DAY => format!("{n} ({:.1} h)", ms as f64 / HOUR as f64),
        Some((n, ms)) => format!("{n} ({:.1} d)", ms as f64 / DAY as f64),
    }
}

/// The quality table, as Markdown.
#[must_use]
pub fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| scenario | class | seeds | days after calibration | highest state after calibration | throttled or denied | most transitions in a day | first WARN / THROTTLE / HALT after the attack or drift began: attempts (time) |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let class = match r.class {
            Class::Legitimate => "legitimate",
            Class::Attack => "attack",
            Class::Drift => "drift",
        };
        let firsts = if r.class == Class::Legitimate {
            "—".to_owned()
        } else {
            format!(
                "{} / {} / {}",
                delay(r.first[0]),
                delay(r.first[1]),
                delay(r.first[2])
            )
        };
        let _ = writeln!(
            t,
            "| {} | {class} | {} | {:.0} | {} | {:.2} % | {} | {} |",
            r.name, r.seeds, r.days, r.max_state, r.refused_pct, r.max_transitions_per_day, firsts
        );
    }
    let drifts: Vec<&Row> = rows
        .iter()
        .filter(|r| r.drift.is_some() && r.class == Class::Drift)
        .collect();
    if !drifts.is_empty() {
        t.push('\n');
        for r in drifts {
            let _ = writeln!(
                t,
                "Explanation reported in `{}`: \"{}\".",
                r.name,
                r.drift.as_deref().unwrap_or("")
            );
        }
    }
    t
}
