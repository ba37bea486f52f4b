//! Limits and repeated keys across every reader: a repeated key names the
//! key and the line wherever it is (log lines, proof files), and the 1 MiB
//! entry and 8 MiB line limits hold at their boundaries on every path.

use al_audit_chain::{AuditLog, LogConfig, Proof};
use al_types::{Digest, EntryId, ErrorCode};
use serde_json::{Value, json};

use crate::golden::{at, jsonl, pretty, proof_value};

/// A repeated key is refused wherever it is, and the error names the key
/// and the line: in a log line (the file's line, then the column in it),
/// through every reader of lines, and in a proof file (also inside its
/// checkpoint object).
#[test]
fn repeated_keys_name_the_key_and_the_line() {
    let log = crate::log_of(4);
    let text = jsonl(&log);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Deep inside line 3's metadata.
    let meta = "\"metadata\":{\"f\":0.5,";
    let col = lines[2].find(meta).unwrap() + meta.len() + 1;
    lines[2] = lines[2].replacen(meta, &format!("{meta}\"f\":0.5,"), 1);
    let bad = lines.join("\n") + "\n";
    let e = AuditLog::import_jsonl("acme", LogConfig::default(), &mut bad.as_bytes()).unwrap_err();
    assert_eq!((e.code(), e.line()), ("DUPLICATE_KEY", Some(3)));
    // The column is within the repeated `"f"` (the JSON reader points at
    // its end).
    let column = e.location().unwrap().column as usize;
    assert!((col..col + 3).contains(&column), "{e}");
    let want = format!("line 3, column {column}: key `f` appears twice in one object");
    assert_eq!(e.to_string(), want);
    let mut v = al_audit_chain::JsonlVerifier::new(al_audit_chain::ChainVerifier::new("acme"));
    v.push_all(&mut bad.as_bytes()).unwrap();
    let f = v.finish(at()).failure.unwrap();
    assert_eq!((f.row, f.message.as_str()), (3, want.as_str()));
    // One line alone: line 1 of its text.
    let e = al_audit_chain::parse_line(&lines[2]).unwrap_err();
    assert_eq!((e.code(), e.line()), ("DUPLICATE_KEY", Some(1)));
    assert!(e.to_string().contains("key `f` appears twice"), "{e}");
    // A proof file, pretty-printed: the repeated `org_id` of its checkpoint
    // is on line 5.
    let p = log
        .prove_inclusion(EntryId::from_row(2).unwrap(), at())
        .unwrap();
    let pretty_text = pretty(&proof_value(&p));
    assert_eq!(
        pretty_text.lines().nth(3).unwrap().trim(),
        "\"org_id\": \"acme\","
    );
    let dup = pretty_text.replacen(
        "\"org_id\": \"acme\",",
        "\"org_id\": \"acme\",\n    \"org_id\": \"globex\",",
        1,
    );
    let e = Proof::from_json(&dup).unwrap_err();
    assert_eq!((e.code(), e.line()), ("DUPLICATE_KEY", Some(5)));
    assert!(e.to_string().contains("key `org_id` appears twice"), "{e}");
    // And in a consistency proof's `first`.
    let c = pretty(&proof_value(&log.prove_consistency(2, at()).unwrap()));
    let dup = c.replacen("\"size\": 2\n", "\"size\": 2,\n    \"size\": 3\n", 1);
    assert_ne!(dup, c);
    let e = Proof::from_json(&dup).unwrap_err();
    assert_eq!((e.code(), e.line()), ("DUPLICATE_KEY", Some(12)));
    assert!(e.to_string().contains("key `size` appears twice"), "{e}");
}

/// The 1 MiB limit on canonical bytes, at its boundary, on every path:
/// append, a JSON line (also one whose text is far smaller than its
/// encoding), import and the streaming verifier. And the 8 MiB line limit.
#[test]
fn entry_size_limit_at_its_boundary() {
    use al_audit_chain::{
        ChainVerifier, Entry, FailureCode, JsonlVerifier, Kind, MAX_ENTRY_BYTES, MAX_LINE_BYTES,
        NewEntry, entry_to_line, parse_line,
    };
    let entry_with = |fields: serde_json::Map<String, Value>| Entry {
        id: EntryId::FIRST,
        kind: Kind::Action,
        agent_id: Some("agt_0".into()),
        timestamp: at(),
        fields,
        prev_hash: Digest::ZERO,
    };
    let padded = |pad: usize| {
        let mut f = crate::entry(0).fields;
        f.insert("pad".into(), json!("x".repeat(pad)));
        entry_with(f)
    };
    let base = padded(0).encode().len();
    let exact = padded(MAX_ENTRY_BYTES - base);
    let over = padded(MAX_ENTRY_BYTES - base + 1);
    assert_eq!(exact.encode().len(), MAX_ENTRY_BYTES);
    for e in [&exact, &over] {
        assert_eq!(e.encoded_len(), e.encode().len());
    }
    // Append.
    let new = |e: &Entry| NewEntry {
        kind: e.kind,
        agent_id: e.agent_id.clone(),
        timestamp: e.timestamp,
        fields: e.fields.clone(),
    };
    let mut log = AuditLog::new("acme");
    let _ = log.append(&new(&exact)).unwrap();
    let e = AuditLog::new("acme").append(&new(&over)).err().unwrap();
    assert_eq!(e.code(), "INVALID_ENTRY");
    // A JSON line.
    let line = |e: &Entry| entry_to_line(e, &e.hash());
    assert!(parse_line(&line(&exact)).is_ok());
    assert_eq!(line(&exact), jsonl(&log).trim_end());
    // Integers: 2 bytes of text (`1,`) but 9 encoded, so a line of 300 kB
    // encodes to 1.35 MB.
    let mut ones = crate::entry(0).fields;
    ones.insert("ones".into(), json!(vec![1; 150_000]));
    let dense = entry_with(ones);
    assert!(line(&dense).len() < MAX_ENTRY_BYTES / 3);
    assert!(dense.encoded_len() > MAX_ENTRY_BYTES);
    for big in [&over, &dense] {
        let l = line(big);
        let e = parse_line(&l).err().unwrap();
        assert_eq!(e.code(), "INVALID_ENTRY", "{e}");
        assert!(
            e.to_string().contains(&big.encoded_len().to_string()),
            "{e}"
        );
        let e = AuditLog::import_jsonl("acme", LogConfig::default(), &mut l.as_bytes())
            .err()
            .unwrap();
        assert_eq!((e.code(), e.line()), ("INVALID_ENTRY", Some(1)));
        let mut v = JsonlVerifier::new(ChainVerifier::new("acme"));
        assert!(!v.push_line(l.as_bytes()));
        let f = v.finish(at()).failure.unwrap();
        assert_eq!((f.row, f.code), (1, FailureCode::Undecodable));
    }
    // A line over 8 MiB is refused before it is parsed.
    let mut huge = crate::entry(0).fields;
    huge.insert("pad".into(), json!("\u{1}".repeat(MAX_LINE_BYTES / 6 + 1)));
    let l = line(&entry_with(huge));
    assert!(l.len() > MAX_LINE_BYTES);
    assert_eq!(parse_line(&l).err().unwrap().code(), "TOO_LARGE");
}

/// `-0` is the integer 0 in proof files as in log lines (one rule for
/// every JSON text of the format, as the Python reference reads them);
/// an integer beyond 64 bits is refused, not rounded.
#[test]
fn neg_zero_is_the_integer_zero_in_proof_files() {
    let log = crate::log_of(4);
    let p = log
        .prove_inclusion(EntryId::from_row(1).unwrap(), at())
        .unwrap();
    let text = proof_value(&p).to_string();
    let neg = text.replacen("\"leaf_index\":0", "\"leaf_index\":-0", 1);
    assert_ne!(neg, text);
    let read = Proof::from_json(&neg).unwrap();
    assert_eq!(read, Proof::from_json(&text).unwrap());
    assert!(read.verify(&log.checkpoint(at())).is_ok());
    // Still a float when written as one.
    let float = text.replacen("\"leaf_index\":0", "\"leaf_index\":-0.0", 1);
    assert_eq!(
        Proof::from_json(&float).unwrap_err().code(),
        "INVALID_PROOF_FILE"
    );
    let big = text.replacen("\"leaf_index\":0", "\"leaf_index\":18446744073709551616", 1);
    let e = Proof::from_json(&big).unwrap_err();
    assert_eq!(e.code(), "INVALID_PROOF_FILE");
    assert!(e.to_string().contains("18446744073709551616"), "{e}");
}
