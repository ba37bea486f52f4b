//! The decision-only path makes no heap allocation (counted, not timed).

use al_policy::{ActionRequest, Agent, Limits, PolicySet, Status, Timestamp};

fn set_with_fillers(fillers: usize) -> PolicySet {
    let mut text = String::from("version: 1\npolicies:\n");
    for i in 0..fillers {
        text.push_str(&format!(
            "  - {{name: p{i}, action_type: svc{i}.op, effect: allow}}\n"
        ));
    }
    text.push_str(
        r#"  - name: merge
    action_type: pr.*
    effect: allow
    conditions:
      - {field: pr_size, operator: lt, value: 100}
      - {field: repo.owner, operator: in, value: [acme, globex]}
      - {field: branch, operator: matches, value: "^release/[0-9]+"}
      - {field: "@data.max_sensitivity", operator: lte, value: medium}
      - {field: "@data.types", operator: not_in, value: [pii]}
  - {name: star, action_type: "*", effect: deny, conditions: [{field: "@time.hour", operator: gte, value: 0}]}
"#,
    );
    PolicySet::from_text(&text).unwrap()
}

#[test]
fn evaluate_makes_zero_allocations() {
    let set = set_with_fillers(200);
    let now = Timestamp::from_unix_seconds(1_764_331_200).unwrap();
    let req = ActionRequest::from_json(
        r#"{"action_type":"pr.merge.fast","metadata":{"pr_size":5,"repo":{"owner":"acme"},"branch":"release/12"},
            "data_accessed":[{"type":"source_code","count":3,"sensitivity":"low"}]}"#,
        now,
        &Limits::default(),
    )
    .unwrap();
    let miss =
        ActionRequest::from_json(r#"{"action_type":"zz.top"}"#, now, &Limits::default()).unwrap();
    let agent = Agent {
        id: "agt_1",
        name: "bot",
    };
    // Warm up: the regex sizes its per-thread scratch space on first use.
    assert_eq!(set.evaluate(&req, &agent).status, Status::Executed);
    let info = allocation_counter::measure(|| {
        for _ in 0..100 {
            let d = set.evaluate(&req, &agent);
            assert_eq!(d.status, Status::Executed);
            let d = set.evaluate(&miss, &agent);
            assert_eq!(d.status, Status::Denied);
        }
    });
    assert_eq!(info.count_total, 0, "evaluate allocated: {info:?}");
}

/// An explanation allocates for what it reports (the matching policies and
/// the decider's conditions), never in proportion to the size of the set.
#[test]
fn explain_allocations_do_not_grow_with_the_set() {
    let now = Timestamp::from_unix_seconds(1_764_331_200).unwrap();
    let req = ActionRequest::from_json(
        r#"{"action_type":"pr.merge.fast","metadata":{"pr_size":5,"repo":{"owner":"acme"},"branch":"release/12"},
            "data_accessed":[{"type":"source_code","count":3,"sensitivity":"low"}]}"#,
        now,
        &Limits::default(),
    )
    .unwrap();
    let agent = Agent {
        id: "agt_1",
        name: "bot",
    };
    let count = |fillers: usize| {
        let set = set_with_fillers(fillers);
        let _warm = set.explain(&req, &agent);
        allocation_counter::measure(|| {
            let e = set.explain(&req, &agent);
            assert_eq!(e.status, Status::Executed);
            assert_eq!(e.matched.len(), 2);
        })
        .count_total
    };
    let (small, large) = (count(10), count(2_000));
    assert_eq!(small, large, "explain allocations grew with the set");
}

#[test]
fn policy_set_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicySet>();
}
