//! Profiling aid: parse and compile a 10k-policy YAML manifest 10 times.
fn main() {
    let yaml = al_benches::policy::manifest_yaml(10_000, 3, true);
    let t = std::time::Instant::now();
    for _ in 0..10 {
        let m = al_policy::Manifest::parse(&yaml, al_policy::Format::Yaml).unwrap();
        std::hint::black_box(al_policy::PolicySet::compile(&m));
    }
    eprintln!(
        "{:.1} ms per parse+compile",
        t.elapsed().as_secs_f64() * 100.0
    );
}
