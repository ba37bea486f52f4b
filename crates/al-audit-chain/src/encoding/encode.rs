//! The general encoder: an entry whose fields are a `serde_json::Map`.

use al_types::{Digest, Timestamp};
use serde_json::{Map, Number, Value};

use crate::entry::{DOMAIN, Kind, VERSION};

/// Length prefix of a string or container. Lengths above `u32::MAX` cannot
/// occur in an entry under [`crate::MAX_ENTRY_BYTES`]; they saturate and
/// the size check refuses the entry.
pub(crate) fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Everything before the fields object. The fixed part (domain, version,
/// row, kind) is assembled on the stack and written with one copy.
pub(crate) fn header(
    out: &mut Vec<u8>,
    row: u64,
    kind: Kind,
    agent_id: Option<&str>,
    timestamp: Timestamp,
) {
    const D: usize = DOMAIN.len();
    let mut fixed = [0u8; D + 1 + 8 + 1];
    let (domain, rest) = fixed.split_at_mut(D);
    domain.copy_from_slice(DOMAIN);
    let (version, rest) = rest.split_at_mut(1);
    version.copy_from_slice(&[VERSION]);
    let (r, k) = rest.split_at_mut(8);
    r.copy_from_slice(&row.to_be_bytes());
    k.copy_from_slice(&[kind.code()]);
    out.extend_from_slice(&fixed);
    match agent_id {
        None => out.push(0),
        Some(a) => {
            out.push(1);
            put_str(out, a);
        }
    }
    out.extend_from_slice(&timestamp.unix_millis().to_be_bytes());
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
            put_len(out, a.len());
            for x in a {
                put_value(out, x);
            }
        }
        Value::Object(o) => put_fields(out, o),
    }
}

/// Integers (as `serde_json` holds them: `u64` or `i64`) take the integer
/// tags; every other number is a float, `-0.0` included.
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

/// An object, keys in ascending byte order.
pub(crate) fn put_fields(out: &mut Vec<u8>, o: &Map<String, Value>) {
    out.push(0x08);
    put_len(out, o.len());
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
        let mut pairs: Vec<(&String, &Value)> = o.iter().collect();
        pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (k, v) in pairs {
            put_str(out, k);
            put_value(out, v);
        }
    }
}

/// How many bytes [`put_value`] writes for `v`, without writing them.
fn value_len(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(_) => 9,
        Value::String(s) => 5 + s.len(),
        Value::Array(a) => a.iter().fold(5, |n, x| n.saturating_add(value_len(x))),
        Value::Object(o) => fields_len(o),
    }
}

/// How many bytes [`put_fields`] writes for `o`, without writing them.
fn fields_len(o: &Map<String, Value>) -> usize {
    o.iter().fold(5, |n, (k, v)| {
        n.saturating_add(4 + k.len()).saturating_add(value_len(v))
    })
}

/// The length of [`encode_entry`]'s output, computed without encoding:
/// the size limit is checked before any bytes are written.
pub(crate) fn entry_len(agent_id: Option<&str>, fields: &Map<String, Value>) -> usize {
    let agent = agent_id.map_or(1, |a| 5 + a.len());
    (DOMAIN.len() + 1 + 8 + 1 + agent + 8 + 32).saturating_add(fields_len(fields))
}

/// Append the canonical bytes of an entry given by its parts.
pub(crate) fn encode_entry(
    out: &mut Vec<u8>,
    row: u64,
    kind: Kind,
    agent_id: Option<&str>,
    timestamp: Timestamp,
    fields: &Map<String, Value>,
    prev_hash: &Digest,
) {
    header(out, row, kind, agent_id, timestamp);
    put_fields(out, fields);
    out.extend_from_slice(prev_hash.as_bytes());
}
