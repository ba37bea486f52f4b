//! The `engine_ops` fuzz target's seeds and minimised crashes, replayed on
//! stable with every check of the harness.

use crate::common::root;

#[test]
fn fuzz_seeds_replay() {
    let mut n = 0;
    for dir in ["fuzz/seeds/engine_ops", "fuzz/regressions/engine_ops"] {
        let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let data = &bytes[..bytes.len().min(1024)];
            let h = al_engine::fuzzing::run_checked(&al_engine::fuzzing::decode(data));
            assert!(h.ok > 0, "{}", f.display());
            n += 1;
        }
    }
    assert!(n >= 7, "only {n} engine_ops inputs");
}

/// The `simulate_log` target's seeds and minimised crashes, replayed with
/// every check of the harness; each seed reaches the simulator (a report
/// with re-decided actions).
#[test]
fn simulate_log_seeds_replay() {
    let mut seeds = 0;
    for dir in ["fuzz/seeds/simulate_log", "fuzz/regressions/simulate_log"] {
        let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        files.sort();
        for f in files {
            let r = al_engine::fuzzing::simulate_log(&std::fs::read(&f).unwrap());
            if dir.contains("seeds") {
                let r = r.unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                assert!(r.totals.simulated > 0, "{}: {}", f.display(), r.to_json());
                seeds += 1;
            }
        }
    }
    assert!(seeds >= 5, "only {seeds} simulate_log seeds");
}

/// A regression kept by hand (found by review, not by the fuzzer): a
/// delegation that names itself as its parent delegation once made the
/// re-decision of its child's actions loop forever; it is refused.
#[test]
fn a_self_parent_delegation_is_an_invalid_record() {
    use al_types::ErrorCode as _;
    let f = root().join("fuzz/regressions/simulate_log/self-parent-delegation.jsonl");
    let e = al_engine::fuzzing::simulate_log(&std::fs::read(f).unwrap()).unwrap_err();
    assert_eq!((e.code(), e.row()), ("INVALID_RECORD", 2), "{e}");
    assert!(e.to_string().contains("delegator's own delegation"), "{e}");
}
