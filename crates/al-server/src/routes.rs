//! The router, built from [`crate::openapi::ROUTES`], and one handler per
//! route. Each handler extracts (key, body, query, path), calls exactly one
//! engine operation through [`App::apply`] or [`App::read`], and encodes
//! the answer; no handler decides anything about governance.
//!
//! Why one file (531 lines): one handler per route of the table (about
//! thirty, a dozen lines each), the fallbacks, and `add_handler`, the one
//! match that must name every operation; split by area, a handler would sit
//! away from that match and the shared extract-call-encode helpers it uses.

use std::sync::Arc;

use al_engine::{
    ActionCall, AuditQuery, BreakerCommand, DelegationFilter, Format, ImportOptions, PolicyScope,
};
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::{App, OsEntropy, engine_error, now};
use crate::error::{ApiError, Error, cut, json_body};
use crate::extract::{BodyFormat, BodyKind, Query, bearer, header_text, read_body};
use crate::openapi::{Body as DocBody, ROUTES};

type S = Arc<App>;
type Answer = Result<Response, ApiError>;

/// Encode an answer straight from its type (fields in the order the type
/// declares them, as the API reference lists them), without building a
/// `Value` tree first.
fn ok<T: Serialize>(status: StatusCode, v: &T) -> Answer {
    let body = serde_json::to_vec(v).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

fn path_id(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|e| ApiError::invalid("id", e.body_text()))
}

/// Read the body a route declares in the table.
async fn body_of(
    app: &App,
    op: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, BodyFormat), ApiError> {
    let kind = match ROUTES.iter().find(|r| r.operation == op).map(|r| r.body) {
        Some(DocBody::Manifest) => BodyKind::Manifest,
        _ => BodyKind::Json,
    };
    let limit = if kind == BodyKind::Manifest {
        app.limits.manifest
    } else {
        app.limits.json
    };
    read_body(headers, body, kind, limit).await
}

fn query(uri: &Uri, op: &str) -> Result<Query, ApiError> {
    let allowed: Vec<&str> = ROUTES
        .iter()
        .find(|r| r.operation == op)
        .map(|r| r.query.iter().map(|p| p.name).collect())
        .unwrap_or_default();
    Query::parse(uri.query(), &allowed)
}

// ------------------------------------------------------------------ core

async fn submit_action(State(app): State<S>, headers: HeaderMap, body: Body) -> Answer {
    let key = bearer(&headers)?;
    let event_id = header_text(&headers, "x-al-event-id")?;
    let delegation_id = header_text(&headers, "x-al-delegation-id")?;
    let (body, _) = body_of(&app, "submitAction", &headers, body).await?;
    let call = ActionCall {
        api_key: key,
        body: &body,
        event_id,
        delegation_id,
    };
    let ans = app.apply(|e, now| e.submit_action(now, &call)).await?;
    let status = StatusCode::from_u16(ans.http_status).unwrap_or(StatusCode::OK);
    ok(status, &ans.result)
}

// ------------------------------------------------------------------ delegation

async fn create_delegation(State(app): State<S>, headers: HeaderMap, body: Body) -> Answer {
    let key = bearer(&headers)?;
    let (body, _) = body_of(&app, "createDelegation", &headers, body).await?;
    let r = app
        .apply(|e, now| e.create_delegation(now, key, &body, &mut OsEntropy))
        .await?;
    ok(StatusCode::CREATED, &r)
}

async fn revoke_delegation_by_id(
    State(app): State<S>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let key = bearer(&headers)?;
    let id = path_id(id)?;
    let r = app
        .apply(|e, now| e.revoke_delegation(now, key, &id))
        .await?;
    ok(StatusCode::OK, &r)
}

async fn revoke_delegation(State(app): State<S>, headers: HeaderMap, body: Body) -> Answer {
    let key = bearer(&headers)?;
    let (body, _) = body_of(&app, "revokeDelegation", &headers, body).await?;
    let id = single_string_field(&body, "delegation_id", app.limits.json)?;
    let r = app
        .apply(|e, now| e.revoke_delegation(now, key, &id))
        .await?;
    ok(StatusCode::OK, &r)
}

/// Decode `{"<name>": "<string>"}` strictly (the strict JSON reader: no
/// repeated keys; no other keys).
fn single_string_field(body: &str, name: &str, max_bytes: usize) -> Result<String, ApiError> {
    let limits = al_types::json::Limits {
        max_depth: 4,
        max_bytes,
    };
    let v = al_types::json::parse(body, &limits).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            al_types::ErrorCode::code(&e),
            format!("body {}: {}", e.location, e.message),
        )
    })?;
    let Value::Object(mut m) = v else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    let val = match m.remove(name) {
        Some(Value::String(s)) => s,
        Some(_) => return Err(ApiError::invalid(name, "must be a string")),
        None => return Err(ApiError::invalid(name, "is required")),
    };
    if let Some(k) = m.keys().next() {
        return Err(ApiError::invalid(
            k,
            format!("unknown field; expected only `{name}`"),
        ));
    }
    Ok(val)
}

async fn list_delegations(State(app): State<S>, headers: HeaderMap, uri: Uri) -> Answer {
    let key = bearer(&headers)?;
    let q = query(&uri, "listDelegations")?;
    let filter = DelegationFilter::from_query(q.get("role"), q.get("active_only"))
        .map_err(|e| engine_error(&e))?;
    let r = app
        .read(|e, now| e.list_delegations(now, key, filter))
        .await?;
    ok(StatusCode::OK, &r)
}

// ------------------------------------------------------------------ manifest

async fn export_policies(State(app): State<S>, headers: HeaderMap, uri: Uri) -> Answer {
    let key = bearer(&headers)?;
    let q = query(&uri, "exportPolicies")?;
    let format = match q.get("format") {
        None | Some("yaml") => Format::Yaml,
        Some("json") => Format::Json,
        Some(f) => {
            return Err(ApiError::invalid(
                "format",
                format!("`{}` is not `yaml` or `json`", cut(f)),
            ));
        }
    };
    let server_fields = q.flag("server_fields", false)?;
    let r = app
        .read(|e, _| e.export_policies(key, format, server_fields))
        .await?;
    let media = match format {
        Format::Json => "application/json",
        _ => "application/yaml",
    };
    let mut resp = (StatusCode::OK, r.content).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Ok(v) = HeaderValue::from_str(&r.set_digest) {
        resp.headers_mut().insert("x-al-set-digest", v);
    }
    Ok(resp)
}

async fn import_policies(State(app): State<S>, headers: HeaderMap, uri: Uri, body: Body) -> Answer {
    let key = bearer(&headers)?;
    let q = query(&uri, "importPolicies")?;
    let opts_dry = q.flag("dry_run", false)?;
    let opts_prune = q.flag("prune", false)?;
    let (text, fmt) = body_of(&app, "importPolicies", &headers, body).await?;
    let opts = ImportOptions {
        format: Some(match fmt {
            BodyFormat::Json => Format::Json,
            BodyFormat::Yaml => Format::Yaml,
        }),
        dry_run: opts_dry,
        prune: opts_prune,
    };
    let r = app
        .apply(|e, now| e.import_policies(now, key, &text, opts))
        .await?;
    ok(StatusCode::OK, &r)
}

// ------------------------------------------------------------------ introspection

async fn agent_status(State(app): State<S>, headers: HeaderMap) -> Answer {
    let key = bearer(&headers)?;
    let r = app.read(|e, now| e.agent_status(now, key)).await?;
    ok(StatusCode::OK, &r)
}

async fn whoami(State(app): State<S>, headers: HeaderMap) -> Answer {
    let key = bearer(&headers)?;
    let r = app.read(|e, now| e.whoami(now, key)).await?;
    ok(StatusCode::OK, &r)
}

async fn list_policies(State(app): State<S>, headers: HeaderMap, uri: Uri) -> Answer {
    let key = bearer(&headers)?;
    let q = query(&uri, "listPolicies")?;
    let scope = PolicyScope::from_query(q.get("scope")).map_err(|e| engine_error(&e))?;
    let r = app.read(|e, _| e.list_policies(key, scope)).await?;
    ok(StatusCode::OK, &r)
}

async fn check_policy(State(app): State<S>, headers: HeaderMap, uri: Uri) -> Answer {
    let key = bearer(&headers)?;
    let q = query(&uri, "checkPolicy")?;
    let action_type = q
        .get("action_type")
        .ok_or_else(|| ApiError::invalid("action_type", "is required"))?
        .to_owned();
    let r = app
        .read(|e, now| e.check_policy(now, key, &action_type))
        .await?;
    ok(StatusCode::OK, &r)
}

async fn query_audit(State(app): State<S>, headers: HeaderMap, uri: Uri) -> Answer {
    let key = bearer(&headers)?;
    let q = query(&uri, "queryAudit")?;
    let aq = AuditQuery {
        action_type: q.get("action_type"),
        agent_id: q.get("agent_id"),
        status: q.get("status"),
        kind: q.get("kind"),
        since: q.get("since"),
        until: q.get("until"),
        limit: q.get("limit"),
        cursor: q.get("cursor"),
    };
    let r = app.read(|e, _| e.query_audit(key, &aq)).await?;
    ok(StatusCode::OK, &r)
}

async fn verify_audit(State(app): State<S>, headers: HeaderMap) -> Answer {
    let key = bearer(&headers)?;
    let r = app.read(|e, now| e.verify_audit(now, key)).await?;
    ok(StatusCode::OK, &r)
}

async fn report_outcome(State(app): State<S>, headers: HeaderMap, body: Body) -> Answer {
    let key = bearer(&headers)?;
    let (body, _) = body_of(&app, "reportOutcome", &headers, body).await?;
    let r = app
        .apply(|e, now| e.report_outcome(now, key, &body))
        .await?;
    ok(StatusCode::CREATED, &r)
}

async fn posture(State(app): State<S>, headers: HeaderMap) -> Answer {
    let key = bearer(&headers)?;
    let r = app.read(|e, now| e.posture(now, key)).await?;
    ok(StatusCode::OK, &r)
}

// ------------------------------------------------------------------ SDK routes outside /api/v1

async fn register_agent(State(app): State<S>, headers: HeaderMap, body: Body) -> Answer {
    let key = bearer(&headers)?;
    let (body, _) = body_of(&app, "registerAgent", &headers, body).await?;
    let r = app
        .apply(|e, now| e.register_agent(now, key, &body, &mut OsEntropy))
        .await?;
    ok(StatusCode::CREATED, &r)
}

async fn approval_status(
    State(app): State<S>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let key = bearer(&headers)?;
    let id = path_id(id)?;
    let r = app.read(|e, now| e.approval_status(now, key, &id)).await?;
    ok(StatusCode::OK, &r)
}

// ------------------------------------------------------------------ operator

async fn decide_approval(
    State(app): State<S>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Answer {
    let key = bearer(&headers)?;
    let id = path_id(id)?;
    let (body, _) = body_of(&app, "decideApproval", &headers, body).await?;
    let r = app
        .apply(|e, now| e.decide_approval(now, key, &id, &body))
        .await?;
    ok(StatusCode::OK, &r)
}

async fn breaker_command(
    app: S,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
    op: &str,
    command: BreakerCommand,
) -> Answer {
    let key = bearer(&headers)?;
    let id = path_id(id)?;
    let (body, _) = body_of(&app, op, &headers, body).await?;
    let r = app
        .apply(|e, now| e.operate_breaker(now, key, &id, command, &body))
        .await?;
    ok(StatusCode::OK, &r)
}

async fn service_org(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    let key = bearer(headers)?;
    app.read(|e, _| e.service_org(key)).await
}

async fn create_webhook(State(app): State<S>, headers: HeaderMap, body: Body) -> Answer {
    let org = service_org(&app, &headers).await?;
    let (body, _) = body_of(&app, "createWebhook", &headers, body).await?;
    let mut random = [0u8; 32];
    al_engine::Entropy::fill(&mut OsEntropy, &mut random);
    let sub = app
        .webhooks
        .create(&org, &body, &now().to_rfc3339(), random)
        .await?;
    Ok((StatusCode::CREATED, json_body(&sub.view(true))).into_response())
}

async fn list_webhooks(State(app): State<S>, headers: HeaderMap) -> Answer {
    let org = service_org(&app, &headers).await?;
    let subs: Vec<Value> = app
        .webhooks
        .list(&org)
        .await
        .iter()
        .map(|s| s.view(false))
        .collect();
    Ok((StatusCode::OK, json_body(&json!({"webhooks": subs}))).into_response())
}

async fn delete_webhook(
    State(app): State<S>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let org = service_org(&app, &headers).await?;
    let id = path_id(id)?;
    app.webhooks.delete(&org, &id).await?;
    Ok((
        StatusCode::OK,
        json_body(&json!({"deleted": true, "id": id})),
    )
        .into_response())
}

async fn export_audit(State(app): State<S>, headers: HeaderMap) -> Answer {
    let org = service_org(&app, &headers).await?;
    let entries = app.read(|e, _| e.entries(&org)).await?;
    let mut out = String::with_capacity(entries.len() * 256);
    for e in &entries {
        let entry = al_audit_chain::decode(&e.bytes)
            .map_err(|x| ApiError::internal(format!("row {}: {x}", e.row)))?;
        out.push_str(&al_audit_chain::entry_to_line(&entry, &e.hash));
        out.push('\n');
    }
    let mut resp = (StatusCode::OK, out).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(resp)
}

// ------------------------------------------------------------------ meta

async fn openapi() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOC.get_or_init(crate::openapi::document_text).clone();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

async fn health(State(app): State<S>) -> Response {
    let (status, v) = app.health();
    (status, json_body(&v)).into_response()
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("no route `{method} {}`", cut(uri.path())),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|r| crate::openapi::path_matches(r.path, uri.path()))
        .map(|r| r.method)
        .collect();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!(
            "`{method}` is not allowed on `{}`; use {}",
            cut(uri.path()),
            allowed.join(", ")
        ),
    )
}

/// Add the handler of operation `op` to `m`; `None` for an operation
/// without a handler (a test checks there is none).
#[must_use]
pub fn add_handler(op: &str, m: MethodRouter<S>) -> Option<MethodRouter<S>> {
    macro_rules! breaker {
        ($op:literal, $cmd:expr) => {
            m.post(
                |State(app): State<S>,
                 headers: HeaderMap,
                 id: Result<Path<String>, PathRejection>,
                 body: Body| async move {
                    breaker_command(app, headers, id, body, $op, $cmd).await
                },
            )
        };
    }
    Some(match op {
        "submitAction" => m.post(submit_action),
        "createDelegation" => m.post(create_delegation),
        "revokeDelegationById" => m.delete(revoke_delegation_by_id),
        "listDelegations" => m.get(list_delegations),
        "revokeDelegation" => m.post(revoke_delegation),
        "exportPolicies" => m.get(export_policies),
        "importPolicies" => m.post(import_policies),
        "agentStatus" => m.get(agent_status),
        "whoami" => m.get(whoami),
        "listPolicies" => m.get(list_policies),
        "checkPolicy" => m.get(check_policy),
        "queryAudit" => m.get(query_audit),
        "verifyAudit" => m.get(verify_audit),
        "reportOutcome" => m.post(report_outcome),
        "posture" => m.get(posture),
        "registerAgent" => m.post(register_agent),
        "approvalStatus" => m.get(approval_status),
        "decideApproval" => m.post(decide_approval),
        "haltAgent" => breaker!("haltAgent", BreakerCommand::Halt),
        "resumeAgent" => breaker!("resumeAgent", BreakerCommand::Resume),
        "killAgent" => breaker!("killAgent", BreakerCommand::Kill),
        "recalibrateAgent" => breaker!("recalibrateAgent", BreakerCommand::Recalibrate),
        "completeCalibration" => {
            breaker!("completeCalibration", BreakerCommand::CompleteCalibration)
        }
        "createWebhook" => m.post(create_webhook),
        "listWebhooks" => m.get(list_webhooks),
        "deleteWebhook" => m.delete(delete_webhook),
        "exportAudit" => m.get(export_audit),
        "openapi" => m.get(openapi),
        "health" => m.get(health),
        _ => return None,
    })
}

/// The router: every route of [`ROUTES`], JSON errors for unknown routes
/// and methods.
///
/// # Errors
/// [`Error::NoHandler`]: a route whose operation has no handler (a
/// programming error the tests catch).
pub fn router(app: S) -> Result<Router, Error> {
    let mut by_path: Vec<(&str, MethodRouter<S>)> = Vec::new();
    for r in ROUTES {
        let i = match by_path.iter().position(|(p, _)| *p == r.path) {
            Some(i) => i,
            None => {
                by_path.push((r.path, MethodRouter::new()));
                by_path.len() - 1
            }
        };
        let Some(slot) = by_path.get_mut(i) else {
            continue;
        };
        let m = std::mem::take(&mut slot.1);
        slot.1 = add_handler(r.operation, m).ok_or(Error::NoHandler {
            operation: r.operation,
        })?;
    }
    let mut router = Router::new();
    for (path, m) in by_path {
        router = router.route(path, m.fallback(method_not_allowed));
    }
    Ok(router.fallback(not_found).with_state(app))
}
