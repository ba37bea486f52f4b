//! Replays the checked-in fuzz seed corpora and crash regressions on stable.

use al_policy::Format;

fn replay(target: &str, f: impl Fn(&[u8])) -> usize {
    let root = crate::workspace_root().join("fuzz");
    let mut n = 0;
    for dir in [
        root.join("seeds").join(target),
        root.join("regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            f(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn fuzz_seeds_replay() {
    assert!(
        replay("manifest_yaml", |d| al_policy::fuzzing::manifest(
            d,
            Format::Yaml
        )) > 0
    );
    assert!(
        replay("manifest_json", |d| al_policy::fuzzing::manifest(
            d,
            Format::Json
        )) > 0
    );
    assert!(replay("evaluate", al_policy::fuzzing::evaluate) > 0);
}
