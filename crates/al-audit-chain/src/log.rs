//! The append-only log of one workspace.

use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use crate::checkpoint::{Checkpoint, VerifiedCheckpoint};
use crate::chunked::{Arena, Chunked};
use crate::encoding::{
    EncodingError, Entry, EntryId, Hash, Kind, MAX_ENTRY_BYTES, NewEntry, decode, encode_parts,
    peek_prev_hash, validate_fields,
};
use crate::merkle::MerkleTree;

const LOC_CHUNK: usize = 1 << 16;

/// Options for a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Keep query indexes (by agent, kind, action type, status, time,
    /// `(agent_id, event_id)` and current outcomes). Without them a log
    /// holds only the canonical bytes, leaf hashes and upper Merkle levels;
    /// lookups by id still work, queries and replay lookups do not.
    pub index: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { index: true }
    }
}

/// What a host must persist after an append: the row, id, hashes and the
/// canonical bytes (the bytes alone are enough to rebuild the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Sealed<'a> {
    /// 1-based row.
    pub row: u64,
    /// `evt_…` id.
    pub id: EntryId,
    /// Previous entry's hash.
    pub prev_hash: Hash,
    /// This entry's hash.
    pub hash: Hash,
    /// Canonical bytes.
    pub bytes: &'a [u8],
}

/// An append or rebuild was refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The entry is malformed.
    #[error("invalid entry: {0}")]
    Invalid(#[from] EncodingError),
    /// Rebuilding: the bytes at this position are not the expected next entry.
    #[error("row {row}: {message}")]
    Chain {
        /// Row (position) where the chain breaks.
        row: u64,
        /// What is wrong.
        message: String,
    },
}

impl AppendError {
    /// Stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            AppendError::Invalid(e) => e.code(),
            AppendError::Chain { .. } => "CHAIN_BROKEN",
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Index {
    by_agent: FxHashMap<String, Vec<u64>>,
    by_kind: FxHashMap<Kind, Vec<u64>>,
    by_action_type: FxHashMap<String, Vec<u64>>,
    by_status: FxHashMap<String, Vec<u64>>,
    timestamps: Chunked<i64, LOC_CHUNK>,
    event_ids: FxHashMap<(String, String), u64>,
    outcomes: FxHashMap<u64, u64>,
}

/// Append `row` to `key`'s posting list; allocates a key only the first time.
fn post(map: &mut FxHashMap<String, Vec<u64>>, key: &str, row: u64) {
    match map.get_mut(key) {
        Some(rows) => rows.push(row),
        None => {
            map.insert(key.to_owned(), vec![row]);
        }
    }
}

impl Index {
    fn add(&mut self, row: u64, e: &NewEntry) {
        if let Some(a) = &e.agent_id {
            post(&mut self.by_agent, a, row);
        }
        self.by_kind.entry(e.kind).or_default().push(row);
        self.timestamps.push(e.timestamp_ms);
        let s = |k: &str| e.fields.get(k).and_then(Value::as_str);
        if let Some(at) = s("action_type") {
            post(&mut self.by_action_type, at, row);
        }
        if let Some(st) = s("status") {
            post(&mut self.by_status, st, row);
        }
        if e.kind == Kind::Action
            && let (Some(a), Some(ev)) = (&e.agent_id, s("event_id"))
        {
            self.event_ids
                .entry((a.clone(), ev.to_owned()))
                .or_insert(row);
        }
        if e.kind == Kind::Outcome
            && let Some(target) = s("audit_event_id").and_then(EntryId::parse)
        {
            self.outcomes.insert(target.0, row);
        }
    }
}

/// One workspace's audit log: append-only, hash-linked, with a Merkle tree.
///
/// The log writes nowhere: `append` returns the [`Sealed`] entry the host
/// persists, and [`AuditLog::rebuild`] restores a log from those bytes,
/// verifying as it goes.
#[derive(Clone, Debug)]
pub struct AuditLog {
    org_id: String,
    arena: Arena,
    locs: Chunked<(u32, u32), LOC_CHUNK>,
    tree: MerkleTree,
    head: Hash,
    scratch: Vec<u8>,
    index: Option<Index>,
}

/// Query filters (`GET /audit`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Only actions of this type.
    pub action_type: Option<String>,
    /// Only entries about this agent.
    pub agent_id: Option<String>,
    /// Only entries with this `status` field.
    pub status: Option<String>,
    /// Only entries of this kind.
    pub kind: Option<Kind>,
    /// Only entries at or after this time (ms).
    pub since_ms: Option<i64>,
    /// Only entries before this time (ms).
    pub until_ms: Option<i64>,
    /// Page size: default 50, at most 200 (larger values are clamped); 0 is an error.
    pub limit: Option<usize>,
    /// Continue after a previous page.
    pub cursor: Option<String>,
}

/// Default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size.
pub const MAX_LIMIT: usize = 200;

/// One page of results, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// Matching entries, newest first.
    pub entries: Vec<Entry>,
    /// Pass back to get the next page; `None` when there is no more.
    pub next_cursor: Option<String>,
}

/// A query was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The cursor was not produced by this log.
    #[error("invalid cursor `{0}`")]
    InvalidCursor(String),
    /// `limit` was 0.
    #[error("`limit` must be between 1 and {MAX_LIMIT}")]
    InvalidLimit,
    /// The log was created without indexes.
    #[error("this log keeps no query index")]
    NoIndex,
}

impl QueryError {
    /// Stable code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            QueryError::InvalidCursor(_) => "INVALID_CURSOR",
            QueryError::InvalidLimit => "INVALID_REQUEST",
            QueryError::NoIndex => "NOT_SUPPORTED",
        }
    }
}

/// An outcome report (`POST /report`).
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeReport {
    /// `success`, `failure` or `partial`.
    pub status: String,
    /// Free text.
    pub message: Option<String>,
    /// Free-form details.
    pub metadata: Option<Value>,
}

/// An outcome report was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutcomeError {
    /// No action entry has that id (`404 NOT_FOUND`).
    #[error("no action event `{0}`")]
    NotFound(String),
    /// The event belongs to another agent (`403 FORBIDDEN`).
    #[error("event `{0}` belongs to another agent")]
    Forbidden(String),
    /// The report is malformed (`400 INVALID_REQUEST`).
    #[error("invalid outcome: {0}")]
    Invalid(String),
}

impl OutcomeError {
    /// Stable code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            OutcomeError::NotFound(_) => "NOT_FOUND",
            OutcomeError::Forbidden(_) => "FORBIDDEN",
            OutcomeError::Invalid(_) => "INVALID_REQUEST",
        }
    }
}

impl AuditLog {
    /// An empty log for `org_id`, with indexes.
    #[must_use]
    pub fn new(org_id: impl Into<String>) -> AuditLog {
        AuditLog::with_config(org_id, LogConfig::default())
    }

    /// An empty log with explicit options.
    #[must_use]
    pub fn with_config(org_id: impl Into<String>, config: LogConfig) -> AuditLog {
        AuditLog {
            org_id: org_id.into(),
            arena: Arena::default(),
            locs: Chunked::default(),
            tree: MerkleTree::new(),
            head: Hash::ZERO,
            scratch: Vec::with_capacity(1024),
            index: config.index.then(Index::default),
        }
    }

    /// The workspace.
    #[must_use]
    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.locs.len() as u64
    }

    /// No entries yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hash of the last entry (zero when empty).
    #[must_use]
    pub fn head_hash(&self) -> Hash {
        self.head
    }

    /// The Merkle tree.
    #[must_use]
    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    /// Append an entry. The caller supplies the time inside `entry`.
    ///
    /// # Errors
    /// [`AppendError::Invalid`] for a malformed entry; the log is unchanged.
    pub fn append(&mut self, entry: &NewEntry) -> Result<Sealed<'_>, AppendError> {
        validate_fields(entry.kind, &entry.fields)?;
        let row = self.len() + 1;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        encode_parts(
            &mut scratch,
            row,
            entry.kind,
            entry.agent_id.as_deref(),
            entry.timestamp_ms,
            &entry.fields,
            &self.head,
        );
        if scratch.len() > MAX_ENTRY_BYTES {
            self.scratch = scratch;
            return Err(EncodingError::TooLarge.into());
        }
        if let Some(ix) = &mut self.index {
            ix.add(row, entry);
        }
        self.store(&scratch);
        self.scratch = scratch;
        Ok(self.sealed(row))
    }

    fn store(&mut self, bytes: &[u8]) {
        let hash = Hash::of(bytes);
        let (buf, chunk, start) = self.arena.writer(bytes.len());
        buf.extend_from_slice(bytes);
        self.locs.push((chunk, start));
        self.tree.push(&hash);
        self.head = hash;
    }

    fn sealed(&self, row: u64) -> Sealed<'_> {
        let bytes = self.bytes(row).unwrap_or(&[]);
        Sealed {
            row,
            id: EntryId(row),
            prev_hash: peek_prev_hash(bytes).unwrap_or(Hash::ZERO),
            hash: self.hash(row).unwrap_or(Hash::ZERO),
            bytes,
        }
    }

    /// Canonical bytes of `row`.
    #[must_use]
    pub fn bytes(&self, row: u64) -> Option<&[u8]> {
        let i = usize::try_from(row.checked_sub(1)?).ok()?;
        let (chunk, start) = self.locs.get(i)?;
        let data = self.arena.chunk(chunk)?;
        let end = match self.locs.get(i + 1) {
            Some((c, s)) if c == chunk => s as usize,
            _ => data.len(),
        };
        data.get(start as usize..end)
    }

    /// Hash of `row`: the next entry's `prev_hash`, or the head.
    #[must_use]
    pub fn hash(&self, row: u64) -> Option<Hash> {
        if row == 0 || row > self.len() {
            return None;
        }
        if row == self.len() {
            return Some(self.head);
        }
        self.bytes(row + 1).and_then(peek_prev_hash)
    }

    /// The sealed record of `row`.
    #[must_use]
    pub fn get(&self, row: u64) -> Option<Sealed<'_>> {
        (row >= 1 && row <= self.len()).then(|| self.sealed(row))
    }

    /// Decode `row`.
    #[must_use]
    pub fn entry(&self, row: u64) -> Option<Entry> {
        self.bytes(row).and_then(|b| decode(b).ok())
    }

    /// Decode the entry with this id.
    #[must_use]
    pub fn entry_by_id(&self, id: &str) -> Option<Entry> {
        EntryId::parse(id).and_then(|i| self.entry(i.0))
    }

    /// Every sealed record, oldest first.
    pub fn records(&self) -> impl Iterator<Item = Sealed<'_>> + '_ {
        (1..=self.len()).map(|r| self.sealed(r))
    }

    /// A checkpoint of the current state, taken at the caller's time.
    #[must_use]
    pub fn checkpoint(&self, now_ms: i64) -> VerifiedCheckpoint {
        VerifiedCheckpoint::trust(Checkpoint {
            org_id: self.org_id.clone(),
            size: self.len(),
            root: self.tree.root(),
            head_hash: self.head,
            timestamp_ms: now_ms,
        })
    }

    /// Rebuild a log from persisted canonical bytes, oldest first. Every
    /// entry is decoded and chained: the first bad one is reported with its
    /// row, and no log is returned.
    ///
    /// # Errors
    /// [`AppendError::Chain`] naming the row.
    pub fn rebuild<'b>(
        org_id: impl Into<String>,
        config: LogConfig,
        records: impl IntoIterator<Item = &'b [u8]>,
    ) -> Result<AuditLog, AppendError> {
        let mut log = AuditLog::with_config(org_id, config);
        for bytes in records {
            log.push_verified(bytes)?;
        }
        Ok(log)
    }

    /// Append already-encoded bytes after checking they are the next entry.
    pub(crate) fn push_verified(&mut self, bytes: &[u8]) -> Result<(), AppendError> {
        let row = self.len() + 1;
        let chain = |message: String| AppendError::Chain { row, message };
        let e = decode(bytes).map_err(|e| chain(format!("undecodable: {e}")))?;
        if e.row != row {
            return Err(chain(format!("entry claims row {}", e.row)));
        }
        if e.prev_hash != self.head {
            return Err(chain(
                "prev_hash does not match the previous entry's hash".into(),
            ));
        }
        validate_fields(e.kind, &e.fields).map_err(|x| chain(x.to_string()))?;
        if let Some(ix) = &mut self.index {
            ix.add(
                row,
                &NewEntry {
                    kind: e.kind,
                    agent_id: e.agent_id,
                    timestamp_ms: e.timestamp_ms,
                    fields: e.fields,
                },
            );
        }
        self.store(bytes);
        Ok(())
    }

    /// The action entry for `(agent_id, event_id)`, for replay protection.
    #[must_use]
    pub fn find_event(&self, agent_id: &str, event_id: &str) -> Option<u64> {
        self.index
            .as_ref()?
            .event_ids
            .get(&(agent_id.to_owned(), event_id.to_owned()))
            .copied()
    }

    /// The current (last written) outcome of an action, as its entry.
    #[must_use]
    pub fn current_outcome(&self, audit_event_id: &str) -> Option<Entry> {
        let row = EntryId::parse(audit_event_id)?.0;
        let out = *self.index.as_ref()?.outcomes.get(&row)?;
        self.entry(out)
    }

    /// Record an outcome for an action event. Only the agent that owns the
    /// event may report. The current outcome is last-write-wins, and every
    /// report is its own chained entry, so an overwritten outcome is never lost.
    ///
    /// # Errors
    /// [`OutcomeError`]; nothing is appended.
    pub fn report_outcome(
        &mut self,
        agent_id: &str,
        audit_event_id: &str,
        report: &OutcomeReport,
        now_ms: i64,
    ) -> Result<Sealed<'_>, OutcomeError> {
        let target = self
            .entry_by_id(audit_event_id)
            .filter(|e| e.kind == Kind::Action)
            .ok_or_else(|| OutcomeError::NotFound(audit_event_id.to_owned()))?;
        if target.agent_id.as_deref() != Some(agent_id) {
            return Err(OutcomeError::Forbidden(audit_event_id.to_owned()));
        }
        let mut fields = Map::new();
        fields.insert("audit_event_id".into(), Value::from(audit_event_id));
        fields.insert("status".into(), Value::from(report.status.as_str()));
        if let Some(m) = &report.message {
            fields.insert("message".into(), Value::from(m.as_str()));
        }
        if let Some(m) = &report.metadata {
            fields.insert("metadata".into(), m.clone());
        }
        let e = NewEntry {
            kind: Kind::Outcome,
            agent_id: Some(agent_id.to_owned()),
            timestamp_ms: now_ms,
            fields,
        };
        self.append(&e)
            .map_err(|x| OutcomeError::Invalid(x.to_string()))
    }

    fn cursor_for(&self, row: u64) -> String {
        let mut h = Vec::with_capacity(64);
        h.extend_from_slice(b"agentlattice.cursor.v1\0");
        h.extend_from_slice(self.org_id.as_bytes());
        h.extend_from_slice(&row.to_be_bytes());
        let tag = Hash::of(&h);
        format!("c1_{row:x}_{}", hex::encode(tag.0.get(..6).unwrap_or(&[])))
    }

    fn parse_cursor(&self, c: &str) -> Option<u64> {
        let rest = c.strip_prefix("c1_")?;
        let (row, _) = rest.split_once('_')?;
        let row = u64::from_str_radix(row, 16).ok()?;
        (row >= 1 && row <= self.len() && self.cursor_for(row) == c).then_some(row)
    }

    /// Query, newest first. Cursors name the last row returned, so they stay
    /// correct while entries are appended.
    ///
    /// # Errors
    /// [`QueryError`].
    pub fn query(&self, q: &Query) -> Result<Page, QueryError> {
        let ix = self.index.as_ref().ok_or(QueryError::NoIndex)?;
        let limit = match q.limit {
            Some(0) => return Err(QueryError::InvalidLimit),
            Some(n) => n.min(MAX_LIMIT),
            None => DEFAULT_LIMIT,
        };
        let before = match &q.cursor {
            None => self.len() + 1,
            Some(c) => self
                .parse_cursor(c)
                .ok_or_else(|| QueryError::InvalidCursor(c.clone()))?,
        };
        // Scan the shortest posting list among the filters given.
        let empty: Vec<u64> = Vec::new();
        let mut lists: Vec<&Vec<u64>> = Vec::new();
        if let Some(a) = &q.agent_id {
            lists.push(ix.by_agent.get(a).unwrap_or(&empty));
        }
        if let Some(k) = &q.kind {
            lists.push(ix.by_kind.get(k).unwrap_or(&empty));
        }
        if let Some(a) = &q.action_type {
            lists.push(ix.by_action_type.get(a).unwrap_or(&empty));
        }
        if let Some(s) = &q.status {
            lists.push(ix.by_status.get(s).unwrap_or(&empty));
        }
        let shortest = lists.iter().min_by_key(|l| l.len()).copied();
        let candidates: Box<dyn Iterator<Item = u64>> = match shortest {
            Some(l) => {
                let end = l.partition_point(|&r| r < before);
                Box::new(l.get(..end).unwrap_or(&[]).iter().rev().copied())
            }
            None => Box::new((1..before).rev()),
        };
        let mut entries = Vec::new();
        let mut more = false;
        for row in candidates {
            let ts = ix.timestamps.get((row - 1) as usize).unwrap_or(0);
            if q.since_ms.is_some_and(|s| ts < s) || q.until_ms.is_some_and(|u| ts >= u) {
                continue;
            }
            let Some(e) = self.entry(row) else { continue };
            let ok = q
                .agent_id
                .as_ref()
                .is_none_or(|a| e.agent_id.as_ref() == Some(a))
                && q.kind.is_none_or(|k| e.kind == k)
                && q.action_type
                    .as_deref()
                    .is_none_or(|a| e.str_field("action_type") == Some(a))
                && q.status
                    .as_deref()
                    .is_none_or(|s| e.str_field("status") == Some(s));
            if !ok {
                continue;
            }
            if entries.len() == limit {
                more = true;
                break;
            }
            entries.push(e);
        }
        let next_cursor = if more {
            entries.last().map(|e| self.cursor_for(e.row))
        } else {
            None
        };
        Ok(Page {
            entries,
            next_cursor,
        })
    }

    /// Heap bytes held by the log (capacity, not length), for the memory figure.
    #[must_use]
    pub fn resident_bytes(&self) -> usize {
        self.arena.resident_bytes()
            + self.locs.resident_bytes()
            + self.tree.resident_bytes()
            + self.scratch.capacity()
    }

    /// Total canonical bytes stored.
    #[must_use]
    pub fn canonical_bytes(&self) -> usize {
        (1..=self.len())
            .filter_map(|r| self.bytes(r))
            .map(<[u8]>::len)
            .sum()
    }
}
