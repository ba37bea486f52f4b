//! Entries: what the caller appends, what a decoder returns, and the rules
//! every entry obeys (`docs/audit-encoding.md`, "Entry").

use std::fmt;

use al_types::{Digest, EntryId, Timestamp};
use serde_json::{Map, Value};

use crate::error::{EntryProblem, Error};

/// Domain tag that starts every encoded entry.
pub const DOMAIN: &[u8; 28] = b"agentlattice.audit.entry.v1\0";
/// Encoding version byte.
pub const VERSION: u8 = 1;
/// Deepest nesting of an entry's fields: the fields object is level 1, so
/// a field's value may hold containers down to level 32. A JSON line (whose
/// outer object is the fields object plus scalar header keys) nests at most
/// this deep too.
pub const MAX_DEPTH: usize = 32;
/// Largest encoded entry accepted, in bytes (1 MiB).
pub const MAX_ENTRY_BYTES: usize = 1 << 20;
/// Keys reserved for the entry header in the JSON form; fields may not use them.
pub const RESERVED_KEYS: [&str; 7] = [
    "row",
    "id",
    "kind",
    "agent_id",
    "timestamp",
    "prev_hash",
    "hash",
];
/// Statuses of an `action` entry.
pub const ACTION_STATUSES: [&str; 4] = ["executed", "denied", "requested", "policy_not_found"];
/// Statuses of an `outcome` entry.
pub const OUTCOME_STATUSES: [&str; 3] = ["success", "failure", "partial"];

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A decided action.
    Action,
    /// An approval state change.
    Approval,
    /// An outcome report.
    Outcome,
    /// A delegation created, revoked or expired.
    Delegation,
    /// A circuit-breaker transition.
    Breaker,
    /// A policy added, changed or removed.
    PolicyChange,
    /// A key created, rotated or revoked.
    Key,
}

impl Kind {
    /// Every kind, in code order.
    pub const ALL: [Kind; 7] = [
        Kind::Action,
        Kind::Approval,
        Kind::Outcome,
        Kind::Delegation,
        Kind::Breaker,
        Kind::PolicyChange,
        Kind::Key,
    ];

    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Approval => "approval",
            Kind::Outcome => "outcome",
            Kind::Delegation => "delegation",
            Kind::Breaker => "breaker",
            Kind::PolicyChange => "policy_change",
            Kind::Key => "key",
        }
    }

    /// Byte code in the canonical encoding (1–7).
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Kind::Action => 1,
            Kind::Approval => 2,
            Kind::Outcome => 3,
            Kind::Delegation => 4,
            Kind::Breaker => 5,
            Kind::PolicyChange => 6,
            Kind::Key => 7,
        }
    }

    /// From a byte code.
    #[must_use]
    pub fn from_code(c: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == c)
    }

    /// From a wire name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What the caller appends: everything but the row and `prev_hash`, which
/// the log supplies.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    /// Kind.
    pub kind: Kind,
    /// The agent concerned, if any.
    pub agent_id: Option<String>,
    /// The caller's time.
    pub timestamp: Timestamp,
    /// The kind's fields (see `docs/audit-encoding.md` for each kind's).
    pub fields: Map<String, Value>,
}

/// A full entry, as decoded from canonical bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Id, derived from the 1-based row.
    pub id: EntryId,
    /// Kind.
    pub kind: Kind,
    /// The agent concerned, if any.
    pub agent_id: Option<String>,
    /// The caller's time.
    pub timestamp: Timestamp,
    /// The kind's fields.
    pub fields: Map<String, Value>,
    /// Hash of the previous entry (zero for row 1).
    pub prev_hash: Digest,
}

impl Entry {
    /// The 1-based row.
    #[must_use]
    pub fn row(&self) -> u64 {
        self.id.row()
    }

    /// Append the canonical bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        crate::encoding::encode_entry(
            out,
            self.row(),
            self.kind,
            self.agent_id.as_deref(),
            self.timestamp,
            &self.fields,
            &self.prev_hash,
        );
    }

    /// The length of the canonical bytes, computed without encoding (so
    /// the 1 MiB limit, [`MAX_ENTRY_BYTES`], can be checked first).
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        crate::encoding::entry_len(self.agent_id.as_deref(), &self.fields)
    }

    /// The canonical bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(256);
        self.encode_into(&mut v);
        v
    }

    /// SHA-256 of the canonical bytes.
    #[must_use]
    pub fn hash(&self) -> Digest {
        Digest::of(&self.encode())
    }

    /// A string field, if present.
    #[must_use]
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
}

/// Check that `fields` obey the rules every entry of `kind` obeys
/// (`docs/audit-encoding.md`, "Entry"): no reserved key, nesting within
/// [`MAX_DEPTH`], and the kind's required fields:
///
/// | kind | required |
/// |---|---|
/// | `action` | `action_type`: string; `status`: one of [`ACTION_STATUSES`]; `event_id`, if present: string |
/// | `outcome` | `audit_event_id`: an entry id (`evt_` + 16 hex digits); `status`: one of [`OUTCOME_STATUSES`] |
/// | others | none (their layouts are the host's records) |
///
/// # Errors
/// [`Error::Entry`] naming the rule.
pub fn validate_fields(kind: Kind, fields: &Map<String, Value>) -> Result<(), Error> {
    if let Some(k) = fields.keys().find(|k| RESERVED_KEYS.contains(&k.as_str())) {
        return Err(Error::entry(EntryProblem::ReservedKey(k.clone())));
    }
    if fields.values().any(|v| too_deep(v, 1)) {
        return Err(Error::entry(EntryProblem::TooDeep(MAX_DEPTH)));
    }
    check_kind(kind, |k| fields.get(k).map(FieldRef::of))
}

/// Whether `v`, a value inside a container at nesting `level`, holds a
/// container past [`MAX_DEPTH`]. Recursion is bounded by the limit.
fn too_deep(v: &Value, level: usize) -> bool {
    match v {
        Value::Array(a) => level >= MAX_DEPTH || a.iter().any(|x| too_deep(x, level + 1)),
        Value::Object(o) => level >= MAX_DEPTH || o.values().any(|x| too_deep(x, level + 1)),
        _ => false,
    }
}

/// A field as the kind rules see it: a string (its UTF-8 bytes), or
/// something else. Bytes, so that checking a status needs no UTF-8 pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldRef<'a> {
    /// A string value.
    Str(&'a [u8]),
    /// Any other value.
    Other,
}

impl<'a> FieldRef<'a> {
    pub(crate) fn of(v: &'a Value) -> FieldRef<'a> {
        match v {
            Value::String(s) => FieldRef::Str(s.as_bytes()),
            _ => FieldRef::Other,
        }
    }

    pub(crate) fn bytes(self) -> Option<&'a [u8]> {
        match self {
            FieldRef::Str(s) => Some(s),
            FieldRef::Other => None,
        }
    }

    pub(crate) fn as_str(self) -> Option<&'a str> {
        self.bytes().and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// The kind rules of [`validate_fields`], over any field lookup (a map, or
/// the members of an encoded fields object).
pub(crate) fn check_kind<'a>(
    kind: Kind,
    get: impl Fn(&str) -> Option<FieldRef<'a>>,
) -> Result<(), Error> {
    let bad = |field, want| Err(Error::entry(EntryProblem::Field { kind, field, want }));
    let bytes = |k: &str| get(k).and_then(FieldRef::bytes);
    let one_of =
        |k: &str, set: &[&str]| bytes(k).is_some_and(|b| set.iter().any(|s| s.as_bytes() == b));
    match kind {
        Kind::Action => {
            if bytes("action_type").is_none() {
                return bad("action_type", "a string");
            }
            if !one_of("status", &ACTION_STATUSES) {
                return bad("status", "executed, denied, requested or policy_not_found");
            }
            if get("event_id").is_some_and(|v| v.bytes().is_none()) {
                return bad("event_id", "a string when present");
            }
            Ok(())
        }
        Kind::Outcome => {
            let id = get("audit_event_id").and_then(FieldRef::as_str);
            if id.is_none_or(|s| EntryId::parse(s).is_none()) {
                return bad("audit_event_id", "an entry id `evt_` + 16 hex digits");
            }
            if !one_of("status", &OUTCOME_STATUSES) {
                return bad("status", "success, failure or partial");
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use al_types::ErrorCode;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |v, _| json!([v]))
    }

    #[test]
    fn kind_rules() {
        let ok = |k, v| validate_fields(k, &m(v)).is_ok();
        assert!(ok(
            Kind::Action,
            json!({"action_type": "a", "status": "executed"})
        ));
        assert!(!ok(Kind::Action, json!({"status": "executed"})));
        assert!(!ok(Kind::Action, json!({"action_type": "a"})));
        assert!(!ok(
            Kind::Action,
            json!({"action_type": "a", "status": "x"})
        ));
        assert!(!ok(
            Kind::Action,
            json!({"action_type": 1, "status": "denied"})
        ));
        assert!(!ok(
            Kind::Action,
            json!({"action_type": "a", "status": "denied", "event_id": 3})
        ));
        assert!(ok(
            Kind::Outcome,
            json!({"audit_event_id": "evt_0000000000000001", "status": "partial"})
        ));
        assert!(!ok(
            Kind::Outcome,
            json!({"audit_event_id": "evt_1", "status": "partial"})
        ));
        assert!(!ok(
            Kind::Outcome,
            json!({"audit_event_id": "evt_0000000000000001", "status": "weird"})
        ));
        assert!(!ok(Kind::Outcome, json!({"status": "success"})));
        assert!(ok(Kind::Breaker, json!({})));
        let e = validate_fields(Kind::Key, &m(json!({"row": 1}))).unwrap_err();
        assert_eq!(e.code(), "INVALID_ENTRY");
        assert_eq!(
            e.to_string(),
            "invalid entry: field `row` is reserved for the entry header"
        );
    }

    #[test]
    fn depth_boundary() {
        // A field value of depth 31 sits at level 32: accepted; 32 is refused.
        assert!(validate_fields(Kind::Key, &m(json!({"v": nested(31)}))).is_ok());
        let e = validate_fields(Kind::Key, &m(json!({"v": nested(32)}))).unwrap_err();
        assert_eq!(e, Error::entry(EntryProblem::TooDeep(32)));
    }
}
