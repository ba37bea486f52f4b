//! The action types an agent has used: a bounded, exact set.
//!
//! Each type is kept as a 64-bit SipHash-1-3 fingerprint under a fixed,
//! public key, in a sorted array of at most [`MAX_KNOWN`] entries. It is
//! exact up to fingerprint collisions: two distinct types collide with
//! probability 2⁻⁶⁴, so a new type is taken for a known one with probability
//! at most `len / 2⁶⁴` (below 3 · 10⁻¹⁸ when full), and no way is known to
//! construct a SipHash collision faster than by brute force, even with the
//! key public (FNV-style hashes, by contrast, can be inverted). When the set
//! is full (`max_known_types`), further types are not learned and stay
//! unseen: the breaker reports them instead of silently treating them as
//! familiar, which is what the 1 024-bit Bloom filter this replaces did once
//! it filled up.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

/// The most types any configuration may remember.
pub(crate) const MAX_KNOWN: usize = 48;

/// "al-breaker/types" as the SipHash key: fixed so that fingerprints, and so
/// serialised state, are the same on every machine and in every release.
const K0: u64 = u64::from_le_bytes(*b"al-break");
const K1: u64 = u64::from_le_bytes(*b"er/types");

/// The fingerprint of an action type.
pub(crate) fn fingerprint(action_type: &str) -> u64 {
    let mut h = SipHasher13::new_with_keys(K0, K1);
    h.write(action_type.as_bytes());
    h.finish()
}

/// A memo of the last action type (types up to 32 bytes): its fingerprint
/// and whether the known set holds it, so an agent repeating a type neither
/// hashes it again nor searches the set. It is a pure cache: not
/// serialised, and ignored by equality, so a restored breaker (with an
/// empty memo) behaves and compares exactly as the live one (the
/// model-based runner checks this on every action).
#[derive(Clone, Copy)]
pub(crate) struct LastType {
    len: u8,
    bytes: [u8; 32],
    fp: u64,
    /// The type was in the known set when last looked up. INVARIANT: a
    /// breaker's set only grows (recalibration replaces the whole breaker,
    /// memo included), so once true this stays true; while false the set
    /// is searched again, since the type may have been learned since.
    known: bool,
}

impl Default for LastType {
    fn default() -> Self {
        // Length 255 never matches a type of at most 32 bytes.
        LastType {
            len: u8::MAX,
            bytes: [0; 32],
            fp: 0,
            known: false,
        }
    }
}

impl LastType {
    /// The fingerprint of `action_type` and whether `set` knows it, from the
    /// memo when it is the last type seen.
    #[inline]
    pub fn lookup(&mut self, action_type: &str, set: &KnownTypes) -> (u64, bool) {
        let b = action_type.as_bytes();
        if usize::from(self.len) == b.len()
            && self.bytes.get(..b.len()).is_some_and(|m| short_eq(m, b))
        {
            if !self.known {
                self.known = set.contains(self.fp);
            }
            return (self.fp, self.known);
        }
        let fp = fingerprint(action_type);
        let known = set.contains(fp);
        if let (Ok(len), Some(dst)) = (u8::try_from(b.len()), self.bytes.get_mut(..b.len())) {
            dst.copy_from_slice(b);
            self.len = len;
            self.fp = fp;
            self.known = known;
        } else {
            self.len = u8::MAX;
        }
        (fp, known)
    }
}

/// `a == b` for slices of at most 32 bytes, by a few word comparisons
/// instead of a call to `memcmp` (which costs more than the rest of the
/// memo): words from both ends overlap, so together they cover every byte.
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w4 = |s: &[u8], i: usize| {
        s.get(i..i + 4)
            .and_then(|x| <[u8; 4]>::try_from(x).ok())
            .map(u32::from_ne_bytes)
    };
    let w8 = |s: &[u8], i: usize| {
        s.get(i..i + 8)
            .and_then(|x| <[u8; 8]>::try_from(x).ok())
            .map(u64::from_ne_bytes)
    };
    match n {
        0 => true,
        // Indices 0, n/2 and n − 1 are every index when n ≤ 3.
        1..=3 => a.first() == b.first() && a.get(n / 2) == b.get(n / 2) && a.last() == b.last(),
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        17..=32 => {
            w8(a, 0) == w8(b, 0)
                && w8(a, 8) == w8(b, 8)
                && w8(a, n - 16) == w8(b, n - 16)
                && w8(a, n - 8) == w8(b, n - 8)
        }
        _ => a == b,
    }
}

impl PartialEq for LastType {
    fn eq(&self, _: &LastType) -> bool {
        true
    }
}

impl std::fmt::Debug for LastType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LastType(..)")
    }
}

/// A sorted set of at most [`MAX_KNOWN`] fingerprints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KnownTypes {
    len: u8,
    fps: [u64; MAX_KNOWN],
}

impl Default for KnownTypes {
    fn default() -> Self {
        KnownTypes {
            len: 0,
            fps: [0; MAX_KNOWN],
        }
    }
}

impl KnownTypes {
    pub fn as_slice(&self) -> &[u64] {
        self.fps.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub fn len(&self) -> u8 {
        self.len
    }

    pub fn contains(&self, fp: u64) -> bool {
        self.as_slice().binary_search(&fp).is_ok()
    }

    /// Add `fp` unless present or the set holds `cap` entries already.
    pub fn insert(&mut self, fp: u64, cap: u8) {
        let len = usize::from(self.len);
        if len >= usize::from(cap).min(MAX_KNOWN) {
            return;
        }
        let Err(at) = self.as_slice().binary_search(&fp) else {
            return;
        };
        // Shift the tail right by one; `len < MAX_KNOWN`, so it fits.
        if let Some(tail) = self.fps.get_mut(at..=len) {
            tail.rotate_right(1);
        }
        if let Some(slot) = self.fps.get_mut(at) {
            *slot = fp;
            self.len += 1;
        }
    }

    /// From fingerprints as stored; `None` unless strictly increasing and
    /// at most [`MAX_KNOWN`].
    pub fn from_sorted(fps: &[u64]) -> Option<KnownTypes> {
        if fps.len() > MAX_KNOWN || fps.windows(2).any(|w| w.first() >= w.get(1)) {
            return None;
        }
        let mut k = KnownTypes::default();
        for (slot, fp) in k.fps.iter_mut().zip(fps) {
            *slot = *fp;
        }
        k.len = u8::try_from(fps.len()).ok()?;
        Some(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn exact_sorted_and_bounded() {
        let mut k = KnownTypes::default();
        let mut model = BTreeSet::new();
        for i in 0..200u32 {
            let t = format!("type.{}", i % 90);
            let fp = fingerprint(&t);
            k.insert(fp, 40);
            if model.len() < 40 {
                model.insert(fp);
            }
            assert_eq!(k.as_slice(), model.iter().copied().collect::<Vec<_>>());
        }
        assert_eq!(k.len(), 40);
        // Full: a new type stays unseen, never silently familiar.
        let fresh = fingerprint("never.seen");
        k.insert(fresh, 40);
        assert!(!k.contains(fresh));
        assert_eq!(KnownTypes::from_sorted(k.as_slice()), Some(k));
        assert_eq!(KnownTypes::from_sorted(&[2, 1]), None);
        assert_eq!(KnownTypes::from_sorted(&[1, 1]), None);
    }

    #[test]
    fn fingerprints_are_fixed() {
        // Serialised state depends on these values: they must never change.
        assert_eq!(fingerprint("pr.merge"), fingerprint("pr.merge"));
        assert_ne!(fingerprint("pr.merge"), fingerprint("pr.merg"));
        assert_eq!(
            fingerprint(""),
            0xf69b_8ba3_c31c_6a22,
            "{:#x}",
            fingerprint("")
        );
    }

    #[test]
    fn the_memo_is_exact() {
        // (type, learned after this lookup): repeats hit the memo, a type
        // learned between two repeats must be seen as known on the second
        // (the memo's "known" is only ever trusted once true), long types
        // do not fit the memo, and the set filling up changes nothing.
        let long = "x".repeat(40);
        let mut seq = vec![
            ("a.b", false),
            ("a.b", false),
            ("a.bc", false),
            ("a.b", true),
            ("a.b", false),
            ("", false),
            ("", true),
            ("", false),
            (long.as_str(), true),
            (long.as_str(), false),
            ("a.b", false),
            ("a.bc", false),
        ];
        let fill: Vec<String> = (0..48).map(|i| format!("fill.{i}")).collect();
        for t in &fill {
            seq.push((t.as_str(), true));
        }
        seq.extend([("a.bc", true), ("a.bc", false), ("a.b", false)]);
        let mut m = LastType::default();
        let mut set = KnownTypes::default();
        for (i, (t, learn)) in seq.into_iter().enumerate() {
            let want = (fingerprint(t), set.contains(fingerprint(t)));
            assert_eq!(m.lookup(t, &set), want, "step {i}: `{t}`");
            if learn {
                set.insert(fingerprint(t), 48);
            }
        }
        // Full: `a.bc` was never learned.
        assert_eq!(set.len(), 48);
        assert!(!set.contains(fingerprint("a.bc")));
    }

    /// The word comparisons against slice equality: every length up to 40,
    /// equal slices and slices differing in exactly one byte (each
    /// position, each bit).
    #[test]
    fn short_eq_is_slice_equality() {
        for n in 0..=40usize {
            let a: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert!(short_eq(&a, &a.clone()), "len {n}");
            for i in 0..n {
                for bit in 0..8 {
                    let mut b = a.clone();
                    b[i] ^= 1 << bit;
                    assert!(!short_eq(&a, &b), "len {n}, byte {i}, bit {bit}");
                }
            }
            assert!(!short_eq(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    /// The old 1 024-bit filter answered "seen" for 10 % of new types once
    /// it held 200; the exact set answers "seen" for none of 100 000.
    #[test]
    fn no_false_seen_among_many_new_types() {
        let mut k = KnownTypes::default();
        for i in 0..48 {
            k.insert(fingerprint(&format!("known.{i}")), 48);
        }
        let false_seen = (0..100_000)
            .filter(|i| k.contains(fingerprint(&format!("new.{i}"))))
            .count();
        assert_eq!(false_seen, 0);
    }
}
