//! Exhaustive proof checks for every size up to 64.

use al_audit_chain::merkle::{
    MerkleTree, leaf_hash, naive_root, verify_consistency, verify_inclusion,
};
use al_types::Digest;

fn vi(i: u64, n: u64, leaf: &Digest, p: &[Digest], root: &Digest) -> bool {
    verify_inclusion(i, n, leaf, p, root).is_ok()
}

fn vc(m: u64, n: u64, a: &Digest, b: &Digest, p: &[Digest]) -> bool {
    verify_consistency(m, n, a, b, p).is_ok()
}

fn tree(n: u64) -> (MerkleTree, Vec<Digest>) {
    let mut t = MerkleTree::new();
    let hashes: Vec<Digest> = (0..n).map(|i| Digest::of(&i.to_be_bytes())).collect();
    for h in &hashes {
        t.push(h);
    }
    (t, hashes)
}

fn flip(h: &Digest) -> Digest {
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
            assert!(vi(i, n, &leaf, &p, &root), "n={n} i={i}");
            assert!(!vi(i, n, &flip(&leaf), &p, &root));
            assert!(!vi(i, n, &leaf, &p, &flip(&root)));
            for k in 0..p.len() {
                let mut q = p.clone();
                q[k] = flip(&q[k]);
                assert!(
                    !vi(i, n, &leaf, &q, &root),
                    "flipped path n={n} i={i} k={k}"
                );
            }
            if !p.is_empty() {
                assert!(
                    !vi(i, n, &leaf, &p[..p.len() - 1], &root),
                    "truncated n={n} i={i}"
                );
            }
            let mut longer = p.clone();
            longer.push(root);
            assert!(!vi(i, n, &leaf, &longer, &root));
            if i + 1 < n {
                assert!(!vi(i + 1, n, &leaf, &p, &root), "index+1 n={n} i={i}");
            }
            if i > 0 {
                assert!(!vi(i - 1, n, &leaf, &p, &root), "index-1 n={n} i={i}");
            }
            assert!(
                !vi(i, n + 1, &leaf, &p, &t.root_at(n + 1).unwrap()),
                "size+1 n={n} i={i}"
            );
            if n > 1 && i < n - 1 {
                assert!(
                    !vi(i, n - 1, &leaf, &p, &t.root_at(n - 1).unwrap()),
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
            assert!(vc(m, n, &rm, &rn, &p), "m={m} n={n}");
            if m == n {
                assert!(p.is_empty());
                continue;
            }
            assert!(!vc(m, n, &flip(&rm), &rn, &p));
            assert!(!vc(m, n, &rm, &flip(&rn), &p));
            for k in 0..p.len() {
                let mut q = p.clone();
                q[k] = flip(&q[k]);
                assert!(!vc(m, n, &rm, &rn, &q), "flipped m={m} n={n} k={k}");
            }
            assert!(
                !vc(m, n, &rm, &rn, &p[..p.len() - 1]),
                "truncated m={m} n={n}"
            );
            if m + 1 < n {
                assert!(
                    !vc(m + 1, n, &t.root_at(m + 1).unwrap(), &rn, &p),
                    "m+1 m={m} n={n}"
                );
            }
            if m > 1 {
                assert!(
                    !vc(m - 1, n, &t.root_at(m - 1).unwrap(), &rn, &p),
                    "m-1 m={m} n={n}"
                );
            }
            assert!(
                !vc(m, n + 1, &rm, &t.root_at(n + 1).unwrap(), &p),
                "n+1 m={m} n={n}"
            );
            if n - 1 > m {
                assert!(
                    !vc(m, n - 1, &rm, &t.root_at(n - 1).unwrap(), &p),
                    "n-1 m={m} n={n}"
                );
            }
        }
    }
    assert_eq!(t.consistency_proof(0, 5), None);
    assert!(!vc(0, 5, &Digest::ZERO, &Digest::ZERO, &[]));
}

#[test]
fn failures_name_the_check() {
    use al_audit_chain::ProofError as E;
    let (t, hashes) = tree(10);
    let root = t.root();
    let leaf = leaf_hash(&hashes[3]);
    let p = t.inclusion_proof(3, 10).unwrap();
    assert_eq!(verify_inclusion(0, 0, &leaf, &[], &root), Err(E::EmptyTree));
    assert_eq!(
        verify_inclusion(10, 10, &leaf, &p, &root),
        Err(E::IndexOutOfRange {
            index: 10,
            size: 10
        })
    );
    assert_eq!(
        verify_inclusion(3, 10, &leaf, &p[1..], &root),
        Err(E::PathLength {
            got: p.len() - 1,
            want: p.len()
        })
    );
    let other = leaf_hash(&hashes[4]);
    assert!(matches!(
        verify_inclusion(3, 10, &other, &p, &root),
        Err(E::RootMismatch { expected, .. }) if expected == root
    ));
    let c = t.consistency_proof(6, 10).unwrap();
    let r6 = t.root_at(6).unwrap();
    assert_eq!(
        verify_consistency(0, 10, &r6, &root, &c),
        Err(E::SizeOrder {
            first: 0,
            second: 10
        })
    );
    assert_eq!(
        verify_consistency(11, 10, &r6, &root, &c),
        Err(E::SizeOrder {
            first: 11,
            second: 10
        })
    );
    assert_eq!(
        verify_consistency(10, 10, &root, &root, &c),
        Err(E::EqualSizes)
    );
    assert_eq!(
        verify_consistency(10, 10, &root, &r6, &[]),
        Err(E::EqualSizes)
    );
    assert!(verify_consistency(10, 10, &root, &root, &[]).is_ok());
    assert!(matches!(
        verify_consistency(6, 10, &r6, &root, &c[1..]),
        Err(E::PathLength { .. })
    ));
    assert!(matches!(
        verify_consistency(6, 10, &root, &root, &c),
        Err(E::FirstRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(6, 10, &r6, &r6, &c),
        Err(E::RootMismatch { .. })
    ));
    // A power-of-two first size has no seed hash in the proof.
    let c8 = t.consistency_proof(8, 10).unwrap();
    assert!(verify_consistency(8, 10, &t.root_at(8).unwrap(), &root, &c8).is_ok());
    assert!(matches!(
        verify_consistency(8, 10, &t.root_at(8).unwrap(), &root, &[]),
        Err(E::PathLength { got: 0, .. })
    ));
}

/// Every failed check answers the name `docs/audit-encoding.md` gives it.
#[test]
fn failed_checks_have_their_documented_names() {
    use al_audit_chain::ProofError as E;
    let d = Digest([0; 32]);
    let cases = [
        (E::EmptyTree, "size_zero"),
        (E::IndexOutOfRange { index: 1, size: 1 }, "index"),
        (
            E::SizeOrder {
                first: 0,
                second: 1,
            },
            "size_order",
        ),
        (E::EqualSizes, "equal_sizes"),
        (E::PathLength { got: 1, want: 2 }, "path_length"),
        (
            E::FirstRootMismatch {
                expected: d,
                computed: d,
            },
            "first_root",
        ),
        (
            E::RootMismatch {
                expected: d,
                computed: d,
            },
            "root",
        ),
        (
            E::EntryIdMismatch {
                entry_id: "evt_".into(),
                row: 1,
            },
            "entry_id",
        ),
        (E::LeafMismatch("x"), "leaf"),
        (
            E::OrgMismatch {
                expected: "a".into(),
                found: "b".into(),
            },
            "org",
        ),
        (
            E::CheckpointMismatch {
                proof_size: 1,
                proof_root: d,
                size: 2,
                root: d,
            },
            "checkpoint",
        ),
    ];
    for (e, name) in cases {
        assert_eq!(e.check(), name, "{e:?}");
    }
}
