//! Test harnesses (feature `fuzzing`, not part of the stable API): operation
//! sequences run against the breaker with every invariant checked after
//! every step, shared by the model-based property test and the
//! `breaker_ops` fuzz target; and config deserialisation for the
//! `breaker_config` fuzz target. A broken invariant panics.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use crate::{ActionOutcome, Breaker, BreakerConfig, Reason};

mod model;

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
    /// Operator: accept the drift.
    AcceptDrift,
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
                13 => {
                    if b % 4 == 0 {
                        Op::AcceptDrift
                    } else if b % 4 == 1 {
                        Op::Tick(i64::from(d) * 3_600_000)
                    } else {
                        Op::Complete
                    }
                }
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
        .min_dwell_ms(10 * 60_000)
        .deescalation_interval_ms(30 * 60_000)
        .quiet_actions(8)
        .idle_quiet_ms(20 * 60_000)
        .slot_min_windows(5)
        .slot_min_actions(5)
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
    run_checked_reasons(cfg, ops).0
}

/// [`run_checked_with`], also returning the reason of every transition, so
/// a test can show which paths a corpus reaches.
#[must_use]
pub fn run_checked_reasons(cfg: &BreakerConfig, ops: &[Op]) -> (String, Vec<Reason>) {
    let mut m = model::Model::new(cfg);
    for op in ops {
        m.step(op);
    }
    (snapshot(&m.b), m.reasons)
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
