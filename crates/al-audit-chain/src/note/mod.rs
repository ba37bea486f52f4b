//! C2SP signed notes (<https://c2sp.org/signed-note>): a text, a blank
//! line, and signature lines `— <key name> <base64(key id || signature)>`.
//!
//! # Why not the `signed_note` crate
//!
//! Written here rather than taken from the `signed_note` crate (Cloudflare's
//! port of Go's `sumdb/note`), which was evaluated first. It implements the
//! same format and the same Ed25519 key texts, but, as published (0.2.0,
//! checked with `cargo info signed_note` on 2026-11-29):
//!
//! - it depends on `sha2` 0.10, `base64` 0.21, `thiserror` 1,
//!   `ed25519-dalek` 2, `signature` 2 and `rand_core` 0.6, each an older
//!   major than this workspace's (`sha2` 0.11, `base64` 0.22, `thiserror`
//!   2, `ed25519-dalek` 3): a second copy of each in every build;
//! - its signer trait returns `signature::Error` and its verifier trait
//!   also requires `extract_timestamp_millis`, so an HSM host would
//!   implement a foreign trait with a foreign error instead of
//!   [`NoteSigner`] with this crate's [`Error`];
//! - its one error, `MalformedNote`, does not say which line or why, where
//!   this crate answers `INVALID_CHECKPOINT` naming the line; and its
//!   signature-line parser documents a (guarded) panic path.
//!
//! The format itself is about a hundred lines here, checked against the
//! Go `sumdb/note` vector and the C2SP example key (tests below), so the
//! interoperability the crate would bring is pinned without it.
//!
//! Signing and checking go through two small traits, [`NoteSigner`] and
//! [`NoteVerifier`], so a host can keep its key in an HSM; with the
//! `ed25519` feature (default) this crate provides [`Ed25519Signer`] and
//! [`Ed25519Verifier`] with the key texts Go's `sumdb/note` uses
//! (`PRIVATE+KEY+<name>+<id>+<base64>` and `<name>+<id>+<base64>`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::Error;

/// Largest note read, in bytes.
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// Most signature lines read (the signed-note spec asks verifiers to
/// accept at least 16).
pub const MAX_SIGNATURES: usize = 100;
/// Signature type byte of Ed25519 (signed-note §"Signature types").
pub const ED25519: u8 = 0x01;

/// Signs note texts with one key.
pub trait NoteSigner {
    /// The key name (non-empty, no Unicode space, no `+`).
    fn name(&self) -> &str;
    /// The 32-bit key id.
    fn key_id(&self) -> u32;
    /// Sign `text` (the note text, final newline included).
    ///
    /// # Errors
    /// [`Error::Signing`] when the key refuses (an HSM may).
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, Error>;
}

/// Checks signatures of one key.
pub trait NoteVerifier {
    /// The key name.
    fn name(&self) -> &str;
    /// The 32-bit key id.
    fn key_id(&self) -> u32;
    /// Whether `signature` is this key's signature of `text`.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool;
}

/// The key id the signed-note spec recommends:
/// `SHA-256(name || 0x0A || signature type || public key)[:4]`, big-endian.
#[must_use]
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let d = al_types::Digest::of_parts(&[name.as_bytes(), b"\n", &[sig_type], public_key]);
    let [a, b, c, e, ..] = d.0;
    u32::from_be_bytes([a, b, c, e])
}

/// Whether `name` may name a key: non-empty, no Unicode space, no `+`.
#[must_use]
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key id.
    pub key_id: u32,
    /// The signature bytes (after the key id).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    fn line(&self) -> String {
        let mut b = self.key_id.to_be_bytes().to_vec();
        b.extend_from_slice(&self.signature);
        format!("— {} {}\n", self.name, B64.encode(b))
    }
}

/// A parsed note: its text and signature lines (not yet verified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

fn bad(line: usize, problem: impl Into<String>) -> Error {
    Error::Checkpoint {
        line: line as u64,
        problem: problem.into(),
    }
}

/// A note text must be UTF-8 without control characters other than newline.
fn check_text(text: &str) -> Result<(), Error> {
    if let Some((i, _)) = text
        .char_indices()
        .find(|&(_, c)| c < '\u{20}' && c != '\n')
    {
        let line = text.get(..i).map_or(0, |t| t.matches('\n').count()) + 1;
        return Err(bad(line, "control character in the note"));
    }
    Ok(())
}

impl Note {
    /// Sign `text` (which must end with a newline) with every signer.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] for a text a note cannot hold,
    /// [`Error::InvalidKey`] for a bad key name, or a signer's error.
    pub fn sign(text: &str, signers: &[&dyn NoteSigner]) -> Result<Note, Error> {
        check_text(text)?;
        if !text.ends_with('\n') || text.len() > MAX_NOTE_BYTES {
            return Err(bad(
                1,
                "a note text must end with a newline and fit in 1 MiB",
            ));
        }
        let mut signatures = Vec::with_capacity(signers.len());
        for s in signers {
            if !valid_key_name(s.name()) {
                return Err(Error::InvalidKey {
                    reason: format!("`{}` is not a key name", s.name()),
                });
            }
            signatures.push(NoteSignature {
                name: s.name().to_owned(),
                key_id: s.key_id(),
                signature: s.sign(text.as_bytes())?,
            });
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Parse a signed note. Every signature line must be well-formed: a
    /// garbled one rejects the note rather than being skipped.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the line.
    pub fn parse(note: &str) -> Result<Note, Error> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(bad(1, "note larger than 1 MiB"));
        }
        check_text(note)?;
        // The text ends at the last blank line.
        let Some(split) = note.rfind("\n\n") else {
            return Err(bad(1, "no blank line before signatures"));
        };
        let (text, rest) = note.split_at(split + 1);
        let sigs = rest.strip_prefix('\n').unwrap_or(rest);
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(bad(
                text.matches('\n').count() + 2,
                "the last signature line must end with a newline",
            ));
        };
        let first = text.matches('\n').count() + 2;
        let mut signatures = Vec::new();
        for (i, line) in sigs.split('\n').enumerate() {
            let n = first + i;
            if signatures.len() == MAX_SIGNATURES {
                return Err(bad(n, "more than 100 signatures"));
            }
            let body = line
                .strip_prefix("— ")
                .ok_or_else(|| bad(n, "a signature line starts with `— ` (U+2014, space)"))?;
            let (name, b64) = body
                .split_once(' ')
                .ok_or_else(|| bad(n, "a signature line is `— <key name> <base64>`"))?;
            if !valid_key_name(name) {
                return Err(bad(n, format!("`{name}` is not a key name")));
            }
            let raw = B64
                .decode(b64)
                .map_err(|_| bad(n, "signature is not standard base64"))?;
            let Some((id, sig)) = raw.split_first_chunk::<4>() else {
                return Err(bad(n, "signature shorter than its 4-byte key id"));
            };
            if sig.is_empty() {
                return Err(bad(n, "empty signature"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: u32::from_be_bytes(*id),
                signature: sig.to_vec(),
            });
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text (final newline included).
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    #[must_use]
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// The signed note: text, blank line, signature lines.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = self.text.clone();
        s.push('\n');
        for sig in &self.signatures {
            s.push_str(&sig.line());
        }
        s
    }

    /// Check the signatures against the keys the caller trusts, as the
    /// spec says: signatures of unknown keys (no verifier with both the
    /// name and the id) are ignored; a known key's signature that fails
    /// rejects the note; at least one known key must have signed. Returns
    /// the names of the keys that verified.
    ///
    /// # Errors
    /// [`Error::CheckpointForged`] when a trusted key's signature fails,
    /// [`Error::CheckpointUnverified`] when no trusted key signed.
    pub fn verify(&self, verifiers: &[&dyn NoteVerifier]) -> Result<Vec<String>, Error> {
        let mut verified: Vec<String> = Vec::new();
        for sig in &self.signatures {
            let Some(v) = verifiers
                .iter()
                .find(|v| v.name() == sig.name && v.key_id() == sig.key_id)
            else {
                continue;
            };
            if !v.verify(self.text.as_bytes(), &sig.signature) {
                return Err(Error::CheckpointForged {
                    key: format!("{}+{:08x}", sig.name, sig.key_id),
                });
            }
            if !verified.contains(&sig.name) {
                verified.push(sig.name.clone());
            }
        }
        if verified.is_empty() {
            return Err(Error::CheckpointUnverified {
                reason: if self.signatures.is_empty() {
                    "it is not signed".into()
                } else {
                    "no signature is from a trusted key".into()
                },
            });
        }
        Ok(verified)
    }
}

#[cfg(feature = "ed25519")]
pub use ed25519::{Ed25519Signer, Ed25519Verifier};

#[cfg(feature = "ed25519")]
mod ed25519;

#[cfg(all(test, feature = "ed25519"))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use al_types::ErrorCode;

    // golang.org/x/mod/sumdb/note's test vector (note_test.go, example in note.go).
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_sumdb_note_vector() {
        let signer = Ed25519Signer::from_text(SKEY).unwrap();
        assert_eq!(signer.to_text(), SKEY);
        assert_eq!(signer.verifier().to_text(), VKEY);
        let v = Ed25519Verifier::from_text(VKEY).unwrap();
        let note = Note::sign(TEXT, &[&signer]).unwrap();
        // Ed25519 is deterministic: the same bytes as Go.
        assert_eq!(note.to_text(), format!("{TEXT}\n{SIG}"));
        let parsed = Note::parse(&format!("{TEXT}\n{SIG}")).unwrap();
        assert_eq!(parsed.text(), TEXT);
        assert_eq!(
            parsed.verify(&[&v]).unwrap(),
            vec!["PeterNeumann".to_owned()]
        );
        // A changed text fails; an unknown key is ignored, leaving none.
        let forged =
            Note::parse(&format!("{}\n{SIG}", TEXT.replace("answer", "question"))).unwrap();
        assert_eq!(
            forged.verify(&[&v]).unwrap_err().code(),
            "CHECKPOINT_SIGNATURE_INVALID"
        );
        let other = Ed25519Signer::from_seed("PeterNeumann", [7; 32])
            .unwrap()
            .verifier();
        assert!(parsed.verify(&[&other]).is_err());
    }

    #[test]
    fn c2sp_example_key_vector() {
        // c2sp.org/signed-note's example key and note.
        let v = Ed25519Verifier::from_text(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .unwrap();
        let note = Note::parse("This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n").unwrap();
        assert!(note.verify(&[&v]).is_ok());
    }

    #[test]
    fn malformed_notes_and_keys() {
        let good = format!("{TEXT}\n{SIG}");
        for (bad, why) in [
            (TEXT.to_owned(), "no signatures"),
            (format!("{TEXT}\n— PeterNeumann !!!\n"), "garbage base64"),
            (format!("{TEXT}\nsignature: abcd\n"), "old-style line"),
            (format!("{TEXT}\n— PeterNeumann AAAA\n"), "too short"),
            (
                format!("{TEXT}\n— Peter+Neumann x08go/ZJ\n"),
                "plus in name",
            ),
            (good.trim_end().to_owned(), "no final newline"),
            (format!("{TEXT}\n{SIG}— \n"), "empty line"),
            (good.replace("problem,", "problem,\t"), "control character"),
        ] {
            assert!(Note::parse(&bad).is_err(), "{why}");
        }
        for bad in [
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+AhpcqQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "",
        ] {
            assert_eq!(
                Ed25519Verifier::from_text(bad).unwrap_err().code(),
                "INVALID_KEY",
                "{bad}"
            );
        }
        assert!(Ed25519Signer::from_text(VKEY).is_err());
        let s = Ed25519Signer::from_text(SKEY).unwrap();
        assert_eq!(format!("{s:?}"), "Ed25519Signer(PeterNeumann+c74f20a3)");
    }

    /// A known key whose signature fails rejects the note even when another
    /// known key signed it well.
    #[test]
    fn a_failing_known_signature_rejects() {
        let a = Ed25519Signer::from_seed("a.example/log", [1; 32]).unwrap();
        let b = Ed25519Signer::from_seed("b.example/log", [2; 32]).unwrap();
        let note = Note::sign("x\n", &[&a, &b]).unwrap();
        let mut text = note.to_text();
        assert!(
            Note::parse(&text)
                .unwrap()
                .verify(&[&a.verifier(), &b.verifier()])
                .is_ok()
        );
        // Corrupt b's signature (the last base64 character before '\n').
        let cut = text.len() - 3;
        text.replace_range(
            cut..cut + 1,
            if &text[cut..cut + 1] == "A" { "B" } else { "A" },
        );
        let n = Note::parse(&text).unwrap();
        assert!(n.verify(&[&a.verifier()]).is_ok(), "b is unknown: ignored");
        assert!(n.verify(&[&a.verifier(), &b.verifier()]).is_err());
    }
}
