//! Entry points shared by the fuzz targets and the seed regression test.
#![allow(clippy::panic)]

use al_types::{Digest as Hash, Timestamp};

use crate::encoding::decode;
use crate::log::{AuditLog, LogConfig};
use crate::merkle::{verify_consistency, verify_inclusion};

/// Decode arbitrary bytes; an accepted entry must re-encode to the same bytes.
pub fn canonical_decode(data: &[u8]) {
    if let Ok(e) = decode(data) {
        assert_eq!(e.encode(), data, "decode accepted non-canonical bytes");
    }
}

/// Import arbitrary JSON Lines; an accepted log must verify and re-export identically.
pub fn jsonl_import(data: &[u8]) {
    let mut r = data;
    if let Ok(log) = AuditLog::import_jsonl("fuzz", LogConfig::default(), &mut r) {
        assert!(log.verify(None, Timestamp::UNIX_EPOCH).result.chain_valid);
        let mut out = Vec::new();
        if log.export_jsonl(&mut out).is_ok() {
            let mut again = out.as_slice();
            let back = AuditLog::import_jsonl("fuzz", LogConfig::default(), &mut again);
            assert!(back.is_ok_and(|b| b.head_hash() == log.head_hash()));
        }
    }
}

/// Verify an arbitrary proof: must never panic, and must never accept a
/// proof for a tree built here unless it is the real one.
pub fn proof_verify(data: &[u8]) {
    let word = |i: usize| -> u64 {
        let mut b = [0u8; 8];
        for (j, x) in b.iter_mut().enumerate() {
            *x = data.get(i * 8 + j).copied().unwrap_or(0);
        }
        u64::from_le_bytes(b)
    };
    let (a, b) = (word(0) % 70, word(1) % 70);
    let path: Vec<Hash> = data
        .get(16..)
        .unwrap_or(&[])
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect();
    let mut tree = crate::merkle::MerkleTree::new();
    for i in 0..b.max(1) {
        tree.push(&Hash::of(&i.to_be_bytes()));
    }
    let size = tree.size();
    let root = tree.root();
    let idx = a % size;
    let leaf = crate::merkle::leaf_hash(&Hash::of(&idx.to_be_bytes()));
    let real = tree.inclusion_proof(idx, size).unwrap_or_default();
    if verify_inclusion(idx, size, &leaf, &path, &root).is_ok() {
        assert_eq!(path, real, "accepted a forged inclusion proof");
    }
    let first = (a % size) + 1;
    let first_root = tree.root_at(first).unwrap_or_default();
    let real = tree.consistency_proof(first, size).unwrap_or_default();
    if verify_consistency(first, size, &first_root, &root, &path).is_ok() {
        assert_eq!(path, real, "accepted a forged consistency proof");
    }
    let _ = verify_inclusion(word(0), word(1), &leaf, &path, &root);
    let _ = verify_consistency(word(0), word(1), &first_root, &root, &path);
}
