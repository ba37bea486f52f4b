//! The crate's one error type.
//!
//! Every fallible public function returns [`Error`] (proof checks return
//! the narrower [`ProofError`], which converts into it). Each variant has a
//! stable [`ErrorCode`]; messages are lowercase, without a trailing period,
//! with user input in backticks. Errors about text input carry a line (and
//! a column where the JSON reader knows it).

use al_types::{Digest, ErrorCode, Location, json};

use crate::entry::Kind;

/// Why an audit operation was refused. Nothing changed when it is returned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes are not a canonical entry (`INVALID_ENCODING`).
    #[error("invalid canonical entry at byte {at}: {problem}")]
    Encoding {
        /// Byte offset where the problem was found.
        at: usize,
        /// What is wrong.
        problem: EncodingProblem,
    },
    /// An entry breaks a rule of the format or of its kind (`INVALID_ENTRY`).
    #[error("invalid entry: {problem}")]
    Entry {
        /// What is wrong.
        problem: EntryProblem,
    },
    /// A text was refused by the strict JSON reader (`INVALID_JSON`,
    /// `DUPLICATE_KEY`, `TOO_DEEP`, `TOO_LARGE`).
    #[error("{0}")]
    Json(#[source] json::Error),
    /// A JSON line is well-formed JSON but not an audit entry
    /// (`INVALID_AUDIT_LOG`).
    #[error("{problem}")]
    Line {
        /// What is wrong.
        problem: LineProblem,
    },
    /// A problem at one line of a multi-line input (a JSON Lines file, a
    /// checkpoint); the code is the inner error's. A JSON error inside a
    /// JSON line is worded `line N, column C: …` (the line of the input,
    /// the column in that line).
    #[error("line {line}{}", at_line_detail(source))]
    AtLine {
        /// 1-based line.
        line: u64,
        /// The problem.
        #[source]
        source: Box<Error>,
    },
    /// Bytes do not continue the chain being rebuilt (`CHAIN_BROKEN`).
    #[error("row {row}: {reason}")]
    Chain {
        /// Row where the chain breaks.
        row: u64,
        /// What is wrong (the verifier's message).
        reason: String,
    },
    /// A query cursor this log did not produce (`INVALID_CURSOR`).
    #[error("invalid cursor `{cursor}`")]
    InvalidCursor {
        /// The cursor, cut to 80 characters.
        cursor: String,
    },
    /// A query `limit` of 0 (`INVALID_REQUEST`).
    #[error("`limit` must be between 1 and {max}")]
    InvalidLimit {
        /// The largest limit accepted.
        max: usize,
    },
    /// The log keeps no query index (`NOT_SUPPORTED`).
    #[error("this log keeps no query index")]
    NoIndex,
    /// No action entry has this id (`NOT_FOUND`).
    #[error("no action event `{id}`")]
    EventNotFound {
        /// The id asked for, cut to 80 characters.
        id: String,
    },
    /// The event belongs to another agent (`FORBIDDEN`).
    #[error("event `{id}` belongs to another agent")]
    NotOwner {
        /// The event id.
        id: String,
    },
    /// An outcome report is malformed (`INVALID_REQUEST`).
    #[error("invalid outcome: {source}")]
    InvalidOutcome {
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// A checkpoint text does not parse (`INVALID_CHECKPOINT`).
    #[error("checkpoint line {line}: {problem}")]
    Checkpoint {
        /// 1-based line of the note.
        line: u64,
        /// What is wrong.
        problem: String,
    },
    /// A checkpoint carries no signature from a trusted key, or one that
    /// does not verify (`CHECKPOINT_UNVERIFIED`).
    #[error("checkpoint not verified: {reason}")]
    CheckpointUnverified {
        /// Why.
        reason: String,
    },
    /// A trusted key's signature on a checkpoint does not verify: the
    /// checkpoint was altered or forged (`CHECKPOINT_SIGNATURE_INVALID`).
    #[error("the signature of trusted key `{key}` does not verify: the checkpoint was altered")]
    CheckpointForged {
        /// The key, as `name+id`.
        key: String,
    },
    /// A checkpoint is for another org than the one trusted
    /// (`CHECKPOINT_ORG_MISMATCH`).
    #[error("checkpoint is for org `{found}`, not `{expected}`")]
    OrgMismatch {
        /// The org trusted.
        expected: String,
        /// The org the checkpoint names.
        found: String,
    },
    /// A key text is malformed (`INVALID_KEY`).
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// Why.
        reason: String,
    },
    /// A signer failed (`SIGNING_FAILED`), e.g. an HSM refused.
    #[error("signing failed: {reason}")]
    Signing {
        /// Why.
        reason: String,
    },
    /// A proof file is not a proof (`INVALID_PROOF_FILE`).
    #[error("proof file: {problem}")]
    ProofFile {
        /// What is wrong.
        problem: String,
    },
    /// A proof does not verify (`PROOF_INVALID`).
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// No entry has this id (`NOT_FOUND`).
    #[error("no entry `{id}` in a log of {size} entries")]
    NoSuchEntry {
        /// The id asked for.
        id: String,
        /// The log's size.
        size: u64,
    },
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Encoding { .. } => "INVALID_ENCODING",
            Error::Entry { .. } => "INVALID_ENTRY",
            Error::Json(e) => e.code(),
            Error::Line { .. } => "INVALID_AUDIT_LOG",
            Error::AtLine { source, .. } => source.code(),
            Error::Chain { .. } => "CHAIN_BROKEN",
            Error::InvalidCursor { .. } => "INVALID_CURSOR",
            Error::InvalidLimit { .. } | Error::InvalidOutcome { .. } => "INVALID_REQUEST",
            Error::NoIndex => "NOT_SUPPORTED",
            Error::EventNotFound { .. } | Error::NoSuchEntry { .. } => "NOT_FOUND",
            Error::NotOwner { .. } => "FORBIDDEN",
            Error::Checkpoint { .. } => "INVALID_CHECKPOINT",
            Error::CheckpointUnverified { .. } => "CHECKPOINT_UNVERIFIED",
            Error::CheckpointForged { .. } => "CHECKPOINT_SIGNATURE_INVALID",
            Error::OrgMismatch { .. } => "CHECKPOINT_ORG_MISMATCH",
            Error::InvalidKey { .. } => "INVALID_KEY",
            Error::Signing { .. } => "SIGNING_FAILED",
            Error::ProofFile { .. } => "INVALID_PROOF_FILE",
            Error::Proof(e) => e.code(),
        }
    }
}

impl Error {
    /// The 1-based line of the input where the problem is, if the input
    /// had lines.
    #[must_use]
    pub fn line(&self) -> Option<u64> {
        match self {
            Error::AtLine { line, .. } | Error::Checkpoint { line, .. } => Some(*line),
            Error::Json(e) => Some(u64::from(e.location.line)),
            _ => None,
        }
    }

    /// The innermost error (past [`Error::AtLine`] wrappers).
    #[must_use]
    pub fn innermost(&self) -> &Error {
        match self {
            Error::AtLine { source, .. } => source.innermost(),
            e => e,
        }
    }

    /// Place this error at 1-based `line` of a multi-line input (a JSON
    /// Lines file a caller reads line by line): the code stays the inner
    /// error's, [`line`](Self::line) becomes `line`.
    #[must_use]
    pub fn at_line(self, line: u64) -> Error {
        Error::AtLine {
            line,
            source: Box::new(self),
        }
    }

    pub(crate) fn entry(problem: EntryProblem) -> Error {
        Error::Entry { problem }
    }

    pub(crate) fn line_problem(problem: LineProblem) -> Error {
        Error::Line { problem }
    }

    pub(crate) fn encoding(at: usize, problem: EncodingProblem) -> Error {
        Error::Encoding { at, problem }
    }

    /// Where in a JSON text the error is, when the JSON reader knew it.
    #[must_use]
    pub fn location(&self) -> Option<Location> {
        match self.innermost() {
            Error::Json(e) => Some(e.location),
            _ => None,
        }
    }
}

/// The text after `line N` in [`Error::AtLine`]'s message: a JSON error
/// of a one-line text gives its column, anything else its own message.
fn at_line_detail(source: &Error) -> String {
    match source {
        Error::Json(e) if e.location.line == 1 => {
            format!(", column {}: {}", e.location.column, e.message)
        }
        e => format!(": {e}"),
    }
}

/// What is wrong with canonical bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingProblem {
    /// The bytes end too early.
    #[error("truncated")]
    Truncated,
    /// Bytes are left over after the entry.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// The domain tag or version is wrong.
    #[error("not an audit entry v1 (bad domain tag or version)")]
    BadHeader,
    /// An unknown kind code.
    #[error("unknown kind code {0}")]
    UnknownKind(u8),
    /// An unknown value tag.
    #[error("unknown value tag {0:#04x}")]
    UnknownTag(u8),
    /// A string is not UTF-8.
    #[error("invalid UTF-8")]
    Utf8,
    /// A valid form that is not the canonical one.
    #[error("non-canonical: {0}")]
    NonCanonical(&'static str),
}

/// What is wrong with an entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryProblem {
    /// Nested deeper than [`crate::MAX_DEPTH`] levels.
    #[error("fields nest deeper than {0} levels")]
    TooDeep(usize),
    /// Encodes to more than [`crate::MAX_ENTRY_BYTES`].
    #[error("entry encodes to {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Encoded size (or a lower bound of it).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// `fields` uses a key reserved for the header.
    #[error("field `{0}` is reserved for the entry header")]
    ReservedKey(String),
    /// A kind's required field is missing or has the wrong type or value.
    #[error("{kind} entries need `{field}` ({want})")]
    Field {
        /// The entry's kind.
        kind: Kind,
        /// The field.
        field: &'static str,
        /// What it must be.
        want: &'static str,
    },
    /// The row is 0 (rows start at 1).
    #[error("row must be at least 1")]
    RowZero,
    /// The timestamp is outside years 1–9999.
    #[error("timestamp {0} ms is outside years 1-9999")]
    Timestamp(i64),
    /// A typed record did not serialise to a JSON object, or used a value
    /// the canonical encoding cannot hold.
    #[error("record: {0}")]
    Record(String),
}

/// What is wrong with a JSON line that is valid JSON.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// The line is not a JSON object.
    #[error("a line must be a JSON object")]
    NotObject,
    /// The input could not be read (an I/O error).
    #[error("cannot read: {0}")]
    Unreadable(String),
    /// A blank line (they are not allowed anywhere).
    #[error("blank line")]
    Blank,
    /// A header key is missing.
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// A header key has the wrong type or form.
    #[error("`{key}` must be {want}")]
    Header {
        /// The key.
        key: &'static str,
        /// What it must be.
        want: &'static str,
    },
    /// `id` does not match `row`.
    #[error("`id` must be `{expected}` for row {row}")]
    IdMismatch {
        /// The row.
        row: u64,
        /// The id that row has.
        expected: String,
    },
    /// An integer literal outside −2^63 … 2^64−1.
    #[error("integer `{0}` is outside the 64-bit range")]
    IntegerRange(String),
    /// The stored hash does not match the entry.
    #[error("stored hash {stored} but the entry hashes to {computed}")]
    HashMismatch {
        /// The `hash` of the line.
        stored: Digest,
        /// The hash of the entry the line describes.
        computed: Digest,
    },
}

/// Which check of a Merkle proof failed (`PROOF_INVALID`).
///
/// The checks and their order follow RFC 9162 §2.1.3.2 and §2.1.4.2 (and
/// the reference Go verifier, which names the same failures).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The tree size is 0: nothing can be proven in an empty tree.
    #[error("tree size is 0")]
    EmptyTree,
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange {
        /// 0-based leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The first size of a consistency proof is 0 or above the second.
    #[error("sizes {first} and {second} are not 1 <= first <= second")]
    SizeOrder {
        /// Earlier size.
        first: u64,
        /// Later size.
        second: u64,
    },
    /// The path has the wrong number of hashes for this index and size.
    #[error("path has {got} hashes; index and size need {want}")]
    PathLength {
        /// Hashes given.
        got: usize,
        /// Hashes the shape of the tree needs.
        want: usize,
    },
    /// The path recomputes to another root.
    #[error("path leads to root {computed}, not {expected}")]
    RootMismatch {
        /// The root the proof must reach.
        expected: Digest,
        /// The root it reaches.
        computed: Digest,
    },
    /// The earlier root recomputed from a consistency proof differs.
    #[error("proof leads to first root {computed}, not {expected}")]
    FirstRootMismatch {
        /// The earlier root given.
        expected: Digest,
        /// The one the proof reaches.
        computed: Digest,
    },
    /// Equal sizes with different roots, or a non-empty proof.
    #[error("equal sizes need equal roots and an empty proof")]
    EqualSizes,
    /// `entry_id` does not name the proof's `row`.
    #[error("`entry_id` `{entry_id}` does not name row {row}")]
    EntryIdMismatch {
        /// The id in the proof.
        entry_id: String,
        /// The row in the proof.
        row: u64,
    },
    /// `leaf_index` is not `row - 1`, or `leaf_hash` is not the leaf of
    /// `entry_hash`.
    #[error("{0}")]
    LeafMismatch(&'static str),
    /// The proof refers to another checkpoint than the one trusted.
    #[error(
        "proof refers to size {proof_size}, root {proof_root}; the trusted checkpoint has size {size}, root {root}"
    )]
    CheckpointMismatch {
        /// Size in the proof.
        proof_size: u64,
        /// Root in the proof.
        proof_root: Digest,
        /// Size of the trusted checkpoint.
        size: u64,
        /// Root of the trusted checkpoint.
        root: Digest,
    },
    /// The proof's checkpoint is for another org than the trusted one.
    #[error("proof is for org `{found}`, the trusted checkpoint for `{expected}`")]
    OrgMismatch {
        /// The trusted org.
        expected: String,
        /// The org in the proof.
        found: String,
    },
}

impl ErrorCode for ProofError {
    fn code(&self) -> &'static str {
        "PROOF_INVALID"
    }
}

impl ProofError {
    /// The name of the check that failed, as `docs/audit-encoding.md`
    /// §4 and §6 name them: `size_zero`, `index`, `size_order`,
    /// `equal_sizes`, `path_length`, `first_root`, `root`, `entry_id`,
    /// `leaf`, `org`, `checkpoint`.
    #[must_use]
    pub fn check(&self) -> &'static str {
        match self {
            ProofError::EmptyTree => "size_zero",
            ProofError::IndexOutOfRange { .. } => "index",
            ProofError::SizeOrder { .. } => "size_order",
            ProofError::EqualSizes => "equal_sizes",
            ProofError::PathLength { .. } => "path_length",
            ProofError::FirstRootMismatch { .. } => "first_root",
            ProofError::RootMismatch { .. } => "root",
            ProofError::EntryIdMismatch { .. } => "entry_id",
            ProofError::LeafMismatch(_) => "leaf",
            ProofError::OrgMismatch { .. } => "org",
            ProofError::CheckpointMismatch { .. } => "checkpoint",
        }
    }
}

impl From<json::Error> for Error {
    fn from(e: json::Error) -> Error {
        Error::Json(e)
    }
}
