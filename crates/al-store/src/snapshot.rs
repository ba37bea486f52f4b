//! The snapshot file format: an engine's serialised org state at a row.
//!
//! ```text
//! snapshot = MAGIC(8) org_len:u16le org_id:[org_len] row:u64le head_hash:[32]
//!            state_len:u64le state:[state_len] check:[32]
//!            check = SHA-256 of everything before it
//! ```
//!
//! A snapshot is a cache: recovery uses the newest one that is whole, whose
//! row the segment reaches, and whose `head_hash` equals the segment's hash
//! at that row; any other is ignored (and reported), never trusted.

use sha2::{Digest as _, Sha256};

/// The first 8 bytes of every snapshot file (`ALSNAP`, a zero byte, version 1).
pub const MAGIC: &[u8; 8] = b"ALSNAP\0\x01";

/// A snapshot as read back.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The org.
    pub org_id: String,
    /// The last row the state includes.
    pub row: u64,
    /// The hash of that row's entry.
    pub head_hash: [u8; 32],
    /// The engine's serialised state.
    pub state: Vec<u8>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("org_id", &self.org_id)
            .field("row", &self.row)
            .field("head_hash", &hex::encode(self.head_hash))
            .field("state_len", &self.state.len())
            .finish()
    }
}

/// Encode a snapshot file.
#[must_use]
pub fn encode(org_id: &str, row: u64, head_hash: &[u8; 32], state: &[u8]) -> Vec<u8> {
    let org = org_id.as_bytes();
    let mut out = Vec::with_capacity(8 + 2 + org.len() + 8 + 32 + 8 + state.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u16::try_from(org.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(org);
    out.extend_from_slice(&row.to_le_bytes());
    out.extend_from_slice(head_hash);
    out.extend_from_slice(&(state.len() as u64).to_le_bytes());
    out.extend_from_slice(state);
    let check = Sha256::digest(&out);
    out.extend_from_slice(&check);
    out
}

/// Decode a snapshot file; `Err` names what is wrong.
///
/// # Errors
/// A short message when the file is not a whole, valid snapshot.
pub fn decode(data: &[u8]) -> Result<Snapshot, &'static str> {
    let body_len = data.len().checked_sub(32).ok_or("too short")?;
    let (body, check) = data.split_at(body_len);
    if Sha256::digest(body).as_slice() != check {
        return Err("checksum mismatch (incomplete or damaged)");
    }
    if body.get(..8) != Some(MAGIC.as_slice()) {
        return Err("not a snapshot file");
    }
    let mut at = 8;
    let mut take = |n: usize| {
        let s = body.get(at..at + n).ok_or("truncated");
        at += n;
        s
    };
    let org_len = usize::from(u16::from_le_bytes(
        take(2)?.try_into().map_err(|_| "truncated")?,
    ));
    let org_id = std::str::from_utf8(take(org_len)?)
        .map_err(|_| "org id is not UTF-8")?
        .to_owned();
    let row = u64::from_le_bytes(take(8)?.try_into().map_err(|_| "truncated")?);
    let head_hash: [u8; 32] = take(32)?.try_into().map_err(|_| "truncated")?;
    let state_len = u64::from_le_bytes(take(8)?.try_into().map_err(|_| "truncated")?);
    let state_len = usize::try_from(state_len).map_err(|_| "state too large")?;
    let state = take(state_len)?.to_vec();
    if at != body.len() {
        return Err("trailing bytes");
    }
    Ok(Snapshot {
        org_id,
        row,
        head_hash,
        state,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn round_trip_and_every_flip_is_caught() {
        let f = encode("org_a", 42, &[9; 32], b"{\"state\":1}");
        let s = decode(&f).unwrap();
        assert_eq!(
            (s.org_id.as_str(), s.row, s.head_hash, s.state.as_slice()),
            ("org_a", 42, [9; 32], &b"{\"state\":1}"[..])
        );
        for i in 0..f.len() {
            let mut d = f.clone();
            d[i] ^= 1;
            assert!(decode(&d).is_err(), "flip at {i} accepted");
        }
        for n in 0..f.len() {
            assert!(decode(&f[..n]).is_err());
        }
    }
}
