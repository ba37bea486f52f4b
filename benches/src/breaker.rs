//! Breaker workloads: a calibrated agent in MONITORING and one in THROTTLE.

use al_breaker::{Breaker, BreakerConfig, Observation, State};

pub const OBS: Observation<'static> = Observation {
    action_type: "pr.merge",
    denied: false,
    data_count: 10,
    hour_utc: 12,
    delegation_created: false,
    outcome: None,
};

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
    let mut b = Breaker::new(0);
    let mut now = 0;
    for _ in 0..240 {
        now += 30_000;
        let _ = b.admit(cfg, now);
        let _ = b.observe(cfg, now, &OBS);
    }
    assert_eq!(b.state(), State::Monitoring);
    (b, now)
}

/// A calibrated agent pushed into THROTTLE by a runaway loop.
pub fn throttled(cfg: &BreakerConfig) -> (Breaker, u64) {
    let (mut b, mut now) = monitoring(cfg);
    while b.state() != State::Throttle {
        now += 500;
        let _ = b.observe(cfg, now, &OBS);
    }
    (b, now)
}
