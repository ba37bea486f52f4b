//! Random operation sequences over every operation, checked against a
//! naive model after every step. Shared by the model-based property test
//! and the `engine_ops` fuzz target; not part of the stable API.
//!
//! After every step:
//! - an error appended nothing and changed no org's state (snapshot bytes);
//! - `restore(entries)` of every org equals the live org (snapshot bytes,
//!   head, `poll_timeout`), and `restore(snapshot taken earlier, entries)`
//!   equals it too;
//! - the model's predictions hold: KILLED is absorbing, a replayed event id
//!   answers the original result (or `IDEMPOTENCY_CONFLICT`), a revoked or
//!   expired delegation is `DELEGATION_INACTIVE`, an out-of-scope action is
//!   `DELEGATION_SCOPE`, children never exceed their parent's scope or
//!   lifetime, a decided approval never changes, a denied action never
//!   executes (no `action.executed` event for it).
//!
//! Why one file (about 950 lines): one job. The operation grammar, the
//! model that predicts each operation's answer and the checks after every
//! step change together; apart, a new operation would need three edits in
//! three files that must agree. The `simulate_log` target's harness, a
//! job of its own, is the submodule `fuzzing/simulate_log.rs`.
// A test harness (behind the `fuzzing` feature): assertions and table lookups by
// design, never reachable from the library's API.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod simulate_log;

use std::collections::BTreeMap;

use al_types::{ErrorCode, Timestamp};

use crate::{
    ActionCall, ActionResult, ActionStatus, BreakerCommand, DenialReason, DeterministicEntropy,
    Effects, Engine, EngineConfig, EngineError, EventData, EventType, ImportOptions, Snapshot,
};

pub use simulate_log::simulate_log;

const ACTION_TYPES: [&str; 7] = [
    "ci.run",
    "pr.merge",
    "deploy.prod",
    "db.drop",
    "db.read",
    "email.send",
    "ops.restart",
];
const METADATA: [&str; 4] = [
    "{}",
    r#"{"pr_size": 42}"#,
    r#"{"pr_size": 420, "env": "prod"}"#,
    r#"{"env": "dev", "tags": ["a", 1.5, null]}"#,
];
const DATA: [&str; 3] = [
    "[]",
    r#"[{"type": "code", "count": 3, "sensitivity": "low"}]"#,
    r#"[{"type": "pii", "count": 5000, "sensitivity": "critical"}]"#,
];
const CAPABILITIES: [&[&str]; 5] = [
    &["ci.*"],
    &["db.*"],
    &["db.read", "ci.run"],
    &["*"],
    &["deploy.*", "pr.merge"],
];
const MANIFESTS: [&str; 4] = [
    r#"version: 1
policies:
  - { name: ci, action_type: ci.*, effect: allow }
  - name: merge
    action_type: pr.merge
    effect: allow
    conditions:
      - { field: pr_size, operator: lt, value: 100 }
  - name: deploys
    action_type: deploy.*
    effect: require_approval
    approval: { timeout: 10m, escalate_after: 2m }
  - { name: no-drops, action_type: db.drop, effect: deny }
  - { name: db, action_type: db.*, effect: allow }
"#,
    r#"version: 1
policies:
  - { name: ci, action_type: ci.*, effect: deny }
  - { name: email, action_type: email.*, effect: allow }
  - name: ops
    action_type: ops.*
    effect: conditional
    conditions:
      - { field: env, operator: eq, value: dev }
    approval: { timeout: 3m }
"#,
    r#"version: 1
policies:
  - { name: everything, action_type: "*", effect: allow }
  - { name: deploys, action_type: deploy.*, effect: require_approval, approval: { timeout: 1h } }
"#,
    "version: 1\npolicies:\n  - name: broken\n    efect: allow\n",
];

/// One operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Advance the clock by this many seconds.
    Tick(u32),
    /// Move the clock back by this many seconds (the engine clamps).
    Back(u16),
    /// Create org `o{n}` (a second time: `409 ORG_EXISTS`).
    CreateOrg(u8),
    /// Register an agent in an org.
    Register(u8),
    /// Submit an action.
    Act {
        who: u8,
        kind: u8,
        meta: u8,
        data: u8,
        /// `X-AL-Event-ID`: none, or one of a few ids.
        event: Option<u8>,
        /// 0: no header; 1: the agent's own delegation id; 2: a bogus one.
        header: u8,
    },
    /// Create a delegation.
    Delegate { who: u8, caps: u8, ttl: u16 },
    /// Revoke a delegation; `by_service` uses the org's service key.
    Revoke {
        who: u8,
        target: u8,
        by_service: bool,
    },
    /// Approve or deny an approval.
    Decide { target: u8, approve: bool },
    /// Report an outcome.
    Report { who: u8, target: u8, status: u8 },
    /// Import a manifest.
    Import {
        org: u8,
        manifest: u8,
        dry_run: bool,
        prune: bool,
    },
    /// An operator command.
    Operate { target: u8, cmd: u8 },
    /// Rotate an agent's key.
    Rotate { who: u8 },
    /// Fire due timers.
    Timers,
    /// Take a snapshot of every org (used by later snapshot+tail checks).
    Snapshot,
}

/// Decode fuzz bytes into operations (4 bytes each).
#[must_use]
pub fn decode(data: &[u8]) -> Vec<Op> {
    data.chunks(4)
        .map(|c| {
            let b = |i: usize| c.get(i).copied().unwrap_or(0);
            match b(0) % 32 {
                0..=9 => Op::Act {
                    who: b(1),
                    kind: b(2) % 8,
                    meta: (b(2) >> 3) % 4,
                    data: (b(3) >> 4) % 3,
                    event: (b(3) & 8 != 0).then_some(b(3) & 3),
                    header: (b(2) >> 5) % 3,
                },
                10..=12 => Op::Tick(u32::from(b(1)) * u32::from(b(2) % 16 + 1)),
                13 => Op::Tick(u32::from(b(1)) * 3600),
                14 => Op::Back(u16::from(b(1))),
                15 => Op::CreateOrg(b(1) % 3),
                16 | 17 => Op::Register(b(1)),
                18 | 19 => Op::Delegate {
                    who: b(1),
                    caps: b(2),
                    ttl: u16::from(b(3)) * 8 + 1,
                },
                20 => Op::Revoke {
                    who: b(1),
                    target: b(2),
                    by_service: b(3) & 1 == 1,
                },
                21 | 22 => Op::Decide {
                    target: b(1),
                    approve: b(2) & 1 == 1,
                },
                23 => Op::Report {
                    who: b(1),
                    target: b(2),
                    status: b(3) % 4,
                },
                24 | 25 => Op::Import {
                    org: b(1) % 3,
                    manifest: b(2) % 4,
                    dry_run: b(3) & 1 == 1,
                    prune: b(3) & 2 == 2,
                },
                26 | 27 => Op::Operate {
                    target: b(1),
                    cmd: b(2) % 5,
                },
                28 => Op::Rotate { who: b(1) },
                29 | 30 => Op::Timers,
                _ => Op::Snapshot,
            }
        })
        .collect()
}

struct OrgSlot {
    id: String,
    svc: String,
    log: Vec<Vec<u8>>,
    snapshot: Option<Snapshot>,
}

struct AgentSlot {
    org: usize,
    id: String,
    key: String,
    delegation: Option<usize>,
    killed: bool,
}

struct DelegationSlot {
    id: String,
    parent: usize,
    caps: Vec<String>,
    expires_at: Timestamp,
    revoked: bool,
}

struct ActionSlot {
    org: usize,
    agent: usize,
    id: String,
    status: ActionStatus,
}

/// The engine, the model, and what has been persisted.
pub struct Harness {
    e: Engine,
    now: Timestamp,
    rng: DeterministicEntropy,
    orgs: Vec<OrgSlot>,
    agents: Vec<AgentSlot>,
    delegations: Vec<DelegationSlot>,
    actions: Vec<ActionSlot>,
    approvals: Vec<(usize, String, Option<&'static str>)>,
    replay: BTreeMap<(usize, u8), (String, Option<String>, ActionResult)>,
    /// Audit ids of refused actions: none may ever be executed.
    refused: Vec<(String, String)>,
    /// Successful and failed steps.
    pub ok: usize,
    pub errors: usize,
    /// How often each error code, action status and denial reason was seen.
    pub seen: BTreeMap<String, usize>,
    /// Check restore after every `restore_every`-th step (1: every step).
    pub restore_every: usize,
    steps: usize,
}

/// A config with a short calibration, so sequences reach every breaker state.
#[must_use]
pub fn config() -> EngineConfig {
    let breaker = al_breaker::BreakerConfig::builder()
        .calibration_min_actions(10)
        .calibration_min_duration_ms(5 * 60_000)
        .quiet_period_ms(5 * 60_000)
        .build();
    let mut b = EngineConfig::builder([3; 16]).max_agents_per_org(40);
    if let Ok(breaker) = breaker {
        b = b.breaker(breaker);
    }
    match b.build() {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn pick<T>(v: &[T], i: u8) -> Option<(usize, &T)> {
    if v.is_empty() {
        None
    } else {
        let k = usize::from(i) % v.len();
        v.get(k).map(|x| (k, x))
    }
}

/// Whether every action type pattern `c` matches is matched by one of `parent`
/// (a naive reference for the engine's containment check).
fn naive_within(c: &str, parent: &[String]) -> bool {
    parent.iter().any(|p| {
        p == "*"
            || p == c
            || (p.ends_with(".*") && c != "*" && {
                let pre = &p[..p.len() - 1];
                c.starts_with(pre) && c.len() > pre.len()
            })
    })
}

fn naive_matches(p: &str, at: &str) -> bool {
    p == "*" || p == at || (p.ends_with(".*") && at.starts_with(&p[..p.len() - 1]))
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    #[must_use]
    pub fn new() -> Harness {
        Harness {
            e: Engine::new(config()),
            now: Timestamp::parse_rfc3339("2026-11-28T09:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH),
            rng: DeterministicEntropy::new(7),
            orgs: Vec::new(),
            agents: Vec::new(),
            delegations: Vec::new(),
            actions: Vec::new(),
            approvals: Vec::new(),
            replay: BTreeMap::new(),
            refused: Vec::new(),
            ok: 0,
            errors: 0,
            seen: BTreeMap::new(),
            restore_every: 1,
            steps: 0,
        }
    }

    fn snapshots(&self) -> Vec<Vec<u8>> {
        self.orgs
            .iter()
            .map(|o| {
                self.e
                    .snapshot(&o.id)
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default()
            })
            .collect()
    }

    fn keep(&mut self, fx: Effects) {
        for s in fx.entries {
            let Some(o) = self.orgs.iter_mut().find(|o| *o.id == *s.org_id) else {
                panic!("entry for an unknown org {}", s.org_id);
            };
            assert_eq!(s.row, o.log.len() as u64 + 1, "rows are contiguous");
            o.log.push(s.bytes);
        }
        for ev in fx.events {
            if ev.event_type == EventType::ActionExecuted
                && let EventData::Action {
                    audit_event_id,
                    decision_event_id: None,
                    ..
                } = &ev.data
            {
                let id = audit_event_id.to_string();
                assert!(
                    !self
                        .refused
                        .iter()
                        .any(|(o, r)| **o == *ev.org_id && *r == id),
                    "a refused action executed"
                );
            }
        }
    }

    /// A mutating call: keep the effects, or check an error changed nothing.
    fn call<T>(
        &mut self,
        f: impl FnOnce(
            &mut Engine,
            Timestamp,
            &mut DeterministicEntropy,
        ) -> Result<(T, Effects), EngineError>,
    ) -> Result<T, EngineError> {
        let before = self.snapshots();
        let heads: Vec<_> = self.orgs.iter().map(|o| self.e.head(&o.id).ok()).collect();
        match f(&mut self.e, self.now, &mut self.rng) {
            Ok((v, fx)) => {
                self.keep(fx);
                self.ok += 1;
                Ok(v)
            }
            Err(err) => {
                assert_ne!(err.code(), "INTERNAL", "{err}");
                *self.seen.entry(err.code().to_owned()).or_default() += 1;
                let after: Vec<_> = self.orgs.iter().map(|o| self.e.head(&o.id).ok()).collect();
                assert_eq!(heads, after, "an error appended: {err}");
                assert!(self.snapshots() == before, "an error changed state: {err}");
                self.errors += 1;
                Err(err)
            }
        }
    }

    fn live(&self, agent: usize) -> bool {
        self.agents.get(agent).is_some_and(|a| !a.killed)
    }

    /// The time an operation on the agent's org runs at (`now`, clamped to
    /// the org's last entry).
    fn at(&self, agent: usize) -> Timestamp {
        self.agents
            .get(agent)
            .and_then(|a| self.orgs.get(a.org))
            .and_then(|o| self.e.org_clock(&o.id).ok())
            .map_or(self.now, |c| c.max(self.now))
    }

    /// The model's view: is the agent's delegation chain inactive?
    fn chain_inactive(&self, agent: usize) -> bool {
        let now = self.at(agent);
        let mut cur = self.agents.get(agent).and_then(|a| a.delegation);
        while let Some(d) = cur.and_then(|i| self.delegations.get(i)) {
            if d.revoked || now >= d.expires_at {
                return true;
            }
            cur = self.agents.get(d.parent).and_then(|a| a.delegation);
        }
        false
    }

    /// Run one operation and check the model.
    pub fn step(&mut self, op: &Op) {
        match *op {
            Op::Tick(s) => self.now = self.now.saturating_add_millis(i64::from(s) * 1000),
            Op::Back(s) => self.now = self.now.saturating_add_millis(-i64::from(s) * 1000),
            Op::CreateOrg(n) => {
                let id = format!("o{n}");
                let exists = self.orgs.iter().any(|o| o.id == id);
                if !exists {
                    self.orgs.push(OrgSlot {
                        id: id.clone(),
                        svc: String::new(),
                        log: Vec::new(),
                        snapshot: None,
                    });
                }
                let r = self.call(|e, now, rng| e.create_org(now, &id, rng));
                match (r, exists) {
                    (Ok(c), false) => {
                        if let Some(o) = self.orgs.last_mut() {
                            o.svc = c.service_key.expose().to_owned();
                        }
                    }
                    (Err(e), true) => assert_eq!(e.code(), "ORG_EXISTS"),
                    (r, _) => panic!("create_org: {r:?}"),
                }
            }
            Op::Register(n) => {
                let Some((org, o)) = pick(&self.orgs, n) else {
                    return;
                };
                let svc = o.svc.clone();
                let body = format!(r#"{{"name": "agent-{}"}}"#, self.agents.len());
                if let Ok(r) = self.call(|e, now, rng| e.register_agent(now, &svc, &body, rng)) {
                    self.agents.push(AgentSlot {
                        org,
                        id: r.id,
                        key: r.api_key.expose().to_owned(),
                        delegation: None,
                        killed: false,
                    });
                }
            }
            Op::Act {
                who,
                kind,
                meta,
                data,
                event,
                header,
            } => self.act(who, kind, meta, data, event, header),
            Op::Delegate { who, caps, ttl } => self.delegate(who, caps, ttl),
            Op::Revoke {
                who,
                target,
                by_service,
            } => self.revoke(who, target, by_service),
            Op::Decide { target, approve } => {
                let Some((k, (org, id, decided))) = pick(&self.approvals, target) else {
                    return;
                };
                let (org, id, decided) = (*org, id.clone(), *decided);
                let Some(svc) = self.orgs.get(org).map(|o| o.svc.clone()) else {
                    return;
                };
                let body = format!(
                    r#"{{"decision": "{}", "reviewer": "r"}}"#,
                    if approve { "approve" } else { "deny" }
                );
                let r = self.call(|e, now, _| e.decide_approval(now, &svc, &id, &body));
                match (r, decided) {
                    (Ok(v), None) => {
                        let s = v.status.as_str();
                        assert_eq!(s, if approve { "approved" } else { "denied" });
                        if let Some(a) = self.approvals.get_mut(k) {
                            a.2 = Some(s);
                        }
                    }
                    (Err(e), _) => {
                        assert_eq!(e.code(), "APPROVAL_NOT_PENDING", "{e}");
                        let now = self
                            .e
                            .approval_status(self.now, &svc, &id)
                            .map(|v| v.status.as_str());
                        if let Ok(s) = now {
                            if let Some(d) = decided {
                                assert_eq!(s, d, "a decided approval changed");
                            }
                            if let Some(a) = self.approvals.get_mut(k) {
                                a.2 = Some(s);
                            }
                        }
                    }
                    (Ok(v), Some(d)) => panic!("decided twice: {d} then {v:?}"),
                }
            }
            Op::Report {
                who,
                target,
                status,
            } => {
                let Some((agent, a)) = pick(&self.agents, who) else {
                    return;
                };
                let key = a.key.clone();
                let Some((_, act)) = pick(&self.actions, target) else {
                    return;
                };
                let (owner, id, st, same_org) =
                    (act.agent, act.id.clone(), act.status, act.org == a.org);
                let s = ["success", "failure", "partial", "bogus"][usize::from(status % 4)];
                let body =
                    format!(r#"{{"audit_event_id": "{id}", "outcome": {{"status": "{s}"}}}}"#);
                let r = self.call(|e, now, _| e.report_outcome(now, &key, &body));
                if let Ok(v) = &r
                    && same_org
                {
                    assert_eq!(owner, agent, "an outcome by someone else");
                    assert!(st != ActionStatus::Denied && st != ActionStatus::PolicyNotFound);
                    assert_eq!(v.status.as_str(), s);
                }
            }
            Op::Import {
                org,
                manifest,
                dry_run,
                prune,
            } => {
                let Some((_, o)) = pick(&self.orgs, org) else {
                    return;
                };
                let svc = o.svc.clone();
                let text = MANIFESTS[usize::from(manifest % 4)];
                let r = self.call(|e, now, _| {
                    e.import_policies(
                        now,
                        &svc,
                        text,
                        ImportOptions {
                            format: None,
                            dry_run,
                            prune,
                        },
                    )
                });
                assert_eq!(r.is_err(), manifest % 4 == 3, "{r:?}");
            }
            Op::Operate { target, cmd } => {
                let Some((agent, a)) = pick(&self.agents, target) else {
                    return;
                };
                let (id, org) = (a.id.clone(), a.org);
                let Some(svc) = self.orgs.get(org).map(|o| o.svc.clone()) else {
                    return;
                };
                let cmd = [
                    BreakerCommand::Halt,
                    BreakerCommand::Resume,
                    BreakerCommand::Kill,
                    BreakerCommand::Recalibrate,
                    BreakerCommand::CompleteCalibration,
                ][usize::from(cmd % 5)];
                let was_killed = !self.live(agent);
                let r = self
                    .call(|e, now, _| e.operate_breaker(now, &svc, &id, cmd, r#"{"by": "op"}"#));
                if was_killed {
                    assert_eq!(
                        r.map(|_| ()).unwrap_err().code(),
                        "AGENT_KILLED",
                        "KILLED is absorbing"
                    );
                } else if r.is_ok() && cmd == BreakerCommand::Kill {
                    if let Some(a) = self.agents.get_mut(agent) {
                        a.killed = true;
                    }
                    // What it delegated is revoked.
                    for d in &mut self.delegations {
                        if d.parent == agent {
                            d.revoked = true;
                        }
                    }
                }
            }
            Op::Rotate { who } => {
                let Some((agent, a)) = pick(&self.agents, who) else {
                    return;
                };
                let (key, id) = (a.key.clone(), a.id.clone());
                let alive = self.live(agent);
                let r = self.call(|e, now, rng| e.rotate_agent_key(now, &key, &id, rng));
                match r {
                    Ok(k) => {
                        assert!(alive);
                        if let Some(a) = self.agents.get_mut(agent) {
                            a.key = k.api_key.expose().to_owned();
                        }
                        let e = self.e.whoami(self.now, &key).map(|_| ()).unwrap_err();
                        assert_eq!(e.code(), "UNAUTHORIZED", "the old key still works");
                    }
                    Err(e) => assert!(!alive && e.code() == "AGENT_KILLED", "{e}"),
                }
            }
            Op::Timers => {
                let before: Vec<_> = self.orgs.iter().map(|o| self.e.head(&o.id).ok()).collect();
                let fx = self.e.handle_timeout(self.now);
                let n = fx.entries.len();
                self.keep(fx);
                let after: Vec<_> = self.orgs.iter().map(|o| self.e.head(&o.id).ok()).collect();
                assert!(n > 0 || before == after);
                assert!(
                    self.e.poll_timeout().is_none_or(|t| t > self.now),
                    "a due timer is left"
                );
                // Expired delegations are recorded once: a second call does nothing.
                assert!(
                    self.e.handle_timeout(self.now).is_empty(),
                    "timers fired twice"
                );
            }
            Op::Snapshot => {
                for o in &mut self.orgs {
                    o.snapshot = self.e.snapshot(&o.id).ok();
                }
            }
        }
        self.steps += 1;
        if self.steps.is_multiple_of(self.restore_every.max(1)) {
            self.check_restore();
        }
    }

    fn act(&mut self, who: u8, kind: u8, meta: u8, data: u8, event: Option<u8>, header: u8) {
        let Some((agent, a)) = pick(&self.agents, who) else {
            return;
        };
        let key = a.key.clone();
        let org = a.org;
        let at = ACTION_TYPES[usize::from(kind % 7)];
        let body = format!(
            r#"{{"action_type": "{at}", "metadata": {}, "data_accessed": {}, "timestamp": "{}"}}"#,
            METADATA[usize::from(meta % 4)],
            DATA[usize::from(data % 3)],
            self.now
        );
        let own = a
            .delegation
            .and_then(|d| self.delegations.get(d))
            .map(|d| d.id.clone());
        let header_value = match header {
            1 => own.clone(),
            2 => Some("dlg_bogus".to_owned()),
            _ => None,
        };
        let event_id = event.map(|e| format!("ev-{e}"));
        let r = self.call(|e, now, _| {
            e.submit_action(
                now,
                &ActionCall {
                    api_key: &key,
                    body: &body,
                    event_id: event_id.as_deref(),
                    delegation_id: header_value.as_deref(),
                },
            )
        });
        // Replay: same action → the original; different → conflict.
        if let Some(ev) = event
            && let Some((orig_body, orig_header, orig)) = self.replay.get(&(agent, ev))
        {
            // Bodies differ only in `timestamp` when the action is the same.
            let strip = |b: &str| b.split(r#", "timestamp""#).next().unwrap_or("").to_owned();
            let same_delegation = own.is_some() || *orig_header == header_value;
            match &r {
                Ok(a) if strip(orig_body) == strip(&body) && same_delegation => {
                    assert_eq!((a.http_status, a.replayed), (409, true));
                    assert_eq!(&a.result, orig, "a replay answers the original");
                }
                Err(e) if e.code() == "IDEMPOTENCY_CONFLICT" => {
                    assert!(strip(orig_body) != strip(&body) || !same_delegation);
                }
                other => panic!("replay of ev-{ev}: {other:?}"),
            }
            return;
        }
        if !self.live(agent) {
            assert_eq!(
                r.map(|_| ()).unwrap_err().code(),
                "AGENT_KILLED",
                "KILLED is absorbing"
            );
            return;
        }
        if header == 2 {
            assert_eq!(r.map(|_| ()).unwrap_err().code(), "FORBIDDEN");
            return;
        }
        if self.chain_inactive(agent) {
            assert_eq!(r.map(|_| ()).unwrap_err().code(), "DELEGATION_INACTIVE");
            return;
        }
        let caps = self
            .agents
            .get(agent)
            .and_then(|a| a.delegation)
            .and_then(|d| self.delegations.get(d))
            .map(|d| d.caps.clone());
        let out_of_scope = caps
            .as_ref()
            .is_some_and(|c| !c.iter().any(|p| naive_matches(p, at)));
        match r {
            Ok(a) => {
                if out_of_scope {
                    assert_eq!(a.result.denial_reason, Some(DenialReason::DelegationScope));
                } else {
                    assert_ne!(a.result.denial_reason, Some(DenialReason::DelegationScope));
                }
                assert_eq!(a.http_status, a.result.status.http_status());
                *self
                    .seen
                    .entry(a.result.status.as_str().to_owned())
                    .or_default() += 1;
                if let Some(r) = a.result.denial_reason {
                    *self.seen.entry(r.code().to_owned()).or_default() += 1;
                }
                let id = a.result.audit_event_id.to_string();
                if a.result.status.is_refusal()
                    && let Some(o) = self.orgs.get(org)
                {
                    self.refused.push((o.id.clone(), id.clone()));
                }
                if let Some(apr) = &a.result.approval_id {
                    self.approvals.push((org, apr.clone(), None));
                }
                self.actions.push(ActionSlot {
                    org,
                    agent,
                    id,
                    status: a.result.status,
                });
                if let Some(ev) = event {
                    self.replay
                        .insert((agent, ev), (body, header_value, a.result));
                }
            }
            Err(e) => {
                assert!(!out_of_scope, "an out-of-scope action errs: {e}");
                assert_eq!(e.code(), "RATE_LIMITED", "{e}");
            }
        }
    }

    fn delegate(&mut self, who: u8, caps: u8, ttl: u16) {
        let Some((agent, a)) = pick(&self.agents, who) else {
            return;
        };
        let key = a.key.clone();
        let org = a.org;
        let caps: Vec<String> = CAPABILITIES[usize::from(caps % 5)]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let body = serde_json::json!({"name": "child", "capabilities": caps, "ttl_seconds": ttl})
            .to_string();
        let parent_del = self.agents.get(agent).and_then(|a| a.delegation);
        let r = self.call(|e, now, rng| e.create_delegation(now, &key, &body, rng));
        let parent = parent_del.and_then(|d| self.delegations.get(d));
        match r {
            Ok(d) => {
                assert!(self.live(agent) && !self.chain_inactive(agent));
                if let Some(p) = parent {
                    // Children never exceed their parent's scope or lifetime.
                    assert!(d.expires_at <= p.expires_at, "a child outlives its parent");
                    assert!(
                        caps.iter().all(|c| naive_within(c, &p.caps)),
                        "a child widened {caps:?} ⊄ {:?}",
                        p.caps
                    );
                }
                assert!(d.expires_at <= self.now.max(d.expires_at));
                self.delegations.push(DelegationSlot {
                    id: d.delegation_id,
                    parent: agent,
                    caps,
                    expires_at: d.expires_at,
                    revoked: false,
                });
                self.agents.push(AgentSlot {
                    org,
                    id: d.child_config_id,
                    key: d.child_api_key.expose().to_owned(),
                    delegation: Some(self.delegations.len() - 1),
                    killed: false,
                });
            }
            Err(e) => {
                let widening =
                    parent.is_some_and(|p| !caps.iter().all(|c| naive_within(c, &p.caps)));
                let ok_codes: &[&str] = &[
                    "AGENT_KILLED",
                    "DELEGATION_INACTIVE",
                    "FORBIDDEN",
                    "RATE_LIMITED",
                    "AGENT_HALTED",
                    "LIMIT_REACHED",
                ];
                assert!(ok_codes.contains(&e.code()), "{e}");
                if e.code() == "FORBIDDEN" {
                    assert!(widening, "refused a narrowing delegation: {e}");
                }
                if !self.live(agent) {
                    assert_eq!(e.code(), "AGENT_KILLED");
                }
            }
        }
    }

    fn revoke(&mut self, who: u8, target: u8, by_service: bool) {
        let Some((d, del)) = pick(&self.delegations, target) else {
            return;
        };
        let id = del.id.clone();
        let parent = del.parent;
        let Some(org) = self.agents.get(parent).map(|a| a.org) else {
            return;
        };
        let key = if by_service {
            self.orgs
                .get(org)
                .map(|o| o.svc.clone())
                .unwrap_or_default()
        } else {
            match pick(&self.agents, who) {
                Some((_, a)) => a.key.clone(),
                None => return,
            }
        };
        let r = self.call(|e, now, _| e.revoke_delegation(now, &key, &id));
        if let Ok(res) = r {
            assert!(res.revoked);
            // Revocation cascades to every descendant.
            let mut stack = vec![d];
            while let Some(i) = stack.pop() {
                if let Some(x) = self.delegations.get_mut(i) {
                    x.revoked = true;
                }
                let child = self.agents.iter().position(|a| a.delegation == Some(i));
                if let Some(c) = child {
                    stack.extend(
                        self.delegations
                            .iter()
                            .enumerate()
                            .filter(|(_, x)| x.parent == c)
                            .map(|(k, _)| k),
                    );
                }
            }
        }
    }

    /// Restore every org from its entries, and from its last snapshot plus
    /// the entries after it, and compare with the live engine.
    pub fn check_restore(&self) {
        let mut full = Engine::new(self.e.config().clone());
        let mut from_snap = Engine::new(self.e.config().clone());
        for o in &self.orgs {
            if let Err(err) = full.restore_org(&o.id, o.log.iter().map(Vec::as_slice)) {
                panic!("restore of {}: {err}", o.id);
            }
            let live = self.e.snapshot(&o.id).map(|s| s.as_bytes().to_vec()).ok();
            let restored = full.snapshot(&o.id).map(|s| s.as_bytes().to_vec()).ok();
            assert!(live == restored, "restore differs from live for {}", o.id);
            assert_eq!(full.head(&o.id).ok(), self.e.head(&o.id).ok());
            if let Some(s) = &o.snapshot {
                if let Err(err) =
                    from_snap.restore_org_from_snapshot(s, o.log.iter().map(Vec::as_slice))
                {
                    panic!("snapshot restore of {}: {err}", o.id);
                }
                let snap = from_snap
                    .snapshot(&o.id)
                    .map(|s| s.as_bytes().to_vec())
                    .ok();
                assert!(
                    snap == live,
                    "snapshot + tail differs from full replay for {}",
                    o.id
                );
            }
        }
        assert_eq!(
            full.poll_timeout(),
            self.e.poll_timeout(),
            "timers differ after restore"
        );
        // The single-lookup key index agrees with the orgs' own, live and restored.
        if let Err(e) = self.e.check_key_index() {
            panic!("live key index: {e}");
        }
        if let Err(e) = full.check_key_index() {
            panic!("restored key index: {e}");
        }
    }
}

/// Run a sequence with every check (panics on a violation), restore
/// included after every step. Returns the harness for statistics.
#[must_use]
pub fn run_checked(ops: &[Op]) -> Harness {
    run_checked_every(ops, 1)
}

/// As [`run_checked`], checking restore after every `n`-th step and at the
/// end (the fuzz target uses this to run faster).
#[must_use]
pub fn run_checked_every(ops: &[Op], n: usize) -> Harness {
    let mut h = Harness::new();
    h.restore_every = n;
    // Every sequence starts with an org and two agents, so short inputs act.
    for op in [Op::CreateOrg(0), Op::Register(0), Op::Register(0)] {
        h.step(&op);
    }
    for op in ops {
        h.step(op);
    }
    h.check_restore();
    h
}
