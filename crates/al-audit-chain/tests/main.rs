//! One integration-test binary for al-audit-chain.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod alloc;
mod chain;
mod entry_ref;
mod fast_line;
mod flood;
mod golden;
mod limits;
mod proofs;
mod query;
mod typed;
mod vectors;
mod verifier;

use al_audit_chain::{AuditLog, Chunk, ChunkOutcome, Kind, NewEntry};
use al_types::Timestamp;
use serde_json::json;

/// The time every test verification and checkpoint is taken at.
pub const T0: Timestamp = match Timestamp::from_unix_millis(1_764_331_300_000) {
    Some(t) => t,
    None => Timestamp::UNIX_EPOCH,
};

/// Run verification chunks on scoped threads, as a host would.
pub fn threads(chunks: Vec<Chunk<'_>>) -> Vec<ChunkOutcome> {
    std::thread::scope(|s| {
        let hs: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(move || c.run()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The repository root.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const ACTION_TYPES: [&str; 3] = ["pr.merge", "db.migrate", "email.send"];
const STATUSES: [&str; 3] = ["executed", "denied", "requested"];

/// A varied entry for row `i` (0-based).
pub fn entry(i: u64) -> NewEntry {
    let agent = format!("agt_{}", i % 3);
    let (kind, fields) = match i % 5 {
        0..=2 => (
            Kind::Action,
            json!({"action_type": ACTION_TYPES[(i % 3) as usize],
                   "status": STATUSES[(i % 3) as usize],
                   "event_id": format!("ev-{i}"), "metadata": {"n": i, "f": 0.5, "neg": -1, "s": "é\n\"x\""},
                   "data_accessed": [{"type": "source_code", "count": i, "sensitivity": "low"}], "policy_version": 1}),
        ),
        3 => (
            Kind::Breaker,
            json!({"from": "MONITORING", "to": "WARN", "reason": "frequency spike"}),
        ),
        _ => (
            Kind::PolicyChange,
            json!({"policy": "p", "change": "modified", "version": i}),
        ),
    };
    NewEntry {
        kind,
        agent_id: (kind != Kind::PolicyChange).then_some(agent),
        timestamp: Timestamp::from_unix_millis(1_764_331_200_000 + (i as i64) * 1500).unwrap(),
        fields: fields.as_object().unwrap().clone(),
    }
}

/// A log of `n` entries.
pub fn log_of(n: u64) -> AuditLog {
    let mut log = AuditLog::new("acme");
    for i in 0..n {
        let _ = log.append(&entry(i)).unwrap();
    }
    log
}
