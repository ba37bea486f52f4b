//! Phase-two behaviour at exact instants: seasons, drift against the
//! anchor, the de-escalation rule, and the serialised state.

use al_breaker::{
    Admission, Breaker, BreakerConfig, BreakerError, ErrorCode, Observation, Reason, Signal, State,
};

use crate::units::{MIN, calibrated, cfg, obs, t};

/// A week of a trickle plus a nightly burst at 02:00: the burst at its usual
/// hour is normal afterwards; the same burst at 14:00 is a spike.
#[test]
fn a_burst_at_its_usual_hour_is_normal_and_at_another_hour_is_not() {
    let c = BreakerConfig::default();
    let mut b = Breaker::new(t(0)); // Monday 00:00
    let day = 86_400_000;
    let obs = obs("etl.load");
    // 8 days: one action every 5 minutes, and 300 in 20 minutes at 02:00.
    let run_day = |b: &mut Breaker, d: i64, burst_at_hour: i64| {
        let mut max = State::Calibrating;
        let mut times: Vec<i64> = (0..288).map(|k| d * day + k * 5 * MIN + 7_000).collect();
        times.extend((0..300).map(|k| d * day + burst_at_hour * 60 * MIN + k * 4_000));
        times.sort_unstable();
        for now in times {
            if b.admit(&c, t(now)).0 == Admission::Allow {
                let _ = b.observe(&c, t(now), &obs);
            }
            max = max.max(b.state());
        }
        max
    };
    for d in 0..8 {
        let _ = run_day(&mut b, d, 2);
    }
    assert_eq!(b.state(), State::Monitoring);
    for d in 8..15 {
        assert_eq!(
            run_day(&mut b, d, 2),
            State::Monitoring,
            "the nightly burst on day {d}"
        );
    }
    let moved = run_day(&mut b.clone(), 15, 14);
    assert!(
        moved >= State::Throttle,
        "the same burst at 14:00 reached only {moved}"
    );
}

fn drifted_agent() -> (Breaker, i64, BreakerConfig, u64) {
    let c = cfg();
    let (mut b, mut now) = calibrated();
    // Data per action growing 20 % a day: slowly enough that the seasonal
    // baselines follow (no bulk signal), so only the anchor notices.
    let mut data = 10.0f64;
    while b.state() == State::Monitoring {
        now += 30_000;
        data *= 1.000_063_3;
        let fx = b.observe(
            &c,
            t(now),
            &Observation {
                data_count: data as u64,
                ..obs(["a.b", "c.d"][(now / 30_000 % 2) as usize])
            },
        );
        if let Some(tr) = fx.transitions().next() {
            assert_eq!(tr.reason, Reason::Anomaly(Signal::BaselineDrift));
            let d = fx.drift().expect("a drift transition is explained");
            assert!(d.ratio >= c.drift_ratio());
            assert_eq!(
                d.to_string(),
                format!(
                    "data per action \u{d7}{:.1} since calibration on 2025-12-01",
                    d.ratio
                )
            );
        }
        assert!(now < 40 * 86_400_000, "no drift reported");
    }
    (b, now, c, data as u64)
}

#[test]
fn drift_against_the_anchor_is_reported_explained_and_cleared_by_accept() {
    let (mut b, now, c, data) = drifted_agent();
    assert_eq!(b.state(), State::Warn);
    let d = b.status(&c, t(now)).drift.unwrap();
    assert_eq!(
        (d.metric, d.anchor),
        (
            al_breaker::DriftMetric::DataPerAction,
            al_breaker::AnchorKind::Calibration
        )
    );
    // It holds: the baseline does not learn in WARN, so the drift stays.
    let due = b.poll_timeout(&c).unwrap();
    let _ = b.observe(
        &c,
        due,
        &Observation {
            data_count: data,
            ..obs("a.b")
        },
    );
    assert_eq!(b.state(), State::Warn);
    // An operator accepts: re-anchored, back to MONITORING, nothing left to report.
    let fx = b.accept_drift(&c, due).unwrap();
    let tr = fx.transitions().next().unwrap();
    assert_eq!(
        (tr.from, tr.to, tr.reason),
        (
            State::Warn,
            State::Monitoring,
            Reason::OperatorAcceptedDrift
        )
    );
    assert_eq!(b.drift(&c), None);
    // Or recalibrates.
    let (mut b, now, c, _) = drifted_agent();
    let _ = b.recalibrate(t(now)).unwrap();
    assert_eq!(b.drift(&c), None);
    assert_eq!(
        b.accept_drift(&c, t(now)).unwrap_err(),
        BreakerError::InvalidState {
            command: "accept_drift",
            state: State::Calibrating
        }
    );
}

#[test]
fn step_downs_wait_for_dwell_quiet_actions_and_interval() {
    let c = cfg();
    let (mut b, mut now) = calibrated();
    // A new type: WARN.
    now += 30_000;
    let fx = b.observe(&c, t(now), &obs("new.tool"));
    assert_eq!(fx.transitions().next().map(|tr| tr.to), Some(State::Warn));
    let entered = now;
    // Until 50 quiet actions, the quiet period is the idle one (4 h).
    assert_eq!(b.poll_timeout(&c), Some(t(entered + 4 * 60 * MIN)));
    // Quiet actions every 30 s: the quiet period (15 min) and 50 quiet actions
    // (25 min) pass, but the minimum dwell is an hour.
    let mut stepped = None;
    for _ in 0..200 {
        now += 30_000;
        let (_, fx) = b.admit(&c, t(now));
        if fx.transitions().next().is_some() {
            stepped = Some(now);
            break;
        }
        let _ = b.observe(&c, t(now), &obs("a.b"));
    }
    assert_eq!(stepped, Some(entered + 60 * MIN));
    // Another WARN soon after: the next step down waits 24 h after the last.
    now += 30_000;
    let _ = b.observe(&c, t(now), &obs("other.tool"));
    assert_eq!(b.state(), State::Warn);
    assert_eq!(b.poll_timeout(&c), Some(t(entered + 60 * MIN + 86_400_000)));
}

#[test]
fn an_idle_agent_steps_down_after_idle_quiet() {
    let c = cfg();
    let (mut b, mut now) = calibrated();
    now += 30_000;
    let _ = b.observe(&c, t(now), &obs("new.tool"));
    // No action at all: four hours (idle_quiet_ms), not the quiet period.
    assert_eq!(b.poll_timeout(&c), Some(t(now + 4 * 60 * MIN)));
    assert_eq!(
        b.poll(&c, t(now + 4 * 60 * MIN - 1)).transitions().count(),
        0
    );
    assert_eq!(b.poll(&c, t(now + 4 * 60 * MIN)).transitions().count(), 1);
}

#[test]
fn serialised_state_is_exact_bounded_and_validated() {
    let (b, _) = calibrated();
    let bytes = b.to_bytes();
    assert_eq!(Breaker::from_bytes(&bytes).unwrap(), b);
    // Worst case: every type slot used.
    let c = BreakerConfig::builder()
        .calibration_min_actions(50)
        .calibration_min_duration_ms(60 * 60_000)
        .max_known_types(48)
        .build()
        .unwrap();
    let mut full = Breaker::new(t(0));
    for i in 0..100 {
        let ty = format!("type.{i}");
        let _ = full.observe(&c, t(i * 1000), &obs(&ty));
    }
    assert_eq!(full.status(&c, t(0)).known_types, 48);
    let json = serde_json::to_string(&full).unwrap();
    assert_eq!(full.to_bytes().len(), 1037 + 8 * 48);
    assert!(json.len() <= 2048, "{} bytes of JSON", json.len());
    // Every truncation and a few corruptions are typed errors naming a field.
    for n in 0..bytes.len() {
        let e = Breaker::from_bytes(&bytes[..n]).unwrap_err();
        assert_eq!(e.code(), "INVALID_BREAKER_STATE");
    }
    let mut bad = bytes.clone();
    bad[1] = 9;
    assert_eq!(
        Breaker::from_bytes(&bad).unwrap_err().to_string(),
        "invalid breaker state: `state` is not a state"
    );
    let mut bad = bytes.clone();
    bad[0] = 1;
    assert!(
        Breaker::from_bytes(&bad)
            .unwrap_err()
            .to_string()
            .contains("version 1")
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Breaker::from_bytes(&longer).is_err());
    assert!(serde_json::from_str::<Breaker>("\"AAAA\"").is_err());
    assert!(serde_json::from_str::<Breaker>("\"not base64!\"").is_err());
}
