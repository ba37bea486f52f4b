//! Malformed, truncated, huge, deeply nested and alias-bomb input.

use al_policy::{ActionRequest, Code, Format, Limits, Manifest, Timestamp};
use proptest::prelude::*;

const GOOD: &str = r#"version: 1
policies:
  - name: a
    action_type: db.*
    effect: deny
    conditions:
      - {field: env, operator: eq, value: prod}
      - {field: ticket, operator: matches, value: "^T-[0-9]+$"}
  - {name: b, action_type: "*", effect: require_approval, approval: {timeout: 2h}}
"#;

fn code(text: &str, f: Format) -> Code {
    Manifest::parse(text, f).unwrap_err().kind()
}

#[test]
fn every_truncation_of_a_manifest_is_handled() {
    let json = Manifest::parse_auto(GOOD)
        .unwrap()
        .to_json(Default::default())
        .unwrap();
    for (text, f) in [(GOOD, Format::Yaml), (json.as_str(), Format::Json)] {
        for cut in 0..text.len() {
            if let Some(prefix) = text.get(..cut) {
                // Never panics; errors carry a location when they come from the parser.
                if let Err(e) = Manifest::parse(prefix, f) {
                    assert!(!e.diagnostics().is_empty());
                }
            }
        }
    }
}

#[test]
fn malformed_documents_have_located_errors() {
    for (text, f, want) in [
        ("version: 1\npolicies: [\n", Format::Yaml, Code::Parse),
        (
            "{\"version\": 1, \"policies\": [}",
            Format::Json,
            Code::Parse,
        ),
        ("- 1\n- 2\n", Format::Yaml, Code::ValueType),
        ("\"just a string\"", Format::Json, Code::ValueType),
        ("", Format::Yaml, Code::ValueType),
        ("version: 1\npolicies: 7\n", Format::Yaml, Code::ValueType),
        (
            "version: 1\npolicies:\n  - 5\n",
            Format::Yaml,
            Code::ValueType,
        ),
        (
            "version: 1\nversion: 1\npolicies: []\n",
            Format::Yaml,
            Code::DuplicateKey,
        ),
        (
            "{\"version\": 1, \"version\": 1, \"policies\": []}",
            Format::Json,
            Code::DuplicateKey,
        ),
        (
            "version: 1\npolicies: []\nextra: 1\n",
            Format::Yaml,
            Code::UnknownKey,
        ),
    ] {
        let e = Manifest::parse(text, f).unwrap_err();
        assert_eq!(e.kind(), want, "{text:?}: {e}");
        if !text.is_empty() {
            assert!(
                e.diagnostics()[0].location.is_some() || e.kind() == Code::ValueType,
                "{text:?}: {e}"
            );
        }
    }
    let e = Manifest::parse("{\"version\": 1,\n \"policies\": [\n  {\"name\": \"x\", \"action_type\": \"a\", \"effect\": \"allow\", \"efect\": 1}]}", Format::Json).unwrap_err();
    assert_eq!(e.diagnostics()[0].location.unwrap().line, 3);
}

#[test]
fn huge_inputs_hit_limits_not_memory() {
    let limits = Limits::builder().max_policies(10).build().unwrap();
    let mut text = String::from("version: 1\npolicies:\n");
    for i in 0..11 {
        text.push_str(&format!(
            "  - {{name: p{i}, action_type: a, effect: allow}}\n"
        ));
    }
    assert_eq!(
        Manifest::parse_with(&text, Format::Yaml, &limits)
            .unwrap_err()
            .kind(),
        Code::LimitExceeded
    );
    let long = "x".repeat(5000);
    let text = format!(
        "version: 1\npolicies:\n  - {{name: p, action_type: a, effect: allow, description: {long}}}\n"
    );
    assert_eq!(code(&text, Format::Yaml), Code::LimitExceeded);
    let list: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    let text = format!(
        "version: 1\npolicies:\n  - {{name: p, action_type: a, effect: allow, conditions: [{{field: x, operator: in, value: [{}]}}]}}\n",
        list.join(",")
    );
    assert_eq!(code(&text, Format::Yaml), Code::LimitExceeded);
    let regex = "(a{1000}){1000}".to_string();
    let text = format!(
        "version: 1\npolicies:\n  - {{name: p, action_type: a, effect: allow, conditions: [{{field: x, operator: matches, value: \"{regex}\"}}]}}\n"
    );
    assert_eq!(code(&text, Format::Yaml), Code::InvalidRegex);
}

#[test]
fn deep_nesting_is_rejected() {
    for depth in [40, 1000, 100_000] {
        let v = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let json = format!(
            "{{\"version\": 1, \"policies\": [{{\"name\": \"p\", \"action_type\": \"a\", \"effect\": \"allow\", \"conditions\": [{{\"field\": \"x\", \"operator\": \"eq\", \"value\": {v}}}]}}]}}"
        );
        assert_eq!(
            code(&json, Format::Json),
            Code::LimitExceeded,
            "json depth {depth}"
        );
        let yaml = format!(
            "version: 1\npolicies: [{{name: p, action_type: a, effect: allow, conditions: [{{field: x, operator: eq, value: {v}}}]}}]\n"
        );
        assert_eq!(
            code(&yaml, Format::Yaml),
            Code::LimitExceeded,
            "yaml depth {depth}"
        );
    }
}

#[test]
fn alias_bomb_is_rejected() {
    let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    s.push_str("version: 1\npolicies: *a9\n");
    assert_eq!(code(&s, Format::Yaml), Code::LimitExceeded);
}

#[test]
fn hostile_requests_are_typed_errors() {
    fn field(e: al_policy::Error) -> String {
        match e {
            al_policy::Error::Request { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }
    let l = Limits::default();
    let now = Timestamp::from_unix_seconds(0).unwrap();
    let big = format!(
        "{{\"action_type\":\"a\",\"metadata\":{{\"x\":\"{}\"}}}}",
        "y".repeat(2 << 20)
    );
    assert_eq!(
        field(ActionRequest::from_json(&big, now, &l).unwrap_err()),
        "body"
    );
    let deep = format!(
        "{{\"action_type\":\"a\",\"metadata\":{{\"x\":{}1{}}}}}",
        "[".repeat(500),
        "]".repeat(500)
    );
    assert!(ActionRequest::from_json(&deep, now, &l).is_err());
    let long_type = format!("{{\"action_type\":\"{}\"}}", "a".repeat(200));
    assert_eq!(
        field(ActionRequest::from_json(&long_type, now, &l).unwrap_err()),
        "action_type"
    );
    assert_eq!(
        field(
            ActionRequest::from_json(
                "{\"action_type\":\"a\",\"timestamp\":\"99999-01-01T00:00:00Z\"}",
                now,
                &l
            )
            .unwrap_err()
        ),
        "timestamp"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
        let _ = Manifest::parse(&s, Format::Yaml);
        let _ = Manifest::parse(&s, Format::Json);
        let _ = ActionRequest::from_json(&s, Timestamp::from_unix_seconds(0).unwrap(), &Limits::default());
    }

    #[test]
    fn mutated_manifests_never_panic(pos in 0usize..400, byte in any::<u8>()) {
        let mut b = GOOD.as_bytes().to_vec();
        let i = pos % b.len();
        b[i] = byte;
        if let Ok(s) = std::str::from_utf8(&b) {
            al_policy::fuzzing::manifest(s.as_bytes(), Format::Yaml);
        }
    }
}
