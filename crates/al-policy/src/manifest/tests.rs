//! Unit tests of the manifest reader.

use super::*;
use crate::model::Pattern;

fn codes(text: &str) -> Vec<(Code, Option<Location>)> {
    match Manifest::parse_auto(text) {
        Ok(_) => vec![],
        Err(e) => e
            .diagnostics()
            .iter()
            .map(|d| (d.code, d.location))
            .collect(),
    }
}

#[test]
fn typo_in_key_is_an_error_with_location_and_hint() {
    let y = "version: 1\npolicies:\n  - name: p\n    action_type: db.*\n    efect: deny\n";
    let e = Manifest::parse_auto(y).unwrap_err();
    assert_eq!(e.diagnostics().len(), 2, "{e:?}");
    // Sorted by location: the missing `effect` is reported at the policy (line 3).
    assert_eq!(e.diagnostics()[0].code, Code::MissingField);
    let unknown = &e.diagnostics()[1];
    assert_eq!(unknown.code, Code::UnknownKey);
    assert_eq!(unknown.location, Some(Location { line: 5, column: 5 }));
    assert!(
        unknown.message.contains("did you mean `effect`"),
        "{}",
        unknown.message
    );
    assert_eq!(unknown.policy.as_deref(), Some("p"));
}

#[test]
fn all_errors_are_collected() {
    let y = r#"
version: 1
policies:
  - name: a
    action_type: "db.*.x"
    effect: allow
  - name: a
    action_type: db
    effect: maybe
  - name: c
    action_type: x
    effect: deny
    conditions:
      - {field: "@nope", operator: eq, value: 1}
      - {field: x, operator: equals, value: 1}
      - {field: x, operator: matches, value: "("}
      - {field: x, operator: in, value: 3}
"#;
    let got: Vec<Code> = codes(y).into_iter().map(|(c, _)| c).collect();
    assert_eq!(
        got,
        vec![
            Code::InvalidPattern,
            Code::InvalidEffect,
            Code::InvalidField,
            Code::UnknownOperator,
            Code::InvalidRegex,
            Code::ValueType
        ]
    );
}

#[test]
fn duplicate_name_is_reported_at_second_use() {
    let y = "version: 1\npolicies:\n- {name: a, action_type: x, effect: allow}\n- {name: a, action_type: y, effect: deny}\n";
    assert_eq!(
        codes(y),
        vec![(
            Code::DuplicateName,
            Some(Location {
                line: 4,
                column: 10
            })
        )]
    );
}

#[test]
fn version_must_be_one() {
    assert_eq!(
        codes("version: 2\npolicies: []\n")[0].0,
        Code::UnsupportedVersion
    );
    assert_eq!(codes("{\"policies\": []}")[0].0, Code::MissingField);
    assert!(codes("version: 1\npolicies: []\n").is_empty());
}

#[test]
fn durations_round_trip() {
    for (s, v) in [
        ("8h", 28_800),
        ("90", 90),
        ("1h30m", 5400),
        ("2d", 172_800),
        ("45s", 45),
    ] {
        assert_eq!(parse_duration(s).unwrap(), v, "{s}");
    }
    assert!(parse_duration("1h30").is_err());
    assert!(parse_duration("h").is_err());
    assert!(parse_duration("5w").is_err());
    assert!(parse_duration("99999999999999999999s").is_err());
    assert_eq!(format_duration(28_800), "8h");
    assert_eq!(format_duration(5400), "90m");
    assert_eq!(format_duration(61), "61s");
}

#[test]
fn patterns() {
    assert_eq!(parse_pattern("*", 128).unwrap(), Pattern::Any);
    assert_eq!(
        parse_pattern("db.*", 128).unwrap(),
        Pattern::Prefix("db".into())
    );
    assert_eq!(
        parse_pattern("db.migrate", 128).unwrap(),
        Pattern::Exact("db.migrate".into())
    );
    for bad in [
        "", ".*", "db.", "db..x", "*.x", "db.*.x", "d b", "db*", "a.**",
    ] {
        assert!(parse_pattern(bad, 128).is_err(), "{bad:?}");
    }
    let p = Pattern::Prefix("db".into());
    assert!(p.matches("db.migrate") && p.matches("db.schema.drop"));
    assert!(!p.matches("db") && !p.matches("dbx.migrate") && !p.matches("db."));
}

#[test]
fn approval_defaults_normalise_away() {
    let y = "version: 1\npolicies:\n- name: a\n  action_type: x\n  effect: require_approval\n  approval: {timeout: 8h}\n";
    let m = Manifest::parse_auto(y).unwrap();
    assert_eq!(m.policies()[0].approval, None);
    let y = "version: 1\npolicies:\n- name: a\n  action_type: x\n  effect: require_approval\n  approval: {timeout: 1h, escalate_after: 2h}\n";
    assert_eq!(codes(y)[0].0, Code::InvalidDuration);
}
