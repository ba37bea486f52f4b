//! The YAML manifest reader: `serde-saphyr` with budgets, then our own
//! scalar rule.
//!
//! Scalars follow the YAML 1.2 JSON schema, the subset every YAML reader
//! (1.1 or 1.2) agrees on: a scalar written without quotes is a boolean only
//! as `true`/`false`, null only as `null`, `~` or nothing, a number only in
//! JSON's spelling (`-12`, `0.5`, `1e3`); every other unquoted scalar is a
//! string, except the spellings that some YAML reader would take for a
//! boolean, null or number (`True`, `yes`, `off`, `NULL`, `007`, `1_000`,
//! `0x1F`, `0o17`, `+1`, `.5`, `.inf`, `.nan`, `12:30`), which are refused
//! with `AMBIGUOUS_SCALAR`: quote them for a string, or write the JSON
//! spelling. Explicit tags are not needed and not looked at: a tagged or
//! block scalar whose text, unquoted, would not be a plain string is refused
//! the same way (quoting always works).
//!
//! Errors are classified by `serde-saphyr`'s structured error variants,
//! never by their message text.
//!
//! Why one file (501 lines): about 140 of its lines are unit tests pinning
//! each YAML error class; the reader itself is one job.

use std::fmt;

use al_types::Location;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Key, Node, Val};
use crate::error::{Code, Diagnostic, Error};
use crate::limits::Limits;

fn yaml_loc(l: &serde_saphyr::Location) -> Option<Location> {
    if l.line() == 0 {
        return None;
    }
    Some(Location {
        line: u32::try_from(l.line()).unwrap_or(u32::MAX),
        column: u32::try_from(l.column()).unwrap_or(u32::MAX),
    })
}

/// Byte range of a node's text, when the reader knows it.
fn yaml_raw(l: &serde_saphyr::Location) -> Option<(usize, usize)> {
    let span = l.span();
    let at = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    Some((at, len))
}

/// A value and, for scalars, the byte range of its text.
struct YamlVal(Val);

impl<'de> Deserialize<'de> for YamlVal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor).map(YamlVal)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Val, E> {
        Ok(Val::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Val, E> {
        Ok(Val::Num(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Val, E> {
        Ok(Val::Num(v.into()))
    }
    // Integers beyond 64 bits: a placeholder the scalar check always
    // refuses (its text is digits, not `null`).
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Val, E> {
        Ok(i64::try_from(v)
            .map(|i| Val::Num(i.into()))
            .or_else(|_| u64::try_from(v).map(|u| Val::Num(u.into())))
            .unwrap_or(Val::Null))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Val, E> {
        Ok(u64::try_from(v).map_or(Val::Null, |u| Val::Num(u.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val, E> {
        serde_json::Number::from_f64(v)
            .map(Val::Num)
            .ok_or_else(|| E::custom("non-finite numbers are not allowed"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Val, E> {
        Ok(Val::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Val, E> {
        Ok(Val::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_none<E>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Val, D::Error> {
        d.deserialize_any(ValVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_saphyr::Spanned<YamlVal>>()? {
            items.push(node(item));
        }
        Ok(Val::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        let mut pairs = Vec::new();
        while let Some(k) = map.next_key::<serde_saphyr::Spanned<String>>()? {
            let v = map.next_value::<serde_saphyr::Spanned<YamlVal>>()?;
            pairs.push((
                Key {
                    name: k.value,
                    loc: yaml_loc(&k.referenced),
                },
                node(v),
            ));
        }
        Ok(Val::Map(pairs))
    }
}

fn node(s: serde_saphyr::Spanned<YamlVal>) -> Node {
    let raw = match s.value.0 {
        Val::Seq(_) | Val::Map(_) => None,
        _ => yaml_raw(&s.referenced),
    };
    Node {
        loc: yaml_loc(&s.referenced),
        val: s.value.0,
        raw,
    }
}

fn options(text: &str, limits: &Limits) -> serde_saphyr::Options {
    let mut opts = serde_saphyr::Options::default();
    opts.with_snippet = false;
    opts.strict_booleans = true;
    // Keep `007` and `1_000` as text so the scalar check sees them.
    opts.leading_zero_numbers_as_strings = true;
    opts.underscored_numbers_as_strings = true;
    opts.legacy_octal_numbers = false;
    opts.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::Error;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits.max_depth;
    budget.flow_nesting_limit = limits.max_depth;
    // Events and nodes are bounded by the input size: an alias bomb expands
    // far past it and is stopped by these budgets before it costs memory.
    budget.max_events = text.len().saturating_add(1024);
    budget.max_nodes = text.len().saturating_add(1024);
    budget.max_total_scalar_bytes = text.len().saturating_mul(2).saturating_add(1024);
    budget.max_aliases = 10_000;
    budget.max_documents = 1;
    opts.budget = Some(budget);
    opts
}

/// Which of our codes a `serde-saphyr` error is. Matches on the error's
/// variant, not its text (pinned by the tests below).
fn classify(e: &serde_saphyr::Error) -> Code {
    use serde_saphyr::Error as E;
    match e {
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => Code::LimitExceeded,
        E::DuplicateMappingKey { .. } => Code::DuplicateKey,
        E::NonFiniteFloat { .. } => Code::AmbiguousScalar,
        E::ExternalMessage { source, .. } => match source.as_ref() {
            serde_saphyr::ExternalMessageSource::Parser(scan) => match scan.kind() {
                granit_parser::ErrorKind::RecursionLimitExceeded => Code::LimitExceeded,
                _ => Code::Parse,
            },
            _ => Code::Parse,
        },
        E::WithSnippet { error, .. } | E::AliasError { error, .. } => classify(error),
        _ => Code::Parse,
    }
}

pub(super) fn parse(text: &str, limits: &Limits) -> Result<Node, Error> {
    let root = match serde_saphyr::from_str_with_options::<serde_saphyr::Spanned<YamlVal>>(
        text,
        options(text, limits),
    ) {
        Ok(s) => node(s),
        Err(e) => {
            let loc = e.location().and_then(|l| yaml_loc(&l));
            let msg = first_line(&e.to_string());
            return Err(Error::one(
                Diagnostic::new(classify(&e), "", format!("invalid YAML: {msg}")).at(loc),
            ));
        }
    };
    let mut errors = Vec::new();
    check_scalars(&root, text, &mut errors);
    if errors.is_empty() {
        Ok(root)
    } else {
        Err(Error::Manifest {
            diagnostics: errors,
        })
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    let mut out = String::with_capacity(line.len().min(200));
    for ch in line.chars().take(200) {
        out.push(ch);
    }
    out.trim_end_matches('.').to_owned()
}

/// Apply the scalar rule (module docs) to every scalar of the tree.
fn check_scalars(n: &Node, text: &str, errors: &mut Vec<Diagnostic>) {
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        match &n.val {
            Val::Seq(items) => stack.extend(items.iter().rev()),
            Val::Map(pairs) => stack.extend(pairs.iter().rev().map(|(_, v)| v)),
            v => {
                let Some(raw) = n
                    .raw
                    .and_then(|(at, len)| text.get(at..at.saturating_add(len)))
                else {
                    continue;
                };
                if let Some(msg) = scalar_problem(v, raw) {
                    errors.push(Diagnostic::new(Code::AmbiguousScalar, "", msg).at(n.loc));
                }
            }
        }
    }
}

/// Why a scalar with text `raw` read as `v` is refused, if it is.
fn scalar_problem(v: &Val, raw: &str) -> Option<String> {
    // Quoted scalars and aliases (checked where the anchor is) are fine.
    if raw.starts_with(['"', '\'', '*']) {
        return None;
    }
    let shown = crate::manifest::truncate(raw);
    match v {
        Val::Bool(_) if raw == "true" || raw == "false" => None,
        Val::Bool(_) => Some(format!(
            "`{shown}` is a boolean only in some YAML readers; write `true` or `false`, or quote it for a string"
        )),
        Val::Null if raw.is_empty() || raw == "null" || raw == "~" => None,
        Val::Null if is_json_number(raw) => {
            Some(format!("integer `{shown}` is outside -2^63 ... 2^64-1"))
        }
        Val::Null => Some(format!(
            "`{shown}` is null only in some YAML readers; write `null`, or quote it for a string"
        )),
        Val::Num(n) if is_json_number(raw) => {
            let integer = !raw.contains(['.', 'e', 'E']);
            (integer && !n.is_i64() && !n.is_u64())
                .then(|| format!("integer `{shown}` is outside -2^63 ... 2^64-1"))
        }
        Val::Num(_) => Some(format!(
            "`{shown}` is a number only in some YAML readers; write it as JSON does (`31`, `0.5`, `1e3`), or quote it for a string"
        )),
        Val::Str(s) if looks_typed(s) => Some(format!(
            "`{shown}` is a boolean, null or number in some YAML readers and a string in others; quote it for a string, or write the JSON spelling"
        )),
        _ => None,
    }
}

/// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub(crate) fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Whether some YAML reader (1.1 or 1.2, any schema) would read the plain
/// text `s` as a boolean, null or number.
pub(crate) fn looks_typed(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if matches!(body, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let b = body.as_bytes();
    // 0x.., 0o.., 0b.. with at least one digit.
    if let Some(rest) = body
        .strip_prefix("0x")
        .map(|r| (r, 16))
        .or_else(|| body.strip_prefix("0o").map(|r| (r, 8)))
        .or_else(|| body.strip_prefix("0b").map(|r| (r, 2)))
    {
        let (digits, radix) = rest;
        return !digits.is_empty()
            && digits.chars().all(|c| c == '_' || c.is_digit(radix))
            && digits.chars().any(|c| c != '_');
    }
    if !b.iter().any(u8::is_ascii_digit) {
        return false;
    }
    // Decimal forms: digits and `_`, at most one `.`, `:`-separated groups
    // (YAML 1.1 base 60), an optional exponent.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (body.get(..i).unwrap_or(""), body.get(i + 1..)),
        None => (body, None),
    };
    if let Some(e) = exponent {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    if mantissa.is_empty() || mantissa.bytes().filter(|&c| c == b'.').count() > 1 {
        return false;
    }
    let first = mantissa.as_bytes().first().copied().unwrap_or(b'x');
    (first.is_ascii_digit() || first == b'.')
        && mantissa
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_number_grammar() {
        for ok in [
            "0",
            "-0",
            "7",
            "-12",
            "0.5",
            "1e3",
            "1E+3",
            "2.5e-7",
            "18446744073709551616",
        ] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "007", "+1", ".5", "1.", "0x1F", "1_000", "1e", "--1", "1.2.3", "inf",
        ] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }

    #[test]
    fn typed_looking_text() {
        for typed in [
            "yes", "No", "ON", "True", "FALSE", "Null", "~", "007", "1_000", "0x1F", "0o17",
            "0b101", "+1", "-.inf", ".NaN", ".5", "1.", "12:30", "1e3", "1_0.5", "-007",
        ] {
            assert!(looks_typed(typed), "{typed}");
        }
        for text in [
            "production",
            "1.2.3",
            "v1",
            "release/7",
            "0xZZ",
            "1e",
            "e3",
            "12:30pm",
            "-",
            "_",
            "1-2",
            "yesno",
            "x.inf",
            "y",
            "n",
            "N",
        ] {
            assert!(!looks_typed(text), "{text}");
        }
    }

    fn code(text: &str) -> Option<Code> {
        parse(text, &Limits::default()).err().map(|e| e.kind())
    }

    #[test]
    fn scalar_rule_golden() {
        // (text of the value, Some(code) when refused, else the JSON it reads as)
        let cases: &[(&str, Result<serde_json::Value, Code>)] = &[
            ("true", Ok(serde_json::json!(true))),
            ("false", Ok(serde_json::json!(false))),
            ("True", Err(Code::AmbiguousScalar)),
            ("TRUE", Err(Code::AmbiguousScalar)),
            ("yes", Err(Code::AmbiguousScalar)),
            ("on", Err(Code::AmbiguousScalar)),
            ("\"yes\"", Ok(serde_json::json!("yes"))),
            ("'True'", Ok(serde_json::json!("True"))),
            ("null", Ok(serde_json::Value::Null)),
            ("~", Ok(serde_json::Value::Null)),
            ("", Ok(serde_json::Value::Null)),
            ("Null", Err(Code::AmbiguousScalar)),
            ("NULL", Err(Code::AmbiguousScalar)),
            ("7", Ok(serde_json::json!(7))),
            ("-12", Ok(serde_json::json!(-12))),
            ("-0", Ok(serde_json::json!(0))),
            ("0.5", Ok(serde_json::json!(0.5))),
            ("1e3", Ok(serde_json::json!(1000.0))),
            ("18446744073709551615", Ok(serde_json::json!(u64::MAX))),
            ("-9223372036854775808", Ok(serde_json::json!(i64::MIN))),
            ("18446744073709551616", Err(Code::AmbiguousScalar)),
            ("007", Err(Code::AmbiguousScalar)),
            ("\"007\"", Ok(serde_json::json!("007"))),
            ("1_000", Err(Code::AmbiguousScalar)),
            ("0x1F", Err(Code::AmbiguousScalar)),
            ("0o17", Err(Code::AmbiguousScalar)),
            ("+1", Err(Code::AmbiguousScalar)),
            (".5", Err(Code::AmbiguousScalar)),
            (".inf", Err(Code::AmbiguousScalar)),
            ("-.inf", Err(Code::AmbiguousScalar)),
            (".nan", Err(Code::AmbiguousScalar)),
            ("12:30", Err(Code::AmbiguousScalar)),
            ("1.2.3", Ok(serde_json::json!("1.2.3"))),
            ("production", Ok(serde_json::json!("production"))),
            ("!!str seven", Ok(serde_json::json!("seven"))),
            ("!!str 7", Err(Code::AmbiguousScalar)),
            ("!!str 007", Err(Code::AmbiguousScalar)),
        ];
        for (text, want) in cases {
            let doc = format!("v: {text}\n");
            match (parse(&doc, &Limits::default()), want) {
                (Ok(n), Ok(v)) => assert_eq!(&n.to_json()["v"], v, "{text}"),
                (Err(e), Err(c)) => assert_eq!(e.kind(), *c, "{text}: {e}"),
                (got, _) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
        // Inside flow sequences and block sequences too, with the location.
        let e = parse("a: [1, yes]\nb:\n  - 0x10\n", &Limits::default()).unwrap_err();
        let locs: Vec<_> = e.diagnostics().iter().map(|d| d.location).collect();
        assert_eq!(
            locs,
            vec![
                Some(Location { line: 1, column: 8 }),
                Some(Location { line: 3, column: 5 })
            ]
        );
    }

    #[test]
    fn saphyr_errors_are_classified_by_variant() {
        assert_eq!(code("a: 1\na: 2\n"), Some(Code::DuplicateKey));
        assert_eq!(code("a: [1, 2\n"), Some(Code::Parse));
        assert_eq!(code("a: .inf\n"), Some(Code::AmbiguousScalar));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(code(&deep), Some(Code::LimitExceeded));
        assert_eq!(code("a: *nope\n"), Some(Code::Parse));
        // One document per file: a budget.
        assert_eq!(code("a: 1\n---\nb: 2\n"), Some(Code::LimitExceeded));
        // The parser's own recursion limit (below `max_depth` for flow).
        let flow = format!("a: {}{}", "{b: ".repeat(100), "}".repeat(100));
        assert_eq!(code(&flow), Some(Code::LimitExceeded));
    }
}
