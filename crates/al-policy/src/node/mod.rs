//! A positioned document tree shared by the YAML and JSON readers.
//!
//! Both formats are first read into [`Node`]s that remember where each value
//! and each key stood in the source. Validation then walks one tree shape, so
//! YAML and JSON give the same model, the same errors and the same
//! locations, and every error can be collected instead of stopping at the
//! first one. The readers are `yaml.rs` and `json.rs`; both compute
//! locations through one [`al_types::json::LineIndex`] per text, so reading
//! is linear in the input whether it is pretty-printed or on one line.

mod json;
mod yaml;

use std::fmt;

use al_types::Location;

use crate::error::{Code, Diagnostic, Error};
use crate::limits::Limits;

/// A value with the location it was read from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub loc: Option<Location>,
    pub val: Val,
    /// Byte offset and length of a YAML scalar's text (for the scalar rule).
    pub raw: Option<(usize, usize)>,
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
        Node {
            loc: None,
            val,
            raw: None,
        }
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
pub(crate) fn parse(text: &str, format: Format, limits: &Limits) -> Result<Node, Error> {
    if text.len() > limits.max_input_bytes {
        return Err(Error::one(Diagnostic::new(
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
        Format::Yaml => yaml::parse(text, limits),
        Format::Json => json::parse(text, limits),
    }
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
        assert_eq!(e.kind(), Code::DuplicateKey, "{e}");
        assert!(e.diagnostics()[0].location.is_some());
    }

    #[test]
    fn deep_nesting_is_a_limit_error() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let e = parse(&deep, Format::Json, &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), Code::LimitExceeded, "{e}");
        let e = parse(&deep, Format::Yaml, &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), Code::LimitExceeded, "{e}");
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
        assert_eq!(e.kind(), Code::LimitExceeded, "{e}");
    }

    #[test]
    fn oversized_input_is_rejected_before_parsing() {
        let limits = Limits::builder().max_input_bytes(10).build().unwrap();
        let e = parse("{\"aaaaaaaaaaaa\": 1}", Format::Json, &limits).unwrap_err();
        assert_eq!(e.kind(), Code::LimitExceeded);
    }

    #[test]
    fn sniff_detects_json() {
        assert_eq!(Format::sniff("  {\"a\":1}"), Format::Json);
        assert_eq!(Format::sniff("version: 1"), Format::Yaml);
    }
}
