//! Hash flooding: agent ids chosen to collide under the unkeyed FxHash the
//! indexes used to use cost no more than random ids, because the indexes
//! are ordered maps now. The control shows the ids really do collide: in
//! an `FxHashMap` they are many times slower than random ids.

use std::hash::BuildHasher;
use std::time::Instant;

use al_audit_chain::{AuditLog, Kind, NewEntry};
use al_types::Timestamp;
use rustc_hash::{FxBuildHasher, FxHashMap};
use serde_json::json;

const N: usize = 3000;
/// Low hash bits that pick a bucket in a table of up to 8192 buckets.
const MASK: u64 = (1 << 13) - 1;

fn key(i: u64) -> String {
    format!("agt-{i:012x}")
}

/// `N` ids whose FxHash agrees in the low 13 bits (found by search: about
/// 8192 tries each), and `N` ordinary ids.
fn keys() -> (Vec<String>, Vec<String>) {
    let fx = FxBuildHasher;
    let target = fx.hash_one(key(0).as_str()) & MASK;
    let mut colliding = Vec::with_capacity(N);
    let mut i = 0u64;
    while colliding.len() < N {
        let k = key(i);
        if fx.hash_one(k.as_str()) & MASK == target {
            colliding.push(k);
        }
        i += 1;
    }
    let random = (0..N as u64)
        .map(|i| key(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16))
        .collect();
    (colliding, random)
}

/// Fastest of 5 runs, in nanoseconds.
fn best(mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64
        })
        .fold(f64::MAX, f64::min)
}

fn index_keys(ids: &[String]) {
    let mut log = AuditLog::new("acme");
    for (i, a) in ids.iter().enumerate() {
        let fields = json!({"action_type": "pr.merge", "status": "executed", "event_id": a});
        let _ = log
            .append(&NewEntry {
                kind: Kind::Action,
                agent_id: Some(a.clone()),
                timestamp: Timestamp::from_unix_millis(i as i64).unwrap(),
                fields: fields.as_object().unwrap().clone(),
            })
            .unwrap();
    }
    // Every id is found again (the replay lookup is keyed by agent and event id).
    for a in ids {
        assert!(log.find_event(a, a).is_some());
    }
}

fn fx_map(ids: &[String]) {
    let mut m: FxHashMap<&str, usize> = FxHashMap::default();
    for (i, a) in ids.iter().enumerate() {
        m.insert(a, i);
    }
    for a in ids {
        assert!(m.contains_key(a.as_str()));
    }
}

#[test]
fn colliding_agent_ids_cost_no_more_than_random_ones() {
    let (colliding, random) = keys();
    let fx = FxBuildHasher;
    assert!(
        colliding
            .iter()
            .all(|k| fx.hash_one(k.as_str()) & MASK == fx.hash_one(colliding[0].as_str()) & MASK)
    );
    // Control: the old unkeyed hash table degrades on these ids.
    let fx_ratio = best(|| fx_map(&colliding)) / best(|| fx_map(&random));
    assert!(
        fx_ratio > 4.0,
        "the ids do not collide under FxHash: ratio {fx_ratio:.2}"
    );
    // The indexes do not.
    let ratio = best(|| index_keys(&colliding)) / best(|| index_keys(&random));
    assert!(
        ratio < 2.0,
        "colliding ids cost {ratio:.2}x random ones (FxHash: {fx_ratio:.1}x)"
    );
    eprintln!("colliding / random ids: index {ratio:.2}x, FxHashMap {fx_ratio:.1}x");
}
