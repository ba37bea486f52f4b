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
//! form that round-trips, laid out as `docs/policy-manifest.md` section 6
//! specifies. Server-side fields (`id`, `version`,
//! `created_at`, `digest`) are not covered.
//!
//! The digest of a whole set is `SHA-256("agentlattice.policyset.v1\n" ||
//! for each policy sorted by name: u32be(len(name)) || name || digest)`.

use al_types::Digest;

use crate::model::PolicySpec;

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
fn write_canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
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

/// Integers (those that fit `i64` or `u64`) in plain decimal; any other
/// number in the shortest digits that round-trip the double, laid out as
/// `docs/policy-manifest.md` specifies ("Numbers"):
///
/// - decimal exponent `e` (value = `d.ddd × 10^e`) in `-5..=15`: positional,
///   with at least one digit after the point (`0.25`, `100.0`, `0.00001`,
///   `1000000000000000.0`);
/// - otherwise scientific: the digits with a point after the first (when
///   there is more than one), `e`, a sign, the exponent without leading
///   zeros (`1e+16`, `1.5e+100`, `1e-6`, `5e-324`).
///
/// Owned here (not left to `serde_json`'s float writer) so a dependency
/// upgrade can never change a digest.
fn write_number(n: &serde_json::Number, out: &mut String) {
    use std::fmt::Write as _;
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        write_float(f, out);
    }
}

fn write_float(f: f64, out: &mut String) {
    use std::fmt::Write as _;
    let (digits, exp) = shortest_digits(f);
    if f.is_sign_negative() {
        out.push('-');
    }
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if (-5..=15).contains(&exp) {
        let n = exp + 1; // digits before the point
        if n <= 0 {
            out.push_str("0.");
            for _ in 0..-n {
                out.push('0');
            }
            out.push_str(&digits);
        } else if n >= k {
            out.push_str(&digits);
            for _ in 0..n - k {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            let (int, frac) = digits.split_at(usize::try_from(n).unwrap_or(0));
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(out, "e{}{}", if exp > 0 { '+' } else { '-' }, exp.abs());
    }
}

/// The shortest decimal digits that read back as exactly `|f|` (among
/// equally short candidates the closest; exactly halfway: the even last
/// digit), and the decimal exponent of the first digit.
fn shortest_digits(f: f64) -> (String, i32) {
    // `{:e}` is shortest and closest; only its tie-break is not to even.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let odd = digits.bytes().last().is_some_and(|b| (b - b'0') % 2 == 1);
    if !odd || f == 0.0 {
        return (digits, exp);
    }
    // Every double has a finite decimal expansion (at most 767 significant
    // digits); `{:.800e}` prints it exactly.
    let exact = format!("{:.800e}", f.abs());
    let (exact_m, exact_e) = exact.split_once('e').unwrap_or((exact.as_str(), "0"));
    let exact_digits: String = exact_m.chars().filter(char::is_ascii_digit).collect();
    if exact_e.parse::<i32>().ok() != Some(exp) {
        return (digits, exp);
    }
    let k = digits.len();
    let (head, tail) = exact_digits.split_at(k.min(exact_digits.len()));
    let halfway = tail.starts_with('5') && tail.bytes().skip(1).all(|b| b == b'0');
    if !halfway {
        return (digits, exp);
    }
    let (alt, alt_exp) = if head == digits {
        increment(head, exp)
    } else {
        (head.to_owned(), exp)
    };
    let alt = alt.trim_end_matches('0').to_owned();
    let alt = if alt.is_empty() { "0".to_owned() } else { alt };
    let (first, rest) = alt.split_at(1);
    let text = format!("{first}.{rest}e{alt_exp}");
    match text.parse::<f64>() {
        Ok(back) if back == f.abs() => (alt, alt_exp),
        _ => (digits, exp),
    }
}

/// `digits + 1` in the last place; a carry out of the first digit raises
/// the exponent.
fn increment(digits: &str, exp: i32) -> (String, i32) {
    let mut b = digits.as_bytes().to_vec();
    for d in b.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return (String::from_utf8(b).unwrap_or_default(), exp);
        }
    }
    b.insert(0, b'1');
    b.pop();
    (String::from_utf8(b).unwrap_or_default(), exp + 1)
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
    Digest::of_parts(&[POLICY_DOMAIN, canonical_policy_json(p).as_bytes()])
}

/// The digest of a set of `(name, digest)` pairs (order-independent).
#[must_use]
pub fn set_digest<'a>(items: impl IntoIterator<Item = (&'a str, Digest)>) -> Digest {
    let mut v: Vec<(&str, Digest)> = items.into_iter().collect();
    v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut bytes = Vec::with_capacity(SET_DOMAIN.len() + v.len() * 64);
    bytes.extend_from_slice(SET_DOMAIN);
    for (name, d) in v {
        bytes.extend_from_slice(&u32::try_from(name.len()).unwrap_or(u32::MAX).to_be_bytes());
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(d.as_bytes());
    }
    Digest::of(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"b": [1, 2.5, "x\n"], "a": {"z": null, "é": true}}"#).unwrap();
        let mut s = String::new();
        write_canonical(&v, &mut s);
        assert_eq!(s, r#"{"a":{"z":null,"é":true},"b":[1,2.5,"x\n"]}"#);
    }

    #[test]
    fn numbers_are_written_as_documented() {
        for (v, want) in [
            (json!(1), "1"),
            (json!(-7), "-7"),
            (json!(u64::MAX), "18446744073709551615"),
            (json!(i64::MIN), "-9223372036854775808"),
            (json!(1.0), "1.0"),
            (json!(100.0), "100.0"),
            (json!(0.25), "0.25"),
            (json!(-0.0), "-0.0"),
            (json!(0.1), "0.1"),
            (json!(0.00001), "0.00001"),
            (json!(0.000001), "1e-6"),
            (json!(1e15), "1000000000000000.0"),
            (json!(1e16), "1e+16"),
            (json!(1e100), "1e+100"),
            (json!(1.5e100), "1.5e+100"),
            (json!(-1.5e-7), "-1.5e-7"),
            (json!(5e-324), "5e-324"),
            (json!(f64::MAX), "1.7976931348623157e+308"),
            (json!(123_456_789.125), "123456789.125"),
            // Exactly halfway between two 17-digit candidates: the even one.
            (json!(6_049_748_628_296_301.0 / 4.0), "1512437157074075.2"),
            (json!(6_049_748_628_296_299.0 / 4.0), "1512437157074074.8"),
        ] {
            let mut s = String::new();
            write_canonical(&v, &mut s);
            assert_eq!(s, want, "{v}");
        }
    }

    proptest::proptest! {
        /// The layout is serde_json 1.0.154's (what digests were computed
        /// with before this writer existed), for every finite double.
        #[test]
        fn floats_match_the_layout_digests_were_made_with(bits in proptest::prelude::any::<u64>()) {
            let f = f64::from_bits(bits);
            proptest::prop_assume!(f.is_finite());
            let mut s = String::new();
            write_float(f, &mut s);
            proptest::prop_assert_eq!(&s, &serde_json::Number::from_f64(f).unwrap().to_string());
            proptest::prop_assert_eq!(s.parse::<f64>().unwrap().to_bits(), f.to_bits());
        }
    }

    #[test]
    fn floats_of_every_exponent_match() {
        for e in -324..=308 {
            for m in [1.0, 1.5, 9.999_999_999_999_999, 2.220_446_049_250_313] {
                let f: f64 = format!("{m}e{e}").parse().unwrap();
                if f.is_finite() && f != 0.0 {
                    let mut s = String::new();
                    write_float(f, &mut s);
                    assert_eq!(s, serde_json::Number::from_f64(f).unwrap().to_string());
                }
            }
        }
    }
}
