//! `al_engine::simulate`: golden simulations over a log the engine itself
//! writes (`testdata/simulate/`), the self-simulation property, every
//! error, and streaming in constant memory.
//!
//! Regenerate the golden files after a deliberate change with
//! `AL_BLESS=1 cargo test -p al-engine --test integration simulate`.
//!
//! Why one file (1078 lines): the golden simulations, the self-simulation
//! property and the error cases share the log builder and the golden
//! comparison.

use std::borrow::Cow;
use std::path::PathBuf;

use al_audit_chain::{AuditLog, Kind, entry_to_line};
use al_engine::simulate::{
    ApprovalFate, Comparison, HeldReason, RenderStyle, SimulationError, SimulationOptions,
    SimulationReport, Simulator, simulate_entries,
};
use al_engine::{
    ActionAnswer, ActionCall, ActionRecord, ActionStatus, BreakerCommand, DataItem,
    DeterministicEntropy, Effects, Engine, EngineConfig, ImportOptions, KeyEvent, KeyKind,
    KeyRecord, Record,
};
use al_policy::{Format, Manifest, PolicySet};
use al_types::{Digest, ErrorCode, Timestamp};
use serde_json::{Map, Value, json};

/// The agent table's hash key in these tests (a host passes random bytes).
const SEED: [u8; 16] = [7; 16];

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/simulate")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn bless() -> bool {
    std::env::var_os("AL_BLESS").is_some()
}

/// Compare with a golden file, or rewrite it under `AL_BLESS=1`.
fn golden(name: &str, actual: &str) {
    let path = dir().join(name);
    if bless() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    if expected != actual {
        let at = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from line {}:\n--- expected\n{}\n--- actual\n{}\n(AL_BLESS=1 rewrites it)",
            at + 1,
            expected
                .lines()
                .skip(at)
                .take(5)
                .collect::<Vec<_>>()
                .join("\n"),
            actual
                .lines()
                .skip(at)
                .take(5)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
}

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

pub fn set(text: &str) -> PolicySet {
    PolicySet::compile(&Manifest::parse(text, Format::sniff(text)).unwrap())
}

/// A host that keeps every sealed entry as a JSON line.
pub struct Host {
    pub e: Engine,
    pub svc: String,
    pub rng: DeterministicEntropy,
    pub now: Timestamp,
    pub lines: Vec<String>,
    pub bytes: Vec<Vec<u8>>,
}

impl Host {
    pub fn new(cfg: EngineConfig, org: &str, at: &str) -> Host {
        let mut e = Engine::new(cfg);
        let mut rng = DeterministicEntropy::new(1);
        let now = t(at);
        let (o, fx) = e.create_org(now, org, &mut rng).unwrap();
        let mut h = Host {
            e,
            svc: o.service_key.expose().to_owned(),
            rng,
            now,
            lines: Vec::new(),
            bytes: Vec::new(),
        };
        h.keep(fx);
        h
    }

    pub fn keep(&mut self, fx: Effects) {
        for s in fx.entries {
            let entry = al_audit_chain::decode(&s.bytes).unwrap();
            self.lines.push(entry_to_line(&entry, &s.hash));
            self.bytes.push(s.bytes);
        }
    }

    pub fn at(&mut self, s: &str) {
        self.now = t(s);
    }

    pub fn tick(&mut self, ms: i64) {
        self.now = self.now.saturating_add_millis(ms);
    }

    pub fn import(&mut self, manifest: &str) {
        let svc = self.svc.clone();
        let (_, fx) = self
            .e
            .import_policies(self.now, &svc, manifest, ImportOptions::default())
            .unwrap();
        self.keep(fx);
    }

    pub fn register(&mut self, name: &str) -> (String, String) {
        let svc = self.svc.clone();
        let body = format!(r#"{{"name": "{name}"}}"#);
        let (r, fx) = self
            .e
            .register_agent(self.now, &svc, &body, &mut self.rng)
            .unwrap();
        self.keep(fx);
        (r.id, r.api_key.expose().to_owned())
    }

    pub fn delegate(&mut self, key: &str, name: &str, caps: &[&str]) -> (String, String) {
        let body = json!({"name": name, "capabilities": caps, "ttl_seconds": 86400}).to_string();
        let (d, fx) = self
            .e
            .create_delegation(self.now, key, &body, &mut self.rng)
            .unwrap();
        self.keep(fx);
        (d.child_config_id, d.child_api_key.expose().to_owned())
    }

    /// Submit an action; `None` when the engine answers an error (e.g. 429).
    pub fn act(&mut self, key: &str, body: Value) -> Option<ActionAnswer> {
        let body = body.to_string();
        let r = self.e.submit_action(
            self.now,
            &ActionCall {
                api_key: key,
                body: &body,
                event_id: None,
                delegation_id: None,
            },
        );
        match r {
            Ok((a, fx)) => {
                self.keep(fx);
                Some(a)
            }
            Err(_) => None,
        }
    }

    pub fn decide(&mut self, approval_id: &str, approve: bool) {
        let svc = self.svc.clone();
        let body =
            json!({"decision": if approve { "approve" } else { "deny" }, "reviewer": "ops@acme"})
                .to_string();
        let (_, fx) = self
            .e
            .decide_approval(self.now, &svc, approval_id, &body)
            .unwrap();
        self.keep(fx);
    }

    pub fn operate(&mut self, agent_id: &str, c: BreakerCommand) {
        let svc = self.svc.clone();
        let (_, fx) = self
            .e
            .operate_breaker(self.now, &svc, agent_id, c, r#"{"by": "ops@acme"}"#)
            .unwrap();
        self.keep(fx);
    }

    pub fn timers(&mut self) {
        let fx = self.e.handle_timeout(self.now);
        self.keep(fx);
    }

    pub fn jsonl(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

fn pr(size: u64, repo: &str) -> Value {
    json!({"action_type": "pr.merge", "metadata": {"pr_size": size, "repo": repo}})
}

fn plain(action_type: &str) -> Value {
    json!({"action_type": action_type})
}

fn approval_of(a: &ActionAnswer) -> String {
    a.result.approval_id.clone().unwrap()
}

/// The engine configuration of the golden scenario: a short calibration
/// so the breaker monitors within the scenario.
pub fn scenario_config() -> EngineConfig {
    EngineConfig::builder([7; 16])
        .breaker(
            al_breaker::BreakerConfig::builder()
                .calibration_min_actions(20)
                .calibration_min_duration_ms(10 * 60_000)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// The golden scenario: an org running `old.yaml` for two days. Every
/// line of `testdata/simulate/log.jsonl` comes from here.
pub fn scenario() -> Host {
    let mut h = Host::new(scenario_config(), "acme", "2026-11-23T08:00:00Z");
    let (_release, release_key) = h.register("release-bot");
    let (_data, data_key) = h.register("data-bot");
    let (intern, intern_key) = h.register("intern-bot");
    h.import(&read("old.yaml"));
    h.tick(60_000);
    let (_helper, helper_key) = h.delegate(&release_key, "docs-helper", &["docs.*", "pr.*"]);

    // Monday: merges of every size, one into the secrets repository.
    for (size, repo) in [
        (10, "acme/web"),
        (42, "acme/web"),
        (60, "acme/api"),
        (75, "acme/api"),
        (99, "acme/web"),
        (120, "acme/api"),
        (20, "acme/secrets"),
        (30, "acme/web"),
    ] {
        h.tick(90_000);
        h.act(&release_key, pr(size, repo));
    }
    // Deploys: every one needs approval today.
    h.tick(60_000);
    let staging1 = h.act(&release_key, plain("deploy.staging")).unwrap();
    h.tick(60_000);
    let staging2 = h.act(&release_key, plain("deploy.staging")).unwrap();
    h.tick(60_000);
    let _staging3 = h.act(&release_key, plain("deploy.staging")).unwrap();
    h.tick(60_000);
    let prod = h.act(&release_key, plain("deploy.production")).unwrap();
    h.tick(5 * 60_000);
    h.decide(&approval_of(&staging1), true);
    h.decide(&approval_of(&staging2), false);
    h.decide(&approval_of(&prod), true);
    // The data bot: reads, drops (denied), reports (nothing matches).
    for a in ["db.read", "db.drop", "db.read", "reports.weekly", "db.drop"] {
        h.tick(45_000);
        h.act(&data_key, plain(a));
    }
    // Docs: one edit sent with a late-evening request timestamp (facts
    // such as `@time.hour` come from the request, not the server clock).
    h.tick(60_000);
    h.act(&intern_key, plain("docs.edit"));
    h.tick(60_000);
    h.act(
        &intern_key,
        json!({"action_type": "docs.edit", "timestamp": "2026-11-23T22:30:00Z"}),
    );
    // The delegated helper publishes: allowed as itself, but its delegator
    // would need approval, so the delegator's answer decides.
    h.tick(60_000);
    h.act(&helper_key, plain("docs.publish"));
    h.tick(60_000);
    h.act(
        &helper_key,
        json!({"action_type": "pr.merge", "metadata": {"pr_size": 70, "repo": "acme/web"}}),
    );
    // Out of the helper's scope: denied before any policy.
    h.tick(60_000);
    h.act(&helper_key, plain("db.drop"));
    // An operator halts the intern bot, which keeps trying.
    h.tick(60_000);
    h.operate(&intern, BreakerCommand::Halt);
    for _ in 0..2 {
        h.tick(30_000);
        h.act(&intern_key, plain("docs.edit"));
    }
    h.tick(60_000);
    h.operate(&intern, BreakerCommand::Resume);
    // The first staging deploy's sibling times out after its hour.
    h.at("2026-11-23T11:00:00Z");
    h.timers();

    // Tuesday.
    h.at("2026-11-24T09:00:00Z");
    h.timers();
    for (size, repo) in [(55, "acme/web"), (15, "acme/web"), (64, "acme/secrets")] {
        h.tick(120_000);
        h.act(&release_key, pr(size, repo));
    }
    h.tick(60_000);
    h.act(&data_key, plain("reports.daily"));
    h.tick(60_000);
    h.act(&data_key, plain("db.read"));
    h.tick(60_000);
    h.act(
        &intern_key,
        json!({"action_type": "docs.edit", "timestamp": "2026-11-24T06:15:00Z",
               "data_accessed": [{"type": "wiki", "count": 3, "sensitivity": "low"}]}),
    );
    // The data bot settles into a rhythm, then runs away: its breaker
    // warns, then throttles (the refused requests are never chained).
    for _ in 0..24 {
        h.tick(60_000);
        h.act(&data_key, plain("db.read"));
    }
    for i in 0..9 {
        h.tick(200);
        let a = if i % 2 == 0 {
            "db.read"
        } else {
            "reports.hourly"
        };
        h.act(&data_key, plain(a));
    }
    for i in 0..6 {
        h.tick(30_000);
        let a = if i % 2 == 0 {
            "db.read"
        } else {
            "reports.hourly"
        };
        h.act(&data_key, plain(a));
    }
    h.tick(60_000);
    let staging4 = h.act(&release_key, plain("deploy.staging")).unwrap();
    assert_eq!(staging4.result.status, ActionStatus::Requested);
    // Still pending where the log ends.
    h
}

/// One golden case of `cases.json` (the CLI tests read the same file).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[allow(dead_code)]
    pub about: String,
    pub policies: String,
    #[serde(default)]
    pub baseline: Option<String>,
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub examples: Option<usize>,
    pub formats: Vec<String>,
    pub exit: i32,
}

pub fn cases() -> Vec<Case> {
    serde_json::from_str(&read("cases.json")).unwrap()
}

/// The expected output file of a case in a format.
pub fn expected_file(case: &str, format: &str) -> String {
    let ext = match format {
        "text" => "txt",
        "markdown" => "md",
        _ => "json",
    };
    format!("expected/{case}.{ext}")
}

fn options(c: &Case) -> SimulationOptions {
    SimulationOptions {
        since: c.since.as_deref().map(t),
        until: c.until.as_deref().map(t),
        agent_id: c.agent.clone(),
        examples_per_cell: c.examples.unwrap_or(5),
        ..SimulationOptions::new(SEED)
    }
}

fn run_lines(
    text: &str,
    new: &PolicySet,
    baseline: Option<&PolicySet>,
    opts: SimulationOptions,
) -> Result<SimulationReport, SimulationError> {
    let mut sim = Simulator::new(new, baseline, opts);
    for line in text.split_inclusive('\n') {
        sim.push_line(line.as_bytes())?;
    }
    sim.finish()
}

/// Render as the CLI prints it.
pub fn render(r: &SimulationReport, format: &str, new: &str, baseline: Option<&str>) -> String {
    match format {
        "text" => r.render(RenderStyle::Text, new, baseline),
        "markdown" => r.render(RenderStyle::Markdown, new, baseline),
        _ => format!("{}\n", r.to_json()),
    }
}

#[test]
fn the_golden_log_is_what_the_engine_writes() {
    let h = scenario();
    golden("log.jsonl", &h.jsonl());
    // And it restores: the log is a real engine log.
    let mut e = Engine::new(scenario_config());
    e.restore_org("acme", h.bytes.iter().map(Vec::as_slice))
        .unwrap();
}

#[test]
fn golden_simulations_in_every_format() {
    // Blessing rewrites log.jsonl concurrently: use the scenario itself then.
    let log = if bless() {
        scenario().jsonl()
    } else {
        read("log.jsonl")
    };
    if bless() {
        std::fs::create_dir_all(dir().join("expected")).unwrap();
    }
    for c in cases() {
        let new = set(&read(&c.policies));
        let base = c.baseline.as_deref().map(|b| set(&read(b)));
        let r = run_lines(&log, &new, base.as_ref(), options(&c)).unwrap();
        assert_eq!(
            if r.has_changes() { 3 } else { 0 },
            c.exit,
            "{}: exit status",
            c.name
        );
        for f in &c.formats {
            let out = render(&r, f, &c.policies, c.baseline.as_deref());
            golden(&expected_file(&c.name, f), &out);
        }
    }
}

/// What the golden report must say, checked field by field so a blessed
/// file cannot quietly encode a wrong answer. Counted by hand from the
/// scenario, up to Tuesday 09:30, before the runaway (whose throttled
/// traffic depends on the breaker's tuning); the rest is checked for
/// its shape.
#[test]
fn the_recorded_case_says_what_happened() {
    use ActionStatus::{Denied, Executed, PolicyNotFound, Requested};
    let log = read("log.jsonl");
    let new = set(&read("new.yaml"));
    let r = run_lines(
        &log,
        &new,
        None,
        SimulationOptions {
            until: Some(t("2026-11-24T09:30:00Z")),
            ..SimulationOptions::new(SEED)
        },
    )
    .unwrap();
    assert_eq!(r.compared_with, Comparison::Recorded);
    assert_eq!(r.org_id.as_deref(), Some("acme"));
    let cell = |r: &SimulationReport, from: ActionStatus, to: ActionStatus| {
        r.changes
            .iter()
            .find(|c| c.from == from && c.to == to)
            .map_or(0, |c| c.count)
    };
    // 60, 75, 99, 55 (size), 20 and 64 (secrets), and the helper's 70.
    assert_eq!(cell(&r, Executed, Denied), 7);
    // Three staging deploys, and the helper's publish, now allowed for its delegator.
    assert_eq!(cell(&r, Requested, Executed), 4);
    assert_eq!(cell(&r, Denied, PolicyNotFound), 2);
    // reports.weekly, reports.daily.
    assert_eq!(cell(&r, PolicyNotFound, Executed), 2);
    // The two docs edits whose request timestamps are outside office hours.
    assert_eq!(cell(&r, Executed, Requested), 2);
    assert_eq!(r.totals.changed, 17);
    // The operator's HALT (2 refused edits) and one out-of-scope drop.
    let held: Vec<(HeldReason, u64)> = r.held.iter().map(|h| (h.reason, h.count)).collect();
    assert_eq!(
        held,
        [
            (HeldReason::BreakerHalt, 2),
            (HeldReason::DelegationScope, 1)
        ]
    );
    assert_eq!(
        r.totals.in_window,
        r.totals.simulated + r.totals.held,
        "every entry is simulated or held"
    );
    // db-reads was renamed database-reads: 2 reads on Monday, 21 on Tuesday.
    assert_eq!(r.totals.same_status_other_policy, 23);
    let fates = r
        .changes
        .iter()
        .find(|c| c.from == Requested)
        .and_then(|c| c.approvals)
        .unwrap();
    assert_eq!(
        (fates.approved, fates.denied, fates.timed_out, fates.pending),
        (1, 1, 2, 0)
    );
    // The example rows carry the failing condition and the delegator.
    let ex = &r
        .changes
        .iter()
        .find(|c| c.from == Executed && c.to == Denied)
        .unwrap()
        .examples[0];
    assert_eq!(ex.row, 14);
    assert_eq!(ex.new.failing[0].field, "pr_size");
    assert_eq!(ex.new.failing[0].expected, json!(50));
    let publish = r
        .changes
        .iter()
        .flat_map(|c| &c.examples)
        .find(|e| e.action_type == "docs.publish")
        .unwrap();
    assert_eq!(
        publish.old.decided_as.as_deref(),
        Some("agt_fbd823657dceb6a1")
    );
    assert_eq!(publish.new.decided_as, None);
    assert_eq!(publish.approval, Some(ApprovalFate::TimedOut));
    let late = r
        .changes
        .iter()
        .flat_map(|c| &c.examples)
        .find(|e| e.row == 37)
        .unwrap();
    assert_eq!(late.requested_at, t("2026-11-23T22:30:00Z"));
    assert!(r.throttled.is_empty(), "no throttling before the runaway");

    // The whole log: the runaway's throttled entries, the last deploy
    // still pending, every action accounted for.
    let all = run_lines(&log, &new, None, SimulationOptions::new(SEED)).unwrap();
    assert_eq!(all.totals.in_window, all.log.actions);
    assert_eq!(cell(&all, Requested, Executed), 5);
    let fates = all
        .changes
        .iter()
        .find(|c| c.from == Requested)
        .and_then(|c| c.approvals)
        .unwrap();
    assert_eq!(fates.pending, 1);
    assert_eq!(all.throttled.len(), 1);
    assert!(all.throttled[0].entries > 0);
    assert_eq!(all.throttled[0].agent_id, "agt_17994a9c9c213b84");
}

#[test]
fn the_manifest_the_org_ran_changes_nothing_either_way() {
    let log = read("log.jsonl");
    let old = set(&read("old.yaml"));
    for base in [None, Some(&old)] {
        let r = run_lines(&log, &old, base, SimulationOptions::new(SEED)).unwrap();
        assert!(!r.has_changes(), "{}", r.to_json());
        assert_eq!(r.totals.same_status_other_policy, 0);
        assert_eq!(r.totals.baseline_mismatches, base.map(|_| 0));
    }
}

#[test]
fn canonical_entries_simulate_like_json_lines() {
    let h = scenario();
    let new = set(&read("new.yaml"));
    let a = run_lines(&h.jsonl(), &new, None, SimulationOptions::new(SEED)).unwrap();
    let b = simulate_entries(
        h.bytes.iter().map(Vec::as_slice),
        &new,
        None,
        SimulationOptions::new(SEED),
    )
    .unwrap();
    assert_eq!(a, b);
}

#[test]
fn the_import_preview_is_the_baseline_simulation() {
    let h = scenario();
    let new = read("new.yaml");
    let r =
        h.e.simulate_import(
            &h.svc,
            &new,
            ImportOptions::default(),
            SimulationOptions::new(SEED),
        )
        .unwrap();
    let cli = run_lines(
        &h.jsonl(),
        &set(&new),
        Some(&set(&read("old.yaml"))),
        SimulationOptions::new(SEED),
    )
    .unwrap();
    // Without `prune`, `no-drops` stays: drops stay denied.
    assert_eq!(r.totals.changed, cli.totals.changed - 2);
    assert!(
        r.changes
            .iter()
            .all(|c| c.to != ActionStatus::PolicyNotFound)
    );
    let pruned =
        h.e.simulate_import(
            &h.svc,
            &new,
            ImportOptions {
                prune: true,
                ..ImportOptions::default()
            },
            SimulationOptions::new(SEED),
        )
        .unwrap();
    assert_eq!(pruned.changes, cli.changes);
    assert_eq!(pruned.totals, cli.totals);
    // Service keys only; manifest errors keep their code.
    let agent_key = {
        let mut h2 = scenario();
        h2.register("someone").1
    };
    let e =
        h.e.simulate_import(
            &agent_key,
            &new,
            ImportOptions::default(),
            SimulationOptions::new(SEED),
        )
        .unwrap_err();
    assert_eq!(
        e.code(),
        "UNAUTHORIZED",
        "a key of another engine is unknown"
    );
    let e =
        h.e.simulate_import(
            &h.svc,
            "version: 1\npolicies:\n  - { name: x, action_type: a.b, efect: allow }\n",
            ImportOptions::default(),
            SimulationOptions::new(SEED),
        )
        .unwrap_err();
    assert_eq!(e.http_status(), 400, "{e}");
}

#[test]
fn a_broken_chain_names_its_row_and_stops() {
    let log = read("log.jsonl");
    let new = set(&read("new.yaml"));
    let lines: Vec<&str> = log.lines().collect();
    let run =
        |lines: &[String]| run_lines(&lines.join("\n"), &new, None, SimulationOptions::new(SEED));
    let owned = |f: &dyn Fn(&mut Vec<String>)| {
        let mut v: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
        f(&mut v);
        v
    };
    // A field edited, hash kept.
    let edited = owned(&|v| v[13] = v[13].replace("\"pr_size\":60", "\"pr_size\":6"));
    let e = run(&edited).unwrap_err();
    assert_eq!((e.code(), e.row()), ("CHAIN_BROKEN", 14), "{e}");
    assert!(e.to_string().contains("HASH_MISMATCH"), "{e}");
    // A row deleted.
    let deleted = owned(&|v| {
        v.remove(40);
    });
    let e = run(&deleted).unwrap_err();
    assert_eq!(e.row(), 41, "{e}");
    assert!(e.to_string().contains("ROW_MISMATCH"), "{e}");
    // Not JSON.
    let garbage = owned(&|v| v[2] = "{not json".into());
    let e = run(&garbage).unwrap_err();
    assert_eq!(e.row(), 3, "{e}");
    assert!(e.to_string().contains("UNDECODABLE"), "{e}");
    // Every later push repeats the error; nothing is reported.
    let mut sim = Simulator::new(&new, None, SimulationOptions::new(SEED));
    for l in &garbage[..3] {
        let _ = sim.push_line(l.as_bytes());
    }
    assert_eq!(sim.push_line(lines[3].as_bytes()).unwrap_err().row(), 3);
    assert_eq!(sim.finish().unwrap_err().row(), 3);
}

/// A log a host wrote by hand through the audit crate: the chain holds,
/// the records may not.
fn hand_log(actions: &[(Option<&str>, Map<String, Value>)]) -> String {
    let key = Record::Key(KeyRecord {
        event: KeyEvent::AgentRegistered,
        key_kind: KeyKind::Agent,
        key_hash: Some(Digest::of(b"k")),
        revoked_key_hash: None,
        org_id: None,
        name: Some("bot".into()),
        description: None,
    });
    let first = (Kind::Key, Some("agt_1"), key.to_fields().unwrap());
    chain(
        std::iter::once(first).chain(
            actions
                .iter()
                .map(|(agent, fields)| (Kind::Action, *agent, fields.clone())),
        ),
    )
}

/// JSON lines of these entries (kind, acting agent, fields), chained by
/// the audit crate: the chain verifies whatever the records say.
fn chain<'a>(
    entries: impl IntoIterator<Item = (Kind, Option<&'a str>, Map<String, Value>)>,
) -> String {
    let mut log = AuditLog::new("acme");
    let at = t("2026-11-28T12:00:00Z");
    let mut out = String::new();
    for (kind, agent, fields) in entries {
        let s = log
            .append(&al_audit_chain::NewEntry {
                kind,
                agent_id: agent.map(str::to_owned),
                timestamp: at,
                fields,
            })
            .unwrap();
        let (row, hash) = (s.row, s.hash);
        out.push_str(&entry_to_line(&log.entry(row).unwrap(), &hash));
        out.push('\n');
    }
    out
}

fn action_fields(action_type: &str, metadata: Value) -> Map<String, Value> {
    let Value::Object(metadata) = metadata else {
        panic!()
    };
    Record::Action(ActionRecord {
        action_type: Cow::Owned(action_type.to_owned()),
        status: ActionStatus::Executed,
        denial_reason: None,
        requested_at: t("2026-11-28T12:00:00Z"),
        data_accessed: Cow::Owned(vec![DataItem {
            data_type: "code".into(),
            count: 1,
            sensitivity: None,
        }]),
        metadata: Cow::Owned(metadata),
        event_id: None,
        delegation_id: None,
        policy_id: None,
        policy_name: Some("any".into()),
        policy_version: Some(1),
        policy_digest: None,
        decided_as: None,
        conditions_evaluated: Cow::Owned(vec![]),
    })
    .to_fields()
    .unwrap()
}

/// [`chain`] of entries whose fields are given as JSON objects.
fn raw_log(entries: &[(Kind, &str, Value)]) -> String {
    chain(entries.iter().map(|(kind, agent, fields)| {
        let Value::Object(fields) = fields.clone() else {
            panic!("fields are an object")
        };
        (*kind, Some(*agent), fields)
    }))
}

fn registration(id: &str) -> Value {
    Value::Object(
        Record::Key(KeyRecord {
            event: KeyEvent::AgentRegistered,
            key_kind: KeyKind::Agent,
            key_hash: Some(Digest::of(id.as_bytes())),
            revoked_key_hash: None,
            org_id: None,
            name: Some(id.to_owned().into()),
            description: None,
        })
        .to_fields()
        .unwrap(),
    )
}

fn delegation(id: &str, child: &str, parent_delegation: Option<&str>) -> Value {
    let mut d = json!({"event": "created", "delegation_id": id, "child_agent_id": child,
                       "child_name": child, "capabilities": ["*"]});
    if let Some(p) = parent_delegation {
        d["parent_delegation_id"] = json!(p);
    }
    d
}

/// Many agents, registered, throttled by their breakers and acting, in an
/// order that is neither their ids' nor any hasher's.
fn many_agents_log(n: usize) -> String {
    let ids: Vec<String> = (0..n).map(|i| format!("agt_{:04}", (i * 37) % n)).collect();
    let mut entries = Vec::new();
    for id in &ids {
        entries.push((Kind::Key, id.as_str(), registration(id)));
        entries.push((
            Kind::Breaker,
            id.as_str(),
            json!({"cause": "action", "enforcement": false, "from": "WARN", "reason": "anomaly",
                   "score": 77, "signal": "frequency_spike", "to": "THROTTLE"}),
        ));
    }
    for id in ids.iter().rev() {
        entries.push((
            Kind::Action,
            id.as_str(),
            Value::Object(action_fields("pr.merge", json!({}))),
        ));
    }
    raw_log(&entries)
}

/// A log whose registrations the engine would refuse to restore is
/// refused too (`INVALID_RECORD` naming the row), rather than trusted: a
/// delegation that is its own parent once made every later action of its
/// child loop forever.
#[test]
fn inconsistent_registrations_are_invalid_records() {
    let new = set("version: 1\npolicies:\n  - { name: any, action_type: '*', effect: allow }\n");
    let act = || Value::Object(action_fields("pr.merge", json!({})));
    let run = |entries: &[(Kind, &str, Value)]| {
        let log = raw_log(entries);
        let new = new.clone();
        // On a thread, so that a loop fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(run_lines(&log, &new, None, SimulationOptions::new(SEED)));
        });
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("the simulation does not end")
    };
    let refused = |entries: &[(Kind, &str, Value)], row: u64, words: &str| {
        let e = run(entries).unwrap_err();
        assert_eq!((e.code(), e.row()), ("INVALID_RECORD", row), "{e}");
        assert!(e.to_string().contains(words), "{e}");
    };
    let reg = |id: &'static str| (Kind::Key, id, registration(id));
    // Its own parent.
    refused(
        &[
            reg("agt_1"),
            (
                Kind::Delegation,
                "agt_1",
                delegation("dlg_1", "agt_2", Some("dlg_1")),
            ),
            (Kind::Action, "agt_2", act()),
        ],
        2,
        "not the delegator's own delegation",
    );
    // Registered twice, as an agent or as a delegated child.
    refused(&[reg("agt_1"), reg("agt_1")], 2, "registered twice");
    refused(
        &[
            reg("agt_1"),
            reg("agt_2"),
            (
                Kind::Delegation,
                "agt_1",
                delegation("dlg_1", "agt_2", None),
            ),
        ],
        3,
        "registered twice",
    );
    // The same delegation twice; an unknown delegator.
    refused(
        &[
            reg("agt_1"),
            (
                Kind::Delegation,
                "agt_1",
                delegation("dlg_1", "agt_2", None),
            ),
            (
                Kind::Delegation,
                "agt_1",
                delegation("dlg_1", "agt_3", None),
            ),
        ],
        3,
        "created twice",
    );
    refused(
        &[(
            Kind::Delegation,
            "agt_9",
            delegation("dlg_1", "agt_2", None),
        )],
        1,
        "not registered",
    );
    // A chain as deep as any configuration allows simulates; one deeper is refused.
    let names: Vec<(String, String)> = (0..=65)
        .map(|i| (format!("agt_{i}"), format!("dlg_{i}")))
        .collect();
    let chain = |depth: usize| {
        let mut e = vec![(Kind::Key, names[0].0.as_str(), registration(&names[0].0))];
        for i in 1..=depth {
            let parent = (i > 1).then(|| names[i - 1].1.as_str());
            e.push((
                Kind::Delegation,
                names[i - 1].0.as_str(),
                delegation(&names[i].1, &names[i].0, parent),
            ));
        }
        e.push((Kind::Action, names[depth].0.as_str(), act()));
        e
    };
    let r = run(&chain(64)).unwrap();
    assert_eq!(r.totals.simulated, 1);
    refused(&chain(65), 66, "65 levels deep");
}

#[test]
fn the_report_does_not_depend_on_the_hash_seed() {
    let log = many_agents_log(60);
    let new = set("version: 1\npolicies:\n  - { name: any, action_type: '*', effect: deny }\n");
    let reports: Vec<SimulationReport> = [[0u8; 16], [1; 16], [0xa5; 16], SEED]
        .into_iter()
        .map(|seed| run_lines(&log, &new, None, SimulationOptions::new(seed)).unwrap())
        .collect();
    let first = &reports[0];
    assert_eq!(first.throttled.len(), 60);
    assert_eq!(first.by_agent.len(), 60);
    assert!(
        first
            .throttled
            .windows(2)
            .all(|w| w[0].agent_id < w[1].agent_id),
        "throttled agents in id order"
    );
    for r in &reports[1..] {
        assert_eq!(r.to_json(), first.to_json());
    }
}

#[test]
fn a_record_that_does_not_fit_its_layout_is_invalid_record() {
    let new = set("version: 1\npolicies:\n  - { name: any, action_type: '*', effect: allow }\n");
    let mut bad = action_fields("pr.merge", json!({}));
    bad.insert("surprise".into(), json!(true));
    let log = hand_log(&[(Some("agt_1"), bad)]);
    let e = run_lines(&log, &new, None, SimulationOptions::new(SEED)).unwrap_err();
    assert_eq!((e.code(), e.row()), ("INVALID_RECORD", 2), "{e}");
    assert!(e.to_string().contains("surprise"), "{e}");
    // Outside the window the action is not decoded: only what is simulated must fit.
    let r = run_lines(
        &log,
        &new,
        None,
        SimulationOptions {
            agent_id: Some("agt_2".into()),
            ..SimulationOptions::new(SEED)
        },
    )
    .unwrap();
    assert_eq!((r.log.actions, r.totals.in_window), (1, 0));
}

#[test]
fn unknown_agents_and_requests_past_the_limits_are_held() {
    let new = set("version: 1\npolicies:\n  - { name: any, action_type: '*', effect: allow }\n");
    let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}});
    let log = hand_log(&[
        (Some("agt_1"), action_fields("pr.merge", json!({"n": 1}))),
        (Some("agt_404"), action_fields("pr.merge", json!({}))),
        (None, action_fields("pr.merge", json!({}))),
        (Some("agt_1"), action_fields("pr.merge", deep)),
    ]);
    let opts = SimulationOptions {
        policy_limits: al_policy::Limits::builder().max_depth(4).build().unwrap(),
        ..SimulationOptions::new(SEED)
    };
    let r = run_lines(&log, &new, None, opts).unwrap();
    let held: Vec<(HeldReason, u64)> = r.held.iter().map(|h| (h.reason, h.count)).collect();
    assert_eq!(
        held,
        [
            (HeldReason::UnknownAgent, 2),
            (HeldReason::InvalidRequest, 1)
        ]
    );
    let invalid = &r.held[1].examples[0];
    assert_eq!(invalid.row, 5);
    assert!(
        invalid.detail.as_deref().unwrap().contains("metadata"),
        "{invalid:?}"
    );
    assert_eq!((r.totals.simulated, r.totals.unchanged), (1, 1));
    assert!(!r.has_changes());
}

mod properties {
    //! Simulating the manifest an org ran, against its own log, changes
    //! nothing: a differential test of the simulator's re-decision (the
    //! delegation chain included) against the engine's pipeline.

    use proptest::prelude::*;

    use super::*;

    const PATTERNS: [&str; 8] = [
        "pr.merge",
        "pr.*",
        "deploy.*",
        "deploy.prod",
        "db.read",
        "db.*",
        "*",
        "ci.run",
    ];
    const EFFECTS: [&str; 4] = ["allow", "deny", "require_approval", "conditional"];
    const TYPES: [&str; 7] = [
        "pr.merge",
        "pr.close",
        "deploy.prod",
        "deploy.staging",
        "db.read",
        "db.drop",
        "ci.run",
    ];

    #[derive(Clone, Debug)]
    struct PolicyGen {
        pattern: usize,
        effect: usize,
        conditions: Vec<(usize, u64)>,
        /// Limited to the agent with this index (agents 0..3).
        agent: Option<usize>,
    }

    #[derive(Clone, Debug)]
    struct ActionGen {
        /// 0..3 agents, 3 = the delegated child.
        who: usize,
        action: usize,
        size: Option<u64>,
        repo: bool,
        count: Option<u64>,
        hour: u64,
        gap_s: i64,
    }

    fn condition(kind: usize, n: u64, agent_names: &[&str]) -> Value {
        match kind % 5 {
            0 => json!({"field": "pr_size", "operator": "lt", "value": n % 200}),
            1 => json!({"field": "@agent.name", "operator": "eq",
                        "value": agent_names[(n as usize) % agent_names.len()]}),
            2 => json!({"field": "@time.hour", "operator": "gte", "value": n % 24}),
            3 => json!({"field": "@data.count", "operator": "lte", "value": n % 10}),
            _ => json!({"field": "repo", "operator": "starts_with", "value": "acme/"}),
        }
    }

    fn manifest(policies: &[PolicyGen], agent_ids: &[String]) -> String {
        let names = ["bot-0", "bot-1", "bot-2", "child"];
        let ps: Vec<Value> = policies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut v = json!({
                    "name": format!("p{i}"),
                    "action_type": PATTERNS[p.pattern % PATTERNS.len()],
                    "effect": EFFECTS[p.effect % EFFECTS.len()],
                    "conditions": p.conditions.iter().map(|&(k, n)| condition(k, n, &names)).collect::<Vec<_>>(),
                });
                if let Some(a) = p.agent {
                    v["agents"] = json!([agent_ids[a % agent_ids.len()]]);
                }
                v
            })
            .collect();
        json!({"version": 1, "policies": ps}).to_string()
    }

    fn policy() -> impl Strategy<Value = PolicyGen> {
        (
            0..PATTERNS.len(),
            0..EFFECTS.len(),
            prop::collection::vec((0usize..5, 0u64..400), 0..3),
            prop::option::weighted(0.25, 0usize..4),
        )
            .prop_map(|(pattern, effect, conditions, agent)| PolicyGen {
                pattern,
                effect,
                conditions,
                agent,
            })
    }

    fn action() -> impl Strategy<Value = ActionGen> {
        (
            0usize..4,
            0..TYPES.len(),
            prop::option::of(0u64..200),
            any::<bool>(),
            prop::option::of(0u64..12),
            0u64..24,
            1i64..4000,
        )
            .prop_map(|(who, action, size, repo, count, hour, gap_s)| ActionGen {
                who,
                action,
                size,
                repo,
                count,
                hour,
                gap_s,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn a_manifest_simulated_against_its_own_log_changes_nothing(
            policies in prop::collection::vec(policy(), 0..8),
            actions in prop::collection::vec(action(), 1..40),
            delegate in any::<bool>(),
        ) {
            let mut h = Host::new(scenario_config(), "acme", "2026-11-23T08:00:00Z");
            let mut agents: Vec<(String, String)> =
                (0..3).map(|i| h.register(&format!("bot-{i}"))).collect();
            if delegate {
                let parent = agents[0].1.clone();
                agents.push(h.delegate(&parent, "child", &["pr.*", "deploy.*", "ci.*"]));
            }
            let ids: Vec<String> = agents.iter().map(|a| a.0.clone()).collect();
            let text = manifest(&policies, &ids);
            h.import(&text);
            for a in &actions {
                h.tick(a.gap_s * 1000);
                let Some((_, key)) = agents.get(a.who).cloned() else { continue };
                let mut meta = Map::new();
                if let Some(s) = a.size {
                    meta.insert("pr_size".into(), json!(s));
                }
                if a.repo {
                    meta.insert("repo".into(), json!("acme/web"));
                }
                let mut body = json!({
                    "action_type": TYPES[a.action],
                    "metadata": meta,
                    "timestamp": format!("2026-11-23T{:02}:30:00Z", a.hour),
                });
                if let Some(c) = a.count {
                    body["data_accessed"] = json!([{"type": "rows", "count": c}]);
                }
                h.act(&key, body);
            }
            let new = set(&text);
            for base in [None, Some(&new)] {
                let r = run_lines(&h.jsonl(), &new, base, SimulationOptions::new(SEED)).unwrap();
                prop_assert!(!r.has_changes(), "{}", r.to_json());
                prop_assert_eq!(r.totals.same_status_other_policy, 0, "{}", r.to_json());
                prop_assert_eq!(r.totals.baseline_mismatches, base.map(|_| 0));
                prop_assert_eq!(r.totals.in_window, r.totals.simulated + r.totals.held);
            }
        }
    }
}

#[test]
fn the_self_simulation_property_can_fail() {
    // Break the subject once: a set that differs in one condition must
    // report the entries it decides differently.
    let log = read("log.jsonl");
    let tweaked = read("old.yaml").replace("value: 100", "value: 99");
    let r = run_lines(&log, &set(&tweaked), None, SimulationOptions::new(SEED)).unwrap();
    assert!(r.has_changes());
    assert_eq!(r.totals.changed, 1, "{}", r.to_json());
}

mod memory {
    //! Streaming in constant memory: the peak heap use of a simulation
    //! does not grow with the log.

    use super::*;

    /// A log of `n` actions by four agents, with decisions that change
    /// under `new.yaml` in several cells, and approvals that time out.
    fn log(n: usize) -> String {
        let mut h = Host::new(scenario_config(), "acme", "2026-11-23T08:00:00Z");
        let keys: Vec<String> = (0..4).map(|i| h.register(&format!("bot-{i}")).1).collect();
        h.import(&read("old.yaml"));
        for i in 0..n {
            h.tick(61_000);
            let key = &keys[i % keys.len()];
            let body = match i % 5 {
                0 => pr((i % 150) as u64, "acme/web"),
                1 => plain("db.drop"),
                2 => plain("reports.daily"),
                3 => plain("deploy.staging"),
                _ => json!({"action_type": "docs.edit", "metadata": {"page": i}}),
            };
            h.act(key, body);
            if i % 50 == 0 {
                h.timers();
            }
        }
        h.jsonl()
    }

    fn peak(text: &str, new: &PolicySet) -> (u64, SimulationReport) {
        let mut report = None;
        let info = allocation_counter::measure(|| {
            let mut sim = Simulator::new(new, None, SimulationOptions::new(SEED));
            for line in text.split_inclusive('\n') {
                sim.push_line(line.as_bytes()).unwrap();
            }
            report = Some(sim.finish().unwrap());
        });
        (info.bytes_max, report.unwrap())
    }

    #[test]
    fn peak_heap_use_does_not_grow_with_the_log() {
        let new = set(&read("new.yaml"));
        let (small_log, big_log) = (log(1000), log(10_000));
        let (small, rs) = peak(&small_log, &new);
        let (big, rb) = peak(&big_log, &new);
        assert!(
            rb.log.rows > 9 * rs.log.rows,
            "{} vs {}",
            rb.log.rows,
            rs.log.rows
        );
        assert!(rb.totals.changed > 9 * rs.totals.changed);
        // The same bounded state either way once the example lists are
        // full (measured: the peak is flat from 1 000 actions on): the same
        // agents and policies, the open approvals of one timeout window.
        // 2 KiB of slack for one line's buffers.
        assert!(
            big <= small + 2048,
            "peak {small} bytes over {} rows, {big} bytes over {} rows",
            rs.log.rows,
            rb.log.rows
        );
    }
}
