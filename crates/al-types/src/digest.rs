//! SHA-256 values.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::error::ErrorCode;

/// A SHA-256 value: policy and set digests, audit entry hashes, Merkle
/// nodes, key hashes. Written as 64 lowercase hex digits; only that form
/// is read back (one value, one spelling).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; 32]);

/// A text that is not 64 lowercase hex digits (`INVALID_DIGEST`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a SHA-256 digest (64 lowercase hex digits)")]
pub struct DigestParseError {
    /// The offending text, cut to 80 characters.
    pub input: String,
}

impl ErrorCode for DigestParseError {
    fn code(&self) -> &'static str {
        "INVALID_DIGEST"
    }
}

impl Digest {
    /// 32 zero bytes (the `prev_hash` of an audit chain's first entry).
    pub const ZERO: Digest = Digest([0; 32]);

    /// SHA-256 of `data`.
    #[must_use]
    pub fn of(data: &[u8]) -> Digest {
        Digest(Sha256::digest(data).into())
    }

    /// SHA-256 of the concatenation of `parts` (no separators).
    #[must_use]
    pub fn of_parts(parts: &[&[u8]]) -> Digest {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Digest(h.finalize().into())
    }

    /// Parse 64 lowercase hex digits; `None` for anything else.
    #[must_use]
    pub fn from_hex(s: &str) -> Option<Digest> {
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Digest(out))
    }

    /// The raw 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Write the 64 hex digits into `out`.
    pub fn write_hex(&self, out: &mut String) {
        out.push_str(self.hex_array().as_str());
    }

    /// The 64 lowercase hex digits, on the stack (no allocation): what
    /// `Display` and `Serialize` write.
    fn hex_array(&self) -> HexArray {
        fn digit(n: u8) -> u8 {
            if n < 10 { b'0' + n } else { b'a' + n - 10 }
        }
        let mut buf = [0u8; 64];
        for (pair, b) in buf.chunks_exact_mut(2).zip(self.0) {
            if let [hi, lo] = pair {
                *hi = digit(b >> 4);
                *lo = digit(b & 15);
            }
        }
        HexArray(buf)
    }
}

/// A digest's hex text on the stack.
struct HexArray([u8; 64]);

impl HexArray {
    fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl From<[u8; 32]> for Digest {
    fn from(b: [u8; 32]) -> Digest {
        Digest(b)
    }
}

impl std::str::FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Digest, DigestParseError> {
        Digest::from_hex(s).ok_or_else(|| DigestParseError {
            input: s.chars().take(80).collect(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex_array().as_str())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.hex_array().as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Digest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 lowercase hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Digest, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_180_vectors() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::of(b"abc"), Digest::of_parts(&[b"a", b"", b"bc"]));
    }

    #[test]
    fn one_spelling() {
        let d = Digest::of(b"abc");
        let s = d.to_string();
        assert_eq!(Digest::from_hex(&s), Some(d));
        assert_eq!(s.parse::<Digest>().unwrap(), d);
        assert_eq!(Digest::from_hex(&s.to_uppercase()), None);
        assert_eq!(Digest::from_hex(&s[..63]), None);
        assert_eq!(Digest::from_hex(&format!("{s}0")), None);
        assert_eq!(Digest::from_hex(&format!("{}g", &s[..63])), None);
        assert_eq!(Digest::from_hex(&format!("+{}", &s[..63])), None);
        let e = "xyz".parse::<Digest>().unwrap_err();
        assert_eq!(e.code(), "INVALID_DIGEST");
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{s}\""));
        assert_eq!(
            serde_json::from_str::<Digest>(&format!("\"{s}\"")).unwrap(),
            d
        );
        assert!(serde_json::from_str::<Digest>("\"ABC\"").is_err());
        assert_eq!(format!("{d:?}"), format!("Digest({s})"));
    }
}
