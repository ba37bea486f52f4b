//! Profiling aid: append N prebuilt entries (map path), or N typed records
//! with `typed`, or only the SHA-256 bound work with `bound`.
//! `valgrind --tool=callgrind target/release/examples/append_profile 20000 [typed|bound]`
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let mode = std::env::args().nth(2).unwrap_or_default();
    let t = std::time::Instant::now();
    match mode.as_str() {
        "typed" => {
            std::hint::black_box(al_benches::audit::append_typed(n, &"x".repeat(256)));
        }
        "bound" => {
            let canonical: Vec<Vec<u8>> = al_benches::audit::log(n, false)
                .records()
                .map(|r| r.bytes.to_vec())
                .collect();
            let t = std::time::Instant::now();
            al_benches::audit::sha_bound(&canonical);
            eprintln!(
                "bound: {:.0} entries/s",
                n as f64 / t.elapsed().as_secs_f64()
            );
        }
        _ => {
            let entries: Vec<_> = (0..n).map(al_benches::audit::entry).collect();
            let mut l = al_audit_chain::AuditLog::with_config(
                "bench",
                al_audit_chain::LogConfig { index: false },
            );
            for e in &entries {
                let _ = std::hint::black_box(l.append(e).unwrap());
            }
        }
    }
    eprintln!("{:.0} entries/s", n as f64 / t.elapsed().as_secs_f64());
}
