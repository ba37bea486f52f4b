#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod file;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod memory;
pub mod segment;
pub mod snapshot;

use std::path::PathBuf;

use al_types::ErrorCode;

pub use file::{FileStore, FileStoreConfig, SyncMode};
pub use memory::MemoryStore;
pub use snapshot::Snapshot;

/// A position in the store's write order: the number of records appended
/// since the store was opened, across all orgs. A record is durable once
/// [`Store::durable`] reaches the `Seq` its append returned.
pub type Seq = u64;

/// One sealed audit entry to persist: its row, canonical bytes and hash, as
/// the audit log (or the engine) returned them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The 1-based row.
    pub row: u64,
    /// The canonical bytes.
    pub entry: &'a [u8],
    /// SHA-256 of `entry`.
    pub hash: &'a [u8; 32],
}

/// Called by the store after each group of records became durable (with
/// the highest durable `Seq`), or once with the error that stopped it.
/// Called from the store's writer thread, in order; it must not block.
pub type DurableHook = Box<dyn Fn(Result<Seq, StoreError>) + Send + Sync>;

/// Durable storage for the sealed entries of any number of orgs, plus
/// snapshots of their state.
///
/// # Contract
/// - `append` queues records and returns at once; they become durable in
///   the order of the `append` calls (callers serialise appends of one org,
///   e.g. under the engine's lock, so the file order is the chain order).
/// - A record is durable — it survives a crash of the process or of the
///   machine — once [`durable`](Store::durable) reaches its `Seq`. Hosts
///   answer a request only after that.
/// - Many concurrent appends share one `fsync` (group commit).
/// - After any I/O error the store refuses further work: what is in memory
///   is ahead of what is on disk, and only a restart (recovery) is safe.
pub trait Store: Send + Sync {
    /// Create an empty org (durably) before its first append.
    ///
    /// # Errors
    /// [`StoreError::InvalidOrgId`], [`StoreError::OrgExists`], I/O.
    fn create_org(&self, org_id: &str) -> Result<(), StoreError>;

    /// Queue `records` (consecutive rows of one org, continuing its last
    /// row) for writing; returns the `Seq` of the last one.
    ///
    /// # Errors
    /// [`StoreError::UnknownOrg`], [`StoreError::OutOfOrder`], or the error
    /// that stopped the store.
    fn append(&self, org_id: &str, records: &[Record<'_>]) -> Result<Seq, StoreError>;

    /// The highest durable `Seq`, or the error that stopped the store.
    ///
    /// # Errors
    /// The error that stopped the store.
    fn durable(&self) -> Result<Seq, StoreError>;

    /// The highest `Seq` handed out so far.
    fn last_seq(&self) -> Seq;

    /// Block until `seq` is durable.
    ///
    /// # Errors
    /// The error that stopped the store.
    fn wait_durable(&self, seq: Seq) -> Result<(), StoreError>;

    /// Install the hook told about durability (replaces any earlier one).
    fn set_durable_hook(&self, hook: DurableHook);

    /// Save a snapshot of `org_id`'s state at `row` (whose entry hash is
    /// `head_hash`). Waits until everything appended so far is durable, so a
    /// snapshot never gets ahead of the segment. Blocking; older snapshots
    /// beyond the newest two are removed.
    ///
    /// # Errors
    /// [`StoreError::UnknownOrg`], a row not yet appended, I/O.
    fn save_snapshot(
        &self,
        org_id: &str,
        row: u64,
        head_hash: &[u8; 32],
        state: &[u8],
    ) -> Result<(), StoreError>;

    /// Write and `fsync` everything queued, then stop. Idempotent.
    ///
    /// # Errors
    /// The error that stopped the store, or I/O while flushing.
    fn close(&self) -> Result<(), StoreError>;
}

/// A torn tail cut off during recovery: the remains of a write that a crash
/// interrupted before it was acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The row the torn frame would have held.
    pub row: u64,
    /// Its byte offset in the segment (the new end of the file).
    pub offset: u64,
    /// How many bytes were cut.
    pub len: u64,
}

/// One org as found on disk at open: its entries, its usable snapshot, and
/// what recovery repaired or ignored.
#[derive(Clone, Debug)]
pub struct RecoveredOrg {
    /// The org.
    pub org_id: String,
    /// The segment file.
    pub segment_path: PathBuf,
    data: Vec<u8>,
    frames: Vec<segment::FrameRef>,
    /// The hash of the last row (zero when empty).
    pub head_hash: [u8; 32],
    /// The newest usable snapshot.
    pub snapshot: Option<Snapshot>,
    /// The torn tail cut off, if any.
    pub torn: Option<TornTail>,
    /// Snapshots that were not used, and why.
    pub ignored_snapshots: Vec<(PathBuf, String)>,
}

impl RecoveredOrg {
    pub(crate) fn new(
        org_id: String,
        segment_path: PathBuf,
        data: Vec<u8>,
        checked: segment::Checked,
    ) -> RecoveredOrg {
        RecoveredOrg {
            org_id,
            segment_path,
            data,
            frames: checked.frames,
            head_hash: checked.head_hash,
            snapshot: None,
            torn: None,
            ignored_snapshots: Vec::new(),
        }
    }

    /// The number of rows.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.frames.len() as u64
    }

    /// The record at `row` (1-based).
    #[must_use]
    pub fn record(&self, row: u64) -> Option<Record<'_>> {
        let i = usize::try_from(row.checked_sub(1)?).ok()?;
        let f = self.frames.get(i)?;
        let end = f.start + f.len as usize;
        Some(Record {
            row,
            entry: self.data.get(f.start..end)?,
            hash: self.data.get(end..end + 32)?.try_into().ok()?,
        })
    }

    /// The records from `first` (1-based) to the end.
    pub fn records_from(&self, first: u64) -> impl Iterator<Item = Record<'_>> + '_ {
        (first.max(1)..=self.rows()).filter_map(|r| self.record(r))
    }

    /// Every record, row 1 first.
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> + '_ {
        self.records_from(1)
    }

    /// The records after the snapshot (all of them without one).
    pub fn tail(&self) -> impl Iterator<Item = Record<'_>> + '_ {
        self.records_from(self.snapshot.as_ref().map_or(0, |s| s.row) + 1)
    }
}

/// What can go wrong in a store.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O operation failed (`STORAGE_IO`).
    #[error("{context}: {message}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The operating system's message.
        message: String,
    },
    /// A segment is damaged other than by a torn tail (`STORAGE_CORRUPT`).
    /// Nothing is repaired; the operator decides.
    #[error("org `{org_id}`: segment `{path}` is corrupt at row {row} (byte {offset}): {reason}")]
    Corrupt {
        /// The org.
        org_id: String,
        /// The segment file.
        path: String,
        /// The first row that cannot be trusted.
        row: u64,
        /// Its byte offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Another process holds the data directory (`STORAGE_LOCKED`).
    #[error("data directory `{0}` is in use by another process")]
    Locked(String),
    /// The store was closed (`STORAGE_CLOSED`).
    #[error("the store is closed")]
    Closed,
    /// An earlier I/O error stopped the store (`STORAGE_FAILED`).
    #[error("storage stopped after an earlier error: {0}")]
    Failed(String),
    /// Not a usable org id (`INVALID_ORG_ID`).
    #[error(
        "invalid org id `{0}`: use 1 to 128 characters from `A-Z a-z 0-9 _ - .`, not starting with `.`"
    )]
    InvalidOrgId(String),
    /// No such org (`UNKNOWN_ORG`).
    #[error("unknown org `{0}`")]
    UnknownOrg(String),
    /// The org exists already (`ORG_EXISTS`).
    #[error("org `{0}` exists already")]
    OrgExists(String),
    /// Records were appended out of row order (`OUT_OF_ORDER`): a host bug,
    /// refused so the segment stays a chain.
    #[error("org `{org_id}`: row {got} appended where row {expected} was expected")]
    OutOfOrder {
        /// The org.
        org_id: String,
        /// The row expected next.
        expected: u64,
        /// The row given.
        got: u64,
    },
}

impl ErrorCode for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::Io { .. } => "STORAGE_IO",
            StoreError::Corrupt { .. } => "STORAGE_CORRUPT",
            StoreError::Locked(_) => "STORAGE_LOCKED",
            StoreError::Closed => "STORAGE_CLOSED",
            StoreError::Failed(_) => "STORAGE_FAILED",
            StoreError::InvalidOrgId(_) => "INVALID_ORG_ID",
            StoreError::UnknownOrg(_) => "UNKNOWN_ORG",
            StoreError::OrgExists(_) => "ORG_EXISTS",
            StoreError::OutOfOrder { .. } => "OUT_OF_ORDER",
        }
    }
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, e: &std::io::Error) -> StoreError {
        StoreError::Io {
            context: context.into(),
            message: e.to_string(),
        }
    }
}

/// Whether `id` can name an org on disk: 1 to 128 bytes of `A-Z a-z 0-9 _ - .`,
/// not starting with `.`.
#[must_use]
pub fn valid_org_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= segment::MAX_ORG_ID_BYTES
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Check that `records` continue an org at `next_row`; returns the row after them.
pub(crate) fn check_order(
    org_id: &str,
    next_row: u64,
    records: &[Record<'_>],
) -> Result<u64, StoreError> {
    let mut want = next_row;
    for r in records {
        if r.row != want {
            return Err(StoreError::OutOfOrder {
                org_id: org_id.to_owned(),
                expected: want,
                got: r.row,
            });
        }
        want += 1;
    }
    Ok(want)
}
