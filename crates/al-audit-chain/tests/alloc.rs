//! Appending allocates only whole storage chunks (counted, not timed): no
//! allocation per entry on the typed path or the map path, with the query
//! indexes off (index keys are owned strings, allocated once per new key).

use al_audit_chain::{AuditLog, Kind, LogConfig, NewEntry};
use al_types::Timestamp;
use serde::Serialize;

#[derive(Serialize)]
struct Action<'a> {
    action_type: &'a str,
    metadata: Payload<'a>,
    status: &'a str,
}

#[derive(Serialize)]
struct Payload<'a> {
    payload: &'a str,
}

const N: u64 = 20_000;

fn at(i: u64) -> Timestamp {
    Timestamp::from_unix_millis(1_764_331_200_000 + i as i64).unwrap()
}

/// Storage grows in chunks: the byte arena (4 MiB, ~9 700 entries of this
/// size each), leaf hashes, locations and each stored tree level (the first
/// chunk of each doubling from 4 elements). 20 000 entries need ~100 such
/// allocations; one per entry would be 20 000.
const MAX_ALLOCATIONS: u64 = 200;

#[test]
fn typed_appends_allocate_only_storage_chunks() {
    let payload = "x".repeat(256);
    let agents: Vec<String> = (0..16).map(|i| format!("agt_{i}")).collect();
    let mut log = AuditLog::with_config("acme", LogConfig { index: false });
    let info = allocation_counter::measure(|| {
        for i in 0..N {
            let rec = Action {
                action_type: "pr.merge",
                metadata: Payload { payload: &payload },
                status: "executed",
            };
            let _ = log
                .append_record(Kind::Action, Some(&agents[(i % 16) as usize]), at(i), &rec)
                .unwrap();
        }
    });
    assert_eq!(log.len(), N);
    assert!(
        info.count_total <= MAX_ALLOCATIONS,
        "{} allocations for {N} typed appends",
        info.count_total
    );
}

#[test]
fn map_appends_allocate_only_storage_chunks() {
    let payload = "x".repeat(256);
    let entries: Vec<NewEntry> = (0..N)
        .map(|i| NewEntry {
            kind: Kind::Action,
            agent_id: Some(format!("agt_{}", i % 16)),
            timestamp: at(i),
            fields: serde_json::json!({
                "action_type": "pr.merge", "status": "executed",
                "metadata": {"payload": payload}
            })
            .as_object()
            .unwrap()
            .clone(),
        })
        .collect();
    let mut log = AuditLog::with_config("acme", LogConfig { index: false });
    let info = allocation_counter::measure(|| {
        for e in &entries {
            let _ = log.append(e).unwrap();
        }
    });
    assert_eq!(log.len(), N);
    assert!(
        info.count_total <= MAX_ALLOCATIONS,
        "{} allocations for {N} map appends",
        info.count_total
    );
}
