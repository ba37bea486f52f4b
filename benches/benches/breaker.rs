#![allow(missing_docs)]

use std::time::Duration;

use al_benches::breaker::{
    TYPES, config, monitoring, monitoring_5_types, step, step_with, throttled,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let cfg = config();
    let mut g = c.benchmark_group("breaker");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let (mut b, mut now) = monitoring(&cfg);
    g.bench_function("admit_observe_monitoring", |bn| {
        bn.iter(|| {
            now += 30_000;
            step(&mut b, &cfg, now);
        })
    });
    let (mut b, mut now) = monitoring_5_types(&cfg);
    let mut k = 0usize;
    g.bench_function("admit_observe_monitoring_5_types_in_turn", |bn| {
        bn.iter(|| {
            now += 30_000;
            k = (k + 1) % 5;
            step_with(&mut b, &cfg, now, &TYPES[k]);
        })
    });
    let (mut b, mut now) = throttled(&cfg);
    g.bench_function("admit_observe_throttle", |bn| {
        bn.iter(|| {
            now += 500;
            step(&mut b, &cfg, now);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
