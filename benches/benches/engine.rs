#![allow(missing_docs)]

use std::time::Duration;

use al_audit_chain::AuditLog;
use al_benches::engine::{AGENTS, ORG, Workload, act, breaker_config, event_ids};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// Actions per measured batch; each batch starts from the warmed-up org.
const BATCH: usize = 2 * AGENTS;

fn bench(c: &mut Criterion) {
    let w = Workload::new();
    let ids = event_ids(BATCH);
    let cfg = breaker_config();
    let mut g = c.benchmark_group("engine");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .throughput(criterion::Throughput::Elements(BATCH as u64));
    g.bench_function("governed_action_end_to_end", |b| {
        b.iter_batched_ref(
            || w.engine.clone(),
            |e| {
                for i in 0..BATCH {
                    act(e, &w, &ids, i);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("evaluate_alone", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                w.evaluate(i);
            }
        })
    });
    g.bench_function("append_alone", |b| {
        b.iter_batched_ref(
            || AuditLog::new(ORG),
            |log| {
                for i in 0..BATCH {
                    w.append(log, i);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("admit_observe_alone", |b| {
        b.iter_batched_ref(
            || w.breakers.clone(),
            |bs| {
                for i in 0..BATCH {
                    w.admit_observe(&cfg, bs, i);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
