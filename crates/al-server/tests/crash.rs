//! kill -9 in the middle of a burst of concurrent actions: every
//! acknowledged action is in the chain after restart, the chain verifies
//! (through the API, and with `al verify` on the exported log and on the
//! raw segment), and the restored state answers as the live one did.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::harness::{Http, Proc, TempDir, runtime};

const MANIFEST: &str = "version: 1\npolicies:\n  - name: reads\n    action_type: data.*\n    effect: allow\n  - name: deploys\n    action_type: deploy.*\n    effect: require_approval\n  - name: drops\n    action_type: db.drop\n    effect: deny\n";

/// The `al` binary, built when missing.
pub fn al_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.ancestors().nth(2).unwrap().to_path_buf(); // target/<profile>
    let al = dir.join("al");
    if !al.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut c = Command::new(cargo);
        c.args(["build", "-q", "-p", "al-cli", "--bin", "al"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            c.arg("--release");
        }
        let s = c.current_dir(env!("CARGO_MANIFEST_DIR")).status().unwrap();
        assert!(s.success(), "building `al` failed");
    }
    al
}

async fn setup(http: &Http, svc: &str, agents: usize) -> Vec<(String, String)> {
    let r = http
        .send(
            "POST",
            "/api/v1/policies/import",
            Some(svc),
            &[],
            Some(("application/yaml", MANIFEST.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut out = Vec::new();
    for i in 0..agents {
        let r = http
            .post(
                "/api/agents/register",
                Some(svc),
                &json!({"name": format!("burst-{i}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let v = r.json();
        out.push((
            v["id"].as_str().unwrap().to_owned(),
            v["api_key"].as_str().unwrap().to_owned(),
        ));
    }
    out
}

async fn all_entry_ids(http: &Http, svc: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit?kind=all&limit=200&cursor={c}"),
            None => "/api/v1/audit?kind=all&limit=200".to_owned(),
        };
        let r = http.get(&path, Some(svc)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        for e in v["events"].as_array().unwrap() {
            ids.push(e["id"].as_str().unwrap().to_owned());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

async fn state_of(http: &Http, svc: &str, agents: &[(String, String)]) -> Value {
    let mut per = Vec::new();
    for (_, key) in agents {
        let w = http.get("/api/v1/whoami", Some(key)).await;
        let s = http.get("/api/v1/agent/status", Some(key)).await;
        assert_eq!((w.status, s.status), (200, 200));
        per.push(json!({"whoami": w.json(), "status": s.json()}));
    }
    let p = http.get("/api/v1/posture", Some(svc)).await;
    let v = http.get("/api/v1/audit/verify", Some(svc)).await;
    let mut verify = v.json();
    verify.as_object_mut().unwrap().remove("timestamp");
    json!({"agents": per, "posture": p.json(), "verify": verify})
}

#[test]
fn kill_9_during_a_burst_loses_nothing_acknowledged() {
    let dir = TempDir::new("crash");
    let data = dir.0.join("data");
    let rt = runtime();
    let mut p = Proc::start(&data, &["--snapshot-every", "400"]).unwrap();
    let svc = p.service_key.clone().unwrap();
    let http = Http::new(p.base.clone());
    let agents = rt.block_on(setup(&http, &svc, 8));

    // The burst: 32 concurrent clients on keep-alive connections, each
    // recording the actions the server acknowledged.
    let acked: Arc<Mutex<Vec<(String, u16, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let pid_kill_at = 1500;
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..32usize {
            let (http, acked, stop, count) = (
                Http::new(p.base.clone()),
                Arc::clone(&acked),
                Arc::clone(&stop),
                Arc::clone(&count),
            );
            let key = agents[t % agents.len()].1.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let action = match i % 10 {
                        0 => "deploy.prod",
                        1 => "db.drop",
                        _ => "data.read",
                    };
                    let body = json!({"action_type": action, "metadata": {"client": t, "i": i}});
                    let eid = format!("burst-{t}-{i}");
                    let hdr = [("x-al-event-id", eid.as_str())];
                    let sent = http.try_send(
                        "POST",
                        "/api/v1/actions",
                        Some(&key),
                        &hdr,
                        Some(("application/json", serde_json::to_vec(&body).unwrap())),
                    );
                    // A killed server fails the request: stop this client.
                    let Ok(Ok(r)) =
                        tokio::time::timeout(std::time::Duration::from_secs(10), sent).await
                    else {
                        return;
                    };
                    if r.status == 200 || r.status == 202 {
                        let id = r.json()["audit_event_id"].as_str().unwrap().to_owned();
                        acked.lock().unwrap().push((eid, r.status, id));
                        count.fetch_add(1, Ordering::Relaxed);
                    } else if r.status != 429 {
                        panic!("unexpected {}: {}", r.status, r.text());
                    }
                }
            }));
        }
        while count.load(Ordering::Relaxed) < pid_kill_at {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        // SIGKILL with requests in flight.
        p.kill9();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    });
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= pid_kill_at, "{} acknowledged", acked.len());

    // Restart on the same data: recovery cuts any torn tail.
    let p2 = Proc::start(&data, &["--snapshot-every", "400"]).unwrap();
    assert!(p2.service_key.is_none());
    let torn = p2.stderr().contains("torn tail");
    eprintln!(
        "{} actions acknowledged before kill -9; torn tail found at restart: {torn}",
        acked.len()
    );
    let http = Http::new(p2.base.clone());
    let ids = rt.block_on(all_entry_ids(&http, &svc));
    let present: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let missing: Vec<&(String, u16, String)> = acked
        .iter()
        .filter(|(_, _, id)| !present.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged actions lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    // Replaying an acknowledged event id answers the original (409), appending nothing.
    let (eid, status, id) = &acked[acked.len() / 2];
    let t: usize = eid.split('-').nth(1).unwrap().parse().unwrap();
    let i: u64 = eid.split('-').nth(2).unwrap().parse().unwrap();
    let action = match i % 10 {
        0 => "deploy.prod",
        1 => "db.drop",
        _ => "data.read",
    };
    let r = rt.block_on(
        http.send(
            "POST",
            "/api/v1/actions",
            Some(&agents[t % agents.len()].1),
            &[("x-al-event-id", eid)],
            Some((
                "application/json",
                serde_json::to_vec(
                    &json!({"action_type": action, "metadata": {"client": t, "i": i}}),
                )
                .unwrap(),
            )),
        ),
    );
    assert_eq!(
        (r.status, r.json()["audit_event_id"].as_str().unwrap()),
        (409, id.as_str()),
        "status was {status}"
    );

    // The chain verifies, and the state answers the same after another
    // kill -9 (idle) and restart: restore equals the live state.
    let before = rt.block_on(state_of(&http, &svc, &agents));
    assert_eq!(before["verify"]["chain_valid"], true, "{before}");
    let mut p2 = p2;
    p2.kill9();
    let p3 = Proc::start(&data, &[]).unwrap();
    let http = Http::new(p3.base.clone());
    let after = rt.block_on(state_of(&http, &svc, &agents));
    assert_eq!(before, after);

    // `al verify` on the exported log and on the raw segment.
    let export = rt.block_on(http.get("/api/v1/operator/audit/export", Some(&svc)));
    assert_eq!(export.status, 200, "{}", export.text());
    let jsonl = dir.0.join("audit.jsonl");
    std::fs::write(&jsonl, &export.body).unwrap();
    let al = al_binary();
    for file in [jsonl, data.join("orgs/default/segment.alseg")] {
        let o = Command::new(&al)
            .args(["verify", "--format", "json"])
            .arg(&file)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        assert!(
            o.status.success()
                && v["chain_valid"] == true
                && v["verified_through_row"].as_u64() == Some(ids.len() as u64),
            "al verify {}: {}{}",
            file.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    drop(p3);
}
