//! A map keyed by strings an agent or a user chooses, for the query
//! indexes: one integer lookup per access instead of a string comparison
//! per B-tree level.
//!
//! Keys are grouped by an unkeyed 64-bit hash of their bytes ([`bucket`])
//! in an ordered map of buckets; a bucket holds one key (the usual case) or,
//! when keys share a hash, an ordered map of them. Whoever picks keys that
//! collide (the hash is public, so they can) only puts them in one
//! [`BTreeMap`]: lookups stay O(log n) comparisons, as with a plain
//! `BTreeMap<Box<str>, V>`, so no seed is needed to resist hash flooding.
//! Nothing iterates these maps, so their order reaches no output.

use std::collections::BTreeMap;

/// The multiplier of FxHash (rustc's hasher).
const K: u64 = 0x517c_c1b7_2722_0a95;

/// The bucket of `key`: FxHash over its 8-byte words (the last one
/// zero-padded) and its length.
pub(crate) fn bucket(key: &[u8]) -> u64 {
    let mut h = (key.len() as u64).wrapping_mul(K);
    let mut words = key.chunks_exact(8);
    for w in words.by_ref() {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        if let Some(dst) = b.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    h
}

/// The keys of one hash: the first one inline, any others (keys that
/// collide with it) in an ordered map.
#[derive(Clone, Debug)]
struct Bucket<V> {
    key: Box<str>,
    value: V,
    more: BTreeMap<Box<str>, V>,
}

/// A map from strings to `V` (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct StrMap<V> {
    buckets: BTreeMap<u64, Bucket<V>>,
    hash: fn(&[u8]) -> u64,
}

impl<V> Default for StrMap<V> {
    fn default() -> Self {
        StrMap::with_hash(bucket)
    }
}

impl<V> StrMap<V> {
    /// A map whose buckets come from `hash` (tests make every key collide).
    pub(crate) fn with_hash(hash: fn(&[u8]) -> u64) -> StrMap<V> {
        StrMap {
            buckets: BTreeMap::new(),
            hash,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        let b = self.buckets.get(&(self.hash)(key.as_bytes()))?;
        if *b.key == *key {
            Some(&b.value)
        } else {
            b.more.get(key)
        }
    }

    /// The value of `key`, inserting `make()` first if it is absent; the
    /// key is copied only then (and on every access to a key that shares
    /// its hash with an earlier one).
    pub(crate) fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        use std::collections::btree_map::Entry;
        match self.buckets.entry((self.hash)(key.as_bytes())) {
            Entry::Vacant(e) => {
                &mut e
                    .insert(Bucket {
                        key: key.into(),
                        value: make(),
                        more: BTreeMap::new(),
                    })
                    .value
            }
            Entry::Occupied(e) => {
                let b = e.into_mut();
                if *b.key == *key {
                    &mut b.value
                } else {
                    b.more.entry(key.into()).or_insert_with(make)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Ops: insert-or-get then mutate, and lookups, over a small key space
    /// (so keys repeat), against a plain `BTreeMap<String, _>`, with the
    /// real hash, a hash that puts every key in one bucket, and one by length.
    fn run(hash: fn(&[u8]) -> u64, ops: &[(bool, String, u64)]) -> Result<(), TestCaseError> {
        let mut fast: StrMap<Vec<u64>> = StrMap::with_hash(hash);
        let mut naive: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (insert, k, v) in ops {
            if *insert {
                fast.get_or_insert_with(k, Vec::new).push(*v);
                naive.entry(k.clone()).or_default().push(*v);
            }
            prop_assert_eq!(fast.get(k), naive.get(k));
        }
        for k in naive.keys() {
            prop_assert_eq!(fast.get(k), naive.get(k));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn behaves_like_an_ordered_map(ops in prop::collection::vec(
            (any::<bool>(), "(abcdefgh|agt_|)[ab\\x00é]{0,9}", any::<u64>()), 0..200)
        ) {
            run(bucket, &ops)?;
            run(|_| 7, &ops)?;
            run(|k| k.len() as u64, &ops)?;
        }
    }

    #[test]
    fn bucket_reads_every_byte() {
        let keys = [
            "",
            "a",
            "a\0",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            "bbcdefgh",
            "abcdefgi",
        ];
        let mut hs: Vec<u64> = keys.iter().map(|k| bucket(k.as_bytes())).collect();
        hs.sort_unstable();
        hs.dedup();
        assert_eq!(hs.len(), keys.len());
    }
}
