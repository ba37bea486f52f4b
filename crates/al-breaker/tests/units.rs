//! Exact transitions at exact instants, with a simulated clock.

use al_breaker::{
    ActionOutcome, Admission, Breaker, BreakerConfig, CommandError, Confidence, Observation,
    Reason, Signal, State,
};

const MIN: u64 = 60_000;

fn cfg() -> BreakerConfig {
    BreakerConfig::builder()
        .calibration_min_actions(50)
        .calibration_min_duration_ms(60 * MIN)
        .build()
        .unwrap()
}

fn obs(t: &str) -> Observation<'_> {
    Observation {
        action_type: t,
        denied: false,
        data_count: 10,
        hour_utc: 12,
        delegation_created: false,
        outcome: None,
    }
}

/// Calibrated on 2 actions a minute for two hours, starting at t = 0.
fn calibrated() -> (Breaker, u64) {
    let c = cfg();
    let mut b = Breaker::new(0);
    let mut now = 0;
    let mut done_at = None;
    for i in 0..240 {
        now = i * 30_000;
        let _ = b.admit(&c, now);
        let fx = b.observe(&c, now, &obs(["a.b", "c.d"][(i % 2) as usize]));
        if fx
            .transitions()
            .any(|t| t.reason == Reason::CalibrationComplete)
        {
            done_at.get_or_insert(now);
        }
    }
    // Calibration ends at the first observation after both minimums: 60 minutes.
    assert_eq!(done_at, Some(60 * MIN));
    assert_eq!(b.state(), State::Monitoring);
    (b, now)
}

#[test]
fn calibration_progress_and_completion() {
    let c = cfg();
    let mut b = Breaker::new(0);
    assert_eq!(b.status(&c, 0).calibration_percent, 0);
    for i in 0..25 {
        let _ = b.observe(&c, i * MIN, &obs("a.b"));
    }
    // 25 of 50 actions (50 %), 24 of 60 minutes (40 %): the lesser.
    assert_eq!(b.calibration_percent(&c, 24 * MIN), 40);
    assert_eq!(b.calibration_percent(&c, 60 * MIN), 50);
    let (b, now) = calibrated();
    assert_eq!(b.status(&c, now).calibration_percent, 100);
}

#[test]
fn nothing_is_enforced_while_calibrating_but_anomalies_are_reported() {
    let c = cfg();
    let mut b = Breaker::new(0);
    for i in 0..40 {
        let _ = b.observe(&c, i * 30_000, &obs("a.b"));
    }
    let mut low = 0;
    for i in 0..500 {
        let now = 20 * MIN + i * 10;
        assert_eq!(b.admit(&c, now).0, Admission::Allow);
        let fx = b.observe(
            &c,
            now,
            &Observation {
                data_count: 1_000_000,
                ..obs("weird.type")
            },
        );
        low += fx
            .anomalies()
            .filter(|a| a.confidence == Confidence::Low)
            .count();
        assert_eq!(fx.transitions().count(), 0);
    }
    assert_eq!(b.state(), State::Calibrating);
    assert!(low > 0, "calibration reports anomalies with low confidence");
}

#[test]
fn runaway_throttles_then_quiet_periods_step_down() {
    let c = cfg();
    let (mut b, mut now) = calibrated();
    let mut throttled_at = None;
    for i in 0..100 {
        now += 1000; // 60 a minute: 30 times the baseline
        let _ = b.admit(&c, now);
        let fx = b.observe(&c, now, &obs("a.b"));
        if let Some(t) = fx.transitions().find(|t| t.to == State::Throttle) {
            assert_eq!(t.reason, Reason::Anomaly(Signal::FrequencySpike));
            throttled_at.get_or_insert(i);
        }
    }
    assert!(throttled_at.is_some_and(|i| i < 100), "{throttled_at:?}");
    assert_eq!(b.state(), State::Throttle);
    // GCRA: 1 per 60 s (half of 2/min), burst 5: hammering gets 429s with a retry-after.
    let mut allowed = 0;
    let mut retry = 0;
    for k in 0..50 {
        match b.admit(&c, now + k).0 {
            Admission::Allow => allowed += 1,
            Admission::Throttled { retry_after_ms } => retry = retry.max(retry_after_ms),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        allowed <= 6 && retry > 0,
        "allowed {allowed}, retry {retry}"
    );
    // Quiet: exactly one quiet period later THROTTLE steps to WARN, then WARN to MONITORING.
    let quiet = c.quiet_period_ms();
    // `next_timeout` names exactly the instant `poll` acts at.
    assert_eq!(b.next_timeout(&c), Some(now + quiet));
    let fx = b.poll(&c, now + quiet - 1);
    assert_eq!(fx.transitions().count(), 0);
    let fx = b.poll(&c, now + quiet);
    assert_eq!(
        fx.transitions().next().map(|t| (t.from, t.to, t.reason)),
        Some((State::Throttle, State::Warn, Reason::QuietPeriod))
    );
    assert_eq!(b.next_timeout(&c), Some(now + 2 * quiet));
    let fx = b.poll(&c, now + 2 * quiet);
    assert_eq!(
        fx.transitions().next().map(|t| t.to),
        Some(State::Monitoring)
    );
    assert_eq!(b.next_timeout(&c), None);
}

#[test]
fn halt_is_left_only_by_resume_and_kill_is_absorbing() {
    let c = cfg();
    let (mut b, now) = calibrated();
    let fx = b.halt(now).unwrap();
    let t = fx.transitions().next().unwrap();
    assert!(t.enforcement && t.to == State::Halt);
    assert_eq!(b.admit(&c, now).0, Admission::Denied(State::Halt));
    assert_eq!(b.recalibrate(now).unwrap_err().code(), "INVALID_STATE");
    assert_eq!(
        b.poll(&c, now + 365 * 86_400_000).transitions().count(),
        0,
        "time alone never leaves HALT"
    );
    let fx = b.resume(now + 1).unwrap();
    let t = fx.transitions().next().expect("resume emits a transition");
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::Halt, State::Monitoring, Reason::OperatorResume)
    );
    assert!(!t.enforcement);
    assert_eq!(
        b.resume(now + 2).unwrap_err(),
        CommandError::InvalidState {
            command: "resume",
            state: State::Monitoring
        }
    );
    let fx = b.kill(now + 3).unwrap();
    assert!(fx.transitions().next().unwrap().enforcement);
    assert_eq!(b.admit(&c, now + 4).0, Admission::Denied(State::Killed));
    assert_eq!(b.resume(now + 5).unwrap_err(), CommandError::Killed);
    assert_eq!(b.observe(&c, now + 6, &obs("a.b")).transitions().count(), 0);
    assert_eq!(b.state(), State::Killed);
}

#[test]
fn clock_regression_is_clamped_not_a_panic() {
    let c = cfg();
    let mut b = Breaker::new(1_000_000);
    let fx = b.observe(&c, 500, &obs("a.b"));
    assert!(fx.clock_regressed);
    assert_eq!(b.status(&c, 0).since_ms, 1_000_000);
}

#[test]
fn state_is_small_and_serialises() {
    let (b, _) = calibrated();
    let json = serde_json::to_string(&b).unwrap();
    assert!(
        json.len() <= 2048,
        "serialised state is {} bytes",
        json.len()
    );
    assert!(
        std::mem::size_of::<Breaker>() <= 2048,
        "in memory {} bytes",
        std::mem::size_of::<Breaker>()
    );
    let back: Breaker = serde_json::from_str(&json).unwrap();
    assert_eq!(back, b);
}

#[test]
fn steady_path_makes_zero_allocations() {
    let c = cfg();
    let (mut b, mut now) = calibrated();
    let info = allocation_counter::measure(|| {
        for i in 0..1000 {
            now += 30_000;
            let _ = b.admit(&c, now);
            let _ = b.observe(&c, now, &obs(["a.b", "c.d"][i % 2]));
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    // And in THROTTLE.
    let (mut b, mut now) = calibrated();
    for _ in 0..100 {
        now += 500;
        let _ = b.observe(&c, now, &obs("a.b"));
    }
    assert_eq!(b.state(), State::Throttle);
    let info = allocation_counter::measure(|| {
        for _ in 0..1000 {
            now += 500;
            let _ = b.admit(&c, now);
            let _ = b.observe(&c, now, &obs("a.b"));
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
}

#[test]
fn config_builder_validates() {
    assert!(BreakerConfig::builder().warn_score(80).build().is_err());
    assert!(
        BreakerConfig::builder()
            .throttle_fraction(0.0)
            .build()
            .is_err()
    );
    assert_eq!(
        BreakerConfig::builder()
            .window_ms(10)
            .build()
            .unwrap_err()
            .code(),
        "INVALID_CONFIG"
    );
    assert!(BreakerConfig::builder().build().is_ok());
}

#[test]
fn failed_outcomes_count_as_refusals() {
    let c = cfg();
    let (mut b, mut now) = calibrated();
    let mut reason = None;
    for _ in 0..30 {
        now += 30_000;
        let fx = b.observe(
            &c,
            now,
            &Observation {
                outcome: Some(ActionOutcome::Failure),
                ..obs("a.b")
            },
        );
        if let Some(t) = fx.transitions().next() {
            reason.get_or_insert(t.reason);
        }
    }
    assert_eq!(reason, Some(Reason::Anomaly(Signal::RisingDenials)));
    assert!(b.state() >= State::Warn);
}
