//! Replays the checked-in fuzz seed corpora and crash regressions on stable.
//! Both directories must exist for every policy target: a missing one
//! fails the test instead of silently replaying nothing.

use al_policy::Format;

fn replay(target: &str, f: impl Fn(&[u8])) -> usize {
    let root = crate::workspace_root().join("fuzz");
    let mut n = 0;
    for dir in [
        root.join("seeds").join(target),
        root.join("regressions").join(target),
    ] {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{} must exist: {e}", dir.display()));
        let mut in_dir = 0;
        for e in entries {
            let path = e.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            f(&data);
            in_dir += 1;
        }
        assert!(in_dir > 0, "{} is empty", dir.display());
        n += in_dir;
    }
    n
}

#[test]
fn fuzz_seeds_replay() {
    replay("manifest_yaml", |d| {
        al_policy::fuzzing::manifest(d, Format::Yaml);
    });
    replay("manifest_json", |d| {
        al_policy::fuzzing::manifest(d, Format::Json);
    });
    replay("evaluate", al_policy::fuzzing::evaluate);
    replay("action_request", al_policy::fuzzing::action_request);
}
