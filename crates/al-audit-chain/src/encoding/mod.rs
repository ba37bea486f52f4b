//! Canonical encoding v1 of audit entries (`docs/audit-encoding.md`).
//!
//! ```text
//! entry   = DOMAIN version:u8(1) row:u64be kind:u8 agent timestamp:i64be fields:object prev_hash:[32]
//! DOMAIN  = "agentlattice.audit.entry.v1" 0x00            (28 bytes)
//! agent   = 0x00 | 0x01 str
//! str     = len:u32be utf8-bytes
//! value   = 0x00 null | 0x01 false | 0x02 true
//!         | 0x03 u64be              (integer >= 0)
//!         | 0x04 i64be              (integer < 0)
//!         | 0x05 f64be              (IEEE 754 bits of a finite float: a number written with a fraction or exponent)
//!         | 0x06 str
//!         | 0x07 count:u32be value*
//!         | object
//! object  = 0x08 count:u32be (str value)*   keys strictly ascending by bytes
//! ```
//! `hash = SHA-256(entry)`. The decoder accepts only canonical bytes, so
//! `encode(decode(b)) == b` for every accepted `b`.
//!
//! Two encoders produce these bytes: [`encode_entry`] from a
//! `serde_json::Map` (the general path) and [`canonical`], a serde
//! `Serializer` that writes any `T: Serialize` record directly (the hot
//! path: no intermediate JSON tree). A property test holds them
//! byte-identical.

pub(crate) mod canonical;
mod decode;
mod encode;
mod key;
mod view;

pub use decode::{decode, peek_prev_hash, peek_row};
pub(crate) use encode::{encode_entry, entry_len, header};
pub(crate) use view::encoded;
pub use view::{EntryRef, FieldsError, decode_ref};
