//! Checkpoints: a signed-able statement of the log's size, root and head.
//!
//! Text form (stable; every line ends with `\n`; the signature, when
//! present, covers every line before it):
//!
//! ```text
//! agentlattice checkpoint v1
//! org_id: acme
//! size: 42
//! root: <64 hex>
//! head_hash: <64 hex>
//! timestamp: 2026-11-28T12:00:00Z
//! signature: <hex>            (optional)
//! ```
//!
//! No keys live in this crate: a host signs with a [`CheckpointSigner`] and
//! checks with a [`CheckpointVerifier`]. Verification functions only take a
//! [`VerifiedCheckpoint`], which exists only if its signature was checked,
//! the log itself made it, or the caller explicitly vouched for it.

use std::fmt::Write as _;

use al_types::{Digest, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The log's state at one size. Its JSON form (inside proof files) is
/// `{"org_id", "size", "root", "head_hash", "timestamp"}` with hashes as
/// 64 lowercase hex digits and the timestamp in canonical RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The org the log belongs to.
    pub org_id: String,
    /// Number of entries.
    pub size: u64,
    /// Merkle root over the entries.
    pub root: Digest,
    /// Hash of the entry at row `size` (zero for an empty log).
    pub head_hash: Digest,
    /// When it was taken (caller's time).
    #[serde(deserialize_with = "canonical_time")]
    pub timestamp: Timestamp,
}

fn canonical_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let s = String::deserialize(d)?;
    Timestamp::parse_canonical(&s).map_err(serde::de::Error::custom)
}

/// Signs checkpoint bodies (the host's key; not in this crate).
pub trait CheckpointSigner {
    /// Sign `body`.
    fn sign(&self, body: &[u8]) -> Vec<u8>;
}

/// Checks checkpoint signatures.
pub trait CheckpointVerifier {
    /// Whether `signature` is valid for `body`.
    fn verify(&self, body: &[u8], signature: &[u8]) -> bool;
}

/// A checkpoint that may be relied on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint(Checkpoint);

impl VerifiedCheckpoint {
    /// Vouch for a checkpoint without a signature: use only for one you
    /// hold from a trusted source (you took it yourself, or it came over an
    /// authenticated channel).
    #[must_use]
    pub fn trust(cp: Checkpoint) -> VerifiedCheckpoint {
        VerifiedCheckpoint(cp)
    }

    /// The checkpoint.
    #[must_use]
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.0
    }
}

const HEADER: &str = "agentlattice checkpoint v1";

impl Checkpoint {
    /// The text body that is signed.
    #[must_use]
    pub fn body(&self) -> String {
        let mut s = String::with_capacity(256);
        let _ = writeln!(s, "{HEADER}");
        let _ = writeln!(s, "org_id: {}", self.org_id);
        let _ = writeln!(s, "size: {}", self.size);
        let _ = writeln!(s, "root: {}", self.root);
        let _ = writeln!(s, "head_hash: {}", self.head_hash);
        let _ = writeln!(s, "timestamp: {}", self.timestamp);
        s
    }

    /// Text form, signed with `signer` if given.
    #[must_use]
    pub fn to_text(&self, signer: Option<&dyn CheckpointSigner>) -> String {
        let mut s = self.body();
        if let Some(signer) = signer {
            let _ = writeln!(s, "signature: {}", hex::encode(signer.sign(s.as_bytes())));
        }
        s
    }

    /// Parse the text form. Returns the checkpoint and its signature, if any.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the line.
    pub fn parse(text: &str) -> Result<(Checkpoint, Option<Vec<u8>>), Error> {
        let err = |line: usize, m: &str| Error::Checkpoint {
            line: line as u64,
            problem: m.to_owned(),
        };
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        if lines.first() != Some(&HEADER) {
            return Err(err(1, "expected `agentlattice checkpoint v1`"));
        }
        let field = |i: usize, key: &str| -> Result<&str, Error> {
            lines
                .get(i)
                .and_then(|l| l.strip_prefix(key))
                .and_then(|l| l.strip_prefix(": "))
                .ok_or_else(|| err(i + 1, &format!("expected `{key}: …`")))
        };
        let org_id = field(1, "org_id")?.to_owned();
        let size = field(2, "size")?
            .parse::<u64>()
            .map_err(|_| err(3, "size must be a whole number"))?;
        let root = Digest::from_hex(field(3, "root")?)
            .ok_or_else(|| err(4, "root must be 64 lowercase hex digits"))?;
        let head_hash = Digest::from_hex(field(4, "head_hash")?)
            .ok_or_else(|| err(5, "head_hash must be 64 lowercase hex digits"))?;
        let timestamp = Timestamp::parse_canonical(field(5, "timestamp")?)
            .map_err(|m| err(6, &m.to_string()))?;
        let signature = match lines.get(6) {
            None => None,
            Some(_) => Some(
                hex::decode(field(6, "signature")?).map_err(|_| err(7, "signature must be hex"))?,
            ),
        };
        if lines.len() > 7 {
            return Err(err(8, "unexpected line after the checkpoint"));
        }
        Ok((
            Checkpoint {
                org_id,
                size,
                root,
                head_hash,
                timestamp,
            },
            signature,
        ))
    }

    /// Check a signature and return the checkpoint as verified.
    ///
    /// # Errors
    /// [`Error::CheckpointUnverified`] if the signature does not verify.
    pub fn verify(
        self,
        signature: &[u8],
        verifier: &dyn CheckpointVerifier,
    ) -> Result<VerifiedCheckpoint, Error> {
        if verifier.verify(self.body().as_bytes(), signature) {
            Ok(VerifiedCheckpoint(self))
        } else {
            Err(Error::CheckpointUnverified {
                reason: "signature does not verify".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Xor;
    impl CheckpointSigner for Xor {
        fn sign(&self, body: &[u8]) -> Vec<u8> {
            vec![body.iter().fold(0u8, |a, b| a ^ b)]
        }
    }
    impl CheckpointVerifier for Xor {
        fn verify(&self, body: &[u8], sig: &[u8]) -> bool {
            sig == self.sign(body).as_slice()
        }
    }

    #[test]
    fn text_round_trip_and_signature() {
        let cp = Checkpoint {
            org_id: "acme".into(),
            size: 3,
            root: Digest([1; 32]),
            head_hash: Digest([2; 32]),
            timestamp: Timestamp::from_unix_millis(1_764_331_200_000).unwrap(),
        };
        let text = cp.to_text(Some(&Xor));
        let (back, sig) = Checkpoint::parse(&text).unwrap();
        assert_eq!(back, cp);
        assert!(back.clone().verify(&sig.unwrap(), &Xor).is_ok());
        let forged = text.replace("size: 3", "size: 4");
        let (f, sig) = Checkpoint::parse(&forged).unwrap();
        assert!(f.verify(&sig.unwrap(), &Xor).is_err());
        assert_eq!(Checkpoint::parse("nope").unwrap_err().line(), Some(1));
        assert_eq!(
            Checkpoint::parse(&text.replace("size: 3", "size: x"))
                .unwrap_err()
                .line(),
            Some(3)
        );
    }
}
