//! Only the append-vs-SHA-bound figures of `perf-report audit`: with glibc's
//! default allocator and with the huge-page configurations, each measured
//! in a child process of this run (see `al_benches::audit::append_figures`).
fn main() {
    if std::env::args().nth(1).as_deref() == Some(al_benches::audit::APPEND_ARG) {
        al_benches::audit::append_child();
        return;
    }
    let mut out = std::collections::BTreeMap::new();
    al_benches::audit::append_figures(&mut out);
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
