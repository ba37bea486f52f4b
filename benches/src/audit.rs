//! Audit workloads: entries with a 256-byte payload.

use al_audit_chain::{AuditLog, Kind, LogConfig, NewEntry};
use al_types::Timestamp;
use serde_json::{Map, Value, json};

/// An action entry: the required fields and a 256-byte `metadata.payload`.
pub fn entry(i: u64) -> NewEntry {
    let payload: String = std::iter::repeat_n('x', 256).collect();
    let fields =
        json!({"action_type": "pr.merge", "status": "executed", "metadata": {"payload": payload}});
    NewEntry {
        kind: Kind::Action,
        agent_id: Some(format!("agt_{}", i % 16)),
        timestamp: Timestamp::from_unix_millis(1_764_331_200_000 + i as i64).unwrap(),
        fields: match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    }
}

/// A log of `n` such entries.
pub fn log(n: u64, index: bool) -> AuditLog {
    let mut log = AuditLog::with_config("bench", LogConfig { index });
    for i in 0..n {
        let _ = log.append(&entry(i)).unwrap();
    }
    log
}
