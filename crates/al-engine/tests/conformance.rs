//! One test per row of the operation table: the success shape (golden JSON
//! under `testdata/engine/wire/`, with every key the Python SDK 0.4.2 reads
//! as `d["…"]`), every error code the operation can return, and that errors
//! append nothing (the `Fx` wrappers check it on every call).
//!
//! Why one file (1250 lines): one test per row of the operation table,
//! sharing the fixtures (org, keys, manifest) and the golden-JSON
//! comparison; a row's tests are found in table order.

use al_engine::{
    ActionStatus, AuditQuery, BreakerCommand, DelegationFilter, DenialReason, EngineConfig,
    EngineError, Format, ImportOptions, PolicyScope,
};
use al_types::ErrorCode;
use serde_json::{Value, json};

use crate::common::{Fx, MIN, config, golden, t};

/// The keys the SDK reads with `d["…"]` (required), per type.
fn sdk(v: &Value, keys: &[&str]) {
    for k in keys {
        assert!(v.get(k).is_some(), "missing SDK key `{k}` in {v}");
    }
}

fn code(r: Result<impl std::fmt::Debug, EngineError>) -> (&'static str, u16) {
    let e = r.unwrap_err();
    (e.code(), e.http_status())
}

fn j<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

#[test]
fn bootstrap_org_and_service_keys() {
    let mut f = Fx::new();
    assert_eq!(
        code(f.run(|e, now, rng| e.create_org(now, "acme", rng))),
        ("ORG_EXISTS", 409)
    );
    assert_eq!(
        code(f.run(|e, now, rng| e.create_org(now, "bad org!", rng))),
        ("INVALID_REQUEST", 400)
    );
    let other = f
        .run(|e, now, rng| e.create_org(now, "other", rng))
        .unwrap();
    let v = j(&other);
    assert_eq!(v["org_id"], "other");
    assert!(v["service_key"].as_str().unwrap().starts_with("al_svc_"));
    // Debug never shows the key.
    assert!(!format!("{other:?}").contains(other.service_key.expose()));
    golden("wire/create_org.json", &v);

    let issued = f
        .run(|e, now, rng| e.issue_service_key(now, "acme", Some("ci"), rng))
        .unwrap();
    golden("wire/issue_service_key.json", &j(&issued));
    assert_eq!(
        code(f.run(|e, now, rng| e.issue_service_key(now, "nope", None, rng))),
        ("NOT_FOUND", 404)
    );
    assert_eq!(
        code(f.run(|e, now, rng| e.issue_service_key(now, "acme", Some(""), rng))),
        ("INVALID_REQUEST", 400)
    );
    // Rotation: the old key stops working.
    let old = issued.service_key.expose().to_owned();
    let rotated = f
        .run(|e, now, rng| e.rotate_service_key(now, &old, rng))
        .unwrap();
    assert_eq!(
        rotated.revoked_fingerprint.as_deref(),
        Some(issued.fingerprint.as_str())
    );
    assert_eq!(
        code(f.run(|e, now, rng| e.rotate_service_key(now, &old, rng))),
        ("UNAUTHORIZED", 401)
    );
    let (_, agent) = f.register("bot");
    assert_eq!(
        code(f.run(|e, now, rng| e.rotate_service_key(now, &agent, rng))),
        ("SERVICE_KEY_REQUIRED", 403)
    );
    // Revocation; an org keeps at least one service key.
    let svc = f.svc.clone();
    let fp = rotated.fingerprint.clone();
    f.run(|e, now, _| e.revoke_service_key(now, &svc, &fp).map(|fx| ((), fx)))
        .unwrap();
    assert_eq!(
        code(f.run(|e, now, _| e.revoke_service_key(now, &svc, &fp).map(|fx| ((), fx)))),
        ("NOT_FOUND", 404)
    );
    let own = al_engine::fingerprint(&al_types::Digest::of(svc.as_bytes()));
    assert_eq!(
        code(f.run(|e, now, _| e.revoke_service_key(now, &svc, &own).map(|fx| ((), fx)))),
        ("LIMIT_REACHED", 409)
    );
    f.assert_restores();
}

#[test]
fn register_agent() {
    let cfg = EngineConfig::builder([7; 16])
        .max_agents_per_org(2)
        .build()
        .unwrap();
    let mut f = Fx::with(cfg);
    let svc = f.svc.clone();
    let r = f
        .run(|e, now, rng| {
            e.register_agent(
                now,
                &svc,
                r#"{"name": "release-bot", "description": null}"#,
                rng,
            )
        })
        .unwrap();
    let v = j(&r);
    sdk(&v, &["id", "name", "api_key", "created_at"]);
    assert!(v["api_key"].as_str().unwrap().starts_with("al_live_"));
    assert!(!format!("{r:?}").contains(r.api_key.expose()));
    golden("wire/register_agent.json", &v);
    let agent = r.api_key.expose().to_owned();
    let cases: &[(&str, &str, (&str, u16))] = &[
        ("", r#"{"name": "x"}"#, ("UNAUTHORIZED", 401)),
        ("al_svc_unknown", r#"{"name": "x"}"#, ("UNAUTHORIZED", 401)),
        (&agent, r#"{"name": "x"}"#, ("SERVICE_KEY_REQUIRED", 403)),
        (&svc, r#"{}"#, ("INVALID_REQUEST", 400)),
        (&svc, r#"{"name": ""}"#, ("INVALID_REQUEST", 400)),
        (&svc, r#"{"name": 3}"#, ("INVALID_REQUEST", 400)),
        (
            &svc,
            r#"{"name": "x", "nmae": "y"}"#,
            ("INVALID_REQUEST", 400),
        ),
        (
            &svc,
            r#"{"name": "x", "name": "y"}"#,
            ("DUPLICATE_KEY", 400),
        ),
        (&svc, r#"{"name": "x""#, ("INVALID_JSON", 400)),
        (&svc, r#"[1]"#, ("INVALID_REQUEST", 400)),
    ];
    for (key, body, want) in cases {
        assert_eq!(
            code(f.run(|e, now, rng| e.register_agent(now, key, body, rng))),
            *want,
            "{body}"
        );
    }
    // The field is named.
    let e = f
        .run(|e, now, rng| e.register_agent(now, &svc, r#"{"name": "x", "nmae": 1}"#, rng))
        .unwrap_err();
    assert!(e.to_string().contains("`nmae`"), "{e}");
    let e = f
        .run(|e, now, rng| {
            e.register_agent(now, &svc, "{\n  \"name\": \"x\",\n  \"name\": 1}", rng)
        })
        .unwrap_err();
    assert_eq!(e.location().map(|l| l.line), Some(3));
    f.register("second");
    assert_eq!(
        code(f.run(|e, now, rng| e.register_agent(now, &svc, r#"{"name": "third"}"#, rng))),
        ("LIMIT_REACHED", 409)
    );
    // Key rotation: the old key stops working, the agent stays.
    let rot = f
        .run(|e, now, rng| e.rotate_agent_key(now, &agent, &r.id, rng))
        .unwrap();
    golden("wire/rotate_agent_key.json", &j(&rot));
    assert_eq!(
        code(f.read(|e, now| e.whoami(now, &agent))),
        ("UNAUTHORIZED", 401)
    );
    let new = rot.api_key.expose().to_owned();
    assert_eq!(
        f.read(|e, now| e.whoami(now, &new)).unwrap().config_id,
        r.id
    );
    let (other_id, _) = ("agt_nope".to_owned(), ());
    assert_eq!(
        code(f.run(|e, now, rng| e.rotate_agent_key(now, &new, &other_id, rng))),
        ("NOT_FOUND", 404)
    );
    f.assert_restores();
}

#[test]
fn submit_action_every_status_and_error() {
    let mut f = Fx::new();
    let (id, bot) = f.register("release-bot");
    let svc = f.svc.clone();
    let ex = f
        .act(&bot, r#"{"action_type": "pr.merge", "timestamp": "2026-11-28T09:00:00.123456+00:00", "metadata": {"pr_size": 42}}"#, Some("e1"))
        .unwrap();
    let v = j(&ex);
    sdk(&v["result"], &["status", "audit_event_id"]);
    sdk(
        &v["result"]["conditions_evaluated"][0],
        &["field", "operator", "expected", "result"],
    );
    golden("wire/submit_action_executed.json", &v);
    let den = f
        .act(
            &bot,
            r#"{"action_type": "pr.merge", "metadata": {"pr_size": 420}}"#,
            None,
        )
        .unwrap();
    golden("wire/submit_action_denied.json", &j(&den));
    let req = f
        .act(&bot, r#"{"action_type": "deploy.prod"}"#, Some("e3"))
        .unwrap();
    assert_eq!(req.http_status, 202);
    golden("wire/submit_action_requested.json", &j(&req));
    let nf = f
        .act(&bot, r#"{"action_type": "email.send"}"#, None)
        .unwrap();
    assert_eq!(nf.result.status, ActionStatus::PolicyNotFound);
    golden("wire/submit_action_policy_not_found.json", &j(&nf));
    let rep = f
        .act(&bot, r#"{"action_type": "deploy.prod"}"#, Some("e3"))
        .unwrap();
    assert_eq!((rep.http_status, rep.replayed), (409, true));
    golden("wire/submit_action_replay.json", &j(&rep));

    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        (&'a str, u16),
    );
    let cases: &[Case<'_>] = &[
        (
            "",
            r#"{"action_type": "ci.run"}"#,
            None,
            None,
            ("UNAUTHORIZED", 401),
        ),
        (
            &svc,
            r#"{"action_type": "ci.run"}"#,
            None,
            None,
            ("AGENT_KEY_REQUIRED", 403),
        ),
        (
            &bot,
            r#"{"action_type": "ci.*"}"#,
            None,
            None,
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            r#"{"action_type": "ci.run", "timestamp": "yesterday"}"#,
            None,
            None,
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            r#"{"action_type": "ci.run", "data_accessed": [{"type": "x", "sensitivity": "secret"}]}"#,
            None,
            None,
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            r#"{"action_type": "ci.run", "data_accessed": [{"count": 1}]}"#,
            None,
            None,
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            r#"{"action_type": "ci.run", "metadata": []}"#,
            None,
            None,
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            r#"{"action_type": "ci.run", "extra": 1}"#,
            None,
            None,
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            r#"{"action_type": "ci.run", "metadata": {"a": 1, "a": 2}}"#,
            None,
            None,
            ("DUPLICATE_KEY", 400),
        ),
        (
            &bot,
            r#"{"action_type": "ci.run""#,
            None,
            None,
            ("INVALID_JSON", 400),
        ),
        (
            &bot,
            r#"{"action_type": "ci.run"}"#,
            Some("has space"),
            None,
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            r#"{"action_type": "deploy.staging"}"#,
            Some("e3"),
            None,
            ("IDEMPOTENCY_CONFLICT", 409),
        ),
        (
            &bot,
            r#"{"action_type": "ci.run"}"#,
            None,
            Some("dlg_x"),
            ("FORBIDDEN", 403),
        ),
    ];
    for (key, body, ev, dl, want) in cases {
        assert_eq!(code(f.act_as(key, body, *ev, *dl)), *want, "{body}");
    }
    // The field is named.
    let e = f
        .act(
            &bot,
            r#"{"action_type": "ci.run", "data_accessed": [{"type": "x", "count": -1}]}"#,
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("`data_accessed[0].count`"), "{e}");
    // Too large.
    let big = format!(
        r#"{{"action_type": "ci.run", "metadata": {{"x": "{}"}}}}"#,
        "a".repeat(300_000)
    );
    assert_eq!(code(f.act(&bot, &big, None)), ("TOO_LARGE", 413));
    // Too deep.
    let deep = format!(
        r#"{{"action_type": "ci.run", "metadata": {{"x": {}1{}}}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    assert_eq!(code(f.act(&bot, &deep, None)), ("TOO_DEEP", 400));
    // Killed: 403, even for a replayed id? No: replay comes first (the pipeline order).
    f.operate(&id, BreakerCommand::Kill).unwrap();
    let again = f
        .act(&bot, r#"{"action_type": "deploy.prod"}"#, Some("e3"))
        .unwrap();
    assert_eq!(again.http_status, 409);
    assert_eq!(
        code(f.act(&bot, r#"{"action_type": "ci.run"}"#, None)),
        ("AGENT_KILLED", 403)
    );
    f.assert_restores();
}

#[test]
fn throttle_is_429_and_halt_is_a_denial() {
    let mut f = Fx::new();
    let (id, bot) = f.register("loop-bot");
    f.calibrate(&bot);
    let mut limited = None;
    for _ in 0..400 {
        f.tick(500);
        match f.act(&bot, r#"{"action_type": "ci.run"}"#, None) {
            Err(e) => {
                assert_eq!((e.code(), e.http_status()), ("RATE_LIMITED", 429));
                assert!(e.retry_after_ms().unwrap() > 0);
                assert_eq!(
                    e.to_wire()["error"]["retry_after_ms"],
                    e.retry_after_ms().unwrap()
                );
                limited = Some(e);
                break;
            }
            Ok(a) => assert_ne!(a.result.denial_reason, Some(DenialReason::AgentHalted)),
        }
    }
    assert!(limited.is_some(), "the runaway was never rate limited");
    f.operate(&id, BreakerCommand::Halt).unwrap();
    let h = f.act(&bot, r#"{"action_type": "ci.run"}"#, None).unwrap();
    assert_eq!(
        (h.result.status, h.result.denial_reason),
        (ActionStatus::Denied, Some(DenialReason::AgentHalted))
    );
    golden("wire/submit_action_halted.json", &j(&h));
    f.assert_restores();
}

#[test]
fn approvals_status_and_decision() {
    let mut f = Fx::new();
    let (_, bot) = f.register("release-bot");
    let (_, other) = f.register("other-bot");
    let svc = f.svc.clone();
    let a = f
        .act(&bot, r#"{"action_type": "deploy.prod"}"#, None)
        .unwrap();
    let apr = a.result.approval_id.clone().unwrap();
    let st = f.read(|e, now| e.approval_status(now, &bot, &apr)).unwrap();
    sdk(&j(&st), &["status"]);
    assert_eq!(j(&st)["status"], "pending");
    golden("wire/approval_status.json", &j(&st));
    assert_eq!(
        code(f.read(|e, now| e.approval_status(now, &other, &apr))),
        ("FORBIDDEN", 403)
    );
    assert_eq!(
        code(f.read(|e, now| e.approval_status(now, &bot, "apr_nope"))),
        ("NOT_FOUND", 404)
    );
    assert_eq!(
        code(f.read(|e, now| e.approval_status(now, "", &apr))),
        ("UNAUTHORIZED", 401)
    );
    // Decide.
    let cases: &[(&str, &str, (&str, u16))] = &[
        (
            &bot,
            r#"{"decision": "approve", "reviewer": "alice"}"#,
            ("SERVICE_KEY_REQUIRED", 403),
        ),
        (
            &svc,
            r#"{"decision": "maybe", "reviewer": "alice"}"#,
            ("INVALID_REQUEST", 400),
        ),
        (&svc, r#"{"decision": "approve"}"#, ("INVALID_REQUEST", 400)),
        (
            &svc,
            r#"{"decision": "approve", "reviewer": "alice", "x": 1}"#,
            ("INVALID_REQUEST", 400),
        ),
    ];
    for (key, body, want) in cases {
        assert_eq!(
            code(f.run(|e, now, _| e.decide_approval(now, key, &apr, body))),
            *want,
            "{body}"
        );
    }
    assert_eq!(
        code(f.run(|e, now, _| e.decide_approval(
            now,
            &svc,
            "apr_nope",
            r#"{"decision": "deny", "reviewer": "a"}"#
        ))),
        ("NOT_FOUND", 404)
    );
    f.tick(MIN);
    let d = f
        .run(|e, now, _| {
            e.decide_approval(
                now,
                &svc,
                &apr,
                r#"{"decision": "approve", "reviewer": "alice", "comment": "ship it"}"#,
            )
        })
        .unwrap();
    assert_eq!(j(&d)["status"], "approved");
    assert!(!d.policy_changed);
    golden("wire/decide_approval.json", &j(&d));
    assert!(
        f.events
            .iter()
            .any(|e| e.event_type.as_str() == "action.executed")
    );
    assert_eq!(
        code(f.run(|e, now, _| e.decide_approval(
            now,
            &svc,
            &apr,
            r#"{"decision": "deny", "reviewer": "bob"}"#
        ))),
        ("APPROVAL_NOT_PENDING", 409)
    );
    // A policy change between request and decision is reported.
    let b = f
        .act(
            &bot,
            r#"{"action_type": "deploy.prod", "metadata": {"v": 2}}"#,
            None,
        )
        .unwrap();
    let apr2 = b.result.approval_id.unwrap();
    let changed = crate::common::MANIFEST.replace("timeout: 8h", "timeout: 4h");
    f.run(|e, now, _| e.import_policies(now, &svc, &changed, ImportOptions::default()))
        .unwrap();
    let d = f
        .run(|e, now, _| {
            e.decide_approval(
                now,
                &svc,
                &apr2,
                r#"{"decision": "deny", "reviewer": "bob"}"#,
            )
        })
        .unwrap();
    assert!(d.policy_changed);
    assert_eq!(j(&d)["status"], "denied");
    f.assert_restores();
}

#[test]
fn delegations_create_revoke_list() {
    let mut f = Fx::new();
    let (pid, parent) = f.register("orchestrator");
    let (_, stranger) = f.register("stranger");
    let svc = f.svc.clone();
    let body = r#"{"name": "reader", "capabilities": ["db.*", "ci.run"], "ttl_seconds": 600}"#;
    let d = f
        .run(|e, now, rng| e.create_delegation(now, &parent, body, rng))
        .unwrap();
    let v = j(&d);
    sdk(&v, &["delegation_id", "child_api_key"]);
    golden("wire/create_delegation.json", &v);
    let child = d.child_api_key.expose().to_owned();
    let did = d.delegation_id.clone();
    // Within scope: decided by policy; outside: denied DELEGATION_SCOPE.
    let a = f
        .act_as(&child, r#"{"action_type": "db.read"}"#, None, Some(&did))
        .unwrap();
    assert_eq!(a.result.status, ActionStatus::Executed);
    let a = f
        .act_as(&child, r#"{"action_type": "pr.merge"}"#, None, Some(&did))
        .unwrap();
    assert_eq!(a.result.denial_reason, Some(DenialReason::DelegationScope));
    // Without the header the child still acts under its delegation.
    let a = f
        .act(&child, r#"{"action_type": "email.send"}"#, None)
        .unwrap();
    assert_eq!(a.result.denial_reason, Some(DenialReason::DelegationScope));
    assert_eq!(
        code(f.act_as(
            &child,
            r#"{"action_type": "db.read"}"#,
            None,
            Some("dlg_other")
        )),
        ("FORBIDDEN", 403)
    );
    // Grandchild: narrower only; never outlives.
    let g = f
        .run(|e, now, rng| {
            e.create_delegation(
                now,
                &child,
                r#"{"name": "g", "capabilities": ["db.read"], "ttl_seconds": 86400}"#,
                rng,
            )
        })
        .unwrap();
    assert_eq!(g.expires_at, d.expires_at, "clamped to the parent's end");
    let cases: &[(&str, &str, (&str, u16))] = &[
        (
            &child,
            r#"{"name": "g", "capabilities": ["db.*", "email.send"], "ttl_seconds": 10}"#,
            ("FORBIDDEN", 403),
        ),
        (
            &child,
            r#"{"name": "g", "capabilities": ["*"], "ttl_seconds": 10}"#,
            ("FORBIDDEN", 403),
        ),
        (
            &parent,
            r#"{"name": "g", "capabilities": [], "ttl_seconds": 10}"#,
            ("INVALID_REQUEST", 400),
        ),
        (
            &parent,
            r#"{"name": "g", "capabilities": ["db.**"], "ttl_seconds": 10}"#,
            ("INVALID_REQUEST", 400),
        ),
        (
            &parent,
            r#"{"name": "g", "capabilities": ["a", "a"], "ttl_seconds": 10}"#,
            ("INVALID_REQUEST", 400),
        ),
        (
            &parent,
            r#"{"name": "g", "capabilities": ["a"], "ttl_seconds": 0}"#,
            ("INVALID_REQUEST", 400),
        ),
        (
            &parent,
            r#"{"name": "g", "capabilities": ["a"], "ttl_seconds": 86401}"#,
            ("INVALID_REQUEST", 400),
        ),
        (
            &parent,
            r#"{"name": "g", "capabilities": ["a"]}"#,
            ("INVALID_REQUEST", 400),
        ),
        (
            &svc,
            r#"{"name": "g", "capabilities": ["a"], "ttl_seconds": 1}"#,
            ("AGENT_KEY_REQUIRED", 403),
        ),
        (
            "",
            r#"{"name": "g", "capabilities": ["a"], "ttl_seconds": 1}"#,
            ("UNAUTHORIZED", 401),
        ),
    ];
    for (key, body, want) in cases {
        assert_eq!(
            code(f.run(|e, now, rng| e.create_delegation(now, key, body, rng))),
            *want,
            "{body}"
        );
    }
    // List.
    let l = f
        .read(|e, now| e.list_delegations(now, &parent, DelegationFilter::default()))
        .unwrap();
    assert_eq!(l.delegations.len(), 1);
    sdk(&j(&l.delegations[0]), &["id", "expires_at", "active"]);
    golden("wire/list_delegations.json", &j(&l));
    let l = f
        .read(|e, now| {
            e.list_delegations(
                now,
                &child,
                DelegationFilter::from_query(Some("child"), Some("true"))?,
            )
        })
        .unwrap();
    assert_eq!(l.delegations.len(), 1);
    assert_eq!(
        code(DelegationFilter::from_query(Some("boss"), None)),
        ("INVALID_REQUEST", 400)
    );
    // Revoke: only delegators or a service key; cascades; twice is fine.
    assert_eq!(
        code(f.run(|e, now, _| e.revoke_delegation(now, &stranger, &did))),
        ("FORBIDDEN", 403)
    );
    assert_eq!(
        code(f.run(|e, now, _| e.revoke_delegation(now, &parent, "dlg_nope"))),
        ("NOT_FOUND", 404)
    );
    let r = f
        .run(|e, now, _| e.revoke_delegation(now, &parent, &did))
        .unwrap();
    sdk(&j(&r), &["revoked", "delegation_id"]);
    assert_eq!(r.cascaded, vec![g.delegation_id.clone()]);
    golden("wire/revoke_delegation.json", &j(&r));
    let again = f
        .run(|e, now, _| e.revoke_delegation(now, &svc, &did))
        .unwrap();
    assert!(again.revoked && again.cascaded.is_empty());
    assert_eq!(
        code(f.act_as(&child, r#"{"action_type": "db.read"}"#, None, Some(&did))),
        ("DELEGATION_INACTIVE", 403)
    );
    let gk = g.child_api_key.expose().to_owned();
    assert_eq!(
        code(f.act(&gk, r#"{"action_type": "db.read"}"#, None)),
        ("DELEGATION_INACTIVE", 403)
    );
    assert_eq!(
        code(f.run(|e, now, rng| e.create_delegation(
            now,
            &child,
            r#"{"name": "g2", "capabilities": ["db.read"], "ttl_seconds": 5}"#,
            rng
        ))),
        ("DELEGATION_INACTIVE", 403)
    );
    let w = f.read(|e, now| e.whoami(now, &child)).unwrap();
    assert!(!w.is_active);
    assert_eq!(
        f.events
            .iter()
            .filter(|e| e.event_type.as_str() == "delegation.revoked")
            .count(),
        2
    );
    // Killing the delegator revokes what it delegated.
    let d2 = f
        .run(|e, now, rng| e.create_delegation(now, &parent, body, rng))
        .unwrap();
    f.operate(&pid, BreakerCommand::Kill).unwrap();
    let k2 = d2.child_api_key.expose().to_owned();
    assert_eq!(
        code(f.act(&k2, r#"{"action_type": "db.read"}"#, None)),
        ("DELEGATION_INACTIVE", 403)
    );
    f.assert_restores();
}

#[test]
fn policies_export_import_list_check() {
    let mut f = Fx::new();
    let (_, bot) = f.register("release-bot");
    let svc = f.svc.clone();
    // Export, and importing the export is a no-op.
    let ex = f
        .read(|e, _| e.export_policies(&svc, Format::Yaml, false))
        .unwrap();
    golden("wire/export_policies.json", &j(&ex));
    let ex_json = f
        .read(|e, _| e.export_policies(&svc, Format::Json, true))
        .unwrap();
    for text in [&ex.content, &ex_json.content] {
        let r = f
            .run(|e, now, _| e.import_policies(now, &svc, text, ImportOptions::default()))
            .unwrap();
        assert!(
            r.added.is_empty() && r.modified.is_empty() && r.audit_event_ids.is_empty(),
            "{r:?}"
        );
        assert_eq!(r.set_digest, ex.set_digest);
    }
    assert_eq!(
        code(f.read(|e, _| e.export_policies(&bot, Format::Yaml, false))),
        ("SERVICE_KEY_REQUIRED", 403)
    );
    // Dry run, then the change, then prune.
    let next = "version: 1\npolicies:\n  - { name: ci, action_type: ci.*, effect: deny }\n  - { name: email, action_type: email.*, effect: allow }\n";
    let dry = f
        .run(|e, now, _| {
            e.import_policies(
                now,
                &svc,
                next,
                ImportOptions {
                    dry_run: true,
                    prune: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(
        (dry.added.clone(), dry.modified.len(), dry.removed.len()),
        (vec!["email".to_owned()], 1, 4)
    );
    assert!(dry.audit_event_ids.is_empty());
    golden("wire/import_policies_dry_run.json", &j(&dry));
    let done = f
        .run(|e, now, _| {
            e.import_policies(
                now,
                &svc,
                next,
                ImportOptions {
                    prune: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(done.audit_event_ids.len(), 6);
    assert_eq!(
        done.set_digest, dry.set_digest,
        "the dry run names the digest the import gives"
    );
    assert_eq!(
        f.events
            .iter()
            .filter(|e| e.event_type.as_str() == "policy.changed")
            .count(),
        5 + 6
    );
    let l = f
        .read(|e, _| e.list_policies(&bot, PolicyScope::Own))
        .unwrap();
    assert_eq!(l.policies.len(), 2);
    assert_eq!(
        l.policies.iter().find(|p| p.name == "ci").unwrap().version,
        2
    );
    sdk(&j(&l), &["scope"]);
    sdk(
        &j(&l.policies[0]),
        &[
            "id",
            "name",
            "action_type",
            "approval_required",
            "has_conditions",
            "version",
            "created_at",
        ],
    );
    golden("wire/list_policies.json", &j(&l));
    // Errors keep every diagnostic with line and column.
    let bad = "version: 1\npolicies:\n  - name: x\n    action_type: a.b\n    efect: allow\n";
    let e = f
        .run(|e, now, _| e.import_policies(now, &svc, bad, ImportOptions::default()))
        .unwrap_err();
    // Every diagnostic is kept, in source order, each with its location:
    // `effect` is missing (the policy, line 3) and `efect` is unknown (5:5).
    assert_eq!((e.code(), e.http_status()), ("MISSING_FIELD", 400));
    assert_eq!(e.location().map(|l| l.line), Some(3));
    let d = &e.to_wire()["error"]["diagnostics"];
    assert!(
        d.as_array().unwrap().iter().any(|d| d["code"] == "UNKNOWN_KEY"
            && d["location"] == json!({"line": 5, "column": 5})),
        "{d}"
    );
    assert_eq!(
        code(f.run(|e, now, _| e.import_policies(now, &bot, next, ImportOptions::default()))),
        ("SERVICE_KEY_REQUIRED", 403)
    );
    let tampered = "version: 1\npolicies:\n  - { name: ci, action_type: ci.*, effect: allow, digest: \"00000000000000000000000000000000000000000000000000000000000000aa\" }\n";
    assert_eq!(
        code(f.run(|e, now, _| e.import_policies(now, &svc, tampered, ImportOptions::default()))),
        ("POLICY_TAMPERED", 400)
    );
    // Dry run of an action.
    let c = f
        .read(|e, now| e.check_policy(now, &bot, "ci.run"))
        .unwrap();
    assert!(!c.allowed && c.status == ActionStatus::Denied);
    sdk(&j(&c), &["allowed", "needs_approval", "action_type"]);
    golden("wire/check_policy.json", &j(&c));
    let c = f
        .read(|e, now| e.check_policy(now, &bot, "email.send"))
        .unwrap();
    assert!(c.allowed);
    assert_eq!(
        code(f.read(|e, now| e.check_policy(now, &bot, "email.*"))),
        ("INVALID_REQUEST", 400)
    );
    assert_eq!(
        code(f.read(|e, now| e.check_policy(now, &svc, "email.send"))),
        ("AGENT_KEY_REQUIRED", 403)
    );
    assert_eq!(
        code(PolicyScope::from_query(Some("all"))),
        ("INVALID_REQUEST", 400)
    );
    f.assert_restores();
}

#[test]
fn status_and_whoami() {
    let mut f = Fx::new();
    let (id, bot) = f.register("release-bot");
    let svc = f.svc.clone();
    f.run(|e, now, rng| {
        e.create_delegation(
            now,
            &bot,
            r#"{"name": "c", "capabilities": ["ci.*"], "ttl_seconds": 60}"#,
            rng,
        )
    })
    .unwrap();
    let w = f.read(|e, now| e.whoami(now, &bot)).unwrap();
    let v = j(&w);
    sdk(
        &v,
        &["config_id", "name", "org_id", "is_active", "cb_state"],
    );
    assert_eq!(v["cb_state"], "CALIBRATING");
    assert_eq!(w.delegations.as_parent.len(), 1);
    golden("wire/whoami.json", &v);
    let s = f.read(|e, now| e.agent_status(now, &bot)).unwrap();
    golden("wire/agent_status.json", &j(&s));
    assert_eq!(
        code(f.read(|e, now| e.whoami(now, &svc))),
        ("AGENT_KEY_REQUIRED", 403)
    );
    assert_eq!(
        code(f.read(|e, now| e.agent_status(now, "x"))),
        ("UNAUTHORIZED", 401)
    );
    f.operate(&id, BreakerCommand::Kill).unwrap();
    assert_eq!(
        code(f.read(|e, now| e.whoami(now, &bot))),
        ("AGENT_KILLED", 403)
    );
    assert_eq!(
        code(f.read(|e, now| e.agent_status(now, &bot))),
        ("AGENT_KILLED", 403)
    );
}

#[test]
fn audit_query_verify_prove() {
    let mut f = Fx::new();
    let (_, bot) = f.register("release-bot");
    let (_, other) = f.register("other");
    let svc = f.svc.clone();
    for i in 0..7 {
        f.tick(1000);
        f.act(&bot, &format!(r#"{{"action_type": "pr.merge", "metadata": {{"pr_size": {i}, "repo": "acme/x", "pr_number": {i}}}}}"#), None)
            .unwrap();
    }
    f.act(&other, r#"{"action_type": "ci.run"}"#, None).unwrap();
    let p1 = f
        .read(|e, _| {
            e.query_audit(
                &bot,
                &AuditQuery {
                    limit: Some("3"),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(p1.events.len(), 3);
    sdk(
        &j(&p1.events[0]),
        &["id", "action_type", "status", "timestamp", "created_at"],
    );
    assert_eq!(p1.events[0].repo.as_deref(), Some("acme/x"));
    golden("wire/query_audit.json", &j(&p1));
    let cur = p1.next_cursor.clone().unwrap();
    f.act(&bot, r#"{"action_type": "ci.run"}"#, None).unwrap(); // appends do not disturb cursors
    let p2 = f
        .read(|e, _| {
            e.query_audit(
                &bot,
                &AuditQuery {
                    limit: Some("10"),
                    cursor: Some(&cur),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(p2.events.len(), 4);
    assert!(p2.next_cursor.is_none());
    assert!(p2.events.iter().all(|e| e.agent_id.as_deref() != Some("x")));
    let all = f
        .read(|e, _| {
            e.query_audit(
                &svc,
                &AuditQuery {
                    kind: Some("all"),
                    limit: Some("200"),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(all.events.len() as u64, f.e.head("acme").unwrap().0);
    assert!(
        all.events
            .iter()
            .any(|e| e.action_type == "key.agent_registered")
    );
    let cases: &[(&str, AuditQuery<'_>, (&str, u16))] = &[
        (
            &bot,
            AuditQuery {
                cursor: Some("c1_zz"),
                ..Default::default()
            },
            ("INVALID_CURSOR", 400),
        ),
        (
            &bot,
            AuditQuery {
                limit: Some("0"),
                ..Default::default()
            },
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            AuditQuery {
                kind: Some("nope"),
                ..Default::default()
            },
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            AuditQuery {
                since: Some("today"),
                ..Default::default()
            },
            ("INVALID_REQUEST", 400),
        ),
        (
            &bot,
            AuditQuery {
                agent_id: Some("agt_someone"),
                ..Default::default()
            },
            ("FORBIDDEN", 403),
        ),
        ("", AuditQuery::default(), ("UNAUTHORIZED", 401)),
    ];
    for (key, q, want) in cases {
        assert_eq!(code(f.read(|e, _| e.query_audit(key, q))), *want, "{q:?}");
    }
    let v = f.read(|e, now| e.verify_audit(now, &bot)).unwrap();
    let vv = j(&v);
    sdk(
        &vv,
        &[
            "org_id",
            "chain_valid",
            "verified_through_row",
            "verified_from_checkpoint",
            "timestamp",
        ],
    );
    assert!(v.chain_valid);
    golden("wire/verify_audit.json", &vv);
    // Proof, checked against a checkpoint.
    let id = p1.events[0].id.clone();
    let proof = f.read(|e, now| e.prove(now, &other, &id)).unwrap();
    let cp = f.read(|e, now| e.checkpoint(now, &svc)).unwrap();
    proof
        .verify(&al_engine::VerifiedCheckpoint::trust(cp))
        .unwrap();
    // A host clock behind the org's last entry: the checkpoint (like the
    // proof's, and like every operation) is dated at the org's clock.
    let clock = f.read(|e, _| e.org_clock("acme")).unwrap();
    let behind = clock.saturating_add_millis(-3_600_000);
    let cp = f.read(|e, _| e.checkpoint(behind, &svc)).unwrap();
    assert_eq!(cp.timestamp, clock);
    let proof = f.read(|e, _| e.prove(behind, &other, &id)).unwrap();
    assert_eq!(proof.checkpoint.timestamp, clock);
    assert_eq!(
        code(f.read(|e, now| e.prove(now, &bot, "evt_ffffffffffffffff"))),
        ("NOT_FOUND", 404)
    );
    assert_eq!(
        code(f.read(|e, now| e.prove(now, &bot, "row-3"))),
        ("INVALID_REQUEST", 400)
    );
}

#[test]
fn outcome_reports() {
    let mut f = Fx::new();
    let (_, bot) = f.register("release-bot");
    let (_, other) = f.register("other");
    let ok = f
        .act(&bot, r#"{"action_type": "ci.run"}"#, None)
        .unwrap()
        .result
        .audit_event_id
        .to_string();
    let denied = f
        .act(&bot, r#"{"action_type": "db.drop"}"#, None)
        .unwrap()
        .result
        .audit_event_id
        .to_string();
    let body = |id: &str, s: &str| {
        format!(
            r#"{{"audit_event_id": "{id}", "outcome": {{"status": "{s}", "message": "done"}}}}"#
        )
    };
    let r = f
        .run(|e, now, _| e.report_outcome(now, &bot, &body(&ok, "failure")))
        .unwrap();
    sdk(&j(&r), &["audit_event_id", "status", "reported_at"]);
    assert!(r.replaces.is_none());
    f.tick(1000);
    let r2 = f
        .run(|e, now, _| e.report_outcome(now, &bot, &body(&ok, "success")))
        .unwrap();
    assert_eq!(
        r2.replaces,
        Some(r.outcome_event_id),
        "last write wins, history kept"
    );
    golden("wire/report_outcome.json", &j(&r2));
    let cases: Vec<(String, String, (&str, u16))> = vec![
        (other.clone(), body(&ok, "success"), ("FORBIDDEN", 403)),
        (
            bot.clone(),
            body("evt_00000000000000ff", "success"),
            ("NOT_FOUND", 404),
        ),
        (
            bot.clone(),
            body("evt_0000000000000001", "success"),
            ("NOT_FOUND", 404),
        ),
        (
            bot.clone(),
            body(&denied, "success"),
            ("ACTION_NOT_EXECUTED", 409),
        ),
        (bot.clone(), body(&ok, "meh"), ("INVALID_REQUEST", 400)),
        (
            bot.clone(),
            body("nope", "success"),
            ("INVALID_REQUEST", 400),
        ),
        (
            bot.clone(),
            format!(r#"{{"audit_event_id": "{ok}"}}"#),
            ("INVALID_REQUEST", 400),
        ),
        (
            bot.clone(),
            format!(r#"{{"audit_event_id": "{ok}", "outcome": {{"status": "success", "x": 1}}}}"#),
            ("INVALID_REQUEST", 400),
        ),
        (
            f.svc.clone(),
            body(&ok, "success"),
            ("AGENT_KEY_REQUIRED", 403),
        ),
    ];
    for (key, b, want) in &cases {
        assert_eq!(
            code(f.run(|e, now, _| e.report_outcome(now, key, b))),
            *want,
            "{b}"
        );
    }
    let q = f
        .read(|e, _| e.query_audit(&bot, &AuditQuery::default()))
        .unwrap();
    let ev = q.events.iter().find(|e| e.id == ok).unwrap();
    assert_eq!(j(&ev.outcome), json!("success"));
    f.assert_restores();
}

#[test]
fn posture() {
    let mut f = Fx::new();
    let (_, bot) = f.register("release-bot");
    let svc = f.svc.clone();
    f.act(&bot, r#"{"action_type": "ci.run"}"#, None).unwrap();
    f.act(&bot, r#"{"action_type": "email.send"}"#, None)
        .unwrap();
    let p = f.read(|e, now| e.posture(now, &bot)).unwrap();
    let v = j(&p);
    sdk(&v, &["score"]);
    for c in [
        "policy_coverage",
        "approval_rate",
        "anomaly_frequency",
        "chain_integrity",
    ] {
        sdk(&v["components"][c], &["score", "max"]);
    }
    // One of two actions covered: 12.5 rounds half up to 13.
    assert_eq!(p.components["policy_coverage"].score, 13);
    assert_eq!(p.score, 13 + 25 + 25 + 25);
    golden("wire/posture.json", &v);
    // Outside the 30-day window, nothing counts.
    f.tick(31 * 86_400_000);
    let p = f.read(|e, now| e.posture(now, &svc)).unwrap();
    assert_eq!(p.components["policy_coverage"].denominator, 0);
    assert_eq!(
        code(f.read(|e, now| e.posture(now, ""))),
        ("UNAUTHORIZED", 401)
    );
}

#[test]
fn breaker_commands() {
    let mut f = Fx::new();
    let (id, bot) = f.register("release-bot");
    let (_, agent2) = f.register("other");
    let h = f.operate(&id, BreakerCommand::Halt).unwrap();
    assert_eq!(j(&h)["cb_state"], "HALT");
    golden("wire/operate_breaker.json", &j(&h));
    assert!(
        f.events
            .iter()
            .any(|e| e.event_type.as_str() == "enforcement.triggered")
    );
    assert_eq!(
        code(f.operate(&id, BreakerCommand::Recalibrate)),
        ("INVALID_STATE", 409)
    );
    assert_eq!(
        code(f.operate(&id, BreakerCommand::CompleteCalibration)),
        ("INVALID_STATE", 409)
    );
    let r = f.operate(&id, BreakerCommand::Resume).unwrap();
    assert_eq!(j(&r)["cb_state"], "CALIBRATING");
    assert_eq!(
        code(f.operate(&id, BreakerCommand::Resume)),
        ("INVALID_STATE", 409)
    );
    let c = f.operate(&id, BreakerCommand::CompleteCalibration).unwrap();
    assert_eq!(j(&c)["cb_state"], "MONITORING");
    f.operate(&id, BreakerCommand::Recalibrate).unwrap();
    f.operate(&id, BreakerCommand::Kill).unwrap();
    assert_eq!(
        code(f.operate(&id, BreakerCommand::Resume)),
        ("AGENT_KILLED", 403)
    );
    assert_eq!(
        code(f.operate("agt_nope", BreakerCommand::Halt)),
        ("NOT_FOUND", 404)
    );
    let a2 = agent2.clone();
    assert_eq!(
        code(f.run(|e, now, _| e.operate_breaker(
            now,
            &a2,
            &id,
            BreakerCommand::Halt,
            r#"{"by": "x"}"#
        ))),
        ("SERVICE_KEY_REQUIRED", 403)
    );
    let svc = f.svc.clone();
    assert_eq!(
        code(f.run(|e, now, _| e.operate_breaker(now, &svc, &id, BreakerCommand::Halt, r#"{}"#))),
        ("INVALID_REQUEST", 400)
    );
    assert_eq!(
        code(f.act(&bot, r#"{"action_type": "ci.run"}"#, None)),
        ("AGENT_KILLED", 403)
    );
    f.assert_restores();
}

#[test]
fn clock_going_back_is_clamped() {
    let mut f = Fx::new();
    let (_, bot) = f.register("bot");
    f.tick(10 * MIN);
    f.act(&bot, r#"{"action_type": "ci.run"}"#, None).unwrap();
    f.now = t("2026-11-28T08:00:00Z");
    let a = f.act(&bot, r#"{"action_type": "ci.run"}"#, None).unwrap();
    let q = f
        .read(|e, _| e.query_audit(&bot, &AuditQuery::default()))
        .unwrap();
    let newest = &q.events[0];
    assert_eq!(newest.id, a.result.audit_event_id.to_string());
    assert_eq!(
        newest.created_at,
        t("2026-11-28T09:10:00Z"),
        "clamped to the last entry's time"
    );
    f.assert_restores();
}

#[test]
fn config_limits_are_validated() {
    let e = EngineConfig::builder([0; 16])
        .max_delegation_depth(0)
        .build()
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_CONFIG");
    let _ = config();
}
