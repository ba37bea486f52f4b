//! Verifying a chain: sequentially in constant memory, from a checkpoint,
//! against a checkpoint, or in parallel.
//!
//! What is detected, and at which row:
//!
//! | tampering | detected as | row named |
//! |---|---|---|
//! | a field edited, stored hash kept | `HASH_MISMATCH` | the edited row |
//! | a field edited and its hash recomputed | `BROKEN_LINK` | the next row |
//! | an entry deleted, inserted, duplicated or moved | `ROW_MISMATCH` | the first position holding the wrong entry |
//! | the tail cut off (against a checkpoint) | `TRUNCATED` | the first missing row |
//! | history rewritten consistently (against a checkpoint) | `CHECKPOINT_MISMATCH` | the checkpoint's row |
//! | bytes that are not an entry | `UNDECODABLE` | that row |
//!
//! With canonical bytes alone (no stored hashes), an edit of row *n* and an
//! edit of row *n + 1*'s `prev_hash` are indistinguishable: both are
//! reported at row *n + 1*. An edit of the last row with its hash
//! recomputed can only be caught against a checkpoint; hold one.

mod parallel;

use al_types::{Digest, EntryId, Timestamp};
use serde::Serialize;

pub use parallel::{Chunk, ChunkOutcome, verify_parallel};

use crate::checkpoint::{Checkpoint, VerifiedCheckpoint};
use crate::encoding::{decode, peek_prev_hash, peek_row};
use crate::entry::{DOMAIN, VERSION, validate_fields};
use crate::merkle::Frontier;

/// The verify result of `GET /audit/verify`, exactly as the SDK parses it
/// (`docs/audit-encoding.md`, "Verification").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyResult {
    /// Workspace.
    pub org_id: String,
    /// Every entry checked out (and the checkpoint, if one was held).
    pub chain_valid: bool,
    /// Last row that verified.
    pub verified_through_row: u64,
    /// Hash of that row (`null` when none verified).
    pub chain_hash: Option<Digest>,
    /// Verification started from a checkpoint instead of row 1.
    pub verified_from_checkpoint: bool,
    /// When the verification ran (caller's time).
    pub timestamp: Timestamp,
    /// Id of the first bad row, if any.
    pub first_broken_at_row_id: Option<EntryId>,
}

/// Why verification failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum FailureCode {
    /// The bytes do not hash to the stored hash.
    HashMismatch,
    /// `prev_hash` does not match the previous entry.
    BrokenLink,
    /// The entry at this position claims another row.
    RowMismatch,
    /// The bytes are not an audit entry.
    Undecodable,
    /// The log ends before the checkpoint's size.
    Truncated,
    /// The log disagrees with the checkpoint at its size.
    CheckpointMismatch,
}

/// The first failure found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyFailure {
    /// Row named.
    pub row: u64,
    /// Why.
    pub code: FailureCode,
    /// Details for people.
    pub message: String,
}

/// A verification's full outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The wire result.
    pub result: VerifyResult,
    /// The first failure, if any.
    pub failure: Option<VerifyFailure>,
    /// Entries read.
    pub entries_read: u64,
    /// Merkle root of the rows verified, when tracked (from row 1 only).
    pub root: Option<Digest>,
}

/// The shortest canonical entry: domain tag, version, row, kind, no agent,
/// timestamp, an empty fields object, `prev_hash`.
const MIN_ENTRY_BYTES: usize = DOMAIN.len() + 1 + 8 + 1 + 1 + 8 + 1 + 4 + 32;

/// Check one record: its header, row, link and (if given) stored hash;
/// with `strict`, also a full decode and the kind's field rules. Returns
/// its recomputed hash, or the failure naming `expected_row`.
pub(crate) fn check_record(
    bytes: &[u8],
    stored: Option<&Digest>,
    expected_row: u64,
    expected_prev: &Digest,
    strict: bool,
) -> Result<Digest, VerifyFailure> {
    let fail = |code, message: String| VerifyFailure {
        row: expected_row,
        code,
        message,
    };
    let header_ok = bytes.get(..DOMAIN.len()) == Some(DOMAIN.as_slice())
        && bytes.get(DOMAIN.len()) == Some(&VERSION);
    if !header_ok || bytes.len() < MIN_ENTRY_BYTES {
        return Err(fail(
            FailureCode::Undecodable,
            "not an audit entry v1".into(),
        ));
    }
    if strict && let Err(e) = decode(bytes).and_then(|e| validate_fields(e.kind, &e.fields)) {
        return Err(fail(FailureCode::Undecodable, e.to_string()));
    }
    let hash = Digest::of(bytes);
    if let Some(s) = stored
        && *s != hash
    {
        return Err(fail(
            FailureCode::HashMismatch,
            format!("stored hash {s} but the bytes hash to {hash}"),
        ));
    }
    let row = peek_row(bytes).unwrap_or(0);
    if row != expected_row {
        return Err(fail(
            FailureCode::RowMismatch,
            format!("expected row {expected_row}, found row {row}"),
        ));
    }
    if peek_prev_hash(bytes).as_ref() != Some(expected_prev) {
        return Err(fail(
            FailureCode::BrokenLink,
            "prev_hash does not match the previous entry's hash".into(),
        ));
    }
    Ok(hash)
}

/// A streaming verifier: feed records oldest first, then [`finish`](Self::finish).
/// Memory is constant (O(log n) when tracking the root).
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    org_id: String,
    next_row: u64,
    prev: Digest,
    last_good: Option<(u64, Digest)>,
    from_checkpoint: bool,
    target: Option<Checkpoint>,
    frontier: Option<Frontier>,
    strict: bool,
    read: u64,
    failure: Option<VerifyFailure>,
}

impl ChainVerifier {
    /// Verify from row 1.
    #[must_use]
    pub fn new(org_id: impl Into<String>) -> ChainVerifier {
        ChainVerifier {
            org_id: org_id.into(),
            next_row: 1,
            prev: Digest::ZERO,
            last_good: None,
            from_checkpoint: false,
            target: None,
            frontier: None,
            strict: false,
            read: 0,
            failure: None,
        }
    }

    /// Verify the rows after a checkpoint, starting from its head hash.
    #[must_use]
    pub fn resume(cp: &VerifiedCheckpoint) -> ChainVerifier {
        let c = cp.checkpoint();
        let mut v = ChainVerifier::new(c.org_id.clone());
        v.next_row = c.size + 1;
        v.prev = c.head_hash;
        v.last_good = (c.size > 0).then_some((c.size, c.head_hash));
        v.from_checkpoint = true;
        v
    }

    /// Also check the log against a held checkpoint: it must be for this
    /// org (else the verification fails at once, at the next row), the log
    /// must reach its size, and at its size the head hash (and, from row 1,
    /// the Merkle root) must match.
    #[must_use]
    pub fn against(mut self, cp: &VerifiedCheckpoint) -> ChainVerifier {
        let c = cp.checkpoint();
        if c.org_id != self.org_id && self.failure.is_none() {
            self.failure = Some(VerifyFailure {
                row: self.next_row,
                code: FailureCode::CheckpointMismatch,
                message: format!(
                    "checkpoint is for org `{}`, not `{}`",
                    c.org_id, self.org_id
                ),
            });
        }
        if !self.from_checkpoint {
            self.frontier = Some(Frontier::default());
        }
        self.target = Some(c.clone());
        self
    }

    /// Compute the Merkle root of everything verified (from row 1 only).
    #[must_use]
    pub fn track_root(mut self) -> ChainVerifier {
        if !self.from_checkpoint {
            self.frontier = Some(Frontier::default());
        }
        self
    }

    /// Fully decode every entry and check its kind's field rules, not only
    /// its header, row, link and hash.
    #[must_use]
    pub fn strict(mut self) -> ChainVerifier {
        self.strict = true;
        self
    }

    /// Whether a failure has been found.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Record a failure found outside the verifier (e.g. an unparsable line).
    pub fn fail(&mut self, code: FailureCode, message: String) {
        if self.failure.is_none() {
            self.failure = Some(VerifyFailure {
                row: self.next_row,
                code,
                message,
            });
        }
    }

    /// Feed the next record. Returns `false` once verification has failed
    /// (further records are ignored).
    pub fn push(&mut self, bytes: &[u8], stored_hash: Option<&Digest>) -> bool {
        if self.failure.is_some() {
            return false;
        }
        self.read += 1;
        match check_record(bytes, stored_hash, self.next_row, &self.prev, self.strict) {
            Err(f) => {
                self.failure = Some(f);
                false
            }
            Ok(hash) => {
                // Track the root up to the checkpoint's size (or throughout).
                if let Some(f) = &mut self.frontier {
                    f.push(&hash);
                }
                if let Some(t) = &self.target
                    && t.size == self.next_row
                {
                    let root_bad = self.frontier.as_ref().is_some_and(|f| f.root() != t.root);
                    if hash != t.head_hash || root_bad {
                        self.failure = Some(VerifyFailure {
                            row: self.next_row,
                            code: FailureCode::CheckpointMismatch,
                            message: format!(
                                "the log disagrees with the checkpoint at row {}: history before it was rewritten",
                                t.size
                            ),
                        });
                        return false;
                    }
                    // Past the checkpoint the root is not reported: stop tracking it.
                    self.frontier = None;
                }
                self.last_good = Some((self.next_row, hash));
                self.prev = hash;
                self.next_row += 1;
                true
            }
        }
    }

    /// Finish at the caller's time.
    #[must_use]
    pub fn finish(mut self, now: Timestamp) -> Verification {
        if self.failure.is_none()
            && let Some(t) = &self.target
            && self.next_row <= t.size
        {
            self.failure = Some(VerifyFailure {
                row: self.next_row,
                code: FailureCode::Truncated,
                message: format!(
                    "the log ends at row {} but the checkpoint covers {} rows",
                    self.next_row - 1,
                    t.size
                ),
            });
        }
        let root = match (&self.frontier, &self.target) {
            (Some(f), None) => Some(f.root()),
            _ => None,
        };
        Verification {
            result: VerifyResult {
                org_id: self.org_id,
                chain_valid: self.failure.is_none(),
                verified_through_row: self.last_good.map_or(0, |g| g.0),
                chain_hash: self.last_good.map(|g| g.1),
                verified_from_checkpoint: self.from_checkpoint,
                timestamp: now,
                first_broken_at_row_id: self
                    .failure
                    .as_ref()
                    .and_then(|f| EntryId::from_row(f.row)),
            },
            failure: self.failure,
            entries_read: self.read,
            root,
        }
    }
}

impl crate::log::AuditLog {
    /// Verify this log's own records from row 1 (and against `checkpoint`).
    #[must_use]
    pub fn verify(&self, checkpoint: Option<&VerifiedCheckpoint>, now: Timestamp) -> Verification {
        let mut v = ChainVerifier::new(self.org_id());
        if let Some(cp) = checkpoint {
            v = v.against(cp);
        }
        for r in self.records() {
            if !v.push(r.bytes, Some(&r.hash)) {
                break;
            }
        }
        v.finish(now)
    }
}
