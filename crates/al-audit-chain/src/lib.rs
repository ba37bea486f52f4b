#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checkpoint;
mod chunked;
mod encoding;
mod entry;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod jsonl;
mod log;
pub mod merkle;
pub mod note;
mod proof;
mod verify;

pub use checkpoint::{Checkpoint, SignedCheckpoint, VerifiedCheckpoint, valid_origin};
pub use encoding::{EntryRef, FieldsError, decode, decode_ref, peek_prev_hash, peek_row};
pub use entry::{
    ACTION_STATUSES, DOMAIN, Entry, Kind, MAX_DEPTH, MAX_ENTRY_BYTES, NewEntry, OUTCOME_STATUSES,
    RESERVED_KEYS, VERSION, validate_fields,
};
pub use error::{EncodingProblem, EntryProblem, Error, LineProblem, ProofError};
pub use jsonl::{
    JsonlVerifier, LINE_BUFFER_BYTES, LineReader, MAX_LINE_BYTES, MAX_LINE_READ, encode_line,
    entry_to_line, parse_line, parse_line_bytes, read_line, write_line,
};
pub use log::{AuditLog, DEFAULT_LIMIT, LogConfig, MAX_LIMIT, OutcomeReport, Page, Query, Sealed};
pub use merkle::MerkleTree;
#[cfg(feature = "ed25519")]
pub use note::{Ed25519Signer, Ed25519Verifier};
pub use note::{NoteSigner, NoteVerifier};
pub use proof::{ConsistencyProof, InclusionProof, Proof, TreeHead};
pub use verify::{
    ChainVerifier, Chunk, ChunkOutcome, FailureCode, Verification, VerifyFailure, VerifyResult,
    verify_parallel,
};
