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

/// One step of the hot path: `admit`, then `observe` if admitted.
#[inline]
pub fn step(b: &mut Breaker, cfg: &BreakerConfig, now: u64) {
    let t = at(now);
    if std::hint::black_box(b.admit(cfg, t)).0 == Admission::Allow {
        let _ = std::hint::black_box(b.observe(cfg, t, std::hint::black_box(&OBS)));
    }
}

/// The `breaker` area of `perf-report`.
pub fn figures() -> BTreeMap<String, f64> {
    use crate::timing::{median_ns_interleaved, round3};
    let cfg = config();
    let mut out = BTreeMap::new();
    let (m, mut now_m) = monitoring(&cfg);
    let (t, mut now_t) = throttled(&cfg);
    // On the heap, as a host keeping many agents would hold them.
    let (mut m, mut t) = (Box::new(m), Box::new(t));
    let mut mon = || {
        now_m += 30_000;
        step(&mut m, &cfg, now_m);
    };
    let mut thr = || {
        now_t += 500;
        step(&mut t, &cfg, now_t);
    };
    let ns = median_ns_interleaved(41, 20_000, &mut [&mut mon, &mut thr]);
    out.insert("admit_observe_ns_median_monitoring".into(), round3(ns[0]));
    out.insert("admit_observe_ns_median_throttle".into(), round3(ns[1]));
    out.insert(
        "state_bytes_in_memory".into(),
        std::mem::size_of::<Breaker>() as f64,
    );
    out.insert(
        "state_bytes_serialised_json".into(),
        serde_json::to_string(&*m).unwrap().len() as f64,
    );
    out.insert("state_bytes_binary".into(), m.to_bytes().len() as f64);
    out
}
