//! A positioned document tree shared by the YAML and JSON readers.
//!
//! Both formats are first read into [`Node`]s that remember where each value
//! and each key stood in the source. Validation then walks one tree shape, so
//! YAML and JSON give the same model, the same errors and the same
//! locations, and every error can be collected instead of stopping at the
//! first one.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{Code, Diagnostic, LineIndex, Location, ManifestError};
use crate::limits::Limits;

/// A value with the location it was read from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub loc: Option<Location>,
    pub val: Val,
}

/// The value part of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its location.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub loc: Option<Location>,
}

impl Val {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "boolean",
            Val::Num(_) => "number",
            Val::Str(_) => "string",
            Val::Seq(_) => "sequence",
            Val::Map(_) => "mapping",
        }
    }
}

impl Node {
    /// Convert to a plain JSON value (locations dropped).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match &self.val {
            Val::Null => serde_json::Value::Null,
            Val::Bool(b) => serde_json::Value::Bool(*b),
            Val::Num(n) => serde_json::Value::Number(n.clone()),
            Val::Str(s) => serde_json::Value::String(s.clone()),
            Val::Seq(items) => serde_json::Value::Array(items.iter().map(Node::to_json).collect()),
            Val::Map(pairs) => serde_json::Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Build a node (without locations) from a JSON value.
    pub(crate) fn from_json(v: &serde_json::Value) -> Node {
        let val = match v {
            serde_json::Value::Null => Val::Null,
            serde_json::Value::Bool(b) => Val::Bool(*b),
            serde_json::Value::Number(n) => Val::Num(n.clone()),
            serde_json::Value::String(s) => Val::Str(s.clone()),
            serde_json::Value::Array(a) => Val::Seq(a.iter().map(Node::from_json).collect()),
            serde_json::Value::Object(o) => Val::Map(
                o.iter()
                    .map(|(k, v)| {
                        (
                            Key {
                                name: k.clone(),
                                loc: None,
                            },
                            Node::from_json(v),
                        )
                    })
                    .collect(),
            ),
        };
        Node { loc: None, val }
    }
}

/// The source format of a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML 1.2 (read with `serde-saphyr`, budgets on).
    Yaml,
    /// JSON (RFC 8259).
    Json,
}

impl Format {
    /// Guess the format from content: JSON documents start with `{` after
    /// optional whitespace; everything else is read as YAML.
    #[must_use]
    pub fn sniff(text: &str) -> Format {
        if text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('{')
        {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        })
    }
}

/// Parse text in the given format into a positioned tree.
pub(crate) fn parse(text: &str, format: Format, limits: &Limits) -> Result<Node, ManifestError> {
    if text.len() > limits.max_input_bytes {
        return Err(ManifestError::one(Diagnostic::new(
            Code::LimitExceeded,
            "",
            format!(
                "input is {} bytes, over the limit of {} (`max_input_bytes`)",
                text.len(),
                limits.max_input_bytes
            ),
        )));
    }
    match format {
        Format::Yaml => parse_yaml(text, limits),
        Format::Json => parse_json(text, limits),
    }
}

// ---------------------------------------------------------------- YAML

fn yaml_loc(l: &serde_saphyr::Location) -> Option<Location> {
    if l.line() == 0 {
        return None;
    }
    Some(Location {
        line: u32::try_from(l.line()).unwrap_or(u32::MAX),
        column: u32::try_from(l.column()).unwrap_or(u32::MAX),
    })
}

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
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Val, E> {
        i64::try_from(v)
            .map(|i| Val::Num(i.into()))
            .or_else(|_| u64::try_from(v).map(|u| Val::Num(u.into())))
            .map_err(|_| E::custom(format!("integer `{v}` is out of range")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Val, E> {
        u64::try_from(v)
            .map(|u| Val::Num(u.into()))
            .map_err(|_| E::custom(format!("integer `{v}` is out of range")))
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
            items.push(Node {
                loc: yaml_loc(&item.referenced),
                val: item.value.0,
            });
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
                Node {
                    loc: yaml_loc(&v.referenced),
                    val: v.value.0,
                },
            ));
        }
        Ok(Val::Map(pairs))
    }
}

fn parse_yaml(text: &str, limits: &Limits) -> Result<Node, ManifestError> {
    let mut opts = serde_saphyr::Options::default();
    opts.with_snippet = false;
    opts.strict_booleans = true;
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
    match serde_saphyr::from_str_with_options::<serde_saphyr::Spanned<YamlVal>>(text, opts) {
        Ok(s) => Ok(Node {
            loc: yaml_loc(&s.referenced),
            val: s.value.0,
        }),
        Err(e) => {
            let loc = e.location().and_then(|l| yaml_loc(&l));
            let msg = first_line(&e.to_string());
            let code = if msg.contains("budget") || msg.contains("limit") || msg.contains("depth") {
                Code::LimitExceeded
            } else if msg.contains("duplicate") {
                Code::DuplicateKey
            } else {
                Code::Parse
            };
            Err(ManifestError::one(
                Diagnostic::new(code, "", format!("invalid YAML: {msg}")).at(loc),
            ))
        }
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

// ---------------------------------------------------------------- JSON

/// JSON object read as a list of pairs, so duplicates are kept and detected.
struct Pairs<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v: &'a RawValue = map.next_value()?;
                    out.push((k, v));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

struct JsonCtx<'a> {
    src: &'a str,
    lines: LineIndex<'a>,
    max_depth: usize,
}

impl JsonCtx<'_> {
    fn offset_of(&self, raw: &RawValue) -> usize {
        (raw.get().as_ptr() as usize).saturating_sub(self.src.as_ptr() as usize)
    }

    /// The key of a pair starts at the last `"` pair before the value's `:`.
    fn key_loc(&self, value_offset: usize) -> Option<Location> {
        let before = self.src.get(..value_offset)?;
        let colon = before.rfind(':')?;
        let close = before.get(..colon)?.rfind('"')?;
        let open = before.get(..close)?.rfind('"')?;
        Some(self.lines.locate(open))
    }

    fn build(&self, raw: &RawValue, depth: usize) -> Result<Node, ManifestError> {
        let offset = self.offset_of(raw);
        let loc = Some(self.lines.locate(offset));
        if depth > self.max_depth {
            return Err(ManifestError::one(
                Diagnostic::new(
                    Code::LimitExceeded,
                    "",
                    format!(
                        "nesting deeper than {} levels (`max_depth`)",
                        self.max_depth
                    ),
                )
                .at(loc),
            ));
        }
        let text = raw.get();
        let val = match text.as_bytes().first() {
            Some(b'{') => {
                let pairs: Pairs<'_> = serde_json::from_str(text).map_err(|e| json_error(&e))?;
                let mut out = Vec::with_capacity(pairs.0.len());
                for (name, v) in pairs.0 {
                    let voff = self.offset_of(v);
                    let key = Key {
                        name,
                        loc: self.key_loc(voff),
                    };
                    out.push((key, self.build(v, depth + 1)?));
                }
                Val::Map(out)
            }
            Some(b'[') => {
                let items: Vec<&RawValue> =
                    serde_json::from_str(text).map_err(|e| json_error(&e))?;
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    out.push(self.build(it, depth + 1)?);
                }
                Val::Seq(out)
            }
            _ => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Null) => Val::Null,
                Ok(serde_json::Value::Bool(b)) => Val::Bool(b),
                Ok(serde_json::Value::Number(n)) => Val::Num(n),
                Ok(serde_json::Value::String(s)) => Val::Str(s),
                Ok(_) => Val::Null,
                Err(e) => return Err(json_error(&e)),
            },
        };
        Ok(Node { loc, val })
    }
}

fn json_error(e: &serde_json::Error) -> ManifestError {
    let loc = (e.line() > 0).then(|| Location {
        line: u32::try_from(e.line()).unwrap_or(u32::MAX),
        column: u32::try_from(e.column()).unwrap_or(u32::MAX),
    });
    let msg = e.to_string();
    // serde_json appends " at line L column C"; we report the location separately.
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
    let code = if msg.contains("recursion limit") {
        Code::LimitExceeded
    } else {
        Code::Parse
    };
    ManifestError::one(Diagnostic::new(code, "", format!("invalid JSON: {msg}")).at(loc))
}

fn parse_json(text: &str, limits: &Limits) -> Result<Node, ManifestError> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw: &RawValue = serde_json::from_str(body).map_err(|e| json_error(&e))?;
    let ctx = JsonCtx {
        src: text,
        lines: LineIndex::new(text),
        max_depth: limits.max_depth,
    };
    ctx.build(raw, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(line: u32, column: u32) -> Option<Location> {
        Some(Location { line, column })
    }

    #[test]
    fn json_keeps_locations_of_keys_and_values() {
        let src = "{\n  \"a\": [1, true],\n  \"bb\": {\"c\": null}\n}";
        let n = parse(src, Format::Json, &Limits::default()).unwrap();
        let Val::Map(pairs) = &n.val else { panic!() };
        assert_eq!(pairs[0].0.loc, l(2, 3));
        assert_eq!(pairs[0].1.loc, l(2, 8));
        let Val::Seq(items) = &pairs[0].1.val else {
            panic!()
        };
        assert_eq!(items[1].loc, l(2, 12));
        assert_eq!(pairs[1].0.loc, l(3, 3));
    }

    #[test]
    fn yaml_keeps_locations_of_keys_and_values() {
        let src = "a:\n  - 1\n  - x\nbb: {c: ~}\n";
        let n = parse(src, Format::Yaml, &Limits::default()).unwrap();
        let Val::Map(pairs) = &n.val else { panic!() };
        assert_eq!(pairs[0].0.loc, l(1, 1));
        let Val::Seq(items) = &pairs[0].1.val else {
            panic!()
        };
        assert_eq!(items[1].loc, l(3, 5));
        assert_eq!(items[1].val, Val::Str("x".into()));
        assert_eq!(pairs[1].0.loc, l(4, 1));
    }

    #[test]
    fn json_duplicate_keys_are_kept_for_validation() {
        let n = parse("{\"a\":1,\"a\":2}", Format::Json, &Limits::default()).unwrap();
        let Val::Map(pairs) = &n.val else { panic!() };
        assert_eq!(pairs.len(), 2);
    }

    #[test]
    fn yaml_duplicate_keys_are_rejected_with_location() {
        let e = parse("a: 1\na: 2\n", Format::Yaml, &Limits::default()).unwrap_err();
        assert_eq!(e.code(), Code::DuplicateKey, "{e}");
        assert!(e.errors[0].location.is_some());
    }

    #[test]
    fn deep_nesting_is_a_limit_error() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let e = parse(&deep, Format::Json, &Limits::default()).unwrap_err();
        assert_eq!(e.code(), Code::LimitExceeded, "{e}");
        let e = parse(&deep, Format::Yaml, &Limits::default()).unwrap_err();
        assert_eq!(e.code(), Code::LimitExceeded, "{e}");
        let block: String = (0..100)
            .map(|i| format!("{}- \n", "  ".repeat(i)))
            .collect();
        assert!(parse(&block, Format::Yaml, &Limits::default()).is_err());
    }

    #[test]
    fn alias_bomb_is_rejected() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&s, Format::Yaml, &Limits::default()).unwrap_err();
        assert_eq!(e.code(), Code::LimitExceeded, "{e}");
    }

    #[test]
    fn oversized_input_is_rejected_before_parsing() {
        let limits = Limits::builder().max_input_bytes(10).build().unwrap();
        let e = parse("{\"aaaaaaaaaaaa\": 1}", Format::Json, &limits).unwrap_err();
        assert_eq!(e.code(), Code::LimitExceeded);
    }

    #[test]
    fn sniff_detects_json() {
        assert_eq!(Format::sniff("  {\"a\":1}"), Format::Json);
        assert_eq!(Format::sniff("version: 1"), Format::Yaml);
    }
}
