//! JSON Lines export and import: one entry per line.
//!
//! ```text
//! {"row":1,"id":"evt_0000000000000001","kind":"action","agent_id":"agt_1","timestamp":"2026-11-28T12:00:00Z",
//!  "action_type":"pr.merge","status":"executed",…,"prev_hash":"00…","hash":"…"}
//! ```
//! The writer puts the header keys first, then the kind's fields sorted by
//! key, then `prev_hash` and `hash`. The reader is strict and shared by the
//! library ([`AuditLog::import_jsonl`], [`JsonlVerifier`]) and the `al`
//! command: `docs/audit-encoding.md` ("JSON Lines") lists every rule and
//! exactly which re-formattings of a line it accepts. Reading a line
//! re-encodes it canonically, so a JSONL file is verified without trusting
//! anything in it. A line exactly as the writer lays it out takes a fast
//! path that transcodes it to the canonical bytes in one pass and falls
//! back to the strict reader for anything it cannot prove
//! ([`encode_line`]); both give the same bytes, errors and locations.

mod fast;
mod lines;
mod read;
mod write;

#[cfg(feature = "fuzzing")]
pub(crate) use fast::transcode;
pub use lines::{LINE_BUFFER_BYTES, LineReader, MAX_LINE_READ};
#[cfg(feature = "fuzzing")]
pub(crate) use read::encode_line_strict;
pub(crate) use read::integers;
pub use read::{
    JsonlVerifier, MAX_LINE_BYTES, encode_line, parse_line, parse_line_bytes, read_line,
};
pub use write::{entry_to_line, write_line};
