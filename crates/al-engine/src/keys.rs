//! API keys and the caller's randomness.
//!
//! A key is `al_live_` (agent) or `al_svc_` (service) followed by 52
//! lowercase base32 characters (RFC 4648 alphabet, no padding) encoding 32
//! random bytes the caller supplies. The engine returns a key once, in the
//! result of the operation that made it, and stores only
//! `SHA-256(key text)`; the chain holds that hash too, never the key.

use std::fmt;

use al_types::Digest;

/// The host's source of random bytes: key material comes from here, and
/// from nowhere else (the engine has no RNG of its own).
///
/// Any `FnMut(&mut [u8])` is an `Entropy`, so a host can pass
/// `|buf: &mut [u8]| getrandom::fill(buf).unwrap()` or a closure over its
/// own CSPRNG. Tests use [`DeterministicEntropy`].
pub trait Entropy {
    /// Fill `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> Entropy for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf);
    }
}

/// A reproducible byte stream for tests and simulations: SHA-256 in
/// counter mode over a seed. **Not** random: never use it for real keys.
#[derive(Clone, Debug)]
pub struct DeterministicEntropy {
    seed: [u8; 32],
    counter: u64,
}

impl DeterministicEntropy {
    /// A stream determined by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> DeterministicEntropy {
        DeterministicEntropy {
            seed: Digest::of(&seed.to_be_bytes()).0,
            counter: 0,
        }
    }
}

impl Entropy for DeterministicEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            self.counter += 1;
            let block = Digest::of_parts(&[&self.seed, &self.counter.to_be_bytes()]);
            for (b, s) in chunk.iter_mut().zip(block.0) {
                *b = s;
            }
        }
    }
}

/// Which kind of principal a key authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// An agent (`al_live_…`): acts, and reads what concerns it.
    Agent,
    /// An org's service key (`al_svc_…`): registers agents, manages
    /// policies, operates approvals and breakers; cannot act.
    Service,
}

impl KeyKind {
    /// The key text prefix.
    #[must_use]
    pub const fn prefix(self) -> &'static str {
        match self {
            KeyKind::Agent => "al_live_",
            KeyKind::Service => "al_svc_",
        }
    }
}

/// Bytes of key material drawn from [`Entropy`] per key.
pub const KEY_BYTES: usize = 32;

/// A raw API key, as returned once to its owner.
///
/// `Debug` and `Display` print only the prefix and a fingerprint (the first
/// 8 hex digits of the key's SHA-256), so logging a result that holds a key
/// never leaks it. [`ApiKey::expose`] gives the text; serialising writes the
/// text too, because a result carrying a key exists to hand it over.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    text: String,
    kind: KeyKind,
}

impl ApiKey {
    /// A fresh key of `kind` from 32 bytes of the caller's entropy.
    #[must_use]
    pub fn generate(kind: KeyKind, entropy: &mut dyn Entropy) -> ApiKey {
        let mut raw = [0u8; KEY_BYTES];
        entropy.fill(&mut raw);
        let mut text = String::with_capacity(kind.prefix().len() + 52);
        text.push_str(kind.prefix());
        base32_lower(&raw, &mut text);
        ApiKey { text, kind }
    }

    /// The key text. Handle with care: this is the secret.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Which kind of key.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// `SHA-256(key text)`: what the engine and the chain store.
    #[must_use]
    pub fn hash(&self) -> Digest {
        Digest::of(self.text.as_bytes())
    }

    /// The public fingerprint: the first 8 hex digits of [`ApiKey::hash`].
    #[must_use]
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.hash())
    }
}

/// The public fingerprint of a key hash: its first 8 hex digits.
#[must_use]
pub fn fingerprint(hash: &Digest) -> String {
    hex::encode(hash.0.get(..4).unwrap_or_default())
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}…{})", self.kind.prefix(), self.fingerprint())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…{}", self.kind.prefix(), self.fingerprint())
    }
}

impl serde::Serialize for ApiKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// RFC 4648 base32, lowercase, no padding.
fn base32_lower(data: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let i = ((acc >> bits) & 31) as usize;
            out.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'a')));
        }
    }
    if bits > 0 {
        let i = ((acc << (5 - bits)) & 31) as usize;
        out.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'a')));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        // RFC 4648 §10, lowercased, without padding.
        for (input, want) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            let mut s = String::new();
            base32_lower(input.as_bytes(), &mut s);
            assert_eq!(s, want, "{input}");
        }
    }

    #[test]
    fn keys_have_their_prefix_and_never_print() {
        let mut e = DeterministicEntropy::new(1);
        let k = ApiKey::generate(KeyKind::Agent, &mut e);
        assert!(k.expose().starts_with("al_live_"));
        assert_eq!(k.expose().len(), 8 + 52);
        let s = ApiKey::generate(KeyKind::Service, &mut e);
        assert!(s.expose().starts_with("al_svc_"));
        assert_ne!(k.expose()[8..], s.expose()[7..]);
        for shown in [format!("{k:?}"), format!("{k}"), format!("{s:?}")] {
            assert!(!shown.contains(&k.expose()[8..]), "{shown}");
            assert!(!shown.contains(&s.expose()[7..]), "{shown}");
        }
        assert_eq!(format!("{k}"), format!("al_live_…{}", k.fingerprint()));
        assert_eq!(k.hash(), Digest::of(k.expose().as_bytes()));
    }

    #[test]
    fn deterministic_entropy_is_a_stream() {
        let (mut a, mut b) = (DeterministicEntropy::new(9), DeterministicEntropy::new(9));
        let (mut x, mut y) = ([0u8; 40], [0u8; 40]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        a.fill(&mut x);
        assert_ne!(x, y);
        let mut c = DeterministicEntropy::new(10);
        c.fill(&mut y);
        assert_ne!(x, y);
    }
}
