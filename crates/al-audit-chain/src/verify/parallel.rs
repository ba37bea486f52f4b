//! Parallel verification with the caller's threads.
//!
//! The library spawns nothing: [`verify_parallel`] cuts the records into
//! independent [`Chunk`]s and hands them to a runner the caller supplies,
//! which may run them on scoped threads, a rayon pool, an async runtime's
//! blocking pool, or inline. Each chunk checks its records against the
//! stored hash of the record before it, so chunks need no communication;
//! the answer is the one sequential verification gives.
//!
//! ```
//! use al_audit_chain::{AuditLog, Chunk, ChunkOutcome, verify_parallel};
//! # use al_audit_chain::{Kind, NewEntry};
//! # use al_types::Timestamp;
//! # let mut log = AuditLog::new("acme");
//! # for i in 0..10 {
//! #     let fields = serde_json::json!({"action_type": "a", "status": "executed"});
//! #     let _ = log.append(&NewEntry { kind: Kind::Action, agent_id: None,
//! #         timestamp: Timestamp::UNIX_EPOCH, fields: fields.as_object().unwrap().clone() })?;
//! # }
//! let records: Vec<(&[u8], _)> = log.records().map(|r| (r.bytes, r.hash)).collect();
//! // Two scoped threads of the caller's.
//! let run = |chunks: Vec<Chunk<'_>>| -> Vec<ChunkOutcome> {
//!     std::thread::scope(|s| {
//!         let handles: Vec<_> = chunks.into_iter().map(|c| s.spawn(move || c.run())).collect();
//!         // A chunk whose thread panicked is simply missing: it counts as failed.
//!         handles.into_iter().filter_map(|h| h.join().ok()).collect()
//!     })
//! };
//! let v = verify_parallel("acme", &records, None, Timestamp::UNIX_EPOCH, 2, run);
//! assert!(v.result.chain_valid);
//! // Inline, on the calling thread.
//! let inline = |chunks: Vec<Chunk<'_>>| chunks.into_iter().map(Chunk::run).collect();
//! assert_eq!(verify_parallel("acme", &records, None, Timestamp::UNIX_EPOCH, 1, inline), v);
//! # Ok::<(), al_audit_chain::Error>(())
//! ```

use al_types::{Digest, EntryId, Timestamp};

use super::{FailureCode, Verification, VerifyFailure, VerifyResult, check_record};
use crate::checkpoint::VerifiedCheckpoint;

/// A contiguous run of records to check, independent of every other chunk.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct Chunk<'a> {
    index: usize,
    first_row: u64,
    prev: Digest,
    records: &'a [(&'a [u8], Digest)],
}

/// What one chunk found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkOutcome {
    index: usize,
    failure: Option<VerifyFailure>,
}

impl Chunk<'_> {
    /// Check every record of the chunk (header, row, link, stored hash).
    #[must_use]
    pub fn run(self) -> ChunkOutcome {
        let mut prev = self.prev;
        let mut failure = None;
        for (i, (bytes, stored)) in self.records.iter().enumerate() {
            match check_record(bytes, Some(stored), self.first_row + i as u64, &prev, false) {
                Ok(_) => prev = *stored,
                Err(f) => {
                    failure = Some(f);
                    break;
                }
            }
        }
        ChunkOutcome {
            index: self.index,
            failure,
        }
    }

    /// The 1-based row of the chunk's first record.
    #[must_use]
    pub fn first_row(&self) -> u64 {
        self.first_row
    }
}

/// Verify records that carry their stored hashes, cut into `parts` chunks
/// (1–256) that `run` executes wherever the caller likes. Gives the answer
/// sequential verification gives. A chunk whose outcome `run` does not
/// return (its thread failed) fails at its first row.
#[must_use]
pub fn verify_parallel<'a, R>(
    org_id: &str,
    records: &'a [(&'a [u8], Digest)],
    checkpoint: Option<&VerifiedCheckpoint>,
    now: Timestamp,
    parts: usize,
    run: R,
) -> Verification
where
    R: FnOnce(Vec<Chunk<'a>>) -> Vec<ChunkOutcome>,
{
    let parts = parts.clamp(1, 256);
    let size = records.len().div_ceil(parts).max(1);
    let chunks: Vec<Chunk<'a>> = records
        .chunks(size)
        .enumerate()
        .map(|(index, part)| {
            let base = index * size;
            Chunk {
                index,
                first_row: base as u64 + 1,
                prev: base
                    .checked_sub(1)
                    .and_then(|p| records.get(p))
                    .map_or(Digest::ZERO, |r| r.1),
                records: part,
            }
        })
        .collect();
    let firsts: Vec<u64> = chunks.iter().map(|c| c.first_row).collect();
    let mut done = vec![false; chunks.len()];
    let mut failures: Vec<VerifyFailure> = Vec::new();
    for out in run(chunks) {
        if let Some(d) = done.get_mut(out.index) {
            *d = true;
        }
        failures.extend(out.failure);
    }
    for (i, d) in done.iter().enumerate() {
        if !d {
            failures.push(VerifyFailure {
                row: firsts.get(i).copied().unwrap_or(1),
                code: FailureCode::Undecodable,
                message: "this chunk was not verified (its runner failed)".into(),
            });
        }
    }
    // Chunks hold disjoint rows: the first failure is the one at the lowest row.
    let failure = failures.into_iter().min_by_key(|f| f.row);
    finish(org_id, records, checkpoint, now, failure)
}

/// Checkpoint checks, in the order the sequential verifier meets them: a
/// mismatch at the checkpoint's row comes before any later failure.
fn finish(
    org_id: &str,
    records: &[(&[u8], Digest)],
    checkpoint: Option<&VerifiedCheckpoint>,
    now: Timestamp,
    mut failure: Option<VerifyFailure>,
) -> Verification {
    if let Some(cp) = checkpoint.map(VerifiedCheckpoint::checkpoint) {
        let before_failure = failure.as_ref().is_none_or(|f| f.row > cp.size);
        let head_at_cp = cp
            .size
            .checked_sub(1)
            .and_then(|i| records.get(i as usize))
            .map(|r| r.1);
        if cp.org_id != org_id {
            // As the sequential verifier: refused before any row is read.
            failure = Some(VerifyFailure {
                row: 1,
                code: FailureCode::CheckpointMismatch,
                message: format!("checkpoint is for org `{}`, not `{org_id}`", cp.org_id),
            });
        } else if before_failure && cp.size >= 1 && head_at_cp.is_some_and(|h| h != cp.head_hash) {
            failure = Some(VerifyFailure {
                row: cp.size,
                code: FailureCode::CheckpointMismatch,
                message: format!(
                    "the log disagrees with the checkpoint at row {}: history before it was rewritten",
                    cp.size
                ),
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
            timestamp: now,
            first_broken_at_row_id: failure.as_ref().and_then(|f| EntryId::from_row(f.row)),
        },
        failure,
        entries_read: records.len() as u64,
        root: None,
    }
}
