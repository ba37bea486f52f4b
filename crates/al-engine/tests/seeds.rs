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
