//! Model-based property test: random operation sequences, every invariant
//! checked after every step (see `al_breaker::fuzzing`), including the
//! replay guarantees: a throttled `admit` and an empty `poll` leave the
//! state byte-identical, and identical call sequences give byte-identical
//! state.

use std::path::{Path, PathBuf};

use al_breaker::fuzzing::{Op, decode, run_checked};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0u8..8, prop::bool::weighted(0.2), prop_oneof![9 => 0u32..40, 1 => 0u32..100_000], prop::bool::weighted(0.05))
            .prop_map(|(kind, denied, data, delegation)| Op::Act { kind, denied, data, delegation }),
        2 => (0u8..4, 0u8..3).prop_map(|(previous, outcome)| Op::Report { previous, outcome }),
        1 => Just(Op::AcceptDrift),
        1 => (1i64..48).prop_map(|h| Op::Tick(h * 3_600_000)),
        6 => (0i64..120_000).prop_map(Op::Tick),
        1 => (-60_000i64..0).prop_map(Op::Tick),
        1 => Just(Op::Tick(3_600_000)),
        2 => Just(Op::Poll),
        2 => Just(Op::Quiet),
        2 => Just(Op::PollAtTimeout),
        1 => Just(Op::Halt),
        1 => Just(Op::Resume),
        1 => Just(Op::Complete),
        1 => Just(Op::Recalibrate),
        1 => Just(Op::Kill),
    ]
}

fn burst() -> impl Strategy<Value = Vec<Op>> {
    // A calm stretch long enough to calibrate, then anything.
    let calm = (0..60)
        .flat_map(|i| {
            [
                Op::Tick(15_000),
                Op::Act {
                    kind: (i % 4) as u8,
                    denied: false,
                    data: 10,
                    delegation: false,
                },
            ]
        })
        .collect::<Vec<_>>();
    prop::collection::vec(op(), 0..300).prop_map(move |rest| {
        let mut v = calm.clone();
        v.extend(rest);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_runs_are_deterministic(ops in burst()) {
        let a = run_checked(&ops);
        let b = run_checked(&ops);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = run_checked(&decode(&data));
    }
}

/// The model test reaches every path it checks: each transition reason,
/// including drift, its acceptance and quiet-period steps past the dwell.
#[test]
fn random_sequences_reach_every_reason() {
    use al_breaker::fuzzing::{run_checked_reasons, test_config};
    use al_breaker::{Reason, Signal};
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let ops = burst().new_tree(&mut runner).unwrap().current();
        for r in run_checked_reasons(&test_config(), &ops).1 {
            seen.insert(format!("{r:?}"));
        }
    }
    for want in [
        Reason::CalibrationComplete,
        Reason::OperatorCompletedCalibration,
        Reason::QuietPeriod,
        Reason::OperatorHalt,
        Reason::OperatorResume,
        Reason::OperatorKill,
        Reason::OperatorRecalibrate,
        Reason::OperatorAcceptedDrift,
        Reason::Anomaly(Signal::FrequencySpike),
        Reason::Anomaly(Signal::UnseenActionType),
        Reason::Anomaly(Signal::BulkDataAccess),
        Reason::Anomaly(Signal::OffHours),
        Reason::Anomaly(Signal::BaselineDrift),
    ] {
        assert!(
            seen.contains(&format!("{want:?}")),
            "never reached {want:?}; saw {seen:?}"
        );
    }
}

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every file in `dir`, sorted. A missing directory fails the test: a
/// regression corpus that silently disappears would stop being replayed.
fn inputs(dir: &Path) -> Vec<Vec<u8>> {
    let rd = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{} must exist: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

#[test]
fn fuzz_seeds_and_regressions_replay() {
    for target in ["breaker_ops", "breaker_config"] {
        let seeds = inputs(&fuzz_dir().join("seeds").join(target));
        assert!(!seeds.is_empty(), "no {target} seeds");
        let regressions = inputs(&fuzz_dir().join("regressions").join(target));
        for data in seeds.iter().chain(&regressions) {
            match target {
                "breaker_ops" => {
                    let _ = run_checked(&decode(data));
                }
                _ => al_breaker::fuzzing::config(data),
            }
        }
    }
}
