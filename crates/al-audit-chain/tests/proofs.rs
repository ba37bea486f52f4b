//! Exhaustive proof checks for every size up to 64.

use al_audit_chain::Hash;
use al_audit_chain::merkle::{
    MerkleTree, leaf_hash, naive_root, verify_consistency, verify_inclusion,
};

fn tree(n: u64) -> (MerkleTree, Vec<Hash>) {
    let mut t = MerkleTree::new();
    let hashes: Vec<Hash> = (0..n).map(|i| Hash::of(&i.to_be_bytes())).collect();
    for h in &hashes {
        t.push(h);
    }
    (t, hashes)
}

fn flip(h: &Hash) -> Hash {
    let mut x = *h;
    x.0[7] ^= 0x10;
    x
}

#[test]
fn roots_match_naive_at_every_size() {
    let (t, hashes) = tree(70);
    for n in 0..=70 {
        assert_eq!(
            t.root_at(n).unwrap(),
            naive_root(&hashes[..n as usize]),
            "size {n}"
        );
    }
    assert_eq!(t.root(), naive_root(&hashes));
    assert_eq!(t.root_at(71), None);
}

#[test]
fn every_inclusion_proof_up_to_64_verifies_and_mutations_fail() {
    let (t, hashes) = tree(65);
    for n in 1..=64u64 {
        let root = t.root_at(n).unwrap();
        for i in 0..n {
            let leaf = leaf_hash(&hashes[i as usize]);
            let p = t.inclusion_proof(i, n).unwrap();
            assert!(p.len() <= 6);
            assert!(verify_inclusion(i, n, &leaf, &p, &root), "n={n} i={i}");
            assert!(!verify_inclusion(i, n, &flip(&leaf), &p, &root));
            assert!(!verify_inclusion(i, n, &leaf, &p, &flip(&root)));
            for k in 0..p.len() {
                let mut q = p.clone();
                q[k] = flip(&q[k]);
                assert!(
                    !verify_inclusion(i, n, &leaf, &q, &root),
                    "flipped path n={n} i={i} k={k}"
                );
            }
            if !p.is_empty() {
                assert!(
                    !verify_inclusion(i, n, &leaf, &p[..p.len() - 1], &root),
                    "truncated n={n} i={i}"
                );
            }
            let mut longer = p.clone();
            longer.push(root);
            assert!(!verify_inclusion(i, n, &leaf, &longer, &root));
            if i + 1 < n {
                assert!(
                    !verify_inclusion(i + 1, n, &leaf, &p, &root),
                    "index+1 n={n} i={i}"
                );
            }
            if i > 0 {
                assert!(
                    !verify_inclusion(i - 1, n, &leaf, &p, &root),
                    "index-1 n={n} i={i}"
                );
            }
            assert!(
                !verify_inclusion(i, n + 1, &leaf, &p, &t.root_at(n + 1).unwrap()),
                "size+1 n={n} i={i}"
            );
            if n > 1 && i < n - 1 {
                assert!(
                    !verify_inclusion(i, n - 1, &leaf, &p, &t.root_at(n - 1).unwrap()),
                    "size-1 n={n} i={i}"
                );
            }
        }
        assert_eq!(t.inclusion_proof(n, n), None);
    }
}

#[test]
fn every_consistency_proof_up_to_64_verifies_and_mutations_fail() {
    let (t, _) = tree(65);
    for n in 1..=64u64 {
        let rn = t.root_at(n).unwrap();
        for m in 1..=n {
            let rm = t.root_at(m).unwrap();
            let p = t.consistency_proof(m, n).unwrap();
            assert!(verify_consistency(m, n, &rm, &rn, &p), "m={m} n={n}");
            if m == n {
                assert!(p.is_empty());
                continue;
            }
            assert!(!verify_consistency(m, n, &flip(&rm), &rn, &p));
            assert!(!verify_consistency(m, n, &rm, &flip(&rn), &p));
            for k in 0..p.len() {
                let mut q = p.clone();
                q[k] = flip(&q[k]);
                assert!(
                    !verify_consistency(m, n, &rm, &rn, &q),
                    "flipped m={m} n={n} k={k}"
                );
            }
            assert!(
                !verify_consistency(m, n, &rm, &rn, &p[..p.len() - 1]),
                "truncated m={m} n={n}"
            );
            if m + 1 < n {
                assert!(
                    !verify_consistency(m + 1, n, &t.root_at(m + 1).unwrap(), &rn, &p),
                    "m+1 m={m} n={n}"
                );
            }
            if m > 1 {
                assert!(
                    !verify_consistency(m - 1, n, &t.root_at(m - 1).unwrap(), &rn, &p),
                    "m-1 m={m} n={n}"
                );
            }
            assert!(
                !verify_consistency(m, n + 1, &rm, &t.root_at(n + 1).unwrap(), &p),
                "n+1 m={m} n={n}"
            );
            if n - 1 > m {
                assert!(
                    !verify_consistency(m, n - 1, &rm, &t.root_at(n - 1).unwrap(), &p),
                    "n-1 m={m} n={n}"
                );
            }
        }
    }
    assert_eq!(t.consistency_proof(0, 5), None);
    assert!(!verify_consistency(0, 5, &Hash::ZERO, &Hash::ZERO, &[]));
}
