//! The append-only log of one org: appending (from a map or a typed
//! record), storage, lookups and rebuilding. Queries are in [`index`],
//! outcome reports in [`outcome`].

mod index;
mod outcome;
mod strmap;

use al_types::{Digest, EntryId, Timestamp};
use serde::Serialize;

pub use index::{DEFAULT_LIMIT, MAX_LIMIT, Page, Query};
pub use outcome::OutcomeReport;

use crate::checkpoint::{Checkpoint, VerifiedCheckpoint};
use crate::chunked::{Arena, Chunked};
use crate::encoding::canonical::{self, Scratch};
use crate::encoding::{decode, header, peek_prev_hash};
use crate::entry::{Entry, FieldRef, Kind, MAX_ENTRY_BYTES, NewEntry, check_kind, validate_fields};
use crate::error::{EntryProblem, Error};
use crate::merkle::MerkleTree;
use crate::proof::{ConsistencyProof, InclusionProof};
use index::Index;

const LOC_CHUNK: usize = 1 << 16;

/// Options for a log. [`LogConfig::default`] is what [`AuditLog::new`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Keep query indexes (by agent, kind, action type, status, time,
    /// `(agent_id, event_id)` and current outcomes). Default `true`.
    /// Without them a log holds only the canonical bytes, leaf hashes and
    /// upper Merkle levels; lookups by id still work, [`AuditLog::query`]
    /// answers [`Error::NoIndex`] and replay/outcome lookups answer `None`.
    ///
    /// The indexes keyed by agent- and user-chosen strings are ordered
    /// maps of hash buckets, whose colliding keys fall back to ordered
    /// maps (B-trees): no hash seed is needed, an agent cannot pick keys
    /// that make lookups slow (hash flooding), and nothing depends on the
    /// iteration order of a hash table.
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
    pub prev_hash: Digest,
    /// This entry's hash.
    pub hash: Digest,
    /// Canonical bytes.
    pub bytes: &'a [u8],
}

/// One org's audit log: append-only, hash-linked, with a Merkle tree.
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
    head: Digest,
    canonical: Scratch,
    members: Vec<(usize, usize, usize)>,
    index: Option<Index>,
}

/// A top-level field the kind rules and the indexes read, as offsets
/// into the bytes being encoded (so it outlives later writes to them).
#[derive(Clone, Copy)]
enum Found {
    /// A string value: `start..end` holds its UTF-8 bytes.
    Str(usize, usize),
    /// Any other value.
    Other,
}

/// The top-level fields the kind rules and the indexes read, found in one
/// pass over the members of a fields object just encoded
/// (`(key start, key length, value end)`, the value right after the key).
#[derive(Clone, Copy, Default)]
struct Top {
    action_type: Option<Found>,
    status: Option<Found>,
    event_id: Option<Found>,
    audit_event_id: Option<Found>,
    /// A reserved key used as a field: `start..end` of its bytes.
    reserved: Option<(usize, usize)>,
}

impl Top {
    fn scan(bytes: &[u8], members: &[(usize, usize, usize)]) -> Top {
        let mut t = Top::default();
        for &(k, len, end) in members {
            let key = bytes.get(k..k + len).unwrap_or(&[]);
            let slot = match key {
                b"action_type" => &mut t.action_type,
                b"status" => &mut t.status,
                b"event_id" => &mut t.event_id,
                b"audit_event_id" => &mut t.audit_event_id,
                // RESERVED_KEYS, spelled out so the match compiles to a length switch.
                b"row" | b"id" | b"kind" | b"agent_id" | b"timestamp" | b"prev_hash" | b"hash" => {
                    t.reserved = Some((k, k + len));
                    continue;
                }
                _ => continue,
            };
            // A string value is 0x06, a u32 length, then exactly that many
            // bytes, which are UTF-8: the encoder wrote them from a `str`.
            let v = k + len;
            *slot = Some(match bytes.get(v) {
                Some(0x06) if v + 5 <= end => Found::Str(v + 5, end),
                _ => Found::Other,
            });
        }
        t
    }

    /// The field `key` of the fields whose bytes are in `bytes`.
    fn get<'a>(&self, bytes: &'a [u8], key: &str) -> Option<FieldRef<'a>> {
        let found = match key {
            "action_type" => self.action_type,
            "status" => self.status,
            "event_id" => self.event_id,
            "audit_event_id" => self.audit_event_id,
            _ => None,
        }?;
        Some(match found {
            Found::Str(a, b) => FieldRef::Str(bytes.get(a..b).unwrap_or(&[])),
            Found::Other => FieldRef::Other,
        })
    }
}

impl AuditLog {
    /// An empty log for `org_id`, with the default [`LogConfig`] (indexes on).
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
            head: Digest::ZERO,
            canonical: Scratch::default(),
            members: Vec::new(),
            index: config.index.then(Index::default),
        }
    }

    /// The org.
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
    pub fn head_hash(&self) -> Digest {
        self.head
    }

    /// The Merkle tree.
    #[must_use]
    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    /// Append an entry whose fields are a JSON map. The caller supplies the
    /// time inside `entry`.
    ///
    /// # Errors
    /// [`Error::Entry`] for an entry that breaks a rule
    /// ([`validate_fields`], the size limit); the log is unchanged.
    pub fn append(&mut self, entry: &NewEntry) -> Result<Sealed<'_>, Error> {
        // One encoder for both paths: a map is a record too.
        self.append_record(
            entry.kind,
            entry.agent_id.as_deref(),
            entry.timestamp,
            &entry.fields,
        )
    }

    /// Append a typed record: `record` must serialise to a JSON object (a
    /// struct or a map), whose members are the entry's fields. It is
    /// encoded straight into canonical bytes, with no intermediate
    /// `serde_json::Value`; the bytes are identical to appending
    /// `serde_json::to_value(record)` with [`AuditLog::append`] (see
    /// `docs/audit-encoding.md`, "Typed records", for the three inputs the
    /// typed path refuses where `to_value` would silently choose).
    ///
    /// # Errors
    /// [`Error::Entry`] as [`AuditLog::append`], or
    /// [`crate::EntryProblem::Record`] when the record is not an object or
    /// cannot be encoded; the log is unchanged.
    pub fn append_record<T: Serialize + ?Sized>(
        &mut self,
        kind: Kind,
        agent_id: Option<&str>,
        timestamp: Timestamp,
        record: &T,
    ) -> Result<Sealed<'_>, Error> {
        let row = self.len() + 1;
        // Encode straight into the arena: no copy of the bytes afterwards.
        let mut members = std::mem::take(&mut self.members);
        let (buf, chunk, start) = self.arena.open();
        header(buf, row, kind, agent_id, timestamp);
        let mut top = Top::default();
        let res = canonical::encode_fields(buf, &mut self.canonical, record, &mut members)
            .map_err(|e| Error::entry(e.0))
            .and_then(|()| {
                top = Top::scan(buf, &members);
                if let Some((a, b)) = top.reserved {
                    let k = String::from_utf8_lossy(buf.get(a..b).unwrap_or(&[])).into_owned();
                    return Err(Error::entry(EntryProblem::ReservedKey(k)));
                }
                check_kind(kind, |k| top.get(buf, k))
            })
            .and_then(|()| {
                buf.extend_from_slice(self.head.as_bytes());
                let size = buf.len() - start;
                if size > MAX_ENTRY_BYTES {
                    return Err(Error::entry(EntryProblem::TooLarge {
                        size,
                        limit: MAX_ENTRY_BYTES,
                    }));
                }
                Ok(())
            });
        if let Err(e) = res {
            // Nothing of a refused entry stays.
            buf.truncate(start);
            self.arena.close();
            self.members = members;
            return Err(e);
        }
        let whole: &[u8] = buf;
        if let Some(ix) = &mut self.index {
            ix.add(row, kind, agent_id, timestamp, |k| top.get(whole, k));
        }
        let hash = Digest::of(whole.get(start..).unwrap_or(&[]));
        self.arena.close();
        self.locs
            .push((chunk, u32::try_from(start).unwrap_or(u32::MAX)));
        self.tree.push(&hash);
        let prev_hash = std::mem::replace(&mut self.head, hash);
        self.members = members;
        Ok(Sealed {
            row,
            // INVARIANT: `row` is `len + 1` of a log that is not full.
            id: EntryId::from_row(row).unwrap_or(EntryId::FIRST),
            prev_hash,
            hash,
            // The chunk written (`close` may have trimmed it, not moved it).
            bytes: self
                .arena
                .chunk(chunk)
                .and_then(|c| c.get(start..))
                .unwrap_or(&[]),
        })
    }

    /// Check the size, index and store encoded bytes of `row`.
    fn seal(
        &mut self,
        row: u64,
        bytes: &[u8],
        index: impl FnOnce(&mut Index),
    ) -> Result<(), Error> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(Error::entry(EntryProblem::TooLarge {
                size: bytes.len(),
                limit: MAX_ENTRY_BYTES,
            }));
        }
        debug_assert_eq!(row, self.len() + 1);
        if let Some(ix) = &mut self.index {
            index(ix);
        }
        self.store(bytes);
        Ok(())
    }

    fn store(&mut self, bytes: &[u8]) {
        let hash = Digest::of(bytes);
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
            // INVARIANT: rows handed out are 1..=len.
            id: EntryId::from_row(row).unwrap_or(EntryId::FIRST),
            prev_hash: peek_prev_hash(bytes).unwrap_or(Digest::ZERO),
            hash: self.hash(row).unwrap_or(Digest::ZERO),
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
    pub fn hash(&self, row: u64) -> Option<Digest> {
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
    pub fn entry_by_id(&self, id: EntryId) -> Option<Entry> {
        self.entry(id.row())
    }

    /// Every sealed record, oldest first.
    pub fn records(&self) -> impl Iterator<Item = Sealed<'_>> + '_ {
        (1..=self.len()).map(|r| self.sealed(r))
    }

    /// A checkpoint of the current state, taken at the caller's time.
    #[must_use]
    pub fn checkpoint(&self, now: Timestamp) -> VerifiedCheckpoint {
        VerifiedCheckpoint::trust(Checkpoint {
            org_id: self.org_id.clone(),
            size: self.len(),
            root: self.tree.root(),
            head_hash: self.head,
            timestamp: now,
        })
    }

    /// The proof that the entry `id` is in the log at its current size,
    /// with the checkpoint it refers to (taken at `now`).
    ///
    /// # Errors
    /// [`Error::NoSuchEntry`] when the log has no such row.
    pub fn prove_inclusion(&self, id: EntryId, now: Timestamp) -> Result<InclusionProof, Error> {
        InclusionProof::build(self, id, self.checkpoint(now).checkpoint().clone())
    }

    /// The proof that the log at its current size extends its first `first`
    /// entries, with the checkpoint it refers to (taken at `now`).
    ///
    /// # Errors
    /// [`Error::NoSuchEntry`] unless `1 <= first <= len`.
    pub fn prove_consistency(&self, first: u64, now: Timestamp) -> Result<ConsistencyProof, Error> {
        ConsistencyProof::build(self, first, self.checkpoint(now).checkpoint().clone())
    }

    /// Rebuild a log from persisted canonical bytes, oldest first. Every
    /// entry is decoded, checked against its kind's rules and chained: the
    /// first bad one is reported with its row, and no log is returned.
    ///
    /// # Errors
    /// [`Error::Chain`] naming the row.
    pub fn rebuild<'b>(
        org_id: impl Into<String>,
        config: LogConfig,
        records: impl IntoIterator<Item = &'b [u8]>,
    ) -> Result<AuditLog, Error> {
        let mut log = AuditLog::with_config(org_id, config);
        for bytes in records {
            log.push_verified(bytes)?;
        }
        Ok(log)
    }

    /// Append already-encoded bytes after checking they are the next entry.
    pub(crate) fn push_verified(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let row = self.len() + 1;
        let chain = |reason: String| Error::Chain { row, reason };
        let e = decode(bytes).map_err(|e| chain(e.to_string()))?;
        if e.row() != row {
            return Err(chain(format!("entry claims row {}", e.row())));
        }
        if e.prev_hash != self.head {
            return Err(chain(
                "prev_hash does not match the previous entry's hash".into(),
            ));
        }
        validate_fields(e.kind, &e.fields).map_err(|x| chain(x.to_string()))?;
        self.seal(row, bytes, |ix| {
            ix.add(row, e.kind, e.agent_id.as_deref(), e.timestamp, |k| {
                e.fields.get(k).map(FieldRef::of)
            });
        })
    }

    /// Heap bytes held by the log (capacity, not length), for the memory figure.
    #[must_use]
    pub fn resident_bytes(&self) -> usize {
        self.arena.resident_bytes()
            + self.locs.resident_bytes()
            + self.tree.resident_bytes()
            + self.canonical.resident_bytes()
            + self.members.capacity() * std::mem::size_of::<(usize, usize, usize)>()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::RESERVED_KEYS;

    /// What `append_record` returns is what `get` answers afterwards, for
    /// entries that fill arena chunks and one that outgrows a chunk.
    #[test]
    fn sealed_on_append_is_the_stored_record() {
        let mut log = AuditLog::new("acme");
        let big = "y".repeat(crate::chunked::ENCODE_RESERVE * 2);
        for i in 0..3000u64 {
            let payload = if i == 1500 { big.as_str() } else { "x" };
            let rec = serde_json::json!({"action_type": "a", "status": "executed", "p": payload});
            let agent = format!("agt_{}", i % 7);
            let s = log
                .append_record(Kind::Action, Some(&agent), Timestamp::UNIX_EPOCH, &rec)
                .unwrap();
            let owned = (s.row, s.id, s.prev_hash, s.hash, s.bytes.to_vec());
            let got = log.get(owned.0).unwrap();
            assert_eq!(
                owned,
                (got.row, got.id, got.prev_hash, got.hash, got.bytes.to_vec())
            );
            assert_eq!(owned.3, Digest::of(&owned.4));
        }
    }

    /// The spelled-out match in `Top::scan` is exactly `RESERVED_KEYS`.
    #[test]
    fn scan_knows_every_reserved_key() {
        for k in RESERVED_KEYS {
            let mut m = serde_json::Map::new();
            m.insert(k.to_owned(), serde_json::Value::Null);
            let mut log = AuditLog::new("acme");
            let e = log
                .append_record(Kind::Key, None, Timestamp::UNIX_EPOCH, &m)
                .unwrap_err();
            assert_eq!(e, Error::entry(EntryProblem::ReservedKey(k.to_owned())));
        }
        let mut m = serde_json::Map::new();
        m.insert("rows".to_owned(), serde_json::Value::Null);
        assert!(
            AuditLog::new("acme")
                .append_record(Kind::Key, None, Timestamp::UNIX_EPOCH, &m)
                .is_ok()
        );
    }
}
