//! `al verify` on an al-server segment file (`al-store`'s format): the raw
//! sealed entries, checked in constant memory like a JSON Lines export.

use std::io::{BufReader, Read};
use std::path::Path;

use al_audit_chain::{ChainVerifier, FailureCode, Verification, VerifiedCheckpoint};
use al_store::segment::{FrameEnd, MAGIC, Reader, ReaderError};
use al_types::{Digest, Timestamp};

use crate::io::UsageError;

/// Whether the file starts with the segment magic.
pub fn is_segment(path: &Path) -> Result<bool, UsageError> {
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path)
        .map_err(|e| UsageError(format!("cannot read `{}`: {e}", path.display())))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(head.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(UsageError(format!("cannot read `{}`: {e}", path.display()))),
        }
    }
    Ok(n == head.len() && &head == MAGIC)
}

/// Verify every frame of a segment. The org id comes from the segment's
/// header; a checkpoint, when given, must be for that org. A torn tail (an
/// interrupted final write, never acknowledged) is reported on stderr and
/// not part of the chain; a damaged frame is a failure at its row.
pub fn verify(
    file: std::fs::File,
    path: &Path,
    cp: Option<&VerifiedCheckpoint>,
    now: Timestamp,
) -> Result<Verification, UsageError> {
    let read_err = |e: std::io::Error| UsageError(format!("cannot read `{}`: {e}", path.display()));
    let mut r = Reader::new(BufReader::with_capacity(1 << 20, file)).map_err(|e| match e {
        ReaderError::Io(e) => read_err(e),
        ReaderError::Header(h) => UsageError(format!("`{}`: {h}", path.display())),
    })?;
    if let Some(c) = cp
        && c.checkpoint().org_id != r.org_id()
    {
        return Err(UsageError(format!(
            "the checkpoint is for org `{}` but the segment holds org `{}`",
            c.checkpoint().org_id,
            r.org_id()
        )));
    }
    let mut chain = ChainVerifier::new(r.org_id().to_owned());
    if let Some(c) = cp {
        chain = chain.against(c);
    }
    while let Some((_, entry, hash)) = r.next_frame().map_err(read_err)? {
        if !chain.push(entry, Some(&Digest(*hash))) {
            break;
        }
    }
    match r.end() {
        Some(FrameEnd::Torn { offset, len }) if !chain.failed() => {
            eprintln!(
                "note: torn tail of {len} bytes at byte {offset} (an interrupted write, never acknowledged) is not part of the chain"
            );
        }
        Some(FrameEnd::Bad { offset, reason }) => {
            chain.fail(
                FailureCode::Undecodable,
                format!("{reason} at byte {offset}"),
            );
        }
        _ => {}
    }
    Ok(chain.finish(now))
}
