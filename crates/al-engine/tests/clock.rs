//! Simulated clock: things that happen by themselves happen at exact
//! instants, once, and `poll_timeout` names those instants.

use al_engine::{ActionStatus, AuditQuery, BreakerCommand, EventType};
use al_types::ErrorCode;

use crate::common::{Fx, MIN};

fn events(f: &Fx, ty: EventType) -> usize {
    f.events.iter().filter(|e| e.event_type == ty).count()
}

#[test]
fn approval_escalates_then_times_out_at_exact_instants() {
    let mut f = Fx::new();
    let (_, bot) = f.register("release-bot");
    let a = f
        .act(&bot, r#"{"action_type": "deploy.prod"}"#, None)
        .unwrap();
    let apr = a.result.approval_id.unwrap();
    let requested = f.now;
    // escalate_after 2h, timeout 8h (the test manifest).
    let esc = requested.saturating_add_millis(2 * 3_600_000);
    let out = requested.saturating_add_millis(8 * 3_600_000);
    assert_eq!(a.result.timeout_at, Some(out));
    assert_eq!(f.e.poll_timeout(), Some(esc));
    let status = |f: &Fx| {
        f.read(|e, now| e.approval_status(now, &bot, &apr))
            .unwrap()
            .status
            .as_str()
    };
    f.now = esc.saturating_add_millis(-1);
    assert!(f.timers().is_empty(), "nothing is due a millisecond early");
    assert_eq!(status(&f), "pending");
    f.now = esc;
    let fx = f.timers();
    assert_eq!(fx.entries.len(), 1);
    assert_eq!(status(&f), "escalated");
    assert_eq!(f.e.poll_timeout(), Some(out));
    assert!(f.timers().is_empty(), "escalation is written once");
    // Reads see the timeout at `now` even before the timer writes it.
    f.now = out;
    assert_eq!(status(&f), "timed_out");
    let svc = f.svc.clone();
    let e = f
        .run(|e, now, _| {
            e.decide_approval(
                now,
                &svc,
                &apr,
                r#"{"decision": "approve", "reviewer": "late"}"#,
            )
        })
        .unwrap_err();
    assert_eq!(e.code(), "APPROVAL_NOT_PENDING");
    let fx = f.timers();
    assert_eq!(fx.entries.len(), 1);
    let ev = &fx.events[0];
    assert_eq!(ev.event_type, EventType::ActionDenied);
    assert_eq!(ev.timestamp, out, "written at its deadline");
    assert_eq!(f.e.poll_timeout(), None);
    assert_eq!(status(&f), "timed_out");
    f.assert_restores();
}

#[test]
fn a_late_host_writes_timers_at_their_deadlines_in_order() {
    let mut f = Fx::new();
    let (_, bot) = f.register("release-bot");
    f.act(&bot, r#"{"action_type": "deploy.prod"}"#, None)
        .unwrap();
    let start = f.now;
    // The host sleeps through both deadlines.
    f.tick(24 * 3_600_000);
    let fx = f.timers();
    let kinds: Vec<_> = fx
        .events
        .iter()
        .map(|e| (e.event_type, e.timestamp))
        .collect();
    assert_eq!(
        kinds,
        vec![(
            EventType::ActionDenied,
            start.saturating_add_millis(8 * 3_600_000)
        )]
    );
    assert_eq!(fx.entries.len(), 2, "escalated, then timed out");
    f.assert_restores();
}

#[test]
fn delegation_expiry_is_recorded_and_emitted_once() {
    let mut f = Fx::new();
    let (_, parent) = f.register("orchestrator");
    let d = f
        .run(|e, now, rng| {
            e.create_delegation(
                now,
                &parent,
                r#"{"name": "c", "capabilities": ["db.*"], "ttl_seconds": 90}"#,
                rng,
            )
        })
        .unwrap();
    let child = d.child_api_key.expose().to_owned();
    let g = f
        .run(|e, now, rng| {
            e.create_delegation(
                now,
                &child,
                r#"{"name": "g", "capabilities": ["db.read"], "ttl_seconds": 300}"#,
                rng,
            )
        })
        .unwrap();
    assert_eq!(g.expires_at, d.expires_at, "never outlives its parent");
    assert_eq!(f.e.poll_timeout(), Some(d.expires_at));
    f.now = d.expires_at.saturating_add_millis(-1);
    assert!(f.timers().is_empty());
    let ok = f
        .act(&child, r#"{"action_type": "db.read"}"#, None)
        .unwrap();
    assert_eq!(ok.result.status, ActionStatus::Executed);
    f.now = d.expires_at;
    // Inactive at `now` even before the timer runs.
    let e = f
        .act(&child, r#"{"action_type": "db.read"}"#, None)
        .unwrap_err();
    assert_eq!(e.code(), "DELEGATION_INACTIVE");
    let fx = f.timers();
    assert_eq!(
        fx.events
            .iter()
            .filter(|e| e.event_type == EventType::DelegationExpired)
            .count(),
        2
    );
    f.tick(MIN);
    assert!(f.timers().is_empty());
    assert_eq!(
        events(&f, EventType::DelegationExpired),
        2,
        "emitted once each"
    );
    // Revoking an expired delegation is not an error and writes nothing.
    let before = f.log().len();
    let r = f
        .run(|e, now, _| e.revoke_delegation(now, &parent, &d.delegation_id))
        .unwrap();
    assert!(r.revoked);
    assert_eq!(f.log().len(), before);
    f.assert_restores();
}

#[test]
fn calibration_completes_on_the_first_action_after_both_minimums() {
    // The test config: 20 actions and 10 minutes.
    let mut f = Fx::new();
    let (id, bot) = f.register("bot");
    let started = f.now;
    for _ in 0..20 {
        f.tick(10_000);
        f.act(&bot, r#"{"action_type": "ci.run"}"#, None).unwrap();
    }
    let s = f.read(|e, now| e.agent_status(now, &bot)).unwrap();
    assert_eq!(
        s.cb_state.as_str(),
        "CALIBRATING",
        "20 actions, but only 200 s"
    );
    assert_eq!(s.calibration.progress_percent, 33);
    f.now = started.saturating_add_millis(10 * MIN);
    f.act(&bot, r#"{"action_type": "ci.run"}"#, None).unwrap();
    let s = f.read(|e, now| e.agent_status(now, &bot)).unwrap();
    assert_eq!(s.cb_state.as_str(), "MONITORING");
    assert_eq!(s.since, started.saturating_add_millis(10 * MIN));
    assert!(s.calibration.complete);
    // The transition is chained right after the action that completed it.
    let q = f
        .read(|e, _| {
            e.query_audit(
                &f.svc,
                &AuditQuery {
                    kind: Some("breaker"),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(q.events[0].fields["reason"], "calibration_complete");
    assert_eq!(q.events[0].agent_id.as_deref(), Some(id.as_str()));
    f.assert_restores();
}

#[test]
fn quiet_periods_step_down_exactly_when_poll_timeout_says() {
    let mut f = Fx::new();
    let (id, bot) = f.register("loop-bot");
    f.calibrate(&bot);
    // Run away until THROTTLE.
    let mut throttled = false;
    for _ in 0..400 {
        f.tick(500);
        let _ = f.act(&bot, r#"{"action_type": "ci.run"}"#, None);
        let s = f.read(|e, now| e.agent_status(now, &bot)).unwrap();
        if s.cb_state.as_str() == "THROTTLE" {
            throttled = true;
            break;
        }
    }
    assert!(throttled);
    let due = f.e.poll_timeout().unwrap();
    f.now = due.saturating_add_millis(-1);
    assert!(f.timers().is_empty());
    f.now = due;
    let fx = f.timers();
    assert_eq!(fx.entries.len(), 1);
    let s = f.read(|e, now| e.agent_status(now, &bot)).unwrap();
    assert_eq!(s.cb_state.as_str(), "WARN");
    let next = f.e.poll_timeout().unwrap();
    assert!(next > due);
    f.now = next;
    let _ = f.timers();
    let s = f.read(|e, now| e.agent_status(now, &bot)).unwrap();
    assert_eq!(s.cb_state.as_str(), "MONITORING");
    assert_eq!(f.e.poll_timeout(), None);
    // The timer records say so.
    let q = f
        .read(|e, _| {
            e.query_audit(
                &f.svc,
                &AuditQuery {
                    kind: Some("breaker"),
                    agent_id: Some(&id),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(q.events[0].fields["cause"], "timer");
    assert_eq!(q.events[1].fields["cause"], "timer");
    // HALT waits for an operator: no timer.
    f.operate(&id, BreakerCommand::Halt).unwrap();
    assert_eq!(f.e.poll_timeout(), None);
    f.assert_restores();
}
