//! Probe: serde-saphyr into typed structs vs a generic value.
use serde::Deserialize;
#[derive(Deserialize)]
#[allow(dead_code)]
struct Doc {
    version: u32,
    policies: Vec<Pol>,
}
#[derive(Deserialize)]
#[allow(dead_code)]
struct Pol {
    name: serde_saphyr::Spanned<String>,
    action_type: String,
    effect: String,
    #[serde(default)]
    conditions: Vec<Cond>,
}
#[derive(Deserialize)]
#[allow(dead_code)]
struct Cond {
    field: String,
    operator: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
}
fn main() {
    let yaml = al_benches::policy::manifest_yaml(10_000, 3, true);
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let d: Doc = serde_saphyr::from_str(&yaml).unwrap();
        let typed = t.elapsed().as_secs_f64() * 1e3;
        let t = std::time::Instant::now();
        let mut o = serde_saphyr::Options::default();
        o.budget = None;
        let _v: serde_json::Value = serde_saphyr::from_str_with_options(&yaml, o).unwrap();
        let value = t.elapsed().as_secs_f64() * 1e3;
        let t = std::time::Instant::now();
        let _m = al_policy::Manifest::parse(&yaml, al_policy::Format::Yaml).unwrap();
        let ours = t.elapsed().as_secs_f64() * 1e3;
        eprintln!(
            "typed {typed:.1} ms, value {value:.1} ms, ours {ours:.1} ms ({} policies, {} bytes)",
            d.policies.len(),
            yaml.len()
        );
    }
}
