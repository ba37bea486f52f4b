//! A serde `Serializer` that writes the canonical value encoding directly,
//! so a typed record (`T: Serialize`) is appended without first being
//! turned into a `serde_json::Value` tree.
//!
//! It produces exactly the bytes the general encoder produces for
//! `serde_json::to_value(record)`: the same data model mapping (options and
//! unit as `null`, unit variants as strings, other variants as one-key
//! objects, bytes as arrays of integers, non-negative signed integers under
//! the unsigned tag, non-finite floats as `null`, integer and `bool` map
//! keys as their decimal or `true`/`false` text). It is stricter in three
//! places, each an error instead of a silent choice: a key repeated in one
//! object (`serde_json` keeps the last), a float map key, and a 128-bit
//! integer beyond 64 bits.
//!
//! Objects are written member by member into the output and put into key
//! order at their end, using spans kept in caller-owned [`Scratch`], so a
//! steady stream of appends allocates nothing here.
//!
//! (Over 500 lines on purpose: one `Serializer` and its five compound
//! states are one state machine; map keys live in `key.rs`.)

use std::fmt;

use serde::ser::{self, Serialize};

use super::encode::put_str;
use super::key::KeyWriter;
use crate::entry::MAX_DEPTH;
use crate::error::EntryProblem;

/// Reusable working memory of the canonical serializer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    /// Members of the objects being written (innermost last).
    spans: Vec<Span>,
    /// Copy of an object's members while they are reordered.
    tmp: Vec<u8>,
}

impl Scratch {
    pub(crate) fn resident_bytes(&self) -> usize {
        self.spans.capacity() * std::mem::size_of::<Span>() + self.tmp.capacity()
    }
}

/// One object member in the output: `[start, end)` holds the length-prefixed
/// key and the value; the key's bytes start at `start + 4`. `prefix` is the
/// key's first 8 bytes (zero-padded, big-endian), so most key comparisons
/// are one integer comparison (see [`key_cmp`]).
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    key_len: usize,
    end: usize,
    prefix: u64,
}

impl Span {
    /// The span of a member whose length-prefixed key starts at `start`.
    fn new(out: &[u8], start: usize, key_len: usize, end: usize) -> Span {
        let key = out.get(start + 4..start + 4 + key_len).unwrap_or(&[]);
        Span {
            start,
            key_len,
            end,
            prefix: key_prefix(key),
        }
    }
}

/// The first 8 bytes of `key`, zero-padded, as a big-endian integer: for two
/// keys, `key_prefix(a) < key_prefix(b)` implies `a < b` (bytewise), so only
/// equal prefixes need the bytes compared. A key shorter than 8 bytes is read
/// as two overlapping loads (no loop per byte).
#[inline]
fn key_prefix(key: &[u8]) -> u64 {
    let n = key.len();
    if let Some(head) = key.first_chunk::<8>() {
        return u64::from_be_bytes(*head);
    }
    // `n < 8`: the bytes go to the top `n` bytes of the word; an overlapping
    // load puts the same byte in the same place twice, so OR is exact.
    if let (Some(a), Some(b)) = (key.first_chunk::<4>(), key.last_chunk::<4>()) {
        let a = u64::from(u32::from_be_bytes(*a)) << 32;
        let b = u64::from(u32::from_be_bytes(*b)) << (8 * (8 - n));
        return a | b;
    }
    if let (Some(a), Some(b)) = (key.first_chunk::<2>(), key.last_chunk::<2>()) {
        let a = u64::from(u16::from_be_bytes(*a)) << 48;
        let b = u64::from(u16::from_be_bytes(*b)) << (8 * (8 - n));
        return a | b;
    }
    key.first().map_or(0, |&b| u64::from(b) << 56)
}

/// Bytewise order of two members' keys (the canonical key order).
fn key_cmp(out: &[u8], a: &Span, b: &Span) -> std::cmp::Ordering {
    a.prefix
        .cmp(&b.prefix)
        .then_with(|| Obj::key_of(out, a).cmp(Obj::key_of(out, b)))
}

/// Record a finished member of the object whose first span is `base`;
/// clears `*sorted` unless its key is strictly after the previous member's.
#[inline]
fn push_span(spans: &mut Vec<Span>, base: usize, out: &[u8], span: Span, sorted: &mut bool) {
    if *sorted
        && spans.len() > base
        && let Some(prev) = spans.last()
        && (prev.prefix > span.prefix
            || (prev.prefix == span.prefix && key_cmp(out, prev, &span).is_ge()))
    {
        *sorted = false;
    }
    spans.push(span);
}

/// Why a record could not be encoded.
#[derive(Debug)]
pub(crate) struct SerError(pub(crate) EntryProblem);

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> SerError {
        SerError(EntryProblem::Record(msg.to_string()))
    }
}

fn record(msg: &str) -> SerError {
    SerError(EntryProblem::Record(msg.to_owned()))
}

/// Write `value` as the fields object of an entry: it must serialise to an
/// object. Returns the spans of its top-level members (key and value
/// ranges in `out`) through `members`.
pub(crate) fn encode_fields<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    value: &T,
    members: &mut Vec<(usize, usize, usize)>,
) -> Result<(), SerError> {
    scratch.spans.clear();
    let mut enc = Encoder {
        out,
        scratch,
        level: 0,
        top: Some(members),
    };
    value.serialize(&mut enc)
}

/// The serializer. `level` is the nesting level of the container whose
/// value is being written (0 outside the fields object).
pub(crate) struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch,
    level: usize,
    /// At the top only: where to report the fields object's members.
    top: Option<&'a mut Vec<(usize, usize, usize)>>,
}

impl Encoder<'_> {
    fn at_top(&self) -> Result<(), SerError> {
        if self.level == 0 {
            Err(record("a record must serialise to a JSON object"))
        } else {
            Ok(())
        }
    }

    fn scalar(&mut self, bytes: &[u8]) -> Result<(), SerError> {
        self.at_top()?;
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    fn uint(&mut self, v: u64) -> Result<(), SerError> {
        self.at_top()?;
        self.out.push(0x03);
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    fn int(&mut self, v: i64) -> Result<(), SerError> {
        if let Ok(u) = u64::try_from(v) {
            return self.uint(u);
        }
        self.at_top()?;
        self.out.push(0x04);
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    fn float(&mut self, v: f64) -> Result<(), SerError> {
        self.at_top()?;
        if v.is_finite() {
            self.out.push(0x05);
            self.out.extend_from_slice(&v.to_bits().to_be_bytes());
        } else {
            // As `serde_json::to_value` does.
            self.out.push(0x00);
        }
        Ok(())
    }

    fn string(&mut self, s: &str) -> Result<(), SerError> {
        self.at_top()?;
        // Tag and length in one copy (lengths saturate as in `put_len`).
        let [a, b, c, d] = u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes();
        self.out.extend_from_slice(&[0x06, a, b, c, d]);
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// The level of a container opened here, refused past [`MAX_DEPTH`].
    fn child_level(&self) -> Result<usize, SerError> {
        let l = self.level + 1;
        if l > MAX_DEPTH {
            return Err(SerError(EntryProblem::TooDeep(MAX_DEPTH)));
        }
        Ok(l)
    }

    fn begin_seq(&mut self) -> Result<Seq<'_>, SerError> {
        self.at_top()?;
        let level = self.child_level()?;
        self.out.push(0x07);
        let count_at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        Ok(Seq {
            enc: Encoder {
                out: &mut *self.out,
                scratch: &mut *self.scratch,
                level,
                top: None,
            },
            count_at,
            count: 0,
        })
    }

    fn begin_object(&mut self) -> Result<Obj<'_>, SerError> {
        let level = self.child_level()?;
        self.out.push(0x08);
        let count_at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        let base = self.scratch.spans.len();
        let top = self.top.take();
        Ok(Obj {
            enc: Encoder {
                out: &mut *self.out,
                scratch: &mut *self.scratch,
                level,
                top: None,
            },
            top,
            count_at,
            base,
            pending_key: None,
            sorted: true,
        })
    }

    /// `{variant: <value>}` around a variant's content.
    fn variant<T: Serialize + ?Sized>(&mut self, variant: &str, value: &T) -> Result<(), SerError> {
        let mut obj = self.begin_object()?;
        obj.member(variant, value)?;
        obj.finish()
    }
}

/// `fmt::Write` into the output: only `str`s are written, so the bytes
/// written are UTF-8.
struct Utf8Sink<'a>(&'a mut Vec<u8>);

impl fmt::Write for Utf8Sink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn patch_count(out: &mut [u8], at: usize, n: usize) -> Result<(), SerError> {
    let n = u32::try_from(n).map_err(|_| record("container too large"))?;
    let slot = out
        .get_mut(at..at + 4)
        .ok_or_else(|| record("internal: count slot"))?;
    slot.copy_from_slice(&n.to_be_bytes());
    Ok(())
}

/// An array being written.
pub(crate) struct Seq<'a> {
    enc: Encoder<'a>,
    count_at: usize,
    count: usize,
}

impl Seq<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.count += 1;
        v.serialize(&mut self.enc)
    }
    fn finish(self) -> Result<(), SerError> {
        patch_count(self.enc.out, self.count_at, self.count)
    }
}

/// An object being written.
pub(crate) struct Obj<'a> {
    enc: Encoder<'a>,
    /// At the top level only: where to report the members.
    top: Option<&'a mut Vec<(usize, usize, usize)>>,
    count_at: usize,
    /// This object's first span in `scratch.spans`.
    base: usize,
    /// A map key written (`(start, length, prefix)`) whose value has not come yet.
    pending_key: Option<(usize, usize, u64)>,
    /// Every member so far came in strictly ascending key order (then
    /// [`Obj::finish`] has nothing to reorder).
    sorted: bool,
}

impl Obj<'_> {
    fn member<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), SerError> {
        let start = self.enc.out.len();
        put_str(self.enc.out, key);
        self.value_after_key(start, key.len(), key_prefix(key.as_bytes()), v)
    }

    fn value_after_key<T: Serialize + ?Sized>(
        &mut self,
        start: usize,
        key_len: usize,
        prefix: u64,
        v: &T,
    ) -> Result<(), SerError> {
        v.serialize(&mut self.enc)?;
        let end = self.enc.out.len();
        let span = Span {
            start,
            key_len,
            end,
            prefix,
        };
        push_span(
            &mut self.enc.scratch.spans,
            self.base,
            self.enc.out,
            span,
            &mut self.sorted,
        );
        Ok(())
    }

    fn key_of<'o>(out: &'o [u8], s: &Span) -> &'o [u8] {
        out.get(s.start + 4..s.start + 4 + s.key_len).unwrap_or(&[])
    }

    fn finish(self) -> Result<(), SerError> {
        let Obj {
            enc,
            top,
            count_at,
            base,
            sorted,
            ..
        } = self;
        let Encoder { out, scratch, .. } = enc;
        let Scratch { spans, tmp } = scratch;
        let mine = spans.get_mut(base..).unwrap_or_default();
        patch_count(out, count_at, mine.len())?;
        if !sorted {
            // Objects are small: an insertion sort in place, no allocation.
            for i in 1..mine.len() {
                let mut j = i;
                while j > 0 {
                    let (Some(a), Some(b)) = (mine.get(j - 1), mine.get(j)) else {
                        break;
                    };
                    match key_cmp(out, a, b) {
                        std::cmp::Ordering::Greater => mine.swap(j - 1, j),
                        std::cmp::Ordering::Equal => {
                            let key = String::from_utf8_lossy(Obj::key_of(out, a)).into_owned();
                            return Err(record(&format!(
                                "key `{key}` appears twice in one object"
                            )));
                        }
                        std::cmp::Ordering::Less => break,
                    }
                    j -= 1;
                }
            }
            let region = count_at + 4;
            tmp.clear();
            tmp.extend_from_slice(out.get(region..).unwrap_or(&[]));
            out.truncate(region);
            for s in mine.iter_mut() {
                let len = s.end - s.start;
                let from = s.start - region;
                out.extend_from_slice(tmp.get(from..from + len).unwrap_or(&[]));
                // Where the member now is, for the caller's view of the top level.
                s.start = out.len() - len;
                s.end = out.len();
            }
        }
        if let Some(t) = top {
            t.clear();
            t.extend(mine.iter().map(|s| (s.start + 4, s.key_len, s.end)));
        }
        spans.truncate(base);
        Ok(())
    }
}

impl<'a, 'b> ser::Serializer for &'a mut Encoder<'b> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = VariantSeq<'a>;
    type SerializeMap = Obj<'a>;
    type SerializeStruct = Obj<'a>;
    type SerializeStructVariant = VariantObj<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        self.scalar(if v { &[0x02] } else { &[0x01] })
    }
    fn serialize_i8(self, v: i8) -> Result<(), SerError> {
        self.int(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), SerError> {
        self.int(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), SerError> {
        self.int(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), SerError> {
        self.int(v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), SerError> {
        if let Ok(u) = u64::try_from(v) {
            self.uint(u)
        } else if let Ok(i) = i64::try_from(v) {
            self.int(i)
        } else {
            Err(record("integer outside the 64-bit range"))
        }
    }
    fn serialize_u8(self, v: u8) -> Result<(), SerError> {
        self.uint(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), SerError> {
        self.uint(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), SerError> {
        self.uint(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), SerError> {
        self.uint(v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), SerError> {
        u64::try_from(v)
            .map_err(|_| record("integer outside the 64-bit range"))
            .and_then(|u| self.uint(u))
    }
    fn serialize_f32(self, v: f32) -> Result<(), SerError> {
        self.float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), SerError> {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result<(), SerError> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        self.string(v)
    }
    /// Formats straight into the output (no intermediate `String`), as
    /// `serialize_str(&v.to_string())` would write it. A `Display` that
    /// fails is an error (`to_string` would panic).
    fn collect_str<T: fmt::Display + ?Sized>(self, v: &T) -> Result<(), SerError> {
        self.at_top()?;
        let tag_at = self.out.len();
        self.out.push(0x06);
        let len_at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        if fmt::write(&mut Utf8Sink(self.out), format_args!("{v}")).is_err() {
            self.out.truncate(tag_at);
            return Err(record("a value's `Display` failed"));
        }
        let n = self.out.len() - len_at - 4;
        patch_count(self.out, len_at, n)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), SerError> {
        let mut s = self.begin_seq()?;
        for b in v {
            s.item(b)?;
        }
        s.finish()
    }
    fn serialize_none(self) -> Result<(), SerError> {
        self.scalar(&[0x00])
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), SerError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), SerError> {
        self.scalar(&[0x00])
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), SerError> {
        self.scalar(&[0x00])
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<(), SerError> {
        self.string(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        self.variant(variant, v)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>, SerError> {
        self.begin_seq()
    }
    fn serialize_tuple(self, _: usize) -> Result<Seq<'a>, SerError> {
        self.begin_seq()
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Seq<'a>, SerError> {
        self.begin_seq()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<VariantSeq<'a>, SerError> {
        let obj = self.begin_object()?;
        let start = obj.enc.out.len();
        put_str(obj.enc.out, variant);
        let inner_level = obj.enc.child_level()?;
        obj.enc.out.push(0x07);
        let count_at = obj.enc.out.len();
        obj.enc.out.extend_from_slice(&[0; 4]);
        Ok(VariantSeq {
            obj,
            start,
            key_len: variant.len(),
            inner_level,
            count_at,
            count: 0,
        })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Obj<'a>, SerError> {
        self.begin_object()
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Obj<'a>, SerError> {
        if name.starts_with("$serde_json::private::") {
            return Err(record(
                "serde_json raw values and numbers are not supported",
            ));
        }
        self.begin_object()
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<VariantObj<'a>, SerError> {
        let outer = self.begin_object()?;
        let start = outer.enc.out.len();
        put_str(outer.enc.out, variant);
        let level = outer.enc.child_level()?;
        outer.enc.out.push(0x08);
        let count_at = outer.enc.out.len();
        outer.enc.out.extend_from_slice(&[0; 4]);
        let base = outer.enc.scratch.spans.len();
        Ok(VariantObj {
            outer_count_at: outer.count_at,
            outer_base: outer.base,
            start,
            key_len: variant.len(),
            inner: Obj {
                enc: Encoder {
                    out: outer.enc.out,
                    scratch: outer.enc.scratch,
                    level,
                    top: None,
                },
                top: None,
                count_at,
                base,
                pending_key: None,
                sorted: true,
            },
            outer_level: outer.enc.level,
            outer_top: outer.top,
        })
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.item(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.item(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.item(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeMap for Obj<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        let start = self.enc.out.len();
        // Placeholder length, then the key text.
        self.enc.out.extend_from_slice(&[0; 4]);
        key.serialize(KeyWriter {
            out: &mut *self.enc.out,
        })?;
        let key_len = self.enc.out.len() - start - 4;
        patch_count(self.enc.out, start, key_len)?;
        let key = self.enc.out.get(start + 4..).unwrap_or(&[]);
        self.pending_key = Some((start, key_len, key_prefix(key)));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        let (start, key_len, prefix) = self
            .pending_key
            .take()
            .ok_or_else(|| record("map value without a key"))?;
        self.value_after_key(start, key_len, prefix, v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Obj<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        self.member(key, v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

/// `{variant: [..]}`.
pub(crate) struct VariantSeq<'a> {
    obj: Obj<'a>,
    start: usize,
    key_len: usize,
    inner_level: usize,
    count_at: usize,
    count: usize,
}

impl ser::SerializeTupleVariant for VariantSeq<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.count += 1;
        let mut enc = Encoder {
            out: &mut *self.obj.enc.out,
            scratch: &mut *self.obj.enc.scratch,
            level: self.inner_level,
            top: None,
        };
        v.serialize(&mut enc)
    }
    fn end(self) -> Result<(), SerError> {
        patch_count(self.obj.enc.out, self.count_at, self.count)?;
        let end = self.obj.enc.out.len();
        // The object's only member: it stays sorted.
        let span = Span::new(self.obj.enc.out, self.start, self.key_len, end);
        self.obj.enc.scratch.spans.push(span);
        self.obj.finish()
    }
}

/// `{variant: {..}}`.
pub(crate) struct VariantObj<'a> {
    outer_count_at: usize,
    outer_base: usize,
    outer_level: usize,
    outer_top: Option<&'a mut Vec<(usize, usize, usize)>>,
    start: usize,
    key_len: usize,
    inner: Obj<'a>,
}

impl ser::SerializeStructVariant for VariantObj<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        self.inner.member(key, v)
    }
    fn end(self) -> Result<(), SerError> {
        let VariantObj {
            outer_count_at,
            outer_base,
            outer_level,
            outer_top,
            start,
            key_len,
            inner,
        } = self;
        // Finish the inner object, then record it as the outer object's member.
        let Obj {
            enc,
            count_at,
            base,
            sorted,
            ..
        } = inner;
        let Encoder { out, scratch, .. } = enc;
        Obj {
            enc: Encoder {
                out: &mut *out,
                scratch: &mut *scratch,
                level: outer_level + 1,
                top: None,
            },
            top: None,
            count_at,
            base,
            pending_key: None,
            sorted,
        }
        .finish()?;
        let end = out.len();
        // The outer object's only member: it stays sorted.
        scratch.spans.push(Span::new(out, start, key_len, end));
        Obj {
            enc: Encoder {
                out,
                scratch,
                level: outer_level,
                top: None,
            },
            top: outer_top,
            count_at: outer_count_at,
            base: outer_base,
            pending_key: None,
            sorted: true,
        }
        .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spans_of(keys: &[&[u8]]) -> (Vec<u8>, Vec<Span>) {
        let mut out = Vec::new();
        let mut spans = Vec::new();
        for k in keys {
            let start = out.len();
            out.extend_from_slice(&u32::try_from(k.len()).unwrap().to_be_bytes());
            out.extend_from_slice(k);
            spans.push(Span::new(&out, start, k.len(), out.len()));
        }
        (out, spans)
    }

    /// Keys sharing long prefixes, shorter than 8 bytes, and holding NULs
    /// (which the zero padding must not confuse with "no byte").
    fn arb_key() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(vec![
                &b""[..],
                b"abcdefgh",
                b"abcdefg",
                b"abcdefg\0",
                b"ab\0",
            ]),
            prop::collection::vec(prop::sample::select(vec![0u8, b'a', b'b', 0xff]), 0..4),
        )
            .prop_map(|(p, rest)| [p, &rest].concat())
    }

    proptest! {
        /// The prefix comparison is the bytewise order, ties included.
        #[test]
        fn key_cmp_is_bytewise(a in arb_key(), b in arb_key()) {
            let (out, s) = spans_of(&[&a, &b]);
            prop_assert_eq!(key_cmp(&out, &s[0], &s[1]), a.cmp(&b));
        }
    }

    /// [`key_prefix`] one byte at a time: the reference.
    fn key_prefix_naive(key: &[u8]) -> u64 {
        let mut p = 0u64;
        for (i, &b) in key.iter().take(8).enumerate() {
            p |= u64::from(b) << (56 - 8 * i);
        }
        p
    }

    /// The overlapping-load prefix against the byte loop, at every length
    /// to 10 and with bytes whose high bit is set.
    #[test]
    fn key_prefix_is_the_byte_loop() {
        let bytes: Vec<u8> = (0u8..10).map(|i| i.wrapping_mul(97) ^ 0xa5).collect();
        for n in 0..=bytes.len() {
            for start in 0..(bytes.len() - n).min(3) {
                let key = &bytes[start..start + n];
                assert_eq!(key_prefix(key), key_prefix_naive(key), "{key:?}");
            }
        }
    }

    #[test]
    fn key_prefix_boundaries() {
        assert_eq!(key_prefix(b""), 0);
        assert_eq!(key_prefix(b"a"), 0x61 << 56);
        assert_eq!(key_prefix(b"abcdefgh"), key_prefix(b"abcdefghz"));
        assert!(key_prefix(b"ab") < key_prefix(b"ab\x01"));
        let (out, s) = spans_of(&[b"ab", b"ab\0"]);
        assert_eq!(key_cmp(&out, &s[0], &s[1]), std::cmp::Ordering::Less);
    }
}
