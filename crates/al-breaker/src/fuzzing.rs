//! Test harnesses (feature `fuzzing`, not part of the stable API): operation
//! sequences run against the breaker with every invariant checked after
//! every step, shared by the model-based property test and the
//! `breaker_ops` fuzz target; and config deserialisation for the
//! `breaker_config` fuzz target. A broken invariant panics.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use crate::{
    ActionOutcome, Admission, Breaker, BreakerConfig, Effects, Observation, Reason, State,
    Timestamp,
};

/// One call on the breaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Advance the clock by this many ms (negative: the clock regresses).
    Tick(i64),
    /// `admit`, then `observe` if admitted.
    Act {
        /// Which of a few action types.
        kind: u8,
        /// Refused by policy?
        denied: bool,
        /// Records touched.
        data: u32,
        /// Created a delegation?
        delegation: bool,
    },
    /// `report_outcome` for an earlier action: `previous` and `outcome` are
    /// 0 = none/success, 1 = failure, 2 = partial (`previous` 3 = none).
    Report {
        /// The outcome reported before.
        previous: u8,
        /// The new outcome.
        outcome: u8,
    },
    /// `poll` now.
    Poll,
    /// Jump to `poll_timeout` and check it is exact.
    PollAtTimeout,
    /// Jump past a quiet period and poll.
    Quiet,
    /// Operator: halt.
    Halt,
    /// Operator: resume.
    Resume,
    /// Operator: kill.
    Kill,
    /// Operator: complete calibration.
    Complete,
    /// Operator: recalibrate.
    Recalibrate,
}

fn outcome(code: u8) -> Option<ActionOutcome> {
    match code % 4 {
        0 => Some(ActionOutcome::Success),
        1 => Some(ActionOutcome::Failure),
        2 => Some(ActionOutcome::Partial),
        _ => None,
    }
}

/// Decode fuzz bytes into operations (3 bytes each).
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
                },
                6 | 7 => Op::Tick(i64::from(b) * 1000 * i64::from(d % 8 + 1)),
                8 => Op::Report {
                    previous: b,
                    outcome: d,
                },
                9 => Op::Tick(-i64::from(b) * 100),
                10 => Op::Poll,
                11 => {
                    if b % 2 == 0 {
                        Op::Quiet
                    } else {
                        Op::PollAtTimeout
                    }
                }
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

fn snapshot(b: &Breaker) -> String {
    serde_json::to_string(b).expect("state serialises")
}

/// Run `ops` from a fresh breaker with [`test_config`]; see [`run_checked_with`].
#[must_use]
pub fn run_checked(ops: &[Op]) -> String {
    run_checked_with(&test_config(), ops)
}

/// Run `ops` from a fresh breaker, checking every invariant after every
/// step; returns the final serialised state. Panics on a broken invariant.
#[must_use]
pub fn run_checked_with(cfg: &BreakerConfig, ops: &[Op]) -> String {
    let mut m = Model::new(cfg);
    for op in ops {
        m.step(op);
    }
    snapshot(&m.b)
}

/// The breaker under test and what the checks remember about its past.
struct Model<'c> {
    cfg: &'c BreakerConfig,
    b: Breaker,
    /// The test clock (may run backwards).
    now: i64,
    /// The latest time the breaker has been given.
    latest: i64,
    /// (time, score) of scored observations outside calibration, for the
    /// de-escalation invariant.
    scores: Vec<(i64, u8)>,
    /// Action types the breaker must know (a naive model of the set).
    known: BTreeSet<&'static str>,
}

impl<'c> Model<'c> {
    fn new(cfg: &'c BreakerConfig) -> Model<'c> {
        let now = 1_764_288_000_000; // 2025-11-28T00:00:00Z
        Model {
            cfg,
            b: Breaker::new(ts(now)),
            now,
            latest: now,
            scores: Vec::new(),
            known: BTreeSet::new(),
        }
    }

    fn step(&mut self, op: &Op) {
        let cfg = self.cfg;
        let before = self.b.state();
        let mut effects: Vec<Effects> = Vec::new();
        let mut cmd_ok = true;
        match op {
            Op::Tick(d) => {
                self.now = self.now.saturating_add(*d).clamp(
                    Timestamp::MIN.unix_millis(),
                    Timestamp::MAX.unix_millis() - 400 * 86_400_000,
                );
            }
            Op::Act {
                kind,
                denied,
                data,
                delegation,
            } => self.act(*kind, *denied, *data, *delegation, &mut effects),
            Op::Report {
                previous,
                outcome: o,
            } => {
                let prev = if *previous % 4 == 3 {
                    None
                } else {
                    outcome(*previous)
                };
                let now_o = outcome(*o).unwrap_or(ActionOutcome::Success);
                let snap = snapshot(&self.b);
                let t = self.t();
                let fx = self.b.report_outcome(cfg, t, prev, now_o);
                self.check_quiet(&fx);
                let counts_same =
                    (prev == Some(ActionOutcome::Failure)) == (now_o == ActionOutcome::Failure);
                if counts_same || before == State::Killed {
                    assert!(
                        fx.is_empty(),
                        "an outcome that counts the same changed nothing"
                    );
                    assert_eq!(
                        snap,
                        snapshot(&self.b),
                        "report changed nothing, yet the state moved"
                    );
                }
                if before == State::Calibrating {
                    assert_eq!(
                        fx.transitions().count(),
                        0,
                        "calibration enforced an outcome"
                    );
                }
                effects.push(fx);
            }
            Op::Poll => {
                let t = self.t().unix_millis();
                effects.push(self.poll(t));
            }
            Op::PollAtTimeout => {
                if let Some(at) = self.b.poll_timeout(cfg) {
                    let at = at.unix_millis();
                    // Exact: nothing a millisecond before, a step down at it.
                    let mut early = self.b.clone();
                    let fx = early.poll(cfg, ts(at - 1));
                    assert_eq!(
                        fx.transitions().count(),
                        0,
                        "poll before poll_timeout changed state"
                    );
                    self.now = at.max(self.now);
                    let fx = self.poll(at);
                    assert_eq!(
                        fx.transitions().count(),
                        1,
                        "poll at poll_timeout {at} did nothing in {before}"
                    );
                    effects.push(fx);
                } else {
                    assert!(
                        !matches!(before, State::Warn | State::Throttle),
                        "{before} without a poll_timeout"
                    );
                }
            }
            Op::Quiet => {
                // From the latest time the breaker has seen (the test clock may have regressed).
                self.now = self
                    .latest
                    .saturating_add(i64::try_from(cfg.quiet_period_ms()).unwrap_or(0) + 1);
                let due = self
                    .b
                    .poll_timeout(cfg)
                    .is_some_and(|d| d.unix_millis() <= self.now);
                let t = self.now;
                let fx = self.poll(t);
                let stepped = fx.transitions().count() == 1;
                assert_eq!(
                    stepped, due,
                    "poll after a quiet period: due {due}, stepped {stepped}"
                );
                if stepped {
                    let want = if before == State::Throttle {
                        State::Warn
                    } else {
                        State::Monitoring
                    };
                    assert_eq!(
                        self.b.state(),
                        want,
                        "quiet period stepped {before} wrongly"
                    );
                }
                effects.push(fx);
            }
            Op::Halt => cmd_ok = self.command(|b, t| b.halt(t), &mut effects),
            Op::Resume => cmd_ok = self.command(|b, t| b.resume(t), &mut effects),
            Op::Kill => cmd_ok = self.command(|b, t| b.kill(t), &mut effects),
            Op::Complete => cmd_ok = self.command(|b, t| b.complete_calibration(t), &mut effects),
            Op::Recalibrate => {
                cmd_ok = self.command(|b, t| b.recalibrate(t), &mut effects);
                if cmd_ok {
                    self.known.clear();
                }
            }
        }
        self.check_step(op, before, cmd_ok, &effects);
    }

    fn t(&mut self) -> Timestamp {
        self.latest = self.latest.max(self.now);
        ts(self.now)
    }

    fn poll(&mut self, at: i64) -> Effects {
        let snap = snapshot(&self.b);
        let fx = self.b.poll(self.cfg, ts(at));
        self.check_quiet(&fx);
        self.latest = self.latest.max(at);
        if fx.transitions().count() == 0 {
            assert_eq!(
                snap,
                snapshot(&self.b),
                "a poll without effects changed the state"
            );
        }
        fx
    }

    fn command(
        &mut self,
        f: impl FnOnce(&mut Breaker, Timestamp) -> Result<Effects, crate::BreakerError>,
        effects: &mut Vec<Effects>,
    ) -> bool {
        let snap = snapshot(&self.b);
        let t = self.t();
        match f(&mut self.b, t) {
            Ok(fx) => {
                effects.push(fx);
                true
            }
            Err(_) => {
                assert_eq!(
                    snap,
                    snapshot(&self.b),
                    "a refused command changed the state"
                );
                false
            }
        }
    }

    fn act(
        &mut self,
        kind: u8,
        denied: bool,
        data: u32,
        delegation: bool,
        effects: &mut Vec<Effects>,
    ) {
        let cfg = self.cfg;
        let t = self.t();
        let snap = snapshot(&self.b);
        let (adm, fx) = self.b.admit(cfg, t);
        let st = self.b.state();
        match st {
            State::Calibrating | State::Monitoring | State::Warn => {
                assert_eq!(
                    adm,
                    Admission::Allow,
                    "only THROTTLE, HALT and KILLED restrict"
                );
            }
            State::Halt | State::Killed => assert_eq!(adm, Admission::Denied(st)),
            State::Throttle => {}
        }
        self.check_quiet(&fx);
        if let Admission::Throttled { retry_after_ms } = adm {
            assert!(retry_after_ms > 0);
            assert_eq!(fx.transitions().count(), 0);
            assert_eq!(
                snap,
                snapshot(&self.b),
                "a throttled admit changed the state"
            );
        }
        effects.push(fx);
        if adm != Admission::Allow {
            return;
        }
        let action_type = TYPES
            .get(usize::from(kind) % TYPES.len())
            .copied()
            .unwrap_or("x");
        let obs = Observation {
            action_type,
            denied,
            data_count: u64::from(data),
            delegation_created: delegation,
        };
        let fx = self.b.observe(cfg, t, &obs);
        self.check_quiet(&fx);
        // The model of the known-types set: every type while calibrating,
        // afterwards allowed ones in MONITORING and WARN; bounded.
        let learns =
            st == State::Calibrating || (matches!(st, State::Monitoring | State::Warn) && !denied);
        if learns && self.known.len() < usize::from(cfg.max_known_types()) {
            self.known.insert(action_type);
        }
        for k in &self.known {
            assert!(self.b.knows_type(k), "forgot `{k}`");
        }
        let n_known = TYPES.iter().filter(|k| self.b.knows_type(k)).count();
        assert_eq!(
            n_known,
            self.known.len(),
            "knows a type it was never taught"
        );
        if !matches!(st, State::Calibrating | State::Killed | State::Halt) {
            self.scores.push((fx.at().unix_millis(), fx.score));
        }
        if st == State::Calibrating {
            assert!(
                fx.anomalies()
                    .all(|a| a.confidence == crate::Confidence::Low),
                "calibration reports with low confidence"
            );
        }
        effects.push(fx);
    }

    /// Sustained anomalies never de-escalate: a quiet-period step down has
    /// no hot score (for the level it leaves) within the quiet period before
    /// it. Checked right after each call, before its own score is recorded.
    fn check_quiet(&self, fx: &Effects) {
        let cfg = self.cfg;
        for t in fx.transitions() {
            if t.reason == Reason::QuietPeriod {
                let level = if t.from == State::Throttle {
                    cfg.throttle_score()
                } else {
                    cfg.warn_score()
                };
                let hot = level.saturating_sub(cfg.hysteresis());
                let quiet = i64::try_from(cfg.quiet_period_ms()).unwrap_or(i64::MAX);
                let at = t.at.unix_millis();
                let recent = self
                    .scores
                    .iter()
                    .any(|&(s_at, sc)| sc >= hot && at.saturating_sub(s_at) < quiet);
                assert!(
                    !recent,
                    "de-escalated at {at} with a hot score within the quiet period"
                );
                assert!(t.to < t.from);
            }
        }
    }

    fn check_step(&mut self, op: &Op, before: State, cmd_ok: bool, effects: &[Effects]) {
        let after = self.b.state();
        // KILLED is absorbing.
        if before == State::Killed {
            assert_eq!(after, State::Killed, "left KILLED via {op:?}");
            assert!(
                !cmd_ok || !is_command(op),
                "{op:?} accepted on a killed agent"
            );
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
        let mut state = before;
        for fx in effects {
            for t in fx.transitions() {
                assert_eq!(t.from, state, "transitions chain");
                assert_ne!(t.from, t.to);
                state = t.to;
                assert_eq!(t.enforcement, matches!(t.to, State::Halt | State::Killed));
            }
        }
        assert_eq!(state, after, "the transitions reported explain the state");
        // The state survives serialisation unchanged.
        let s = snapshot(&self.b);
        let back: Breaker = serde_json::from_str(&s).expect("state deserialises");
        assert_eq!(back, self.b);
        assert_eq!(snapshot(&back), s);
    }
}

fn is_command(op: &Op) -> bool {
    matches!(
        op,
        Op::Halt | Op::Resume | Op::Kill | Op::Complete | Op::Recalibrate
    )
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The `breaker_config` fuzz target: the first byte picks JSON (even) or
/// YAML (odd), the rest is the text. A config that deserialises must
/// round-trip and must drive a breaker through an operation sequence
/// (decoded from the same bytes) without panicking or breaking an
/// invariant; one that does not must say why.
pub fn config(data: &[u8]) {
    let Some((&fmt, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let parsed: Result<BreakerConfig, String> = if fmt % 2 == 0 {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    };
    match parsed {
        Ok(cfg) => {
            let json = serde_json::to_string(&cfg).expect("config serialises");
            let back: BreakerConfig = serde_json::from_str(&json).expect("a valid config re-reads");
            assert_eq!(back, cfg);
            let _ = run_checked_with(&cfg, &decode(rest));
        }
        Err(msg) => assert!(!msg.is_empty()),
    }
}
