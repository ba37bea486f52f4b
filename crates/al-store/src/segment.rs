//! The segment file format: one org's sealed audit entries, in order.
//!
//! ```text
//! segment = header frame*
//! header  = MAGIC(8) org_len:u16le org_id:[org_len] check:[4]
//!           check = first 4 bytes of SHA-256(MAGIC ‖ org_len ‖ org_id)
//! frame   = len:u32le len_check:u32le entry:[len] hash:[32]
//!           len_check = !len (bitwise complement), 1 <= len <= MAX_ENTRY_BYTES
//!           entry = the canonical bytes of one audit entry (docs/audit-encoding.md)
//!           hash  = SHA-256(entry), the entry hash
//! ```
//!
//! Frames hold rows 1, 2, 3, … with no gap; each entry's `prev_hash` is the
//! previous frame's `hash`. The length is guarded by its complement so a
//! damaged length is never mistaken for a short final frame.
//!
//! # Where a segment ends
//! Reading stops at the end of the file (clean), or at a frame that cannot
//! be complete. Such a frame is a **torn tail** — the remains of a write
//! that a crash interrupted, never acknowledged because acknowledgements
//! wait for `fsync` — only when nothing valid can follow it:
//! - the file ends inside its 8-byte header, or inside its entry or hash
//!   (the header is intact and promises more bytes than the file has);
//! - or everything from the damaged header, or from its hash field, to the
//!   end of the file is zero bytes (a zero-filled tail, as some file
//!   systems leave after a power loss).
//!
//! Anything else — a damaged header followed by non-zero bytes, a hash
//! that does not match, a row out of sequence, a broken link — is
//! corruption of data that may have been acknowledged; readers refuse it
//! and name the row.
//!
//! Everything here is pure: it encodes into caller buffers and reads from
//! caller slices.
//!
//! Why one file (566 lines): one job, the segment format (encode, decode,
//! recovery scan) with its tests; a reader re-implementing the format reads
//! one file.

use al_audit_chain::{MAX_ENTRY_BYTES, peek_prev_hash, peek_row};
use sha2::{Digest as _, Sha256};

/// The first 8 bytes of every segment file (`ALSEG`, two zero bytes, version 1).
pub const MAGIC: &[u8; 8] = b"ALSEG\0\0\x01";

/// Bytes of a frame that are not the entry: length, length check, hash.
pub const FRAME_OVERHEAD: usize = 8 + 32;

/// The longest org id a segment header holds.
pub const MAX_ORG_ID_BYTES: usize = 128;

/// The header of a segment: magic, the org id, a check.
///
/// # Panics
/// Never; an org id longer than [`MAX_ORG_ID_BYTES`] must be refused by the
/// caller (see [`crate::valid_org_id`]), and is cut here if it is not.
#[must_use]
pub fn header(org_id: &str) -> Vec<u8> {
    let org = org_id.as_bytes();
    let org = org.get(..MAX_ORG_ID_BYTES.min(org.len())).unwrap_or(org);
    let mut out = Vec::with_capacity(8 + 2 + org.len() + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u16::try_from(org.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(org);
    let check = Sha256::digest(&out);
    out.extend_from_slice(check.get(..4).unwrap_or_default());
    out
}

/// Append one frame for `entry` (canonical bytes) with its `hash`.
pub fn push_frame(out: &mut Vec<u8>, entry: &[u8], hash: &[u8; 32]) {
    let len = u32::try_from(entry.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(entry);
    out.extend_from_slice(hash);
}

/// A segment header that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The file is shorter than a header: a crash while the org was being
    /// created, before any entry was written.
    #[error("the file ends inside the segment header ({0} bytes)")]
    Short(usize),
    /// Not a segment file, or a damaged header.
    #[error("not an AgentLattice segment file (bad magic or header check)")]
    Invalid,
}

/// One frame read from a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Byte offset of the frame in the file.
    pub offset: usize,
    /// The entry's canonical bytes.
    pub entry: &'a [u8],
    /// The stored entry hash.
    pub hash: &'a [u8; 32],
}

/// How the frames of a segment ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameEnd {
    /// At the end of the file, after a whole frame (or the header).
    Clean,
    /// A torn tail: `len` bytes from `offset` to the end of the file are
    /// the remains of an interrupted write (see the module docs).
    Torn {
        /// Where the torn frame starts.
        offset: u64,
        /// How many bytes follow, to the end of the file.
        len: u64,
    },
    /// A damaged frame header followed by data: corruption.
    Bad {
        /// Where the frame starts.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Iterator over the frames of a segment, without checking hashes or rows
/// (see [`check_frames`] for that). After it returns `None`, [`Frames::end`]
/// says why.
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    data: &'a [u8],
    pos: usize,
    end: Option<FrameEnd>,
}

/// Read a segment's header; returns the org id and an iterator over its frames.
///
/// # Errors
/// [`HeaderError`] when the header is short or invalid.
pub fn read(data: &[u8]) -> Result<(String, Frames<'_>), HeaderError> {
    let short = || HeaderError::Short(data.len());
    let magic = data.get(..8).ok_or_else(short)?;
    if magic != MAGIC {
        return Err(HeaderError::Invalid);
    }
    let len_bytes: [u8; 2] = data
        .get(8..10)
        .ok_or_else(short)?
        .try_into()
        .map_err(|_| HeaderError::Invalid)?;
    let org_len = usize::from(u16::from_le_bytes(len_bytes));
    if org_len == 0 || org_len > MAX_ORG_ID_BYTES {
        return Err(HeaderError::Invalid);
    }
    let body = data.get(..10 + org_len).ok_or_else(short)?;
    let check = data.get(10 + org_len..14 + org_len).ok_or_else(short)?;
    if Sha256::digest(body).get(..4) != Some(check) {
        return Err(HeaderError::Invalid);
    }
    let org = std::str::from_utf8(body.get(10..).unwrap_or_default())
        .map_err(|_| HeaderError::Invalid)?
        .to_owned();
    Ok((
        org,
        Frames {
            data,
            pos: 14 + org_len,
            end: None,
        },
    ))
}

impl<'a> Frames<'a> {
    /// Why iteration stopped (`None` while frames remain).
    #[must_use]
    pub fn end(&self) -> Option<&FrameEnd> {
        self.end.as_ref()
    }

    /// Byte offset of the next frame.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    fn zero_from(&self, at: usize) -> bool {
        self.data
            .get(at..)
            .is_some_and(|rest| rest.iter().all(|&b| b == 0))
    }

    fn stop(&mut self, end: FrameEnd) -> Option<Frame<'a>> {
        self.end = Some(end);
        None
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        if self.end.is_some() {
            return None;
        }
        let at = self.pos;
        let rest = self.data.len().saturating_sub(at);
        let torn = FrameEnd::Torn {
            offset: at as u64,
            len: rest as u64,
        };
        if rest == 0 {
            return self.stop(FrameEnd::Clean);
        }
        let Some(head) = self.data.get(at..at + 8) else {
            return self.stop(torn);
        };
        let word = |i: usize| {
            head.get(i..i + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, u32::from_le_bytes)
        };
        let (len, check) = (word(0), word(4));
        let len_ok = check == !len && len >= 1 && (len as usize) <= MAX_ENTRY_BYTES;
        if !len_ok {
            if self.zero_from(at) {
                return self.stop(torn);
            }
            return self.stop(FrameEnd::Bad {
                offset: at as u64,
                reason: "damaged frame header",
            });
        }
        let len = len as usize;
        let hash_at = at + 8 + len;
        let (Some(entry), Some(hash)) = (
            self.data.get(at + 8..hash_at),
            self.data
                .get(hash_at..hash_at + 32)
                .and_then(|h| <&[u8; 32]>::try_from(h).ok()),
        ) else {
            return self.stop(torn);
        };
        if hash.iter().all(|&b| b == 0) && self.zero_from(hash_at) {
            return self.stop(torn);
        }
        self.pos = hash_at + 32;
        Some(Frame {
            offset: at,
            entry,
            hash,
        })
    }
}

/// A frame from a [`Reader`]: its offset, entry bytes and stored hash.
pub type StreamFrame<'a> = (u64, &'a [u8], &'a [u8; 32]);

/// A streaming reader of frames from any [`std::io::Read`], in constant
/// memory (one frame at a time), with exactly the tail rules of [`Frames`]
/// (a differential test holds them equal). For verifying large segments
/// offline.
#[derive(Debug)]
pub struct Reader<R> {
    r: R,
    org_id: String,
    pos: u64,
    entry: Vec<u8>,
    hash: [u8; 32],
    end: Option<FrameEnd>,
}

/// Why a [`Reader`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The header is short or invalid.
    #[error("{0}")]
    Header(#[from] HeaderError),
}

/// Fill `buf` as far as the input allows; returns how many bytes were read.
fn read_full(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: std::io::Read> Reader<R> {
    /// Read the header.
    ///
    /// # Errors
    /// I/O, or a short or invalid header.
    pub fn new(mut r: R) -> Result<Reader<R>, ReaderError> {
        let mut head = [0u8; 10];
        let n = read_full(&mut r, &mut head)?;
        let short = |k: usize| ReaderError::Header(HeaderError::Short(k));
        if n < 10 {
            if head.get(..n.min(8)) != MAGIC.get(..n.min(8)) {
                return Err(HeaderError::Invalid.into());
            }
            return Err(short(n));
        }
        let org_len = usize::from(u16::from_le_bytes([head[8], head[9]]));
        if head.get(..8) != Some(MAGIC.as_slice()) || org_len == 0 || org_len > MAX_ORG_ID_BYTES {
            return Err(HeaderError::Invalid.into());
        }
        let mut rest = vec![0u8; org_len + 4];
        let k = read_full(&mut r, &mut rest)?;
        if k < rest.len() {
            return Err(short(10 + k));
        }
        let mut all = head.to_vec();
        all.extend_from_slice(&rest);
        let (org_id, _) = read(&all)?;
        Ok(Reader {
            r,
            org_id,
            pos: all.len() as u64,
            entry: Vec::new(),
            hash: [0; 32],
            end: None,
        })
    }

    /// The org id in the header.
    #[must_use]
    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    /// Why reading stopped (`None` while frames remain).
    #[must_use]
    pub fn end(&self) -> Option<&FrameEnd> {
        self.end.as_ref()
    }

    /// Byte offset of the next frame.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Whether everything left in the input is zero bytes; returns how many.
    fn rest_zero(&mut self) -> std::io::Result<(bool, u64)> {
        let mut buf = [0u8; 8192];
        let mut zero = true;
        let mut n = 0u64;
        loop {
            let k = read_full(&mut self.r, &mut buf)?;
            if k == 0 {
                return Ok((zero, n));
            }
            n += k as u64;
            zero &= buf.get(..k).is_some_and(|b| b.iter().all(|&x| x == 0));
        }
    }

    /// The next frame: its offset, entry bytes and stored hash.
    ///
    /// # Errors
    /// I/O errors of the underlying reader.
    pub fn next_frame(&mut self) -> std::io::Result<Option<StreamFrame<'_>>> {
        if self.end.is_some() {
            return Ok(None);
        }
        let at = self.pos;
        let mut head = [0u8; 8];
        let n = read_full(&mut self.r, &mut head)?;
        if n == 0 {
            self.end = Some(FrameEnd::Clean);
            return Ok(None);
        }
        if n < 8 {
            self.end = Some(FrameEnd::Torn {
                offset: at,
                len: n as u64,
            });
            return Ok(None);
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let check = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if check != !len || len == 0 || len as usize > MAX_ENTRY_BYTES {
            let (zero, more) = self.rest_zero()?;
            self.end = Some(if zero && head.iter().all(|&b| b == 0) {
                FrameEnd::Torn {
                    offset: at,
                    len: 8 + more,
                }
            } else {
                FrameEnd::Bad {
                    offset: at,
                    reason: "damaged frame header",
                }
            });
            return Ok(None);
        }
        self.entry.resize(len as usize, 0);
        let k = read_full(&mut self.r, &mut self.entry)?;
        let h = if k == self.entry.len() {
            read_full(&mut self.r, &mut self.hash)?
        } else {
            0
        };
        if k < self.entry.len() || h < 32 {
            self.end = Some(FrameEnd::Torn {
                offset: at,
                len: 8 + k as u64 + h as u64,
            });
            return Ok(None);
        }
        if self.hash.iter().all(|&b| b == 0) {
            let (zero, more) = self.rest_zero()?;
            if zero {
                self.end = Some(FrameEnd::Torn {
                    offset: at,
                    len: 8 + u64::from(len) + 32 + more,
                });
                return Ok(None);
            }
            // A zero hash followed by data: the frame is returned and its
            // hash will not match; what followed was consumed, so stop here.
            self.end = Some(FrameEnd::Bad {
                offset: at + 8 + u64::from(len) + 32,
                reason: "data after a frame with a zero hash",
            });
        }
        self.pos = at + 8 + u64::from(len) + 32;
        Ok(Some((at, &self.entry, &self.hash)))
    }
}

/// A checked frame's position, as kept for a recovered segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef {
    /// Byte offset of the entry's canonical bytes in the file.
    pub start: usize,
    /// Their length.
    pub len: u32,
}

/// A segment failed its checks: corruption at `row`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("row {row} (byte {offset}): {reason}")]
pub struct Corruption {
    /// The row expected at that position.
    pub row: u64,
    /// Byte offset of the frame in the file.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

/// A segment read and checked: its org, its frames, how it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The org id in the header.
    pub org_id: String,
    /// One per row, in order (row `i + 1` at index `i`).
    pub frames: Vec<FrameRef>,
    /// The hash of the last row (zero when empty).
    pub head_hash: [u8; 32],
    /// Where the valid data ends (the file is cut there when torn).
    pub valid_len: usize,
    /// The torn tail, if any: its offset and length.
    pub torn: Option<(usize, usize)>,
}

/// Read and check a whole segment: every frame's hash is recomputed, rows
/// run 1, 2, 3, … and each entry's `prev_hash` is the previous hash.
///
/// # Errors
/// `Err(Ok(h))` for a header error; `Err(Err(c))` for corruption.
pub fn check_frames(data: &[u8]) -> Result<Checked, Result<HeaderError, Corruption>> {
    let (org_id, mut frames) = read(data).map_err(Ok)?;
    let mut out = Vec::new();
    let mut prev = [0u8; 32];
    let mut row = 0u64;
    for f in frames.by_ref() {
        row += 1;
        let bad = |reason: String| {
            Err(Err(Corruption {
                row,
                offset: f.offset,
                reason,
            }))
        };
        if Sha256::digest(f.entry).as_slice() != f.hash.as_slice() {
            return bad("the entry does not hash to its stored hash".into());
        }
        match peek_row(f.entry) {
            Some(r) if r == row => {}
            Some(r) => return bad(format!("the entry says row {r}")),
            None => return bad("not an audit entry".into()),
        }
        if peek_prev_hash(f.entry).map(|h| h.0) != Some(prev) {
            return bad("`prev_hash` is not the previous entry's hash".into());
        }
        prev = *f.hash;
        out.push(FrameRef {
            start: f.offset + 8,
            len: u32::try_from(f.entry.len()).unwrap_or(u32::MAX),
        });
    }
    let (valid_len, torn) = match frames.end() {
        Some(FrameEnd::Torn { offset, len }) => {
            let offset = usize::try_from(*offset).unwrap_or(usize::MAX);
            let len = usize::try_from(*len).unwrap_or(usize::MAX);
            (offset, Some((offset, len)))
        }
        Some(FrameEnd::Bad { offset, reason }) => {
            return Err(Err(Corruption {
                row: row + 1,
                offset: usize::try_from(*offset).unwrap_or(usize::MAX),
                reason: (*reason).to_owned(),
            }));
        }
        Some(FrameEnd::Clean) | None => (data.len(), None),
    };
    Ok(Checked {
        org_id,
        frames: out,
        head_hash: prev,
        valid_len,
        torn,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn header_round_trip_and_damage() {
        let h = header("org_acme");
        let (org, mut f) = read(&h).unwrap();
        assert_eq!(org, "org_acme");
        assert!(f.next().is_none());
        assert_eq!(f.end(), Some(&FrameEnd::Clean));
        for i in 0..h.len() {
            let mut d = h.clone();
            d[i] ^= 0x10;
            assert!(read(&d).is_err(), "flip at {i} accepted");
        }
        for n in 0..h.len() {
            assert!(matches!(
                read(&h[..n]),
                Err(HeaderError::Short(_) | HeaderError::Invalid)
            ));
        }
    }

    #[test]
    fn complement_guards_the_length() {
        let mut d = header("o");
        push_frame(&mut d, b"abc", &[7; 32]);
        let at = 14 + 1;
        d[at] = 200; // a damaged length, not a short frame
        let (_, mut f) = read(&d).unwrap();
        assert!(f.next().is_none());
        assert!(matches!(f.end(), Some(FrameEnd::Bad { .. })));
    }
}
