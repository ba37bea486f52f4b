//! The route table and the OpenAPI 3.1 document generated from it.
//!
//! [`ROUTES`] is the single definition of what the server serves: the
//! router is built by walking it (`crate::routes::router`), and
//! [`document`] renders it as OpenAPI 3.1. A test compares the document
//! with `docs/openapi.json`, and the conformance tests check every answer
//! against the schema the document declares for its route and status
//! ([`check_response`]), so neither the served routes nor their shapes can
//! drift from the document.

use serde_json::{Map, Value, json};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No key (the document itself, health).
    None,
    /// An agent key (`al_live_…`).
    Agent,
    /// A service key (`al_svc_…`).
    Service,
    /// Either kind.
    Any,
}

/// A request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// None.
    None,
    /// JSON with this schema.
    Json(&'static str),
    /// A policy manifest, JSON or YAML.
    Manifest,
}

/// A query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Name.
    pub name: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// Its values, when they are a fixed set.
    pub values: &'static [&'static str],
}

/// One route: what it is, who may call it, what it takes and answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// The path, with `{name}` path parameters (axum and OpenAPI agree).
    pub path: &'static str,
    /// The OpenAPI `operationId`, also the handler's name.
    pub operation: &'static str,
    /// Group.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Details.
    pub doc: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// Query parameters (the only ones accepted).
    pub query: &'static [Param],
    /// Headers it reads besides `Authorization` and `Content-Type`.
    pub headers: &'static [(&'static str, &'static str)],
    /// Its body.
    pub body: Body,
    /// Success answers: status and schema (`"manifest"`: the manifest text).
    pub ok: &'static [(u16, &'static str)],
    /// Error statuses it can answer (besides `500`/`503`).
    pub errors: &'static [u16],
}

const P_SCOPE: Param = Param {
    name: "scope",
    doc: "`own` (default: org-wide policies and those limited to the caller) or `org` (all)",
    values: &["own", "org"],
};

/// Every route the server serves.
pub static ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/api/v1/actions",
        operation: "submitAction",
        tag: "core",
        summary: "Submit an action for policy evaluation",
        doc: "Evaluates the action against the org's policies and chains the decision. 200 for `executed`, `denied` and `policy_not_found`; 202 for `requested` (poll the approval); 409 with the original result when `X-AL-Event-ID` repeats the same action, or with `IDEMPOTENCY_CONFLICT` when it names a different one. Errors are not decisions and append nothing.",
        auth: Auth::Agent,
        query: &[],
        headers: &[
            (
                "X-AL-Event-ID",
                "replay protection: the same id and action answer the original result with 409",
            ),
            (
                "X-AL-Delegation-ID",
                "the delegation the calling child agent acts under",
            ),
        ],
        body: Body::Json("ActionRequest"),
        ok: &[
            (200, "ActionResult"),
            (202, "ActionResult"),
            (409, "ActionResult"),
        ],
        errors: &[400, 401, 403, 409, 413, 415, 429],
    },
    Route {
        method: "POST",
        path: "/api/v1/delegate",
        operation: "createDelegation",
        tag: "delegation",
        summary: "Create a time-bounded delegation (a scoped child agent)",
        doc: "Capabilities are action-type patterns within the caller's own; the child never outlives its parent. The child's key is shown once.",
        auth: Auth::Agent,
        query: &[],
        headers: &[],
        body: Body::Json("DelegateRequest"),
        ok: &[(201, "DelegationCreated")],
        errors: &[400, 401, 403, 409, 413, 415, 429],
    },
    Route {
        method: "DELETE",
        path: "/api/v1/delegate/{id}",
        operation: "revokeDelegationById",
        tag: "delegation",
        summary: "Revoke a delegation by id",
        doc: "Cascades to every descendant delegation. Revoking twice is not an error.",
        auth: Auth::Any,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "RevokeResult")],
        errors: &[401, 403, 404],
    },
    Route {
        method: "GET",
        path: "/api/v1/delegations",
        operation: "listDelegations",
        tag: "delegation",
        summary: "List the caller's delegations",
        doc: "As parent, as child, or both.",
        auth: Auth::Agent,
        query: &[
            Param {
                name: "role",
                doc: "`parent` or `child` (absent: both)",
                values: &["parent", "child"],
            },
            Param {
                name: "active_only",
                doc: "`true` or `false`",
                values: &["true", "false"],
            },
        ],
        headers: &[],
        body: Body::None,
        ok: &[(200, "DelegationsResult")],
        errors: &[400, 401, 403],
    },
    Route {
        method: "POST",
        path: "/api/v1/delegations/revoke",
        operation: "revokeDelegation",
        tag: "delegation",
        summary: "Revoke a delegation",
        doc: "Body `{delegation_id}`; as `DELETE /api/v1/delegate/{id}`.",
        auth: Auth::Any,
        query: &[],
        headers: &[],
        body: Body::Json("RevokeRequest"),
        ok: &[(200, "RevokeResult")],
        errors: &[400, 401, 403, 404, 413, 415],
    },
    Route {
        method: "GET",
        path: "/api/v1/policies/export",
        operation: "exportPolicies",
        tag: "policy-manifest",
        summary: "Export the org's policies as a YAML or JSON manifest",
        doc: "Deterministic (sorted by name, fixed field order), so it diffs cleanly; importing it is a no-op. The body is the manifest itself; `X-AL-Set-Digest` carries the digest of the policy set.",
        auth: Auth::Service,
        query: &[
            Param {
                name: "format",
                doc: "`yaml` (default) or `json`",
                values: &["yaml", "json"],
            },
            Param {
                name: "server_fields",
                doc: "also write `id`, `version`, `created_at` and `digest`",
                values: &["true", "false"],
            },
        ],
        headers: &[],
        body: Body::None,
        ok: &[(200, "manifest")],
        errors: &[400, 401, 403],
    },
    Route {
        method: "POST",
        path: "/api/v1/policies/import",
        operation: "importPolicies",
        tag: "policy-manifest",
        summary: "Import a policy manifest; create or update policies",
        doc: "Compares by name and reports `added`, `modified`, `unchanged`, `removed` (removed only with `prune`). Atomic: a manifest with any error changes nothing, and every diagnostic names its line and column.",
        auth: Auth::Service,
        query: &[
            Param {
                name: "dry_run",
                doc: "report, change nothing",
                values: &["true", "false"],
            },
            Param {
                name: "prune",
                doc: "remove policies the manifest does not list",
                values: &["true", "false"],
            },
        ],
        headers: &[],
        body: Body::Manifest,
        ok: &[(200, "ImportResult")],
        errors: &[400, 401, 403, 413, 415],
    },
    Route {
        method: "GET",
        path: "/api/v1/agent/status",
        operation: "agentStatus",
        tag: "introspection",
        summary: "Circuit breaker state and calibration",
        doc: "State, since when, why, and calibration progress.",
        auth: Auth::Agent,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "AgentStatus")],
        errors: &[401, 403],
    },
    Route {
        method: "GET",
        path: "/api/v1/whoami",
        operation: "whoami",
        tag: "introspection",
        summary: "Agent identity (id, org, key metadata)",
        doc: "With the breaker state, calibration, the policies that can govern the agent and its delegations.",
        auth: Auth::Agent,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "Whoami")],
        errors: &[401, 403],
    },
    Route {
        method: "GET",
        path: "/api/v1/policies",
        operation: "listPolicies",
        tag: "introspection",
        summary: "List active policies",
        doc: "A service key always sees the whole org.",
        auth: Auth::Any,
        query: &[P_SCOPE],
        headers: &[],
        body: Body::None,
        ok: &[(200, "PoliciesResult")],
        errors: &[400, 401, 403],
    },
    Route {
        method: "GET",
        path: "/api/v1/policies/check",
        operation: "checkPolicy",
        tag: "introspection",
        summary: "Dry-run policy evaluation",
        doc: "What submitting the action now would get. Appends nothing, creates no approval, does not touch the breaker.",
        auth: Auth::Agent,
        query: &[Param {
            name: "action_type",
            doc: "the action type to check (required)",
            values: &[],
        }],
        headers: &[],
        body: Body::None,
        ok: &[(200, "CheckResult")],
        errors: &[400, 401, 403],
    },
    Route {
        method: "GET",
        path: "/api/v1/audit",
        operation: "queryAudit",
        tag: "introspection",
        summary: "Query the audit trail with filters",
        doc: "Newest first; `next_cursor` stays correct while entries are appended. An agent key sees its own entries, a service key the org's.",
        auth: Auth::Any,
        query: &[
            Param {
                name: "action_type",
                doc: "only actions of this type",
                values: &[],
            },
            Param {
                name: "agent_id",
                doc: "only entries about this agent (service key)",
                values: &[],
            },
            Param {
                name: "status",
                doc: "only entries with this status",
                values: &[],
            },
            Param {
                name: "kind",
                doc: "`action` (default), another entry kind, or `all`",
                values: &[],
            },
            Param {
                name: "since",
                doc: "RFC 3339: at or after",
                values: &[],
            },
            Param {
                name: "until",
                doc: "RFC 3339: before",
                values: &[],
            },
            Param {
                name: "limit",
                doc: "page size, default 50, at most 200",
                values: &[],
            },
            Param {
                name: "cursor",
                doc: "`next_cursor` of the previous page",
                values: &[],
            },
        ],
        headers: &[],
        body: Body::None,
        ok: &[(200, "AuditPage")],
        errors: &[400, 401, 403],
    },
    Route {
        method: "GET",
        path: "/api/v1/audit/verify",
        operation: "verifyAudit",
        tag: "introspection",
        summary: "Verify the audit hash chain",
        doc: "Covers the whole org's chain, whichever key asks.",
        auth: Auth::Any,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "VerifyResult")],
        errors: &[401, 403],
    },
    Route {
        method: "POST",
        path: "/api/v1/report",
        operation: "reportOutcome",
        tag: "introspection",
        summary: "Report an action's outcome",
        doc: "Last write wins for the current outcome; every report is also its own chained entry, so nothing is lost.",
        auth: Auth::Agent,
        query: &[],
        headers: &[],
        body: Body::Json("ReportRequest"),
        ok: &[(201, "ReportResult")],
        errors: &[400, 401, 403, 404, 409, 413, 415],
    },
    Route {
        method: "GET",
        path: "/api/v1/posture",
        operation: "posture",
        tag: "introspection",
        summary: "Governance posture score",
        doc: "Four components of 25 points over 30-day windows.",
        auth: Auth::Any,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "Posture")],
        errors: &[401, 403],
    },
    Route {
        method: "POST",
        path: "/api/agents/register",
        operation: "registerAgent",
        tag: "agents",
        summary: "Register an agent (the SDK's `register`)",
        doc: "Returns the agent's key, once.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::Json("RegisterRequest"),
        ok: &[(201, "Registered")],
        errors: &[400, 401, 403, 409, 413, 415],
    },
    Route {
        method: "GET",
        path: "/api/approvals/{id}/status",
        operation: "approvalStatus",
        tag: "agents",
        summary: "An approval's status (the SDK's `gate` polls it)",
        doc: "`pending`, `escalated`, `approved`, `denied` or `timed_out`. The owning agent's key or a service key of the org.",
        auth: Auth::Any,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "ApprovalView")],
        errors: &[401, 403, 404],
    },
    Route {
        method: "POST",
        path: "/api/v1/operator/approvals/{id}/decision",
        operation: "decideApproval",
        tag: "operator",
        summary: "Approve or deny a pending approval",
        doc: "Applies to the exact action the approval is bound to, once; says whether the deciding policy changed since the request.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::Json("DecisionRequest"),
        ok: &[(200, "ApprovalView")],
        errors: &[400, 401, 403, 404, 409, 413, 415],
    },
    Route {
        method: "POST",
        path: "/api/v1/operator/agents/{id}/halt",
        operation: "haltAgent",
        tag: "operator",
        summary: "Halt an agent: every action is denied until resumed",
        doc: "Chained with the operator's name.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::Json("OperatorRequest"),
        ok: &[(200, "AgentStatus")],
        errors: &[400, 401, 403, 404, 409, 413, 415],
    },
    Route {
        method: "POST",
        path: "/api/v1/operator/agents/{id}/resume",
        operation: "resumeAgent",
        tag: "operator",
        summary: "Resume a halted agent",
        doc: "Chained with the operator's name.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::Json("OperatorRequest"),
        ok: &[(200, "AgentStatus")],
        errors: &[400, 401, 403, 404, 409, 413, 415],
    },
    Route {
        method: "POST",
        path: "/api/v1/operator/agents/{id}/kill",
        operation: "killAgent",
        tag: "operator",
        summary: "Kill an agent (permanent; its key stops working)",
        doc: "Also revokes every delegation the agent made.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::Json("OperatorRequest"),
        ok: &[(200, "AgentStatus")],
        errors: &[400, 401, 403, 404, 409, 413, 415],
    },
    Route {
        method: "POST",
        path: "/api/v1/operator/agents/{id}/recalibrate",
        operation: "recalibrateAgent",
        tag: "operator",
        summary: "Start the agent's calibration again",
        doc: "The learned baseline is discarded.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::Json("OperatorRequest"),
        ok: &[(200, "AgentStatus")],
        errors: &[400, 401, 403, 404, 409, 413, 415],
    },
    Route {
        method: "POST",
        path: "/api/v1/operator/agents/{id}/complete-calibration",
        operation: "completeCalibration",
        tag: "operator",
        summary: "Mark the agent's calibration complete",
        doc: "The baseline learned so far is used from now on.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::Json("OperatorRequest"),
        ok: &[(200, "AgentStatus")],
        errors: &[400, 401, 403, 404, 409, 413, 415],
    },
    Route {
        method: "POST",
        path: "/api/v1/operator/webhooks",
        operation: "createWebhook",
        tag: "operator",
        summary: "Subscribe a URL to governance events",
        doc: "Deliveries are signed with HMAC-SHA256 (`X-AL-Signature: sha256=<hex>` over the exact body) and retried with exponential backoff; they never delay an action. The secret is shown once.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::Json("WebhookRequest"),
        ok: &[(201, "Webhook")],
        errors: &[400, 401, 403, 409, 413, 415],
    },
    Route {
        method: "GET",
        path: "/api/v1/operator/webhooks",
        operation: "listWebhooks",
        tag: "operator",
        summary: "List the org's webhook subscriptions",
        doc: "Secrets are shown as fingerprints.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "WebhookList")],
        errors: &[401, 403],
    },
    Route {
        method: "DELETE",
        path: "/api/v1/operator/webhooks/{id}",
        operation: "deleteWebhook",
        tag: "operator",
        summary: "Delete a webhook subscription",
        doc: "Deliveries already queued still go out.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "Deleted")],
        errors: &[401, 403, 404],
    },
    Route {
        method: "GET",
        path: "/api/v1/operator/audit/export",
        operation: "exportAudit",
        tag: "operator",
        summary: "Export the org's audit chain as JSON Lines",
        doc: "One entry per line, oldest first, in the documented JSON Lines format; `al verify` checks it offline.",
        auth: Auth::Service,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "jsonl")],
        errors: &[401, 403],
    },
    Route {
        method: "GET",
        path: "/api/v1/openapi",
        operation: "openapi",
        tag: "meta",
        summary: "This OpenAPI 3.1 document",
        doc: "Generated from the server's route table.",
        auth: Auth::None,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "OpenApi")],
        errors: &[],
    },
    Route {
        method: "GET",
        path: "/api/v1/health",
        operation: "health",
        tag: "meta",
        summary: "Liveness: the server is up and its storage works",
        doc: "`503 STORAGE_FAILED` once storage has failed.",
        auth: Auth::None,
        query: &[],
        headers: &[],
        body: Body::None,
        ok: &[(200, "Health")],
        errors: &[],
    },
];

fn s() -> Value {
    json!({"type": "string"})
}
fn dt() -> Value {
    json!({"type": "string", "format": "date-time"})
}
fn int() -> Value {
    json!({"type": "integer", "minimum": 0})
}
fn b() -> Value {
    json!({"type": "boolean"})
}
fn num() -> Value {
    json!({"type": "number"})
}
fn en(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}
fn arr(items: Value) -> Value {
    json!({"type": "array", "items": items})
}
fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}
fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}
fn obj(required: &[(&str, Value)], optional: &[(&str, Value)]) -> Value {
    let mut props = Map::new();
    for (k, v) in required.iter().chain(optional) {
        props.insert((*k).to_owned(), v.clone());
    }
    let req: Vec<&str> = required.iter().map(|(k, _)| *k).collect();
    json!({"type": "object", "required": req, "properties": props})
}

const ACTION_STATUS: &[&str] = &["executed", "denied", "requested", "policy_not_found"];
const STATES: &[&str] = &[
    "CALIBRATING",
    "MONITORING",
    "WARN",
    "THROTTLE",
    "HALT",
    "KILLED",
];

/// The component schemas: every body the server reads or writes. They
/// list the keys the Python SDK 0.4.2 reads as required (`d["…"]`) as
/// `required`; other documented keys may be absent or null.
#[must_use]
pub fn schemas() -> Map<String, Value> {
    let cond = obj(
        &[
            ("field", s()),
            ("operator", s()),
            ("expected", json!({})),
            ("result", b()),
        ],
        &[],
    );
    let policy_summary = obj(
        &[
            ("id", s()),
            ("name", s()),
            ("action_type", s()),
            ("approval_required", b()),
            ("has_conditions", b()),
            ("version", int()),
            ("created_at", s()),
        ],
        &[
            ("effect", s()),
            ("agent_limited", b()),
            ("digest", s()),
            ("tampered", b()),
        ],
    );
    let delegation_entry = obj(
        &[
            ("id", s()),
            ("scope", json!({"type": "object"})),
            ("expires_at", dt()),
            ("active", b()),
        ],
        &[
            ("parent_config_id", s()),
            ("child_config_id", s()),
            ("status", s()),
            ("created_at", dt()),
            ("revoked_at", dt()),
        ],
    );
    let calibration = obj(&[], &[("progress_percent", int()), ("complete", b())]);
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put(
        "Error",
        obj(
            &[(
                "error",
                obj(
                    &[("code", s()), ("message", s())],
                    &[
                        ("retry_after_ms", int()),
                        ("field", s()),
                        ("diagnostics", arr(json!({"type": "object"}))),
                    ],
                ),
            )],
            &[],
        ),
    );
    put(
        "ActionRequest",
        obj(
            &[("action_type", s())],
            &[
                ("timestamp", dt()),
                (
                    "data_accessed",
                    arr(obj(
                        &[("type", s())],
                        &[
                            ("count", int()),
                            (
                                "sensitivity",
                                en(&["public", "low", "medium", "high", "critical"]),
                            ),
                        ],
                    )),
                ),
                ("metadata", json!({"type": "object"})),
            ],
        ),
    );
    put("ConditionResult", cond.clone());
    put(
        "ActionResult",
        obj(
            &[("status", en(ACTION_STATUS)), ("audit_event_id", s())],
            &[
                ("approval_id", s()),
                ("message", s()),
                ("timeout_at", dt()),
                ("denial_reason", s()),
                ("policy_name", s()),
                ("policy_id", s()),
                ("policy_version", int()),
                ("conditions_evaluated", arr(r("ConditionResult"))),
            ],
        ),
    );
    put(
        "DelegateRequest",
        obj(
            &[
                ("name", s()),
                ("capabilities", arr(s())),
                ("ttl_seconds", int()),
            ],
            &[],
        ),
    );
    put(
        "DelegationCreated",
        obj(
            &[
                ("delegation_id", s()),
                ("child_api_key", s()),
                ("expires_at", dt()),
            ],
            &[
                ("child_config_id", s()),
                ("parent_config_id", s()),
                ("scope", json!({"type": "object"})),
                ("audit_event_id", s()),
            ],
        ),
    );
    put("RevokeRequest", obj(&[("delegation_id", s())], &[]));
    put(
        "RevokeResult",
        obj(
            &[("revoked", b()), ("delegation_id", s())],
            &[("cascaded", arr(s()))],
        ),
    );
    put("DelegationEntry", delegation_entry);
    put(
        "DelegationsResult",
        obj(&[], &[("delegations", arr(r("DelegationEntry")))]),
    );
    put("PolicySummary", policy_summary);
    put(
        "PoliciesResult",
        obj(
            &[("scope", en(&["own", "org"]))],
            &[("policies", arr(r("PolicySummary")))],
        ),
    );
    put(
        "CheckResult",
        obj(
            &[
                ("allowed", b()),
                ("needs_approval", b()),
                ("action_type", s()),
            ],
            &[
                ("status", en(ACTION_STATUS)),
                ("policy_name", s()),
                ("denial_reason", s()),
                ("reason", s()),
                ("conditions_evaluated", arr(r("ConditionResult"))),
            ],
        ),
    );
    put(
        "Whoami",
        obj(
            &[
                ("config_id", s()),
                ("name", s()),
                ("org_id", s()),
                ("is_active", b()),
                ("cb_state", en(STATES)),
            ],
            &[
                ("calibration", calibration.clone()),
                ("policies", arr(r("PolicySummary"))),
                (
                    "delegations",
                    obj(
                        &[],
                        &[
                            ("as_parent", arr(r("DelegationEntry"))),
                            ("as_child", arr(r("DelegationEntry"))),
                        ],
                    ),
                ),
                (
                    "key",
                    obj(
                        &[],
                        &[("prefix", s()), ("fingerprint", s()), ("created_at", dt())],
                    ),
                ),
                ("created_at", dt()),
                ("description", s()),
            ],
        ),
    );
    put(
        "AgentStatus",
        obj(
            &[("config_id", s()), ("cb_state", en(STATES))],
            &[
                ("since", dt()),
                ("reason", s()),
                ("signal", s()),
                ("calibration", calibration),
                ("is_active", b()),
                ("audit_event_id", s()),
            ],
        ),
    );
    put(
        "AuditEvent",
        obj(
            &[
                ("id", s()),
                ("action_type", s()),
                ("status", s()),
                ("timestamp", dt()),
                ("created_at", dt()),
            ],
            &[
                ("row", int()),
                ("kind", s()),
                ("agent_id", s()),
                ("data_accessed", arr(json!({}))),
                ("repo", s()),
                ("branch", s()),
                ("pr_number", json!({"type": "integer"})),
                ("policy_id", s()),
                ("policy_version", s()),
                ("denial_reason", s()),
                ("outcome", s()),
                ("fields", json!({"type": "object"})),
                ("hash", s()),
            ],
        ),
    );
    put(
        "AuditPage",
        obj(
            &[],
            &[
                ("events", arr(r("AuditEvent"))),
                ("next_cursor", nullable("string")),
            ],
        ),
    );
    put(
        "VerifyResult",
        obj(
            &[
                ("org_id", s()),
                ("chain_valid", b()),
                ("verified_through_row", int()),
                ("verified_from_checkpoint", b()),
                ("timestamp", dt()),
            ],
            &[
                ("chain_hash", nullable("string")),
                ("first_broken_at_row_id", nullable("string")),
            ],
        ),
    );
    put(
        "ReportRequest",
        obj(
            &[
                ("audit_event_id", s()),
                (
                    "outcome",
                    obj(
                        &[("status", en(&["success", "failure", "partial"]))],
                        &[("message", s()), ("metadata", json!({"type": "object"}))],
                    ),
                ),
            ],
            &[],
        ),
    );
    put(
        "ReportResult",
        obj(
            &[
                ("audit_event_id", s()),
                ("status", en(&["success", "failure", "partial"])),
                ("reported_at", dt()),
            ],
            &[("outcome_event_id", s()), ("replaces", s())],
        ),
    );
    put(
        "PostureComponent",
        obj(&[("score", num()), ("max", num())], &[("formula", s())]),
    );
    put(
        "Posture",
        obj(
            &[("score", num())],
            &[(
                "components",
                json!({"type": "object", "additionalProperties": r("PostureComponent")}),
            )],
        ),
    );
    put(
        "ImportResult",
        obj(
            &[
                ("dry_run", b()),
                ("added", arr(s())),
                ("modified", arr(json!({}))),
                ("unchanged", arr(s())),
                ("removed", arr(s())),
            ],
            &[
                ("prune", b()),
                ("audit_event_ids", arr(s())),
                ("set_digest", s()),
            ],
        ),
    );
    put(
        "RegisterRequest",
        obj(&[("name", s())], &[("description", nullable("string"))]),
    );
    put(
        "Registered",
        obj(
            &[
                ("id", s()),
                ("name", s()),
                ("api_key", s()),
                ("created_at", dt()),
            ],
            &[("description", s()), ("audit_event_id", s())],
        ),
    );
    put(
        "ApprovalView",
        obj(
            &[
                ("approval_id", s()),
                (
                    "status",
                    en(&["pending", "escalated", "approved", "denied", "timed_out"]),
                ),
            ],
            &[
                ("audit_event_id", s()),
                ("agent_id", s()),
                ("action_type", s()),
                ("requested_at", dt()),
                ("timeout_at", dt()),
                ("escalate_at", dt()),
                ("decided_at", dt()),
                ("reviewer", s()),
                ("comment", s()),
                ("policy_name", s()),
                ("policy_changed", b()),
                ("decision_event_id", s()),
            ],
        ),
    );
    put(
        "DecisionRequest",
        obj(
            &[("decision", en(&["approve", "deny"])), ("reviewer", s())],
            &[("comment", s())],
        ),
    );
    put("OperatorRequest", obj(&[("by", s())], &[]));
    put(
        "WebhookRequest",
        obj(
            &[("url", s())],
            &[
                ("events", arr(en(&crate::webhook::EVENT_TYPES))),
                ("secret", s()),
                ("description", s()),
            ],
        ),
    );
    put(
        "Webhook",
        obj(
            &[
                ("id", s()),
                ("url", s()),
                ("events", arr(s())),
                ("created_at", dt()),
                ("secret_fingerprint", s()),
            ],
            &[("secret", s()), ("description", nullable("string"))],
        ),
    );
    put("WebhookList", obj(&[("webhooks", arr(r("Webhook")))], &[]));
    put("Deleted", obj(&[("deleted", b()), ("id", s())], &[]));
    put(
        "OpenApi",
        obj(
            &[("openapi", s()), ("paths", json!({"type": "object"}))],
            &[],
        ),
    );
    put("Health", obj(&[("status", s())], &[("orgs", int())]));
    put(
        "GovernanceEvent",
        obj(
            &[
                ("event_type", en(&crate::webhook::EVENT_TYPES)),
                ("timestamp", dt()),
                ("org_id", s()),
            ],
            &[("agent_id", s()), ("data", json!({"type": "object"}))],
        ),
    );
    m
}

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

/// Check that `body` is what the document declares for `method path`
/// answering `status` (the path as served, e.g. `/api/v1/delegate/dlg_1`).
///
/// # Errors
/// A message naming the route and the first mismatch.
pub fn check_response(method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
    let rt = ROUTES
        .iter()
        .find(|r| r.method == method && path_matches(r.path, path))
        .ok_or_else(|| format!("no route {method} {path}"))?;
    let sc = rt.ok.iter().find(|(c, _)| *c == status).map(|(_, sc)| *sc);
    let schemas = schemas();
    let declared_error = rt.errors.contains(&status) || status == 500 || status == 503;
    match sc {
        Some("manifest" | "jsonl") => Ok(()),
        Some(sc) => {
            let res = validate(&r(sc), body, &schemas, "$");
            if res.is_err() && declared_error {
                validate(&r("Error"), body, &schemas, "$")
            } else {
                res
            }
        }
        None if declared_error => validate(&r("Error"), body, &schemas, "$"),
        None => Err(format!(
            "{method} {} does not declare status {status}",
            rt.path
        )),
    }
    .map_err(|e| format!("{method} {} {status}: {e}", rt.path))
}

pub(crate) fn path_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(a, b)| a == b || (a.starts_with('{') && !b.is_empty()))
}

/// Validate `v` against the subset of JSON Schema the document uses:
/// `$ref`, `type` (one or a list), `enum`, `required`, `properties`,
/// `items`, `additionalProperties` (as a schema), `oneOf`, `format:
/// date-time`, `minimum`.
///
/// # Errors
/// A message with the JSON path of the first mismatch.
pub fn validate(
    schema: &Value,
    v: &Value,
    schemas: &Map<String, Value>,
    at: &str,
) -> Result<(), String> {
    if let Some(rf) = schema.get("$ref").and_then(Value::as_str) {
        let name = rf.trim_start_matches("#/components/schemas/");
        let sc = schemas
            .get(name)
            .ok_or_else(|| format!("unknown schema `{name}`"))?;
        return validate(sc, v, schemas, at);
    }
    if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = alts
            .iter()
            .filter(|a| validate(a, v, schemas, at).is_ok())
            .count();
        return if ok == 1 {
            Ok(())
        } else {
            Err(format!("{at}: matches {ok} of the `oneOf` schemas"))
        };
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let is = |ty: &str| match ty {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "null" => v.is_null(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            return Err(format!("{at}: expected {}, got {v}", types.join(" or ")));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!(
            "{at}: {v} is not one of {}",
            Value::Array(e.clone())
        ));
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && let Some(s) = v.as_str()
        && al_types::Timestamp::parse_rfc3339(s).is_err()
    {
        return Err(format!("{at}: `{s}` is not an RFC 3339 date-time"));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_i64)
        && v.as_i64().is_some_and(|n| n < min)
    {
        return Err(format!("{at}: {v} is below {min}"));
    }
    if let Value::Object(o) = v {
        for k in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = k.as_str()
                && !o.contains_key(k)
            {
                return Err(format!("{at}: missing required `{k}`"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, x) in o {
            let sub = format!("{at}.{k}");
            if let Some(p) = props.and_then(|p| p.get(k)) {
                // An optional key may be null where the document allows it;
                // a present key must have the documented type.
                validate(p, x, schemas, &sub)?;
            } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                validate(ap, x, schemas, &sub)?;
            }
        }
    }
    if let (Value::Array(a), Some(items)) = (v, schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            validate(items, x, schemas, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn every_ref_resolves_and_every_operation_is_unique() {
        let doc = document();
        let text = doc.to_string();
        let schemas = schemas();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(schemas.contains_key(&name), "dangling $ref {name}");
        }
        let mut ops: Vec<&str> = ROUTES.iter().map(|r| r.operation).collect();
        ops.sort_unstable();
        let n = ops.len();
        ops.dedup();
        assert_eq!(ops.len(), n, "duplicate operationId");
        let mut rs: Vec<(&str, &str)> = ROUTES.iter().map(|r| (r.method, r.path)).collect();
        rs.sort_unstable();
        rs.dedup();
        assert_eq!(rs.len(), n, "duplicate method + path");
    }

    #[test]
    fn the_seed_endpoints_are_all_here() {
        for (m, p) in [
            ("POST", "/api/v1/actions"),
            ("POST", "/api/v1/delegate"),
            ("DELETE", "/api/v1/delegate/{id}"),
            ("GET", "/api/v1/delegations"),
            ("POST", "/api/v1/delegations/revoke"),
            ("GET", "/api/v1/policies/export"),
            ("POST", "/api/v1/policies/import"),
            ("GET", "/api/v1/agent/status"),
            ("GET", "/api/v1/whoami"),
            ("GET", "/api/v1/policies"),
            ("GET", "/api/v1/policies/check"),
            ("GET", "/api/v1/audit"),
            ("GET", "/api/v1/audit/verify"),
            ("POST", "/api/v1/report"),
            ("GET", "/api/v1/posture"),
            ("POST", "/api/agents/register"),
            ("GET", "/api/approvals/{id}/status"),
        ] {
            assert!(
                ROUTES.iter().any(|r| r.method == m && r.path == p),
                "{m} {p}"
            );
        }
    }

    #[test]
    fn the_validator_refuses_what_it_should() {
        let sc = schemas();
        let ok =
            json!({"status": "executed", "audit_event_id": "evt_1", "conditions_evaluated": []});
        assert!(validate(&r("ActionResult"), &ok, &sc, "$").is_ok());
        for bad in [
            json!({"status": "executed"}),
            json!({"status": "maybe", "audit_event_id": "e"}),
            json!({"status": "executed", "audit_event_id": 5}),
            json!({"status": "executed", "audit_event_id": "e", "conditions_evaluated": [{"field": "x"}]}),
            json!({"status": "executed", "audit_event_id": "e", "timeout_at": "yesterday"}),
            json!([]),
        ] {
            assert!(
                validate(&r("ActionResult"), &bad, &sc, "$").is_err(),
                "{bad}"
            );
        }
        assert!(check_response("GET", "/api/v1/delegate/x", 200, &json!({})).is_err());
        assert!(
            check_response(
                "DELETE",
                "/api/v1/delegate/dlg_1",
                404,
                &json!({"error": {"code": "NOT_FOUND", "message": "m"}})
            )
            .is_ok()
        );
        assert!(check_response("DELETE", "/api/v1/delegate/dlg_1", 418, &json!({})).is_err());
    }
}
