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
      - {field: "@time.weekday", operator: gt, value: 7}
      - {field: "@time.hour", operator: eq, value: 25}
      - {field: "@time.hour", operator: lt, value: 0}
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

/// Conditions that can never be decided are errors at load, not warnings.
#[test]
fn undecidable_conditions_are_errors() {
    for (cond, fact) in [
        (r#"{field: size, operator: lt, value: "10"}"#, "size"),
        (
            r#"{field: "@agent.id", operator: eq, value: 5}"#,
            "@agent.id",
        ),
        (
            r#"{field: "@agent.name", operator: lt, value: 5}"#,
            "@agent.name",
        ),
        (
            r#"{field: "@agent.id", operator: in, value: [1, 2]}"#,
            "@agent.id",
        ),
        (
            r#"{field: "@data.count", operator: eq, value: "5"}"#,
            "@data.count",
        ),
        (
            r#"{field: "@data.count", operator: starts_with, value: "5"}"#,
            "@data.count",
        ),
        (
            r#"{field: "@data.count", operator: in, value: [a, b]}"#,
            "@data.count",
        ),
        (
            r#"{field: "@time.hour", operator: contains, value: 1}"#,
            "@time.hour",
        ),
        (
            r#"{field: "@data.max_sensitivity", operator: starts_with, value: lo}"#,
            "@data.max_sensitivity",
        ),
        (
            r#"{field: "@data.max_sensitivity", operator: matches, value: "^h"}"#,
            "@data.max_sensitivity",
        ),
        (
            r#"{field: "@data.max_sensitivity", operator: contains, value: high}"#,
            "@data.max_sensitivity",
        ),
        (
            r#"{field: "@data.types", operator: lt, value: 1}"#,
            "@data.types",
        ),
        (
            r#"{field: "@data.types", operator: eq, value: [pii, 1]}"#,
            "@data.types",
        ),
        (
            r#"{field: "@data.types", operator: in, value: [1]}"#,
            "@data.types",
        ),
        (
            r#"{field: "@data.types", operator: contains, value: 1}"#,
            "@data.types",
        ),
        (
            r#"{field: "@data.types", operator: starts_with, value: p}"#,
            "@data.types",
        ),
    ] {
        let text = format!(
            "version: 1\npolicies:\n  - {{name: p, action_type: a.b, effect: deny, conditions: [{cond}]}}\n"
        );
        let e = Manifest::parse_auto(&text).unwrap_err();
        let d = &e.diagnostics()[0];
        assert_eq!(d.code, Code::ValueType, "{cond}: {e}");
        assert!(d.message.contains("can never be decided"), "{cond}: {e}");
        assert!(d.message.contains(fact), "{cond}: {e}");
        assert_eq!(d.location.map(|l| l.line), Some(3), "{cond}");
    }
    // Decidable neighbours load.
    for cond in [
        r#"{field: size, operator: lt, value: 10}"#,
        r#"{field: "@agent.id", operator: in, value: [agt_1, 2]}"#,
        r#"{field: "@data.count", operator: in, value: []}"#,
        r#"{field: "@data.types", operator: eq, value: []}"#,
        r#"{field: "@data.types", operator: contains, value: pii}"#,
        r#"{field: "@data.max_sensitivity", operator: in, value: [low, high]}"#,
        r#"{field: env, operator: contains, value: 1}"#,
    ] {
        let text = format!(
            "version: 1\npolicies:\n  - {{name: p, action_type: a.b, effect: deny, conditions: [{cond}]}}\n"
        );
        assert!(Manifest::parse_auto(&text).is_ok(), "{cond}");
    }
}
