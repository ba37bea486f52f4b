//! The component schemas of the document: every body the server reads or
//! writes.

use serde_json::{Map, Value, json};

pub(super) fn s() -> Value {
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
pub(super) fn en(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}
fn arr(items: Value) -> Value {
    json!({"type": "array", "items": items})
}
pub(super) fn r(name: &str) -> Value {
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
