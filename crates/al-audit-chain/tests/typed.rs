//! The append path (a canonical serde `Serializer`, used for typed records
//! and JSON maps alike) against the naive reference: `serde_json::to_value`,
//! then the tree encoder of `Entry::encode` and `validate_fields`. Same
//! bytes for every record, same refusals.

use std::collections::{BTreeMap, HashMap};

use al_audit_chain::{
    AuditLog, Entry, EntryProblem, Error, Kind, MAX_ENTRY_BYTES, NewEntry, validate_fields,
};
use al_types::{Digest, EntryId};
use al_types::{ErrorCode, Timestamp};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value, json};

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms).unwrap()
}

/// The optimised path (typed, and a map through `append`) and the naive
/// reference on fresh logs: the bytes, or the error code, must agree.
fn both<T: Serialize>(kind: Kind, agent: Option<&str>, rec: &T) -> Result<Vec<u8>, Error> {
    let at = t(1_764_331_200_000);
    let mut a = AuditLog::new("acme");
    let typed = a
        .append_record(kind, agent, at, rec)
        .map(|s| s.bytes.to_vec());
    let fields = match serde_json::to_value(rec) {
        Ok(Value::Object(m)) => m,
        _ => {
            assert!(typed.is_err(), "not an object, yet appended");
            return typed;
        }
    };
    let reference = validate_fields(kind, &fields).and_then(|()| {
        let entry = Entry {
            id: EntryId::FIRST,
            kind,
            agent_id: agent.map(str::to_owned),
            timestamp: at,
            fields: fields.clone(),
            prev_hash: Digest::ZERO,
        };
        let bytes = entry.encode();
        // The size computed without encoding is the encoding's size.
        assert_eq!(entry.encoded_len(), bytes.len());
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(Error::Entry {
                problem: EntryProblem::TooLarge {
                    size: bytes.len(),
                    limit: MAX_ENTRY_BYTES,
                },
            });
        }
        Ok(bytes)
    });
    match (&typed, &reference) {
        (Ok(x), Ok(y)) => assert_eq!(x, y, "optimised and reference encodings differ"),
        (Err(x), Err(y)) => assert_eq!(x.code(), y.code(), "{x} / {y}"),
        _ => panic!("optimised {typed:?} but reference {reference:?}"),
    }
    // The map path is the same encoder: it must agree too (the same bytes,
    // or the same error code).
    let mut b = AuditLog::new("acme");
    let mapped = b
        .append(&NewEntry {
            kind,
            agent_id: agent.map(str::to_owned),
            timestamp: at,
            fields,
        })
        .map(|s| s.bytes.to_vec());
    assert_eq!(typed.as_ref().ok(), mapped.as_ref().ok());
    assert_eq!(
        typed.as_ref().err().map(ErrorCode::code),
        mapped.as_ref().err().map(ErrorCode::code),
        "map path: {mapped:?}"
    );
    assert_eq!(
        a.head_hash(),
        b.head_hash(),
        "an error appended nothing on either"
    );
    typed
}

#[derive(Clone, Debug, Serialize)]
enum Shape {
    Unit,
    New(i32),
    Tuple(u8, String),
    Struct { z: bool, a: Option<f64> },
}

/// Fields declared out of key order; a `HashMap` iterates in any order.
#[derive(Clone, Debug, Serialize)]
struct Record {
    status: String,
    action_type: String,
    zeta: Vec<Shape>,
    alpha: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe: Option<u128>,
    map: HashMap<String, Value>,
    ordered: BTreeMap<u32, f32>,
    chars: Vec<char>,
    unit: (),
    big: u64,
    neg: i8,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(-0.0)),
        "[a-z\"\\\\é😀]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-cé]{0,3}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Unit),
        any::<i32>().prop_map(Shape::New),
        (any::<u8>(), "[a-z]{0,3}").prop_map(|(a, b)| Shape::Tuple(a, b)),
        (any::<bool>(), any::<Option<f64>>()).prop_map(|(z, a)| Shape::Struct { z, a }),
    ]
}

prop_compose! {
    fn arb_record()(
        status in prop_oneof![Just("executed"), Just("denied"), Just("nope")],
        action_type in "[a-z.]{1,8}",
        zeta in prop::collection::vec(arb_shape(), 0..4),
        alpha in any::<Option<i64>>(),
        maybe in any::<Option<u64>>(),
        map in prop::collection::hash_map("[a-f]{1,3}", arb_value(), 0..6),
        ordered in prop::collection::btree_map(any::<u32>(), any::<f32>(), 0..4),
        chars in prop::collection::vec(any::<char>(), 0..3),
        big in any::<u64>(),
        neg in any::<i8>(),
        extra in prop::collection::btree_map("[x-z][a-z]{0,3}", arb_value(), 0..3),
    ) -> Record {
        Record {
            status: status.into(), action_type, zeta, alpha, maybe: maybe.map(u128::from), map,
            ordered, chars, unit: (), big, neg, extra,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn typed_records_encode_like_the_map_path(rec in arb_record(), kind in prop::sample::select(Kind::ALL.to_vec())) {
        let _ = both(kind, Some("agt_1"), &rec);
    }

    #[test]
    fn any_json_object_encodes_like_the_map_path(v in prop::collection::btree_map("[a-dé\"]{0,4}", arb_value(), 0..8)) {
        let m: Map<String, Value> = v.into_iter().collect();
        prop_assert!(both(Kind::Breaker, None, &m).is_ok());
    }
}

#[test]
fn typed_path_refusals() {
    let mut log = AuditLog::new("acme");
    let at = t(0);
    // Not an object.
    for e in [
        log.append_record(Kind::Key, None, at, &1).unwrap_err(),
        log.append_record(Kind::Key, None, at, &vec![1])
            .unwrap_err(),
        log.append_record(Kind::Key, None, at, &()).unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::Entry { problem: EntryProblem::Record(m) } if m.contains("object")),
            "{e}"
        );
    }
    // A repeated key (serde_json::to_value would keep the last).
    #[derive(Serialize)]
    struct Dup {
        a: u8,
        #[serde(flatten)]
        more: BTreeMap<String, u8>,
    }
    let e = log
        .append_record(
            Kind::Key,
            None,
            at,
            &Dup {
                a: 1,
                more: [("a".to_owned(), 2)].into(),
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("`a` appears twice"), "{e}");
    // Reserved keys, kind rules and depth as on the map path.
    assert_eq!(
        log.append_record(Kind::Key, None, at, &json!({"hash": 1}))
            .unwrap_err(),
        Error::Entry {
            problem: EntryProblem::ReservedKey("hash".into())
        }
    );
    let e = log
        .append_record(Kind::Action, None, at, &json!({"action_type": "a"}))
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_ENTRY");
    let deep = (0..31).fold(json!(1), |v, _| json!([v]));
    assert!(both(Kind::Key, None, &json!({ "v": deep })).is_ok());
    let deeper = json!({ "v": [deep] });
    assert_eq!(
        both(Kind::Key, None, &deeper).unwrap_err(),
        Error::Entry {
            problem: EntryProblem::TooDeep(32)
        }
    );
    // Floats as map keys, and integers past 64 bits.
    let e = log
        .append_record(Kind::Key, None, at, &BTreeMap::from([(1u8, 1.5f64)]))
        .is_ok();
    assert!(e, "integer keys are their decimal text");
    #[derive(Serialize)]
    struct Wide {
        n: u128,
    }
    assert!(
        log.append_record(Kind::Key, None, at, &Wide { n: u128::MAX })
            .is_err()
    );
    // Too large.
    let big = json!({ "s": "x".repeat(1 << 20) });
    assert_eq!(
        both(Kind::Key, None, &big).unwrap_err().code(),
        "INVALID_ENTRY"
    );
    assert_eq!(log.len(), 1, "only the integer-keyed map was appended");
}

#[test]
fn typed_and_map_appends_interleave_in_one_chain() {
    #[derive(Serialize)]
    struct Action<'a> {
        action_type: &'a str,
        status: &'a str,
        event_id: String,
    }
    let mut log = AuditLog::new("acme");
    for i in 0..20u64 {
        if i % 2 == 0 {
            let _ = log
                .append_record(
                    Kind::Action,
                    Some("agt_1"),
                    t(i as i64),
                    &Action {
                        action_type: "pr.merge",
                        status: "executed",
                        event_id: format!("ev-{i}"),
                    },
                )
                .unwrap();
        } else {
            let _ = log.append(&crate::entry(i)).unwrap();
        }
    }
    assert!(log.verify(None, crate::T0).result.chain_valid);
    // The typed path feeds the indexes too.
    assert_eq!(log.find_event("agt_1", "ev-4").unwrap().row(), 5);
}

/// Field names that share their first 8 bytes (the encoder compares key
/// prefixes as integers first), declared out of key order, next to keys a
/// map adds (no `_`, so they never repeat a field name), and values written
/// through `collect_str` (`Display`), which the encoder formats in place.
#[derive(Clone, Debug, Serialize)]
struct Prefixed {
    abcdefgh_z: u8,
    abcdefgh_: Vec<u8>,
    abcdefg_: bool,
    ab_c: Option<String>,
    abcdefghij_: Shown,
    digest: Digest,
    at: Timestamp,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

/// A `Display` value, serialised with `collect_str`.
#[derive(Clone, Debug)]
struct Shown(String, u64);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{:>5}/{}", self.0, self.1, self.0.len())
    }
}

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn arb_prefixed_key() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", "abcdefgh", "abcdefg", "abcdefg\0", "ab\0", "ab"]),
        prop::collection::vec(prop::sample::select(vec!['\0', 'a', 'b', 'é']), 0..4),
    )
        .prop_map(|(p, rest)| format!("{p}{}", rest.into_iter().collect::<String>()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn prefix_sharing_keys_and_display_values_encode_like_the_map_path(
        z in any::<u8>(),
        bytes in prop::collection::vec(any::<u8>(), 0..3),
        flag in any::<bool>(),
        c in prop::option::of("[a-zé\"]{0,5}"),
        shown in ("[a-zé😀]{0,6}", any::<u64>()),
        digest in any::<[u8; 32]>(),
        ms in 0i64..4_000_000_000_000,
        extra in prop::collection::btree_map(arb_prefixed_key(), arb_value(), 0..6),
    ) {
        let rec = Prefixed {
            abcdefgh_z: z,
            abcdefgh_: bytes,
            abcdefg_: flag,
            ab_c: c,
            abcdefghij_: Shown(shown.0, shown.1),
            digest: Digest(digest),
            at: t(ms),
            extra,
        };
        prop_assert!(both(Kind::Key, Some("agt_1"), &rec).is_ok());
        // The same members as a map in reverse key order: every one moves.
        let Value::Object(m) = serde_json::to_value(&rec).unwrap() else { unreachable!() };
        let reversed: Vec<(String, Value)> = m.into_iter().rev().collect();
        let mut log = AuditLog::new("acme");
        let a = log.append_record(Kind::Key, Some("agt_1"), t(0), &Reversed(&reversed)).unwrap().bytes.to_vec();
        let mut log = AuditLog::new("acme");
        let b = log.append_record(Kind::Key, Some("agt_1"), t(0), &serde_json::to_value(&rec).unwrap()).unwrap().bytes.to_vec();
        prop_assert_eq!(a, b);
    }
}

/// Members serialised as a map in the given order.
struct Reversed<'a>(&'a [(String, Value)]);

impl Serialize for Reversed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[test]
fn repeated_keys_with_a_shared_prefix_are_refused() {
    #[derive(Serialize)]
    struct Dup {
        abcdefgh_b: u8,
        abcdefgh_a: u8,
        #[serde(flatten)]
        more: BTreeMap<String, u8>,
    }
    let mut log = AuditLog::new("acme");
    let e = log
        .append_record(
            Kind::Key,
            None,
            t(0),
            &Dup {
                abcdefgh_b: 1,
                abcdefgh_a: 2,
                more: [("abcdefgh_b".to_owned(), 3)].into(),
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("`abcdefgh_b` appears twice"), "{e}");
    // A `Display` that fails is an error, not a panic, and appends nothing.
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            struct D;
            impl std::fmt::Display for D {
                fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    Err(std::fmt::Error)
                }
            }
            s.collect_str(&D)
        }
    }
    let e = log
        .append_record(Kind::Key, None, t(0), &BTreeMap::from([("x", Fails)]))
        .unwrap_err();
    assert!(e.to_string().contains("`Display` failed"), "{e}");
    assert!(log.is_empty());
}
