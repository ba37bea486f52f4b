//! Profiling aid: admit + observe in MONITORING, N times (default 20M).
//! `valgrind --tool=callgrind target/release/examples/breaker_profile 1000000`
//! counts instructions, which do not depend on machine noise (subtract a
//! run with argument 0 for the set-up).
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000_000);
    let cfg = al_benches::breaker::config();
    let (mut b, mut now) = al_benches::breaker::monitoring(&cfg);
    for _ in 0..n {
        now += 30_000;
        al_benches::breaker::step(&mut b, &cfg, now);
    }
}
