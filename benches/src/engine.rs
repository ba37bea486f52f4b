//! Engine workloads: a governed action end to end (`Engine::submit_action`:
//! authenticate, validate the body, replay check, breaker admit, evaluate,
//! append, apply, breaker observe, answer and effects), and the three core
//! calls it is built on, each measured alone on the same inputs.
//!
//! The org: 100 policies with 3 conditions each, 1 000 agents, every agent
//! in MONITORING (calibrated by a warm-up), acting in turn every 30 s of
//! simulated time, each request carrying a 256-byte `metadata` object, one
//! `data_accessed` item and a fresh `X-AL-Event-ID`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use al_audit_chain::{AuditLog, Kind};
use al_breaker::{Admission, Breaker, BreakerConfig, Observation, State};
use al_engine::{
    ActionCall, ActionRecord, ActionStatus, DeterministicEntropy, Engine, EngineConfig,
    ImportOptions, Record,
};
use al_policy::{ActionRequest, Agent, Limits, Manifest, PolicySet};
use al_types::Timestamp;

use crate::timing::round3;

/// Agents in the org.
pub const AGENTS: usize = 1_000;
/// Policies in the org (each with conditions).
pub const POLICIES: usize = 100;
/// Simulated time between two actions (so each agent acts every 30 s).
pub const STEP_MS: u64 = 30;
/// Actions per agent before measuring (the breaker calibrates on them).
pub const WARMUP_PER_AGENT: usize = 24;
/// The `metadata` object's size, compact JSON.
pub const METADATA_BYTES: usize = 256;
/// The org.
pub const ORG: &str = "acme";

/// The workloads' clock: milliseconds after 2026-11-30T09:00:00Z.
pub fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(1_796_115_600_000 + i64::try_from(ms).unwrap()).unwrap()
}

/// A short calibration (20 actions, 10 minutes) so the warm-up is small.
pub fn breaker_config() -> BreakerConfig {
    BreakerConfig::builder()
        .calibration_min_actions(20)
        .calibration_min_duration_ms(600_000)
        .build()
        .unwrap()
}

/// The engine's configuration.
pub fn config() -> EngineConfig {
    EngineConfig::builder([7; 16])
        .breaker(breaker_config())
        .build()
        .unwrap()
}

/// Policy `i` governs `svc{i}.op` and allows it under 3 conditions (on
/// metadata, on the data accessed and on the request's hour); every
/// fourth one needs approval past a size, so the set is not uniform.
pub fn manifest_yaml() -> String {
    let mut s = String::from("version: 1\npolicies:\n");
    for i in 0..POLICIES {
        let extra = if i % 4 == 3 {
            ", {field: reviewer, operator: exists}"
        } else {
            ""
        };
        s.push_str(&format!(
            "  - {{name: p{i:03}, action_type: svc{i}.op, effect: allow, conditions: [\
             {{field: pr_size, operator: lt, value: 500}}, \
             {{field: repo.owner, operator: in, value: [acme, globex, initech]}}, \
             {{field: \"@data.max_sensitivity\", operator: lte, value: medium}}{extra}]}}\n"
        ));
    }
    s
}

/// The 256-byte `metadata` object (compact JSON) every request carries.
pub fn metadata_json() -> String {
    let head = r#"{"pr_size":42,"repo":{"owner":"acme","name":"widgets"},"branch":"release/7","env":"staging","reviewer":"ana","labels":["ci","hotfix"],"title":""#;
    let tail = r#""}"#;
    let pad = METADATA_BYTES - head.len() - tail.len();
    let title: String = "fix flaky test in the payment retry loop "
        .chars()
        .cycle()
        .take(pad)
        .collect();
    let m = format!("{head}{title}{tail}");
    assert_eq!(m.len(), METADATA_BYTES);
    m
}

/// Agent `j`'s request body (its action type is `svc{j % 100}.op`).
pub fn body(j: usize) -> String {
    format!(
        r#"{{"action_type":"svc{}.op","timestamp":"2026-11-30T09:00:00Z","data_accessed":[{{"type":"source_code","count":5,"sensitivity":"low"}}],"metadata":{}}}"#,
        j % POLICIES,
        metadata_json()
    )
}

/// The breaker observation the engine makes for agent `j`'s action.
pub fn observation(types: &[String], j: usize) -> Observation<'_> {
    Observation {
        action_type: &types[j % POLICIES],
        denied: false,
        data_count: 5,
        delegation_created: false,
    }
}

/// The org, warmed up, and the same inputs prepared for each part alone.
pub struct Workload {
    /// The org after the warm-up (every agent calibrated).
    pub engine: Engine,
    /// Each agent's key (`al_live_…`).
    pub keys: Vec<String>,
    /// Each agent's id.
    pub agent_ids: Vec<String>,
    /// Each agent's name.
    pub names: Vec<String>,
    /// Each agent's body.
    pub bodies: Vec<String>,
    /// Simulated time of the last warm-up action.
    pub now_ms: u64,
    /// The policy set compiled from the same manifest.
    pub set: PolicySet,
    /// Each agent's request, as the policy core reads it.
    pub requests: Vec<ActionRequest>,
    /// `svc{i}.op`, by policy.
    pub types: Vec<String>,
    /// Each agent's breaker in the state the engine holds it in.
    pub breakers: Vec<Breaker>,
    /// Each agent's action record, exactly as the engine writes it.
    pub records: Vec<ActionRecord<'static>>,
}

/// The `X-AL-Event-ID` of measured action `c` (distinct from the warm-up's).
pub fn event_ids(n: usize) -> Vec<String> {
    (0..n).map(|c| format!("bench-{c:016x}")).collect()
}

/// One governed action: agent `c % AGENTS` at `now_ms + (c + 1) * STEP_MS`.
#[inline]
pub fn act(e: &mut Engine, w: &Workload, ids: &[String], c: usize) {
    let j = c % AGENTS;
    let call = ActionCall {
        api_key: &w.keys[j],
        body: &w.bodies[j],
        event_id: Some(&ids[c]),
        delegation_id: None,
    };
    let now = at(w.now_ms + (c as u64 + 1) * STEP_MS);
    let r = e.submit_action(now, black_box(&call));
    debug_assert!(r.as_ref().is_ok_and(|(a, _)| a.http_status == 200));
    black_box(r).ok();
}

impl Workload {
    /// Build the org, register the agents, import the policies, and run
    /// [`WARMUP_PER_AGENT`] actions per agent (then every agent is in MONITORING).
    pub fn new() -> Workload {
        let mut engine = Engine::new(config());
        let mut entropy = DeterministicEntropy::new(1);
        let (org, _) = engine.create_org(at(0), ORG, &mut entropy).unwrap();
        let svc = org.service_key.expose().to_owned();
        let _ = engine
            .import_policies(at(0), &svc, &manifest_yaml(), ImportOptions::default())
            .unwrap();
        let mut keys = Vec::with_capacity(AGENTS);
        let mut agent_ids = Vec::with_capacity(AGENTS);
        let mut names = Vec::with_capacity(AGENTS);
        for j in 0..AGENTS {
            let (a, _) = engine
                .register_agent(
                    at(0),
                    &svc,
                    &format!(r#"{{"name":"agent-{j}"}}"#),
                    &mut entropy,
                )
                .unwrap();
            keys.push(a.api_key.expose().to_owned());
            agent_ids.push(a.id);
            names.push(a.name);
        }
        let bodies: Vec<String> = (0..AGENTS).map(body).collect();
        let types: Vec<String> = (0..POLICIES).map(|i| format!("svc{i}.op")).collect();
        let bcfg = breaker_config();
        let mut breakers: Vec<Breaker> = (0..AGENTS).map(|_| Breaker::new(at(0))).collect();
        let mut now_ms = 0;
        for c in 0..AGENTS * WARMUP_PER_AGENT {
            let j = c % AGENTS;
            now_ms += STEP_MS;
            let call = ActionCall {
                api_key: &keys[j],
                body: &bodies[j],
                event_id: Some(&format!("warm-{c:016x}")),
                delegation_id: None,
            };
            let (a, _) = engine.submit_action(at(now_ms), &call).unwrap();
            assert_eq!(a.result.status, ActionStatus::Executed);
            let b = &mut breakers[j];
            assert_eq!(b.admit(&bcfg, at(now_ms)).0, Admission::Allow);
            let _ = b.observe(&bcfg, at(now_ms), &observation(&types, j));
        }
        assert!(breakers.iter().all(|b| b.state() == State::Monitoring));
        let set = PolicySet::compile(&Manifest::parse_auto(&manifest_yaml()).unwrap());
        let requests = bodies
            .iter()
            .map(|b| ActionRequest::from_json(b, at(0), &Limits::default()).unwrap())
            .collect();
        // The records the engine writes: one action per agent on a copy.
        let mut probe = engine.clone();
        let ids = event_ids(AGENTS);
        let records = (0..AGENTS)
            .map(|j| {
                let call = ActionCall {
                    api_key: &keys[j],
                    body: &bodies[j],
                    event_id: Some(&ids[j]),
                    delegation_id: None,
                };
                let (_, fx) = probe
                    .submit_action(at(now_ms + (j as u64 + 1) * STEP_MS), &call)
                    .unwrap();
                let entry = al_audit_chain::decode(&fx.entries[0].bytes).unwrap();
                match Record::decode(entry.kind, entry.fields).unwrap() {
                    Record::Action(r) => r,
                    other => panic!("not an action record: {other:?}"),
                }
            })
            .collect();
        Workload {
            engine,
            keys,
            agent_ids,
            names,
            bodies,
            now_ms,
            set,
            requests,
            types,
            breakers,
            records,
        }
    }

    /// The policy core alone: `PolicySet::evaluate` for action `c`.
    #[inline]
    pub fn evaluate(&self, c: usize) {
        let j = c % AGENTS;
        let agent = Agent {
            id: &self.agent_ids[j],
            name: &self.names[j],
        };
        let _ = black_box(self.set.evaluate(black_box(&self.requests[j]), &agent));
    }

    /// The audit core alone: the typed append of action `c`'s record.
    #[inline]
    pub fn append(&self, log: &mut AuditLog, c: usize) {
        let j = c % AGENTS;
        let now = at(self.now_ms + (c as u64 + 1) * STEP_MS);
        let r = log.append_record(
            Kind::Action,
            Some(&self.agent_ids[j]),
            now,
            black_box(&self.records[j]),
        );
        black_box(r.unwrap().hash);
    }

    /// The breaker alone: `admit` and `observe` of action `c`.
    #[inline]
    pub fn admit_observe(&self, cfg: &BreakerConfig, breakers: &mut [Breaker], c: usize) {
        let j = c % AGENTS;
        let now = at(self.now_ms + (c as u64 + 1) * STEP_MS);
        let b = &mut breakers[j];
        if black_box(b.admit(cfg, now)).0 == Admission::Allow {
            let _ = black_box(b.observe(cfg, now, &observation(&self.types, j)));
        }
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload::new()
    }
}

/// Nanoseconds per action of each part, median over `rounds` interleaved
/// rounds of `batch` actions; every round starts from the warmed-up state
/// (copied outside the timed region).
pub struct Parts {
    pub end_to_end: f64,
    pub evaluate: f64,
    pub append: f64,
    pub admit_observe: f64,
}

impl Parts {
    /// End-to-end time ÷ the sum of the parts alone.
    pub fn overhead_ratio(&self) -> f64 {
        self.end_to_end / (self.evaluate + self.append + self.admit_observe)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Measure [`Parts`].
pub fn measure(w: &Workload, rounds: usize, batch: usize) -> Parts {
    let ids = event_ids(batch);
    let bcfg = breaker_config();
    let (mut e2e, mut ev, mut ap, mut br) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let mut e = w.engine.clone();
        let t = Instant::now();
        for c in 0..batch {
            act(&mut e, w, &ids, c);
        }
        e2e.push(t.elapsed().as_nanos() as f64 / batch as f64);
        drop(e);

        let t = Instant::now();
        for c in 0..batch {
            w.evaluate(c);
        }
        ev.push(t.elapsed().as_nanos() as f64 / batch as f64);

        let mut log = AuditLog::new(ORG);
        let t = Instant::now();
        for c in 0..batch {
            w.append(&mut log, c);
        }
        ap.push(t.elapsed().as_nanos() as f64 / batch as f64);
        drop(log);

        let mut bs = w.breakers.clone();
        let t = Instant::now();
        for c in 0..batch {
            w.admit_observe(&bcfg, &mut bs, c);
        }
        br.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    Parts {
        end_to_end: median(e2e),
        evaluate: median(ev),
        append: median(ap),
        admit_observe: median(br),
    }
}

/// A log to restore: the warmed-up org plus `extra` actions; and a
/// snapshot taken at the warm-up's last row.
pub fn restore_input(w: &Workload, extra: usize) -> (Vec<Vec<u8>>, al_engine::Snapshot) {
    let mut e = w.engine.clone();
    let snap = e.snapshot(ORG).unwrap();
    let ids = event_ids(extra);
    for c in 0..extra {
        act(&mut e, w, &ids, c);
    }
    let entries = e
        .entries(ORG)
        .unwrap()
        .into_iter()
        .map(|s| s.bytes)
        .collect();
    (entries, snap)
}

/// Argument that makes `perf-report` run [`instruction_loop`] (under callgrind).
pub const LOOP_ARG: &str = "--engine-loop";
/// Argument that makes `perf-report` run [`memory_probe`] in a fresh process.
pub const MEMORY_ARG: &str = "--engine-memory";

/// The parts callgrind counts, by name.
pub const LOOP_PARTS: [&str; 4] = ["end_to_end", "evaluate", "append", "admit_observe"];

/// The loop that does nothing: the same set-up as every part (workload,
/// `n` event ids), so subtracting it leaves the measured loop alone.
pub const LOOP_BASELINE: &str = "baseline";

/// Build the workload, then run `n` actions of one part.
pub fn instruction_loop(part: &str, n: usize) {
    let mut w = Workload::new();
    // Taken, not copied, so the copy is not counted.
    let mut engine = std::mem::replace(&mut w.engine, Engine::new(config()));
    let mut bs = std::mem::take(&mut w.breakers);
    let ids = event_ids(n);
    run_part(part, n, &w, &mut engine, &mut bs, &ids);
}

/// The measured loop of [`instruction_loop`], kept out of line so a
/// profiler can collect it alone (`valgrind --tool=callgrind
/// --collect-atstart=no --toggle-collect='al_benches::engine::run_part*'`).
#[inline(never)]
pub fn run_part(
    part: &str,
    n: usize,
    w: &Workload,
    engine: &mut Engine,
    bs: &mut [Breaker],
    ids: &[String],
) {
    match part {
        "end_to_end" => {
            for c in 0..n {
                act(engine, w, ids, c);
            }
        }
        "evaluate" => {
            for c in 0..n {
                w.evaluate(c);
            }
        }
        "append" => {
            let mut log = AuditLog::new(ORG);
            for c in 0..n {
                w.append(&mut log, c);
            }
        }
        "admit_observe" => {
            let cfg = breaker_config();
            for c in 0..n {
                w.admit_observe(&cfg, bs, c);
            }
        }
        LOOP_BASELINE => {}
        _ => panic!("unknown part `{part}`"),
    }
}

/// Instructions per action of each part, counted by callgrind (this binary
/// runs [`instruction_loop`] with `N` actions of the part and of
/// [`LOOP_BASELINE`], and the difference is divided by `N`: the set-up,
/// including the `N` event ids the loop prepares, cancels out). `None`
/// when valgrind is not installed.
pub fn instructions() -> Option<BTreeMap<&'static str, f64>> {
    const N: usize = 20_000;
    let total = |part: &str, n: usize| -> Option<f64> {
        crate::callgrind::total_instructions(&[LOOP_ARG, part], n as u64)
    };
    let base = total(LOOP_BASELINE, N)?;
    let mut out = BTreeMap::new();
    for part in LOOP_PARTS {
        out.insert(part, (total(part, N)? - base) / N as f64);
    }
    Some(out)
}

/// Resident memory of this process, in bytes (Linux `/proc/self/statm`).
fn resident_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// In a fresh process: register `n` agents in an org with the workload's
/// policies and print the resident bytes they added, per agent (their
/// state, breaker, keys, indexes and registration entry in the org's log).
pub fn memory_probe(n: usize) {
    let mut engine = Engine::new(config());
    let mut entropy = DeterministicEntropy::new(1);
    let (org, _) = engine.create_org(at(0), ORG, &mut entropy).unwrap();
    let svc = org.service_key.expose().to_owned();
    let _ = engine
        .import_policies(at(0), &svc, &manifest_yaml(), ImportOptions::default())
        .unwrap();
    let names: Vec<String> = (0..n)
        .map(|j| format!(r#"{{"name":"agent-{j}"}}"#))
        .collect();
    let before = resident_bytes().unwrap_or(0);
    for name in &names {
        let r = engine.register_agent(at(0), &svc, name, &mut entropy);
        drop(black_box(r.unwrap()));
    }
    let after = resident_bytes().unwrap_or(0);
    black_box(&engine);
    println!("{}", after.saturating_sub(before) as f64 / n as f64);
}

/// Resident bytes per idle agent, from [`memory_probe`] run in a fresh
/// process (so no earlier workload's freed memory is reused).
pub fn memory_per_idle_agent() -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args([MEMORY_ARG, "50000"])
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// The `engine` area of `perf-report`.
pub fn figures() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let w = Workload::new();
    let p = measure(&w, 15, 10_000);
    out.insert(
        "actions_per_s_one_core".into(),
        (1e9 / p.end_to_end).round(),
    );
    out.insert("action_ns_median_end_to_end".into(), round3(p.end_to_end));
    out.insert("action_ns_median_evaluate_alone".into(), round3(p.evaluate));
    out.insert("action_ns_median_append_alone".into(), round3(p.append));
    out.insert(
        "action_ns_median_admit_observe_alone".into(),
        round3(p.admit_observe),
    );
    out.insert("engine_overhead_ratio".into(), round3(p.overhead_ratio()));
    let mut probe = AuditLog::new(ORG);
    w.append(&mut probe, 0);
    out.insert(
        "action_entry_canonical_bytes".into(),
        probe.bytes(1).map_or(0, <[u8]>::len) as f64,
    );
    out.insert(
        "breaker_state_bytes_inline".into(),
        std::mem::size_of::<Breaker>() as f64,
    );
    // Restore: the warmed-up org plus 20k actions.
    let (entries, snap) = restore_input(&w, 20_000);
    let n = entries.len() as f64;
    let ms = crate::timing::median_ms(5, || {
        let mut e = Engine::new(config());
        e.restore_org(ORG, entries.iter().map(Vec::as_slice))
            .unwrap();
        e
    });
    out.insert("restore_entries_per_s".into(), (n / ms * 1e3).round());
    let ms_snap = crate::timing::median_ms(5, || {
        let mut e = Engine::new(config());
        e.restore_org_from_snapshot(&snap, entries.iter().map(Vec::as_slice))
            .unwrap();
        e
    });
    out.insert(
        "snapshot_restore_entries_per_s".into(),
        (n / ms_snap * 1e3).round(),
    );
    out.insert(
        "snapshot_restore_rows_after_snapshot".into(),
        n - snap.row() as f64,
    );
    out.insert("restore_log_entries".into(), n);
    out.insert(
        "snapshot_bytes_1000_agents".into(),
        snap.as_bytes().len() as f64,
    );
    if let Some(m) = memory_per_idle_agent() {
        out.insert("memory_bytes_per_idle_agent_resident".into(), m.round());
    }
    if let Some(i) = instructions() {
        for (part, v) in &i {
            out.insert(format!("action_instructions_{part}"), v.round());
        }
        let parts = i["evaluate"] + i["append"] + i["admit_observe"];
        out.insert(
            "engine_overhead_ratio_instructions".into(),
            round3(i["end_to_end"] / parts),
        );
    }
    out
}
