//! Profiling aid for the append path alone (it builds in seconds, unlike
//! the benches, which link every crate): append `N` entries with a 256-byte
//! payload to a log without indexes, as typed records (`typed`, the
//! default) or as JSON maps built just before (`map`), and print the rate.
//!
//! ```sh
//! cargo build --release -p al-audit-chain --example append_loop
//! valgrind --tool=callgrind target/release/examples/append_loop 20000 typed
//! ```
//! (Instructions per append: the run with `N` less the run with 0, over `N`.)
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use al_audit_chain::{AuditLog, Kind, LogConfig, NewEntry};
use al_types::Timestamp;

#[derive(serde::Serialize)]
struct Action<'a> {
    action_type: &'a str,
    metadata: Payload<'a>,
    status: &'a str,
}

#[derive(serde::Serialize)]
struct Payload<'a> {
    payload: &'a str,
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let mode = std::env::args().nth(2).unwrap_or_default();
    let payload = "x".repeat(256);
    let agents: Vec<String> = (0..16).map(|i| format!("agt_{i}")).collect();
    let at = |i: u64| Timestamp::from_unix_millis(1_764_331_200_000 + i as i64).unwrap();
    let mut log = AuditLog::with_config("bench", LogConfig { index: false });
    let t = std::time::Instant::now();
    if mode == "map" {
        for i in 0..n {
            let fields = serde_json::json!({
                "action_type": "pr.merge", "status": "executed",
                "metadata": {"payload": payload}
            });
            let serde_json::Value::Object(fields) = fields else {
                panic!("an object")
            };
            let e = NewEntry {
                kind: Kind::Action,
                agent_id: Some(agents[(i % 16) as usize].clone()),
                timestamp: at(i),
                fields,
            };
            let _ = std::hint::black_box(log.append(&e).unwrap());
        }
    } else {
        for i in 0..n {
            let rec = Action {
                action_type: "pr.merge",
                status: "executed",
                metadata: Payload { payload: &payload },
            };
            let _ = std::hint::black_box(
                log.append_record(Kind::Action, Some(&agents[(i % 16) as usize]), at(i), &rec)
                    .unwrap(),
            );
        }
    }
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "{n} appends, {:.0} entries/s, resident {:.1} bytes/entry",
        n as f64 / s,
        log.resident_bytes() as f64 / n.max(1) as f64
    );
}
