//! The strict JSON Lines reader (`docs/audit-encoding.md`, "JSON Lines").

use std::borrow::Cow;
use std::io::BufRead;

use al_types::{Digest, EntryId, Timestamp, json};
use serde_json::{Map, Value};

use super::LineReader;
use crate::entry::{Entry, Kind, MAX_DEPTH, MAX_ENTRY_BYTES, validate_fields};
use crate::error::{EntryProblem, Error, LineProblem};
use crate::log::{AuditLog, LogConfig};
use crate::verify::{ChainVerifier, FailureCode, Verification};

/// Longest line accepted, in bytes (newline excluded): 8 MiB, room for a
/// 1 MiB entry whose strings are all escaped (`\u0001` is 6 bytes for 1).
pub const MAX_LINE_BYTES: usize = 8 << 20;

const LIMITS: json::Limits = json::Limits {
    max_depth: MAX_DEPTH,
    max_bytes: MAX_LINE_BYTES,
};

/// Integer literals of a JSON text, outside strings: `-0` becomes ` 0`
/// (the integer 0; same length, so locations do not move), and one outside
/// −2^63 … 2^64−1 is refused, since the encoding has no integer for it and
/// reading it as a float would silently change it. Anything that is not a
/// well-formed number is left for the JSON reader to report.
pub(crate) fn integers(text: &str) -> Result<Cow<'_, str>, Error> {
    let b = text.as_bytes();
    let mut neg_zero: Vec<usize> = Vec::new();
    let mut i = 0;
    let mut in_str = false;
    while let Some(&c) = b.get(i) {
        if in_str {
            match c {
                b'\\' => i += 2,
                b'"' => {
                    in_str = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while b
                    .get(i)
                    .is_some_and(|c| matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    i += 1;
                }
                let tok = text.get(start..i).unwrap_or("");
                let digits = tok.strip_prefix('-').unwrap_or(tok);
                let well_formed_int = !digits.is_empty()
                    && digits.bytes().all(|d| d.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'));
                if !well_formed_int {
                    continue;
                }
                if tok == "-0" {
                    neg_zero.push(start);
                } else if tok.parse::<i64>().is_err() && tok.parse::<u64>().is_err() {
                    return Err(Error::line_problem(LineProblem::IntegerRange(
                        tok.chars().take(80).collect(),
                    )));
                }
            }
            _ => i += 1,
        }
    }
    if neg_zero.is_empty() {
        return Ok(Cow::Borrowed(text));
    }
    let mut bytes = b.to_vec();
    for at in neg_zero {
        if let Some(m) = bytes.get_mut(at) {
            *m = b' ';
        }
    }
    // Replacing an ASCII '-' by an ASCII space keeps the text UTF-8.
    Ok(Cow::Owned(String::from_utf8(bytes).unwrap_or_default()))
}

fn header(key: &'static str, want: &'static str) -> Error {
    Error::line_problem(LineProblem::Header { key, want })
}

/// Read one JSON line (without its newline) into the entry it describes
/// and its stored hash. Checks every rule of a line (strict JSON, header
/// keys and types, the kind's fields, the limits: 8 MiB of text, 32
/// levels, 1 MiB of canonical bytes) but not the hash or the chain, which
/// need the previous line.
///
/// # Errors
/// [`Error::Json`] (repeated key, too deep, too large, not JSON, with the
/// column), [`Error::Line`] or [`Error::Entry`].
pub fn parse_line(line: &str) -> Result<(Entry, Digest), Error> {
    if line.len() > MAX_LINE_BYTES {
        // Let the JSON reader word it (TOO_LARGE, with the column).
        return Err(json::parse(line, &LIMITS)
            .err()
            .map_or(Error::line_problem(LineProblem::NotObject), Error::Json));
    }
    if line.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
        return Err(Error::line_problem(LineProblem::Blank));
    }
    let text = integers(line)?;
    let Value::Object(mut m) = json::parse(&text, &LIMITS)? else {
        return Err(Error::line_problem(LineProblem::NotObject));
    };
    let mut take = |k: &'static str| {
        m.remove(k)
            .ok_or(Error::line_problem(LineProblem::Missing(k)))
    };
    let row = take("row")?
        .as_u64()
        .filter(|&r| r >= 1)
        .ok_or(header("row", "a whole number >= 1"))?;
    let id = EntryId::from_row(row).ok_or(header("row", "a whole number >= 1"))?;
    if take("id")?.as_str() != Some(id.to_string().as_str()) {
        return Err(Error::line_problem(LineProblem::IdMismatch {
            row,
            expected: id.to_string(),
        }));
    }
    let kind = take("kind")?
        .as_str()
        .and_then(Kind::parse)
        .ok_or(header("kind", "one of the seven kinds"))?;
    let agent_id = match take("agent_id")? {
        Value::Null => None,
        Value::String(s) => Some(s),
        _ => return Err(header("agent_id", "a string or null")),
    };
    let timestamp = take("timestamp")?
        .as_str()
        .and_then(|s| Timestamp::parse_canonical(s).ok())
        .ok_or(header(
            "timestamp",
            "a canonical RFC 3339 UTC time (`2026-11-28T12:00:00Z`, `.250Z` only when not whole)",
        ))?;
    let digest = |v: Value, key| {
        v.as_str()
            .and_then(Digest::from_hex)
            .ok_or(header(key, "64 lowercase hex digits"))
    };
    let prev_hash = digest(take("prev_hash")?, "prev_hash")?;
    let hash = digest(take("hash")?, "hash")?;
    let fields: Map<String, Value> = m;
    validate_fields(kind, &fields)?;
    let entry = Entry {
        id,
        kind,
        agent_id,
        timestamp,
        fields,
        prev_hash,
    };
    let size = entry.encoded_len();
    if size > MAX_ENTRY_BYTES {
        return Err(Error::entry(EntryProblem::TooLarge {
            size,
            limit: MAX_ENTRY_BYTES,
        }));
    }
    Ok((entry, hash))
}

/// [`parse_line`] for a line given as bytes (without its newline): bytes
/// that are not UTF-8 are refused at the first bad byte.
///
/// # Errors
/// As [`parse_line`].
pub fn parse_line_bytes(line: &[u8]) -> Result<(Entry, Digest), Error> {
    let text = std::str::from_utf8(line).map_err(|_| {
        // The JSON reader names the first invalid byte.
        json::parse_slice(line, &LIMITS)
            .err()
            .map_or(Error::line_problem(LineProblem::NotObject), Error::Json)
    })?;
    parse_line(text)
}

/// Read one JSON line (without its newline) into its entry's canonical
/// bytes (`buf`, cleared first) and its stored hash: [`parse_line_bytes`]
/// then [`Entry::encode_into`], with the same acceptance, errors and
/// bytes, but a line laid out as the writer lays it out ([`write_line`](super::write_line))
/// is transcoded in one pass with no JSON tree (the fast path,
/// `jsonl/fast.rs`); any other line goes through the strict reader.
/// [`JsonlVerifier`] and [`AuditLog::import_jsonl`] read lines with it.
///
/// # Errors
/// As [`parse_line`].
pub fn encode_line(line: &[u8], buf: &mut Vec<u8>) -> Result<Digest, Error> {
    if let Some(stored) = super::fast::transcode(line, buf) {
        return Ok(stored);
    }
    encode_line_strict(line, buf)
}

/// [`encode_line`], and the entry read in place from `buf` (no JSON tree:
/// its fields deserialize straight into a typed record with
/// [`EntryRef::fields`](crate::EntryRef::fields)).
///
/// # Errors
/// As [`parse_line`].
pub fn read_line<'b>(
    line: &[u8],
    buf: &'b mut Vec<u8>,
) -> Result<(crate::EntryRef<'b>, Digest), Error> {
    let stored = encode_line(line, buf)?;
    // INVARIANT: `buf` holds bytes one of this crate's encoders wrote, so
    // only the header needs reading; `decode_ref` would check them again.
    let buf: &'b Vec<u8> = buf;
    match crate::encoding::encoded(buf) {
        Some(e) => Ok((e, stored)),
        None => crate::decode_ref(buf).map(|e| (e, stored)),
    }
}

/// [`encode_line`] without the fast path.
pub(crate) fn encode_line_strict(line: &[u8], buf: &mut Vec<u8>) -> Result<Digest, Error> {
    let (entry, stored) = parse_line_bytes(line)?;
    buf.clear();
    entry.encode_into(buf);
    Ok(stored)
}

impl AuditLog {
    /// Load a log from JSON Lines, verifying every line as it is read
    /// (strict reader, stored hash, row and chain).
    ///
    /// # Errors
    /// [`Error::AtLine`] with the first bad line's number around the
    /// problem; no log is returned.
    pub fn import_jsonl(
        org_id: &str,
        config: LogConfig,
        input: &mut dyn BufRead,
    ) -> Result<AuditLog, Error> {
        let mut log = AuditLog::with_config(org_id, config);
        let mut buf = Vec::with_capacity(1024);
        let mut lines = LineReader::new(input);
        let mut n = 0u64;
        loop {
            n += 1;
            let line = lines.next_line().map_err(|e| {
                Error::line_problem(LineProblem::Unreadable(e.to_string())).at_line(n)
            })?;
            let Some(line) = line else { break };
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            let stored = encode_line(text, &mut buf).map_err(|e| e.at_line(n))?;
            let computed = Digest::of(&buf);
            if computed != stored {
                return Err(
                    Error::line_problem(LineProblem::HashMismatch { stored, computed }).at_line(n),
                );
            }
            log.push_verified(&buf).map_err(|e| e.at_line(n))?;
        }
        Ok(log)
    }
}

/// Verifies JSON Lines as they stream by, in constant memory, with the
/// same strict reader as [`AuditLog::import_jsonl`].
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
    /// verification has failed. A line the strict reader refuses fails the
    /// verification at the row it would have been (`UNDECODABLE`), naming
    /// the line.
    pub fn push_line(&mut self, line: &[u8]) -> bool {
        self.line += 1;
        self.bytes += line.len() as u64;
        if self.inner.failed() {
            return false;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        match encode_line(text, &mut self.buf) {
            Ok(stored) => self.inner.push(&self.buf, Some(&stored)),
            Err(e) => {
                self.inner
                    .fail(FailureCode::Undecodable, e.at_line(self.line).to_string());
                false
            }
        }
    }

    /// Read every line of `input` (stopping at the first failure).
    ///
    /// # Errors
    /// The reader's I/O error.
    pub fn push_all(&mut self, input: &mut dyn BufRead) -> std::io::Result<()> {
        let mut lines = LineReader::new(input);
        while let Some(line) = lines.next_line()? {
            if !self.push_line(line) {
                break;
            }
        }
        // The caller's reader stays after the last line read.
        lines.into_inner();
        Ok(())
    }

    /// Lines and bytes read so far.
    #[must_use]
    pub fn progress(&self) -> (u64, u64) {
        (self.line, self.bytes)
    }

    /// Finish at the caller's time.
    #[must_use]
    pub fn finish(self, now: Timestamp) -> Verification {
        self.inner.finish(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use al_types::ErrorCode;

    #[test]
    fn integer_literals() {
        assert_eq!(
            integers(r#"{"a":-0,"b":"-0","c":-0.0}"#).unwrap(),
            r#"{"a": 0,"b":"-0","c":-0.0}"#
        );
        assert_eq!(integers(r#"{"a":"\"-0"}"#).unwrap(), r#"{"a":"\"-0"}"#);
        assert!(integers("[18446744073709551615, -9223372036854775808]").is_ok());
        for big in ["[18446744073709551616]", "[-9223372036854775809]"] {
            let e = integers(big).unwrap_err();
            assert_eq!(e.code(), "INVALID_AUDIT_LOG", "{big}");
        }
        // Not well-formed: left to the JSON reader.
        assert!(integers("[-00, 1e999999, --1]").is_ok());
    }
}
