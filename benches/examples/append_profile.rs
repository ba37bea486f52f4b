//! Profiling aid: append 200k prebuilt entries, five times.
fn main() {
    let entries: Vec<_> = (0..200_000).map(al_benches::audit::entry).collect();
    let t = std::time::Instant::now();
    for _ in 0..5 {
        let mut l = al_audit_chain::AuditLog::with_config(
            "bench",
            al_audit_chain::LogConfig { index: false },
        );
        for e in &entries {
            let _ = std::hint::black_box(l.append(e).unwrap());
        }
    }
    eprintln!("{:.0} entries/s", 1_000_000.0 / t.elapsed().as_secs_f64());
}
