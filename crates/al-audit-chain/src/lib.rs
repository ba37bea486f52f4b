#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checkpoint;
mod chunked;
mod encoding;
#[doc(hidden)]
pub mod fuzzing;
mod jsonl;
mod log;
pub mod merkle;
mod time;
mod verify;

pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointSigner, CheckpointVerifier, VerifiedCheckpoint,
};
pub use encoding::{
    DOMAIN, EncodingError, Entry, EntryId, Hash, Kind, MAX_DEPTH, MAX_ENTRY_BYTES, NewEntry,
    RESERVED_KEYS, VERSION, decode, encode_parts, peek_prev_hash, peek_row, validate_fields,
};
pub use jsonl::{ImportError, JsonlVerifier, MAX_LINE_BYTES, entry_to_line, parse_line};
pub use log::{
    AppendError, AuditLog, DEFAULT_LIMIT, LogConfig, MAX_LIMIT, OutcomeError, OutcomeReport, Page,
    Query, QueryError, Sealed,
};
pub use merkle::MerkleTree;
pub use time::{format_ms, parse_rfc3339_ms};
pub use verify::{
    ChainVerifier, FailureCode, Verification, VerifyFailure, VerifyResult, check_record,
    verify_parallel,
};
