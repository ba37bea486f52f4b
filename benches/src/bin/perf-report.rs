//! Prints the headline figures as one JSON object keyed by area.
//! Run: `cargo run --release -p al-benches --bin perf-report`.
//! Each area's figures live in `benches/src/<area>.rs`; this file only
//! dispatches.

use std::collections::BTreeMap;

fn main() {
    // Self-invocation under callgrind (see `al_benches::policy::eval_instructions`).
    if std::env::args().nth(1).as_deref() == Some(al_benches::policy::EVAL_LOOP_ARG) {
        let n = std::env::args()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        al_benches::policy::eval_loop(n);
        return;
    }
    // Self-invocations of the engine area: under callgrind, and in a fresh
    // process for memory (see `al_benches::engine`).
    let arg = |i: usize| std::env::args().nth(i);
    if arg(1).as_deref() == Some(al_benches::engine::LOOP_ARG) {
        let part = arg(2).unwrap_or_default();
        let n = arg(3).and_then(|a| a.parse().ok()).unwrap_or(0);
        al_benches::engine::instruction_loop(&part, n);
        return;
    }
    if arg(1).as_deref() == Some(al_benches::engine::MEMORY_ARG) {
        let n = arg(2).and_then(|a| a.parse().ok()).unwrap_or(1);
        al_benches::engine::memory_probe(n);
        return;
    }
    // Self-invocation under callgrind (see `al_benches::breaker::figures`).
    if std::env::args().nth(1).as_deref() == Some(al_benches::breaker::LOOP_ARG) {
        let arg = |i: usize| std::env::args().nth(i).unwrap_or_default();
        al_benches::breaker::admit_observe_loop(&arg(2), arg(3).parse().unwrap_or(0));
        return;
    }
    // Self-invocation per allocator configuration (see `al_benches::audit::append_figures`).
    if std::env::args().nth(1).as_deref() == Some(al_benches::audit::APPEND_ARG) {
        al_benches::audit::append_child();
        return;
    }
    let mut report: BTreeMap<&str, BTreeMap<String, f64>> = BTreeMap::new();
    let only = std::env::args().nth(1);
    let want = |area: &str| only.as_deref().is_none_or(|o| o == area);
    // Areas that allocate little first; the audit area builds a 1M-entry log last.
    if want("breaker") {
        report.insert("breaker", al_benches::breaker::figures());
    }
    if want("policy") {
        report.insert("policy", al_benches::policy::figures());
    }
    if want("engine") {
        report.insert("engine", al_benches::engine::figures());
    }
    if want("audit") {
        report.insert("audit", al_benches::audit::figures());
    }
    if want("simulate") {
        report.insert("simulate", al_benches::simulate::figures());
    }
    // Needs a quiet machine: it measures HTTP throughput and builds a 1M-entry org.
    if want("server") {
        report.insert("server", al_benches::server::figures());
    }
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
