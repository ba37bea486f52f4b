//! Policy workloads: manifests of N policies and requests that hit an
//! exact policy, a prefix policy, the `*` policy, or nothing.

use std::collections::BTreeMap;

use al_policy::{ActionRequest, Agent, Format, Limits, Manifest, PolicySet, Timestamp};

use crate::timing::{median_ms, median_ns_interleaved, round3};

/// Policy counts measured.
pub const SIZES: [usize; 6] = [1, 10, 100, 1_000, 10_000, 100_000];

/// What a request hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    Exact,
    Prefix,
    Star,
    Miss,
}

impl Hit {
    pub const ALL: [Hit; 4] = [Hit::Exact, Hit::Prefix, Hit::Star, Hit::Miss];
    pub fn name(self) -> &'static str {
        match self {
            Hit::Exact => "exact",
            Hit::Prefix => "prefix",
            Hit::Star => "star",
            Hit::Miss => "miss",
        }
    }
}

const CONDITIONS: [&str; 10] = [
    "{field: pr_size, operator: lt, value: 100}",
    "{field: repo.owner, operator: in, value: [acme, globex, initech]}",
    "{field: \"@data.max_sensitivity\", operator: lte, value: medium}",
    "{field: branch, operator: starts_with, value: \"release/\"}",
    "{field: \"@data.count\", operator: lte, value: 1000}",
    "{field: env, operator: ne, value: prod}",
    "{field: \"@time.hour\", operator: gte, value: 0}",
    "{field: title, operator: contains, value: fix}",
    "{field: reviewer, operator: exists}",
    "{field: \"@data.types\", operator: not_in, value: [pii, phi]}",
];

fn conds(k: usize) -> String {
    format!("[{}]", CONDITIONS[..k].join(", "))
}

/// A YAML manifest of exactly `n` policies (n >= 1). The target policies
/// (`hit.exact.op`, `hit.prefix.*`, and `*` when `star`) carry `k`
/// conditions; the rest are fillers spread over exact and prefix patterns.
pub fn manifest_yaml(n: usize, k: usize, star: bool) -> String {
    let mut s = String::with_capacity(n * 96);
    s.push_str("version: 1\npolicies:\n");
    let mut targets = vec![format!(
        "  - {{name: t-exact, action_type: hit.exact.op, effect: allow, conditions: {}}}\n",
        conds(k)
    )];
    targets.push(format!(
        "  - {{name: t-prefix, action_type: hit.prefix.*, effect: allow, conditions: {}}}\n",
        conds(k)
    ));
    if star {
        targets.push(format!(
            "  - {{name: t-star, action_type: \"*\", effect: allow, conditions: {}}}\n",
            conds(k)
        ));
    }
    let mut count = 0;
    for t in targets.into_iter().take(n) {
        s.push_str(&t);
        count += 1;
    }
    let mut i = 0;
    while count < n {
        let line = match i % 3 {
            0 => format!(
                "  - {{name: f{i}, action_type: svc{}.op{}, effect: allow}}\n",
                i / 7,
                i % 7
            ),
            1 => format!(
                "  - {{name: f{i}, action_type: grp{}.*, effect: deny}}\n",
                i
            ),
            _ => format!(
                "  - {{name: f{i}, action_type: app{}.x.y, effect: require_approval, conditions: [{{field: a, operator: eq, value: 1}}]}}\n",
                i
            ),
        };
        s.push_str(&line);
        i += 1;
        count += 1;
    }
    s
}

/// The JSON form of the same manifest.
pub fn manifest_json(n: usize, k: usize, star: bool) -> String {
    al_policy::Manifest::parse_auto(&manifest_yaml(n, k, star))
        .unwrap()
        .to_json(Default::default())
        .unwrap()
}

/// A request that satisfies every condition of the targets.
pub fn request(hit: Hit) -> ActionRequest {
    let at = match hit {
        Hit::Exact => "hit.exact.op",
        Hit::Prefix => "hit.prefix.deep.op",
        Hit::Star | Hit::Miss => "nothing.matches.here",
    };
    let body = format!(
        r#"{{"action_type": "{at}", "metadata": {{"pr_size": 42, "repo": {{"owner": "acme"}}, "branch": "release/7",
            "env": "staging", "title": "hotfix: flaky test", "reviewer": "ana"}},
            "data_accessed": [{{"type": "source_code", "count": 5, "sensitivity": "low"}}]}}"#
    );
    let now = Timestamp::parse_rfc3339("2026-11-28T12:00:00Z").unwrap();
    ActionRequest::from_json(&body, now, &Limits::default()).unwrap()
}

pub const AGENT: Agent<'static> = Agent {
    id: "agt_bench",
    name: "bench",
};

fn label(n: usize) -> String {
    match n {
        1_000 => "1k".into(),
        10_000 => "10k".into(),
        100_000 => "100k".into(),
        n => n.to_string(),
    }
}

/// The `policy` area of `perf-report`.
pub fn figures() -> BTreeMap<String, f64> {
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
        // The same document on one line, as tools write it: reading must
        // stay linear (locations through one line index).
        let minified =
            serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&json).unwrap())
                .unwrap();
        out.insert(
            format!("parse_compile_json_minified_ms_{l}_policies"),
            round3(median_ms(runs, || {
                PolicySet::compile(&Manifest::parse(&minified, Format::Json).unwrap())
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
    out.insert(
        "parse_compile_json_minified_vs_pretty_ratio_10k".into(),
        round3(
            out["parse_compile_json_minified_ms_10k_policies"]
                / out["parse_compile_json_ms_10k_policies"],
        ),
    );
    if let Some(ir) = eval_instructions() {
        out.insert("eval_instructions_exact_3c".into(), round3(ir));
    }
    out
}

/// The argument that makes `perf-report` run [`eval_loop`] instead.
pub const EVAL_LOOP_ARG: &str = "--policy-eval-loop";

/// Decide an exact-hit request against 10k policies (3 conditions on the
/// target) `n` times. Run under callgrind by [`eval_instructions`].
pub fn eval_loop(n: u64) {
    let set = PolicySet::compile(
        &Manifest::parse(&manifest_json(10_000, 3, true), Format::Json).unwrap(),
    );
    let req = request(Hit::Exact);
    for _ in 0..n {
        let _ = std::hint::black_box(set.evaluate(std::hint::black_box(&req), &AGENT));
    }
}

/// Instructions per `evaluate` (exact hit, 3 conditions, 10k policies),
/// counted by callgrind: this binary runs [`eval_loop`] with `N` and with
/// 0 iterations, and the difference of their instruction totals divided
/// by `N` is the figure. Instruction counts do not move with machine load.
/// `None` when valgrind is not installed.
pub fn eval_instructions() -> Option<f64> {
    crate::callgrind::instructions_per_iteration(&[EVAL_LOOP_ARG], 200_000)
}
