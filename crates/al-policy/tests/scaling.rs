//! Reading is linear in the input, minified or pretty, JSON or YAML.
//!
//! No absolute wall-clock bound: each assertion compares two timings taken
//! in this test (the best of two), with generous slack. A quadratic
//! reader (the old per-location scan from the start of the line) takes
//! about 100x longer for 10x the policies on one line and fails by far.

use std::time::{Duration, Instant};

use al_policy::{Format, Manifest, PolicySet};

/// `n` policies with three conditions each, as minified JSON (one line),
/// pretty JSON and YAML.
fn manifests(n: usize) -> (String, String, String) {
    let policies: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "name": format!("p{i}"),
                "action_type": format!("svc{}.op{}", i / 7, i % 7),
                "effect": "deny",
                "conditions": [
                    {"field": "env", "operator": "eq", "value": "prod"},
                    {"field": "size", "operator": "lt", "value": i},
                    {"field": "repo.owner", "operator": "in", "value": ["a", "b"]},
                ],
            })
        })
        .collect();
    let doc = serde_json::json!({"version": 1, "policies": policies});
    let minified = serde_json::to_string(&doc).unwrap();
    let pretty = serde_json::to_string_pretty(&doc).unwrap();
    let yaml = Manifest::parse(&minified, Format::Json)
        .unwrap()
        .to_yaml(Default::default())
        .unwrap();
    (minified, pretty, yaml)
}

fn best_of_2(text: &str, format: Format) -> Duration {
    (0..2)
        .map(|_| {
            let t = Instant::now();
            let m = Manifest::parse(text, format).unwrap();
            std::hint::black_box(PolicySet::compile(&m));
            t.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn reading_scales_linearly_minified_and_pretty() {
    let (min_1k, pretty_1k, yaml_1k) = manifests(1_000);
    let (min_10k, pretty_10k, yaml_10k) = manifests(10_000);
    assert!(!min_10k.contains('\n'));
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    let t_min_10k = best_of_2(&min_10k, Format::Json);
    let t_pretty_10k = best_of_2(&pretty_10k, Format::Json);
    // Linear is 10x; allow 3x slack for caches and noise (quadratic is ~100x).
    for (what, g) in [
        (
            "minified JSON",
            ratio(t_min_10k, best_of_2(&min_1k, Format::Json)),
        ),
        (
            "pretty JSON",
            ratio(t_pretty_10k, best_of_2(&pretty_1k, Format::Json)),
        ),
        (
            "YAML",
            ratio(
                best_of_2(&yaml_10k, Format::Yaml),
                best_of_2(&yaml_1k, Format::Yaml),
            ),
        ),
    ] {
        assert!(g < 30.0, "{what}: 10x the policies took {g:.1}x the time");
    }
    // One line costs about what many lines cost.
    let one_line_vs_pretty = ratio(t_min_10k, t_pretty_10k);
    assert!(
        one_line_vs_pretty < 3.0,
        "minified took {one_line_vs_pretty:.1}x the pretty time"
    );
}
