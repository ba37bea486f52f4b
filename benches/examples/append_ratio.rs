//! Only the append-vs-SHA-bound figures of `perf-report audit`.
fn main() {
    let mut out = std::collections::BTreeMap::new();
    al_benches::audit::append_vs_bound(&mut out);
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
