//! A keyed hasher for maps whose keys an agent or a user chooses.
//!
//! An unkeyed fast hash (FxHash, the std `DefaultHasher` with fixed keys)
//! lets whoever picks the keys pick colliding ones and turn every lookup
//! into a linear scan (hash flooding). SipHash-1-3 with a secret 128-bit key
//! is the standard answer (it is what std's `RandomState` uses). The cores
//! may not read OS randomness, so the key is supplied by the caller: a host
//! passes 16 random bytes once at start-up.
//!
//! Determinism: a seeded map's *iteration order* depends on the seed, so the
//! crates never let a seeded map's iteration order reach an output (they
//! iterate ordered structures, or sort first).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use siphasher::sip::SipHasher13;

/// A [`BuildHasher`] for SipHash-1-3 keyed by caller-supplied bytes.
///
/// There is deliberately no `Default`: a fixed public key would not resist
/// flooding. Tests that need a value use [`SeededState::new`] with any bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SeededState {
    k0: u64,
    k1: u64,
}

impl SeededState {
    /// A hasher keyed by `seed` (16 random bytes from the host).
    #[must_use]
    pub const fn new(seed: [u8; 16]) -> SeededState {
        let [
            a0,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            a7,
            b0,
            b1,
            b2,
            b3,
            b4,
            b5,
            b6,
            b7,
        ] = seed;
        SeededState {
            k0: u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            k1: u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
        }
    }

    /// An empty map using this hasher.
    #[must_use]
    pub fn map<K, V>(self) -> SeededMap<K, V> {
        HashMap::with_hasher(self)
    }

    /// An empty set using this hasher.
    #[must_use]
    pub fn set<K>(self) -> SeededSet<K> {
        HashSet::with_hasher(self)
    }
}

impl std::fmt::Debug for SeededState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never print it.
        f.write_str("SeededState(..)")
    }
}

impl BuildHasher for SeededState {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// A `HashMap` keyed by a caller-seeded SipHash-1-3.
pub type SeededMap<K, V> = HashMap<K, V, SeededState>;
/// A `HashSet` keyed by a caller-seeded SipHash-1-3.
pub type SeededSet<K> = HashSet<K, SeededState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_changes_hashes_and_debug_hides_it() {
        let a = SeededState::new([1; 16]);
        let b = SeededState::new([2; 16]);
        assert_ne!(a.hash_one("agent-7"), b.hash_one("agent-7"));
        assert_eq!(
            a.hash_one("agent-7"),
            SeededState::new([1; 16]).hash_one("agent-7")
        );
        assert_eq!(format!("{a:?}"), "SeededState(..)");
        let mut m = a.map();
        m.insert("k".to_owned(), 1);
        assert_eq!(m.get("k"), Some(&1));
    }
}
