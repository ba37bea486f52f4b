//! HTTP conformance: every route, its success shape and its error codes,
//! each answer checked against the schema the OpenAPI document declares for
//! it. The server runs in-process on a free loopback port.
//!
//! Why one file (1022 lines): one test per route and error code, each
//! checked against the OpenAPI schema through one shared client; a reader
//! looking for a route's tests finds them all here, in route-table order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use al_server::{DataDir, Running, ServerConfig, openapi};
use serde_json::{Value, json};

use crate::harness::{Http, Resp, TempDir, runtime};

const MANIFEST: &str = "version: 1
policies:
  - name: merge-small-prs
    action_type: pr.merge
    effect: allow
    conditions:
      - { field: pr_size, operator: lt, value: 100 }
  - name: reads
    action_type: data.*
    effect: allow
  - name: deploys
    action_type: deploy.*
    effect: require_approval
  - name: drops
    action_type: db.drop
    effect: deny
";

/// A client that checks every answer against the OpenAPI document.
pub struct Api {
    pub http: Http,
    pub svc: String,
}

impl Api {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Resp {
        let r = self.http.send(method, path, key, headers, body).await;
        let bare = path.split('?').next().unwrap();
        let is_json = r
            .headers
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
        if is_json {
            if let Err(e) = openapi::check_response(method, bare, r.status, &r.json()) {
                panic!("{e}\nbody: {}", r.text());
            }
        } else if r.status >= 400 {
            panic!(
                "{method} {path} {}: an error that is not JSON: {}",
                r.status,
                r.text()
            );
        }
        r
    }
    pub async fn get(&self, path: &str, key: &str) -> Resp {
        self.call("GET", path, Some(key), &[], None).await
    }
    pub async fn post(&self, path: &str, key: &str, body: Value) -> Resp {
        self.call(
            "POST",
            path,
            Some(key),
            &[],
            Some(("application/json", serde_json::to_vec(&body).unwrap())),
        )
        .await
    }
    pub async fn act(&self, key: &str, body: Value, event_id: Option<&str>) -> Resp {
        let h: Vec<(&str, &str)> = event_id.map(|e| ("x-al-event-id", e)).into_iter().collect();
        self.call(
            "POST",
            "/api/v1/actions",
            Some(key),
            &h,
            Some(("application/json", serde_json::to_vec(&body).unwrap())),
        )
        .await
    }
    pub async fn register(&self, name: &str) -> (String, String) {
        let r = self
            .post(
                "/api/agents/register",
                &self.svc,
                json!({"name": name, "description": "conformance"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let v = r.json();
        (
            v["id"].as_str().unwrap().to_owned(),
            v["api_key"].as_str().unwrap().to_owned(),
        )
    }
    pub async fn rows(&self) -> u64 {
        self.get("/api/v1/audit/verify", &self.svc).await.json()["verified_through_row"]
            .as_u64()
            .unwrap()
    }
}

pub async fn serve(config: ServerConfig) -> (Running, Api) {
    let running = al_server::start(config).await.unwrap();
    let svc = running.bootstrap.as_ref().unwrap().1.clone();
    let api = Api {
        http: Http::new(format!("http://{}", running.addr)),
        svc,
    };
    let r = api
        .call(
            "POST",
            "/api/v1/policies/import",
            Some(&api.svc),
            &[],
            Some(("application/yaml", MANIFEST.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    (running, api)
}

fn memory() -> ServerConfig {
    let mut c = ServerConfig::new(DataDir::Memory);
    c.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    c
}

#[test]
fn common_errors_are_json_with_stable_codes() {
    let rt = runtime();
    rt.block_on(async {
        let (srv, api) = serve(memory()).await;
        let (_, key) = api.register("a").await;
        let body = |s: &str| Some(("application/json", s.as_bytes().to_vec()));
        // 401: missing, malformed, unknown.
        let r = api.call("GET", "/api/v1/whoami", None, &[], None).await;
        assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));
        let r = api
            .call(
                "GET",
                "/api/v1/whoami",
                None,
                &[("authorization", "Basic xyz")],
                None,
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));
        let r = api.get("/api/v1/whoami", "al_live_nope").await;
        assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));
        // 415: not JSON, or no content type.
        let r = api
            .call(
                "POST",
                "/api/v1/actions",
                Some(&key),
                &[],
                Some(("text/plain", b"{}".to_vec())),
            )
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (415, "UNSUPPORTED_MEDIA_TYPE")
        );
        let r = api
            .call(
                "POST",
                "/api/v1/actions",
                Some(&key),
                &[],
                Some(("", b"{}".to_vec())),
            )
            .await;
        assert_eq!(r.status, 415);
        // 413: over the body limit, before the engine reads it.
        let big = format!(
            "{{\"action_type\":\"data.read\",\"metadata\":{{\"x\":\"{}\"}}}}",
            "a".repeat(300 << 10)
        );
        let r = api
            .call("POST", "/api/v1/actions", Some(&key), &[], body(&big))
            .await;
        assert_eq!((r.status, r.code().as_str()), (413, "TOO_LARGE"));
        // 400: too deep, invalid JSON, a repeated key, a bad field.
        let deep = format!(
            "{{\"action_type\":\"data.read\",\"metadata\":{}{}}}",
            "{\"a\":".repeat(100),
            "1".to_owned() + &"}".repeat(100)
        );
        let r = api
            .call("POST", "/api/v1/actions", Some(&key), &[], body(&deep))
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "TOO_DEEP"),
            "{}",
            r.text()
        );
        let r = api
            .call(
                "POST",
                "/api/v1/actions",
                Some(&key),
                &[],
                body("{\"action_type\":"),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_JSON"));
        let r = api
            .call(
                "POST",
                "/api/v1/actions",
                Some(&key),
                &[],
                body("{\"action_type\":\"a\",\"action_type\":\"b\"}"),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "DUPLICATE_KEY"));
        let rows = api.rows().await;
        let r = api
            .act(&key, json!({"action_type": "no spaces allowed"}), None)
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("action_type"),
            "{}",
            r.text()
        );
        assert_eq!(api.rows().await, rows, "an error appends nothing");
        let r = api
            .call(
                "POST",
                "/api/v1/actions",
                Some(&key),
                &[],
                Some(("application/json", vec![b'"', 0xff, b'"'])),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_JSON"));
        // Query strings are strict.
        let r = api.get("/api/v1/policies?scope=org&scope=own", &key).await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        let r = api.get("/api/v1/policies?scop=org", &key).await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        // Unknown routes and methods.
        let r = api.http.get("/api/v1/nope", Some(&key)).await;
        assert_eq!((r.status, r.code().as_str()), (404, "NOT_FOUND"));
        let r = api
            .http
            .send("PUT", "/api/v1/whoami", Some(&key), &[], None)
            .await;
        assert_eq!((r.status, r.code().as_str()), (405, "METHOD_NOT_ALLOWED"));
        // Service keys cannot act; agent keys cannot operate.
        let r = api
            .act(&api.svc, json!({"action_type": "data.read"}), None)
            .await;
        assert_eq!((r.status, r.code().as_str()), (403, "AGENT_KEY_REQUIRED"));
        let r = api
            .call(
                "POST",
                "/api/v1/policies/import",
                Some(&key),
                &[],
                Some(("application/yaml", MANIFEST.as_bytes().to_vec())),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (403, "SERVICE_KEY_REQUIRED"));
        srv.stop().await.unwrap();
    });
}

#[test]
fn actions_decisions_replay_and_errors() {
    let rt = runtime();
    rt.block_on(async {
        let (srv, api) = serve(memory()).await;
        let (agent_id, key) = api.register("actor").await;
        let r = api.act(&key, json!({"action_type": "pr.merge", "metadata": {"pr_size": 5}}), Some("e1")).await;
        assert_eq!((r.status, r.json()["status"].as_str().unwrap()), (200, "executed"));
        let first = r.json();
        let r = api.act(&key, json!({"action_type": "pr.merge", "metadata": {"pr_size": 500}}), None).await;
        let v = r.json();
        assert_eq!((r.status, v["status"].as_str().unwrap(), v["denial_reason"].as_str().unwrap()), (200, "denied", "CONDITIONS_DENIED"));
        assert_eq!(v["conditions_evaluated"][0]["result"], false);
        let r = api.act(&key, json!({"action_type": "deploy.prod"}), None).await;
        let v = r.json();
        assert_eq!((r.status, v["status"].as_str().unwrap()), (202, "requested"));
        assert!(v["approval_id"].is_string() && v["timeout_at"].is_string());
        let r = api.act(&key, json!({"action_type": "db.drop"}), None).await;
        assert_eq!((r.status, r.json()["denial_reason"].as_str().unwrap()), (200, "POLICY_DENIED"));
        let r = api.act(&key, json!({"action_type": "nothing.matches"}), None).await;
        assert_eq!((r.status, r.json()["status"].as_str().unwrap()), (200, "policy_not_found"));
        // Replay: same id and action → 409 with the original; another action → IDEMPOTENCY_CONFLICT.
        let rows = api.rows().await;
        let r = api.act(&key, json!({"action_type": "pr.merge", "metadata": {"pr_size": 5}, "timestamp": "2030-01-01T00:00:00Z"}), Some("e1")).await;
        assert_eq!(r.status, 409);
        assert_eq!(r.json()["audit_event_id"], first["audit_event_id"]);
        let r = api.act(&key, json!({"action_type": "pr.merge", "metadata": {"pr_size": 6}}), Some("e1")).await;
        assert_eq!((r.status, r.code().as_str()), (409, "IDEMPOTENCY_CONFLICT"));
        assert_eq!(api.rows().await, rows);
        // Kill the agent: its key answers 403 AGENT_KILLED.
        let r = api.post(&format!("/api/v1/operator/agents/{agent_id}/kill"), &api.svc, json!({"by": "ops"})).await;
        assert_eq!((r.status, r.json()["cb_state"].as_str().unwrap()), (200, "KILLED"));
        let r = api.act(&key, json!({"action_type": "data.read"}), None).await;
        assert_eq!((r.status, r.code().as_str()), (403, "AGENT_KILLED"));
        srv.stop().await.unwrap();
    });
}

#[test]
fn throttle_answers_429_with_retry_after() {
    let rt = runtime();
    rt.block_on(async {
        let mut cfg = memory();
        let breaker = al_breaker::BreakerConfig::builder()
            .calibration_min_actions(20)
            .calibration_min_duration_ms(1)
            .build()
            .unwrap();
        cfg.engine = Some(
            al_engine::EngineConfig::builder([7; 16])
                .breaker(breaker)
                .build()
                .unwrap(),
        );
        let (srv, api) = serve(cfg).await;
        let (_, key) = api.register("runaway").await;
        // A calm calibration, then a runaway loop.
        for _ in 0..25 {
            let _ = api
                .act(&key, json!({"action_type": "data.read"}), None)
                .await;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        let mut throttled = None;
        for _ in 0..5000 {
            let r = api
                .act(&key, json!({"action_type": "data.read"}), None)
                .await;
            if r.status == 429 {
                throttled = Some(r);
                break;
            }
        }
        let r = throttled.expect("the breaker never throttled");
        assert_eq!(r.code(), "RATE_LIMITED");
        assert!(
            r.json()["error"]["retry_after_ms"].as_u64().is_some(),
            "{}",
            r.text()
        );
        assert!(r.headers.get("retry-after").is_some());
        srv.stop().await.unwrap();
    });
}

#[test]
fn delegation_routes() {
    let rt = runtime();
    rt.block_on(async {
        let (srv, api) = serve(memory()).await;
        let (_, key) = api.register("parent").await;
        let r = api
            .post(
                "/api/v1/delegate",
                &key,
                json!({"name": "child", "capabilities": ["data.read"], "ttl_seconds": 60}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let d = r.json();
        let (did, child) = (
            d["delegation_id"].as_str().unwrap().to_owned(),
            d["child_api_key"].as_str().unwrap().to_owned(),
        );
        let h = [("x-al-delegation-id", did.as_str())];
        let act = |k: String, t: &'static str| {
            let api = &api;
            async move {
                api.call(
                    "POST",
                    "/api/v1/actions",
                    Some(&k),
                    &h,
                    Some((
                        "application/json",
                        serde_json::to_vec(&json!({"action_type": t})).unwrap(),
                    )),
                )
                .await
            }
        };
        let r = act(child.clone(), "data.read").await;
        assert_eq!(r.json()["status"], "executed");
        let r = act(child.clone(), "deploy.prod").await;
        assert_eq!(
            (
                r.json()["status"].as_str().unwrap(),
                r.json()["denial_reason"].as_str().unwrap()
            ),
            ("denied", "DELEGATION_SCOPE")
        );
        let r = api
            .post(
                "/api/v1/delegate",
                &key,
                json!({"name": "wide", "capabilities": ["data.read"], "ttl_seconds": 0}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        let r = api
            .get("/api/v1/delegations?role=parent&active_only=true", &key)
            .await;
        assert_eq!(r.json()["delegations"].as_array().unwrap().len(), 1);
        let r = api.get("/api/v1/delegations?role=sideways", &key).await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        let r = api
            .post(
                "/api/v1/delegations/revoke",
                &key,
                json!({"delegation_id": did, "extra": 1}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        let r = api
            .post(
                "/api/v1/delegations/revoke",
                &key,
                json!({"delegation_id": did}),
            )
            .await;
        assert_eq!((r.status, r.json()["revoked"].as_bool()), (200, Some(true)));
        let r = api
            .call(
                "DELETE",
                &format!("/api/v1/delegate/{did}"),
                Some(&key),
                &[],
                None,
            )
            .await;
        assert_eq!(
            r.status,
            200,
            "revoking twice is not an error: {}",
            r.text()
        );
        let r = act(child.clone(), "data.read").await;
        assert_eq!((r.status, r.code().as_str()), (403, "DELEGATION_INACTIVE"));
        let r = api
            .call("DELETE", "/api/v1/delegate/dlg_nope", Some(&key), &[], None)
            .await;
        assert_eq!((r.status, r.code().as_str()), (404, "NOT_FOUND"));
        srv.stop().await.unwrap();
    });
}

#[test]
fn policy_and_introspection_routes() {
    let rt = runtime();
    rt.block_on(async {
        let (srv, api) = serve(memory()).await;
        let (_, key) = api.register("reader").await;
        // Export both formats; importing the export is a no-op.
        let r = api
            .call("GET", "/api/v1/policies/export", Some(&api.svc), &[], None)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["content-type"], "application/yaml");
        assert!(r.headers.get("x-al-set-digest").is_some());
        let yaml = r.body.clone();
        let r = api
            .call(
                "POST",
                "/api/v1/policies/import?dry_run=true",
                Some(&api.svc),
                &[],
                Some(("application/yaml", yaml)),
            )
            .await;
        let v = r.json();
        assert_eq!(
            (
                v["dry_run"].as_bool(),
                v["unchanged"].as_array().unwrap().len()
            ),
            (Some(true), 4),
            "{v}"
        );
        let r = api
            .call(
                "GET",
                "/api/v1/policies/export?format=json&server_fields=true",
                Some(&api.svc),
                &[],
                None,
            )
            .await;
        assert_eq!(r.headers["content-type"], "application/json");
        let r = api
            .call(
                "POST",
                "/api/v1/policies/import",
                Some(&api.svc),
                &[],
                Some(("application/json", r.body.clone())),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = api
            .call(
                "GET",
                "/api/v1/policies/export?format=xml",
                Some(&api.svc),
                &[],
                None,
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        // A manifest error names its line and column and changes nothing.
        let r = api
            .call(
                "POST",
                "/api/v1/policies/import",
                Some(&api.svc),
                &[],
                Some((
                    "application/yaml",
                    b"version: 1\npolicies:\n  - name: x\n    action_type: a\n    efect: allow\n"
                        .to_vec(),
                )),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(
            r.text().contains("line") || r.text().contains(":5:"),
            "{}",
            r.text()
        );
        let r = api
            .call(
                "POST",
                "/api/v1/policies/import",
                Some(&api.svc),
                &[],
                Some(("text/csv", b"a,b".to_vec())),
            )
            .await;
        assert_eq!(r.status, 415);
        // Lists and the dry run.
        let r = api.get("/api/v1/policies", &key).await;
        assert_eq!(
            (
                r.json()["scope"].as_str().unwrap(),
                r.json()["policies"].as_array().unwrap().len()
            ),
            ("own", 4)
        );
        let r = api.get("/api/v1/policies?scope=everything", &key).await;
        assert_eq!(r.status, 400);
        let rows = api.rows().await;
        let r = api
            .get("/api/v1/policies/check?action_type=deploy.prod", &key)
            .await;
        assert_eq!(
            (
                r.json()["allowed"].as_bool(),
                r.json()["needs_approval"].as_bool()
            ),
            (Some(false), Some(true))
        );
        assert_eq!(api.rows().await, rows, "a dry run appends nothing");
        let r = api.get("/api/v1/policies/check", &key).await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        // whoami, status, audit with cursors, verify, posture.
        let r = api.get("/api/v1/whoami", &key).await;
        assert_eq!(r.json()["cb_state"], "CALIBRATING");
        let r = api.get("/api/v1/agent/status", &key).await;
        assert_eq!(r.status, 200);
        let r = api.get("/api/v1/whoami", &api.svc).await;
        assert_eq!((r.status, r.code().as_str()), (403, "AGENT_KEY_REQUIRED"));
        let mut ids = Vec::new();
        for i in 0..5 {
            let r = api
                .act(
                    &key,
                    json!({"action_type": "data.read", "metadata": {"i": i}}),
                    None,
                )
                .await;
            ids.push(r.json()["audit_event_id"].as_str().unwrap().to_owned());
        }
        let r = api.get("/api/v1/audit?limit=2", &key).await;
        let c = r.json()["next_cursor"].as_str().unwrap().to_owned();
        let r2 = api
            .get(&format!("/api/v1/audit?limit=2&cursor={c}"), &key)
            .await;
        assert_eq!(r2.json()["events"][0]["id"].as_str().unwrap(), ids[2]);
        let r = api.get("/api/v1/audit?cursor=bogus", &key).await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_CURSOR"));
        let r = api.get("/api/v1/audit/verify", &key).await;
        assert_eq!(r.json()["chain_valid"], true);
        let r = api.get("/api/v1/posture", &key).await;
        assert_eq!(r.json()["components"].as_object().unwrap().len(), 4);
        // Reports: 201, last write wins, others' events refused, unknown 404.
        let r = api
            .post(
                "/api/v1/report",
                &key,
                json!({"audit_event_id": ids[0], "outcome": {"status": "success"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let r = api
            .post(
                "/api/v1/report",
                &key,
                json!({"audit_event_id": ids[0], "outcome": {"status": "partial"}}),
            )
            .await;
        assert_eq!(r.json()["status"], "partial");
        let (_, other) = api.register("other").await;
        let r = api
            .post(
                "/api/v1/report",
                &other,
                json!({"audit_event_id": ids[0], "outcome": {"status": "success"}}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (403, "FORBIDDEN"));
        let r = api
            .post(
                "/api/v1/report",
                &key,
                json!({"audit_event_id": "evt_00000000000fffff", "outcome": {"status": "success"}}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (404, "NOT_FOUND"));
        srv.stop().await.unwrap();
    });
}

#[test]
fn operator_routes() {
    let rt = runtime();
    rt.block_on(async {
        let (srv, api) = serve(memory()).await;
        let (agent_id, key) = api.register("op-target").await;
        let r = api
            .post("/api/agents/register", &key, json!({"name": "x"}))
            .await;
        assert_eq!((r.status, r.code().as_str()), (403, "SERVICE_KEY_REQUIRED"));
        let r = api
            .post("/api/agents/register", &api.svc, json!({"name": ""}))
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        // Approvals.
        let r = api
            .act(&key, json!({"action_type": "deploy.prod"}), None)
            .await;
        let apr = r.json()["approval_id"].as_str().unwrap().to_owned();
        let r = api.get(&format!("/api/approvals/{apr}/status"), &key).await;
        assert_eq!(r.json()["status"], "pending");
        let r = api.get("/api/approvals/apr_nope/status", &key).await;
        assert_eq!((r.status, r.code().as_str()), (404, "NOT_FOUND"));
        let path = format!("/api/v1/operator/approvals/{apr}/decision");
        let r = api
            .post(
                &path,
                &key,
                json!({"decision": "approve", "reviewer": "me"}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (403, "SERVICE_KEY_REQUIRED"));
        let r = api
            .post(
                &path,
                &api.svc,
                json!({"decision": "maybe", "reviewer": "me"}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        let r = api
            .post(
                &path,
                &api.svc,
                json!({"decision": "approve", "reviewer": "me"}),
            )
            .await;
        assert_eq!(
            (r.status, r.json()["status"].as_str().unwrap()),
            (200, "approved")
        );
        let r = api
            .post(
                &path,
                &api.svc,
                json!({"decision": "deny", "reviewer": "me"}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (409, "APPROVAL_NOT_PENDING"));
        // Breaker commands name the operator.
        let op = |c: &str| format!("/api/v1/operator/agents/{agent_id}/{c}");
        let r = api
            .call("POST", &op("halt"), Some(&api.svc), &[], None)
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (415, "UNSUPPORTED_MEDIA_TYPE")
        );
        let r = api.post(&op("halt"), &api.svc, json!({})).await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        let r = api
            .post(&op("resume"), &api.svc, json!({"by": "ops"}))
            .await;
        assert_eq!((r.status, r.code().as_str()), (409, "INVALID_STATE"));
        let r = api.post(&op("halt"), &api.svc, json!({"by": "ops"})).await;
        assert_eq!(
            (r.status, r.json()["cb_state"].as_str().unwrap()),
            (200, "HALT"),
            "{}",
            r.text()
        );
        let r = api
            .act(&key, json!({"action_type": "data.read"}), None)
            .await;
        assert_eq!(r.json()["denial_reason"], "AGENT_HALTED");
        let r = api
            .post(&op("resume"), &api.svc, json!({"by": "ops"}))
            .await;
        assert_eq!(r.status, 200);
        let r = api
            .post(&op("complete-calibration"), &api.svc, json!({"by": "ops"}))
            .await;
        assert_eq!(
            (r.status, r.json()["cb_state"].as_str().unwrap()),
            (200, "MONITORING"),
            "{}",
            r.text()
        );
        let r = api
            .post(&op("recalibrate"), &api.svc, json!({"by": "ops"}))
            .await;
        assert_eq!(
            (r.status, r.json()["cb_state"].as_str().unwrap()),
            (200, "CALIBRATING")
        );
        let r = api.post(&op("kill"), &api.svc, json!({"by": "ops"})).await;
        assert_eq!(r.status, 200);
        let r = api
            .post(
                "/api/v1/operator/agents/agt_nope/halt",
                &api.svc,
                json!({"by": "ops"}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (404, "NOT_FOUND"));
        // Export of the chain as JSON Lines.
        let r = api
            .call(
                "GET",
                "/api/v1/operator/audit/export",
                Some(&api.svc),
                &[],
                None,
            )
            .await;
        assert_eq!(r.headers["content-type"], "application/x-ndjson");
        assert_eq!(r.text().lines().count() as u64, api.rows().await);
        let r = api
            .call(
                "GET",
                "/api/v1/operator/audit/export",
                Some(&key),
                &[],
                None,
            )
            .await;
        assert_eq!(r.status, 403);
        srv.stop().await.unwrap();
    });
}

/// What the webhook receiver got: signature, attempt, body.
type Received = Arc<std::sync::Mutex<Vec<(String, String, Vec<u8>)>>>;

#[test]
fn webhooks_are_signed_retried_and_managed() {
    use http_body_util::BodyExt as _;
    let rt = runtime();
    rt.block_on(async {
        // A receiver that fails the first delivery, then accepts.
        let got: Received = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook_addr = listener.local_addr().unwrap();
        let g = Arc::clone(&got);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let g = Arc::clone(&g);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let g = Arc::clone(&g);
                            async move {
                                let sig =
                                    req.headers()["x-al-signature"].to_str().unwrap().to_owned();
                                let attempt = req.headers()["x-al-delivery-attempt"]
                                    .to_str()
                                    .unwrap()
                                    .to_owned();
                                let body =
                                    req.into_body().collect().await.unwrap().to_bytes().to_vec();
                                let n = {
                                    let mut v = g.lock().unwrap();
                                    v.push((sig, attempt, body));
                                    v.len()
                                };
                                let status = if n == 1 { 500 } else { 200 };
                                Ok::<_, std::convert::Infallible>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .body(http_body_util::Full::new(bytes::Bytes::new()))
                                        .unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        let mut cfg = memory();
        cfg.webhook_retry.first_backoff = Duration::from_millis(20);
        let (srv, api) = serve(cfg).await;
        let (_, key) = api.register("hooked").await;
        let url = format!("http://{hook_addr}/hook");
        let r = api
            .post(
                "/api/v1/operator/webhooks",
                &api.svc,
                json!({"url": url, "events": ["action.denied"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let hook = r.json();
        let secret = hook["secret"].as_str().unwrap().to_owned();
        let r = api
            .post(
                "/api/v1/operator/webhooks",
                &api.svc,
                json!({"url": "https://example.invalid/x"}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_REQUEST"));
        let r = api
            .post("/api/v1/operator/webhooks", &key, json!({"url": url}))
            .await;
        assert_eq!((r.status, r.code().as_str()), (403, "SERVICE_KEY_REQUIRED"));
        let r = api.get("/api/v1/operator/webhooks", &api.svc).await;
        let list = r.json();
        assert_eq!(list["webhooks"].as_array().unwrap().len(), 1);
        assert!(
            list["webhooks"][0].get("secret").is_none(),
            "secrets are shown once"
        );
        // A denied action is delivered (after one retry), an executed one is filtered out.
        let _ = api
            .act(&key, json!({"action_type": "data.read"}), None)
            .await;
        let r = api.act(&key, json!({"action_type": "db.drop"}), None).await;
        let denied_id = r.json()["audit_event_id"].as_str().unwrap().to_owned();
        for _ in 0..200 {
            if got.lock().unwrap().len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "one failed attempt, one retry");
        assert_eq!((got[0].1.as_str(), got[1].1.as_str()), ("1", "2"));
        assert_eq!(got[0].2, got[1].2, "the same bytes each attempt");
        let ev: Value = serde_json::from_slice(&got[1].2).unwrap();
        assert_eq!(ev["event_type"], "action.denied");
        assert_eq!(ev["data"]["audit_event_id"], denied_id.as_str());
        openapi::validate(
            &json!({"$ref": "#/components/schemas/GovernanceEvent"}),
            &ev,
            &openapi::schemas(),
            "$",
        )
        .unwrap();
        assert!(al_engine::verify_signature(
            secret.as_bytes(),
            &got[1].2,
            &got[1].0
        ));
        assert!(!al_engine::verify_signature(
            b"wrong secret....",
            &got[1].2,
            &got[1].0
        ));
        let id = hook["id"].as_str().unwrap();
        let r = api
            .call(
                "DELETE",
                &format!("/api/v1/operator/webhooks/{id}"),
                Some(&api.svc),
                &[],
                None,
            )
            .await;
        assert_eq!(r.status, 200);
        let r = api
            .call(
                "DELETE",
                &format!("/api/v1/operator/webhooks/{id}"),
                Some(&api.svc),
                &[],
                None,
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (404, "NOT_FOUND"));
        srv.stop().await.unwrap();
    });
}

/// The document served equals `docs/openapi.json`, and every route of the
/// table is served (none answers with the unknown-route fallback).
#[test]
fn openapi_is_served_checked_in_and_complete() {
    let rt = runtime();
    rt.block_on(async {
        let (srv, api) = serve(memory()).await;
        let r = api.call("GET", "/api/v1/openapi", None, &[], None).await;
        assert_eq!(r.status, 200);
        let checked_in = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        if std::env::var("AL_UPDATE_OPENAPI").is_ok() {
            std::fs::write(&checked_in, &r.body).unwrap();
        }
        let want = std::fs::read_to_string(&checked_in).unwrap_or_default();
        assert!(
            want == r.text(),
            "docs/openapi.json is out of date: run `AL_UPDATE_OPENAPI=1 cargo test -p al-server openapi`"
        );
        let doc = r.json();
        assert_eq!(doc["openapi"], "3.1.0");
        for rt in openapi::ROUTES {
            let path = rt.path.replace("{id}", "x");
            let r = api.http.send(rt.method, &path, None, &[], None).await;
            assert!(
                !(r.status == 404 && r.text().contains("no route")) && r.status != 405,
                "{} {} is not served: {} {}",
                rt.method,
                rt.path,
                r.status,
                r.text()
            );
            assert!(doc["paths"][rt.path][rt.method.to_ascii_lowercase()].is_object());
        }
        let r = api.call("GET", "/api/v1/health", None, &[], None).await;
        assert_eq!(r.json()["status"], "ok");
        srv.stop().await.unwrap();
    });
}

/// A graceful stop snapshots and flushes: a restart restores from the
/// snapshot and answers the same.
#[test]
fn graceful_stop_then_restart_from_snapshot() {
    let dir = TempDir::new("restart");
    let rt = runtime();
    let mut cfg = memory();
    cfg.data = DataDir::Files(dir.0.join("data"));
    rt.block_on(async {
        let (srv, api) = serve(cfg.clone()).await;
        let (_, key) = api.register("persisted").await;
        for i in 0..20 {
            let _ = api
                .act(
                    &key,
                    json!({"action_type": "data.read", "metadata": {"i": i}}),
                    None,
                )
                .await;
        }
        let before = api.get("/api/v1/whoami", &key).await.json();
        let rows = api.rows().await;
        srv.stop().await.unwrap();
        let srv = al_server::start(cfg.clone()).await.unwrap();
        assert!(srv.bootstrap.is_none());
        assert_eq!(
            srv.recovered[0].from_snapshot,
            Some(rows),
            "{:?}",
            srv.recovered
        );
        let api2 = Api {
            http: Http::new(format!("http://{}", srv.addr)),
            svc: api.svc.clone(),
        };
        assert_eq!(api2.get("/api/v1/whoami", &key).await.json(), before);
        assert_eq!(api2.rows().await, rows);
        srv.stop().await.unwrap();
    });
}
