//! Checkpoints: the log's size, Merkle root and head hash, as a C2SP
//! `tlog-checkpoint` (<https://c2sp.org/tlog-checkpoint>) inside a C2SP
//! signed note, so any signed-note implementation can check one.
//!
//! ```text
//! acme                                           ← origin: the org id
//! 124                                            ← tree size, decimal
//! 3nUeI2…Vg8=                                    ← root, standard base64
//! head_hash: 8c1f…e0                             ← extension: hash of row `size` (hex)
//! timestamp: 2026-11-28T12:00:00Z                ← extension: when it was taken
//!
//! — log.example/acme Az3grl…QHY8=                ← one or more signature lines
//! ```
//!
//! No keys live in this crate's logic: a host signs with any
//! [`NoteSigner`] and checks with [`NoteVerifier`]s. Verification
//! functions only take a [`VerifiedCheckpoint`], which exists only if a
//! trusted key's signature verified, the log itself made it, or the caller
//! explicitly vouched for it ([`VerifiedCheckpoint::trust`]).

use al_types::{Digest, Timestamp};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::merkle;
use crate::note::{Note, NoteSignature, NoteSigner, NoteVerifier, valid_key_name};

/// The log's state at one size. Its JSON form (inside proof files) is
/// `{"org_id", "size", "root", "head_hash", "timestamp"}` with hashes as
/// 64 lowercase hex digits and the timestamp in canonical RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The org the log belongs to (the checkpoint's origin line).
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

fn err(line: u64, problem: &str) -> Error {
    Error::Checkpoint {
        line,
        problem: problem.to_owned(),
    }
}

/// Whether an org id can be a checkpoint origin: non-empty, no Unicode
/// space, no `+`, no control character (the key-name rules of the C2SP
/// signed-note spec, `docs/audit-encoding.md` §5).
#[must_use]
pub fn valid_origin(org_id: &str) -> bool {
    valid_key_name(org_id)
}

impl Checkpoint {
    /// The `tlog-checkpoint` note text (what is signed).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the org id cannot be an origin line.
    pub fn body(&self) -> Result<String, Error> {
        if !valid_origin(&self.org_id) {
            return Err(err(
                1,
                "the org id is not a valid origin (empty, or has a space, `+` or control character)",
            ));
        }
        Ok(format!(
            "{}\n{}\n{}\nhead_hash: {}\ntimestamp: {}\n",
            self.org_id,
            self.size,
            B64.encode(self.root.as_bytes()),
            self.head_hash,
            self.timestamp
        ))
    }

    /// The signed note: the body signed by every signer (at least one).
    ///
    /// # Errors
    /// As [`Checkpoint::body`], [`Error::InvalidKey`], or a signer's error.
    pub fn sign(&self, signers: &[&dyn NoteSigner]) -> Result<String, Error> {
        if signers.is_empty() {
            return Err(Error::InvalidKey {
                reason: "a signed checkpoint needs at least one signer".into(),
            });
        }
        Ok(Note::sign(&self.body()?, signers)?.to_text())
    }

    /// Parse a checkpoint body (the note text, final newline included).
    /// Exactly five lines, each in its one spelling: origin, size without
    /// leading zeros, root in standard base64, `head_hash: <hex>`,
    /// `timestamp: <canonical RFC 3339>`; an empty log's root and head hash
    /// must be the empty tree's and zero.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the line.
    pub fn parse_body(text: &str) -> Result<Checkpoint, Error> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(err(1, "the checkpoint must end with a newline"));
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let line = |i: usize| lines.get(i).copied().unwrap_or("");
        if lines.len() != 5 {
            return Err(err(
                (lines.len().min(5) + 1) as u64,
                "a checkpoint has 5 lines: origin, size, root, head_hash, timestamp",
            ));
        }
        let org_id = line(0);
        if !valid_origin(org_id) {
            return Err(err(1, "the origin must be a valid org id"));
        }
        let size_text = line(1);
        let size = size_text
            .parse::<u64>()
            .ok()
            .filter(|n| n.to_string() == size_text)
            .ok_or_else(|| err(2, "the size is a decimal number without leading zeros"))?;
        let root = B64
            .decode(line(2))
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(Digest)
            .filter(|d| B64.encode(d.as_bytes()) == line(2))
            .ok_or_else(|| err(3, "the root is 32 bytes in standard base64"))?;
        let head_hash = line(3)
            .strip_prefix("head_hash: ")
            .and_then(Digest::from_hex)
            .ok_or_else(|| err(4, "expected `head_hash: <64 lowercase hex digits>`"))?;
        let timestamp = line(4)
            .strip_prefix("timestamp: ")
            .and_then(|t| Timestamp::parse_canonical(t).ok())
            .ok_or_else(|| err(5, "expected `timestamp: <canonical RFC 3339 UTC>`"))?;
        if size == 0 && (root != merkle::empty_root() || head_hash != Digest::ZERO) {
            return Err(err(
                3,
                "an empty log has the empty tree's root and a zero head hash",
            ));
        }
        Ok(Checkpoint {
            org_id: org_id.to_owned(),
            size,
            root,
            head_hash,
            timestamp,
        })
    }
}

/// A checkpoint as read from text, not yet trusted: its body and the
/// signatures that came with it (none for a bare body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Option<Note>,
}

impl SignedCheckpoint {
    /// Read a signed note holding a checkpoint, or a bare checkpoint body
    /// (no blank line, no signatures: it can only be trusted explicitly).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the line; a malformed signature line
    /// is an error, never skipped.
    pub fn parse(text: &str) -> Result<SignedCheckpoint, Error> {
        if text.contains("\n\n") {
            let note = Note::parse(text)?;
            let checkpoint = Checkpoint::parse_body(note.text())?;
            Ok(SignedCheckpoint {
                checkpoint,
                note: Some(note),
            })
        } else {
            Ok(SignedCheckpoint {
                checkpoint: Checkpoint::parse_body(text)?,
                note: None,
            })
        }
    }

    /// [`SignedCheckpoint::parse`] for bytes as read from a file: text
    /// that is not UTF-8 is an `INVALID_CHECKPOINT` naming the line of the
    /// first bad byte.
    ///
    /// # Errors
    /// As [`SignedCheckpoint::parse`].
    pub fn parse_bytes(bytes: &[u8]) -> Result<SignedCheckpoint, Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => SignedCheckpoint::parse(text),
            Err(e) => {
                let at = e.valid_up_to();
                let before = bytes.get(..at).unwrap_or_default();
                let line = 1 + before.iter().filter(|b| **b == b'\n').count() as u64;
                Err(Error::Checkpoint {
                    line,
                    problem: format!("not UTF-8 text (byte {at})"),
                })
            }
        }
    }

    /// The checkpoint (untrusted).
    #[must_use]
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signature lines (empty for a bare body).
    #[must_use]
    pub fn signatures(&self) -> &[NoteSignature] {
        self.note.as_ref().map_or(&[], Note::signatures)
    }

    /// Trust the checkpoint if a trusted key signed it (signed-note rules:
    /// unknown keys ignored, a failing known key rejects) and, when
    /// `org_id` is given, it is that org's.
    ///
    /// # Errors
    /// [`Error::CheckpointUnverified`], [`Error::CheckpointForged`] or
    /// [`Error::OrgMismatch`].
    pub fn verify(
        self,
        verifiers: &[&dyn NoteVerifier],
        org_id: Option<&str>,
    ) -> Result<VerifiedCheckpoint, Error> {
        let note = self
            .note
            .as_ref()
            .ok_or_else(|| Error::CheckpointUnverified {
                reason: "it is not signed".into(),
            })?;
        note.verify(verifiers)?;
        self.check_org(org_id)?;
        Ok(VerifiedCheckpoint(self.checkpoint))
    }

    /// Trust the checkpoint without checking signatures (the caller vouches
    /// for where it came from), still requiring the org when given.
    ///
    /// # Errors
    /// [`Error::OrgMismatch`].
    pub fn trust_unsigned(self, org_id: Option<&str>) -> Result<VerifiedCheckpoint, Error> {
        self.check_org(org_id)?;
        Ok(VerifiedCheckpoint(self.checkpoint))
    }

    fn check_org(&self, org_id: Option<&str>) -> Result<(), Error> {
        match org_id {
            Some(o) if o != self.checkpoint.org_id => Err(Error::OrgMismatch {
                expected: o.to_owned(),
                found: self.checkpoint.org_id.clone(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(all(test, feature = "ed25519"))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::note::Ed25519Signer;
    use al_types::ErrorCode;

    fn cp() -> Checkpoint {
        Checkpoint {
            org_id: "acme".into(),
            size: 3,
            root: Digest([1; 32]),
            head_hash: Digest([2; 32]),
            timestamp: Timestamp::from_unix_millis(1_764_331_200_000).unwrap(),
        }
    }

    #[test]
    fn bytes_that_are_not_text_name_their_line() {
        let key = Ed25519Signer::from_seed("log.example/acme", [9; 32]).unwrap();
        let text = cp().sign(&[&key]).unwrap();
        let good = SignedCheckpoint::parse_bytes(text.as_bytes()).unwrap();
        assert_eq!(good.checkpoint(), &cp());
        let mut bytes = text.into_bytes();
        let at = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        bytes.insert(at, 0xff);
        let e = SignedCheckpoint::parse_bytes(&bytes).unwrap_err();
        assert_eq!(e.code(), "INVALID_CHECKPOINT");
        assert!(e.to_string().starts_with("checkpoint line 2:"), "{e}");
    }

    #[test]
    fn signed_round_trip() {
        let key = Ed25519Signer::from_seed("log.example/acme", [9; 32]).unwrap();
        let text = cp().sign(&[&key]).unwrap();
        let parsed = SignedCheckpoint::parse(&text).unwrap();
        assert_eq!(parsed.checkpoint(), &cp());
        assert_eq!(parsed.signatures().len(), 1);
        let v = key.verifier();
        let ok = parsed.clone().verify(&[&v], Some("acme")).unwrap();
        assert_eq!(ok.checkpoint(), &cp());
        assert_eq!(
            parsed
                .clone()
                .verify(&[&v], Some("globex"))
                .unwrap_err()
                .code(),
            "CHECKPOINT_ORG_MISMATCH"
        );
        let forged = SignedCheckpoint::parse(&text.replace("\n3\n", "\n4\n")).unwrap();
        assert_eq!(
            forged.verify(&[&v], None).unwrap_err().code(),
            "CHECKPOINT_SIGNATURE_INVALID"
        );
        let bare = SignedCheckpoint::parse(&cp().body().unwrap()).unwrap();
        assert!(bare.signatures().is_empty());
        assert!(bare.clone().verify(&[&v], None).is_err());
        assert!(bare.trust_unsigned(Some("acme")).is_ok());
    }

    #[test]
    fn one_spelling_per_line() {
        let body = cp().body().unwrap();
        assert!(Checkpoint::parse_body(&body).is_ok());
        for (bad, line) in [
            (body.replace("\n3\n", "\n03\n"), 2),
            (body.replace("\n3\n", "\n+3\n"), 2),
            (body.replace("AQEB", "AQE="), 3),
            (body.replace("head_hash: ", "head_hash:"), 4),
            (body.replace("0202", "0G02"), 4),
            (body.replace("12:00:00Z", "12:00:00.000Z"), 5),
            (body.replace("\ntimestamp", "\nextra\ntimestamp"), 6),
            (body.trim_end().to_owned(), 1),
            (body.replacen("acme", "ac me", 1), 1),
            (body.replacen("acme", "", 1), 1),
        ] {
            let e = Checkpoint::parse_body(&bad).unwrap_err();
            assert_eq!(
                (e.code(), e.line()),
                ("INVALID_CHECKPOINT", Some(line)),
                "{bad:?}: {e}"
            );
        }
        let empty = Checkpoint { size: 0, ..cp() };
        assert!(Checkpoint::parse_body(&empty.body().unwrap()).is_err());
        let empty = Checkpoint {
            size: 0,
            root: merkle::empty_root(),
            head_hash: Digest::ZERO,
            ..cp()
        };
        assert_eq!(
            Checkpoint::parse_body(&empty.body().unwrap()).unwrap(),
            empty
        );
        let bad_org = Checkpoint {
            org_id: "a+b".into(),
            ..cp()
        };
        assert!(bad_org.body().is_err());
    }
}
