//! Map keys for the canonical serializer: the text `serde_json` would turn
//! each key into (strings, integers in decimal, `true`/`false`, unit
//! variants by name); floats and compound keys are refused.

use serde::ser::{self, Impossible, Serialize};

use super::canonical::SerError;

/// Writes a map key's text, as `serde_json` turns keys into strings.
pub(crate) struct KeyWriter<'a> {
    pub(crate) out: &'a mut Vec<u8>,
}

impl KeyWriter<'_> {
    fn text(self, s: &str) -> Result<(), SerError> {
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn key_must_be_a_string() -> SerError {
    SerError(crate::error::EntryProblem::Record(
        "map keys must be strings, integers or booleans".to_owned(),
    ))
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = Impossible<(), SerError>;
    type SerializeTuple = Impossible<(), SerError>;
    type SerializeTupleStruct = Impossible<(), SerError>;
    type SerializeTupleVariant = Impossible<(), SerError>;
    type SerializeMap = Impossible<(), SerError>;
    type SerializeStruct = Impossible<(), SerError>;
    type SerializeStructVariant = Impossible<(), SerError>;

    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        self.text(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<(), SerError> {
        self.text(&v.to_string())
    }
    fn serialize_f32(self, _: f32) -> Result<(), SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_f64(self, _: f64) -> Result<(), SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_char(self, v: char) -> Result<(), SerError> {
        self.text(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        self.text(v)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<(), SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<(), SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<(), SerError> {
        self.text(v)
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
        _: &'static str,
        _: &T,
    ) -> Result<(), SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(key_must_be_a_string())
    }
}
