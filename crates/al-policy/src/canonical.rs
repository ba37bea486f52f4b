//! Canonical form and digests of policies (see `docs/policy-manifest.md`).
//!
//! A policy's digest is `SHA-256("agentlattice.policy.v1\n" || C)` where `C`
//! is the canonical JSON of its authored content: an object with the keys
//! `action_type`, `agents` (only when set; sorted, no duplicates),
//! `approval` (only when not the default; `{escalate_after?, timeout}` in
//! seconds), `conditions` (in order; each `{field, operator, value?}`),
//! `description` (only when set), `effect`, `enabled`, `name`. Canonical
//! JSON here means: no whitespace, object keys sorted by their UTF-8 bytes,
//! strings escaped as `serde_json` escapes them (`"`, `\\` and control
//! characters only), integers in decimal, other numbers in the shortest
//! form that round-trips (`ryu`). Server-side fields (`id`, `version`,
//! `created_at`, `digest`) are not covered.
//!
//! The digest of a whole set is `SHA-256("agentlattice.policyset.v1\n" ||
//! for each policy sorted by name: u32be(len(name)) || name || digest)`.

use std::fmt;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::model::PolicySpec;

/// A SHA-256 digest, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Parse 64 lowercase hex digits.
    #[must_use]
    pub fn from_hex(s: &str) -> Option<Digest> {
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Domain tag of a policy digest.
pub const POLICY_DOMAIN: &[u8] = b"agentlattice.policy.v1\n";
/// Domain tag of a policy-set digest.
pub const SET_DOMAIN: &[u8] = b"agentlattice.policyset.v1\n";

/// The canonical JSON of a policy's authored content.
#[must_use]
pub fn canonical_policy_json(p: &PolicySpec) -> String {
    use std::fmt::Write as _;
    // Keys are written in their sorted order directly; condition keys
    // (`field`, `operator`, `value`) are sorted too.
    let mut out = String::with_capacity(256);
    out.push_str("{\"action_type\":");
    write_str(&p.action_type.to_string(), &mut out);
    if let Some(agents) = &p.agents {
        out.push_str(",\"agents\":[");
        for (i, a) in agents.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(a, &mut out);
        }
        out.push(']');
    }
    if let Some(a) = &p.approval {
        out.push_str(",\"approval\":{");
        if let Some(e) = a.escalate_after_secs {
            let _ = write!(out, "\"escalate_after\":{e},");
        }
        let _ = write!(out, "\"timeout\":{}}}", a.timeout_secs);
    }
    out.push_str(",\"conditions\":[");
    for (i, c) in p.conditions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"field\":");
        write_str(&c.field.to_string(), &mut out);
        out.push_str(",\"operator\":\"");
        out.push_str(c.operator.as_str());
        out.push('"');
        if let Some(v) = &c.value {
            out.push_str(",\"value\":");
            write_canonical(v, &mut out);
        }
        out.push('}');
    }
    out.push(']');
    if let Some(d) = &p.description {
        out.push_str(",\"description\":");
        write_str(d, &mut out);
    }
    out.push_str(",\"effect\":\"");
    out.push_str(p.effect.as_str());
    out.push_str(if p.enabled {
        "\",\"enabled\":true,\"name\":"
    } else {
        "\",\"enabled\":false,\"name\":"
    });
    write_str(&p.name, &mut out);
    out.push('}');
    out
}

/// Write `v` as canonical JSON (sorted keys, no whitespace).
pub fn write_canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            // Sort explicitly: serde_json's map order depends on a cargo feature.
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                if let Some(x) = o.get(k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    // serde_json's string escaping is fixed: `"`, `\`, and C0 controls.
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

/// The digest of a policy's authored content.
#[must_use]
pub fn policy_digest(p: &PolicySpec) -> Digest {
    let mut h = Sha256::new();
    h.update(POLICY_DOMAIN);
    h.update(canonical_policy_json(p).as_bytes());
    Digest(h.finalize().into())
}

/// The digest of a set of `(name, digest)` pairs (order-independent).
#[must_use]
pub fn set_digest<'a>(items: impl IntoIterator<Item = (&'a str, Digest)>) -> Digest {
    let mut v: Vec<(&str, Digest)> = items.into_iter().collect();
    v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h = Sha256::new();
    h.update(SET_DOMAIN);
    for (name, d) in v {
        h.update(u32::try_from(name.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(name.as_bytes());
        h.update(d.0);
    }
    Digest(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"b": [1, 2.5, "x\n"], "a": {"z": null, "é": true}}"#).unwrap();
        let mut s = String::new();
        write_canonical(&v, &mut s);
        assert_eq!(s, r#"{"a":{"z":null,"é":true},"b":[1,2.5,"x\n"]}"#);
    }

    #[test]
    fn digest_hex_round_trip() {
        let d = Digest([0xab; 32]);
        assert_eq!(Digest::from_hex(&d.to_string()), Some(d));
        assert_eq!(Digest::from_hex(&d.to_string().to_uppercase()), None);
        assert_eq!(Digest::from_hex("ab"), None);
    }
}
