//! Exact transitions at exact instants, with a simulated clock.

use al_breaker::{
    ActionOutcome, Admission, Breaker, BreakerConfig, BreakerError, Confidence, ErrorCode,
    Observation, Reason, Signal, State, Timestamp,
};

pub(crate) const MIN: i64 = 60_000;

/// Milliseconds after 2025-12-01T00:00:00Z (a Monday).
pub(crate) fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_764_547_200_000 + ms).unwrap()
}

pub(crate) fn cfg() -> BreakerConfig {
    BreakerConfig::builder()
        .calibration_min_actions(50)
        .calibration_min_duration_ms(60 * 60_000)
        .build()
        .unwrap()
}

pub(crate) fn obs(ty: &str) -> Observation<'_> {
    Observation {
        action_type: ty,
        denied: false,
        data_count: 10,
        delegation_created: false,
    }
}

fn json(b: &Breaker) -> String {
    serde_json::to_string(b).unwrap()
}

/// Calibrated on 2 actions a minute for two hours, starting at t = 0.
pub(crate) fn calibrated() -> (Breaker, i64) {
    let c = cfg();
    let mut b = Breaker::new(t(0));
    let mut now = 0;
    let mut done_at = None;
    for i in 0..240 {
        now = i * 30_000;
        let _ = b.admit(&c, t(now));
        let fx = b.observe(&c, t(now), &obs(["a.b", "c.d"][(i % 2) as usize]));
        if fx
            .transitions()
            .any(|tr| tr.reason == Reason::CalibrationComplete)
        {
            done_at.get_or_insert(now);
        }
    }
    // Calibration ends at the first observation after both minimums: 60 minutes.
    assert_eq!(done_at, Some(60 * MIN));
    assert_eq!(b.state(), State::Monitoring);
    (b, now)
}

/// A calibrated agent driven into THROTTLE by a runaway loop; returns the
/// index of the action that throttled it.
fn runaway() -> (Breaker, i64, usize) {
    let c = cfg();
    let (mut b, mut now) = calibrated();
    let mut throttled_at = None;
    // Run well past the bound so a late throttle is seen, not cut off.
    for i in 0..300 {
        now += 1000; // 60 a minute: 30 times the baseline
        if b.admit(&c, t(now)).0 != Admission::Allow {
            continue;
        }
        let fx = b.observe(&c, t(now), &obs("a.b"));
        if let Some(tr) = fx.transitions().find(|tr| tr.to == State::Throttle) {
            assert_eq!(tr.reason, Reason::Anomaly(Signal::FrequencySpike));
            throttled_at.get_or_insert(i);
        }
    }
    (b, now, throttled_at.expect("a runaway is throttled"))
}

#[test]
fn calibration_progress_and_completion() {
    let c = cfg();
    let mut b = Breaker::new(t(0));
    assert_eq!(b.status(&c, t(0)).calibration_percent, 0);
    for i in 0..25 {
        let _ = b.observe(&c, t(i * MIN), &obs("a.b"));
    }
    // 25 of 50 actions (50 %), 24 of 60 minutes (40 %): the lesser.
    assert_eq!(b.calibration_percent(&c, t(24 * MIN)), 40);
    assert_eq!(b.calibration_percent(&c, t(60 * MIN)), 50);
    let (b, now) = calibrated();
    assert_eq!(b.status(&c, t(now)).calibration_percent, 100);
}

#[test]
fn nothing_is_enforced_while_calibrating_but_anomalies_are_reported() {
    let c = cfg();
    let mut b = Breaker::new(t(0));
    for i in 0..40 {
        let _ = b.observe(&c, t(i * 30_000), &obs("a.b"));
    }
    let mut low = 0;
    for i in 0..500 {
        let now = t(20 * MIN + i * 10);
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
fn runaway_throttles_within_100_actions_then_quiet_periods_step_down() {
    let c = cfg();
    let (mut b, now, throttled_at) = runaway();
    assert!(throttled_at < 100, "throttled after {throttled_at} actions");
    assert_eq!(b.state(), State::Throttle);
    // GCRA: 1 per 60 s (half of 2/min), burst 5: hammering gets 429s with a retry-after.
    let mut allowed = 0;
    let mut retry = 0;
    for k in 0..50 {
        match b.admit(&c, t(now + k)).0 {
            Admission::Allow => allowed += 1,
            Admission::Throttled { retry_after_ms } => retry = retry.max(retry_after_ms),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        allowed <= 6 && retry > 0,
        "allowed {allowed}, retry {retry}"
    );
    // Quiet: exactly at poll_timeout THROTTLE steps to WARN, then WARN to MONITORING.
    let due = b.poll_timeout(&c).unwrap();
    let fx = b.poll(&c, due.saturating_add_millis(-1));
    assert_eq!(fx.transitions().count(), 0);
    let fx = b.poll(&c, due);
    assert_eq!(
        fx.transitions()
            .next()
            .map(|tr| (tr.from, tr.to, tr.reason)),
        Some((State::Throttle, State::Warn, Reason::QuietPeriod))
    );
    let due = b.poll_timeout(&c).unwrap();
    let fx = b.poll(&c, due);
    assert_eq!(
        fx.transitions().next().map(|tr| tr.to),
        Some(State::Monitoring)
    );
    assert_eq!(b.poll_timeout(&c), None);
}

#[test]
fn a_throttled_admit_and_an_empty_poll_change_nothing() {
    let c = cfg();
    let (mut b, now, _) = runaway();
    let mut throttled = 0;
    for k in 0..50 {
        let before = json(&b);
        let (adm, fx) = b.admit(&c, t(now + k));
        if matches!(adm, Admission::Throttled { .. }) {
            throttled += 1;
            assert!(fx.is_empty());
            assert_eq!(json(&b), before, "a 429 changed the breaker");
        }
    }
    assert!(throttled > 40, "{throttled}");
    let before = json(&b);
    let fx = b.poll(&c, t(now + 100));
    assert_eq!(fx.transitions().count(), 0);
    assert_eq!(json(&b), before, "an empty poll changed the breaker");
}

#[test]
fn halt_is_left_only_by_resume_and_kill_is_absorbing() {
    let c = cfg();
    let (mut b, now) = calibrated();
    let fx = b.halt(t(now)).unwrap();
    let tr = fx.transitions().next().unwrap();
    assert!(tr.enforcement && tr.to == State::Halt);
    assert_eq!(b.admit(&c, t(now)).0, Admission::Denied(State::Halt));
    assert_eq!(b.recalibrate(t(now)).unwrap_err().code(), "INVALID_STATE");
    assert_eq!(
        b.poll(&c, t(now + 365 * 86_400_000)).transitions().count(),
        0,
        "time alone never leaves HALT"
    );
    assert_eq!(b.poll_timeout(&c), None);
    let fx = b.resume(t(now + 1)).unwrap();
    let tr = fx.transitions().next().expect("resume emits a transition");
    assert_eq!(
        (tr.from, tr.to, tr.reason),
        (State::Halt, State::Monitoring, Reason::OperatorResume)
    );
    assert!(!tr.enforcement);
    assert_eq!(
        b.resume(t(now + 2)).unwrap_err(),
        BreakerError::InvalidState {
            command: "resume",
            state: State::Monitoring
        }
    );
    let fx = b.kill(t(now + 3)).unwrap();
    assert!(fx.transitions().next().unwrap().enforcement);
    assert_eq!(b.admit(&c, t(now + 4)).0, Admission::Denied(State::Killed));
    let e = b.resume(t(now + 5)).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        ("AGENT_KILLED", "the agent is killed")
    );
    assert_eq!(b.recalibrate(t(now + 5)).unwrap_err(), BreakerError::Killed);
    assert_eq!(
        b.observe(&c, t(now + 6), &obs("a.b")).transitions().count(),
        0
    );
    assert_eq!(b.state(), State::Killed);
}

#[test]
fn clock_regression_is_clamped_not_a_panic() {
    let c = cfg();
    let mut b = Breaker::new(t(1_000_000));
    let fx = b.observe(&c, t(500), &obs("a.b"));
    assert!(fx.clock_regressed);
    assert_eq!(fx.at(), t(1_000_000));
    assert_eq!(b.status(&c, t(0)).since, t(1_000_000));
}

#[test]
fn state_is_small_and_serialises() {
    let (b, _) = calibrated();
    let json = json(&b);
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
            let _ = b.admit(&c, t(now));
            let _ = b.observe(&c, t(now), &obs(["a.b", "c.d"][i % 2]));
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    // And in THROTTLE.
    let (mut b, mut now, _) = runaway();
    assert_eq!(b.state(), State::Throttle);
    let info = allocation_counter::measure(|| {
        for _ in 0..1000 {
            now += 500;
            if b.admit(&c, t(now)).0 == Admission::Allow {
                let _ = b.observe(&c, t(now), &obs("a.b"));
            }
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
}

#[test]
fn config_validates_in_the_builder_and_on_deserialisation() {
    assert!(BreakerConfig::builder().warn_score(80).build().is_err());
    assert!(
        BreakerConfig::builder()
            .throttle_fraction(0.0)
            .build()
            .is_err()
    );
    let e = BreakerConfig::builder().window_ms(10).build().unwrap_err();
    assert_eq!(e.code(), "INVALID_CONFIG");
    assert_eq!(
        e.to_string(),
        "invalid breaker config: `window_ms` must be between 1000 and 86400000, found `10`"
    );
    assert!(BreakerConfig::builder().build().is_ok());
    // A config file cannot hold what the builder refuses (it used to divide by zero).
    for bad in [
        "window_ms: 0",
        "rate_sd_floor_base: 0",
        "throttle_fraction: .nan",
        "max_idle_windows: 4000000000",
        "halt_score: 101",
    ] {
        let r: Result<BreakerConfig, _> = serde_saphyr::from_str(bad);
        assert!(r.is_err(), "{bad} was accepted");
    }
    let r: Result<BreakerConfig, _> = serde_saphyr::from_str("window_ms: 30000\nwarn_score: 35");
    let c = r.unwrap();
    assert_eq!(
        (c.window_ms(), c.warn_score(), c.halt_score()),
        (30_000, 35, 90)
    );
}

#[test]
fn failures_reported_later_count_as_refusals_and_can_be_taken_back() {
    let c = cfg();
    let (mut b, mut now) = calibrated();
    // Reports alone (the actions were observed as executed) escalate.
    let mut escalations = Vec::new();
    for k in 0..30 {
        now += 1_000;
        let fx = b.report_outcome(&c, t(now), None, ActionOutcome::Failure);
        escalations.extend(fx.transitions().map(|tr| (k, tr.to, tr.reason)));
    }
    // After k + 1 reports the share is (k + 1)/16 and the baseline, which
    // learns in MONITORING, (k + 1)/256: severity (k + 1) · 9.375 − 8.
    let why = Reason::Anomaly(Signal::RisingDenials);
    assert_eq!(
        escalations,
        [
            (5, State::Warn, why),
            (8, State::Throttle, why),
            (10, State::Halt, why)
        ]
    );
    // A success, or a success overwriting a success, changes nothing at all.
    let (mut b, now) = calibrated();
    let before = json(&b);
    let fx = b.report_outcome(&c, t(now + 2), None, ActionOutcome::Success);
    assert!(fx.is_empty());
    let fx = b.report_outcome(
        &c,
        t(now + 2),
        Some(ActionOutcome::Partial),
        ActionOutcome::Success,
    );
    assert!(fx.is_empty());
    assert_eq!(json(&b), before);
    // Overwriting failures with successes takes the refusals back.
    let (mut a, now) = calibrated();
    let mut c2 = a.clone();
    for k in 0..5 {
        let _ = a.report_outcome(&c, t(now + k), None, ActionOutcome::Failure);
        let _ = c2.report_outcome(&c, t(now + k), None, ActionOutcome::Failure);
    }
    for k in 0..5 {
        let _ = a.report_outcome(
            &c,
            t(now + 10 + k),
            Some(ActionOutcome::Failure),
            ActionOutcome::Success,
        );
    }
    let score = |b: &mut Breaker| {
        b.observe(
            &c,
            t(now + 100),
            &Observation {
                denied: false,
                ..obs("a.b")
            },
        )
        .score
    };
    assert!(score(&mut a) < score(&mut c2));
}

#[test]
fn allowed_new_types_are_learned_refused_ones_stay_unseen() {
    let c = cfg();
    let (mut b, mut now) = calibrated();
    assert!(b.knows_type("a.b") && !b.knows_type("new.tool"));
    now += 30_000;
    let fx = b.observe(&c, t(now), &obs("new.tool"));
    assert!(fx.anomalies().any(|a| a.signal == Signal::UnseenActionType));
    assert!(b.knows_type("new.tool"));
    now += 30_000;
    let fx = b.observe(&c, t(now), &obs("new.tool"));
    assert!(fx.anomalies().all(|a| a.signal != Signal::UnseenActionType));
    for _ in 0..3 {
        now += 30_000;
        let fx = b.observe(
            &c,
            t(now),
            &Observation {
                denied: true,
                ..obs("iam.grant")
            },
        );
        assert!(fx.anomalies().any(|a| a.signal == Signal::UnseenActionType));
    }
    assert!(!b.knows_type("iam.grant"));
}

#[test]
fn a_full_type_set_keeps_reporting_new_types() {
    let c = BreakerConfig::builder()
        .calibration_min_actions(50)
        .calibration_min_duration_ms(60 * 60_000)
        .max_known_types(3)
        .build()
        .unwrap();
    let mut b = Breaker::new(t(0));
    for i in 0..240 {
        let _ = b.observe(
            &c,
            t(i * 30_000),
            &obs(["a.1", "a.2", "a.3", "a.4"][(i % 4) as usize]),
        );
    }
    assert_eq!(b.status(&c, t(240 * 30_000)).known_types, 3);
    assert!(!b.knows_type("a.4"));
    let fx = b.observe(&c, t(241 * 30_000), &obs("a.4"));
    assert!(fx.anomalies().any(|a| a.signal == Signal::UnseenActionType));
}
