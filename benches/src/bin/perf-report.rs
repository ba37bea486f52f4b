//! Prints the headline figures as one JSON object keyed by area.
//! Run: `cargo run --release -p al-benches --bin perf-report`.

use std::collections::BTreeMap;

use al_benches::policy::{AGENT, Hit, SIZES, manifest_json, manifest_yaml, request};
use al_benches::timing::{median_ms, median_ns_interleaved, round3};
use al_policy::{Format, Manifest, PolicySet};

fn label(n: usize) -> String {
    match n {
        1_000 => "1k".into(),
        10_000 => "10k".into(),
        100_000 => "100k".into(),
        n => n.to_string(),
    }
}

fn policy_figures() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    // Evaluation: for each (conditions, hit) every size is measured in the
    // same interleaved rounds, so size ratios are not skewed by noise.
    let manifests: Vec<(usize, usize, bool, Manifest)> = SIZES
        .iter()
        .flat_map(|&n| {
            [0, 3, 10]
                .into_iter()
                .flat_map(move |k| [false, true].map(move |star| (n, k, star)))
        })
        .map(|(n, k, star)| {
            (
                n,
                k,
                star,
                Manifest::parse(&manifest_json(n, k, star), Format::Json).unwrap(),
            )
        })
        .collect();
    for k in [0, 3, 10] {
        for hit in Hit::ALL {
            let star = hit == Hit::Star;
            let sets: Vec<PolicySet> = manifests
                .iter()
                .filter(|m| m.1 == k && m.2 == star)
                .map(|m| PolicySet::compile(&m.3))
                .collect();
            let req = request(hit);
            let mut closures: Vec<Box<dyn FnMut()>> = sets
                .iter()
                .map(|set| {
                    let req = &req;
                    Box::new(move || {
                        let _ =
                            std::hint::black_box(set.evaluate(std::hint::black_box(req), &AGENT));
                    }) as Box<dyn FnMut()>
                })
                .collect();
            let mut refs: Vec<&mut dyn FnMut()> = closures
                .iter_mut()
                .map(|b| b.as_mut() as &mut dyn FnMut())
                .collect();
            let ns = median_ns_interleaved(41, 3000, &mut refs);
            for (&n, ns) in SIZES.iter().zip(ns) {
                let l = label(n);
                out.insert(
                    format!("eval_ns_median_{}_{k}c_{l}", hit.name()),
                    round3(ns),
                );
                if hit == Hit::Exact && k == 3 {
                    out.insert(format!("eval_ns_median_{l}_policies"), round3(ns));
                }
            }
        }
    }
    drop(manifests);
    for &n in &SIZES {
        let l = label(n);
        let runs = if n >= 100_000 {
            3
        } else if n >= 10_000 {
            5
        } else {
            11
        };
        let yaml = manifest_yaml(n, 3, true);
        let json = manifest_json(n, 3, true);
        let m = Manifest::parse(&yaml, Format::Yaml).unwrap();
        out.insert(
            format!("parse_yaml_ms_{l}_policies"),
            round3(median_ms(runs, || {
                Manifest::parse(&yaml, Format::Yaml).unwrap()
            })),
        );
        out.insert(
            format!("parse_json_ms_{l}_policies"),
            round3(median_ms(runs, || {
                Manifest::parse(&json, Format::Json).unwrap()
            })),
        );
        out.insert(
            format!("compile_ms_{l}_policies"),
            round3(median_ms(runs, || PolicySet::compile(&m))),
        );
        out.insert(
            format!("parse_compile_yaml_ms_{l}_policies"),
            round3(median_ms(runs, || {
                PolicySet::compile(&Manifest::parse(&yaml, Format::Yaml).unwrap())
            })),
        );
        out.insert(
            format!("baseline_saphyr_to_json_value_ms_{l}_policies"),
            round3(median_ms(runs, || {
                let mut o = serde_saphyr::Options::default();
                o.budget = None;
                serde_saphyr::from_str_with_options::<serde_json::Value>(&yaml, o).unwrap()
            })),
        );
        out.insert(
            format!("parse_compile_json_ms_{l}_policies"),
            round3(median_ms(runs, || {
                PolicySet::compile(&Manifest::parse(&json, Format::Json).unwrap())
            })),
        );
    }
    let ratio = |k: &str| {
        out.get(&format!("eval_ns_median_{k}_3c_100k")).unwrap()
            / out.get(&format!("eval_ns_median_{k}_3c_10")).unwrap()
    };
    let worst = Hit::ALL.iter().map(|h| ratio(h.name())).fold(0.0, f64::max);
    out.insert(
        "eval_100k_vs_10_ratio_exact_3c".into(),
        round3(ratio("exact")),
    );
    out.insert("eval_100k_vs_10_ratio_worst_3c".into(), round3(worst));
    let max3 = out
        .iter()
        .filter(|(k, _)| k.contains("_3c_"))
        .map(|(_, v)| *v)
        .fold(0.0, f64::max);
    out.insert("eval_ns_median_max_3c_any_size".into(), max3);
    out
}

fn main() {
    let mut report: BTreeMap<&str, BTreeMap<String, f64>> = BTreeMap::new();
    let only = std::env::args().nth(1);
    let want = |area: &str| only.as_deref().is_none_or(|o| o == area);
    // Areas that allocate little first; the audit area builds a 1M-entry log last.
    if want("breaker") {
        report.insert("breaker", al_benches::breaker::figures());
    }
    if want("policy") {
        report.insert("policy", policy_figures());
    }
    if want("audit") {
        report.insert("audit", al_benches::audit::figures());
    }
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
