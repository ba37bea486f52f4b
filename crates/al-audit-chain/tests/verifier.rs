//! The verifier's edges, one check at a time: each test breaks exactly one
//! thing the verifier must notice (these are the cases mutation testing of
//! `src/verify/` showed were not pinned).

use al_audit_chain::{
    AuditLog, ChainVerifier, Checkpoint, Chunk, ChunkOutcome, Entry, FailureCode, Kind,
    VerifiedCheckpoint, merkle, verify_parallel,
};
use al_types::{Digest, EntryId, Timestamp};
use serde_json::json;

fn records(log: &AuditLog) -> Vec<(Vec<u8>, Digest)> {
    log.records().map(|r| (r.bytes.to_vec(), r.hash)).collect()
}

fn run(v: ChainVerifier, recs: &[(Vec<u8>, Digest)]) -> al_audit_chain::Verification {
    let mut v = v;
    for (b, h) in recs {
        v.push(b, Some(h));
    }
    v.finish(crate::T0)
}

fn inline(chunks: Vec<Chunk<'_>>) -> Vec<ChunkOutcome> {
    chunks.into_iter().map(Chunk::run).collect()
}

fn cp_with(log: &AuditLog, size: u64, f: impl FnOnce(&mut Checkpoint)) -> VerifiedCheckpoint {
    let mut c = Checkpoint {
        org_id: log.org_id().to_owned(),
        size,
        root: log.tree().root_at(size).unwrap(),
        head_hash: if size == 0 {
            Digest::ZERO
        } else {
            log.hash(size).unwrap()
        },
        timestamp: crate::T0,
    };
    f(&mut c);
    VerifiedCheckpoint::trust(c)
}

#[test]
fn record_checks_each_name_their_failure() {
    let log = crate::log_of(3);
    let recs = records(&log);
    let (b1, h1) = recs[0].clone();
    // Right domain and version, but shorter than the shortest entry (84
    // bytes: no agent, empty fields): not an entry, whatever the rest says.
    for len in 0..84 {
        let mut v = ChainVerifier::new("acme");
        assert!(!v.push(&b1[..len], None));
        assert_eq!(
            v.finish(crate::T0).failure.unwrap().code,
            FailureCode::Undecodable,
            "{len} bytes"
        );
    }
    // The shortest entry itself passes.
    let shortest = Entry {
        id: EntryId::FIRST,
        kind: Kind::Key,
        agent_id: None,
        timestamp: Timestamp::UNIX_EPOCH,
        fields: serde_json::Map::new(),
        prev_hash: Digest::ZERO,
    }
    .encode();
    assert_eq!(shortest.len(), 84);
    let mut v = ChainVerifier::new("acme");
    assert!(v.push(&shortest, None));
    // Wrong version byte.
    let mut bad = b1.clone();
    bad[28] = 2;
    let mut v = ChainVerifier::new("acme");
    v.push(&bad, None);
    assert_eq!(
        v.finish(crate::T0).failure.unwrap().code,
        FailureCode::Undecodable
    );
    // Stored hash wrong: HASH_MISMATCH naming the row, with both hashes.
    let mut v = ChainVerifier::new("acme");
    v.push(&b1, Some(&Digest::ZERO));
    let f = v.finish(crate::T0).failure.unwrap();
    assert_eq!((f.row, f.code), (1, FailureCode::HashMismatch));
    assert!(f.message.contains(&h1.to_string()), "{}", f.message);
    // A correct stored hash passes.
    let mut v = ChainVerifier::new("acme");
    assert!(v.push(&b1, Some(&h1)));
}

#[test]
fn strict_mode_applies_the_kind_rules() {
    // An action without a status: canonical bytes, but not a valid entry.
    let e = Entry {
        id: EntryId::FIRST,
        kind: Kind::Action,
        agent_id: None,
        timestamp: Timestamp::UNIX_EPOCH,
        fields: json!({"action_type": "a"}).as_object().cloned().unwrap(),
        prev_hash: Digest::ZERO,
    };
    let b = e.encode();
    let mut lax = ChainVerifier::new("acme");
    assert!(
        lax.push(&b, None),
        "the default checks header, row, link and hash only"
    );
    let mut strict = ChainVerifier::new("acme").strict();
    assert!(!strict.push(&b, None));
    let f = strict.finish(crate::T0).failure.unwrap();
    assert_eq!((f.row, f.code), (1, FailureCode::Undecodable));
    assert!(f.message.contains("status"), "{}", f.message);
}

#[test]
fn failed_fail_and_stopping_after_the_first_failure() {
    let log = crate::log_of(4);
    let recs = records(&log);
    let mut v = ChainVerifier::new("acme");
    assert!(!v.failed());
    assert!(v.push(&recs[0].0, Some(&recs[0].1)));
    assert!(!v.failed());
    v.fail(FailureCode::Undecodable, "line 2: first".into());
    assert!(v.failed());
    v.fail(FailureCode::HashMismatch, "second".into());
    // Once failed, records are not even read.
    assert!(!v.push(&recs[1].0, Some(&recs[1].1)));
    let out = v.finish(crate::T0);
    let f = out.failure.unwrap();
    assert_eq!(
        (f.row, f.code, f.message.as_str()),
        (2, FailureCode::Undecodable, "line 2: first")
    );
    assert_eq!(out.entries_read, 1);
    assert_eq!(out.result.verified_through_row, 1);
    assert_eq!(out.result.chain_hash, Some(recs[0].1));
    assert_eq!(out.result.first_broken_at_row_id, EntryId::from_row(2));
    assert!(!out.result.chain_valid);
    assert_eq!(out.result.timestamp, crate::T0);
}

#[test]
fn resuming_from_an_empty_and_a_full_checkpoint() {
    let log = crate::log_of(6);
    let recs = records(&log);
    // Empty checkpoint: resume means from row 1.
    let empty = cp_with(&log, 0, |_| {});
    let out = run(ChainVerifier::resume(&empty), &recs);
    assert!(out.result.chain_valid, "{:?}", out.failure);
    assert!(out.result.verified_from_checkpoint);
    assert_eq!(out.result.verified_through_row, 6);
    let out = run(ChainVerifier::resume(&empty), &[]);
    assert_eq!(
        (out.result.verified_through_row, out.result.chain_hash),
        (0, None)
    );
    // A checkpoint at the head with nothing after it.
    let full = cp_with(&log, 6, |_| {});
    let out = run(ChainVerifier::resume(&full), &[]);
    assert!(out.result.chain_valid);
    assert_eq!(out.result.verified_through_row, 6);
    assert_eq!(out.result.chain_hash, Some(recs[5].1));
    // Resumed at 4, the tail must start at row 5 from row 4's hash.
    let mid = cp_with(&log, 4, |_| {});
    assert!(
        run(ChainVerifier::resume(&mid), &recs[4..])
            .result
            .chain_valid
    );
    let out = run(ChainVerifier::resume(&mid), &recs[3..]);
    assert_eq!(out.failure.unwrap().code, FailureCode::RowMismatch);
    let forged = cp_with(&log, 4, |c| c.head_hash = Digest::ZERO);
    let out = run(ChainVerifier::resume(&forged), &recs[4..]);
    assert_eq!(out.failure.unwrap().code, FailureCode::BrokenLink);
}

#[test]
fn against_a_checkpoint_head_root_and_size() {
    let log = crate::log_of(10);
    let recs = records(&log);
    let ok = cp_with(&log, 6, |_| {});
    let out = run(ChainVerifier::new("acme").against(&ok), &recs);
    assert!(out.result.chain_valid, "{:?}", out.failure);
    assert_eq!(out.result.verified_through_row, 10);
    assert_eq!(
        out.root, None,
        "the root is only reported without a checkpoint"
    );
    // Right head, wrong root: history before the checkpoint was rewritten.
    let root = cp_with(&log, 6, |c| c.root = merkle::empty_root());
    let f = run(ChainVerifier::new("acme").against(&root), &recs)
        .failure
        .unwrap();
    assert_eq!((f.row, f.code), (6, FailureCode::CheckpointMismatch));
    // Right root, wrong head.
    let head = cp_with(&log, 6, |c| c.head_hash = Digest::ZERO);
    let f = run(ChainVerifier::new("acme").against(&head), &recs)
        .failure
        .unwrap();
    assert_eq!((f.row, f.code), (6, FailureCode::CheckpointMismatch));
    // Resumed, the root cannot be tracked: only the head is checked.
    let from = cp_with(&log, 3, |_| {});
    let out = run(ChainVerifier::resume(&from).against(&root), &recs[3..]);
    assert!(
        out.result.chain_valid,
        "resumed verifiers do not compare roots"
    );
    let f = run(ChainVerifier::resume(&from).against(&head), &recs[3..])
        .failure
        .unwrap();
    assert_eq!((f.row, f.code), (6, FailureCode::CheckpointMismatch));
    // A failure exactly at the checkpoint's row is that row's failure.
    let mut tampered = recs.clone();
    tampered[5].1 = Digest::ZERO;
    let f = run(ChainVerifier::new("acme").against(&ok), &tampered)
        .failure
        .unwrap();
    assert_eq!((f.row, f.code), (6, FailureCode::HashMismatch));
    // The log must reach the checkpoint.
    let f = run(ChainVerifier::new("acme").against(&ok), &recs[..4])
        .failure
        .unwrap();
    assert_eq!((f.row, f.code), (5, FailureCode::Truncated));
    assert!(
        f.message.contains("ends at row 4") && f.message.contains("covers 6"),
        "{}",
        f.message
    );
    // And be for the same org.
    let other = cp_with(&log, 6, |c| c.org_id = "globex".into());
    let f = run(ChainVerifier::new("acme").against(&other), &recs)
        .failure
        .unwrap();
    assert_eq!((f.row, f.code), (1, FailureCode::CheckpointMismatch));
    // A checkpoint of the full log: root tracked to the very end.
    let all = cp_with(&log, 10, |_| {});
    assert!(
        run(ChainVerifier::new("acme").against(&all), &recs)
            .result
            .chain_valid
    );
    let all_bad = cp_with(&log, 10, |c| c.root = Digest::ZERO);
    let f = run(ChainVerifier::new("acme").against(&all_bad), &recs)
        .failure
        .unwrap();
    assert_eq!((f.row, f.code), (10, FailureCode::CheckpointMismatch));
}

#[test]
fn tracked_root_is_the_tree_root() {
    let log = crate::log_of(7);
    let out = run(ChainVerifier::new("acme").track_root(), &records(&log));
    assert_eq!(out.root, Some(log.tree().root()));
    let out = run(ChainVerifier::new("acme"), &records(&log));
    assert_eq!(out.root, None);
    let cp = cp_with(&log, 3, |_| {});
    let out = run(ChainVerifier::resume(&cp).track_root(), &records(&log)[3..]);
    assert_eq!(out.root, None, "a resumed verifier has no root to report");
}

#[test]
fn parallel_edges() {
    let log = crate::log_of(20);
    let recs = records(&log);
    let refs: Vec<(&[u8], Digest)> = recs.iter().map(|(b, h)| (b.as_slice(), *h)).collect();
    let seq = log.verify(None, crate::T0);
    for parts in [0usize, 1, 3, 7, 20, 21, 1000] {
        let p = verify_parallel("acme", &refs, None, crate::T0, parts, inline);
        assert_eq!(p.result, seq.result, "parts {parts}");
        assert_eq!(p.entries_read, 20);
    }
    // Chunks: contiguous, covering every record, first rows right.
    let mut seen = Vec::new();
    let _ = verify_parallel(
        "acme",
        &refs,
        None,
        crate::T0,
        3,
        |chunks: Vec<Chunk<'_>>| {
            seen = chunks.iter().map(Chunk::first_row).collect();
            chunks.into_iter().map(Chunk::run).collect()
        },
    );
    assert_eq!(seen, vec![1, 8, 15]);
    // A runner that loses a chunk: that chunk fails at its first row.
    let lossy = |chunks: Vec<Chunk<'_>>| -> Vec<ChunkOutcome> {
        chunks
            .into_iter()
            .filter(|c| c.first_row() != 8)
            .map(Chunk::run)
            .collect()
    };
    let p = verify_parallel("acme", &refs, None, crate::T0, 3, lossy);
    let f = p.failure.unwrap();
    assert_eq!((f.row, f.code), (8, FailureCode::Undecodable));
    assert_eq!(p.result.verified_through_row, 7);
    assert_eq!(p.result.chain_hash, Some(recs[6].1));
    // Two failures: the earlier row wins, whichever chunk reports first.
    let mut bad = refs.clone();
    bad[16].1 = Digest::ZERO;
    bad[9].1 = Digest::ZERO;
    let reversed = |chunks: Vec<Chunk<'_>>| -> Vec<ChunkOutcome> {
        chunks.into_iter().rev().map(Chunk::run).collect()
    };
    let p = verify_parallel("acme", &bad, None, crate::T0, 3, reversed);
    assert_eq!(p.failure.unwrap().row, 10);
    // The first chunk links to zero: a first record claiming another
    // predecessor is a broken link at row 1.
    let p = verify_parallel("acme", &refs[1..], None, crate::T0, 2, inline);
    assert_eq!(p.failure.unwrap().code, FailureCode::RowMismatch);
}

#[test]
fn parallel_checkpoint_checks_in_sequential_order() {
    let log = crate::log_of(12);
    let recs = records(&log);
    let refs: Vec<(&[u8], Digest)> = recs.iter().map(|(b, h)| (b.as_slice(), *h)).collect();
    let both = |cp: &VerifiedCheckpoint, refs: &[(&[u8], Digest)]| {
        let owned: Vec<(Vec<u8>, Digest)> = refs.iter().map(|(b, h)| (b.to_vec(), *h)).collect();
        let s = run(ChainVerifier::new("acme").against(cp), &owned);
        let p = verify_parallel("acme", refs, Some(cp), crate::T0, 4, inline);
        assert_eq!(p.result, s.result);
        assert_eq!(
            p.failure.as_ref().map(|f| (f.row, f.code)),
            s.failure.as_ref().map(|f| (f.row, f.code))
        );
        p
    };
    assert!(both(&cp_with(&log, 8, |_| {}), &refs).result.chain_valid);
    // Wrong head at 8 and a failure at 10: the checkpoint row comes first.
    let head = cp_with(&log, 8, |c| c.head_hash = Digest::ZERO);
    let mut bad = refs.clone();
    bad[9].1 = Digest::ZERO;
    assert_eq!(both(&head, &bad).failure.unwrap().row, 8);
    // A failure at 3, before the checkpoint: it comes first.
    let mut early = refs.clone();
    early[2].1 = Digest::ZERO;
    assert_eq!(both(&head, &early).failure.unwrap().row, 3);
    // A failure exactly at the checkpoint's row is that row's own failure,
    // not a checkpoint mismatch (its stored hash is what was tampered).
    let mut at_cp = refs.clone();
    at_cp[7].1 = Digest::ZERO;
    let f = both(&cp_with(&log, 8, |_| {}), &at_cp).failure.unwrap();
    assert_eq!((f.row, f.code), (8, FailureCode::HashMismatch));
    // Truncated and org mismatch.
    let p = both(&cp_with(&log, 12, |_| {}), &refs[..9]);
    assert_eq!(p.failure.unwrap().code, FailureCode::Truncated);
    let other = cp_with(&log, 8, |c| c.org_id = "globex".into());
    let p = both(&other, &refs);
    assert_eq!(p.failure.unwrap().row, 1);
    assert_eq!(p.result.verified_through_row, 0);
    // Another org and a wrong head: the org is refused first.
    let both_wrong = cp_with(&log, 8, |c| {
        c.org_id = "globex".into();
        c.head_hash = Digest::ZERO;
    });
    assert_eq!(both(&both_wrong, &refs).failure.unwrap().row, 1);
    // An empty checkpoint is always consistent.
    assert!(both(&cp_with(&log, 0, |_| {}), &refs).result.chain_valid);
}
