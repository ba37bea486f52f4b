//! Lint warnings, with locations.

use al_policy::{Code, Manifest, Severity, lint};

#[test]
fn lint_finds_each_kind_with_location() {
    let text = r#"version: 1
policies:
  - {name: everything, action_type: "*", effect: allow}
  - {name: deny-db, action_type: db.*, effect: deny}
  - {name: allow-db, action_type: db.*, effect: allow}
  - {name: approve-x, action_type: x.y, effect: require_approval, conditions: [{field: a, operator: eq, value: 1}]}
  - {name: allow-x, action_type: x.y, effect: allow}
  - name: silly
    action_type: s.t
    effect: allow
    conditions:
      - {field: size, operator: lt, value: "10"}
      - {field: "@time.hour", operator: eq, value: 25}
      - {field: "@agent.id", operator: eq, value: 5}
      - {field: x, operator: in, value: []}
      - {field: x, operator: matches, value: "[^\\s\\S]"}
  - {name: old, action_type: o.p, effect: allow, enabled: false}
"#;
    let m = Manifest::parse_auto(text).unwrap();
    let w = lint(&m);
    let got: Vec<(Code, Option<&str>, u32)> = w
        .iter()
        .map(|d| {
            (
                d.code,
                d.policy.as_deref(),
                d.location.map_or(0, |l| l.line),
            )
        })
        .collect();
    assert!(w.iter().all(|d| d.severity == Severity::Warning));
    assert_eq!(
        got,
        vec![
            (Code::AllowAll, Some("everything"), 3),
            (Code::Shadowed, Some("allow-db"), 5),
            (Code::Conflict, Some("allow-x"), 6),
            (Code::NeverHolds, Some("silly"), 12),
            (Code::NeverHolds, Some("silly"), 13),
            (Code::NeverHolds, Some("silly"), 14),
            (Code::NeverHolds, Some("silly"), 15),
            (Code::NeverHolds, Some("silly"), 16),
            (Code::Disabled, Some("old"), 17),
        ],
        "{w:#?}"
    );
}

#[test]
fn clean_manifest_has_no_warnings() {
    let m = Manifest::parse_auto(
        "version: 1\npolicies:\n- {name: a, action_type: a.b, effect: allow}\n- {name: b, action_type: a.*, effect: deny}\n",
    )
    .unwrap();
    assert!(lint(&m).is_empty());
}
