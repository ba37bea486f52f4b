//! C2SP signed notes (<https://c2sp.org/signed-note>): a text, a blank
//! line, and signature lines `— <key name> <base64(key id || signature)>`.
//!
//! Written here rather than taken from the `signed_note` crate, which was
//! evaluated first: it implements the same format, but pulls a second
//! copy of `sha2`, `base64`, `thiserror` and `rand_core` (older majors than
//! this workspace's), returns a foreign error type from its `Signer` trait
//! and has panicking paths; the format itself is about a hundred lines.
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
/// Most signature lines read (the spec asks verifiers to take at least 16).
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

/// The key id the spec recommends:
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
pub use ed::{Ed25519Signer, Ed25519Verifier};

#[cfg(feature = "ed25519")]
mod ed {
    use std::fmt;

    use base64::Engine as _;
    use ed25519_dalek::ed25519::signature::Signer as _;

    use super::{B64, ED25519, NoteSigner, NoteVerifier, key_id, valid_key_name};
    use crate::error::Error;

    fn invalid(reason: &str) -> Error {
        Error::InvalidKey {
            reason: reason.to_owned(),
        }
    }

    /// `<name>+<8 hex id>+<base64(type || key)>` → (name, id, key bytes),
    /// checking the type byte.
    fn split_key(text: &str) -> Result<(&str, u32, Vec<u8>), Error> {
        // Names have no `+`; base64 may.
        let mut parts = text.trim_end_matches('\n').splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid("a key is `<name>+<8 hex digits>+<base64>`"));
        };
        if !valid_key_name(name) {
            return Err(invalid("the key name is empty or has a space or `+`"));
        }
        if id.len() != 8
            || !id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid("the key id is 8 lowercase hex digits"));
        }
        let id = u32::from_str_radix(id, 16).map_err(|_| invalid("bad key id"))?;
        let raw = B64
            .decode(b64)
            .map_err(|_| invalid("the key is not standard base64"))?;
        match raw.split_first() {
            Some((&ED25519, key)) if key.len() == 32 => Ok((name, id, key.to_vec())),
            Some((&ED25519, _)) => Err(invalid("an Ed25519 key is 32 bytes")),
            _ => Err(invalid("not an Ed25519 key (type byte 0x01)")),
        }
    }

    /// An Ed25519 note signer holding its secret key in memory.
    /// `Debug` shows the name and id only.
    #[derive(Clone)]
    pub struct Ed25519Signer {
        name: String,
        id: u32,
        key: ed25519_dalek::SigningKey,
    }

    impl fmt::Debug for Ed25519Signer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "Ed25519Signer({}+{:08x})", self.name, self.id)
        }
    }

    impl Ed25519Signer {
        /// A signer from 32 secret bytes the caller supplies (from its
        /// randomness source; this crate has none).
        ///
        /// # Errors
        /// [`Error::InvalidKey`] for a bad name.
        pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Ed25519Signer, Error> {
            if !valid_key_name(name) {
                return Err(invalid("the key name is empty or has a space or `+`"));
            }
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let id = key_id(name, ED25519, key.verifying_key().as_bytes());
            Ok(Ed25519Signer {
                name: name.to_owned(),
                id,
                key,
            })
        }

        /// Read a signer key text `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>`.
        ///
        /// # Errors
        /// [`Error::InvalidKey`], also when the id does not match the key.
        pub fn from_text(text: &str) -> Result<Ed25519Signer, Error> {
            let rest = text
                .strip_prefix("PRIVATE+KEY+")
                .ok_or_else(|| invalid("a signer key starts with `PRIVATE+KEY+`"))?;
            let (name, id, seed) = split_key(rest)?;
            let seed: [u8; 32] = seed.try_into().map_err(|_| invalid("bad seed"))?;
            let s = Ed25519Signer::from_seed(name, seed)?;
            if s.id != id {
                return Err(invalid("the key id does not match the key"));
            }
            Ok(s)
        }

        /// The signer key text (secret: store it like a password).
        #[must_use]
        pub fn to_text(&self) -> String {
            let mut raw = vec![ED25519];
            raw.extend_from_slice(self.key.as_bytes());
            format!(
                "PRIVATE+KEY+{}+{:08x}+{}",
                self.name,
                self.id,
                B64.encode(raw)
            )
        }

        /// The matching verifier.
        #[must_use]
        pub fn verifier(&self) -> Ed25519Verifier {
            Ed25519Verifier {
                name: self.name.clone(),
                id: self.id,
                key: self.key.verifying_key(),
            }
        }
    }

    impl NoteSigner for Ed25519Signer {
        fn name(&self) -> &str {
            &self.name
        }
        fn key_id(&self) -> u32 {
            self.id
        }
        fn sign(&self, text: &[u8]) -> Result<Vec<u8>, Error> {
            Ok(self.key.sign(text).to_bytes().to_vec())
        }
    }

    /// An Ed25519 note verifier (a public key and its name).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Ed25519Verifier {
        name: String,
        id: u32,
        key: ed25519_dalek::VerifyingKey,
    }

    impl Ed25519Verifier {
        /// Read a verifier key text `<name>+<id>+<base64(0x01 || public key)>`.
        ///
        /// # Errors
        /// [`Error::InvalidKey`], also when the id does not match the key
        /// or the key is not a valid Ed25519 point.
        pub fn from_text(text: &str) -> Result<Ed25519Verifier, Error> {
            let (name, id, key) = split_key(text)?;
            let bytes: [u8; 32] = key.try_into().map_err(|_| invalid("bad key"))?;
            if key_id(name, ED25519, &bytes) != id {
                return Err(invalid("the key id does not match the key"));
            }
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| invalid("not an Ed25519 public key"))?;
            if key.is_weak() {
                return Err(invalid("a small-order Ed25519 key verifies anything"));
            }
            Ok(Ed25519Verifier {
                name: name.to_owned(),
                id,
                key,
            })
        }

        /// The verifier key text.
        #[must_use]
        pub fn to_text(&self) -> String {
            let mut raw = vec![ED25519];
            raw.extend_from_slice(self.key.as_bytes());
            format!("{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
        }
    }

    impl NoteVerifier for Ed25519Verifier {
        fn name(&self) -> &str {
            &self.name
        }
        fn key_id(&self) -> u32 {
            self.id
        }
        fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
            let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                return false;
            };
            self.key.verify_strict(text, &sig).is_ok()
        }
    }
}

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
