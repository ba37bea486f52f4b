//! `al simulate` figures: a log the engine writes (1 000 agents, a realistic
//! mix of actions with metadata and data accessed, approvals that time
//! out), streamed from a file through the simulator exactly as the CLI
//! does, compared with streaming verification alone over the same file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use al_audit_chain::{ChainVerifier, JsonlVerifier, LINE_BUFFER_BYTES, LineReader, write_line};
use al_engine::simulate::{SimulationOptions, SimulationReport, Simulator};
use al_engine::{ActionCall, DeterministicEntropy, Effects, Engine, EngineConfig, ImportOptions};
use al_policy::{Format, Manifest, PolicySet};
use al_types::Timestamp;
use serde_json::json;

use crate::timing::round3;

/// The policies the generated org runs.
pub const OLD: &str = r#"version: 1
policies:
  - { name: merge-small-prs, action_type: pr.merge, effect: allow,
      conditions: [ { field: pr_size, operator: lt, value: 400 }, { field: repo, operator: starts_with, value: "acme/" } ] }
  - { name: no-force-merges, action_type: pr.merge, effect: deny,
      conditions: [ { field: force, operator: eq, value: true } ] }
  - { name: prod-deploys, action_type: deploy.production, effect: require_approval, approval: { timeout: 8h } }
  - { name: deploys, action_type: deploy.*, effect: allow }
  - { name: reads, action_type: db.read, effect: allow,
      conditions: [ { field: "@data.max_sensitivity", operator: lte, value: high } ] }
  - { name: no-drops, action_type: db.drop, effect: deny }
  - { name: ci, action_type: ci.*, effect: allow }
  - { name: docs, action_type: docs.*, effect: allow }
"#;

/// The proposed change: tighter merges, reads of critical data need
/// approval, reports become allowed.
pub const NEW: &str = r#"version: 1
policies:
  - { name: merge-small-prs, action_type: pr.merge, effect: allow,
      conditions: [ { field: pr_size, operator: lt, value: 300 }, { field: repo, operator: starts_with, value: "acme/" } ] }
  - { name: no-force-merges, action_type: pr.merge, effect: deny,
      conditions: [ { field: force, operator: eq, value: true } ] }
  - { name: prod-deploys, action_type: deploy.production, effect: require_approval, approval: { timeout: 8h } }
  - { name: deploys, action_type: deploy.*, effect: allow }
  - { name: reads, action_type: db.read, effect: conditional,
      conditions: [ { field: "@data.max_sensitivity", operator: lte, value: high } ] }
  - { name: no-drops, action_type: db.drop, effect: deny }
  - { name: ci, action_type: ci.*, effect: allow }
  - { name: docs, action_type: docs.*, effect: allow }
  - { name: reports, action_type: reports.*, effect: allow }
"#;

const AGENTS: usize = 1000;

fn action(i: usize) -> serde_json::Value {
    let sens = ["public", "low", "medium", "high", "critical"][i % 5];
    match i % 20 {
        0..=7 => json!({"action_type": "pr.merge", "metadata": {
            "pr_size": (i * 37) % 500, "repo": if i.is_multiple_of(9) { "other/fork" } else { "acme/backend" },
            "author": format!("dev-{}", i % 97), "force": i.is_multiple_of(53),
            "labels": ["ci-passed", "reviewed"], "title": "Bump the dependency versions of the service"}}),
        8..=10 => json!({"action_type": "db.read", "metadata": {"table": "orders", "query_id": i},
            "data_accessed": [{"type": "orders", "count": i % 40, "sensitivity": sens},
                              {"type": "customers", "count": 1, "sensitivity": "low"}]}),
        11 | 12 => {
            json!({"action_type": "ci.run", "metadata": {"pipeline": "build", "branch": "main", "commit": format!("{:040x}", i)}})
        }
        13 | 14 => {
            json!({"action_type": "docs.edit", "metadata": {"page": format!("runbooks/{}", i % 300), "words": i % 1000}})
        }
        15 => {
            json!({"action_type": "deploy.staging", "metadata": {"service": "api", "version": format!("1.{}.0", i % 100)}})
        }
        16 => {
            json!({"action_type": if i.is_multiple_of(3) { "deploy.production" } else { "deploy.canary" },
            "metadata": {"service": "api", "version": format!("1.{}.0", i % 100)}})
        }
        17 => json!({"action_type": "db.drop", "metadata": {"table": "tmp_import"}}),
        _ => json!({"action_type": "reports.daily", "metadata": {"team": "finance"}}),
    }
}

/// Write an engine-generated log of at least `rows` entries to `path`;
/// returns the rows written.
///
/// # Panics
/// If the engine refuses its own calls or the file cannot be written.
pub fn write_log(path: &Path, rows: u64) -> u64 {
    let mut e = Engine::new(EngineConfig::builder([7; 16]).build().unwrap());
    let mut rng = DeterministicEntropy::new(1);
    let mut now = Timestamp::parse_rfc3339("2026-11-20T00:00:00Z").unwrap();
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut written = 0u64;
    let mut keep = |fx: Effects, written: &mut u64| {
        for s in fx.entries {
            let entry = al_audit_chain::decode(&s.bytes).unwrap();
            write_line(&mut out, &entry, &s.hash).unwrap();
            *written += 1;
        }
    };
    let (org, fx) = e.create_org(now, "bench", &mut rng).unwrap();
    keep(fx, &mut written);
    let svc = org.service_key.expose().to_owned();
    let (_, fx) = e
        .import_policies(now, &svc, OLD, ImportOptions::default())
        .unwrap();
    keep(fx, &mut written);
    let keys: Vec<String> = (0..AGENTS)
        .map(|i| {
            let body = format!(r#"{{"name": "agent-{i}"}}"#);
            let (r, fx) = e.register_agent(now, &svc, &body, &mut rng).unwrap();
            keep(fx, &mut written);
            r.api_key.expose().to_owned()
        })
        .collect();
    let mut i = 0usize;
    while written < rows {
        now = now.saturating_add_millis(50);
        let body = action(i).to_string();
        let call = ActionCall {
            api_key: &keys[(i * 7919) % AGENTS],
            body: &body,
            event_id: None,
            delegation_id: None,
        };
        if let Ok((_, fx)) = e.submit_action(now, &call) {
            keep(fx, &mut written);
        }
        if i.is_multiple_of(10_000) {
            let fx = e.handle_timeout(now);
            keep(fx, &mut written);
        }
        i += 1;
    }

    out.flush().unwrap();
    written
}

fn lines(path: &Path, mut f: impl FnMut(&[u8]) -> bool) -> u64 {
    let cap = std::env::var("AL_BENCH_READ_BUFFER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LINE_BUFFER_BYTES);
    let mut r = LineReader::new(BufReader::with_capacity(cap, File::open(path).unwrap()));
    let mut bytes = 0u64;
    while let Some(line) = r.next_line().unwrap() {
        if !f(line) {
            break;
        }
        bytes += line.len() as u64;
    }
    bytes
}

/// Stream the file through the simulator, as `al simulate` does.
///
/// # Panics
/// If the log does not simulate.
pub fn simulate_file(path: &Path, new: &PolicySet) -> SimulationReport {
    let mut sim = Simulator::new(new, None, SimulationOptions::new([9; 16]));
    lines(path, |l| {
        sim.push_line(l).unwrap();
        true
    });
    sim.finish().unwrap()
}

/// Stream the file through the verifier alone, as `al verify` does.
///
/// # Panics
/// If the log does not verify.
pub fn verify_file(path: &Path) -> u64 {
    let mut v = JsonlVerifier::new(ChainVerifier::new("bench"));
    let bytes = lines(path, |l| v.push_line(l));
    assert!(v.finish(Timestamp::UNIX_EPOCH).result.chain_valid);
    bytes
}

/// The set of a manifest text.
///
/// # Panics
/// On an invalid manifest.
pub fn set(text: &str) -> PolicySet {
    PolicySet::compile(&Manifest::parse(text, Format::Yaml).unwrap())
}

/// Where the figures' log is written (removed afterwards).
pub fn temp_log() -> PathBuf {
    std::env::temp_dir().join(format!("al-simulate-bench-{}.jsonl", std::process::id()))
}

/// CPU seconds this thread has used (user + system), from
/// `/proc/thread-self/stat` (Linux; `None` elsewhere). On a shared machine
/// wall-clock time counts the other tenants' work too; the thread's own
/// CPU time is what "entries per second on one core" means.
pub fn thread_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = stat.rsplit_once(") ")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux ABI Rust targets.
    Some(ticks / 100.0)
}

/// Wall and CPU seconds of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, Option<f64>) {
    let (c, t) = (thread_cpu_s(), Instant::now());
    let v = f();
    let wall = t.elapsed().as_secs_f64();
    let cpu = c.and_then(|c| thread_cpu_s().map(|d| d - c));
    (v, wall, cpu)
}

/// The `simulate` area of `perf-report`.
///
/// # Panics
/// If the generated log does not simulate.
pub fn figures() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let path = temp_log();
    let rows = write_log(&path, 1_000_000);
    let size = std::fs::metadata(&path).unwrap().len() as f64;
    let new = set(NEW);
    // Warm the page cache, then interleave simulation and verification
    // runs so machine noise hits both alike.
    let report = simulate_file(&path, &new);
    let (mut sim_w, mut sim_c, mut ver_w, mut ver_c) = (vec![], vec![], vec![], vec![]);
    for _ in 0..3 {
        let (r, w, c) = timed(|| simulate_file(&path, &new));
        std::hint::black_box(r);
        sim_w.push(w);
        sim_c.extend(c);
        let (b, w, c) = timed(|| verify_file(&path));
        std::hint::black_box(b);
        ver_w.push(w);
        ver_c.extend(c);
    }
    let _ = std::fs::remove_file(&path);
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v.get(v.len() / 2).copied()
    };
    let r = rows as f64;
    out.insert("log_rows".into(), r);
    out.insert("log_bytes_per_row_mean".into(), round3(size / r));
    out.insert("log_actions".into(), report.log.actions as f64);
    out.insert("changed_decisions".into(), report.totals.changed as f64);
    let (sim_w, ver_w) = (median(sim_w).unwrap(), median(ver_w).unwrap());
    out.insert("entries_per_wall_s".into(), round3(r / sim_w));
    out.insert("verify_only_entries_per_wall_s".into(), round3(r / ver_w));
    out.insert(
        "simulate_vs_verify_wall_ratio".into(),
        round3(sim_w / ver_w),
    );
    if let (Some(sc), Some(vc)) = (median(sim_c), median(ver_c)) {
        out.insert("entries_per_s".into(), round3(r / sc));
        out.insert("mb_per_s".into(), round3(size / sc / 1e6));
        out.insert("verify_only_entries_per_s".into(), round3(r / vc));
        out.insert("simulate_vs_verify_cpu_ratio".into(), round3(sc / vc));
    }
    out
}
