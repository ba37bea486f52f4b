//! Merkle tree over the log in the RFC 6962 / RFC 9162 shape.
//!
//! `leaf = SHA-256(0x00 || entry_hash)`, `node = SHA-256(0x01 || left || right)`,
//! the empty tree's root is `SHA-256("")`. The tree keeps every leaf hash and
//! every complete subtree of at least [`STORED_FROM_HEIGHT`] levels, so a
//! root, an inclusion proof or a consistency proof at any size costs
//! O(log n) lookups plus at most a few hashes; appending keeps an
//! O(log n) frontier and does amortised O(1) hashing.

use al_types::Digest;
use sha2::{Digest as _, Sha256};

use crate::chunked::Chunked;
use crate::error::ProofError;

/// Subtrees of this height (8 leaves) and above are stored.
pub const STORED_FROM_HEIGHT: u32 = 3;
const HASH_CHUNK: usize = 1 << 14;

/// RFC 9162 leaf hash of an entry hash.
#[must_use]
pub fn leaf_hash(entry_hash: &Digest) -> Digest {
    let mut input = [0u8; 33];
    if let Some(rest) = input.get_mut(1..) {
        rest.copy_from_slice(&entry_hash.0);
    }
    Digest(Sha256::digest(input).into())
}

/// RFC 9162 interior node hash.
#[must_use]
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    // One contiguous input, one hashing call: `0x01 || left || right`.
    let mut input = [1u8; 65];
    let (head, r) = input.split_at_mut(33);
    if let Some(l) = head.get_mut(1..) {
        l.copy_from_slice(&left.0);
    }
    r.copy_from_slice(&right.0);
    Digest(Sha256::digest(input).into())
}

/// The root of the empty tree: SHA-256 of nothing.
#[must_use]
pub fn empty_root() -> Digest {
    Digest::of(&[])
}

fn largest_pow2_below(n: u64) -> u64 {
    // n >= 2
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The right edge of a tree of `size` leaves: `slots[h]` is the root of
/// the complete subtree of height `h` on the edge when bit `h` of `size` is
/// set (a stale value otherwise). Adding a leaf merges the subtrees of the
/// trailing one bits of `size` into one and writes it to the slot of the
/// first zero bit: no shifting, no truncate-and-push (binary carry).
#[derive(Clone, Debug, Default)]
struct Edge {
    slots: Vec<Digest>,
}

impl Edge {
    /// Add `leaf` as leaf number `size` (0-based), calling `done(height,
    /// node)` for each interior node completed (heights 1, 2, ... in order).
    #[inline]
    fn push(&mut self, size: u64, leaf: Digest, mut done: impl FnMut(u32, &Digest)) {
        let mut node = leaf;
        let carries = size.trailing_ones();
        for h in 0..carries {
            let left = self.slots.get(h as usize).copied().unwrap_or_default();
            node = node_hash(&left, &node);
            done(h + 1, &node);
        }
        match self.slots.get_mut(carries as usize) {
            Some(slot) => *slot = node,
            // `carries` is the bit length of `size`: the edge grows by one.
            None => self.slots.push(node),
        }
    }

    /// The root of a tree of `size` leaves whose edge this is.
    fn root(&self, size: u64) -> Digest {
        let mut acc: Option<Digest> = None;
        for (h, slot) in self.slots.iter().enumerate() {
            if size.checked_shr(h as u32).unwrap_or(0) & 1 == 1 {
                acc = Some(match acc {
                    None => *slot,
                    Some(right) => node_hash(slot, &right),
                });
            }
        }
        acc.unwrap_or_else(empty_root)
    }

    fn resident_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Digest>()
    }
}

/// The tree.
#[derive(Clone, Debug, Default)]
pub struct MerkleTree {
    leaves: Chunked<Digest, HASH_CHUNK>,
    levels: Vec<Chunked<Digest, HASH_CHUNK>>,
    edge: Edge,
}

impl MerkleTree {
    /// An empty tree.
    #[must_use]
    pub fn new() -> MerkleTree {
        MerkleTree::default()
    }

    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Append the leaf for `entry_hash`.
    pub fn push(&mut self, entry_hash: &Digest) {
        self.push_leaf(leaf_hash(entry_hash));
    }

    /// The root at the current size (from the frontier: O(log n)).
    #[must_use]
    pub fn root(&self) -> Digest {
        self.edge.root(self.size())
    }

    fn leaf(&self, i: u64) -> Digest {
        self.leaves.get(i as usize).unwrap_or_default()
    }

    /// Hash of the complete, aligned subtree `[start, start + size)`.
    fn subtree(&self, start: u64, size: u64) -> Digest {
        if size == 1 {
            return self.leaf(start);
        }
        let height = size.trailing_zeros();
        if height >= STORED_FROM_HEIGHT
            && let Some(h) = self
                .levels
                .get((height - STORED_FROM_HEIGHT) as usize)
                .and_then(|l| l.get((start / size) as usize))
        {
            return h;
        }
        let half = size / 2;
        node_hash(
            &self.subtree(start, half),
            &self.subtree(start + half, half),
        )
    }

    /// MTH(D[lo:hi]) per RFC 9162 §2.1.1.
    fn mth(&self, lo: u64, hi: u64) -> Digest {
        let n = hi - lo;
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            return self.subtree(lo, n);
        }
        let k = largest_pow2_below(n);
        node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi))
    }

    /// The root of the first `size` leaves; `None` past the current size.
    #[must_use]
    pub fn root_at(&self, size: u64) -> Option<Digest> {
        (size <= self.size()).then(|| self.mth(0, size))
    }

    /// Inclusion proof of leaf `index` (0-based) in the tree of `size`
    /// leaves (RFC 9162 §2.1.3.1). `None` if out of range.
    #[must_use]
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Digest>> {
        if index >= size || size > self.size() {
            return None;
        }
        let mut out = Vec::with_capacity(64);
        self.path(index, 0, size, &mut out);
        Some(out)
    }

    fn path(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<Digest>) {
        let n = hi - lo;
        if n <= 1 {
            return;
        }
        let k = largest_pow2_below(n);
        if m < k {
            self.path(m, lo, lo + k, out);
            out.push(self.mth(lo + k, hi));
        } else {
            self.path(m - k, lo + k, hi, out);
            out.push(self.mth(lo, lo + k));
        }
    }

    /// Consistency proof between sizes `first` and `second`
    /// (RFC 9162 §2.1.4.1). `None` unless `1 <= first <= second <= size`.
    #[must_use]
    pub fn consistency_proof(&self, first: u64, second: u64) -> Option<Vec<Digest>> {
        if first == 0 || first > second || second > self.size() {
            return None;
        }
        let mut out = Vec::with_capacity(64);
        self.subproof(first, 0, second, true, &mut out);
        Some(out)
    }

    fn subproof(&self, m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<Digest>) {
        let n = hi - lo;
        if m == n {
            if !complete {
                out.push(self.mth(lo, hi));
            }
            return;
        }
        let k = largest_pow2_below(n);
        if m <= k {
            self.subproof(m, lo, lo + k, complete, out);
            out.push(self.mth(lo + k, hi));
        } else {
            self.subproof(m - k, lo + k, hi, false, out);
            out.push(self.mth(lo, lo + k));
        }
    }

    fn push_leaf(&mut self, leaf: Digest) {
        let size = self.size();
        self.leaves.push(leaf);
        let levels = &mut self.levels;
        self.edge.push(size, leaf, |height, node| {
            if height >= STORED_FROM_HEIGHT {
                let level = (height - STORED_FROM_HEIGHT) as usize;
                if levels.len() <= level {
                    levels.push(Chunked::default());
                }
                if let Some(l) = levels.get_mut(level) {
                    l.push(*node);
                }
            }
        });
    }

    /// Heap bytes held.
    #[must_use]
    pub fn resident_bytes(&self) -> usize {
        self.leaves.resident_bytes()
            + self
                .levels
                .iter()
                .map(Chunked::resident_bytes)
                .sum::<usize>()
            + self.edge.resident_bytes()
    }
}

/// `(inner, border)`: how many hashes of an inclusion path for leaf `index`
/// in a tree of `size` leaves lie inside the subtree shared with the
/// right edge, and how many on the border (RFC 9162 §2.1.3.2; the same
/// decomposition as the reference Go verifier).
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    // `inner` may be 64 for huge indexes: shift by 64 means nothing is left.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

fn chain_inner(mut seed: Digest, proof: &[Digest], index: u64) -> Digest {
    for (i, h) in proof.iter().enumerate() {
        if index.checked_shr(i as u32).unwrap_or(0) & 1 == 0 {
            seed = node_hash(&seed, h);
        } else {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_inner_right(mut seed: Digest, proof: &[Digest], index: u64) -> Digest {
    for (i, h) in proof.iter().enumerate() {
        if index.checked_shr(i as u32).unwrap_or(0) & 1 == 1 {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_border_right(mut seed: Digest, proof: &[Digest]) -> Digest {
    for h in proof {
        seed = node_hash(h, &seed);
    }
    seed
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2). `index` is
/// 0-based; `leaf` is the leaf hash.
///
/// # Errors
/// [`ProofError::EmptyTree`], [`ProofError::IndexOutOfRange`] or
/// [`ProofError::PathLength`].
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Digest,
    proof: &[Digest],
) -> Result<Digest, ProofError> {
    if size == 0 {
        return Err(ProofError::EmptyTree);
    }
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::PathLength {
            got: proof.len(),
            want: inner + border,
        });
    }
    let (inner_path, border_path) = proof.split_at(inner);
    Ok(chain_border_right(
        chain_inner(*leaf, inner_path, index),
        border_path,
    ))
}

/// Verify an inclusion proof (RFC 9162 §2.1.3.2). `index` is 0-based;
/// `leaf` is the leaf hash. The error says which check failed.
///
/// # Errors
/// As [`root_from_inclusion`], or [`ProofError::RootMismatch`].
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Digest,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(index, size, leaf, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// Verify a consistency proof (RFC 9162 §2.1.4.2) between a tree of
/// `first` leaves with root `first_root` and one of `second` leaves with
/// root `second_root`. `first` must be at least 1 (every log extends the
/// empty one; there is nothing to prove). The error says which check failed.
///
/// # Errors
/// [`ProofError::SizeOrder`], [`ProofError::EqualSizes`],
/// [`ProofError::PathLength`], [`ProofError::FirstRootMismatch`] or
/// [`ProofError::RootMismatch`].
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Digest,
    second_root: &Digest,
    proof: &[Digest],
) -> Result<(), ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::SizeOrder { first, second });
    }
    if first == second {
        if !proof.is_empty() || first_root != second_root {
            return Err(ProofError::EqualSizes);
        }
        return Ok(());
    }
    let (inner, border) = decompose(first - 1, second);
    let shift = first.trailing_zeros() as usize;
    let inner = inner.saturating_sub(shift);
    // The proof starts with the root of the subtree of size 2^shift,
    // unless `first` is that very subtree (then it is `first_root`).
    let (seed, rest) = if first == 1 << shift {
        (Some(*first_root), proof)
    } else {
        match proof.split_first() {
            Some((s, rest)) => (Some(*s), rest),
            None => (None, proof),
        }
    };
    let want = usize::from(first != 1 << shift) + inner + border;
    let Some(seed) = seed.filter(|_| proof.len() == want) else {
        return Err(ProofError::PathLength {
            got: proof.len(),
            want,
        });
    };
    let (inner_path, border_path) = rest.split_at(inner);
    let mask = (first - 1).checked_shr(shift as u32).unwrap_or(0);
    let h1 = chain_border_right(chain_inner_right(seed, inner_path, mask), border_path);
    if h1 != *first_root {
        return Err(ProofError::FirstRootMismatch {
            expected: *first_root,
            computed: h1,
        });
    }
    let h2 = chain_border_right(chain_inner(seed, inner_path, mask), border_path);
    if h2 != *second_root {
        return Err(ProofError::RootMismatch {
            expected: *second_root,
            computed: h2,
        });
    }
    Ok(())
}

/// Root of a list of entry hashes, computed naively (for tests and vectors).
#[must_use]
pub fn naive_root(entry_hashes: &[Digest]) -> Digest {
    fn mth(leaves: &[Digest]) -> Digest {
        match leaves {
            [] => empty_root(),
            [one] => *one,
            _ => {
                let k = largest_pow2_below(leaves.len() as u64) as usize;
                let (l, r) = leaves.split_at(k);
                node_hash(&mth(l), &mth(r))
            }
        }
    }
    let leaves: Vec<Digest> = entry_hashes.iter().map(leaf_hash).collect();
    mth(&leaves)
}

/// The O(log n) right edge of a tree being built: enough to compute the
/// root while streaming, in constant memory per level.
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    edge: Edge,
    size: u64,
}

impl Frontier {
    /// Add the leaf for `entry_hash`.
    pub fn push(&mut self, entry_hash: &Digest) {
        self.edge.push(self.size, leaf_hash(entry_hash), |_, _| {});
        self.size += 1;
    }

    /// Leaves so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the leaves so far.
    #[must_use]
    pub fn root(&self) -> Digest {
        self.edge.root(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary-carry edge against the naive recursive root, at every
    /// size to 300 (carries of up to 8 levels) and from both users of it.
    #[test]
    fn edge_roots_match_naive_at_every_size() {
        let hashes: Vec<Digest> = (0u32..300).map(|i| Digest::of(&i.to_be_bytes())).collect();
        let mut tree = MerkleTree::new();
        let mut frontier = Frontier::default();
        for n in 0..=hashes.len() {
            let want = naive_root(hashes.get(..n).unwrap_or(&[]));
            assert_eq!(tree.root(), want, "tree, size {n}");
            assert_eq!(frontier.root(), want, "frontier, size {n}");
            if let Some(h) = hashes.get(n) {
                tree.push(h);
                frontier.push(h);
            }
        }
        // Every stored level holds the naive root of its aligned subtrees.
        for (i, level) in tree.levels.iter().enumerate() {
            let size = 1usize << (i as u32 + STORED_FROM_HEIGHT);
            assert_eq!(level.len(), hashes.len() / size, "level {i}");
            for j in 0..level.len() {
                let sub = hashes.get(j * size..(j + 1) * size).unwrap_or(&[]);
                assert_eq!(level.get(j), Some(naive_root(sub)), "level {i} node {j}");
            }
        }
    }
}
