//! Breaker workloads: a calibrated agent in MONITORING and one in THROTTLE.

use std::collections::BTreeMap;

use al_breaker::{Admission, Breaker, BreakerConfig, Observation, State, Timestamp};

pub const OBS: Observation<'static> = Observation {
    action_type: "pr.merge",
    denied: false,
    data_count: 10,
    delegation_created: false,
};

/// The workloads' clock: milliseconds after 2026-11-30T00:00:00Z (a Monday).
pub fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(1_796_083_200_000 + i64::try_from(ms).unwrap()).unwrap()
}

/// Short calibration so the workloads build quickly.
pub fn config() -> BreakerConfig {
    BreakerConfig::builder()
        .calibration_min_actions(50)
        .calibration_min_duration_ms(3_600_000)
        .build()
        .unwrap()
}

/// A calibrated agent (2 actions a minute) and the current time.
pub fn monitoring(cfg: &BreakerConfig) -> (Breaker, u64) {
    let mut b = Breaker::new(at(0));
    let mut now = 0;
    for _ in 0..240 {
        now += 30_000;
        let _ = b.admit(cfg, at(now));
        let _ = b.observe(cfg, at(now), &OBS);
    }
    assert_eq!(b.state(), State::Monitoring);
    (b, now)
}

/// A calibrated agent pushed into THROTTLE by a runaway loop.
pub fn throttled(cfg: &BreakerConfig) -> (Breaker, u64) {
    let (mut b, mut now) = monitoring(cfg);
    while b.state() != State::Throttle {
        now += 500;
        let _ = b.observe(cfg, at(now), &OBS);
    }
    (b, now)
}

/// Five familiar types, used in turn by the `_5_types` workload (so the
/// breaker's memo of the last type's fingerprint never helps).
pub const TYPES: [Observation<'static>; 5] = [
    OBS,
    Observation {
        action_type: "pr.open",
        ..OBS
    },
    Observation {
        action_type: "ci.run",
        ..OBS
    },
    Observation {
        action_type: "issue.comment",
        ..OBS
    },
    Observation {
        action_type: "db.read",
        ..OBS
    },
];

/// A calibrated agent using [`TYPES`] in turn.
pub fn monitoring_5_types(cfg: &BreakerConfig) -> (Breaker, u64) {
    let mut b = Breaker::new(at(0));
    let mut now = 0;
    for i in 0..240 {
        now += 30_000;
        let _ = b.admit(cfg, at(now));
        let _ = b.observe(cfg, at(now), &TYPES[i % 5]);
    }
    assert_eq!(b.state(), State::Monitoring);
    (b, now)
}

/// One step of the hot path: `admit`, then `observe` if admitted.
#[inline]
pub fn step(b: &mut Breaker, cfg: &BreakerConfig, now: u64) {
    step_with(b, cfg, now, &OBS);
}

/// [`step`] with a given observation.
#[inline]
pub fn step_with(b: &mut Breaker, cfg: &BreakerConfig, now: u64, obs: &Observation<'_>) {
    let t = at(now);
    if std::hint::black_box(b.admit(cfg, t)).0 == Admission::Allow {
        let _ = std::hint::black_box(b.observe(cfg, t, std::hint::black_box(obs)));
    }
}

/// The argument that makes `perf-report` run [`admit_observe_loop`].
pub const LOOP_ARG: &str = "--breaker-admit-observe-loop";

/// The workloads of the `admit_observe_*` figures, by name.
pub const WORKLOADS: [&str; 3] = ["monitoring", "monitoring_5_types_in_turn", "throttle"];

/// `n` steps of a [`WORKLOADS`] workload (after building its agent), as
/// the wall-clock figures time them: run under callgrind by [`figures`].
pub fn admit_observe_loop(workload: &str, n: u64) {
    let cfg = config();
    match workload {
        "monitoring" => {
            let (mut b, mut now) = monitoring(&cfg);
            for _ in 0..n {
                now += 30_000;
                step(&mut b, &cfg, now);
            }
        }
        "monitoring_5_types_in_turn" => {
            let (mut b, mut now) = monitoring_5_types(&cfg);
            for i in 0..n {
                now += 30_000;
                step_with(&mut b, &cfg, now, &TYPES[(i % 5) as usize]);
            }
        }
        "throttle" => {
            let (mut b, mut now) = throttled(&cfg);
            for _ in 0..n {
                now += 500;
                step(&mut b, &cfg, now);
            }
        }
        other => panic!("unknown breaker workload `{other}`"),
    }
}

/// The `breaker` area of `perf-report`.
pub fn figures() -> BTreeMap<String, f64> {
    use crate::timing::{median_ns_interleaved, round3};
    let cfg = config();
    let mut out = BTreeMap::new();
    let (m, mut now_m) = monitoring(&cfg);
    let (m5, mut now_5) = monitoring_5_types(&cfg);
    let (t, mut now_t) = throttled(&cfg);
    // On the heap, as a host keeping many agents would hold them.
    let (mut m, mut m5, mut t) = (Box::new(m), Box::new(m5), Box::new(t));
    let mut mon = || {
        now_m += 30_000;
        step(&mut m, &cfg, now_m);
    };
    let mut k = 0usize;
    let mut mon5 = || {
        now_5 += 30_000;
        k = (k + 1) % 5;
        step_with(&mut m5, &cfg, now_5, &TYPES[k]);
    };
    let mut thr = || {
        now_t += 500;
        step(&mut t, &cfg, now_t);
    };
    let ns = median_ns_interleaved(41, 20_000, &mut [&mut mon, &mut mon5, &mut thr]);
    out.insert("admit_observe_ns_median_monitoring".into(), round3(ns[0]));
    out.insert(
        "admit_observe_ns_median_monitoring_5_types_in_turn".into(),
        round3(ns[1]),
    );
    out.insert("admit_observe_ns_median_throttle".into(), round3(ns[2]));
    // Instructions per step (callgrind; machine load does not move them).
    for w in WORKLOADS {
        if let Some(ir) = crate::callgrind::instructions_per_iteration(&[LOOP_ARG, w], 200_000) {
            out.insert(format!("admit_observe_instructions_{w}"), round3(ir));
        }
    }
    out.insert(
        "state_bytes_in_memory".into(),
        std::mem::size_of::<Breaker>() as f64,
    );
    out.insert(
        "state_bytes_serialised_json".into(),
        serde_json::to_string(&*m).unwrap().len() as f64,
    );
    out.insert("state_bytes_binary".into(), m.to_bytes().len() as f64);
    // The largest state: every known-type slot used.
    let full_cfg = BreakerConfig::builder()
        .max_known_types(48)
        .build()
        .unwrap();
    let mut full = Breaker::new(at(0));
    for i in 0..100u64 {
        let ty = format!("type.{i}");
        let o = Observation {
            action_type: &ty,
            ..OBS
        };
        let _ = full.observe(&full_cfg, at(i * 1000), &o);
    }
    out.insert(
        "state_bytes_binary_max".into(),
        full.to_bytes().len() as f64,
    );
    out.insert(
        "state_bytes_serialised_json_max".into(),
        serde_json::to_string(&full).unwrap().len() as f64,
    );
    scenario_figures(&mut out);
    out
}

/// The quality table (`testdata/breaker`), flattened: per scenario, the
/// highest state after calibration as a level (0 CALIBRATING, 1 MONITORING,
/// 2 WARN, 3 THROTTLE, 4 HALT, 5 KILLED), the percentage of attempts
/// throttled or denied, the most transitions in a UTC day, and for attacks
/// and drift the attempts and minutes to the first WARN / THROTTLE / HALT
/// (worst over seeds; absent when some seed never got there).
pub fn scenario_figures(out: &mut BTreeMap<String, f64>) {
    use al_breaker::scenarios::{Scenario, evaluate};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/breaker");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for f in files {
        let s: Scenario = serde_saphyr::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let r = evaluate(&s);
        let level = [
            State::Calibrating,
            State::Monitoring,
            State::Warn,
            State::Throttle,
            State::Halt,
            State::Killed,
        ]
        .iter()
        .position(|x| *x == r.max_state)
        .unwrap_or(0);
        let key = |what: &str| format!("scenario_{}_{what}", r.name);
        out.insert(key("highest_state_level_after_calibration"), level as f64);
        out.insert(key("throttled_or_denied_pct"), round2(r.refused_pct));
        out.insert(
            key("max_transitions_per_utc_day"),
            f64::from(r.max_transitions_per_day),
        );
        out.insert(key("targets_failed"), r.failures.len() as f64);
        for (i, st) in ["warn", "throttle", "halt"].iter().enumerate() {
            if let Some((n, ms)) = r.first[i] {
                out.insert(key(&format!("attempts_to_{st}")), n as f64);
                out.insert(
                    key(&format!("minutes_to_{st}")),
                    round2(ms as f64 / 60_000.0),
                );
            }
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
