//! Operation sequences with invariant checks, shared by the property test
//! and the `breaker_ops` fuzz target. Not part of the stable API.
#![allow(clippy::panic)]

use crate::{Admission, Breaker, BreakerConfig, Effects, Observation, Reason, State};

/// One call on the breaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Advance the clock (may be negative: the clock regressing).
    Tick(i64),
    /// `admit` then `observe` an action.
    Act {
        /// Which of a few action types.
        kind: u8,
        /// Denied?
        denied: bool,
        /// Records touched.
        data: u32,
        /// Created a delegation?
        delegation: bool,
        /// Reported as failed?
        failed: bool,
    },
    /// `poll`.
    Poll,
    /// Jump past a quiet period and poll.
    Quiet,
    /// Operator commands.
    Halt,
    /// Resume.
    Resume,
    /// Kill.
    Kill,
    /// Complete calibration.
    Complete,
    /// Recalibrate.
    Recalibrate,
}

/// Decode fuzz bytes into operations.
#[must_use]
pub fn decode(data: &[u8]) -> Vec<Op> {
    data.chunks(3)
        .map(|c| {
            let a = c.first().copied().unwrap_or(0);
            let b = c.get(1).copied().unwrap_or(0);
            let d = c.get(2).copied().unwrap_or(0);
            match a % 16 {
                0..=5 => Op::Act {
                    kind: b % 8,
                    denied: d & 1 == 1,
                    data: u32::from(b) * u32::from(d),
                    delegation: d & 2 == 2,
                    failed: d & 4 == 4,
                },
                6..=8 => Op::Tick(i64::from(b) * 1000 * i64::from(d % 8 + 1)),
                9 => Op::Tick(-i64::from(b) * 100),
                10 => Op::Poll,
                11 => Op::Quiet,
                12 => {
                    if b % 2 == 0 {
                        Op::Halt
                    } else {
                        Op::Resume
                    }
                }
                13 => Op::Complete,
                14 => Op::Recalibrate,
                _ => {
                    if b == 255 {
                        Op::Kill
                    } else {
                        Op::Tick(60_000)
                    }
                }
            }
        })
        .collect()
}

const TYPES: [&str; 8] = [
    "pr.merge",
    "pr.open",
    "ci.run",
    "db.read",
    "email.send",
    "db.drop",
    "iam.grant",
    "x.y",
];

/// A configuration with short periods so sequences reach every state.
#[must_use]
pub fn test_config() -> BreakerConfig {
    BreakerConfig::builder()
        .calibration_min_actions(20)
        .calibration_min_duration_ms(10 * 60_000)
        .quiet_period_ms(5 * 60_000)
        .build()
        .unwrap_or_default()
}

/// Run `ops` from a fresh breaker, checking every invariant after every
/// step; returns the final serialised state. Panics on a broken invariant.
#[must_use]
pub fn run_checked(ops: &[Op]) -> String {
    let cfg = test_config();
    let mut now: u64 = 1_000_000;
    let mut b = Breaker::new(now);
    // (time, score) of recent observations, for the de-escalation invariant.
    let mut scores: Vec<(u64, u8)> = Vec::new();
    // Sustained anomalies never de-escalate: checked against the
    // observations made before each transition.
    let check = |fx: &Effects, scores: &[(u64, u8)]| {
        for t in fx.transitions() {
            assert_eq!(t.enforcement, matches!(t.to, State::Halt | State::Killed));
            if t.reason == Reason::QuietPeriod {
                let level = if t.from == State::Throttle {
                    cfg.throttle_score()
                } else {
                    cfg.warn_score()
                };
                let hot = level.saturating_sub(cfg.hysteresis());
                let recent = scores.iter().any(|&(at, sc)| {
                    sc >= hot && t.at_ms.saturating_sub(at) < cfg.quiet_period_ms()
                });
                assert!(
                    !recent,
                    "de-escalated at {} with a hot observation within the quiet period",
                    t.at_ms
                );
            }
        }
    };
    let mut latest = now;
    for op in ops {
        latest = latest.max(now);
        let before = b.state();
        let mut effects: Vec<Effects> = Vec::new();
        let mut cmd_ok = true;
        match op {
            Op::Tick(d) => now = now.saturating_add_signed(*d),
            Op::Act {
                kind,
                denied,
                data,
                delegation,
                failed,
            } => {
                let (adm, fx) = b.admit(&cfg, now);
                check(&fx, &scores);
                match b.state() {
                    State::Calibrating | State::Monitoring | State::Warn => {
                        assert_eq!(
                            adm,
                            Admission::Allow,
                            "only THROTTLE, HALT and KILLED restrict"
                        )
                    }
                    State::Halt | State::Killed => assert_eq!(adm, Admission::Denied(b.state())),
                    State::Throttle => {}
                }
                let hour = u8::try_from((now / 3_600_000) % 24).unwrap_or(0);
                let obs = Observation {
                    action_type: TYPES.get(usize::from(*kind) % 8).copied().unwrap_or("x"),
                    denied: *denied,
                    data_count: u64::from(*data),
                    hour_utc: hour,
                    delegation_created: *delegation,
                    outcome: failed.then_some(crate::ActionOutcome::Failure),
                };
                let st = b.state();
                let fx = b.observe(&cfg, now, &obs);
                // The observation's own escalation and de-escalation come after it is scored.
                if !matches!(st, State::Calibrating | State::Killed | State::Halt) {
                    scores.push((now, fx.score));
                }
                check(&fx, &scores);
            }
            Op::Poll => effects.push(b.poll(&cfg, now)),
            Op::Quiet => {
                // From the latest time the breaker has seen (the test clock may have regressed).
                now = latest.saturating_add(cfg.quiet_period_ms() + 1);
                let fx = b.poll(&cfg, now);
                // Quiet periods always de-escalate WARN and THROTTLE.
                match before {
                    State::Warn => assert_eq!(
                        b.state(),
                        State::Monitoring,
                        "quiet period did not de-escalate WARN"
                    ),
                    State::Throttle => assert_eq!(
                        b.state(),
                        State::Warn,
                        "quiet period did not de-escalate THROTTLE"
                    ),
                    s => assert_eq!(b.state(), s),
                }
                effects.push(fx);
            }
            Op::Halt => cmd_ok = b.halt(now).map(|f| effects.push(f)).is_ok(),
            Op::Resume => cmd_ok = b.resume(now).map(|f| effects.push(f)).is_ok(),
            Op::Kill => cmd_ok = b.kill(now).map(|f| effects.push(f)).is_ok(),
            Op::Complete => cmd_ok = b.complete_calibration(now).map(|f| effects.push(f)).is_ok(),
            Op::Recalibrate => cmd_ok = b.recalibrate(now).map(|f| effects.push(f)).is_ok(),
        }
        let after = b.state();
        // KILLED is absorbing.
        if before == State::Killed {
            assert_eq!(after, State::Killed, "left KILLED via {op:?}");
            assert!(!cmd_ok || matches!(op, Op::Tick(_) | Op::Act { .. } | Op::Poll | Op::Quiet));
        }
        // HALT is left only by resume (or kill).
        if before == State::Halt && after != State::Halt {
            assert!(matches!(op, Op::Resume | Op::Kill), "left HALT via {op:?}");
        }
        // Nothing is enforced while calibrating: only operators or completion leave it.
        if before == State::Calibrating && after != State::Calibrating {
            assert!(
                after == State::Monitoring || matches!(op, Op::Halt | Op::Kill),
                "calibration enforced {after} via {op:?}"
            );
        }
        for fx in &effects {
            check(fx, &scores);
        }
    }
    serde_json::to_string(&b).unwrap_or_default()
}
