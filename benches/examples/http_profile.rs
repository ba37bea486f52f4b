//! The HTTP run of `perf-report server` alone, for profiling:
//! `cargo run --release -p al-benches --example http_profile [PER_CONN] [nosync]`.

fn main() {
    let per_conn: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let sync = if std::env::args().nth(2).as_deref() == Some("nosync") {
        al_store::SyncMode::NoSyncUnsafe
    } else {
        al_store::SyncMode::Data
    };
    let r = al_benches::server::http_run(sync, per_conn);
    println!(
        "{{\"actions_per_s\": {:.0}, \"p50_us\": {:.0}, \"p99_us\": {:.0}, \"non_2xx\": {}, \"server_cpu_us\": {:.1}, \"writer_cpu_us\": {:.1}, \"client_cpu_us\": {:.1}}}",
        r.actions_per_s,
        r.p50_us,
        r.p99_us,
        r.non_2xx,
        r.server_cpu_us,
        r.writer_cpu_us,
        r.client_cpu_us
    );
}
