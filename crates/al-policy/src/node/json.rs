//! The JSON manifest reader.
//!
//! `serde_json` reads the document once as a tree of borrowed
//! [`RawValue`]s; each object is read as a list of pairs (so repeated keys
//! are kept and reported by validation, never silently merged). Positions
//! come from the raw values' addresses in the text: a value's location is
//! its first byte, a key's is the first `"` after the previous pair (or the
//! `{`), since only whitespace and `,` can stand in between. Every location
//! goes through one [`LineIndex`], so a one-line document costs the same as
//! a pretty-printed one.
//!
//! Numbers: a literal without `.`, `e` or `E` is an integer and must lie in
//! −2^63 … 2^64−1 (`-0` is the integer 0); anything else is a double.

use std::fmt;

use al_types::Location;
use al_types::json::LineIndex;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{Key, Node, Val};
use crate::error::{Code, Diagnostic, Error};
use crate::limits::Limits;

/// A JSON object read as a list of pairs, so duplicates are kept.
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

struct Ctx<'a> {
    src: &'a str,
    lines: LineIndex,
    max_depth: usize,
}

impl Ctx<'_> {
    fn offset_of(&self, raw: &RawValue) -> usize {
        (raw.get().as_ptr() as usize).saturating_sub(self.src.as_ptr() as usize)
    }

    fn locate(&self, offset: usize) -> Location {
        self.lines.locate(self.src, offset)
    }

    /// The opening quote of the first key at or after `from`.
    fn key_loc(&self, from: usize) -> Option<Location> {
        let rest = self.src.get(from..)?;
        let quote = rest.find('"')?;
        Some(self.locate(from + quote))
    }

    fn build(&self, raw: &RawValue, depth: usize) -> Result<Node, Error> {
        let offset = self.offset_of(raw);
        let loc = Some(self.locate(offset));
        if depth > self.max_depth {
            return Err(Error::one(
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
                let pairs: Pairs<'_> = serde_json::from_str(text).map_err(|e| self.error(&e))?;
                let mut out = Vec::with_capacity(pairs.0.len());
                let mut next_key_from = offset + 1;
                for (name, v) in pairs.0 {
                    let key = Key {
                        name,
                        loc: self.key_loc(next_key_from),
                    };
                    next_key_from = self.offset_of(v) + v.get().len();
                    out.push((key, self.build(v, depth + 1)?));
                }
                Val::Map(out)
            }
            Some(b'[') => {
                let items: Vec<&RawValue> =
                    serde_json::from_str(text).map_err(|e| self.error(&e))?;
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    out.push(self.build(it, depth + 1)?);
                }
                Val::Seq(out)
            }
            _ => scalar(text)
                .map_err(|m| Error::one(Diagnostic::new(Code::ValueType, "", m).at(loc)))?,
        };
        Ok(Node {
            loc,
            val,
            raw: None,
        })
    }

    fn error(&self, e: &serde_json::Error) -> Error {
        json_error(e, Some((self.src, &self.lines)))
    }
}

/// One scalar's text (already known to be well-formed JSON).
fn scalar(text: &str) -> Result<Val, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON scalar: {e}"))?;
    Ok(match v {
        serde_json::Value::Null => Val::Null,
        serde_json::Value::Bool(b) => Val::Bool(b),
        serde_json::Value::String(s) => Val::Str(s),
        serde_json::Value::Number(n) => {
            let integer_literal = !text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'));
            if !integer_literal || n.is_i64() || n.is_u64() {
                Val::Num(n)
            } else if text == "-0" {
                Val::Num(0.into())
            } else {
                return Err(format!(
                    "integer `{}` is outside -2^63 ... 2^64-1",
                    crate::manifest::truncate(text)
                ));
            }
        }
        // Only scalars reach here: `{` and `[` are handled by the caller.
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => Val::Null,
    })
}

/// A `serde_json` error as a located diagnostic. serde_json counts columns
/// in bytes; with the text at hand they become characters.
fn json_error(e: &serde_json::Error, text: Option<(&str, &LineIndex)>) -> Error {
    let loc = (e.line() > 0).then(|| match text {
        Some((src, lines)) => {
            let start = lines.line_start(e.line()).unwrap_or(src.len());
            let at = (start + e.column()).saturating_sub(1);
            lines.locate(src, at.min(src.len()))
        }
        None => Location {
            line: u32::try_from(e.line()).unwrap_or(u32::MAX),
            column: u32::try_from(e.column()).unwrap_or(u32::MAX),
        },
    });
    let msg = e.to_string();
    // serde_json appends " at line L column C"; the location is reported apart.
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
    let code = if msg.contains("recursion limit") {
        Code::LimitExceeded
    } else {
        Code::Parse
    };
    Error::one(Diagnostic::new(code, "", format!("invalid JSON: {msg}")).at(loc))
}

pub(super) fn parse(text: &str, limits: &Limits) -> Result<Node, Error> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = LineIndex::new(text);
    let raw: &RawValue = serde_json::from_str(body).map_err(|e| {
        // Errors in `body` are at the same line and column as in `text`
        // except for the BOM's one character on line 1; ignore that.
        json_error(&e, Some((body, &LineIndex::new(body))))
    })?;
    let ctx = Ctx {
        src: text,
        lines,
        max_depth: limits.max_depth,
    };
    ctx.build(raw, 1)
}
