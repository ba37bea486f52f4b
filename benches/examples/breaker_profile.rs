//! Profiling aid: admit + observe in MONITORING, 20M times.
fn main() {
    let cfg = al_benches::breaker::config();
    let (mut b, mut now) = al_benches::breaker::monitoring(&cfg);
    for _ in 0..20_000_000u64 {
        now += 30_000;
        let _ = std::hint::black_box(b.admit(&cfg, now));
        let _ = std::hint::black_box(b.observe(
            &cfg,
            now,
            std::hint::black_box(&al_benches::breaker::OBS),
        ));
    }
}
