//! JSON Lines export and import: one entry per line.
//!
//! ```text
//! {"row":1,"id":"evt_0000000000000001","kind":"action","agent_id":"agt_1","timestamp":"2026-11-28T12:00:00Z",
//!  "action_type":"pr.merge","status":"executed",…,"prev_hash":"00…","hash":"…"}
//! ```
//! Header keys come first, then the kind's fields sorted by key, then
//! `prev_hash` and `hash`. Reading a line re-encodes it canonically
//! (`docs/audit-encoding.md`) and checks the stored hash, so a JSONL file is
//! verified without trusting anything in it.

use std::io::{BufRead, Write};

use serde_json::{Map, Value};

use crate::encoding::{Entry, EntryId, Hash, Kind};
use crate::log::{AuditLog, LogConfig};
use crate::time::{format_ms, parse_rfc3339_ms};
use crate::verify::{ChainVerifier, FailureCode, Verification};

/// Largest line accepted, in bytes.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// One entry as a JSON line (without the newline).
#[must_use]
pub fn entry_to_line(e: &Entry, hash: &Hash) -> String {
    let mut s = String::with_capacity(256);
    let q = |v: &str| serde_json::to_string(v).unwrap_or_default();
    s.push_str(&format!(
        "{{\"row\":{},\"id\":\"{}\",\"kind\":\"{}\",\"agent_id\":{},\"timestamp\":\"{}\"",
        e.row,
        e.id(),
        e.kind,
        e.agent_id.as_deref().map_or_else(|| "null".to_owned(), q),
        format_ms(e.timestamp_ms)
    ));
    let mut keys: Vec<&String> = e.fields.keys().collect();
    keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for k in keys {
        if let Some(v) = e.fields.get(k) {
            s.push(',');
            s.push_str(&q(k));
            s.push(':');
            s.push_str(&serde_json::to_string(v).unwrap_or_default());
        }
    }
    s.push_str(&format!(
        ",\"prev_hash\":\"{}\",\"hash\":\"{}\"}}",
        e.prev_hash, hash
    ));
    s
}

/// Parse a JSON line into the entry and its stored hash.
///
/// # Errors
/// A message naming the key at fault.
pub fn parse_line(line: &str) -> Result<(Entry, Hash), String> {
    if line.len() > MAX_LINE_BYTES {
        return Err(format!("line is longer than {MAX_LINE_BYTES} bytes"));
    }
    let mut m: Map<String, Value> =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let mut take = |k: &str| m.remove(k).ok_or_else(|| format!("missing `{k}`"));
    let row = take("row")?
        .as_u64()
        .filter(|&r| r >= 1)
        .ok_or("`row` must be a positive integer")?;
    let id = take("id")?;
    if id.as_str() != Some(EntryId(row).to_string().as_str()) {
        return Err(format!("`id` must be `{}` for row {row}", EntryId(row)));
    }
    let kind = take("kind")?
        .as_str()
        .and_then(Kind::parse)
        .ok_or("`kind` is not a known kind")?;
    let agent_id = match take("agent_id")? {
        Value::Null => None,
        Value::String(s) => Some(s),
        _ => return Err("`agent_id` must be a string or null".into()),
    };
    let ts = take("timestamp")?;
    let timestamp_ms = parse_rfc3339_ms(ts.as_str().ok_or("`timestamp` must be a string")?)?;
    let hex_of = |v: Value, k: &str| {
        v.as_str()
            .and_then(Hash::from_hex)
            .ok_or(format!("`{k}` must be 64 lowercase hex digits"))
    };
    let prev_hash = hex_of(take("prev_hash")?, "prev_hash")?;
    let hash = hex_of(take("hash")?, "hash")?;
    Ok((
        Entry {
            row,
            kind,
            agent_id,
            timestamp_ms,
            fields: m,
            prev_hash,
        },
        hash,
    ))
}

/// A JSONL file was refused; nothing was loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

impl ImportError {
    /// Stable code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "INVALID_AUDIT_LOG"
    }
}

impl AuditLog {
    /// Write every entry as JSON Lines to a caller-supplied writer.
    ///
    /// # Errors
    /// The writer's error.
    pub fn export_jsonl(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for r in self.records() {
            if let Some(e) = self.entry(r.row) {
                out.write_all(entry_to_line(&e, &r.hash).as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    /// Load a log from JSON Lines, verifying every line as it is read.
    /// Blank lines are skipped.
    ///
    /// # Errors
    /// [`ImportError`] with the first bad line's number; no log is returned.
    pub fn import_jsonl(
        org_id: &str,
        config: LogConfig,
        input: &mut dyn BufRead,
    ) -> Result<AuditLog, ImportError> {
        let mut log = AuditLog::with_config(org_id, config);
        let mut buf = Vec::with_capacity(1024);
        let mut line = String::new();
        let mut n = 0u64;
        loop {
            line.clear();
            n += 1;
            let read = input.read_line(&mut line).map_err(|e| ImportError {
                line: n,
                message: e.to_string(),
            })?;
            if read == 0 {
                break;
            }
            let text = line.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            let err = |message: String| ImportError { line: n, message };
            let (entry, stored) = parse_line(text).map_err(err)?;
            buf.clear();
            entry.encode_into(&mut buf);
            let hash = Hash::of(&buf);
            if hash != stored {
                return Err(err(format!(
                    "stored hash {stored} but the entry hashes to {hash}"
                )));
            }
            log.push_verified(&buf).map_err(|e| err(e.to_string()))?;
        }
        Ok(log)
    }
}

/// Verifies JSON Lines as they stream by, in constant memory.
#[derive(Debug)]
pub struct JsonlVerifier {
    inner: ChainVerifier,
    buf: Vec<u8>,
    line: u64,
    bytes: u64,
}

impl JsonlVerifier {
    /// Wrap a [`ChainVerifier`] (from row 1, resumed or against a checkpoint).
    #[must_use]
    pub fn new(inner: ChainVerifier) -> JsonlVerifier {
        JsonlVerifier {
            inner,
            buf: Vec::with_capacity(1024),
            line: 0,
            bytes: 0,
        }
    }

    /// Feed one line (with or without its newline). Returns `false` once
    /// verification has failed.
    pub fn push_line(&mut self, line: &str) -> bool {
        self.line += 1;
        self.bytes += line.len() as u64;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() || self.inner.failed() {
            return !self.inner.failed();
        }
        match parse_line(text) {
            Ok((entry, stored)) => {
                self.buf.clear();
                entry.encode_into(&mut self.buf);
                self.inner.push(&self.buf, Some(&stored))
            }
            Err(m) => {
                self.inner
                    .fail(FailureCode::Undecodable, format!("line {}: {m}", self.line));
                false
            }
        }
    }

    /// Lines and bytes read so far.
    #[must_use]
    pub fn progress(&self) -> (u64, u64) {
        (self.line, self.bytes)
    }

    /// Finish at the caller's time.
    #[must_use]
    pub fn finish(self, now_ms: i64) -> Verification {
        self.inner.finish(now_ms)
    }
}
