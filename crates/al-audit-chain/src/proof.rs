//! Inclusion and consistency proofs as values: built by the log,
//! serialised as the proof files `al prove` writes and `al proof verify`
//! reads (`docs/audit-encoding.md`, "Proof files"), and verified against a
//! checkpoint the verifier trusts, naming the check that failed.

use al_types::{Digest, EntryId};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, VerifiedCheckpoint};
use crate::error::{Error, ProofError};
use crate::log::AuditLog;
use crate::merkle;

/// Proof that one entry is in the log of a checkpoint (RFC 9162 §2.1.3).
///
/// JSON form: `{"type": "inclusion", "checkpoint": {…}, "row", "entry_id",
/// "entry_hash", "leaf_index", "leaf_hash", "path": [hex, …]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "inclusion", try_from = "InclusionWire")]
pub struct InclusionProof {
    /// The log state the proof refers to.
    pub checkpoint: Checkpoint,
    /// 1-based row of the entry.
    pub row: u64,
    /// The entry's id (`evt_` + the row); must agree with `row`.
    pub entry_id: EntryId,
    /// SHA-256 of the entry's canonical bytes.
    pub entry_hash: Digest,
    /// 0-based leaf index; must be `row - 1`.
    pub leaf_index: u64,
    /// `SHA-256(0x00 || entry_hash)`.
    pub leaf_hash: Digest,
    /// Audit path, leaf to root.
    pub path: Vec<Digest>,
}

/// The earlier tree of a consistency proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeHead {
    /// Number of entries.
    pub size: u64,
    /// Merkle root at that size.
    pub root: Digest,
}

/// Proof that the log of a checkpoint extends an earlier tree
/// (RFC 9162 §2.1.4).
///
/// JSON form: `{"type": "consistency", "first": {"size", "root"},
/// "checkpoint": {…}, "path": [hex, …]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "consistency", try_from = "ConsistencyWire")]
pub struct ConsistencyProof {
    /// The earlier tree.
    pub first: TreeHead,
    /// The later log state (the proof's second tree).
    pub checkpoint: Checkpoint,
    /// Consistency proof hashes.
    pub path: Vec<Digest>,
}

/// The `type` member of a proof file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ProofType {
    Inclusion,
    Consistency,
}

/// The wire form read, with `type` and no unknown member.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionWire {
    #[serde(rename = "type")]
    ty: ProofType,
    checkpoint: Checkpoint,
    row: u64,
    entry_id: EntryId,
    entry_hash: Digest,
    leaf_index: u64,
    leaf_hash: Digest,
    path: Vec<Digest>,
}

impl TryFrom<InclusionWire> for InclusionProof {
    type Error = &'static str;
    fn try_from(w: InclusionWire) -> Result<Self, &'static str> {
        if w.ty != ProofType::Inclusion {
            return Err("`type` must be `inclusion`");
        }
        Ok(InclusionProof {
            checkpoint: w.checkpoint,
            row: w.row,
            entry_id: w.entry_id,
            entry_hash: w.entry_hash,
            leaf_index: w.leaf_index,
            leaf_hash: w.leaf_hash,
            path: w.path,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyWire {
    #[serde(rename = "type")]
    ty: ProofType,
    first: TreeHead,
    checkpoint: Checkpoint,
    path: Vec<Digest>,
}

impl TryFrom<ConsistencyWire> for ConsistencyProof {
    type Error = &'static str;
    fn try_from(w: ConsistencyWire) -> Result<Self, &'static str> {
        if w.ty != ProofType::Consistency {
            return Err("`type` must be `consistency`");
        }
        Ok(ConsistencyProof {
            first: w.first,
            checkpoint: w.checkpoint,
            path: w.path,
        })
    }
}

/// Either proof, as read from a proof file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Proof {
    /// An inclusion proof.
    Inclusion(InclusionProof),
    /// A consistency proof.
    Consistency(ConsistencyProof),
}

/// The proof's checkpoint must be the trusted one: same org, size and root.
fn bind(proof_cp: &Checkpoint, trusted: &VerifiedCheckpoint) -> Result<(), ProofError> {
    let t = trusted.checkpoint();
    if proof_cp.org_id != t.org_id {
        return Err(ProofError::OrgMismatch {
            expected: t.org_id.clone(),
            found: proof_cp.org_id.clone(),
        });
    }
    if proof_cp.size != t.size || proof_cp.root != t.root {
        return Err(ProofError::CheckpointMismatch {
            proof_size: proof_cp.size,
            proof_root: proof_cp.root,
            size: t.size,
            root: t.root,
        });
    }
    Ok(())
}

impl InclusionProof {
    pub(crate) fn build(
        log: &AuditLog,
        id: EntryId,
        checkpoint: Checkpoint,
    ) -> Result<Self, Error> {
        let row = id.row();
        let missing = || Error::NoSuchEntry {
            id: id.to_string(),
            size: checkpoint.size,
        };
        let path = log
            .tree()
            .inclusion_proof(row - 1, checkpoint.size)
            .ok_or_else(missing)?;
        let entry_hash = log.hash(row).ok_or_else(missing)?;
        Ok(InclusionProof {
            row,
            entry_id: id,
            entry_hash,
            leaf_index: row - 1,
            leaf_hash: merkle::leaf_hash(&entry_hash),
            path,
            checkpoint,
        })
    }

    /// Check the proof against a checkpoint the verifier trusts. Checks, in
    /// order: `entry_id` names `row`; `leaf_index` is `row - 1`;
    /// `leaf_hash` is the leaf of `entry_hash`; the proof's checkpoint is
    /// for the trusted org and has the trusted size and root; then the
    /// RFC 9162 checks (size 0, index ≥ size, path length, root).
    ///
    /// # Errors
    /// The [`ProofError`] of the first check that fails.
    pub fn verify(&self, trusted: &VerifiedCheckpoint) -> Result<(), ProofError> {
        if EntryId::from_row(self.row) != Some(self.entry_id) {
            return Err(ProofError::EntryIdMismatch {
                entry_id: self.entry_id.to_string(),
                row: self.row,
            });
        }
        if self.leaf_index != self.row - 1 {
            return Err(ProofError::LeafMismatch("`leaf_index` must be `row - 1`"));
        }
        if self.leaf_hash != merkle::leaf_hash(&self.entry_hash) {
            return Err(ProofError::LeafMismatch(
                "`leaf_hash` is not SHA-256(0x00 || `entry_hash`)",
            ));
        }
        bind(&self.checkpoint, trusted)?;
        let t = trusted.checkpoint();
        merkle::verify_inclusion(
            self.leaf_index,
            t.size,
            &self.leaf_hash,
            &self.path,
            &t.root,
        )
    }
}

impl ConsistencyProof {
    pub(crate) fn build(log: &AuditLog, first: u64, checkpoint: Checkpoint) -> Result<Self, Error> {
        let missing = || Error::NoSuchEntry {
            id: format!("size {first}"),
            size: checkpoint.size,
        };
        let path = log
            .tree()
            .consistency_proof(first, checkpoint.size)
            .ok_or_else(missing)?;
        let root = log.tree().root_at(first).ok_or_else(missing)?;
        Ok(ConsistencyProof {
            first: TreeHead { size: first, root },
            checkpoint,
            path,
        })
    }

    /// Check that the trusted checkpoint's log extends `first`. The caller
    /// who also holds the earlier checkpoint should use
    /// [`ConsistencyProof::verify_between`], which ties `first` to it.
    ///
    /// # Errors
    /// The [`ProofError`] of the first check that fails (org, checkpoint,
    /// then RFC 9162 §2.1.4.2).
    pub fn verify(&self, trusted: &VerifiedCheckpoint) -> Result<(), ProofError> {
        bind(&self.checkpoint, trusted)?;
        let t = trusted.checkpoint();
        merkle::verify_consistency(
            self.first.size,
            t.size,
            &self.first.root,
            &t.root,
            &self.path,
        )
    }

    /// Check that the log of `later` extends the log of `earlier`, both
    /// trusted checkpoints of one org.
    ///
    /// # Errors
    /// As [`ConsistencyProof::verify`], and [`ProofError::CheckpointMismatch`]
    /// or [`ProofError::OrgMismatch`] when `first` is not `earlier`.
    pub fn verify_between(
        &self,
        earlier: &VerifiedCheckpoint,
        later: &VerifiedCheckpoint,
    ) -> Result<(), ProofError> {
        let e = earlier.checkpoint();
        if e.org_id != later.checkpoint().org_id {
            return Err(ProofError::OrgMismatch {
                expected: later.checkpoint().org_id.clone(),
                found: e.org_id.clone(),
            });
        }
        if e.size != self.first.size || e.root != self.first.root {
            return Err(ProofError::CheckpointMismatch {
                proof_size: self.first.size,
                proof_root: self.first.root,
                size: e.size,
                root: e.root,
            });
        }
        self.verify(later)
    }
}

impl Proof {
    /// Read a proof file: strict JSON (a repeated key, deeper than 8
    /// levels or larger than 1 MiB is refused), exactly the documented
    /// members, hashes as 64 lowercase hex digits, integers as in log
    /// lines (`-0` is the integer 0).
    ///
    /// # Errors
    /// [`Error::Json`] (with line and column) or [`Error::ProofFile`].
    pub fn from_json(text: &str) -> Result<Proof, Error> {
        let limits = al_types::json::Limits {
            max_depth: 8,
            max_bytes: 1 << 20,
        };
        // Integers read as in a log line; a text over the limit is left
        // whole for the JSON reader to refuse as too large.
        let text = if text.len() <= limits.max_bytes {
            crate::jsonl::integers(text).map_err(|e| Error::ProofFile {
                problem: e.to_string(),
            })?
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let v = al_types::json::parse(&text, &limits)?;
        let ty = v.get("type").and_then(serde_json::Value::as_str);
        let res = match ty {
            Some("inclusion") => InclusionProof::deserialize(&v).map(Proof::Inclusion),
            Some("consistency") => ConsistencyProof::deserialize(&v).map(Proof::Consistency),
            _ => {
                return Err(Error::ProofFile {
                    problem: "`type` must be `inclusion` or `consistency`".into(),
                });
            }
        };
        res.map_err(|e| Error::ProofFile {
            problem: e.to_string(),
        })
    }

    /// Check the proof against a trusted checkpoint.
    ///
    /// # Errors
    /// The [`ProofError`] of the first check that fails.
    pub fn verify(&self, trusted: &VerifiedCheckpoint) -> Result<(), ProofError> {
        match self {
            Proof::Inclusion(p) => p.verify(trusted),
            Proof::Consistency(p) => p.verify(trusted),
        }
    }

    /// The checkpoint the proof refers to (untrusted until checked).
    #[must_use]
    pub fn checkpoint(&self) -> &Checkpoint {
        match self {
            Proof::Inclusion(p) => &p.checkpoint,
            Proof::Consistency(p) => &p.checkpoint,
        }
    }

    /// `inclusion` or `consistency`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Proof::Inclusion(_) => "inclusion",
            Proof::Consistency(_) => "consistency",
        }
    }
}
