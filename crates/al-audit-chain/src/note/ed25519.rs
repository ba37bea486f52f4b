//! Ed25519 note keys in Go's `sumdb/note` text forms.

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
