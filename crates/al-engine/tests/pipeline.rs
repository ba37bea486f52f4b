//! The action pipeline end to end.

use al_engine::{ActionStatus, DenialReason};
use al_types::ErrorCode;

use crate::common::Fx;

#[test]
fn every_status_and_replay_and_restore() {
    let mut f = Fx::new();
    let (_, bot) = f.register("release-bot");
    f.tick(60_000);
    let ok = f
        .act(
            &bot,
            r#"{"action_type": "pr.merge", "metadata": {"pr_size": 42}}"#,
            Some("e1"),
        )
        .unwrap();
    assert_eq!(
        (ok.http_status, ok.result.status),
        (200, ActionStatus::Executed)
    );
    assert_eq!(ok.result.conditions_evaluated.len(), 1);
    let big = f
        .act(
            &bot,
            r#"{"action_type": "pr.merge", "metadata": {"pr_size": 420}}"#,
            Some("e2"),
        )
        .unwrap();
    assert_eq!(big.result.status, ActionStatus::Denied);
    assert_eq!(
        big.result.denial_reason,
        Some(DenialReason::ConditionsDenied)
    );
    let dep = f
        .act(&bot, r#"{"action_type": "deploy.production"}"#, Some("e3"))
        .unwrap();
    assert_eq!(
        (dep.http_status, dep.result.status),
        (202, ActionStatus::Requested)
    );
    assert!(
        dep.result
            .approval_id
            .as_deref()
            .unwrap()
            .starts_with("apr_")
    );
    assert!(dep.result.timeout_at.is_some());
    let drop = f.act(&bot, r#"{"action_type": "db.drop"}"#, None).unwrap();
    assert_eq!(drop.result.denial_reason, Some(DenialReason::PolicyDenied));
    let nf = f
        .act(&bot, r#"{"action_type": "email.send"}"#, None)
        .unwrap();
    assert_eq!(nf.result.status, ActionStatus::PolicyNotFound);

    // Replay: same action, new timestamp → 409 with the original result.
    let again = f
        .act(
            &bot,
            r#"{"action_type": "deploy.production", "timestamp": "2026-11-28T10:00:00.123456+00:00"}"#,
            Some("e3"),
        )
        .unwrap();
    assert_eq!(again.http_status, 409);
    assert!(again.replayed);
    assert_eq!(again.result, dep.result);
    // A different action under the same id.
    let e = f
        .act(&bot, r#"{"action_type": "deploy.staging"}"#, Some("e3"))
        .unwrap_err();
    assert_eq!(e.code(), "IDEMPOTENCY_CONFLICT");
    assert_eq!(e.http_status(), 409);
    // Bad body.
    let e = f.act(&bot, r#"{"action_type": "db.*"}"#, None).unwrap_err();
    assert_eq!((e.code(), e.http_status()), ("INVALID_REQUEST", 400));
    let e = f
        .act(&bot, r#"{"action_type": "a", "action_type": "b"}"#, None)
        .unwrap_err();
    assert_eq!(e.code(), "DUPLICATE_KEY");
    // Service keys cannot act.
    let svc = f.svc.clone();
    let e = f
        .act(&svc, r#"{"action_type": "ci.run"}"#, None)
        .unwrap_err();
    assert_eq!(e.code(), "AGENT_KEY_REQUIRED");
    let e = f
        .act("al_live_nope", r#"{"action_type": "ci.run"}"#, None)
        .unwrap_err();
    assert_eq!(e.code(), "UNAUTHORIZED");

    f.assert_restores();
}

/// The allocations one governed action makes, in steady state (an executed
/// action with an event id, one `data_accessed` item and a small metadata
/// object): a budget, so a change that brings back a copy or a parse on
/// the hot path fails here. What they are (measured when the budget was
/// set, 38 per action): the body's metadata map and its strings, the data item, the
/// policy core's request, the conditions evaluated, the sealed entry's
/// bytes, the replay index's key, the event and the answer.
#[test]
fn allocations_per_action_stay_within_budget() {
    const ACTIONS: usize = 200;
    const BUDGET_PER_ACTION: usize = 40;
    let mut f = Fx::new();
    let (_, bot) = f.register("alloc-bot");
    let body = r#"{"action_type": "pr.merge", "timestamp": "2026-11-30T09:00:00Z", "data_accessed": [{"type": "source_code", "count": 5, "sensitivity": "low"}], "metadata": {"pr_size": 42, "repo": {"owner": "acme", "name": "widgets"}, "labels": ["ci", "hotfix"], "title": "fix the retry loop"}}"#;
    let ids: Vec<String> = (0..ACTIONS + 30).map(|i| format!("evt-{i:06}")).collect();
    let mut now = f.now;
    // Warm up: the agent's indexes exist and the breaker calibrates.
    let call = |id| al_engine::ActionCall {
        api_key: &bot,
        body,
        event_id: Some(id),
        delegation_id: None,
    };
    for id in &ids[..30] {
        now = now.saturating_add_millis(30_000);
        let (a, _) = f.e.submit_action(now, &call(id)).unwrap();
        assert_eq!(a.result.status, ActionStatus::Executed);
    }
    let mut executed = 0;
    let info = allocation_counter::measure(|| {
        for id in &ids[30..] {
            now = now.saturating_add_millis(30_000);
            let (a, fx) = f.e.submit_action(now, &call(id)).unwrap();
            if a.result.status == ActionStatus::Executed && fx.entries.len() == 1 {
                executed += 1;
            }
        }
    });
    assert_eq!(executed, ACTIONS);
    let per_action = info.count_total as usize / ACTIONS;
    println!(
        "allocations per action: {per_action} ({} in {ACTIONS})",
        info.count_total
    );
    assert!(
        info.count_total as usize <= BUDGET_PER_ACTION * ACTIONS,
        "{} allocations in {ACTIONS} actions, over the budget of {BUDGET_PER_ACTION} per action",
        info.count_total
    );
}
