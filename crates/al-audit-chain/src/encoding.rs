//! Canonical encoding v1 of audit entries (`docs/audit-encoding.md`).
//!
//! ```text
//! entry   = DOMAIN version:u8(1) row:u64be kind:u8 agent timestamp:i64be fields:value prev_hash:[32]
//! DOMAIN  = "agentlattice.audit.entry.v1" 0x00            (28 bytes)
//! agent   = 0x00 | 0x01 str
//! str     = len:u32be utf8-bytes
//! value   = 0x00 null | 0x01 false | 0x02 true
//!         | 0x03 u64be              (integer >= 0)
//!         | 0x04 i64be              (integer < 0)
//!         | 0x05 f64be              (IEEE 754 bits of a non-integer-typed finite number)
//!         | 0x06 str
//!         | 0x07 count:u32be value*
//!         | 0x08 count:u32be (str value)*   keys strictly ascending by bytes
//! ```
//! `hash = SHA-256(entry)`. The decoder accepts only canonical bytes, so
//! `encode(decode(b)) == b` for every accepted `b`.

use std::fmt;

use serde_json::{Map, Number, Value};
use sha2::{Digest as _, Sha256};

/// Domain tag that starts every encoded entry.
pub const DOMAIN: &[u8; 28] = b"agentlattice.audit.entry.v1\0";
/// Encoding version byte.
pub const VERSION: u8 = 1;
/// Deepest nesting of `fields` values accepted.
pub const MAX_DEPTH: usize = 32;
/// Largest encoded entry accepted, in bytes.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;
/// Keys reserved for the entry header in the JSON form; `fields` may not use them.
pub const RESERVED_KEYS: [&str; 7] = [
    "row",
    "id",
    "kind",
    "agent_id",
    "timestamp",
    "prev_hash",
    "hash",
];

/// A SHA-256 hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// 32 zero bytes: the `prev_hash` of row 1.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Parse 64 lowercase hex digits.
    #[must_use]
    pub fn from_hex(s: &str) -> Option<Hash> {
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Hash(out))
    }

    /// SHA-256 of `data`.
    #[must_use]
    pub fn of(data: &[u8]) -> Hash {
        Hash(Sha256::digest(data).into())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 64];
        match hex::encode_to_slice(self.0, &mut buf) {
            Ok(()) => f.write_str(std::str::from_utf8(&buf).unwrap_or("")),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What an entry records (SPEC §4).
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
    /// A key created or revoked.
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

/// An entry's public id: `evt_` and the row as 16 lowercase hex digits.
/// Derived from the row, so lookups need no index and ids cannot collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(pub u64);

impl EntryId {
    /// Parse `evt_` + 16 lowercase hex digits.
    #[must_use]
    pub fn parse(s: &str) -> Option<EntryId> {
        let hexpart = s.strip_prefix("evt_")?;
        if hexpart.len() != 16
            || !hexpart
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        u64::from_str_radix(hexpart, 16)
            .ok()
            .filter(|&r| r >= 1)
            .map(EntryId)
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "evt_{:016x}", self.0)
    }
}

/// What the caller appends: everything but `row` and `prev_hash`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    /// Kind.
    pub kind: Kind,
    /// The agent concerned, if any.
    pub agent_id: Option<String>,
    /// The caller's time, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The kind's fields (see `docs/audit-encoding.md` for each kind's).
    pub fields: Map<String, Value>,
}

/// A full entry, as decoded from canonical bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// 1-based position in the chain.
    pub row: u64,
    /// Kind.
    pub kind: Kind,
    /// The agent concerned, if any.
    pub agent_id: Option<String>,
    /// The caller's time, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The kind's fields.
    pub fields: Map<String, Value>,
    /// Hash of the previous entry (zero for row 1).
    pub prev_hash: Hash,
}

impl Entry {
    /// The entry id.
    #[must_use]
    pub fn id(&self) -> EntryId {
        EntryId(self.row)
    }

    /// Append the canonical bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        encode_parts(
            out,
            self.row,
            self.kind,
            self.agent_id.as_deref(),
            self.timestamp_ms,
            &self.fields,
            &self.prev_hash,
        );
    }

    /// The canonical bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(128);
        self.encode_into(&mut v);
        v
    }

    /// SHA-256 of the canonical bytes.
    #[must_use]
    pub fn hash(&self) -> Hash {
        Hash::of(&self.encode())
    }

    /// A string field, if present.
    #[must_use]
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
}

/// Why bytes are not a canonical entry, or an entry is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// The bytes end too early.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// Bytes are left over after the entry.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// The domain tag or version is wrong.
    #[error("not an audit entry v1 (bad domain tag or version)")]
    BadHeader,
    /// An unknown kind code.
    #[error("unknown kind code {0}")]
    BadKind(u8),
    /// An unknown value tag.
    #[error("unknown value tag {tag:#04x} at byte {at}")]
    BadTag {
        /// The tag.
        tag: u8,
        /// Where.
        at: usize,
    },
    /// Not valid UTF-8.
    #[error("invalid UTF-8 at byte {0}")]
    Utf8(usize),
    /// A form that is valid but not canonical (unsorted keys, a
    /// non-negative integer under the negative tag, a non-finite float).
    #[error("non-canonical encoding at byte {0}: {1}")]
    NonCanonical(usize, &'static str),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Larger than [`MAX_ENTRY_BYTES`].
    #[error("entry is larger than {MAX_ENTRY_BYTES} bytes")]
    TooLarge,
    /// `fields` uses a reserved key.
    #[error("field `{0}` is reserved for the entry header")]
    ReservedKey(String),
    /// A kind's required field is missing or has the wrong type.
    #[error("{kind} entries need `{field}` ({want})")]
    MissingField {
        /// Kind.
        kind: Kind,
        /// Field.
        field: &'static str,
        /// Expected type.
        want: &'static str,
    },
}

impl EncodingError {
    /// Stable code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            EncodingError::ReservedKey(_)
            | EncodingError::MissingField { .. }
            | EncodingError::TooDeep
            | EncodingError::TooLarge => "INVALID_ENTRY",
            _ => "INVALID_ENCODING",
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(0x00),
        Value::Bool(false) => out.push(0x01),
        Value::Bool(true) => out.push(0x02),
        Value::Number(n) => put_number(out, n),
        Value::String(s) => {
            out.push(0x06);
            put_str(out, s);
        }
        Value::Array(a) => {
            out.push(0x07);
            out.extend_from_slice(&u32::try_from(a.len()).unwrap_or(u32::MAX).to_be_bytes());
            for x in a {
                put_value(out, x);
            }
        }
        Value::Object(o) => put_object(out, o),
    }
}

fn put_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        out.push(0x03);
        out.extend_from_slice(&u.to_be_bytes());
    } else if let Some(i) = n.as_i64() {
        out.push(0x04);
        out.extend_from_slice(&i.to_be_bytes());
    } else {
        out.push(0x05);
        out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_bits().to_be_bytes());
    }
}

fn put_object(out: &mut Vec<u8>, o: &Map<String, Value>) {
    out.push(0x08);
    out.extend_from_slice(&u32::try_from(o.len()).unwrap_or(u32::MAX).to_be_bytes());
    // serde_json's map order depends on a cargo feature: it is usually
    // already sorted by key bytes (a BTreeMap); sort only when it is not.
    let sorted = o
        .keys()
        .zip(o.keys().skip(1))
        .all(|(a, b)| a.as_bytes() < b.as_bytes());
    if sorted {
        for (k, v) in o {
            put_str(out, k);
            put_value(out, v);
        }
    } else {
        let mut keys: Vec<&String> = o.keys().collect();
        keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for k in keys {
            put_str(out, k);
            if let Some(v) = o.get(k) {
                put_value(out, v);
            }
        }
    }
}

/// Append the canonical bytes of an entry given by its parts.
pub fn encode_parts(
    out: &mut Vec<u8>,
    row: u64,
    kind: Kind,
    agent_id: Option<&str>,
    timestamp_ms: i64,
    fields: &Map<String, Value>,
    prev_hash: &Hash,
) {
    out.extend_from_slice(DOMAIN);
    out.push(VERSION);
    out.extend_from_slice(&row.to_be_bytes());
    out.push(kind.code());
    match agent_id {
        None => out.push(0),
        Some(a) => {
            out.push(1);
            put_str(out, a);
        }
    }
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    put_object(out, fields);
    out.extend_from_slice(&prev_hash.0);
}

/// Byte offset of the row in an encoded entry.
pub const ROW_OFFSET: usize = DOMAIN.len() + 1;

/// The row of encoded bytes, read without a full decode.
#[must_use]
pub fn peek_row(bytes: &[u8]) -> Option<u64> {
    let b: [u8; 8] = bytes.get(ROW_OFFSET..ROW_OFFSET + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

/// The `prev_hash` of encoded bytes (their last 32 bytes).
#[must_use]
pub fn peek_prev_hash(bytes: &[u8]) -> Option<Hash> {
    let start = bytes.len().checked_sub(32)?;
    let b: [u8; 32] = bytes.get(start..)?.try_into().ok()?;
    Some(Hash(b))
}

/// Check that `fields` obeys the rules for `kind` (SPEC §4).
///
/// # Errors
/// [`EncodingError::ReservedKey`], [`EncodingError::MissingField`] or
/// [`EncodingError::TooDeep`].
pub fn validate_fields(kind: Kind, fields: &Map<String, Value>) -> Result<(), EncodingError> {
    if let Some(k) = fields.keys().find(|k| RESERVED_KEYS.contains(&k.as_str())) {
        return Err(EncodingError::ReservedKey(k.clone()));
    }
    if fields.values().any(|v| depth(v) > MAX_DEPTH) {
        return Err(EncodingError::TooDeep);
    }
    let need_str = |field: &'static str| -> Result<(), EncodingError> {
        match fields.get(field) {
            Some(Value::String(_)) => Ok(()),
            _ => Err(EncodingError::MissingField {
                kind,
                field,
                want: "a string",
            }),
        }
    };
    match kind {
        Kind::Action => {
            need_str("action_type")?;
            need_str("status")
        }
        Kind::Outcome => {
            need_str("audit_event_id")?;
            match fields.get("status").and_then(Value::as_str) {
                Some("success" | "failure" | "partial") => Ok(()),
                _ => Err(EncodingError::MissingField {
                    kind,
                    field: "status",
                    want: "success, failure or partial",
                }),
            }
        }
        _ => Ok(()),
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EncodingError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or(EncodingError::Truncated(self.at))?;
        let s = self
            .b
            .get(self.at..end)
            .ok_or(EncodingError::Truncated(self.at))?;
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, EncodingError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], EncodingError> {
        let at = self.at;
        self.take(N)?
            .try_into()
            .map_err(|_| EncodingError::Truncated(at))
    }
    fn u32(&mut self) -> Result<usize, EncodingError> {
        Ok(u32::from_be_bytes(self.arr()?) as usize)
    }
    fn str(&mut self) -> Result<&'a str, EncodingError> {
        let n = self.u32()?;
        let at = self.at;
        std::str::from_utf8(self.take(n)?).map_err(|_| EncodingError::Utf8(at))
    }
    fn value(&mut self, depth: usize) -> Result<Value, EncodingError> {
        let at = self.at;
        let tag = self.u8()?;
        Ok(match tag {
            0x00 => Value::Null,
            0x01 => Value::Bool(false),
            0x02 => Value::Bool(true),
            0x03 => Value::from(u64::from_be_bytes(self.arr()?)),
            0x04 => {
                let i = i64::from_be_bytes(self.arr()?);
                if i >= 0 {
                    return Err(EncodingError::NonCanonical(
                        at,
                        "non-negative integer under tag 0x04",
                    ));
                }
                Value::from(i)
            }
            0x05 => {
                let f = f64::from_bits(u64::from_be_bytes(self.arr()?));
                let n = Number::from_f64(f)
                    .ok_or(EncodingError::NonCanonical(at, "non-finite float"))?;
                Value::Number(n)
            }
            0x06 => Value::String(self.str()?.to_owned()),
            0x07 | 0x08 if depth >= MAX_DEPTH => return Err(EncodingError::TooDeep),
            0x07 => {
                let n = self.u32()?;
                // Each item takes at least one byte: bound the allocation by what is left.
                let mut a = Vec::with_capacity(n.min(self.b.len().saturating_sub(self.at)));
                for _ in 0..n {
                    a.push(self.value(depth + 1)?);
                }
                Value::Array(a)
            }
            0x08 => Value::Object(self.object(depth + 1)?),
            tag => return Err(EncodingError::BadTag { tag, at }),
        })
    }
    fn object(&mut self, depth: usize) -> Result<Map<String, Value>, EncodingError> {
        let n = self.u32()?;
        let mut m = Map::new();
        let mut prev: Option<&str> = None;
        for _ in 0..n {
            let at = self.at;
            let k = self.str()?;
            if prev.is_some_and(|p| p.as_bytes() >= k.as_bytes()) {
                return Err(EncodingError::NonCanonical(
                    at,
                    "object keys not strictly ascending",
                ));
            }
            prev = Some(k);
            let v = self.value(depth)?;
            m.insert(k.to_owned(), v);
        }
        Ok(m)
    }
}

/// Decode canonical bytes. Accepts only canonical encodings.
///
/// # Errors
/// [`EncodingError`] naming the byte offset.
pub fn decode(bytes: &[u8]) -> Result<Entry, EncodingError> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(EncodingError::TooLarge);
    }
    let mut r = Reader { b: bytes, at: 0 };
    if r.take(DOMAIN.len())? != DOMAIN || r.u8()? != VERSION {
        return Err(EncodingError::BadHeader);
    }
    let row = u64::from_be_bytes(r.arr()?);
    let kc = r.u8()?;
    let kind = Kind::from_code(kc).ok_or(EncodingError::BadKind(kc))?;
    let at = r.at;
    let agent_id = match r.u8()? {
        0 => None,
        1 => Some(r.str()?.to_owned()),
        _ => return Err(EncodingError::NonCanonical(at, "agent flag must be 0 or 1")),
    };
    let timestamp_ms = i64::from_be_bytes(r.arr()?);
    let at = r.at;
    if r.u8()? != 0x08 {
        return Err(EncodingError::NonCanonical(at, "fields must be an object"));
    }
    let fields = r.object(1)?;
    let prev_hash = Hash(r.arr()?);
    if r.at != bytes.len() {
        return Err(EncodingError::Trailing(bytes.len() - r.at));
    }
    Ok(Entry {
        row,
        kind,
        agent_id,
        timestamp_ms,
        fields,
        prev_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Entry {
        Entry {
            row: 1,
            kind: Kind::Action,
            agent_id: Some("agt_1".into()),
            timestamp_ms: 1_764_331_200_000,
            fields: json!({"status": "executed", "action_type": "pr.merge", "n": -3, "f": 0.5, "big": u64::MAX, "z": [null, true, false, {"b": 1, "a": "x"}]})
                .as_object()
                .cloned()
                .unwrap(),
            prev_hash: Hash::ZERO,
        }
    }

    #[test]
    fn round_trip_and_peek() {
        let e = sample();
        let b = e.encode();
        assert_eq!(decode(&b).unwrap(), e);
        assert_eq!(peek_row(&b), Some(1));
        assert_eq!(peek_prev_hash(&b), Some(Hash::ZERO));
    }

    #[test]
    fn every_truncation_fails() {
        let b = sample().encode();
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_err(), "accepted a prefix of {n} bytes");
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(decode(&long), Err(EncodingError::Trailing(1)));
    }

    #[test]
    fn non_canonical_forms_are_rejected() {
        // Swap two object keys in the fields object: find "action_type" then
        // rebuild by hand with descending keys.
        let mut out = Vec::new();
        out.extend_from_slice(DOMAIN);
        out.push(1);
        out.extend_from_slice(&1u64.to_be_bytes());
        out.push(1);
        out.push(0);
        out.extend_from_slice(&0i64.to_be_bytes());
        out.push(0x08);
        out.extend_from_slice(&2u32.to_be_bytes());
        put_str(&mut out, "b");
        out.push(0);
        put_str(&mut out, "a");
        out.push(0);
        out.extend_from_slice(&[0; 32]);
        assert!(matches!(decode(&out), Err(EncodingError::NonCanonical(..))));
    }

    #[test]
    fn ids() {
        assert_eq!(EntryId(42).to_string(), "evt_000000000000002a");
        assert_eq!(EntryId::parse("evt_000000000000002a"), Some(EntryId(42)));
        for bad in [
            "evt_2a",
            "evt_000000000000002A",
            "xyz_000000000000002a",
            "evt_0000000000000000",
        ] {
            assert_eq!(EntryId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn field_rules() {
        let m = |v: Value| v.as_object().cloned().unwrap();
        assert!(
            validate_fields(
                Kind::Action,
                &m(json!({"action_type": "a", "status": "executed"}))
            )
            .is_ok()
        );
        assert!(matches!(
            validate_fields(Kind::Action, &m(json!({"status": "x"}))),
            Err(EncodingError::MissingField {
                field: "action_type",
                ..
            })
        ));
        assert!(matches!(
            validate_fields(Kind::Key, &m(json!({"row": 1}))),
            Err(EncodingError::ReservedKey(_))
        ));
        assert!(
            validate_fields(
                Kind::Outcome,
                &m(json!({"audit_event_id": "evt_1", "status": "meh"}))
            )
            .is_err()
        );
    }
}
