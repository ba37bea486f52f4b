//! The strict JSON reader every AgentLattice reader uses.
//!
//! `serde_json` alone keeps the *last* of two equal keys, so
//! `{"status":"executed","status":"denied"}` would read as `denied` here
//! while a first-wins reader (or `grep`) sees `executed`. Two readers must
//! never see two different records, so this reader refuses:
//!
//! - a key repeated in one object, at any depth (`DUPLICATE_KEY`),
//! - containers nested deeper than [`Limits::max_depth`] (`TOO_DEEP`),
//! - texts longer than [`Limits::max_bytes`] (`TOO_LARGE`),
//! - anything that is not one JSON value with optional surrounding
//!   whitespace (`INVALID_JSON`: trailing text, comments, `NaN`, lone
//!   surrogates, invalid UTF-8).
//!
//! Every error names a 1-based line and a column counted in characters.
//! Time and memory are linear in the input; recursion is bounded by
//! `max_depth`.
//!
//! Numbers are read as `serde_json` reads them: an integer that fits `i64`
//! or `u64` stays an integer, anything else (a fraction, an exponent, an
//! integer beyond 64 bits, `-0`) becomes an `f64`, correctly rounded (the
//! workspace enables `serde_json`'s `float_roundtrip`; without it some
//! values read 1 ULP off, and a line's hash would disagree with a
//! correctly rounding reader such as Python's). Readers with a stricter
//! number rule check it on the [`Value`].
//!
//! Why one file (541 lines): about 170 of its lines are unit tests; the
//! reader (a serde seed that rejects repeated keys and counts depth, and
//! the linear line index for locations) is one job.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{ErrorCode, Location};

/// Limits of one read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest container nesting accepted; the outermost object or array is
    /// level 1 and a scalar is level 0. Default 64; values above 120 are
    /// treated as 120 (the bound keeps recursion shallow).
    pub max_depth: usize,
    /// Longest text accepted, in bytes. Default 16 MiB.
    pub max_bytes: usize,
}

/// The deepest nesting this reader ever accepts, whatever the limits say.
pub const HARD_MAX_DEPTH: usize = 120;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 64,
            max_bytes: 16 << 20,
        }
    }
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not well-formed JSON (`INVALID_JSON`).
    Syntax,
    /// A key appears twice in one object (`DUPLICATE_KEY`).
    DuplicateKey {
        /// The repeated key (cut to 80 characters).
        key: String,
    },
    /// Nested deeper than the limit (`TOO_DEEP`).
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// Longer than the limit (`TOO_LARGE`).
    TooLarge {
        /// The limit in force, in bytes.
        limit: usize,
    },
}

/// A refused JSON text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where (1-based line, column in characters).
    pub location: Location,
    /// A human message, without the location.
    pub message: String,
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::Syntax => "INVALID_JSON",
            ErrorKind::DuplicateKey { .. } => "DUPLICATE_KEY",
            ErrorKind::TooDeep { .. } => "TOO_DEEP",
            ErrorKind::TooLarge { .. } => "TOO_LARGE",
        }
    }
}

/// Read one JSON value from `text` under `limits`.
///
/// # Errors
/// See the module docs; nothing is returned on error.
pub fn parse(text: &str, limits: &Limits) -> Result<Value, Error> {
    parse_with(text, limits, ValueReader)
}

/// A reader that takes one JSON text apart itself (straight into its own
/// types, borrowing strings where it can) while [`parse_with`] keeps every
/// rule of [`parse`]. `read` is given the deserializer of the whole text
/// and the [`Strict`] checks for its outermost value (level 1): it must
/// call [`Strict::enter`] when it opens a container, refuse a key seen
/// twice in one object with [`Strict::duplicate_key`], and read every
/// value it does not take apart itself with a [`Strict`] seed one level
/// down ([`Strict::child`]), so that nothing escapes the checks.
///
/// A reader should answer with data rather than fail for reasons of its own
/// (a field of the wrong type, say): [`parse_with`] reports any failure
/// that is not a duplicate key or excess depth as `INVALID_JSON`.
pub trait StrictRead<'de> {
    /// What the reader makes of the text.
    type Value;

    /// Read the text's one value.
    ///
    /// # Errors
    /// The deserializer's errors, and those of [`Strict`]'s checks.
    fn read<D: serde::Deserializer<'de>>(
        self,
        d: D,
        strict: Strict<'_>,
    ) -> Result<Self::Value, D::Error>;
}

/// Read one JSON text under `limits` with a reader of the caller's: the
/// same size, syntax, trailing-text, duplicate-key and depth rules as
/// [`parse`], with the same errors at the same locations, provided the
/// reader follows the [`StrictRead`] contract. [`parse`] is this function
/// with a reader that builds a [`Value`].
///
/// # Errors
/// See the module docs; nothing is returned on error.
pub fn parse_with<'de, R: StrictRead<'de>>(
    text: &'de str,
    limits: &Limits,
    reader: R,
) -> Result<R::Value, Error> {
    if text.len() > limits.max_bytes {
        return Err(Error {
            kind: ErrorKind::TooLarge {
                limit: limits.max_bytes,
            },
            location: LineIndex::new(text).locate(text, limits.max_bytes),
            message: format!(
                "text is {} bytes, over the limit of {}",
                text.len(),
                limits.max_bytes
            ),
        });
    }
    let fail = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let strict = Strict {
        level: 1,
        max_depth: limits.max_depth.min(HARD_MAX_DEPTH),
        fail: &fail,
    };
    let res = reader
        .read(&mut de, strict)
        .and_then(|v| de.end().map(|()| v));
    res.map_err(|e| {
        let kind = fail.into_inner().unwrap_or(ErrorKind::Syntax);
        let message = match &kind {
            ErrorKind::Syntax => syntax_message(&e),
            ErrorKind::DuplicateKey { key } => format!("key `{key}` appears twice in one object"),
            ErrorKind::TooDeep { limit } => format!("value nested deeper than {limit} levels"),
            ErrorKind::TooLarge { .. } => e.to_string(),
        };
        Error {
            kind,
            location: serde_location(text, &e),
            message,
        }
    })
}

/// The reader of [`parse`]: the whole text as a [`Value`].
struct ValueReader;

impl<'de> StrictRead<'de> for ValueReader {
    type Value = Value;
    fn read<D: serde::Deserializer<'de>>(
        self,
        d: D,
        strict: Strict<'_>,
    ) -> Result<Value, D::Error> {
        strict.deserialize(d)
    }
}

/// Read one JSON value from bytes that must be UTF-8.
///
/// # Errors
/// As [`parse`]; invalid UTF-8 is `INVALID_JSON` at the first bad byte.
pub fn parse_slice(bytes: &[u8], limits: &Limits) -> Result<Value, Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text, limits),
        Err(e) => {
            let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
            let text = std::str::from_utf8(good).unwrap_or_default();
            let location = LineIndex::new(text).locate(text, text.len());
            Err(Error {
                kind: ErrorKind::Syntax,
                location,
                message: "invalid UTF-8".to_owned(),
            })
        }
    }
}

/// Container nesting depth of `v`: 0 for a scalar, 1 for `[]` or `{}`,
/// 1 + the deepest member otherwise. Iterative, so any depth is safe.
#[must_use]
pub fn depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = vec![(v, 0)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(a) => {
                deepest = deepest.max(d + 1);
                stack.extend(a.iter().map(|x| (x, d + 1)));
            }
            Value::Object(o) => {
                deepest = deepest.max(d + 1);
                stack.extend(o.values().map(|x| (x, d + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// serde_json appends " at line L column C"; the location is kept apart.
fn syntax_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s.get(..i).unwrap_or(&s).to_owned(),
        None => s,
    }
}

/// serde_json reports a line and a byte column; turn it into characters.
fn serde_location(text: &str, e: &serde_json::Error) -> Location {
    let idx = LineIndex::new(text);
    let line = e.line().max(1);
    let start = idx.line_start(line).unwrap_or(text.len());
    // Column 0 means "just after the previous line's newline": point at it.
    let at = match e.column() {
        0 => start.saturating_sub(1),
        c => start + c - 1,
    };
    idx.locate(text, at.min(text.len()))
}

/// The checks of one read at one nesting level (see [`parse_with`]). As a
/// [`DeserializeSeed`] (and [`Visitor`]) it reads any value at its level as
/// a [`Value`], refusing repeated keys and excess depth below it.
#[derive(Clone, Copy)]
pub struct Strict<'a> {
    /// The level a container read here would be at.
    level: usize,
    max_depth: usize,
    fail: &'a RefCell<Option<ErrorKind>>,
}

impl fmt::Debug for Strict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Strict")
            .field("level", &self.level)
            .field("max_depth", &self.max_depth)
            .finish_non_exhaustive()
    }
}

impl<'a> Strict<'a> {
    /// The checks for a value inside a container opened at this level.
    #[must_use]
    pub fn child(&self) -> Strict<'a> {
        Strict {
            level: self.level + 1,
            max_depth: self.max_depth,
            fail: self.fail,
        }
    }

    /// Call when a container (object or array) opens at this level.
    ///
    /// # Errors
    /// `TOO_DEEP` when this level is past the limit.
    pub fn enter<E: serde::de::Error>(&self) -> Result<(), E> {
        if self.level > self.max_depth {
            *self.fail.borrow_mut() = Some(ErrorKind::TooDeep {
                limit: self.max_depth,
            });
            return Err(E::custom("too deep"));
        }
        Ok(())
    }

    /// The error for `key` read a second time in one object
    /// (`DUPLICATE_KEY`, located where the second one was read).
    pub fn duplicate_key<E: serde::de::Error>(&self, key: &str) -> E {
        *self.fail.borrow_mut() = Some(ErrorKind::DuplicateKey {
            key: key.chars().take(80).collect(),
        });
        E::custom("duplicate key")
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        // serde_json never produces a non-finite number from text.
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.child())? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            // One search per key: the vacant slot is filled after the value is read.
            match out.entry(k) {
                serde_json::map::Entry::Occupied(o) => return Err(self.duplicate_key(o.key())),
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(map.next_value_seed(self.child())?);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Line starts and character counts of a text, built once in one pass, so
/// that any number of byte offsets turn into (line, column) in
/// O(log lines) each, whether the text is pretty-printed or one long line.
#[derive(Clone, Debug)]
pub struct LineIndex {
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
    /// Characters before each 64-byte block.
    chars_before: Vec<usize>,
}

const BLOCK: usize = 64;

impl LineIndex {
    /// Index `text` (one linear pass).
    #[must_use]
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut chars_before = Vec::with_capacity(bytes.len() / BLOCK + 1);
        let mut chars = 0usize;
        for (i, &b) in bytes.iter().enumerate() {
            if i % BLOCK == 0 {
                chars_before.push(chars);
            }
            if b == b'\n' {
                starts.push(i + 1);
            }
            // Count a character at each byte that is not a UTF-8 continuation.
            chars += usize::from((b & 0xC0) != 0x80);
        }
        chars_before.push(chars);
        LineIndex {
            starts,
            chars_before,
        }
    }

    /// Byte offset where 1-based `line` starts, if the text has that line.
    #[must_use]
    pub fn line_start(&self, line: usize) -> Option<usize> {
        line.checked_sub(1)
            .and_then(|i| self.starts.get(i).copied())
    }

    /// Number of lines (a text without a newline has one).
    #[must_use]
    pub fn lines(&self) -> usize {
        self.starts.len()
    }

    /// Characters in `text[..at]`, using the block counts.
    fn char_index(&self, text: &str, at: usize) -> usize {
        let block = at / BLOCK;
        let base = self.chars_before.get(block).copied().unwrap_or(0);
        let from = block * BLOCK;
        base + text
            .as_bytes()
            .get(from..at)
            .map_or(0, |s| s.iter().filter(|&&b| (b & 0xC0) != 0x80).count())
    }

    /// The location of byte offset `at` in `text` (the text this index was
    /// built from); offsets past the end are clamped to it.
    #[must_use]
    pub fn locate(&self, text: &str, at: usize) -> Location {
        let at = at.min(text.len());
        let line = self.starts.partition_point(|&s| s <= at).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = self.char_index(text, at) - self.char_index(text, start) + 1;
        Location {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(text: &str) -> Error {
        parse(text, &Limits::default()).unwrap_err()
    }

    #[test]
    fn duplicate_keys_at_any_depth() {
        let e = err(r#"{"status":"executed","status":"denied"}"#);
        assert_eq!(e.code(), "DUPLICATE_KEY");
        assert_eq!(
            e.kind,
            ErrorKind::DuplicateKey {
                key: "status".into()
            }
        );
        assert_eq!(
            e.location,
            Location {
                line: 1,
                column: 29
            }
        );
        let e = err("{\"a\": [1, {\"x\": 1,\n \"y\": 2, \"x\": 3}]}");
        assert_eq!(e.code(), "DUPLICATE_KEY");
        assert_eq!(e.location.line, 2);
        // Keys equal after unescaping are the same key.
        assert_eq!(err(r#"{"a":1,"\u0061":2}"#).code(), "DUPLICATE_KEY");
        // Same key in sibling objects is fine.
        assert!(parse(r#"[{"a":1},{"a":2}]"#, &Limits::default()).is_ok());
    }

    #[test]
    fn depth_limit_and_deep_input() {
        let lim = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert!(parse("[[[1]]]", &lim).is_ok());
        let e = parse("[[[[1]]]]", &lim).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep { limit: 3 });
        assert_eq!(e.code(), "TOO_DEEP");
        // 100 000 levels: refused quickly, no stack overflow.
        let deep = "[".repeat(100_000);
        assert_eq!(err(&deep).code(), "TOO_DEEP");
        let deep = "{\"a\":".repeat(100_000);
        assert_eq!(err(&deep).code(), "TOO_DEEP");
        let huge = Limits {
            max_depth: 10_000,
            ..Limits::default()
        };
        assert_eq!(
            parse(&"[".repeat(1000), &huge).unwrap_err().code(),
            "TOO_DEEP"
        );
        assert_eq!(depth(&serde_json::json!(1)), 0);
        assert_eq!(depth(&serde_json::json!({"a": [1, {"b": []}]})), 4);
    }

    #[test]
    fn syntax_and_size() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1} x",
            "NaN",
            "{'a':1}",
            "\"\\ud800\"",
            "[1] // c",
            "01",
        ] {
            let e = err(bad);
            assert_eq!(e.code(), "INVALID_JSON", "{bad}: {e}");
            assert!(!e.message.contains(" at line "), "{}", e.message);
        }
        let e = err("{\n  \"a\": tru\n}");
        assert_eq!(e.location.line, 2);
        let lim = Limits {
            max_bytes: 4,
            ..Limits::default()
        };
        assert_eq!(parse("[1,2,3]", &lim).unwrap_err().code(), "TOO_LARGE");
        let e = parse_slice(b"[\"\xff\"]", &Limits::default()).unwrap_err();
        assert_eq!((e.code(), e.location.column), ("INVALID_JSON", 3));
    }

    #[test]
    fn columns_count_characters() {
        let e = err("{\"é\": 1, \"é\": 2}");
        assert_eq!(
            e.location,
            Location {
                line: 1,
                column: 12
            }
        );
        let text = "ab\néé\nx";
        let idx = LineIndex::new(text);
        assert_eq!(idx.locate(text, 0), Location { line: 1, column: 1 });
        assert_eq!(idx.locate(text, 3), Location { line: 2, column: 1 });
        assert_eq!(idx.locate(text, 5), Location { line: 2, column: 2 });
        assert_eq!(idx.locate(text, 8), Location { line: 3, column: 1 });
        assert_eq!(idx.locate(text, 99), Location { line: 3, column: 2 });
    }

    #[test]
    fn numbers_as_serde_json_reads_them() {
        let v = parse(
            "[1, -1, 18446744073709551615, 1.5, 1e2, -0]",
            &Limits::default(),
        )
        .unwrap();
        let a = v.as_array().unwrap();
        assert!(a[0].is_u64() && a[1].is_i64() && a[2].is_u64());
        assert!(a[3].is_f64() && a[4].is_f64() && a[5].is_f64());
    }

    /// A reader of its own (the top-level keys, values checked and
    /// dropped) gets the same errors as `parse` at the same places.
    #[test]
    fn parse_with_keeps_every_rule() {
        struct Keys;
        struct KeysVisitor<'s>(Strict<'s>);
        impl<'de> StrictRead<'de> for Keys {
            type Value = Vec<String>;
            fn read<D: serde::Deserializer<'de>>(
                self,
                d: D,
                strict: Strict<'_>,
            ) -> Result<Vec<String>, D::Error> {
                d.deserialize_map(KeysVisitor(strict))
            }
        }
        impl<'de> Visitor<'de> for KeysVisitor<'_> {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
                self.0.enter()?;
                let mut keys: Vec<String> = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    if keys.contains(&k) {
                        return Err(self.0.duplicate_key(&k));
                    }
                    map.next_value_seed(self.0.child())?;
                    keys.push(k);
                }
                Ok(keys)
            }
        }
        let lim = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let keys = parse_with(r#"{"b":[[1]],"a":{"x":null}}"#, &lim, Keys).unwrap();
        assert_eq!(keys, ["b", "a"]);
        for bad in [
            r#"{"b":1,"b":2}"#,
            "{\"a\":{\"x\":1,\n\"x\":2}}",
            r#"{"a":[[[1]]]}"#,
            r#"{"a":1} x"#,
            r#"{"a":tru}"#,
        ] {
            let want = parse(bad, &lim).unwrap_err();
            assert_eq!(parse_with(bad, &lim, Keys).unwrap_err(), want, "{bad}");
        }
    }

    /// The naive reference: column = characters since the last newline.
    fn naive(text: &str, at: usize) -> Location {
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
        Location {
            line: line as u32,
            column: col as u32,
        }
    }

    /// Every float reads back to the same bits from its shortest spelling
    /// (what writers, ours included, print), as a correctly rounding reader
    /// such as Python's does: `serde_json` needs its `float_roundtrip`
    /// feature for this, and without it answers 1 ULP off for some values.
    #[test]
    fn floats_round_trip_through_their_shortest_spelling() {
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: 20_000,
            ..Default::default()
        });
        runner
            .run(&any::<f64>(), |f| {
                if f.is_finite() {
                    let text = serde_json::to_string(&f).unwrap_or_default();
                    let v = parse(&text, &Limits::default()).unwrap();
                    prop_assert_eq!(v.as_f64().map(f64::to_bits), Some(f.to_bits()), "{}", text);
                }
                Ok(())
            })
            .unwrap();
    }

    proptest! {
        #[test]
        fn line_index_agrees_with_naive(text in "(a|é|\n|😀|[ -~]){0,300}", picks in proptest::collection::vec(0usize..400, 1..20)) {
            let idx = LineIndex::new(&text);
            for p in picks {
                let mut at = p.min(text.len());
                while !text.is_char_boundary(at) { at -= 1; }
                prop_assert_eq!(idx.locate(&text, at), naive(&text, at));
            }
        }

        #[test]
        fn agrees_with_serde_json_when_no_duplicates(v in arb_json()) {
            let text = serde_json::to_string(&v).unwrap();
            prop_assert_eq!(parse(&text, &Limits::default()).unwrap(), v.clone());
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            prop_assert_eq!(parse(&pretty, &Limits::default()).unwrap(), v);
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-z\"\\\\é]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c\"]{0,3}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
