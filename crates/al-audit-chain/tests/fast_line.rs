//! The JSON Lines fast path (`src/jsonl/fast.rs`) against the strict
//! reader: every golden line, the writer's lines of random entries, and
//! those lines mutated, re-formatted and made hostile. The comparison
//! itself is `al_audit_chain::fuzzing::jsonl_fast` (also the `jsonl_fast`
//! fuzz target): when the fast path accepts a line the strict reader gives
//! the same bytes and hash, `encode_line` answers exactly as the strict
//! reader (errors, codes and locations included), and the writer's line of
//! every accepted entry takes the fast path.

use al_audit_chain::fuzzing::jsonl_fast;
use al_audit_chain::{Entry, Kind, encode_line, entry_to_line};
use al_types::{Digest, EntryId, ErrorCode, Timestamp};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn golden_lines() -> (Vec<String>, Vec<String>) {
    static LINES: std::sync::OnceLock<(Vec<String>, Vec<String>)> = std::sync::OnceLock::new();
    LINES.get_or_init(read_golden_lines).clone()
}

fn read_golden_lines() -> (Vec<String>, Vec<String>) {
    let root = crate::root().join("testdata/audit");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("lines.json")).unwrap()).unwrap();
    let mut accepted: Vec<String> = v["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["line"].as_str().unwrap().to_owned())
        .collect();
    accepted.push(v["depth_32_accepted"].as_str().unwrap().to_owned());
    let rejected = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["line"].as_str().unwrap().to_owned())
        .collect();
    let log = std::fs::read_to_string(root.join("log.jsonl")).unwrap();
    accepted.extend(log.lines().map(str::to_owned));
    (accepted, rejected)
}

/// Every case of `lines.json` and every line of `log.jsonl`; the writer's
/// lines (the canonical case, `log.jsonl`, depth 32) take the fast path,
/// re-formattings fall back and still read the same.
#[test]
fn golden_lines_agree() {
    let (accepted, rejected) = golden_lines();
    let mut fast = 0;
    for l in &accepted {
        fast += usize::from(jsonl_fast(l.as_bytes()));
    }
    // 16 log lines, the canonical case and the deepest accepted line.
    assert!(fast >= 18, "only {fast} golden lines took the fast path");
    for l in &rejected {
        assert!(
            !jsonl_fast(l.as_bytes()),
            "fast path took a refused line: {l}"
        );
        let mut buf = Vec::new();
        assert!(encode_line(l.as_bytes(), &mut buf).is_err(), "{l}");
    }
}

/// The fast path is taken by the writer's form only, and refusals come
/// from the strict reader with its code and column.
#[test]
fn refusals_keep_the_strict_reader_s_words() {
    let (accepted, _) = golden_lines();
    let canonical = &accepted[0];
    for (from, to, code) in [
        (
            "\"status\":\"executed\"",
            "\"status\":\"executed\",\"status\":\"denied\"",
            "DUPLICATE_KEY",
        ),
        ("\"n\":0", "\"n\":18446744073709551616", "INVALID_AUDIT_LOG"),
        ("\"n\":0", "\"n\":1e400", "INVALID_JSON"),
        (
            "\"status\":\"executed\"",
            "\"status\":\"done\"",
            "INVALID_ENTRY",
        ),
        (
            "2025-11-28T12:00:00Z",
            "2025-11-28T12:00:00.000Z",
            "INVALID_AUDIT_LOG",
        ),
        ("\"row\":1", "\"row\":1.0", "INVALID_AUDIT_LOG"),
        ("\"s\":\"é", "\"s\":\"\\ud800", "INVALID_JSON"),
    ] {
        let bad = canonical.replacen(from, to, 1);
        assert_ne!(&bad, canonical);
        assert!(!jsonl_fast(bad.as_bytes()), "{bad}");
        let mut buf = Vec::new();
        let e = encode_line(bad.as_bytes(), &mut buf).unwrap_err();
        let strict = al_audit_chain::parse_line(&bad).unwrap_err();
        assert_eq!((e.code(), e.to_string()), (code, strict.to_string()));
    }
}

/// Integers at the edges of the encoding's two integer types: the fast
/// path reads the digits itself and must agree with the strict reader's
/// `serde_json` on every one (in range: same bytes; beyond: both refuse).
#[test]
fn integers_at_the_bounds_agree() {
    let (accepted, _) = golden_lines();
    let canonical = &accepted[0];
    assert!(canonical.contains("\"n\":0"));
    for (n, in_range) in [
        ("0", true),
        ("-0", true),
        ("7", true),
        ("-1", true),
        ("18446744073709551615", true),
        ("18446744073709551616", false),
        ("99999999999999999999", false),
        ("-9223372036854775808", true),
        ("-9223372036854775809", false),
        ("-18446744073709551615", false),
    ] {
        let line = canonical.replacen("\"n\":0", &format!("\"n\":{n}"), 1);
        assert_eq!(jsonl_fast(line.as_bytes()), in_range, "{n}");
        let mut buf = Vec::new();
        assert_eq!(
            encode_line(line.as_bytes(), &mut buf).is_ok(),
            in_range,
            "{n}"
        );
    }
}

/// Minified huge lines and deep lines: the fast path reads the first in
/// one pass and leaves nesting past 32 levels to the strict reader.
#[test]
fn huge_and_deep_lines() {
    let mut fields = Map::new();
    fields.insert("action_type".into(), json!("pr.merge"));
    fields.insert("status".into(), json!("executed"));
    let mut big = Map::new();
    for i in 0..15_000 {
        big.insert(
            format!("k{i:06}"),
            json!([i, -i, "é\u{1}\"", 0.25, null, true]),
        );
    }
    fields.insert("metadata".into(), Value::Object(big));
    let line = entry_to_line(&entry(1, Kind::Action, fields.clone()), &Digest::ZERO);
    assert!(line.len() > 600_000, "{}", line.len());
    assert!(jsonl_fast(line.as_bytes()));
    // 32 levels (the fields object is level 1) pass, 33 fall back and are refused.
    for (depth, ok) in [(31, true), (32, false), (100_000, false)] {
        let deep = format!("{}0{}", "[".repeat(depth), "]".repeat(depth));
        let line = line_with(&format!("\"deep\":{deep},\"status\":\"executed\""));
        assert_eq!(jsonl_fast(line.as_bytes()), ok, "depth {depth}");
        let mut buf = Vec::new();
        let r = encode_line(line.as_bytes(), &mut buf);
        assert_eq!(r.is_ok(), ok, "depth {depth}");
        if !ok {
            assert_eq!(r.unwrap_err().code(), "TOO_DEEP");
        }
    }
    // Over 8 MiB: refused, never by the fast path.
    let mut huge = Map::new();
    huge.insert("x".into(), json!("a".repeat(9 << 20)));
    huge.insert("action_type".into(), json!("a"));
    huge.insert("status".into(), json!("executed"));
    let line = entry_to_line(&entry(1, Kind::Action, huge), &Digest::ZERO);
    assert!(!jsonl_fast(line.as_bytes()));
}

fn entry(row: u64, kind: Kind, fields: Map<String, Value>) -> Entry {
    Entry {
        id: EntryId::from_row(row).unwrap(),
        kind,
        agent_id: Some("agt_1".into()),
        timestamp: Timestamp::from_unix_millis(1_764_331_200_250).unwrap(),
        fields,
        prev_hash: Digest::ZERO,
    }
}

/// An action line with these members between the header and `prev_hash`.
fn line_with(members: &str) -> String {
    format!(
        "{{\"row\":1,\"id\":\"evt_0000000000000001\",\"kind\":\"action\",\"agent_id\":null,\"timestamp\":\"2026-11-28T12:00:00Z\",\"action_type\":\"a\",{members},\"prev_hash\":\"{z}\",\"hash\":\"{z}\"}}",
        z = "0".repeat(64)
    )
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,8}",
        "[a-zé\"\\\\/\u{0}-\u{1f}\u{7f}\u{2028}😀]{0,6}",
        prop::sample::select(vec![
            "row",
            "id",
            "kind",
            "agent_id",
            "timestamp",
            "prev_hash",
            "hash",
            "status",
            "action_type",
            "event_id",
            "audit_event_id",
            "executed",
            "success",
            "evt_0000000000000001",
            "evt_0000000000000000",
        ])
        .prop_map(str::to_owned),
    ]
}

fn arb_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(vec![0.0, -0.0, 0.5, 1e300, 5e-324, 1.0, -2.5e-7])
            .prop_map(Value::from),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(arb_string(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_entry() -> impl Strategy<Value = (Entry, Digest)> {
    (
        prop_oneof![Just(1u64), 1u64..1000, Just(u64::MAX)],
        prop::sample::select(Kind::ALL.to_vec()),
        prop::option::of(arb_string()),
        prop_oneof![
            Just(Timestamp::MIN.unix_millis()),
            Just(Timestamp::MAX.unix_millis()),
            Timestamp::MIN.unix_millis()..=Timestamp::MAX.unix_millis(),
            (0i64..4_000_000_000_000).prop_map(|s| s - s % 1000),
        ],
        prop::collection::btree_map(arb_string(), arb_value(), 0..6),
        prop::sample::select(vec!["executed", "denied", "success", "bogus"]),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
    )
        .prop_map(|(row, kind, agent, ts, fields, status, prev, hash)| {
            let mut fields: Map<String, Value> = fields.into_iter().collect();
            fields.insert("status".into(), json!(status));
            fields.insert("action_type".into(), json!("x.y"));
            fields.insert("audit_event_id".into(), json!("evt_0000000000000002"));
            let e = Entry {
                id: EntryId::from_row(row).unwrap(),
                kind,
                agent_id: agent,
                timestamp: Timestamp::from_unix_millis(ts).unwrap(),
                fields,
                prev_hash: Digest(prev),
            };
            (e, Digest(hash))
        })
}

/// Re-formattings and hostile edits of a line.
#[derive(Clone, Debug)]
enum Edit {
    /// Overwrite one byte.
    Byte(usize, u8),
    /// Insert one byte.
    Insert(usize, u8),
    /// Remove a span.
    Remove(usize, usize),
    /// Repeat a span in place.
    Repeat(usize, usize),
    /// Swap two spans' contents (moves members, keys, values).
    Swap(usize, usize, usize),
    /// Escape one ASCII character of a string as `\u00XX`.
    Escape(usize),
    /// Whitespace after a comma or colon.
    Space(usize),
    /// Cut the line short.
    Truncate(usize),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    let interesting = prop::sample::select(b"\"\\,:{}[]0-.eE+u ntf\r\t1Z9aA\x00\x7f\xc3".to_vec());
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Edit::Byte(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..12).prop_map(|(i, n)| Edit::Remove(i, n)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Repeat(i, n)),
        (any::<usize>(), any::<usize>(), 1usize..30).prop_map(|(a, b, n)| Edit::Swap(a, b, n)),
        any::<usize>().prop_map(Edit::Escape),
        any::<usize>().prop_map(Edit::Space),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(line: &mut Vec<u8>, e: &Edit) {
    let n = line.len().max(1);
    match *e {
        Edit::Byte(i, b) => {
            if let Some(x) = line.get_mut(i % n) {
                *x = b;
            }
        }
        Edit::Insert(i, b) => line.insert(i % (line.len() + 1), b),
        Edit::Remove(i, k) => {
            let s = i % n;
            line.drain(s..(s + k).min(line.len()));
        }
        Edit::Repeat(i, k) => {
            let s = i % n;
            let span: Vec<u8> = line[s.min(line.len())..(s + k).min(line.len())].to_vec();
            line.splice(s.min(line.len())..s.min(line.len()), span);
        }
        Edit::Swap(a, b, k) => {
            let (a, b) = ((a % n).min(b % n), (a % n).max(b % n));
            if a + k <= b && b + k <= line.len() {
                let x: Vec<u8> = line[a..a + k].to_vec();
                let y: Vec<u8> = line[b..b + k].to_vec();
                line.splice(b..b + k, x);
                line.splice(a..a + k, y);
            }
        }
        Edit::Escape(i) => {
            // The i-th ASCII letter or digit after a quote-delimited position.
            let at = (0..line.len())
                .map(|j| (i + j) % n)
                .find(|&j| line[j].is_ascii_alphanumeric());
            if let Some(j) = at {
                let esc = format!("\\u{:04x}", line[j]);
                line.splice(j..=j, esc.into_bytes());
            }
        }
        Edit::Space(i) => {
            let at = (0..line.len())
                .map(|j| (i + j) % n)
                .find(|&j| matches!(line[j], b',' | b':'));
            if let Some(j) = at {
                line.insert(j + 1, b' ');
            }
        }
        Edit::Truncate(i) => line.truncate(i % n),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The writer's line of any entry takes the fast path when the strict
    /// reader accepts it, with the same bytes and hash.
    #[test]
    fn writer_lines_agree((e, hash) in arb_entry()) {
        let line = entry_to_line(&e, &hash);
        jsonl_fast(line.as_bytes());
    }

    /// Any edits of the writer's line: both readers agree on acceptance,
    /// bytes, hash, error code, message and location.
    #[test]
    fn edited_lines_agree((e, hash) in arb_entry(), edits in prop::collection::vec(arb_edit(), 1..4)) {
        let mut line = entry_to_line(&e, &hash).into_bytes();
        for ed in &edits {
            apply(&mut line, ed);
        }
        jsonl_fast(&line);
    }

    /// Edits of the golden lines.
    #[test]
    fn edited_golden_lines_agree(pick in any::<prop::sample::Index>(), edits in prop::collection::vec(arb_edit(), 1..4)) {
        let (accepted, rejected) = golden_lines();
        let all: Vec<&String> = accepted.iter().chain(&rejected).collect();
        let mut line = pick.get(&all).as_bytes().to_vec();
        for ed in &edits {
            apply(&mut line, ed);
        }
        jsonl_fast(&line);
    }
}
