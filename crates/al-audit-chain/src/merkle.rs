//! Merkle tree over the log in the RFC 6962 / RFC 9162 shape.
//!
//! `leaf = SHA-256(0x00 || entry_hash)`, `node = SHA-256(0x01 || left || right)`,
//! the empty tree's root is `SHA-256("")`. The tree keeps every leaf hash and
//! every complete subtree of at least [`STORED_FROM_HEIGHT`] levels, so a
//! root, an inclusion proof or a consistency proof at any size costs
//! O(log n) lookups plus at most a few hashes; appending keeps an
//! O(log n) frontier and does amortised O(1) hashing.

use sha2::{Digest as _, Sha256};

use crate::chunked::Chunked;
use crate::encoding::Hash;

/// Subtrees of this height (8 leaves) and above are stored.
pub const STORED_FROM_HEIGHT: u32 = 3;
const HASH_CHUNK: usize = 1 << 14;

/// RFC 9162 leaf hash of an entry hash.
#[must_use]
pub fn leaf_hash(entry_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry_hash.0);
    Hash(h.finalize().into())
}

/// RFC 9162 interior node hash.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The root of the empty tree: SHA-256 of nothing.
#[must_use]
pub fn empty_root() -> Hash {
    Hash::of(&[])
}

fn largest_pow2_below(n: u64) -> u64 {
    // n >= 2
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The tree.
#[derive(Clone, Debug, Default)]
pub struct MerkleTree {
    leaves: Chunked<Hash, HASH_CHUNK>,
    levels: Vec<Chunked<Hash, HASH_CHUNK>>,
    frontier: Vec<(u32, Hash)>,
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
    pub fn push(&mut self, entry_hash: &Hash) {
        self.push_leaf(leaf_hash(entry_hash));
    }

    /// The root at the current size (from the frontier: O(log n)).
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut it = self.frontier.iter().rev();
        let Some(&(_, mut acc)) = it.next() else {
            return empty_root();
        };
        for (_, left) in it {
            acc = node_hash(left, &acc);
        }
        acc
    }

    fn leaf(&self, i: u64) -> Hash {
        self.leaves.get(i as usize).unwrap_or_default()
    }

    /// Hash of the complete, aligned subtree `[start, start + size)`.
    fn subtree(&self, start: u64, size: u64) -> Hash {
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
    fn mth(&self, lo: u64, hi: u64) -> Hash {
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
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        (size <= self.size()).then(|| self.mth(0, size))
    }

    /// Inclusion proof of leaf `index` (0-based) in the tree of `size`
    /// leaves (RFC 9162 §2.1.3.1). `None` if out of range.
    #[must_use]
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        if index >= size || size > self.size() {
            return None;
        }
        let mut out = Vec::with_capacity(64);
        self.path(index, 0, size, &mut out);
        Some(out)
    }

    fn path(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) {
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
    pub fn consistency_proof(&self, first: u64, second: u64) -> Option<Vec<Hash>> {
        if first == 0 || first > second || second > self.size() {
            return None;
        }
        let mut out = Vec::with_capacity(64);
        self.subproof(first, 0, second, true, &mut out);
        Some(out)
    }

    fn subproof(&self, m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<Hash>) {
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

    fn push_leaf(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
        self.frontier.push((0, leaf));
        while let [.., (hl, l), (hr, r)] = self.frontier.as_slice() {
            if hl != hr {
                break;
            }
            let (height, node) = (hl + 1, node_hash(l, r));
            self.frontier.truncate(self.frontier.len() - 2);
            if height >= STORED_FROM_HEIGHT {
                let level = (height - STORED_FROM_HEIGHT) as usize;
                if self.levels.len() <= level {
                    self.levels.push(Chunked::default());
                }
                if let Some(l) = self.levels.get_mut(level) {
                    l.push(node);
                }
            }
            self.frontier.push((height, node));
        }
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
            + self.frontier.capacity() * std::mem::size_of::<(u32, Hash)>()
    }
}

/// Verify an inclusion proof (RFC 9162 §2.1.3.2). `index` is 0-based.
#[must_use]
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode, mut r) = (index, size - 1, *leaf);
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Verify a consistency proof (RFC 9162 §2.1.4.2) between a tree of
/// `first` leaves with root `first_root` and one of `second` leaves with
/// root `second_root`.
#[must_use]
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((&first_hash, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (first_hash, first_hash);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && fr == *first_root && sr == *second_root
}

/// Root of a list of entry hashes, computed naively (for tests and vectors).
#[must_use]
pub fn naive_root(entry_hashes: &[Hash]) -> Hash {
    fn mth(leaves: &[Hash]) -> Hash {
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
    let leaves: Vec<Hash> = entry_hashes.iter().map(leaf_hash).collect();
    mth(&leaves)
}

/// The O(log n) right edge of a tree being built: enough to compute the
/// root while streaming, in constant memory per level.
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    stack: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    /// Add the leaf for `entry_hash`.
    pub fn push(&mut self, entry_hash: &Hash) {
        self.stack.push((0, leaf_hash(entry_hash)));
        self.size += 1;
        while let [.., (hl, l), (hr, r)] = self.stack.as_slice() {
            if hl != hr {
                break;
            }
            let merged = (hl + 1, node_hash(l, r));
            self.stack.truncate(self.stack.len() - 2);
            self.stack.push(merged);
        }
    }

    /// Leaves so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the leaves so far.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, mut acc)) = it.next() else {
            return empty_root();
        };
        for (_, left) in it {
            acc = node_hash(left, &acc);
        }
        acc
    }
}
