//! Entry points shared by the fuzz targets and the seed regression test.
#![allow(clippy::panic)]

use al_types::{Digest as Hash, Timestamp};

use crate::encoding::decode;
use crate::log::{AuditLog, LogConfig};
use crate::merkle::{verify_consistency, verify_inclusion};

/// Decode arbitrary bytes; an accepted entry must re-encode to the same bytes.
pub fn canonical_decode(data: &[u8]) {
    let full = decode(data);
    if let Ok(e) = &full {
        assert_eq!(e.encode(), data, "decode accepted non-canonical bytes");
    }
    entry_ref_agrees(data, &full);
}

/// [`crate::decode_ref`] against [`decode`]: the same acceptance and
/// errors; the same header; the fields read in place as a JSON map equal
/// the decoded map (`tests/entry_ref.rs` also compares typed reads).
pub fn entry_ref_agrees(data: &[u8], full: &Result<crate::Entry, crate::Error>) {
    let view = crate::decode_ref(data);
    match (full, &view) {
        (Ok(e), Ok(v)) => {
            assert_eq!(
                (v.id, v.kind, v.agent_id, v.timestamp, v.prev_hash),
                (
                    e.id,
                    e.kind,
                    e.agent_id.as_deref(),
                    e.timestamp,
                    e.prev_hash
                )
            );
            let fields: serde_json::Map<String, serde_json::Value> = v
                .fields()
                .unwrap_or_else(|err| panic!("fields refused: {err}"));
            assert_eq!(fields, e.fields, "fields read in place differ");
            let via_value: Result<serde_json::Value, _> = v.fields();
            assert_eq!(
                via_value.ok(),
                Some(serde_json::Value::Object(e.fields.clone()))
            );
            // What `read_line` builds for bytes an encoder wrote.
            assert_eq!(crate::encoding::encoded(data).as_ref(), Some(v));
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "decode_ref words its refusal otherwise"),
        _ => panic!("decode and decode_ref disagree: {full:?} / {view:?}"),
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

/// Read one JSON line with the strict reader: never panics; an accepted
/// line's entry encodes to bytes the decoder gives back unchanged, and the
/// writer's line for it reads back to the same bytes and stored hash.
pub fn jsonl_line(data: &[u8]) {
    let Ok((entry, stored)) = crate::jsonl::parse_line_bytes(data) else {
        return;
    };
    let bytes = entry.encode();
    if bytes.len() <= crate::entry::MAX_ENTRY_BYTES {
        let back = decode(&bytes).map(|e| e.encode());
        assert_eq!(
            back.as_ref(),
            Ok(&bytes),
            "an accepted line does not round-trip"
        );
    }
    let line = crate::jsonl::entry_to_line(&entry, &stored);
    match crate::jsonl::parse_line(&line) {
        Ok((again, s)) => {
            assert_eq!(again.encode(), bytes, "the writer's line is another entry");
            assert_eq!(s, stored);
        }
        Err(e) => panic!("the writer's line is refused: {e}\n{line}"),
    }
}

/// The JSON Lines fast path against the strict reader, on one line
/// (`jsonl_fast` target, `tests/fast_line.rs`): when the fast path accepts
/// a line, the strict reader accepts it with the same canonical bytes and
/// stored hash; [`crate::encode_line`] (fast path, then strict) answers
/// exactly as the strict reader, errors included; and the writer's own
/// line for any entry the strict reader accepts takes the fast path.
/// Returns whether the fast path took `data`.
pub fn jsonl_fast(data: &[u8]) -> bool {
    let mut strict_buf = Vec::new();
    let strict = crate::jsonl::encode_line_strict(data, &mut strict_buf).map(|h| (strict_buf, h));
    let mut fast_buf = Vec::new();
    let fast = crate::jsonl::transcode(data, &mut fast_buf);
    if let Some(h) = fast {
        assert_eq!(
            strict.as_ref(),
            Ok(&(fast_buf.clone(), h)),
            "the fast path accepted a line the strict reader reads otherwise"
        );
        let decoded = decode(&fast_buf);
        assert_eq!(
            decoded.as_ref().map(crate::Entry::encode).as_ref(),
            Ok(&fast_buf),
            "fast bytes do not decode"
        );
        entry_ref_agrees(&fast_buf, &decoded);
    }
    let mut buf = vec![0xAA; 3];
    let combined = crate::jsonl::encode_line(data, &mut buf).map(|h| (buf, h));
    assert_eq!(
        combined, strict,
        "encode_line differs from the strict reader"
    );
    if let Ok((bytes, stored)) = &strict
        && let Ok(entry) = decode(bytes)
    {
        // Compared with the strict reading of the writer's line, not with
        // `bytes`: the strict reader does not read every float back from
        // its shortest spelling to the same bits (`serde_json` without
        // `float_roundtrip`), and the fast path must match it.
        let line = crate::jsonl::entry_to_line(&entry, stored);
        let mut again = Vec::new();
        assert_eq!(
            crate::jsonl::transcode(line.as_bytes(), &mut again),
            Some(*stored),
            "the fast path refused the writer's line\n{line}"
        );
        let mut strict_again = Vec::new();
        let s = crate::jsonl::encode_line_strict(line.as_bytes(), &mut strict_again);
        assert_eq!(s, Ok(*stored));
        assert_eq!(
            again, strict_again,
            "the writer's line transcodes to other bytes"
        );
    }
    fast.is_some()
}

/// A 16-entry log and its checkpoint, built once.
fn fixture() -> &'static (AuditLog, crate::VerifiedCheckpoint) {
    static F: std::sync::OnceLock<(AuditLog, crate::VerifiedCheckpoint)> =
        std::sync::OnceLock::new();
    F.get_or_init(|| {
        let mut log = AuditLog::new("acme");
        for i in 0..16i64 {
            let mut fields = serde_json::Map::new();
            fields.insert("n".into(), serde_json::Value::from(i));
            let _ = log.append(&crate::NewEntry {
                kind: crate::Kind::Key,
                agent_id: None,
                timestamp: Timestamp::UNIX_EPOCH.saturating_add_millis(i),
                fields,
            });
        }
        let cp = log.checkpoint(Timestamp::UNIX_EPOCH);
        (log, cp)
    })
}

/// Read a proof file: never panics; an accepted proof serialises to a file
/// that reads back to it; and no proof verifies against the checkpoint of
/// a real log unless it is that log's own proof (no forgery).
pub fn proof_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = crate::Proof::from_json(text) else {
        return;
    };
    let again = serde_json::to_string(&p)
        .map_err(|e| e.to_string())
        .and_then(|t| crate::Proof::from_json(&t).map_err(|e| e.to_string()));
    assert_eq!(again.as_ref(), Ok(&p), "a proof does not round-trip");
    let _ = p.verify(&crate::VerifiedCheckpoint::trust(p.checkpoint().clone()));
    let (log, cp) = fixture();
    if p.verify(cp).is_ok() {
        match &p {
            crate::Proof::Inclusion(i) => {
                assert_eq!(Some(i.entry_hash), log.hash(i.row), "forged entry accepted");
                let real = log.tree().inclusion_proof(i.row - 1, cp.checkpoint().size);
                assert_eq!(Some(&i.path), real.as_ref(), "forged path accepted");
            }
            crate::Proof::Consistency(c) => {
                assert_eq!(log.tree().root_at(c.first.size), Some(c.first.root));
            }
        }
    }
}

/// Read a checkpoint note: never panics; an accepted checkpoint's body
/// reads back to it; and a note that verifies under the test key reports
/// exactly the checkpoint that was signed.
pub fn checkpoint_note(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(signed) = crate::SignedCheckpoint::parse(text) else {
        return;
    };
    let cp = signed.checkpoint().clone();
    let body = cp.body().unwrap_or_default();
    assert_eq!(
        crate::Checkpoint::parse_body(&body).ok().as_ref(),
        Some(&cp),
        "a checkpoint body does not round-trip"
    );
    #[cfg(feature = "ed25519")]
    {
        let key = crate::Ed25519Signer::from_seed("example.com/agentlattice-test", [0x11; 32]);
        if let Ok(key) = key {
            let v = key.verifier();
            if signed.verify(&[&v], None).is_ok() {
                // The signature covers exactly the lines that were parsed.
                assert!(
                    text.starts_with(&body),
                    "verified text is not the checkpoint's body"
                );
            }
        }
    }
}

/// Proof files of the `proof_file` target's fixture log (its seeds).
#[must_use]
pub fn fixture_proofs() -> Vec<String> {
    let (log, _) = fixture();
    let mut out = Vec::new();
    for row in [1u64, 5, 16] {
        if let Some(id) = al_types::EntryId::from_row(row)
            && let Ok(p) = log.prove_inclusion(id, Timestamp::UNIX_EPOCH)
        {
            out.push(serde_json::to_string(&p).unwrap_or_default());
        }
    }
    for first in [3u64, 8] {
        if let Ok(p) = log.prove_consistency(first, Timestamp::UNIX_EPOCH) {
            out.push(serde_json::to_string(&p).unwrap_or_default());
        }
    }
    out
}

/// Read arbitrary bytes with [`crate::LineReader`] over a
/// `BufReader` of `data[0] % 64 + 1` bytes, cutting lines after
/// `data[1] % 96 + 1` bytes, against the naive reference
/// (`take(limit).read_until(b'\n', ..)`): the same lines, newlines
/// included, one by one, and their lengths add up to the input's.
pub fn line_reader(data: &[u8]) {
    use std::io::{BufRead, Read};
    let (cap, limit, rest) = match data {
        [c, l, rest @ ..] => (usize::from(*c) % 64 + 1, usize::from(*l) % 96 + 1, rest),
        _ => (1, 1, data),
    };
    let mut ours =
        crate::LineReader::with_limit(std::io::BufReader::with_capacity(cap, rest), limit);
    let mut naive = rest;
    let (mut total, mut n) = (0usize, 0usize);
    let mut want = Vec::new();
    loop {
        want.clear();
        let got = (&mut naive)
            .take(limit as u64)
            .read_until(b'\n', &mut want)
            .unwrap_or_else(|e| panic!("a slice failed to read: {e}"));
        let line = ours
            .next_line()
            .unwrap_or_else(|e| panic!("a slice failed to read: {e}"));
        if got == 0 {
            assert_eq!(
                line, None,
                "a line after the end (line {n}, cap {cap}, limit {limit})"
            );
            break;
        }
        assert_eq!(
            line,
            Some(want.as_slice()),
            "line {n} differs (cap {cap}, limit {limit})"
        );
        total += want.len();
        n += 1;
    }
    assert_eq!(total, rest.len(), "the lines do not add up to the input");
    // The end stays the end.
    assert_eq!(ours.next_line().ok(), Some(None));
}
