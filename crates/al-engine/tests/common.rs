//! Shared fixtures: an engine with one org, a manifest, agents, a clock,
//! and wrappers that check every error appends nothing.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use al_engine::{
    ActionAnswer, ActionCall, DeterministicEntropy, Effects, Engine, EngineConfig, EngineError,
    GovernanceEvent, ImportOptions,
};
use al_types::{Digest, Timestamp};

pub const MANIFEST: &str = r#"version: 1
policies:
  - name: merge-small-prs
    action_type: pr.merge
    effect: allow
    conditions:
      - { field: pr_size, operator: lt, value: 100 }
  - name: production-deploys
    action_type: deploy.*
    effect: require_approval
    approval: { timeout: 8h, escalate_after: 2h }
  - name: no-schema-drops
    action_type: db.drop
    effect: deny
  - name: read-only-db
    action_type: db.*
    effect: allow
  - name: ci
    action_type: ci.*
    effect: allow
"#;

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

pub const T0: &str = "2026-11-28T09:00:00Z";
pub const MIN: i64 = 60_000;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn config() -> EngineConfig {
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

/// An engine with org `acme`, the manifest imported, a clock, and the
/// entries persisted so far, per org.
pub struct Fx {
    pub e: Engine,
    pub svc: String,
    pub now: Timestamp,
    pub rng: DeterministicEntropy,
    pub logs: BTreeMap<String, Vec<Vec<u8>>>,
    pub events: Vec<GovernanceEvent>,
}

impl Fx {
    pub fn new() -> Fx {
        Fx::with(config())
    }

    pub fn bare(cfg: EngineConfig) -> Fx {
        Fx {
            e: Engine::new(cfg),
            svc: String::new(),
            now: t(T0),
            rng: DeterministicEntropy::new(1),
            logs: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    pub fn with(cfg: EngineConfig) -> Fx {
        let mut f = Fx::bare(cfg);
        let org = f.run(|e, now, rng| e.create_org(now, "acme", rng)).unwrap();
        f.svc = org.service_key.expose().to_owned();
        let svc = f.svc.clone();
        f.run(|e, now, _| e.import_policies(now, &svc, MANIFEST, ImportOptions::default()))
            .unwrap();
        f
    }

    /// The entries of `acme` persisted so far.
    pub fn log(&self) -> &[Vec<u8>] {
        self.logs.get("acme").map_or(&[], Vec::as_slice)
    }

    fn heads(&self) -> Vec<(String, (u64, Digest))> {
        self.e
            .org_ids()
            .map(|o| (o.to_owned(), self.e.head(o).unwrap()))
            .collect()
    }

    /// Persist effects, checking they chain onto what we hold.
    pub fn keep(&mut self, fx: Effects) {
        for s in fx.entries {
            let log = self.logs.entry(s.org_id.to_string()).or_default();
            assert_eq!(s.row, log.len() as u64 + 1, "rows are contiguous");
            log.push(s.bytes);
        }
        self.events.extend(fx.events);
    }

    /// A mutating call: on success keep its effects; on error check that
    /// nothing was appended anywhere.
    pub fn run<T>(
        &mut self,
        f: impl FnOnce(
            &mut Engine,
            Timestamp,
            &mut DeterministicEntropy,
        ) -> Result<(T, Effects), EngineError>,
    ) -> Result<T, EngineError> {
        let before = self.heads();
        match f(&mut self.e, self.now, &mut self.rng) {
            Ok((v, fx)) => {
                self.keep(fx);
                Ok(v)
            }
            Err(e) => {
                assert_eq!(self.heads(), before, "an error appended something: {e}");
                Err(e)
            }
        }
    }

    /// A read: never appends.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Engine, Timestamp) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let before = self.heads();
        let r = f(&self.e, self.now);
        assert_eq!(self.heads(), before, "a read appended something");
        r
    }

    pub fn tick(&mut self, ms: i64) {
        self.now = self.now.saturating_add_millis(ms);
    }

    pub fn timers(&mut self) -> Effects {
        let fx = self.e.handle_timeout(self.now);
        let kept = fx.clone();
        self.keep(fx);
        kept
    }

    pub fn register(&mut self, name: &str) -> (String, String) {
        let body = format!(r#"{{"name": "{name}", "description": "test agent"}}"#);
        let svc = self.svc.clone();
        let r = self
            .run(|e, now, rng| e.register_agent(now, &svc, &body, rng))
            .unwrap();
        (r.id, r.api_key.expose().to_owned())
    }

    pub fn act(
        &mut self,
        key: &str,
        body: &str,
        event_id: Option<&str>,
    ) -> Result<ActionAnswer, EngineError> {
        self.act_as(key, body, event_id, None)
    }

    pub fn act_as(
        &mut self,
        key: &str,
        body: &str,
        event_id: Option<&str>,
        delegation_id: Option<&str>,
    ) -> Result<ActionAnswer, EngineError> {
        self.run(|e, now, _| {
            e.submit_action(
                now,
                &ActionCall {
                    api_key: key,
                    body,
                    event_id,
                    delegation_id,
                },
            )
        })
    }

    pub fn operate(
        &mut self,
        agent_id: &str,
        cmd: al_engine::BreakerCommand,
    ) -> Result<al_engine::AgentStatus, EngineError> {
        let svc = self.svc.clone();
        self.run(|e, now, _| e.operate_breaker(now, &svc, agent_id, cmd, r#"{"by": "ops"}"#))
    }

    /// A fresh engine restored from the entries we kept.
    pub fn restored(&self) -> Engine {
        let mut e = Engine::new(self.e.config().clone());
        for (org, log) in &self.logs {
            e.restore_org(org, log.iter().map(Vec::as_slice)).unwrap();
        }
        e
    }

    pub fn assert_restores(&self) {
        let r = self.restored();
        for org in self.logs.keys() {
            assert_eq!(
                String::from_utf8_lossy(r.snapshot(org).unwrap().as_bytes()),
                String::from_utf8_lossy(self.e.snapshot(org).unwrap().as_bytes()),
            );
        }
        assert_eq!(r.poll_timeout(), self.e.poll_timeout());
    }

    /// Calibrate `key` calmly (2 actions a minute for 20 minutes of `ci.*`).
    pub fn calibrate(&mut self, key: &str) {
        for i in 0..40 {
            self.tick(30_000);
            let at = if i % 2 == 0 { "ci.run" } else { "ci.test" };
            self.act(key, &format!(r#"{{"action_type": "{at}"}}"#), None)
                .unwrap();
        }
    }
}

/// Compare `value` with the golden file `testdata/engine/<name>`; with
/// `AL_BLESS=1` in the environment (as everywhere in the repository),
/// write it instead.
pub fn golden(name: &str, value: &serde_json::Value) {
    let path = root().join("testdata/engine").join(name);
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("AL_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with AL_BLESS=1)", path.display()));
    assert_eq!(
        text,
        want,
        "{} differs (AL_BLESS=1 rewrites it)",
        path.display()
    );
}
