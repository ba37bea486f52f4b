//! The model-based property test: random sequences of every operation
//! (several orgs, agents, delegations, approvals, clock jumps), checked
//! after every step by `al_engine::fuzzing` (invariants, the naive model,
//! restore == live, snapshot + tail == full replay).

use al_engine::fuzzing::{Op, decode, run_checked};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_every_invariant(bytes in proptest::collection::vec(any::<u8>(), 0..480)) {
        let _ = run_checked(&decode(&bytes));
    }
}

/// A scripted sequence through every operation, so the model test is not
/// only as good as random luck: two orgs, a calibrated agent pushed into
/// THROTTLE, delegations two deep, approvals decided and timed out,
/// replays, outcomes, imports, kills, clock jumps and timers.
#[test]
fn a_scripted_tour_of_every_operation() {
    let mut ops = vec![
        Op::Import {
            org: 0,
            manifest: 0,
            dry_run: false,
            prune: false,
        },
        Op::CreateOrg(1),
        Op::Register(1),
        Op::Import {
            org: 1,
            manifest: 2,
            dry_run: false,
            prune: false,
        },
        Op::Snapshot,
    ];
    // Calibrate agent 0 on ci.run, then run away.
    for _ in 0..12 {
        ops.push(Op::Tick(30));
        ops.push(Op::Act {
            who: 0,
            kind: 0,
            meta: 0,
            data: 0,
            event: None,
            header: 0,
        });
    }
    ops.push(Op::Tick(300));
    for i in 0..60u8 {
        ops.push(Op::Tick(1));
        ops.push(Op::Act {
            who: 0,
            kind: 0,
            meta: 0,
            data: 0,
            event: (i % 16 == 0).then_some(i % 4),
            header: 0,
        });
    }
    ops.extend([
        Op::Act {
            who: 1,
            kind: 2,
            meta: 0,
            data: 0,
            event: Some(1),
            header: 0,
        },
        Op::Act {
            who: 1,
            kind: 2,
            meta: 0,
            data: 0,
            event: Some(1),
            header: 0,
        },
        Op::Act {
            who: 1,
            kind: 2,
            meta: 1,
            data: 0,
            event: Some(1),
            header: 0,
        },
        Op::Act {
            who: 1,
            kind: 1,
            meta: 1,
            data: 1,
            event: None,
            header: 0,
        },
        Op::Report {
            who: 1,
            target: 255,
            status: 1,
        },
        Op::Report {
            who: 1,
            target: 255,
            status: 0,
        },
        Op::Decide {
            target: 0,
            approve: true,
        },
        Op::Decide {
            target: 0,
            approve: false,
        },
        Op::Delegate {
            who: 1,
            caps: 1,
            ttl: 600,
        },
        Op::Delegate {
            who: 3,
            caps: 1,
            ttl: 60,
        },
        Op::Act {
            who: 1,
            kind: 5,
            meta: 0,
            data: 0,
            event: None,
            header: 0,
        },
        Op::Delegate {
            who: 3,
            caps: 3,
            ttl: 60,
        },
        Op::Act {
            who: 3,
            kind: 4,
            meta: 0,
            data: 2,
            event: Some(0),
            header: 1,
        },
        Op::Act {
            who: 3,
            kind: 1,
            meta: 0,
            data: 0,
            event: None,
            header: 0,
        },
        Op::Act {
            who: 4,
            kind: 0,
            meta: 0,
            data: 0,
            event: None,
            header: 2,
        },
        Op::Snapshot,
        Op::Act {
            who: 1,
            kind: 2,
            meta: 2,
            data: 0,
            event: None,
            header: 0,
        },
        Op::Tick(200),
        Op::Timers,
        Op::Tick(600),
        Op::Timers,
        Op::Act {
            who: 4,
            kind: 0,
            meta: 0,
            data: 0,
            event: None,
            header: 0,
        },
        Op::Revoke {
            who: 1,
            target: 0,
            by_service: false,
        },
        Op::Import {
            org: 0,
            manifest: 1,
            dry_run: true,
            prune: true,
        },
        Op::Import {
            org: 0,
            manifest: 1,
            dry_run: false,
            prune: true,
        },
        Op::Import {
            org: 0,
            manifest: 3,
            dry_run: false,
            prune: false,
        },
        Op::Act {
            who: 1,
            kind: 6,
            meta: 2,
            data: 0,
            event: None,
            header: 0,
        },
        Op::Operate { target: 1, cmd: 0 },
        Op::Act {
            who: 1,
            kind: 0,
            meta: 0,
            data: 0,
            event: None,
            header: 0,
        },
        Op::Operate { target: 1, cmd: 1 },
        Op::Operate { target: 1, cmd: 4 },
        Op::Operate { target: 0, cmd: 2 },
        Op::Act {
            who: 0,
            kind: 0,
            meta: 0,
            data: 0,
            event: None,
            header: 0,
        },
        Op::Operate { target: 0, cmd: 1 },
        Op::Rotate { who: 1 },
        Op::Back(120),
        Op::Act {
            who: 1,
            kind: 0,
            meta: 0,
            data: 0,
            event: None,
            header: 0,
        },
        Op::Tick(3600 * 30),
        Op::Timers,
        Op::Snapshot,
    ]);
    let h = run_checked(&ops);
    for want in [
        "executed",
        "denied",
        "requested",
        "policy_not_found",
        "RATE_LIMITED",
        "IDEMPOTENCY_CONFLICT",
        "DELEGATION_SCOPE",
        "DELEGATION_INACTIVE",
        "FORBIDDEN",
        "AGENT_KILLED",
        "AGENT_HALTED",
        "APPROVAL_NOT_PENDING",
        "MISSING_FIELD",
    ] {
        assert!(
            h.seen.contains_key(want),
            "the tour never saw {want}: {:?}",
            h.seen
        );
    }
}
