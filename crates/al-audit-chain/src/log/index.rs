//! Query indexes and `GET /audit`-style queries.
//!
//! Every index keyed by a string an agent or user chooses (agent ids,
//! action types, statuses, event ids) is a [`StrMap`]: an ordered map of
//! hash buckets whose colliding keys fall back to an ordered map, so
//! lookups cost O(log n) comparisons whatever the keys are, no choice of
//! keys can turn them into linear scans (hash flooding), and no secret
//! seed is needed.

use std::collections::BTreeMap;

use al_types::{EntryId, Timestamp};

use super::AuditLog;
use super::strmap::StrMap;
use crate::chunked::Chunked;
use crate::entry::{Entry, FieldRef, Kind};
use crate::error::Error;

/// Rows of each key, ascending.
type Postings = StrMap<Vec<u64>>;

#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    by_agent: Postings,
    by_kind: [Vec<u64>; Kind::ALL.len()],
    by_action_type: Postings,
    by_status: Postings,
    timestamps: Chunked<i64, { super::LOC_CHUNK }>,
    /// agent → event id → row of its first action entry.
    event_ids: StrMap<StrMap<u64>>,
    /// action row → row of its latest outcome entry.
    outcomes: BTreeMap<u64, u64>,
}

/// Append `row` to `key`'s posting list; allocates a key only the first time.
fn post(map: &mut Postings, key: &str, row: u64) {
    map.get_or_insert_with(key, Vec::new).push(row);
}

fn kind_slot(k: Kind) -> usize {
    usize::from(k.code()).saturating_sub(1)
}

impl Index {
    /// Index entry `row`; `get` looks up its top-level fields.
    pub(crate) fn add<'a>(
        &mut self,
        row: u64,
        kind: Kind,
        agent_id: Option<&str>,
        timestamp: Timestamp,
        get: impl Fn(&str) -> Option<FieldRef<'a>>,
    ) {
        if let Some(a) = agent_id {
            post(&mut self.by_agent, a, row);
        }
        if let Some(rows) = self.by_kind.get_mut(kind_slot(kind)) {
            rows.push(row);
        }
        self.timestamps.push(timestamp.unix_millis());
        let s = |k: &str| get(k).and_then(FieldRef::as_str);
        if let Some(at) = s("action_type") {
            post(&mut self.by_action_type, at, row);
        }
        if let Some(st) = s("status") {
            post(&mut self.by_status, st, row);
        }
        if kind == Kind::Action
            && let (Some(a), Some(ev)) = (agent_id, s("event_id"))
        {
            // The first action with this event id keeps it.
            let _ = self
                .event_ids
                .get_or_insert_with(a, StrMap::default)
                .get_or_insert_with(ev, || row);
        }
        if kind == Kind::Outcome
            && let Some(target) = s("audit_event_id").and_then(EntryId::parse)
        {
            self.outcomes.insert(target.row(), row);
        }
    }
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
    /// Only entries at or after this time.
    pub since: Option<Timestamp>,
    /// Only entries before this time.
    pub until: Option<Timestamp>,
    /// Page size: default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`] (larger
    /// values are clamped); 0 is an error.
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

impl AuditLog {
    fn index(&self) -> Result<&Index, Error> {
        self.index.as_ref().ok_or(Error::NoIndex)
    }

    /// The action entry recorded for `(agent_id, event_id)` (the first one,
    /// if the host appended several), for replay protection; `None` also
    /// when the log keeps no index.
    #[must_use]
    pub fn find_event(&self, agent_id: &str, event_id: &str) -> Option<EntryId> {
        let row = *self
            .index
            .as_ref()?
            .event_ids
            .get(agent_id)?
            .get(event_id)?;
        EntryId::from_row(row)
    }

    /// The current (last written) outcome of an action, as its entry.
    #[must_use]
    pub fn current_outcome(&self, action: EntryId) -> Option<Entry> {
        let out = *self.index.as_ref()?.outcomes.get(&action.row())?;
        self.entry(out)
    }

    fn cursor_for(&self, row: u64) -> String {
        let mut h = Vec::with_capacity(64);
        h.extend_from_slice(b"agentlattice.cursor.v1\0");
        h.extend_from_slice(self.org_id.as_bytes());
        h.extend_from_slice(&row.to_be_bytes());
        let tag = al_types::Digest::of(&h);
        format!("c1_{row:x}_{}", hex::encode(tag.0.get(..6).unwrap_or(&[])))
    }

    fn parse_cursor(&self, c: &str) -> Option<u64> {
        let rest = c.strip_prefix("c1_")?;
        let (row, _) = rest.split_once('_')?;
        let row = u64::from_str_radix(row, 16).ok()?;
        (row >= 1 && row <= self.len() && self.cursor_for(row) == c).then_some(row)
    }

    /// Query, newest first. Cursors name the last row returned, so they stay
    /// correct while entries are appended; they are bound to this org.
    ///
    /// # Errors
    /// [`Error::NoIndex`], [`Error::InvalidLimit`] or [`Error::InvalidCursor`].
    pub fn query(&self, q: &Query) -> Result<Page, Error> {
        let ix = self.index()?;
        let limit = match q.limit {
            Some(0) => return Err(Error::InvalidLimit { max: MAX_LIMIT }),
            Some(n) => n.min(MAX_LIMIT),
            None => DEFAULT_LIMIT,
        };
        let before = match &q.cursor {
            None => self.len() + 1,
            Some(c) => self.parse_cursor(c).ok_or_else(|| Error::InvalidCursor {
                cursor: c.chars().take(80).collect(),
            })?,
        };
        // Scan the shortest posting list among the filters given.
        let empty: Vec<u64> = Vec::new();
        let mut lists: Vec<&Vec<u64>> = Vec::new();
        if let Some(a) = &q.agent_id {
            lists.push(ix.by_agent.get(a.as_str()).unwrap_or(&empty));
        }
        if let Some(k) = q.kind {
            lists.push(ix.by_kind.get(kind_slot(k)).unwrap_or(&empty));
        }
        if let Some(a) = &q.action_type {
            lists.push(ix.by_action_type.get(a.as_str()).unwrap_or(&empty));
        }
        if let Some(s) = &q.status {
            lists.push(ix.by_status.get(s.as_str()).unwrap_or(&empty));
        }
        let shortest = lists.iter().min_by_key(|l| l.len()).copied();
        let candidates: Box<dyn Iterator<Item = u64>> = match shortest {
            Some(l) => {
                let end = l.partition_point(|&r| r < before);
                Box::new(l.get(..end).unwrap_or(&[]).iter().rev().copied())
            }
            None => Box::new((1..before).rev()),
        };
        let since = q.since.map(Timestamp::unix_millis);
        let until = q.until.map(Timestamp::unix_millis);
        let mut entries = Vec::new();
        let mut more = false;
        for row in candidates {
            let ts = ix.timestamps.get((row - 1) as usize).unwrap_or(0);
            if since.is_some_and(|s| ts < s) || until.is_some_and(|u| ts >= u) {
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
            entries.last().map(|e| self.cursor_for(e.row()))
        } else {
            None
        };
        Ok(Page {
            entries,
            next_cursor,
        })
    }
}
