//! What a re-decision reads from an `action` entry, read straight from its
//! canonical bytes.
//!
//! [`ActionFacts::read`] walks the fields object once (`docs/audit-encoding.md`
//! §2), borrowing its strings, building only what the request needs (the
//! metadata map and the data items) and checking every other member only
//! as far as the typed [`ActionRecord`] would: `policy_digest` is 64
//! lowercase hex digits, `conditions_evaluated` a list of condition
//! objects, and so on, without decoding them. It answers `None` whenever it
//! cannot prove that deserializing the same fields as an [`ActionRecord`]
//! succeeds with the same values — an unknown or repeated member, a value
//! of another shape, a structure given as an array, anything unexpected —
//! and the caller then reads the record the strict way, which decides and
//! words every refusal. So acceptance and messages are the strict
//! reader's; this module's tests hold the two together with differential
//! property tests over records and mutated records.
//!
//! The bytes are canonical (an [`EntryRef`](al_audit_chain::EntryRef)'s
//! fields: checked by `decode_ref` or written by the audit crate's
//! encoders), so every string in them is UTF-8 already and the keys of
//! every object ascend strictly: the strings this reader returns are
//! checked again (`&str` needs it), the ones it skips or only compares
//! are not, and key order is relied on, not re-checked. The record's
//! members are therefore met in one fixed order, each compared with one
//! literal; a key out of that order is unknown or repeated.

use std::collections::BTreeSet;

use al_policy::{DataAccess, Field, PolicySet, Sensitivity};
use al_types::Timestamp;
use serde_json::{Map, Number, Value};

use crate::records::{ActionRecord, ActionStatus, DenialReason};

/// Deepest nesting followed (the canonical bytes hold at most 32 levels).
const MAX_LEVEL: usize = 64;

/// The `metadata` members a re-decision can read: the first segment of
/// every metadata field a condition of the sets under test names (a
/// condition reads `metadata[first]` and below it, nothing else). The
/// other members are checked but not rebuilt, unless one of them is nested
/// `max_depth` levels or more, which the request would refuse: then the
/// whole map is rebuilt so that the refusal is the request's own.
#[derive(Debug, Default)]
pub(crate) struct MetadataKeys {
    /// Sorted, without repeats.
    keys: Vec<Vec<u8>>,
    max_depth: usize,
}

impl MetadataKeys {
    /// The keys the conditions of `sets` read, under the request limit
    /// `max_depth`.
    pub(crate) fn of<'s>(sets: impl IntoIterator<Item = &'s PolicySet>, max_depth: usize) -> Self {
        let mut keys = BTreeSet::new();
        for set in sets {
            for p in set.policies() {
                for c in &p.spec().conditions {
                    if let Field::Metadata(path) = &c.field
                        && let Some(first) = path.first()
                    {
                        keys.insert(first.as_bytes().to_vec());
                    }
                }
            }
        }
        MetadataKeys {
            keys: keys.into_iter().collect(),
            max_depth,
        }
    }

    /// Whether a condition reads the member `key`. Manifests name a few
    /// metadata fields: a scan that compares lengths first beats a tree
    /// walk until there are many.
    fn contains(&self, key: &[u8]) -> bool {
        if self.keys.len() <= 16 {
            self.keys.iter().any(|k| k.as_slice() == key)
        } else {
            self.keys
                .binary_search_by(|k| k.as_slice().cmp(key))
                .is_ok()
        }
    }
}

/// The members of an action record a re-decision reads.
#[derive(Debug, PartialEq)]
pub(crate) struct ActionFacts<'a> {
    /// `action_type`.
    pub action_type: &'a str,
    /// `status`.
    pub status: ActionStatus,
    /// `denial_reason`.
    pub denial_reason: Option<DenialReason>,
    /// `requested_at`.
    pub requested_at: Timestamp,
    /// `data_accessed`, as the request takes it.
    pub data: Vec<DataAccess>,
    /// `metadata`.
    pub metadata: Map<String, Value>,
    /// `policy_name`.
    pub policy_name: Option<&'a str>,
    /// `decided_as`.
    pub decided_as: Option<&'a str>,
}

impl<'a> ActionFacts<'a> {
    /// The facts of a record read the strict way.
    pub(crate) fn of_record(r: &'a ActionRecord<'_>) -> ActionFacts<'a> {
        ActionFacts {
            action_type: &r.action_type,
            status: r.status,
            denial_reason: r.denial_reason,
            requested_at: r.requested_at,
            data: r.data_accessed.iter().map(|d| d.to_policy()).collect(),
            metadata: r.metadata.clone().into_owned(),
            policy_name: r.policy_name.as_deref(),
            decided_as: r.decided_as.as_deref(),
        }
    }

    /// The facts of an action entry's fields object (its canonical bytes,
    /// tag first); `None` when the strict reader must decide. With `keep`,
    /// `metadata` holds only the members `keep` names (see
    /// [`MetadataKeys`]); without, all of them.
    pub(crate) fn read(fields: &'a [u8], keep: Option<&MetadataKeys>) -> Option<ActionFacts<'a>> {
        let mut c = C { b: fields, at: 0 };
        if c.u8()? != 0x08 {
            return None;
        }
        let mut left = c.len()?;
        // Canonical keys ascend strictly, so the members come in the order
        // below and each is met at most once: one comparison per member
        // (with a literal, inline) instead of a dispatch. A key out of
        // this order is unknown or repeated, and left to the strict reader.
        let mut key = c.key(&mut left)?;
        let (mut action_type, mut denial_reason, mut requested_at, mut status) =
            (None, None, None, None);
        let (mut data, mut metadata, mut policy_name, mut decided_as) = (None, None, None, None);
        if key == Some(b"action_type") {
            action_type = Some(c.string()?);
            key = c.key(&mut left)?;
        }
        if key == Some(b"conditions_evaluated") {
            c.conditions()?;
            key = c.key(&mut left)?;
        }
        if key == Some(b"data_accessed") {
            data = Some(c.data_accessed()?);
            key = c.key(&mut left)?;
        }
        if key == Some(b"decided_as") {
            decided_as = c.opt_string()?;
            key = c.key(&mut left)?;
        }
        if key == Some(b"delegation_id") {
            c.skip_opt_string()?;
            key = c.key(&mut left)?;
        }
        if key == Some(b"denial_reason") {
            denial_reason = match c.opt_raw_string()? {
                None => None,
                Some(s) => Some(denial_reason_of(s)?),
            };
            key = c.key(&mut left)?;
        }
        if key == Some(b"event_id") {
            c.skip_opt_string()?;
            key = c.key(&mut left)?;
        }
        if key == Some(b"metadata") {
            if c.u8()? != 0x08 {
                return None;
            }
            let start = c.at;
            let pruned = match keep {
                Some(keep) => c.object_pruned(keep)?,
                None => None,
            };
            metadata = Some(match pruned {
                Some(m) => m,
                None => {
                    c.at = start;
                    c.object(1)?
                }
            });
            key = c.key(&mut left)?;
        }
        if key == Some(b"policy_digest") {
            if let Some(d) = c.opt_raw_string()? {
                let hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
                if d.len() != 64 || !d.iter().all(hex) {
                    return None;
                }
            }
            key = c.key(&mut left)?;
        }
        if key == Some(b"policy_id") {
            c.skip_opt_string()?;
            key = c.key(&mut left)?;
        }
        if key == Some(b"policy_name") {
            policy_name = c.opt_string()?;
            key = c.key(&mut left)?;
        }
        if key == Some(b"policy_version") {
            match c.u8()? {
                0x00 => {}
                0x03 => {
                    c.take(8)?;
                }
                _ => return None,
            }
            key = c.key(&mut left)?;
        }
        if key == Some(b"requested_at") {
            requested_at = Some(Timestamp::from_canonical(c.raw_string()?)?);
            key = c.key(&mut left)?;
        }
        if key == Some(b"status") {
            status = Some(status_of(c.raw_string()?)?);
            key = c.key(&mut left)?;
        }
        // Every member read, and nothing after the object.
        if key.is_some() || c.at != fields.len() {
            return None;
        }
        Some(ActionFacts {
            action_type: action_type?,
            status: status?,
            denial_reason,
            requested_at: requested_at?,
            data: data?,
            metadata: metadata?,
            policy_name,
            decided_as,
        })
    }
}

// The enumerations are matched as bytes (a match is ASCII, so UTF-8),
// each against literals the compiler compares inline.
fn status_of(s: &[u8]) -> Option<ActionStatus> {
    Some(match s {
        b"executed" => ActionStatus::Executed,
        b"denied" => ActionStatus::Denied,
        b"requested" => ActionStatus::Requested,
        b"policy_not_found" => ActionStatus::PolicyNotFound,
        _ => return None,
    })
}

fn denial_reason_of(s: &[u8]) -> Option<DenialReason> {
    Some(match s {
        b"POLICY_DENIED" => DenialReason::PolicyDenied,
        b"CONDITIONS_DENIED" => DenialReason::ConditionsDenied,
        b"POLICY_TAMPERED" => DenialReason::PolicyTampered,
        b"DELEGATION_SCOPE" => DenialReason::DelegationScope,
        b"AGENT_HALTED" => DenialReason::AgentHalted,
        _ => return None,
    })
}

fn sensitivity_of(s: &[u8]) -> Option<Sensitivity> {
    Some(match s {
        b"public" => Sensitivity::Public,
        b"low" => Sensitivity::Low,
        b"medium" => Sensitivity::Medium,
        b"high" => Sensitivity::High,
        b"critical" => Sensitivity::Critical,
        _ => return None,
    })
}

/// A cursor over canonical bytes.
struct C<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> C<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        let c = self.b.get(self.at).copied()?;
        self.at += 1;
        Some(c)
    }

    fn arr8(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }

    fn len(&mut self) -> Option<usize> {
        let n: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(n) as usize)
    }

    /// The next member's key while `left` members remain (counting them
    /// down), `None` after the last.
    fn key(&mut self, left: &mut usize) -> Option<Option<&'a [u8]>> {
        if *left == 0 {
            return Some(None);
        }
        *left -= 1;
        self.raw().map(Some)
    }

    /// A key or string body: `len:u32 bytes`.
    fn raw(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw()?).ok()
    }

    /// A string value (tag `0x06`).
    fn string(&mut self) -> Option<&'a str> {
        if self.u8()? != 0x06 {
            return None;
        }
        self.str()
    }

    /// A string value's bytes (tag `0x06`), not checked as UTF-8 (the
    /// canonical bytes were).
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        if self.u8()? != 0x06 {
            return None;
        }
        self.raw()
    }

    /// `null` or a string's bytes, as [`raw_string`](Self::raw_string).
    fn opt_raw_string(&mut self) -> Option<Option<&'a [u8]>> {
        match self.u8()? {
            0x00 => Some(None),
            0x06 => self.raw().map(Some),
            _ => None,
        }
    }

    /// `null` or a string, as an `Option<Cow<str>>` reads it.
    fn opt_string(&mut self) -> Option<Option<&'a str>> {
        match self.u8()? {
            0x00 => Some(None),
            0x06 => self.str().map(Some),
            _ => None,
        }
    }

    /// `null` or a string, not read: [`opt_string`](Self::opt_string)
    /// without the UTF-8 check the canonical bytes already passed.
    fn skip_opt_string(&mut self) -> Option<()> {
        self.opt_raw_string().map(|_| ())
    }

    /// A value as `serde_json` holds it; a container here is at `level`.
    fn value(&mut self, level: usize) -> Option<Value> {
        Some(match self.u8()? {
            0x00 => Value::Null,
            0x01 => Value::Bool(false),
            0x02 => Value::Bool(true),
            0x03 => Value::from(u64::from_be_bytes(self.arr8()?)),
            0x04 => {
                let i = i64::from_be_bytes(self.arr8()?);
                if i >= 0 {
                    return None;
                }
                Value::from(i)
            }
            0x05 => Value::Number(Number::from_f64(f64::from_bits(u64::from_be_bytes(
                self.arr8()?,
            )))?),
            0x06 => Value::String(self.str()?.to_owned()),
            0x07 if level < MAX_LEVEL => {
                let n = self.len()?;
                // Each item takes at least one byte.
                let mut a = Vec::with_capacity(n.min(self.b.len()));
                for _ in 0..n {
                    a.push(self.value(level + 1)?);
                }
                Value::Array(a)
            }
            0x08 if level < MAX_LEVEL => Value::Object(self.object(level + 1)?),
            _ => return None,
        })
    }

    /// An object's members after its tag.
    fn object(&mut self, level: usize) -> Option<Map<String, Value>> {
        let n = self.len()?;
        let mut m = Map::new();
        for _ in 0..n {
            let k = self.str()?.to_owned();
            let v = self.value(level)?;
            if m.insert(k, v).is_some() {
                return None;
            }
        }
        Some(m)
    }

    /// The metadata members `keep` names, after the object's tag; the
    /// others checked as [`value`](Self::value) would read them. `Some(None)`
    /// when a member left out is nested `keep.max_depth` levels or more.
    fn object_pruned(&mut self, keep: &MetadataKeys) -> Option<Option<Map<String, Value>>> {
        let n = self.len()?;
        let mut m = Map::new();
        for _ in 0..n {
            // Canonical keys ascend strictly: none is repeated.
            let k = self.raw()?;
            if keep.contains(k) {
                let k = std::str::from_utf8(k).ok()?.to_owned();
                m.insert(k, self.value(1)?);
            } else {
                if self.skip(1)? >= keep.max_depth {
                    return Some(None);
                }
            }
        }
        Some(Some(m))
    }

    /// Skip any value (what a `serde_json::Value` member accepts); its
    /// depth (0 for a scalar, 1 + its deepest item for a container).
    fn skip(&mut self, level: usize) -> Option<usize> {
        Some(match self.u8()? {
            0x00..=0x02 => 0,
            0x03 => {
                self.take(8)?;
                0
            }
            0x04 => {
                if i64::from_be_bytes(self.arr8()?) >= 0 {
                    return None;
                }
                0
            }
            0x05 => {
                if !f64::from_bits(u64::from_be_bytes(self.arr8()?)).is_finite() {
                    return None;
                }
                0
            }
            0x06 => {
                self.raw()?;
                0
            }
            0x07 if level < MAX_LEVEL => {
                let mut d = 0;
                for _ in 0..self.len()? {
                    d = d.max(self.skip(level + 1)?);
                }
                d + 1
            }
            0x08 if level < MAX_LEVEL => {
                let mut d = 0;
                for _ in 0..self.len()? {
                    self.raw()?;
                    d = d.max(self.skip(level + 1)?);
                }
                d + 1
            }
            _ => return None,
        })
    }

    /// `conditions_evaluated`: a list of objects with exactly `expected`
    /// (any value), `field` and `operator` (strings) and `result` (a
    /// boolean), keys ascending as canonical bytes hold them.
    fn conditions(&mut self) -> Option<()> {
        if self.u8()? != 0x07 {
            return None;
        }
        for _ in 0..self.len()? {
            if self.u8()? != 0x08 || self.len()? != 4 {
                return None;
            }
            if self.raw()? != b"expected" {
                return None;
            }
            self.skip(3)?;
            if self.raw()? != b"field" || self.u8()? != 0x06 {
                return None;
            }
            self.raw()?;
            if self.raw()? != b"operator" || self.u8()? != 0x06 {
                return None;
            }
            self.raw()?;
            if self.raw()? != b"result" || !matches!(self.u8()?, 0x01 | 0x02) {
                return None;
            }
        }
        Some(())
    }

    /// `data_accessed`: a list of objects with `count` (a whole number),
    /// `sensitivity` (optional: `null` or a known level) and `type` (a
    /// string), nothing else.
    fn data_accessed(&mut self) -> Option<Vec<DataAccess>> {
        if self.u8()? != 0x07 {
            return None;
        }
        let n = self.len()?;
        let mut out = Vec::with_capacity(n.min(self.b.len()));
        for _ in 0..n {
            if self.u8()? != 0x08 {
                return None;
            }
            let members = self.len()?;
            let (mut count, mut sensitivity, mut data_type) = (None, None, None);
            for _ in 0..members {
                match self.raw()? {
                    b"count" if count.is_none() => {
                        if self.u8()? != 0x03 {
                            return None;
                        }
                        count = Some(u64::from_be_bytes(self.arr8()?));
                    }
                    b"sensitivity" if sensitivity.is_none() => {
                        sensitivity = Some(match self.opt_raw_string()? {
                            None => None,
                            Some(s) => Some(sensitivity_of(s)?),
                        });
                    }
                    b"type" if data_type.is_none() => data_type = Some(self.string()?),
                    _ => return None,
                }
            }
            out.push(DataAccess {
                data_type: data_type?.to_owned(),
                count: count?,
                sensitivity: sensitivity.flatten(),
            });
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    //! The fast reader against the strict one (`Record::decode`, a
    //! `serde_json::from_value` of the fields): on records the engine
    //! writes, and on records mutated member by member.

    use std::borrow::Cow;

    use al_audit_chain::{Entry, Kind, decode_ref};
    use al_policy::ConditionEvaluated;
    use al_types::{Digest, EntryId};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::records::{DataItem, Record};

    /// The canonical bytes of an action entry with these fields, or `None`
    /// when they are not an entry at all (too deep, …).
    fn entry_bytes(fields: Map<String, Value>) -> Option<Vec<u8>> {
        let e = Entry {
            id: EntryId::from_row(7)?,
            kind: Kind::Action,
            agent_id: Some("agt_1".into()),
            timestamp: Timestamp::from_unix_millis(1_795_867_200_000)?,
            fields,
            prev_hash: Digest([3; 32]),
        };
        let b = e.encode();
        decode_ref(&b).ok()?;
        Some(b)
    }

    /// Fast accepts ⇒ strict accepts, with the same facts; and the fast
    /// answer (or its absence) is returned for coverage checks.
    fn check(fields: Map<String, Value>) -> Result<Option<bool>, TestCaseError> {
        let Some(bytes) = entry_bytes(fields.clone()) else {
            return Ok(None);
        };
        let e = decode_ref(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let fast = ActionFacts::read(e.fields_bytes(), None);
        let strict = Record::decode(Kind::Action, fields.clone());
        if let Some(fast) = &fast {
            match &strict {
                Ok(Record::Action(r)) => {
                    prop_assert_eq!(fast, &ActionFacts::of_record(r), "{:?}", fields);
                }
                other => prop_assert!(false, "fast accepted, strict: {other:?}; {fields:?}"),
            }
        }
        Ok(Some(fast.is_some()))
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-z\"\\\\é\u{1}]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z_.\\-*é]{0,8}"
    }

    prop_compose! {
        fn record()(
            action_type in text(),
            status in 0usize..4,
            denial in proptest::option::of(0usize..5),
            requested_at in Timestamp::MIN.unix_millis()..=Timestamp::MAX.unix_millis(),
            data in prop::collection::vec(
                (text(), any::<u64>(), proptest::option::of(0usize..5)), 0..3),
            metadata in prop::collection::btree_map("[a-z_@]{0,6}", json_value(), 0..5),
            ids in (proptest::option::of(text()), proptest::option::of(text()),
                    proptest::option::of(text()), proptest::option::of(text()),
                    proptest::option::of(text())),
            policy_version in proptest::option::of(any::<u64>()),
            policy_digest in proptest::option::of(any::<[u8; 32]>()),
            conditions in prop::collection::vec((text(), text(), json_value(), any::<bool>()), 0..3),
        ) -> Map<String, Value> {
            let statuses = [ActionStatus::Executed, ActionStatus::Denied, ActionStatus::Requested,
                ActionStatus::PolicyNotFound];
            let reasons = [DenialReason::PolicyDenied, DenialReason::ConditionsDenied,
                DenialReason::PolicyTampered, DenialReason::DelegationScope, DenialReason::AgentHalted];
            let levels = [Sensitivity::Public, Sensitivity::Low, Sensitivity::Medium,
                Sensitivity::High, Sensitivity::Critical];
            let data: Vec<DataItem> = data.into_iter().map(|(t, count, s)| DataItem {
                data_type: t, count, sensitivity: s.and_then(|i| levels.get(i).copied()),
            }).collect();
            let conditions: Vec<ConditionEvaluated> = conditions.into_iter().map(|(f, o, e, r)|
                ConditionEvaluated { field: f, operator: o, expected: e, result: r }).collect();
            let (event_id, delegation_id, policy_id, policy_name, decided_as) = ids;
            let r = ActionRecord {
                action_type: action_type.into(),
                status: statuses.get(status).copied().unwrap_or(ActionStatus::Executed),
                denial_reason: denial.and_then(|i| reasons.get(i).copied()),
                requested_at: Timestamp::from_unix_millis(requested_at).unwrap_or(Timestamp::UNIX_EPOCH),
                data_accessed: Cow::Owned(data),
                metadata: Cow::Owned(metadata.into_iter().collect()),
                event_id: event_id.map(Cow::Owned),
                delegation_id: delegation_id.map(Cow::Owned),
                policy_id: policy_id.map(Cow::Owned),
                policy_name: policy_name.map(Cow::Owned),
                policy_version,
                policy_digest: policy_digest.map(Digest),
                decided_as: decided_as.map(Cow::Owned),
                conditions_evaluated: Cow::Owned(conditions),
            };
            match serde_json::to_value(&r) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            }
        }
    }

    /// Values a mutation puts in place of a member: right and wrong
    /// shapes for each of them.
    fn replacement() -> impl Strategy<Value = Value> {
        prop_oneof![
            json_value(),
            prop::sample::select(vec![
                json!(null),
                json!("executed"),
                json!("denied"),
                json!("policy_not_found"),
                json!("Executed"),
                json!("POLICY_DENIED"),
                json!("AGENT_HALTED"),
                json!("policy_denied"),
                json!("2026-11-28T12:00:00Z"),
                json!("2026-11-28T12:00:00.000Z"),
                json!("2026-11-28T12:00:00+00:00"),
                json!("a".repeat(64)),
                json!("A".repeat(64)),
                json!("0".repeat(63)),
                json!(3),
                json!(-3),
                json!(3.0),
                json!([]),
                json!({}),
                json!([{"type": "pii", "count": 2}]),
                json!([{"type": "pii", "count": 2, "sensitivity": null}]),
                json!([{"type": "pii", "count": 2, "sensitivity": "HIGH"}]),
                json!([{"type": "pii", "count": -2}]),
                json!([{"type": "pii"}]),
                json!([{"type": "pii", "count": 1, "extra": 1}]),
                json!([["pii", 1, "high"]]),
                json!([{"field": "a", "operator": "eq", "expected": 1, "result": true}]),
                json!([{"field": "a", "operator": "eq", "expected": 1, "result": 1}]),
                json!([{"field": "a", "operator": "eq", "result": true}]),
                json!([{"field": "a", "operator": "eq", "expected": null, "result": false, "x": 0}]),
                json!([["a", "eq", 1, true]]),
            ]),
        ]
    }

    const KEYS: [&str; 16] = [
        "action_type",
        "status",
        "denial_reason",
        "requested_at",
        "data_accessed",
        "metadata",
        "event_id",
        "delegation_id",
        "policy_id",
        "policy_name",
        "policy_version",
        "policy_digest",
        "decided_as",
        "conditions_evaluated",
        "extra",
        "actions",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Every record the engine could write is read the fast way, as
        /// the strict reader reads it.
        #[test]
        fn records_read_as_the_strict_reader(fields in record()) {
            prop_assert_eq!(check(fields)?, Some(true));
        }

        /// Mutated records: whatever the fast reader accepts, the strict
        /// reader accepts with the same facts.
        #[test]
        fn mutated_records_never_read_otherwise(
            fields in record(),
            edits in prop::collection::vec((0usize..KEYS.len(), 0u8..3, replacement()), 1..4),
        ) {
            let mut fields = fields;
            for (k, op, v) in edits {
                let key = KEYS.get(k).copied().unwrap_or("extra").to_owned();
                match op {
                    0 => { fields.remove(&key); }
                    1 => { fields.insert(key, v); }
                    // Inside the first data item or condition.
                    _ => for list in ["data_accessed", "conditions_evaluated"] {
                        if let Some(Value::Object(m)) = fields.get_mut(list)
                            .and_then(Value::as_array_mut).and_then(|a| a.first_mut())
                        {
                            let inner = ["count", "type", "sensitivity", "result", "field",
                                "expected", "operator", "extra"];
                            let ik = inner.get(k % inner.len()).copied().unwrap_or("extra");
                            if v.is_null() && k % 2 == 0 { m.remove(ik); } else { m.insert(ik.into(), v.clone()); }
                        }
                    },
                }
            }
            check(fields)?;
        }
    }

    /// Metadata over a few keys, nested a little, for conditions to hit.
    fn metadata() -> impl Strategy<Value = Map<String, Value>> {
        let inner = prop::collection::btree_map("[bc]", json_value(), 0..3)
            .prop_map(|m| Value::Object(m.into_iter().collect()));
        prop::collection::btree_map("[a-e]", prop_oneof![json_value(), inner], 0..5)
            .prop_map(|m| m.into_iter().collect())
    }

    /// A set whose conditions read a few metadata paths.
    fn conditions_set() -> impl Strategy<Value = PolicySet> {
        let cond = (
            prop::sample::select(vec!["a", "b", "a.b", "c.c", "b.c", "e"]),
            prop::sample::select(vec![
                "operator: exists",
                "operator: not_exists",
                "operator: eq, value: 1",
                "operator: eq, value: true",
                "operator: lt, value: 10",
                "operator: in, value: [x, y]",
            ]),
        );
        prop::collection::vec(prop::collection::vec(cond, 0..3), 1..4).prop_map(|policies| {
            let mut y = String::from("version: 1\npolicies:\n");
            for (i, conds) in policies.iter().enumerate() {
                let effect = ["allow", "deny", "require_approval"][i % 3];
                y.push_str(&format!(
                    "  - {{ name: p{i}, action_type: \"*\", effect: {effect}, conditions: ["
                ));
                for (f, o) in conds {
                    y.push_str(&format!("{{ field: \"{f}\", {o} }}, "));
                }
                y.push_str("] }\n");
            }
            PolicySet::from_text(&y).unwrap_or_else(|e| panic!("{y}: {e}"))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Leaving out the metadata members no condition reads changes no
        /// decision, nor whether (and how) the request is refused.
        #[test]
        fn pruned_metadata_decides_as_the_whole(
            fields in record(),
            meta in metadata(),
            set in conditions_set(),
            max_depth in 4usize..7,
        ) {
            let mut fields = fields;
            fields.insert("metadata".into(), Value::Object(meta));
            let Some(bytes) = entry_bytes(fields) else { return Ok(()) };
            let e = decode_ref(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let limits = al_policy::Limits::builder().max_depth(max_depth).build()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let keep = MetadataKeys::of([&set], limits.max_depth());
            let whole = ActionFacts::read(e.fields_bytes(), None);
            let pruned = ActionFacts::read(e.fields_bytes(), Some(&keep));
            let (Some(whole), Some(pruned)) = (whole, pruned) else {
                prop_assert!(false, "both read");
                return Ok(());
            };
            prop_assert!(pruned.metadata.keys().all(|k| whole.metadata.contains_key(k)));
            let req = |f: &ActionFacts<'_>| al_policy::ActionRequest::new(
                f.action_type, f.requested_at, f.data.clone(), f.metadata.clone(), &limits,
            );
            match (req(&whole), req(&pruned)) {
                (Ok(a), Ok(b)) => {
                    let agent = al_policy::Agent { id: "agt_1", name: "x" };
                    let (da, db) = (set.evaluate(&a, &agent), set.evaluate(&b, &agent));
                    prop_assert_eq!(da.status, db.status);
                    prop_assert_eq!(da.denial_reason, db.denial_reason);
                    prop_assert_eq!(
                        da.policy.map(|p| p.name().to_owned()),
                        db.policy.map(|p| p.name().to_owned())
                    );
                    let (mut ca, mut cb) = (Vec::new(), Vec::new());
                    let _ = set.evaluate_with_conditions(&a, &agent, &mut ca);
                    let _ = set.evaluate_with_conditions(&b, &agent, &mut cb);
                    prop_assert_eq!(ca, cb);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "whole {a:?}, pruned {b:?}"),
            }
        }
    }

    #[test]
    fn examples() {
        let base = json!({
            "action_type": "pr.merge", "status": "denied", "denial_reason": "CONDITIONS_DENIED",
            "requested_at": "2026-11-28T12:00:00.250Z",
            "data_accessed": [{"type": "pii", "count": 3, "sensitivity": "high"}, {"type": "x", "count": 0}],
            "metadata": {"pr_size": 500, "labels": ["a", {"b": -1.5}], "n": null},
            "policy_name": "merges", "policy_version": 2, "policy_digest": "ab".repeat(32),
            "conditions_evaluated": [{"field": "pr_size", "operator": "lt", "expected": 400, "result": false}],
        });
        let Value::Object(base) = base else {
            unreachable!()
        };
        assert_eq!(check(base.clone()).unwrap(), Some(true));
        for (k, v) in [
            ("status", json!("Denied")),
            ("policy_version", json!(-1)),
            ("policy_version", json!(1.0)),
            ("policy_digest", json!("AB".repeat(32))),
            ("requested_at", json!("2026-11-28T12:00:00.000Z")),
            (
                "data_accessed",
                json!([{"type": "pii", "count": 1, "sensitivity": "secret"}]),
            ),
            ("metadata", json!([])),
            ("unknown", json!(1)),
        ] {
            let mut f = base.clone();
            f.insert(k.into(), v);
            assert_eq!(check(f.clone()).unwrap(), Some(false), "{k}");
            assert!(Record::decode(Kind::Action, f).is_err(), "{k}");
        }
        for k in [
            "action_type",
            "status",
            "requested_at",
            "data_accessed",
            "metadata",
        ] {
            let mut f = base.clone();
            f.remove(k);
            assert_eq!(check(f).unwrap(), Some(false), "{k}");
        }
    }

    /// The byte matches agree with the wire names the strict reader
    /// uses, both ways.
    #[test]
    fn enumerations_are_their_wire_names() {
        use super::{denial_reason_of, sensitivity_of, status_of};
        for v in [
            ActionStatus::Executed,
            ActionStatus::Denied,
            ActionStatus::Requested,
            ActionStatus::PolicyNotFound,
        ] {
            assert_eq!(status_of(v.as_str().as_bytes()), Some(v));
        }
        for v in [
            DenialReason::PolicyDenied,
            DenialReason::ConditionsDenied,
            DenialReason::PolicyTampered,
            DenialReason::DelegationScope,
            DenialReason::AgentHalted,
        ] {
            assert_eq!(denial_reason_of(v.code().as_bytes()), Some(v));
        }
        for name in ["public", "low", "medium", "high", "critical"] {
            assert_eq!(
                sensitivity_of(name.as_bytes()),
                al_policy::Sensitivity::parse(name)
            );
            assert!(sensitivity_of(name.as_bytes()).is_some());
        }
        for other in [
            &b""[..],
            b"Executed",
            b"policy_denied",
            b"HIGH",
            b"executed ",
        ] {
            assert_eq!(status_of(other), None);
            assert_eq!(denial_reason_of(other), None);
            assert_eq!(sensitivity_of(other), None);
        }
    }
}
