//! The OpenAPI 3.1 document rendered from the route table.

use serde_json::{Map, Value, json};

use super::schemas::{en, r, s};
use super::{Auth, Body, ROUTES, schemas};

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted: an approval is needed",
        400 => {
            "Invalid request (`INVALID_REQUEST`, `INVALID_JSON`, `DUPLICATE_KEY`, `TOO_DEEP`, `INVALID_CURSOR`, manifest codes)"
        }
        401 => "Missing or unknown key (`UNAUTHORIZED`)",
        403 => {
            "Refused (`AGENT_KILLED`, `SERVICE_KEY_REQUIRED`, `AGENT_KEY_REQUIRED`, `FORBIDDEN`, `DELEGATION_INACTIVE`, `AGENT_HALTED`)"
        }
        404 => "No such resource (`NOT_FOUND`)",
        409 => {
            "Conflict (`IDEMPOTENCY_CONFLICT`, `APPROVAL_NOT_PENDING`, `INVALID_STATE`, `ACTION_NOT_EXECUTED`, `LIMIT_REACHED`)"
        }
        413 => "Body too large (`TOO_LARGE`)",
        415 => "Not JSON (`UNSUPPORTED_MEDIA_TYPE`)",
        429 => "Throttled (`RATE_LIMITED`, with `retry_after_ms`)",
        500 => "Internal error (`INTERNAL`)",
        503 => "Storage failed or shutting down (`STORAGE_FAILED`, `SHUTTING_DOWN`)",
        _ => "Answer",
    }
}

/// The OpenAPI 3.1 document of [`ROUTES`].
#[must_use]
pub fn document() -> Value {
    let mut paths = Map::new();
    for rt in ROUTES {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(rt.operation));
        op.insert("tags".into(), json!([rt.tag]));
        op.insert("summary".into(), json!(rt.summary));
        op.insert("description".into(), json!(rt.doc));
        let security = match rt.auth {
            Auth::None => json!([]),
            Auth::Agent => json!([{"agentKey": []}]),
            Auth::Service => json!([{"serviceKey": []}]),
            Auth::Any => json!([{"agentKey": []}, {"serviceKey": []}]),
        };
        op.insert("security".into(), security);
        let mut params: Vec<Value> = Vec::new();
        for seg in rt.path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": s()}));
            }
        }
        for q in rt.query {
            let schema = if q.values.is_empty() {
                s()
            } else {
                en(q.values)
            };
            params.push(json!({"name": q.name, "in": "query", "required": q.name == "action_type", "description": q.doc, "schema": schema}));
        }
        for (h, d) in rt.headers {
            params.push(json!({"name": h, "in": "header", "required": false, "description": d, "schema": s()}));
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        let json_body = |schema: &str| json!({"required": true, "content": {"application/json": {"schema": r(schema)}}});
        match rt.body {
            Body::None => {}
            Body::Json(sc) => {
                op.insert("requestBody".into(), json_body(sc));
            }
            Body::Manifest => {
                op.insert(
                    "requestBody".into(),
                    json!({"required": true, "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/yaml": {"schema": {"type": "string"}}
                    }}),
                );
            }
        }
        let mut responses = Map::new();
        for (code, sc) in rt.ok {
            let content = if *sc == "jsonl" {
                json!({"application/x-ndjson": {"schema": s()}})
            } else if *sc == "manifest" {
                json!({"application/yaml": {"schema": s()}, "application/json": {"schema": {"type": "object"}}})
            } else {
                json!({"application/json": {"schema": r(sc)}})
            };
            let desc = if *code == 409 {
                "A replay: the original result of this `X-AL-Event-ID` (nothing appended)"
            } else {
                status_text(*code)
            };
            responses.insert(
                code.to_string(),
                json!({"description": desc, "content": content}),
            );
        }
        let err = json!({"application/json": {"schema": r("Error")}});
        for code in rt.errors.iter().chain(&[500u16, 503]) {
            let key = code.to_string();
            if let Some(sc) = responses
                .get_mut(&key)
                .and_then(|e| e.pointer_mut("/content/application~1json/schema"))
            {
                // 409 on /actions: a replay result or an error.
                *sc = json!({"oneOf": [sc.clone(), r("Error")]});
                continue;
            }
            responses.insert(
                key,
                json!({"description": status_text(*code), "content": err}),
            );
        }
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths
            .entry(rt.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(e) = entry {
            e.insert(rt.method.to_ascii_lowercase(), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "AgentLattice API (al-server)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The AgentLattice governance API served by al-server. Errors are always `{\"error\":{\"code\",\"message\"}}` with a stable `code`. Bodies are JSON (`415` otherwise); `X-AL-Event-ID` makes action submissions replay-safe. Webhook deliveries carry a `GovernanceEvent` body signed with `X-AL-Signature`.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "agentKey": {"type": "http", "scheme": "bearer", "description": "An agent key, `al_live_…`"},
                "serviceKey": {"type": "http", "scheme": "bearer", "description": "A service key, `al_svc_…` (operators)"}
            }
        }
    })
}

/// The document as the checked-in `docs/openapi.json` holds it.
#[must_use]
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}
