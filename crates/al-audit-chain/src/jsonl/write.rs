//! The JSON Lines writer, through serde.

use std::io::Write;

use al_types::Digest;
use serde::ser::{SerializeMap, Serializer};

use crate::entry::Entry;
use crate::log::AuditLog;

/// An entry and its hash in line order: header keys, fields sorted by key
/// bytes, `prev_hash`, `hash`.
struct Line<'a> {
    entry: &'a Entry,
    hash: &'a Digest,
}

impl serde::Serialize for Line<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.entry;
        let mut m = s.serialize_map(Some(e.fields.len() + 7))?;
        m.serialize_entry("row", &e.row())?;
        m.serialize_entry("id", &e.id)?;
        m.serialize_entry("kind", &e.kind)?;
        m.serialize_entry("agent_id", &e.agent_id)?;
        m.serialize_entry("timestamp", &e.timestamp)?;
        let mut fields: Vec<_> = e.fields.iter().collect();
        // Already sorted unless serde_json keeps insertion order.
        if !fields.is_sorted_by(|a, b| a.0.as_bytes() < b.0.as_bytes()) {
            fields.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        }
        for (k, v) in fields {
            m.serialize_entry(k, v)?;
        }
        m.serialize_entry("prev_hash", &e.prev_hash)?;
        m.serialize_entry("hash", self.hash)?;
        m.end()
    }
}

/// Write one entry as a JSON line, newline included.
///
/// # Errors
/// The writer's error.
pub fn write_line(out: &mut dyn Write, entry: &Entry, hash: &Digest) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &Line { entry, hash })?;
    out.write_all(b"\n")
}

/// One entry as a JSON line (without the newline).
#[must_use]
pub fn entry_to_line(entry: &Entry, hash: &Digest) -> String {
    // Serialising strings, numbers, maps and digests into memory cannot fail.
    serde_json::to_string(&Line { entry, hash }).unwrap_or_default()
}

impl AuditLog {
    /// Write every entry as JSON Lines to a caller-supplied writer.
    ///
    /// # Errors
    /// The writer's error.
    pub fn export_jsonl(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for r in self.records() {
            if let Some(e) = self.entry(r.row) {
                write_line(out, &e, &r.hash)?;
            }
        }
        Ok(())
    }
}
