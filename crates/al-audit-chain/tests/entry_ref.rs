//! Entries read in place (`decode_ref`, `EntryRef::fields`) against
//! `decode` and `serde_json::from_value`: for random entries and typed
//! records, a typed read from the bytes either refuses or gives exactly
//! what `serde_json` gives from the decoded map; every mutation of the
//! bytes is refused or accepted by both readers with the same words.

use std::borrow::Cow;
use std::collections::BTreeMap;

use al_audit_chain::fuzzing::{canonical_decode, entry_ref_agrees};
use al_audit_chain::{Entry, Kind, decode, decode_ref};
use al_types::{Digest, EntryId, Timestamp};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Shape {
    Unit,
    Newtype(u8),
    Tuple(i64, bool),
    Struct { a: Option<String> },
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inner {
    #[serde(rename = "type")]
    kind: String,
    count: u64,
    #[serde(default)]
    ratio: Option<f64>,
}

/// A record with every serde shape a record uses, and a few it does not.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rec<'a> {
    status: Cow<'a, str>,
    #[serde(default)]
    n: Option<i32>,
    #[serde(default)]
    flag: Option<bool>,
    #[serde(default)]
    shape: Option<Shape>,
    #[serde(default)]
    items: Vec<Inner>,
    #[serde(default)]
    meta: Option<Map<String, Value>>,
    #[serde(default)]
    any: Option<Value>,
    #[serde(default)]
    pair: Option<(u8, String)>,
    #[serde(default)]
    ch: Option<char>,
    #[serde(default)]
    unit: Option<()>,
}

/// Ignores what it does not know.
#[derive(Debug, PartialEq, Deserialize)]
struct Loose {
    status: String,
    #[serde(default)]
    items: Vec<BTreeMap<String, Value>>,
}

fn entry(fields: Map<String, Value>) -> Entry {
    Entry {
        id: EntryId::from_row(7).unwrap(),
        kind: Kind::Action,
        agent_id: Some("agt_1".into()),
        timestamp: Timestamp::from_unix_millis(1_764_331_200_250).unwrap(),
        fields,
        prev_hash: Digest([3; 32]),
    }
}

/// A typed read from the bytes refuses, or equals `serde_json`'s.
fn typed_agree<T>(bytes: &[u8], e: &Entry)
where
    T: std::fmt::Debug + PartialEq + serde::de::DeserializeOwned,
{
    let view = decode_ref(bytes).unwrap();
    if let Ok(t) = view.fields::<T>() {
        let reference: T =
            serde_json::from_value(Value::Object(e.fields.clone())).unwrap_or_else(|err| {
                panic!("in place accepted what serde_json refuses ({err}): {t:?}")
            });
        assert_eq!(t, reference);
    }
}

fn check(fields: Map<String, Value>) {
    let e = entry(fields);
    let bytes = e.encode();
    canonical_decode(&bytes);
    typed_agree::<Rec<'static>>(&bytes, &e);
    typed_agree::<Loose>(&bytes, &e);
    typed_agree::<Map<String, Value>>(&bytes, &e);
}

#[test]
fn typed_reads_match_serde_json() {
    check(
        json!({"status": "executed", "n": -3, "flag": true, "shape": "unit",
               "items": [{"type": "t", "count": 2, "ratio": 0.5}, {"type": "u", "count": 0}],
               "meta": {"a": [1, -1, 1.5, null, "x"]}, "any": {"b": {"c": []}},
               "pair": [255, "p"], "ch": "é", "unit": null})
        .as_object()
        .unwrap()
        .clone(),
    );
    for shape in [
        json!({"newtype": 7}),
        json!({"tuple": [-1, false]}),
        json!({"struct": {"a": "x"}}),
        json!({"struct": {"a": null}}),
    ] {
        let f = json!({"status": "s", "shape": shape});
        let e = entry(f.as_object().unwrap().clone());
        let bytes = e.encode();
        let v = decode_ref(&bytes).unwrap();
        let t: Rec<'_> = v.fields().unwrap();
        let r: Rec<'_> = serde_json::from_value(Value::Object(e.fields.clone())).unwrap();
        assert_eq!(t, r);
    }
    // Refused by both: wrong types, unknown members, out of range, two-member enums.
    for bad in [
        json!({"status": 1}),
        json!({"status": "s", "n": 1.0}),
        json!({"status": "s", "n": 4_294_967_296_i64}),
        json!({"status": "s", "other": 1}),
        json!({"status": "s", "shape": {"unit": null, "newtype": 1}}),
        json!({"status": "s", "shape": "newtype"}),
        json!({"status": "s", "items": [{"type": "t"}]}),
        json!({"status": "s", "pair": [1]}),
        json!({"status": "s", "pair": [1, "a", 2]}),
        json!({"status": "s", "ch": "ab"}),
        json!({"status": "s", "unit": 0}),
    ] {
        let e = entry(bad.as_object().unwrap().clone());
        let bytes = e.encode();
        let v = decode_ref(&bytes).unwrap();
        assert!(v.fields::<Rec<'_>>().is_err(), "{bad}");
        assert!(
            serde_json::from_value::<Rec<'_>>(Value::Object(e.fields)).is_err(),
            "{bad}"
        );
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..300).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z é]{0,3}".prop_map(Value::String),
        prop::sample::select(vec!["unit", "newtype", "tuple", "struct", "t", "x"])
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "a", "type", "count", "ratio", "unit", "newtype", "tuple", "struct", "z"
                ])
                .prop_map(str::to_owned),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn random_fields_read_alike(
        fields in prop::collection::btree_map(
            prop::sample::select(vec![
                "status", "n", "flag", "shape", "items", "meta", "any", "pair", "ch", "unit", "zz"
            ]).prop_map(str::to_owned),
            arb_value(),
            0..6,
        ),
        status in prop::option::of("[a-z]{0,3}"),
    ) {
        let mut m: Map<String, Value> = fields.into_iter().collect();
        if let Some(s) = status {
            m.insert("status".into(), Value::String(s));
        }
        check(m);
    }

    /// Any byte edit of an encoded entry: both readers agree.
    #[test]
    fn edited_bytes_read_alike(
        fields in prop::collection::btree_map("[a-c]{0,2}", arb_value(), 0..4),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut bytes = entry(fields.into_iter().collect()).encode();
        for (at, b, op) in edits {
            let at = at % (bytes.len() + 1);
            match op {
                0 => if let Some(x) = bytes.get_mut(at) { *x = b },
                1 => bytes.insert(at, b),
                _ => { if at < bytes.len() { bytes.remove(at); } }
            }
        }
        let full = decode(&bytes);
        entry_ref_agrees(&bytes, &full);
    }
}
