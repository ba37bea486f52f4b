#![allow(missing_docs)]

use std::time::Duration;

use al_benches::breaker::{config, monitoring, step, throttled};
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
