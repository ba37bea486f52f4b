//! The HTTP run of `perf-report server` alone, for profiling:
//! `cargo run --release -p al-benches --example http_profile [PER_CONN] [nosync|floor]`
//! (`floor`: the same load against a trivial axum route, no engine or storage).

fn main() {
    let per_conn: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let mode = std::env::args().nth(2);
    let r = match mode.as_deref() {
        Some("floor") => al_benches::server::http_floor_run(per_conn),
        Some("nosync") => al_benches::server::http_run(al_store::SyncMode::NoSyncUnsafe, per_conn),
        _ => al_benches::server::http_run(al_store::SyncMode::Data, per_conn),
    };
    println!(
        "{{\"actions_per_s\": {:.0}, \"p50_us\": {:.0}, \"p99_us\": {:.0}, \"non_2xx\": {}, \"server_cpu_us\": {:.1}, \"writer_cpu_us\": {:.1}, \"client_cpu_us\": {:.1}, \"server_switches\": {:.3}, \"writer_switches\": {:.3}}}",
        r.actions_per_s,
        r.p50_us,
        r.p99_us,
        r.non_2xx,
        r.server_cpu_us,
        r.writer_cpu_us,
        r.client_cpu_us,
        r.server_switches,
        r.writer_switches
    );
}
