//! Model-based property test: random operation sequences, every invariant
//! checked after every step (see `al_breaker::fuzzing::run_checked`).

use al_breaker::fuzzing::{Op, run_checked};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0u8..8, prop::bool::weighted(0.2), prop_oneof![9 => 0u32..40, 1 => 0u32..100_000], prop::bool::weighted(0.05), prop::bool::weighted(0.1))
            .prop_map(|(kind, denied, data, delegation, failed)| Op::Act { kind, denied, data, delegation, failed }),
        6 => (0i64..120_000).prop_map(Op::Tick),
        1 => (-60_000i64..0).prop_map(Op::Tick),
        1 => Just(Op::Tick(3_600_000)),
        2 => Just(Op::Poll),
        2 => Just(Op::Quiet),
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
                    failed: false,
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
        let _ = run_checked(&al_breaker::fuzzing::decode(&data));
    }
}

#[test]
fn fuzz_seeds_replay() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in [
        root.join("seeds/breaker_ops"),
        root.join("regressions/breaker_ops"),
    ] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd {
            let _ = run_checked(&al_breaker::fuzzing::decode(
                &std::fs::read(e.unwrap().path()).unwrap(),
            ));
            n += 1;
        }
    }
    assert!(n > 0, "no breaker_ops seeds");
}
