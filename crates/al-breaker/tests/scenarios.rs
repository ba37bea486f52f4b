//! Replays `testdata/breaker/*.yaml` (format: its README).

use al_breaker::{Admission, Breaker, BreakerConfig, Observation, State, Timestamp};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: String,
    seed: u64,
    rate_per_min: f64,
    phases: Vec<Phase>,
    expect: Vec<Expect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Phase {
    kind: Kind,
    #[serde(default)]
    actions: Option<u64>,
    #[serde(default)]
    days: Option<u64>,
    #[serde(default)]
    multiplier: Option<f64>,
}

/// Workload kinds; an unknown kind is an error, never silently calm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Calm,
    Runaway,
    Prober,
    Exfiltration,
    DelegationStorm,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    phase: usize,
    #[serde(default)]
    never_above: Option<State>,
    #[serde(default)]
    reaches: Option<State>,
    #[serde(default)]
    within: Option<u64>,
}

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(i64::try_from(ms).unwrap()).unwrap()
}

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
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

const CALM_TYPES: [&str; 5] = ["pr.open", "pr.merge", "ci.run", "issue.comment", "db.read"];

/// Daytime (08–18 UTC) at full rate, evenings at a third, nights at a tenth.
fn rhythm(hour: u64) -> f64 {
    match hour {
        8..=17 => 1.0,
        18..=22 | 6..=7 => 0.33,
        _ => 0.1,
    }
}

struct Summary {
    max_state: Vec<State>,
    first_reach: Vec<Vec<(State, u64)>>,
    warn_entries: u64,
}

fn run(s: &Scenario) -> Summary {
    let cfg = BreakerConfig::default();
    let mut rng = Rng(s.seed);
    let mut now: u64 = 1_764_288_000_000; // 2025-11-28T00:00:00Z
    let mut b = Breaker::new(ts(now));
    let mut sum = Summary {
        max_state: Vec::new(),
        first_reach: Vec::new(),
        warn_entries: 0,
    };
    for phase in &s.phases {
        let start = now;
        let mut n = 0u64;
        let mut max = b.state();
        let mut reach: Vec<(State, u64)> = Vec::new();
        let total = phase.actions.unwrap_or(u64::MAX);
        let end = phase.days.map_or(u64::MAX, |d| start + d * 86_400_000);
        while n < total && now < end {
            let hour = (now / 3_600_000) % 24;
            let mult = match phase.kind {
                Kind::Runaway => phase.multiplier.unwrap_or(10.0),
                _ => 1.0,
            };
            let rate = s.rate_per_min * rhythm(hour) * mult;
            // Exponential inter-arrival times (test code may use ln).
            let gap = -(1.0 - rng.unit()).ln() * 60_000.0 / rate;
            now += gap.max(1.0) as u64;
            if phase.kind == Kind::Exfiltration {
                // Off-hours: push the clock to 03:00 UTC.
                let h = (now / 3_600_000) % 24;
                if !(2..5).contains(&h) {
                    now += ((27 - h) % 24) * 3_600_000;
                }
            }
            let progress = if total == u64::MAX {
                0.0
            } else {
                n as f64 / total as f64
            };
            let (action_type, denied, data, delegation): (&str, bool, u64, bool) = match phase.kind
            {
                Kind::Prober => {
                    let t = if rng.chance(0.5) {
                        ["iam.grant", "secrets.read", "db.drop", "billing.refund"]
                            [(rng.next() % 4) as usize]
                    } else {
                        CALM_TYPES[(rng.next() % 5) as usize]
                    };
                    (
                        t,
                        rng.chance(0.02 + 0.93 * (2.0 * progress).min(1.0)),
                        5 + rng.next() % 30,
                        false,
                    )
                }
                Kind::Exfiltration => ("db.export", false, 20_000 + rng.next() % 5_000, false),
                Kind::DelegationStorm => (
                    CALM_TYPES[(rng.next() % 5) as usize],
                    false,
                    5 + rng.next() % 30,
                    rng.chance(0.9),
                ),
                Kind::Calm | Kind::Runaway => (
                    CALM_TYPES[(rng.next() % 5) as usize],
                    rng.chance(0.02),
                    5 + rng.next() % 30,
                    rng.chance(0.005),
                ),
            };
            let (adm, afx) = b.admit(&cfg, ts(now));
            let fx = match adm {
                Admission::Allow => {
                    let obs = Observation {
                        action_type,
                        denied,
                        data_count: data,
                        delegation_created: delegation,
                    };
                    Some(b.observe(&cfg, ts(now), &obs))
                }
                Admission::Throttled { retry_after_ms } => {
                    // A well-behaved client waits; a runaway one keeps hammering.
                    if phase.kind != Kind::Runaway {
                        now += retry_after_ms;
                    }
                    None
                }
                Admission::Denied(_) => None,
            };
            n += 1;
            for t in afx
                .transitions()
                .chain(fx.iter().flat_map(|f| f.transitions()))
            {
                if t.to == State::Warn {
                    sum.warn_entries += 1;
                }
                if !reach.iter().any(|(s, _)| *s == t.to) {
                    reach.push((t.to, n));
                }
            }
            max = max.max(b.state());
        }
        sum.max_state.push(max);
        sum.first_reach.push(reach);
    }
    sum
}

#[test]
fn breaker_scenarios() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/breaker");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let mut failures = Vec::new();
    for f in files {
        let s: Scenario = serde_saphyr::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert!(
            !s.expect.is_empty(),
            "{}: a scenario without expectations checks nothing",
            f.display()
        );
        assert!(
            s.expect.iter().all(|e| e.phase < s.phases.len()),
            "{}: expectation names a missing phase",
            f.display()
        );
        let sum = run(&s);
        // The report: max state per phase, first arrival at each state, WARN entries.
        println!(
            "scenario {}: max states {:?}, reached {:?}, WARN entries {}",
            s.name, sum.max_state, sum.first_reach, sum.warn_entries
        );
        for e in &s.expect {
            if let Some(cap) = e.never_above
                && sum.max_state[e.phase] > cap
            {
                failures.push(format!(
                    "{}: phase {} reached {:?}, above {cap:?}",
                    s.name, e.phase, sum.max_state[e.phase]
                ));
            }
            if let Some(want) = e.reaches {
                let at = sum.first_reach[e.phase]
                    .iter()
                    .filter(|(st, _)| *st >= want)
                    .map(|(_, n)| *n)
                    .min();
                match (at, e.within) {
                    (None, _) => failures.push(format!(
                        "{}: phase {} never reached {want:?}",
                        s.name, e.phase
                    )),
                    (Some(n), Some(w)) if n > w => failures.push(format!(
                        "{}: phase {} reached {want:?} after {n} actions, bound {w}",
                        s.name, e.phase
                    )),
                    _ => {}
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
