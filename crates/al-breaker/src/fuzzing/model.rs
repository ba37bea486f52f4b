//! The model the operation runner checks the breaker against: every
//! invariant, after every step.

use std::collections::BTreeSet;

use super::{Op, TYPES, outcome, snapshot};
use crate::{
    ActionOutcome, Admission, Breaker, BreakerConfig, Effects, Observation, Reason, State,
    Timestamp,
};

/// The breaker under test and what the checks remember about its past.
pub(super) struct Model<'c> {
    cfg: &'c BreakerConfig,
    pub(super) b: Breaker,
    /// The test clock (may run backwards).
    now: i64,
    /// The latest time the breaker has been given.
    latest: i64,
    /// The de-escalation model: when the quiet stretch began (last hot
    /// score or transition) and how many scored actions since were quiet.
    quiet_since: i64,
    quiet_count: u32,
    /// Action types the breaker must know (a naive model of the set).
    known: BTreeSet<&'static str>,
    /// When the current state was entered.
    entered: i64,
    /// When the last quiet-period step down happened.
    last_step_down: Option<i64>,
    /// Times of transitions not made by an operator since the last
    /// operator command, for the bound on transitions per 24 hours.
    unforced: Vec<i64>,
    /// Every transition's reason, in order.
    pub(super) reasons: Vec<Reason>,
}

impl<'c> Model<'c> {
    pub(super) fn new(cfg: &'c BreakerConfig) -> Model<'c> {
        let now = 1_764_288_000_000; // 2025-11-28T00:00:00Z
        Model {
            cfg,
            b: Breaker::new(ts(now)),
            now,
            latest: now,
            quiet_since: now,
            quiet_count: 0,
            known: BTreeSet::new(),
            entered: now,
            last_step_down: None,
            unforced: Vec::new(),
            reasons: Vec::new(),
        }
    }

    pub(super) fn step(&mut self, op: &Op) {
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
                if !counts_same_fn(prev, now_o)
                    && !matches!(before, State::Calibrating | State::Halt | State::Killed)
                {
                    self.scored(fx.at().unix_millis(), fx.score, false);
                }
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
                    if fx.at().unix_millis() < at {
                        assert_eq!(
                            fx.transitions().count(),
                            0,
                            "poll before poll_timeout changed state"
                        );
                    }
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
            Op::Complete => {
                cmd_ok = self.command(|b, t| b.complete_calibration(cfg, t), &mut effects);
            }
            Op::AcceptDrift => {
                cmd_ok = self.command(|b, t| b.accept_drift(cfg, t), &mut effects);
                if cmd_ok {
                    assert_eq!(self.b.drift(cfg), None, "accept_drift left a drift");
                    assert_ne!(self.b.state(), State::Warn, "accept_drift left WARN");
                }
            }
            Op::Recalibrate => {
                cmd_ok = self.command(|b, t| b.recalibrate(t), &mut effects);
                if cmd_ok {
                    self.known.clear();
                    // Recalibration forgets the step-down history too.
                    self.last_step_down = None;
                    assert_eq!(self.b.drift(cfg), None, "recalibrate left a drift");
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
                self.check_quiet(&fx);
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
        // The breaker keeps a memo of the last action type and whether it is
        // known (not serialised): a twin restored from the serialised state,
        // so with an empty memo, must observe exactly the same.
        let mut twin = Breaker::from_bytes(&self.b.to_bytes()).expect("state restores");
        let fx = self.b.observe(cfg, t, &obs);
        assert_eq!(
            twin.observe(cfg, t, &obs),
            fx,
            "a restored breaker observed `{action_type}` differently"
        );
        assert_eq!(twin, self.b, "a restored breaker learned differently");
        if !matches!(st, State::Calibrating | State::Killed | State::Halt) {
            self.scored(fx.at().unix_millis(), fx.score, true);
        }
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
        if st == State::Calibrating {
            assert!(
                fx.anomalies()
                    .all(|a| a.confidence == crate::Confidence::Low),
                "calibration reports with low confidence"
            );
        }
        effects.push(fx);
    }

    /// A score the breaker settles on: hot ones restart the quiet stretch,
    /// quiet actions count.
    fn scored(&mut self, at: i64, score: u8, action: bool) {
        let cfg = self.cfg;
        if score.saturating_add(cfg.hysteresis()) >= cfg.warn_score() {
            self.quiet_since = at;
            self.quiet_count = 0;
        } else if action {
            self.quiet_count = self.quiet_count.saturating_add(1);
        }
    }

    /// Sustained anomalies never de-escalate: a quiet-period step down comes
    /// a quiet period after the last hot score (within `hysteresis` of
    /// `warn_score`) or transition, and after `quiet_actions` quiet actions
    /// or `idle_quiet_ms`. Every transition restarts the quiet stretch.
    fn check_quiet(&mut self, fx: &Effects) {
        let cfg = self.cfg;
        let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for t in fx.transitions() {
            let at = t.at.unix_millis();
            if t.reason == Reason::QuietPeriod {
                let quiet = at - self.quiet_since;
                assert!(
                    quiet >= ms(cfg.quiet_period_ms()),
                    "de-escalated at {at}, {quiet} ms after a hot score"
                );
                assert!(
                    self.quiet_count >= cfg.quiet_actions() || quiet >= ms(cfg.idle_quiet_ms()),
                    "de-escalated after {} quiet actions and {quiet} ms",
                    self.quiet_count
                );
                assert!(t.to < t.from);
            }
            self.quiet_since = at;
            self.quiet_count = 0;
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
        let cfg = self.cfg;
        for fx in effects {
            for t in fx.transitions() {
                assert_eq!(t.from, state, "transitions chain");
                assert_ne!(t.from, t.to);
                state = t.to;
                assert_eq!(t.enforcement, matches!(t.to, State::Halt | State::Killed));
                self.reasons.push(t.reason);
                let at = t.at.unix_millis();
                if t.reason == Reason::Anomaly(crate::Signal::BaselineDrift) {
                    assert!(
                        fx.drift().is_some(),
                        "a drift transition without its explanation"
                    );
                }
                if t.reason == Reason::QuietPeriod {
                    // Minimum dwell, and the interval between step downs.
                    let dwell = i64::try_from(cfg.min_dwell_ms()).unwrap_or(i64::MAX);
                    assert!(
                        at - self.entered >= dwell,
                        "stepped down {} ms after entering {}",
                        at - self.entered,
                        t.from
                    );
                    if let Some(prev) = self.last_step_down {
                        let gap = i64::try_from(cfg.deescalation_interval_ms()).unwrap_or(i64::MAX);
                        assert!(at - prev >= gap, "two step downs {} ms apart", at - prev);
                    }
                    self.last_step_down = Some(at);
                }
                if is_command(op) {
                    self.unforced.clear();
                } else {
                    // At most 1 (calibration) + 3 + 2k unforced transitions in
                    // any 24 hours, k = ceil(24 h / deescalation interval).
                    self.unforced.push(at);
                    let day = 86_400_000i64;
                    let gap = i64::try_from(cfg.deescalation_interval_ms())
                        .unwrap_or(i64::MAX)
                        .max(1);
                    let k = (day + gap - 1) / gap;
                    let in_day = self.unforced.iter().filter(|&&u| at - u < day).count();
                    let bound = usize::try_from(4 + 2 * k).unwrap_or(usize::MAX);
                    assert!(
                        in_day <= bound,
                        "{in_day} transitions within 24 hours, bound {bound}"
                    );
                }
                self.entered = at;
            }
            if fx.drift().is_some() {
                assert!(
                    fx.anomalies()
                        .any(|a| a.signal == crate::Signal::BaselineDrift)
                        || cfg.drift_severity() < cfg.report_severity()
                );
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

fn counts_same_fn(prev: Option<ActionOutcome>, now: ActionOutcome) -> bool {
    (prev == Some(ActionOutcome::Failure)) == (now == ActionOutcome::Failure)
}

fn is_command(op: &Op) -> bool {
    matches!(
        op,
        Op::Halt | Op::Resume | Op::Kill | Op::Complete | Op::Recalibrate | Op::AcceptDrift
    )
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}
