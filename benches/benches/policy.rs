#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Duration;

use al_benches::policy::{AGENT, Hit, SIZES, manifest_yaml, request};
use al_policy::{Format, Manifest, PolicySet};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn eval(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy_eval");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for &n in &SIZES {
        for k in [0, 3, 10] {
            for hit in Hit::ALL {
                let star = hit == Hit::Star;
                let set = PolicySet::from_text(&manifest_yaml(n, k, star)).unwrap();
                let req = request(hit);
                g.bench_with_input(
                    BenchmarkId::new(format!("{}_{k}c", hit.name()), n),
                    &n,
                    |b, _| b.iter(|| black_box(set.evaluate(black_box(&req), &AGENT))),
                );
            }
        }
    }
    g.finish();
}

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy_compile");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for &n in &SIZES[..5] {
        let text = manifest_yaml(n, 3, true);
        let m = Manifest::parse(&text, Format::Yaml).unwrap();
        g.bench_with_input(BenchmarkId::new("parse_yaml", n), &n, |b, _| {
            b.iter(|| Manifest::parse(black_box(&text), Format::Yaml).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("compile", n), &n, |b, _| {
            b.iter(|| PolicySet::compile(black_box(&m)))
        });
    }
    g.finish();
}

criterion_group!(benches, eval, compile);
criterion_main!(benches);
