//! Entries read in place: [`decode_ref`] checks canonical bytes exactly as
//! [`decode`] does but builds no JSON tree; [`EntryRef::fields`] then
//! deserializes the fields object straight into a caller's type (a typed
//! record) with a serde `Deserializer` over the value grammar of §2.
//!
//! The deserializer behaves as deserializing the same fields from a
//! `serde_json::Value` (`serde_json::from_value`) does, or refuses where
//! that could differ (byte strings, numbers or options as map keys): a
//! caller that needs `serde_json`'s exact answer in every case falls back
//! to it on an error. `tests/entry_ref.rs` and the `canonical_decode` fuzz
//! target hold both halves to that.
//!
//! One file on purpose: the check and the deserializer share one cursor
//! and must agree, byte for byte, on what a canonical value is.

use std::fmt;

use al_types::{Digest, EntryId, ErrorCode, Timestamp};
use serde::de::{self, DeserializeSeed, Visitor};

use super::decode;
use crate::entry::{DOMAIN, Entry, Kind, MAX_DEPTH, MAX_ENTRY_BYTES, VERSION};
use crate::error::{EncodingProblem, Error};

/// An entry read in place from its canonical bytes (see [`decode_ref`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Id, derived from the 1-based row.
    pub id: EntryId,
    /// Kind.
    pub kind: Kind,
    /// The agent concerned, if any.
    pub agent_id: Option<&'a str>,
    /// The caller's time.
    pub timestamp: Timestamp,
    /// Hash of the previous entry (zero for row 1).
    pub prev_hash: Digest,
    /// The whole entry.
    bytes: &'a [u8],
    /// The fields object, from its tag.
    fields: &'a [u8],
}

/// A fields object that does not fit the type asked for
/// (`INVALID_ENTRY`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldsError {
    message: String,
}

impl de::Error for FieldsError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        FieldsError {
            message: msg.to_string(),
        }
    }
}

impl ErrorCode for FieldsError {
    fn code(&self) -> &'static str {
        "INVALID_ENTRY"
    }
}

/// Check canonical bytes as [`decode`] does (same acceptance, same
/// errors) and read the header in place; the fields stay bytes until
/// [`EntryRef::fields`] or [`EntryRef::to_entry`].
///
/// # Errors
/// Exactly [`decode`]'s.
pub fn decode_ref(bytes: &[u8]) -> Result<EntryRef<'_>, Error> {
    // The walk below only says yes or no; the words come from `decode`.
    match walk(bytes) {
        Some(e) => Ok(e),
        None => Err(decode(bytes).err().unwrap_or(Error::encoding(
            0,
            EncodingProblem::NonCanonical("refused by the in-place reader"),
        ))),
    }
}

/// The header of bytes this crate's encoders just wrote, read without
/// re-checking the fields (they are canonical by construction); `None`
/// only if they are not an entry at all.
pub(crate) fn encoded(bytes: &[u8]) -> Option<EntryRef<'_>> {
    let mut r = R { b: bytes, at: 0 };
    r.take(DOMAIN.len() + 1)?;
    let id = EntryId::from_row(r.u64()?)?;
    let kind = Kind::from_code(r.u8()?)?;
    let agent_id = match r.u8()? {
        0 => None,
        1 => Some(r.str()?),
        _ => return None,
    };
    let timestamp = Timestamp::from_unix_millis(r.u64()? as i64)?;
    let end = bytes.len().checked_sub(32)?;
    let fields = bytes.get(r.at..end)?;
    let prev_hash = Digest(bytes.get(end..)?.try_into().ok()?);
    Some(EntryRef {
        id,
        kind,
        agent_id,
        timestamp,
        prev_hash,
        bytes,
        fields,
    })
}

fn walk(bytes: &[u8]) -> Option<EntryRef<'_>> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return None;
    }
    let mut r = R { b: bytes, at: 0 };
    if r.take(DOMAIN.len())? != DOMAIN || r.u8()? != VERSION {
        return None;
    }
    let id = EntryId::from_row(r.u64()?)?;
    let kind = Kind::from_code(r.u8()?)?;
    let agent_id = match r.u8()? {
        0 => None,
        1 => Some(r.str()?),
        _ => return None,
    };
    let timestamp = Timestamp::from_unix_millis(r.u64()? as i64)?;
    let start = r.at;
    if r.u8()? != 0x08 {
        return None;
    }
    r.skip_object(1)?;
    let fields = bytes.get(start..r.at)?;
    let prev_hash = Digest(r.take(32)?.try_into().ok()?);
    if r.at != bytes.len() {
        return None;
    }
    Some(EntryRef {
        id,
        kind,
        agent_id,
        timestamp,
        prev_hash,
        bytes,
        fields,
    })
}

impl<'a> EntryRef<'a> {
    /// The 1-based row.
    #[must_use]
    pub fn row(&self) -> u64 {
        self.id.row()
    }

    /// The canonical bytes read.
    #[must_use]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The fields object's canonical bytes, its tag (`0x08`) first: for a
    /// reader of its own over the value grammar (`docs/audit-encoding.md`
    /// §2). They are canonical: [`decode_ref`] checked them, or one of
    /// this crate's encoders wrote them.
    #[must_use]
    pub fn fields_bytes(&self) -> &'a [u8] {
        self.fields
    }

    /// The fields as a `T`, deserialized straight from the bytes.
    ///
    /// # Errors
    /// The fields do not fit `T`, or fit it in a way `serde_json::from_value`
    /// might read otherwise: byte strings, and numbers or options as map
    /// keys, are refused rather than guessed (a caller wanting
    /// `serde_json`'s answer there falls back to [`EntryRef::to_entry`]).
    pub fn fields<T: de::Deserialize<'a>>(&self) -> Result<T, FieldsError> {
        let mut r = R {
            b: self.fields,
            at: 0,
        };
        let v = T::deserialize(De(&mut r))?;
        if r.at != self.fields.len() {
            return Err(de::Error::custom("fields left over"));
        }
        Ok(v)
    }

    /// The entry with its fields as a JSON map (what [`decode`] returns).
    ///
    /// # Errors
    /// None for bytes [`decode_ref`] accepted; [`decode`]'s otherwise.
    pub fn to_entry(&self) -> Result<Entry, Error> {
        decode(self.bytes)
    }
}

/// A cursor over canonical bytes.
struct R<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        let c = self.b.get(self.at).copied()?;
        self.at += 1;
        Some(c)
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn len(&mut self) -> Option<usize> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize)
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    /// Skip a value at nesting `level`, checking it as `decode` does.
    fn skip_value(&mut self, level: usize) -> Option<()> {
        match self.u8()? {
            0x00..=0x02 => {}
            0x03 => {
                self.take(8)?;
            }
            0x04 => {
                if self.u64()? as i64 >= 0 {
                    return None;
                }
            }
            0x05 => {
                if !f64::from_bits(self.u64()?).is_finite() {
                    return None;
                }
            }
            0x06 => {
                self.str()?;
            }
            0x07 | 0x08 if level >= MAX_DEPTH => return None,
            0x07 => {
                for _ in 0..self.len()? {
                    self.skip_value(level + 1)?;
                }
            }
            0x08 => self.skip_object(level + 1)?,
            _ => return None,
        }
        Some(())
    }

    /// Skip an object's members (after its tag) at nesting `level`: keys
    /// strictly ascending.
    fn skip_object(&mut self, level: usize) -> Option<()> {
        let mut prev: Option<&[u8]> = None;
        for _ in 0..self.len()? {
            let k = self.str()?.as_bytes();
            if prev.is_some_and(|p| p >= k) {
                return None;
            }
            prev = Some(k);
            self.skip_value(level)?;
        }
        Some(())
    }

    fn fail<T>(&self, what: &str) -> Result<T, FieldsError> {
        Err(de::Error::custom(format!("{what} at byte {}", self.at)))
    }

    fn need_u8(&mut self) -> Result<u8, FieldsError> {
        match self.u8() {
            Some(c) => Ok(c),
            None => self.fail("truncated"),
        }
    }
    fn need_u64(&mut self) -> Result<u64, FieldsError> {
        match self.u64() {
            Some(c) => Ok(c),
            None => self.fail("truncated"),
        }
    }
    fn need_len(&mut self) -> Result<usize, FieldsError> {
        match self.len() {
            Some(c) => Ok(c),
            None => self.fail("truncated"),
        }
    }
    fn need_str(&mut self) -> Result<&'a str, FieldsError> {
        match self.str() {
            Some(c) => Ok(c),
            None => self.fail("invalid string"),
        }
    }
}

/// A value's deserializer, the cursor at its tag.
struct De<'a, 'r>(&'r mut R<'a>);

fn unexpected(tag: u8) -> de::Unexpected<'static> {
    match tag {
        0x00 => de::Unexpected::Unit,
        0x01 => de::Unexpected::Bool(false),
        0x02 => de::Unexpected::Bool(true),
        0x03..=0x05 => de::Unexpected::Other("number"),
        0x06 => de::Unexpected::Other("string"),
        0x07 => de::Unexpected::Seq,
        0x08 => de::Unexpected::Map,
        _ => de::Unexpected::Other("unknown tag"),
    }
}

impl<'a> De<'a, '_> {
    fn seq<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        let left = self.0.need_len()?;
        let mut s = Seq { r: self.0, left };
        let out = v.visit_seq(&mut s)?;
        if s.left != 0 {
            return Err(de::Error::invalid_length(left, &"fewer elements in array"));
        }
        Ok(out)
    }

    fn map<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        let left = self.0.need_len()?;
        let mut m = MapAcc {
            r: self.0,
            left,
            pending: false,
        };
        let out = v.visit_map(&mut m)?;
        if m.pending && m.r.skip_value(0).is_none() {
            return m.r.fail("invalid value");
        }
        if m.left != 0 {
            return Err(de::Error::invalid_length(left, &"fewer elements in map"));
        }
        Ok(out)
    }

    fn number<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        match self.0.need_u8()? {
            0x03 => v.visit_u64(self.0.need_u64()?),
            0x04 => v.visit_i64(self.0.need_u64()? as i64),
            0x05 => v.visit_f64(f64::from_bits(self.0.need_u64()?)),
            t => Err(de::Error::invalid_type(unexpected(t), &v)),
        }
    }
}

macro_rules! numbers {
    ($($m:ident)*) => {$(
        fn $m<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
            self.number(v)
        }
    )*};
}

impl<'a> de::Deserializer<'a> for De<'a, '_> {
    type Error = FieldsError;

    fn deserialize_any<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        match self.0.peek() {
            Some(0x00) => {
                self.0.at += 1;
                v.visit_unit()
            }
            Some(0x01) => {
                self.0.at += 1;
                v.visit_bool(false)
            }
            Some(0x02) => {
                self.0.at += 1;
                v.visit_bool(true)
            }
            Some(0x03..=0x05) => self.number(v),
            Some(0x06) => {
                self.0.at += 1;
                let s = self.0.need_str()?;
                v.visit_str(s)
            }
            Some(0x07) => {
                self.0.at += 1;
                self.seq(v)
            }
            Some(0x08) => {
                self.0.at += 1;
                self.map(v)
            }
            _ => self.0.fail("unknown tag"),
        }
    }

    numbers!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
             deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
             deserialize_f32 deserialize_f64);

    fn deserialize_bool<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        match self.0.need_u8()? {
            0x01 => v.visit_bool(false),
            0x02 => v.visit_bool(true),
            t => Err(de::Error::invalid_type(unexpected(t), &v)),
        }
    }

    fn deserialize_str<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        match self.0.need_u8()? {
            0x06 => {
                let s = self.0.need_str()?;
                v.visit_str(s)
            }
            t => Err(de::Error::invalid_type(unexpected(t), &v)),
        }
    }

    fn deserialize_string<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        self.deserialize_str(v)
    }

    fn deserialize_char<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        self.deserialize_str(v)
    }

    /// `serde_json` reads bytes from strings and arrays alike; refused
    /// here rather than guessed.
    fn deserialize_bytes<V: Visitor<'a>>(self, _v: V) -> Result<V::Value, FieldsError> {
        self.0.fail("byte strings are not read in place")
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        if self.0.peek() == Some(0x00) {
            self.0.at += 1;
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        match self.0.need_u8()? {
            0x00 => v.visit_unit(),
            t => Err(de::Error::invalid_type(unexpected(t), &v)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, FieldsError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, FieldsError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        match self.0.need_u8()? {
            0x07 => self.seq(v),
            t => Err(de::Error::invalid_type(unexpected(t), &v)),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, v: V) -> Result<V::Value, FieldsError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, FieldsError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        match self.0.need_u8()? {
            0x08 => self.map(v),
            t => Err(de::Error::invalid_type(unexpected(t), &v)),
        }
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, FieldsError> {
        match self.0.need_u8()? {
            0x07 => self.seq(v),
            0x08 => self.map(v),
            t => Err(de::Error::invalid_type(unexpected(t), &v)),
        }
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, FieldsError> {
        match self.0.need_u8()? {
            0x06 => {
                let s = self.0.need_str()?;
                v.visit_enum(Variant { r: None, name: s })
            }
            0x08 => {
                if self.0.need_len()? != 1 {
                    return self.0.fail("an enum as an object needs exactly one member");
                }
                let name = self.0.need_str()?;
                v.visit_enum(Variant {
                    r: Some(self.0),
                    name,
                })
            }
            t => Err(de::Error::invalid_type(unexpected(t), &v)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        // Already checked by `decode_ref`; the level only bounds recursion.
        match self.0.skip_value(0) {
            Some(()) => v.visit_unit(),
            None => self.0.fail("invalid value"),
        }
    }
}

struct Seq<'a, 'r> {
    r: &'r mut R<'a>,
    left: usize,
}

impl<'a> de::SeqAccess<'a> for Seq<'a, '_> {
    type Error = FieldsError;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FieldsError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(De(self.r)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct MapAcc<'a, 'r> {
    r: &'r mut R<'a>,
    left: usize,
    /// A key was read and its value not yet.
    pending: bool,
}

impl<'a> de::MapAccess<'a> for MapAcc<'a, '_> {
    type Error = FieldsError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FieldsError> {
        if self.pending {
            // The visitor skipped a value, as serde_json's map access allows.
            if self.r.skip_value(0).is_none() {
                return self.r.fail("invalid value");
            }
            self.pending = false;
        }
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let k = self.r.need_str()?;
        self.pending = true;
        seed.deserialize(Key(k)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, FieldsError> {
        if !self.pending {
            return self.r.fail("value is missing");
        }
        self.pending = false;
        seed.deserialize(De(self.r))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// A map key: a string, and only a string (`serde_json` also reads
/// numbers and options from key text; those are refused here).
struct Key<'a>(&'a str);

impl<'a> de::Deserializer<'a> for Key<'a> {
    type Error = FieldsError;

    fn deserialize_any<V: Visitor<'a>>(self, v: V) -> Result<V::Value, FieldsError> {
        v.visit_str(self.0)
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'a>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// An enum: a unit variant's name, or a one-member object.
struct Variant<'a, 'r> {
    r: Option<&'r mut R<'a>>,
    name: &'a str,
}

impl<'a, 'r> de::EnumAccess<'a> for Variant<'a, 'r> {
    type Error = FieldsError;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'a>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self), FieldsError> {
        let v = seed.deserialize(Key(self.name))?;
        Ok((v, self))
    }
}

impl<'a> de::VariantAccess<'a> for Variant<'a, '_> {
    type Error = FieldsError;

    fn unit_variant(self) -> Result<(), FieldsError> {
        match self.r {
            None => Ok(()),
            Some(r) => de::Deserialize::deserialize(De(r)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(
        self,
        seed: T,
    ) -> Result<T::Value, FieldsError> {
        match self.r {
            Some(r) => seed.deserialize(De(r)),
            None => Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, v: V) -> Result<V::Value, FieldsError> {
        match self.r {
            Some(r) => de::Deserializer::deserialize_seq(De(r), v),
            None => Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, FieldsError> {
        match self.r {
            Some(r) => de::Deserializer::deserialize_map(De(r), v),
            None => Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}
