//! Durability: the chain is the write-ahead log.
//!
//! An org is rebuilt from its persisted entries by applying each record
//! with the same function the live operations use. A snapshot (the org's
//! serialised state at row N and that row's hash) lets a restore skip
//! decoding and applying rows 1..=N; the entries are still all loaded,
//! chained and hashed, because the audit log answers queries and proofs
//! over the whole history.

use al_audit_chain::{AuditLog, LogConfig};
use al_types::Digest;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{EngineError, RestoreCode, RestoreError};
use crate::records::Record;
use crate::state::{Meta, Org, OrgState, Who};

/// Format tag of a snapshot.
const SNAPSHOT_FORMAT: &str = "agentlattice.engine.snapshot.v1";

/// An org's state at a row, serialised (deterministic JSON: equal states
/// give equal bytes). A cache the host trusts: restoring from it checks
/// that the entries reach the snapshot's row with the snapshot's head hash,
/// and replays and verifies everything after.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    bytes: Vec<u8>,
    org_id: String,
    row: u64,
    head_hash: Digest,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("org_id", &self.org_id)
            .field("row", &self.row)
            .field("head_hash", &self.head_hash)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotDoc {
    format: String,
    org_id: String,
    row: u64,
    head_hash: Digest,
    state: OrgState,
    /// `(agent index, X-AL-Event-ID, action row)`, sorted.
    replay: Vec<(u32, String, u64)>,
}

impl Snapshot {
    /// The serialised form, to store.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Read a stored snapshot.
    ///
    /// # Errors
    /// [`RestoreCode::InvalidSnapshot`] if it does not parse.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Snapshot, RestoreError> {
        let doc = parse_doc(&bytes)?;
        Ok(Snapshot {
            org_id: doc.org_id,
            row: doc.row,
            head_hash: doc.head_hash,
            bytes,
        })
    }

    /// The org.
    #[must_use]
    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    /// The last row it covers.
    #[must_use]
    pub fn row(&self) -> u64 {
        self.row
    }

    /// That row's hash.
    #[must_use]
    pub fn head_hash(&self) -> Digest {
        self.head_hash
    }
}

fn parse_doc(bytes: &[u8]) -> Result<SnapshotDoc, RestoreError> {
    let doc: SnapshotDoc = serde_json::from_slice(bytes).map_err(|e| {
        RestoreError::new(
            0,
            RestoreCode::InvalidSnapshot,
            format!("unreadable snapshot: {e}"),
        )
    })?;
    if doc.format != SNAPSHOT_FORMAT {
        return Err(RestoreError::new(
            0,
            RestoreCode::InvalidSnapshot,
            format!(
                "unknown snapshot format `{}`",
                crate::error::cut(&doc.format)
            ),
        ));
    }
    Ok(doc)
}

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreReport {
    /// The org.
    pub org_id: String,
    /// Entries in its chain.
    pub rows: u64,
    /// Entries decoded and applied (all of them, or those after the snapshot).
    pub applied: u64,
    /// The head hash.
    pub head_hash: Digest,
}

impl Engine {
    /// Serialise an org's state (see [`Snapshot`]).
    ///
    /// # Errors
    /// `404 NOT_FOUND` for an unknown org.
    pub fn snapshot(&self, org_id: &str) -> Result<Snapshot, EngineError> {
        let org = self.org(self.org_index(org_id)?)?;
        let mut replay: Vec<(u32, String, u64)> = Vec::new();
        for (agent, m) in org.ix.replay.iter().enumerate() {
            let agent = u32::try_from(agent).unwrap_or(u32::MAX);
            replay.extend(m.iter().map(|(e, r)| (agent, e.to_string(), *r)));
        }
        replay.sort_unstable();
        let doc = SnapshotDoc {
            format: SNAPSHOT_FORMAT.to_owned(),
            org_id: org_id.to_owned(),
            row: org.log.len(),
            head_hash: org.log.head_hash(),
            state: org.st.clone(),
            replay,
        };
        let bytes = serde_json::to_vec(&doc)
            .map_err(|e| EngineError::Internal(format!("snapshot: {e}")))?;
        Ok(Snapshot {
            bytes,
            org_id: doc.org_id,
            row: doc.row,
            head_hash: doc.head_hash,
        })
    }

    /// Rebuild an org from its persisted entries (canonical bytes, oldest
    /// first, from row 1). Verifies the chain (rows, links, hashes,
    /// canonical encoding), decodes every record as its kind's layout, and
    /// applies each with the live operations' own function, checking that
    /// replaying the breaker reproduces every recorded transition. On any
    /// failure nothing is restored and the error names the row.
    ///
    /// # Errors
    /// [`RestoreError`]: `CHAIN_BROKEN`, `INVALID_RECORD`,
    /// `REPLAY_DIVERGED`, `ORG_EXISTS`.
    pub fn restore_org<'b>(
        &mut self,
        org_id: &str,
        entries: impl IntoIterator<Item = &'b [u8]>,
    ) -> Result<RestoreReport, RestoreError> {
        self.restore_inner(org_id, None, entries)
    }

    /// Rebuild an org from a snapshot and its entries (again all of them,
    /// from row 1): the entries are chained and hashed, the snapshot's row
    /// must carry the snapshot's head hash, and only the entries after it
    /// are decoded and applied. The result equals a full
    /// [`restore_org`](Engine::restore_org) (property-tested).
    ///
    /// # Errors
    /// As [`Engine::restore_org`], and `INVALID_SNAPSHOT`.
    pub fn restore_org_from_snapshot<'b>(
        &mut self,
        snapshot: &Snapshot,
        entries: impl IntoIterator<Item = &'b [u8]>,
    ) -> Result<RestoreReport, RestoreError> {
        let id = snapshot.org_id.clone();
        self.restore_inner(&id, Some(snapshot), entries)
    }

    fn restore_inner<'b>(
        &mut self,
        org_id: &str,
        snapshot: Option<&Snapshot>,
        entries: impl IntoIterator<Item = &'b [u8]>,
    ) -> Result<RestoreReport, RestoreError> {
        if self.org_by_id.contains_key(org_id) {
            return Err(RestoreError::new(
                0,
                RestoreCode::OrgExists,
                format!("org `{}` is already loaded", crate::error::cut(org_id)),
            ));
        }
        let log =
            AuditLog::rebuild(org_id, LogConfig { index: true }, entries).map_err(|e| match e {
                al_audit_chain::Error::Chain { row, reason } => {
                    RestoreError::new(row, RestoreCode::ChainBroken, reason)
                }
                other => RestoreError::new(0, RestoreCode::ChainBroken, other.to_string()),
            })?;
        let rows = log.len();
        if rows == 0 {
            return Err(RestoreError::new(
                1,
                RestoreCode::ChainBroken,
                "no entries: an org's chain starts with `org_created`",
            ));
        }
        let created = log
            .entry(1)
            .map(|e| e.timestamp)
            .ok_or_else(|| RestoreError::new(1, RestoreCode::InvalidRecord, "bad first entry"))?;
        let mut org = Org::new(org_id, created, &self.cfg)
            .map_err(|m| RestoreError::new(0, RestoreCode::InvalidRecord, m))?;
        org.log = log;
        let first = match snapshot {
            None => 1,
            Some(s) => {
                let doc = parse_doc(&s.bytes)?;
                let bad = |m: String| RestoreError::new(doc.row, RestoreCode::InvalidSnapshot, m);
                if doc.row == 0 || doc.row > rows {
                    return Err(bad(format!(
                        "the snapshot is at row {}, the entries end at row {rows}",
                        doc.row
                    )));
                }
                if org.log.hash(doc.row) != Some(doc.head_hash) {
                    return Err(bad(
                        "the entries do not carry the snapshot's head hash at its row".into(),
                    ));
                }
                org.st = doc.state;
                org.rebuild_derived(&self.cfg, &doc.replay).map_err(bad)?;
                doc.row + 1
            }
        };
        for row in first..=rows {
            let e = org
                .log
                .entry(row)
                .ok_or_else(|| RestoreError::new(row, RestoreCode::ChainBroken, "entry missing"))?;
            let at = e.timestamp;
            let rec = Record::decode(e.kind, e.fields)
                .map_err(|e| RestoreError::new(row, RestoreCode::InvalidRecord, e.to_string()))?;
            let meta = Meta {
                row,
                at,
                agent_id: e.agent_id.as_deref(),
            };
            org.apply(&self.cfg, &meta, &rec, None, None)
                .map_err(|d| RestoreError::new(row, RestoreCode::ReplayDiverged, d.0))?;
        }
        if !org.pending.is_empty() || org.expect_approval.is_some() {
            return Err(RestoreError::new(
                rows,
                RestoreCode::ReplayDiverged,
                "the chain ends in the middle of an operation (breaker or approval records missing)",
            ));
        }
        // Keys must be unique across the engine.
        org.key_changes.clear();
        if let Some(h) = org.ix.keys.keys().find(|h| self.keys.contains_key(h)) {
            return Err(RestoreError::new(
                0,
                RestoreCode::OrgExists,
                format!(
                    "key {} of this org is already used by another org",
                    crate::keys::fingerprint(h)
                ),
            ));
        }
        org.refresh_policies(&self.cfg);
        let keys: Vec<(Digest, Who)> = org.ix.keys.iter().map(|(h, w)| (*h, *w)).collect();
        let head_hash = org.log.head_hash();
        let idx = self.add_org(org);
        for (h, who) in keys {
            self.keys.insert(h, (idx, who));
        }
        self.settle(idx);
        Ok(RestoreReport {
            org_id: org_id.to_owned(),
            rows,
            applied: rows + 1 - first,
            head_hash,
        })
    }
}
