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

use serde::Serialize;

use crate::checkpoint::{Checkpoint, VerifiedCheckpoint};
use crate::encoding::{DOMAIN, EntryId, Hash, VERSION, decode, peek_prev_hash, peek_row};
use crate::merkle::Frontier;
use crate::time::format_ms;

/// SPEC §4's verify result, exactly as the SDK parses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyResult {
    /// Workspace.
    pub org_id: String,
    /// Every entry checked out (and the checkpoint, if one was held).
    pub chain_valid: bool,
    /// Last row that verified.
    pub verified_through_row: u64,
    /// Hash of that row (`null` when none verified).
    pub chain_hash: Option<Hash>,
    /// Verification started from a checkpoint instead of row 1.
    pub verified_from_checkpoint: bool,
    /// When the verification ran (caller's time).
    pub timestamp: String,
    /// Id of the first bad row, if any.
    pub first_broken_at_row_id: Option<String>,
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
    pub root: Option<Hash>,
}

/// Check one record: its header, row, link and (if given) stored hash.
/// Returns its recomputed hash.
///
/// # Errors
/// The failure, naming `expected_row`.
pub fn check_record(
    bytes: &[u8],
    stored: Option<&Hash>,
    expected_row: u64,
    expected_prev: &Hash,
    strict: bool,
) -> Result<Hash, VerifyFailure> {
    let fail = |code, message: String| VerifyFailure {
        row: expected_row,
        code,
        message,
    };
    let header_ok = bytes.get(..DOMAIN.len()) == Some(DOMAIN.as_slice())
        && bytes.get(DOMAIN.len()) == Some(&VERSION);
    if !header_ok || bytes.len() < DOMAIN.len() + 1 + 8 + 32 {
        return Err(fail(
            FailureCode::Undecodable,
            "not an audit entry v1".into(),
        ));
    }
    if strict && let Err(e) = decode(bytes) {
        return Err(fail(FailureCode::Undecodable, e.to_string()));
    }
    let hash = Hash::of(bytes);
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
    prev: Hash,
    last_good: Option<(u64, Hash)>,
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
            prev: Hash::ZERO,
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

    /// Also check the log against a held checkpoint: at its size the head
    /// hash (and, from row 1, the Merkle root) must match, and the log must
    /// reach its size.
    #[must_use]
    pub fn against(mut self, cp: &VerifiedCheckpoint) -> ChainVerifier {
        if !self.from_checkpoint {
            self.frontier = Some(Frontier::default());
        }
        self.target = Some(cp.checkpoint().clone());
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

    /// Fully decode every entry, not only its header, row and link.
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
    pub fn push(&mut self, bytes: &[u8], stored_hash: Option<&Hash>) -> bool {
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
                if let Some(f) = &mut self.frontier
                    && self.target.as_ref().is_none_or(|t| f.size() < t.size)
                {
                    f.push(&hash);
                }
                if let Some(t) = &self.target
                    && t.size == self.next_row
                {
                    let root_bad = self
                        .frontier
                        .as_ref()
                        .is_some_and(|f| f.size() == t.size && f.root() != t.root);
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
    pub fn finish(mut self, now_ms: i64) -> Verification {
        if self.failure.is_none()
            && let Some(t) = &self.target
        {
            if t.org_id != self.org_id {
                self.failure = Some(VerifyFailure {
                    row: 1,
                    code: FailureCode::CheckpointMismatch,
                    message: format!(
                        "checkpoint is for org `{}`, not `{}`",
                        t.org_id, self.org_id
                    ),
                });
            } else if self.next_row <= t.size {
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
                timestamp: format_ms(now_ms),
                first_broken_at_row_id: self.failure.as_ref().map(|f| EntryId(f.row).to_string()),
            },
            failure: self.failure,
            entries_read: self.read,
            root,
        }
    }
}

/// Verify records that carry their stored hashes, split over `threads`
/// scoped threads (the caller chooses how many; 1 runs inline). Gives the
/// same answer as sequential verification.
#[must_use]
pub fn verify_parallel(
    org_id: &str,
    records: &[(&[u8], Hash)],
    threads: usize,
    checkpoint: Option<&VerifiedCheckpoint>,
    now_ms: i64,
) -> Verification {
    let threads = threads.clamp(1, 256);
    let chunk = records.len().div_ceil(threads).max(1);
    let check_chunk = |ci: usize, part: &[(&[u8], Hash)]| -> Option<VerifyFailure> {
        let base = ci * chunk;
        for (i, (bytes, stored)) in part.iter().enumerate() {
            let idx = base + i;
            let prev = match idx.checked_sub(1).and_then(|p| records.get(p)) {
                Some((_, h)) => *h,
                None => Hash::ZERO,
            };
            if let Err(f) = check_record(bytes, Some(stored), idx as u64 + 1, &prev, false) {
                return Some(f);
            }
        }
        None
    };
    let failures: Vec<Option<VerifyFailure>> = if threads == 1 {
        vec![check_chunk(0, records)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = records
                .chunks(chunk)
                .enumerate()
                .map(|(ci, part)| (ci, s.spawn(move || check_chunk(ci, part))))
                .collect();
            handles
                .into_iter()
                .map(|(ci, h)| {
                    // Name the first row of the chunk whose thread failed.
                    h.join().unwrap_or_else(|_| {
                        Some(VerifyFailure {
                            row: (ci * chunk) as u64 + 1,
                            code: FailureCode::Undecodable,
                            message: "verifier thread panicked".into(),
                        })
                    })
                })
                .collect()
        })
    };
    let mut failure = failures.into_iter().flatten().min_by_key(|f| f.row);
    // Checkpoint checks, in the order the sequential verifier meets them:
    // a mismatch at the checkpoint's row comes before any later failure.
    if let Some(cp) = checkpoint.map(VerifiedCheckpoint::checkpoint) {
        let before_failure = failure.as_ref().is_none_or(|f| f.row > cp.size);
        let head_at_cp = cp
            .size
            .checked_sub(1)
            .and_then(|i| records.get(i as usize))
            .map(|r| r.1);
        if before_failure && cp.size >= 1 && head_at_cp.is_some_and(|h| h != cp.head_hash) {
            failure = Some(VerifyFailure {
                row: cp.size,
                code: FailureCode::CheckpointMismatch,
                message: format!(
                    "the log disagrees with the checkpoint at row {}: history before it was rewritten",
                    cp.size
                ),
            });
        } else if failure.is_none() && cp.org_id != org_id {
            failure = Some(VerifyFailure {
                row: 1,
                code: FailureCode::CheckpointMismatch,
                message: format!("checkpoint is for org `{}`, not `{org_id}`", cp.org_id),
            });
        } else if failure.is_none() && cp.size > records.len() as u64 {
            failure = Some(VerifyFailure {
                row: records.len() as u64 + 1,
                code: FailureCode::Truncated,
                message: format!(
                    "the log ends at row {} but the checkpoint covers {} rows",
                    records.len(),
                    cp.size
                ),
            });
        }
    }
    let through = failure
        .as_ref()
        .map_or(records.len() as u64, |f| f.row.saturating_sub(1));
    Verification {
        result: VerifyResult {
            org_id: org_id.to_owned(),
            chain_valid: failure.is_none(),
            verified_through_row: through,
            chain_hash: through
                .checked_sub(1)
                .and_then(|i| records.get(i as usize))
                .map(|r| r.1),
            verified_from_checkpoint: false,
            timestamp: format_ms(now_ms),
            first_broken_at_row_id: failure.as_ref().map(|f| EntryId(f.row).to_string()),
        },
        failure,
        entries_read: records.len() as u64,
        root: None,
    }
}

impl crate::log::AuditLog {
    /// Verify this log's own records from row 1 (and against `checkpoint`).
    #[must_use]
    pub fn verify(&self, checkpoint: Option<&VerifiedCheckpoint>, now_ms: i64) -> Verification {
        let mut v = ChainVerifier::new(self.org_id());
        if let Some(cp) = checkpoint {
            v = v.against(cp);
        }
        for r in self.records() {
            if !v.push(r.bytes, Some(&r.hash)) {
                break;
            }
        }
        v.finish(now_ms)
    }
}
