//! Property tests: the indexed evaluator agrees with the naive reference;
//! export is a fixed point; diff(a, a) is all unchanged; YAML and JSON agree.

use al_policy::{
    ActionRequest, Agent, Condition, DataAccess, Digest, Effect, ExportOptions, Field, Format,
    Limits, Manifest, Operator, Pattern, PolicySet, PolicySpec, Sensitivity, Timestamp, diff,
    parse_field, reference,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("c")].prop_map(str::to_owned)
}

fn action_type() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..4).prop_map(|s| s.join("."))
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop_oneof![
        1 => Just(Pattern::Any),
        3 => prop::collection::vec(segment(), 1..3).prop_map(|s| Pattern::Prefix(s.join("."))),
        3 => action_type().prop_map(Pattern::Exact),
    ]
}

fn effect() -> impl Strategy<Value = Effect> {
    prop_oneof![
        Just(Effect::Allow),
        Just(Effect::Deny),
        Just(Effect::RequireApproval),
        Just(Effect::Conditional)
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(1)),
        Just(json!(2)),
        Just(json!(2.5)),
        Just(json!("x")),
        Just(json!("xy")),
        Just(json!(true)),
        Just(json!(null)),
        Just(json!("low")),
        Just(json!("high")),
        Just(json!("pii")),
        Just(json!(12)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(Value::Array),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        Just("x"),
        Just("y"),
        Just("o.k"),
        Just("@agent.id"),
        Just("@agent.name"),
        Just("@data.count"),
        Just("@data.max_sensitivity"),
        Just("@data.types"),
        Just("@time.hour"),
        Just("@time.weekday"),
    ]
    .prop_map(|s| parse_field(s, 8).unwrap())
}

fn condition() -> impl Strategy<Value = Condition> {
    (
        field(),
        prop::sample::select(Operator::ALL.to_vec()),
        value(),
        prop::sample::select(vec!["^x", "y$", "[0-9]", "a|p"]),
    )
        .prop_map(|(field, operator, value, re)| {
            let value = match operator {
                Operator::Exists | Operator::NotExists => None,
                Operator::Matches => Some(json!(re)),
                Operator::In | Operator::NotIn if !value.is_array() => Some(json!([value])),
                _ => Some(value),
            };
            Condition {
                field,
                operator,
                value,
            }
        })
}

fn policy(i: usize) -> impl Strategy<Value = PolicySpec> {
    policy_with(i, 0..3)
}

fn policy_with(i: usize, conditions: std::ops::Range<usize>) -> impl Strategy<Value = PolicySpec> {
    (
        pattern(),
        effect(),
        prop::option::weighted(
            0.3,
            prop::sample::subsequence(vec!["agt_1", "agt_2", "agt_3"], 1..3),
        ),
        prop::collection::vec(condition(), conditions),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.08),
    )
        .prop_map(
            move |(action_type, effect, agents, conditions, enabled, tampered)| PolicySpec {
                name: format!("p{i:02}"),
                description: None,
                action_type,
                effect,
                agents: agents.map(|a| a.into_iter().map(str::to_owned).collect()),
                conditions,
                approval: None,
                enabled,
                id: None,
                version: None,
                created_at: None,
                digest: tampered.then_some(Digest([7; 32])),
            },
        )
}

fn manifest() -> impl Strategy<Value = Manifest> {
    manifest_of(0..12)
}

fn manifest_of(sizes: std::ops::Range<usize>) -> impl Strategy<Value = Manifest> {
    sizes
        .prop_flat_map(|n| (0..n).map(policy).collect::<Vec<_>>())
        .prop_filter_map("invalid combination", |ps| {
            Manifest::from_policies(ps, &Limits::default()).ok()
        })
}

/// Policies with up to 6 conditions, so that evaluation often stops at a
/// false condition before the last.
fn manifest_many_conditions() -> impl Strategy<Value = Manifest> {
    (0usize..10)
        .prop_flat_map(|n| (0..n).map(|i| policy_with(i, 0..7)).collect::<Vec<_>>())
        .prop_filter_map("invalid combination", |ps| {
            Manifest::from_policies(ps, &Limits::default()).ok()
        })
}

fn request() -> impl Strategy<Value = (ActionRequest, &'static str)> {
    (
        action_type(),
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(scalar()),
        prop::collection::vec(
            (
                prop::sample::select(vec!["pii", "docs", "code"]),
                0u64..600,
                prop::option::of(0usize..5),
            ),
            0..3,
        ),
        0i64..(14 * 86_400),
        prop::sample::select(vec!["agt_1", "agt_2", "agt_9"]),
    )
        .prop_map(|(at, x, y, k, data, secs, agent)| {
            let mut meta = serde_json::Map::new();
            if let Some(x) = x {
                meta.insert("x".into(), x);
            }
            if let Some(y) = y {
                meta.insert("y".into(), y);
            }
            if let Some(k) = k {
                meta.insert("o".into(), json!({"k": k}));
            }
            let levels = [
                Sensitivity::Public,
                Sensitivity::Low,
                Sensitivity::Medium,
                Sensitivity::High,
                Sensitivity::Critical,
            ];
            let data = data
                .into_iter()
                .map(|(t, count, s)| DataAccess {
                    data_type: t.into(),
                    count,
                    sensitivity: s.map(|i| levels[i]),
                })
                .collect();
            let ts = Timestamp::from_unix_seconds(1_764_000_000 + secs).unwrap();
            (
                ActionRequest::new(at, ts, data, meta, &Limits::default()).unwrap(),
                agent,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn indexed_agrees_with_reference(m in manifest(), reqs in prop::collection::vec(request(), 1..8)) {
        let set = PolicySet::compile(&m);
        for (req, agent) in &reqs {
            let agent = Agent { id: agent, name: "agent-name" };
            let d = set.evaluate(req, &agent);
            let r = reference::evaluate(&m, req, &agent);
            prop_assert_eq!(
                (d.status, d.denial_reason, d.policy.map(|p| p.name().to_owned())),
                (r.status, r.denial_reason, r.policy)
            );
            let e = set.explain(req, &agent);
            prop_assert_eq!(e.status, d.status);
            prop_assert_eq!(e.matched.iter().filter(|m| m.role == al_policy::MatchRole::Decided).count(), usize::from(d.policy.is_some()));
        }
    }

    /// `evaluate_with_conditions` (the engine's hot path) against
    /// `explain`: same decision, same deciding
    /// policy, same `conditions_evaluated`; and against `evaluate`.
    #[test]
    fn evaluate_with_conditions_agrees_with_explain(
        m in prop_oneof![manifest(), manifest_many_conditions()],
        reqs in prop::collection::vec(request(), 1..8),
    ) {
        let set = PolicySet::compile(&m);
        for (req, agent) in &reqs {
            let agent = Agent { id: agent, name: "agent-name" };
            let mut conditions = Vec::new();
            let d = set.evaluate_with_conditions(req, &agent, &mut conditions);
            let plain = set.evaluate(req, &agent);
            let e = set.explain(req, &agent);
            prop_assert_eq!(
                (d.status, d.denial_reason, d.policy.map(|p| p.name().to_owned())),
                (e.status, e.denial_reason, e.policy.as_ref().map(|p| p.name.clone()))
            );
            prop_assert_eq!(
                (plain.status, plain.denial_reason, plain.policy.map(|p| p.name())),
                (d.status, d.denial_reason, d.policy.map(|p| p.name()))
            );
            prop_assert_eq!(&conditions, &e.conditions_evaluated);
            if conditions.is_empty() {
                prop_assert_eq!(conditions.capacity(), 0, "allocated for no conditions");
            }
        }
    }

    #[test]
    fn export_is_a_fixed_point_and_formats_agree(m in manifest()) {
        let opts = ExportOptions::default();
        let yaml = m.to_yaml(opts).unwrap();
        let json = m.to_json(opts).unwrap();
        let from_yaml = Manifest::parse(&yaml, Format::Yaml).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        let from_json = Manifest::parse(&json, Format::Json).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        prop_assert_eq!(from_yaml.to_yaml(opts).unwrap(), yaml.clone());
        prop_assert_eq!(from_json.to_json(opts).unwrap(), json);
        prop_assert_eq!(&from_yaml, &from_json);
        let untampered = |m: &Manifest| {
            let ps = m.clone().into_policies().into_iter().map(|mut p| { p.digest = None; p }).collect();
            Manifest::from_policies(ps, &Limits::default()).unwrap()
        };
        prop_assert_eq!(PolicySet::compile(&from_yaml).digest(), PolicySet::compile(&untampered(&m)).digest());
        prop_assert_eq!(PolicySet::compile(&from_json).digest(), PolicySet::compile(&from_yaml).digest());
        prop_assert!(diff(&m, &from_yaml).modified.is_empty());
        // With server fields the recorded digests are the real ones: nothing is tampered.
        let stored = m.to_yaml(ExportOptions { include_server_fields: true }).unwrap();
        let back = Manifest::parse(&stored, Format::Yaml).unwrap();
        prop_assert_eq!(PolicySet::compile(&back).tampered().count(), 0);
    }

    #[test]
    fn diff_with_itself_is_all_unchanged(m in manifest()) {
        let d = diff(&m, &m);
        prop_assert!(d.added.is_empty() && d.removed.is_empty() && d.modified.is_empty());
        prop_assert_eq!(d.unchanged.len(), m.len());
    }

    #[test]
    fn diff_reports_edits(m in manifest_of(1..12), new_effect in effect()) {
        let mut ps = m.clone().into_policies();
        let changed = ps[0].effect != new_effect;
        ps[0].effect = new_effect;
        let removed = ps.pop().unwrap().name;
        let n = Manifest::from_policies(ps, &Limits::default()).unwrap();
        let d = diff(&m, &n);
        prop_assert_eq!(d.removed, vec![removed.clone()]);
        if changed && removed != m.policies()[0].name {
            prop_assert_eq!(&d.modified[0].fields, &vec!["effect"]);
        }
    }
}

/// Past 64 conditions, and after the first false one (where the decision
/// stops), `evaluate_with_conditions` still reports every condition: the
/// list equals `explain`'s.
#[test]
fn evaluate_with_conditions_past_64_conditions() {
    let cond = |f: &str, v: Value| Condition {
        field: parse_field(f, 8).unwrap(),
        operator: Operator::Eq,
        value: Some(v),
    };
    for (false_at, effect) in [
        (None, Effect::Allow),
        (Some(3), Effect::Allow),
        (Some(66), Effect::Allow),
        (Some(69), Effect::Conditional),
        (None, Effect::RequireApproval),
    ] {
        let conditions: Vec<Condition> = (0..70)
            .map(|i| {
                let want = if Some(i) == false_at { 2 } else { 1 };
                cond("x", json!(want))
            })
            .collect();
        let spec = PolicySpec {
            name: "many".into(),
            description: None,
            action_type: Pattern::Exact("a.b".into()),
            effect,
            agents: None,
            conditions,
            approval: None,
            enabled: true,
            id: None,
            version: None,
            created_at: None,
            digest: None,
        };
        let limits = Limits::builder().max_conditions(100).build().unwrap();
        let m = Manifest::from_policies(vec![spec], &limits).unwrap();
        let set = PolicySet::compile_with(&m, &limits);
        let mut meta = serde_json::Map::new();
        meta.insert("x".into(), json!(1));
        let ts = Timestamp::from_unix_seconds(1_764_000_000).unwrap();
        let req = ActionRequest::new("a.b", ts, vec![], meta, &limits).unwrap();
        let agent = Agent {
            id: "agt_1",
            name: "n",
        };
        let mut got = Vec::new();
        let d = set.evaluate_with_conditions(&req, &agent, &mut got);
        let e = set.explain(&req, &agent);
        assert_eq!((d.status, d.denial_reason), (e.status, e.denial_reason));
        assert_eq!(got, e.conditions_evaluated, "false at {false_at:?}");
        assert_eq!(got.len(), 70);
        assert_eq!(
            got.iter().filter(|c| !c.result).count(),
            usize::from(false_at.is_some())
        );
    }
}

#[test]
fn yaml_and_json_of_the_same_manifest_agree() {
    let yaml = "version: 1\npolicies:\n  - name: p\n    action_type: a.*\n    effect: conditional\n    agents: [b, a, b]\n    conditions:\n      - {field: n, operator: in, value: [1, 2.5, \"x\", true, null]}\n    approval: {timeout: 90m}\n";
    let json = r#"{"version": 1, "policies": [{"name": "p", "action_type": "a.*", "effect": "conditional", "agents": ["a", "b"],
        "conditions": [{"field": "n", "operator": "in", "value": [1, 2.5, "x", true, null]}], "approval": {"timeout": 5400}}]}"#;
    let a = Manifest::parse(yaml, Format::Yaml).unwrap();
    let b = Manifest::parse(json, Format::Json).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        PolicySet::compile(&a).digest(),
        PolicySet::compile(&b).digest()
    );
    assert_eq!(
        a.to_yaml(ExportOptions::default()).unwrap(),
        b.to_yaml(ExportOptions::default()).unwrap()
    );
}
