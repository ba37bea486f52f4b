//! Shared fixtures: an engine with one org, a manifest, agents, a clock.

#![allow(dead_code)]

use al_engine::{
    ActionAnswer, ActionCall, DeterministicEntropy, Effects, Engine, EngineConfig, EngineError,
    ImportOptions,
};
use al_types::Timestamp;

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

/// An engine with org `acme`, the manifest imported, and a clock.
pub struct Fx {
    pub e: Engine,
    pub svc: String,
    pub now: Timestamp,
    pub rng: DeterministicEntropy,
    pub log: Vec<Vec<u8>>,
}

impl Fx {
    pub fn new() -> Fx {
        Fx::with(config())
    }

    pub fn with(cfg: EngineConfig) -> Fx {
        let mut e = Engine::new(cfg);
        let mut rng = DeterministicEntropy::new(1);
        let now = t(T0);
        let (org, fx) = e.create_org(now, "acme", &mut rng).unwrap();
        let mut f = Fx {
            e,
            svc: org.service_key.expose().to_owned(),
            now,
            rng,
            log: Vec::new(),
        };
        let _ = f.keep(fx);
        let svc = f.svc.clone();
        let (_, fx) =
            f.e.import_policies(f.now, &svc, MANIFEST, ImportOptions::default())
                .unwrap();
        let _ = f.keep(fx);
        f
    }

    /// Persist effects, checking they chain onto what we hold.
    pub fn keep(&mut self, fx: Effects) -> Effects {
        for s in &fx.entries {
            assert_eq!(s.row, self.log.len() as u64 + 1, "rows are contiguous");
            self.log.push(s.bytes.clone());
        }
        fx
    }

    pub fn tick(&mut self, ms: i64) {
        self.now = self.now.saturating_add_millis(ms);
    }

    pub fn register(&mut self, name: &str) -> (String, String) {
        let body = format!(r#"{{"name": "{name}", "description": "test agent"}}"#);
        let svc = self.svc.clone();
        let (r, fx) = self
            .e
            .register_agent(self.now, &svc, &body, &mut self.rng)
            .unwrap();
        let _ = self.keep(fx);
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
        let before = self.e.head("acme").unwrap();
        let r = self.e.submit_action(
            self.now,
            &ActionCall {
                api_key: key,
                body,
                event_id,
                delegation_id,
            },
        );
        match r {
            Ok((a, fx)) => {
                let _ = self.keep(fx);
                Ok(a)
            }
            Err(e) => {
                assert_eq!(
                    self.e.head("acme").unwrap(),
                    before,
                    "an error appends nothing"
                );
                Err(e)
            }
        }
    }

    /// A fresh engine restored from the entries we kept.
    pub fn restored(&self) -> Engine {
        let mut e = Engine::new(self.e.config().clone());
        e.restore_org("acme", self.log.iter().map(Vec::as_slice))
            .unwrap();
        e
    }

    pub fn assert_restores(&self) {
        let r = self.restored();
        assert_eq!(
            String::from_utf8_lossy(r.snapshot("acme").unwrap().as_bytes()),
            String::from_utf8_lossy(self.e.snapshot("acme").unwrap().as_bytes()),
        );
        assert_eq!(r.poll_timeout(), self.e.poll_timeout());
    }
}
