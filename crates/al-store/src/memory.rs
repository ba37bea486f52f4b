//! A store that keeps segments in memory: for tests and for hosts that do
//! not need durability. Records are "durable" as soon as they are appended.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, RwLock};

use crate::segment;
use crate::{DurableHook, Record, Seq, Snapshot, Store, StoreError, check_order, valid_org_id};

/// An in-memory [`Store`]. Segments use the same byte format as
/// [`crate::FileStore`]'s files, so tests can read them back with
/// [`segment::check_frames`].
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    hook: RwLock<Option<DurableHook>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    seq: Seq,
    closed: bool,
    orgs: BTreeMap<String, Org>,
}

struct Org {
    segment: Vec<u8>,
    next_row: u64,
    snapshots: Vec<Snapshot>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The bytes of an org's segment, as a [`crate::FileStore`] would have
    /// written them.
    #[must_use]
    pub fn segment(&self, org_id: &str) -> Option<Vec<u8>> {
        self.state().orgs.get(org_id).map(|o| o.segment.clone())
    }

    /// The snapshots saved for an org, oldest first.
    #[must_use]
    pub fn snapshots(&self, org_id: &str) -> Vec<Snapshot> {
        self.state()
            .orgs
            .get(org_id)
            .map(|o| o.snapshots.clone())
            .unwrap_or_default()
    }
}

impl Store for MemoryStore {
    fn create_org(&self, org_id: &str) -> Result<(), StoreError> {
        if !valid_org_id(org_id) {
            return Err(StoreError::InvalidOrgId(org_id.to_owned()));
        }
        let mut s = self.state();
        if s.closed {
            return Err(StoreError::Closed);
        }
        if s.orgs.contains_key(org_id) {
            return Err(StoreError::OrgExists(org_id.to_owned()));
        }
        s.orgs.insert(
            org_id.to_owned(),
            Org {
                segment: segment::header(org_id),
                next_row: 1,
                snapshots: Vec::new(),
            },
        );
        Ok(())
    }

    fn append(&self, org_id: &str, records: &[Record<'_>]) -> Result<Seq, StoreError> {
        let seq = {
            let mut s = self.state();
            if s.closed {
                return Err(StoreError::Closed);
            }
            let org = s
                .orgs
                .get_mut(org_id)
                .ok_or_else(|| StoreError::UnknownOrg(org_id.to_owned()))?;
            org.next_row = check_order(org_id, org.next_row, records)?;
            for r in records {
                segment::push_frame(&mut org.segment, r.entry, r.hash);
            }
            s.seq += records.len() as u64;
            s.seq
        };
        if let Ok(h) = self.hook.read()
            && let Some(h) = h.as_ref()
        {
            h(Ok(seq));
        }
        Ok(seq)
    }

    fn durable(&self) -> Result<Seq, StoreError> {
        Ok(self.state().seq)
    }

    fn last_seq(&self) -> Seq {
        self.state().seq
    }

    fn wait_durable(&self, _seq: Seq) -> Result<(), StoreError> {
        Ok(())
    }

    fn set_durable_hook(&self, hook: DurableHook) {
        if let Ok(mut h) = self.hook.write() {
            *h = Some(hook);
        }
    }

    fn save_snapshot(
        &self,
        org_id: &str,
        row: u64,
        head_hash: &[u8; 32],
        state: &[u8],
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        let org = s
            .orgs
            .get_mut(org_id)
            .ok_or_else(|| StoreError::UnknownOrg(org_id.to_owned()))?;
        if row == 0 || row >= org.next_row {
            return Err(StoreError::OutOfOrder {
                org_id: org_id.to_owned(),
                expected: org.next_row.saturating_sub(1),
                got: row,
            });
        }
        org.snapshots.push(Snapshot {
            org_id: org_id.to_owned(),
            row,
            head_hash: *head_hash,
            state: state.to_vec(),
        });
        Ok(())
    }

    fn close(&self) -> Result<(), StoreError> {
        self.state().closed = true;
        Ok(())
    }
}
