//! Checking an answer against the schema the document declares for its
//! route and status (used by the conformance tests).

use serde_json::{Map, Value};

use crate::error::Error;

use super::schemas::r;
use super::{ROUTES, schemas};

/// Check that `body` is what the document declares for `method path`
/// answering `status` (the path as served, e.g. `/api/v1/delegate/dlg_1`).
///
/// # Errors
/// [`Error::Schema`] naming the route, the status, the JSON path of the
/// first mismatch and what is wrong there.
pub fn check_response(method: &str, path: &str, status: u16, body: &Value) -> Result<(), Error> {
    let rt = ROUTES
        .iter()
        .find(|r| r.method == method && path_matches(r.path, path))
        .ok_or_else(|| Error::Schema {
            route: format!("{method} {path}"),
            status,
            at: "$".into(),
            detail: "no such route".into(),
        })?;
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
        None => Err(mismatch(
            "$",
            "the route does not declare this status".into(),
        )),
    }
    .map_err(|e| match e {
        Error::Schema { at, detail, .. } => Error::Schema {
            route: format!("{method} {}", rt.path),
            status,
            at,
            detail,
        },
        other => other,
    })
}

fn mismatch(at: &str, detail: String) -> Error {
    Error::Schema {
        route: String::new(),
        status: 0,
        at: at.to_owned(),
        detail,
    }
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
/// [`Error::Schema`] with the JSON path of the first mismatch (its
/// `route` is empty and `status` 0: the caller knows them).
pub fn validate(
    schema: &Value,
    v: &Value,
    schemas: &Map<String, Value>,
    at: &str,
) -> Result<(), Error> {
    if let Some(rf) = schema.get("$ref").and_then(Value::as_str) {
        let name = rf.trim_start_matches("#/components/schemas/");
        let sc = schemas
            .get(name)
            .ok_or_else(|| mismatch(at, format!("unknown schema `{name}`")))?;
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
            Err(mismatch(at, format!("matches {ok} of the `oneOf` schemas")))
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
            return Err(mismatch(
                at,
                format!("expected {}, got {v}", types.join(" or ")),
            ));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(mismatch(
            at,
            format!("{v} is not one of {}", Value::Array(e.clone())),
        ));
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && let Some(s) = v.as_str()
        && al_types::Timestamp::parse_rfc3339(s).is_err()
    {
        return Err(mismatch(at, format!("`{s}` is not an RFC 3339 date-time")));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_i64)
        && v.as_i64().is_some_and(|n| n < min)
    {
        return Err(mismatch(at, format!("{v} is below {min}")));
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
                return Err(mismatch(at, format!("missing required `{k}`")));
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
    use crate::openapi::document;
    use serde_json::json;

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

    #[test]
    fn mismatches_are_typed_and_name_route_status_and_path() {
        use al_types::ErrorCode as _;
        let sc = schemas();
        let bad = json!({"status": "executed", "audit_event_id": 5});
        let e = validate(&r("ActionResult"), &bad, &sc, "$").unwrap_err();
        assert_eq!(e.code(), "RESPONSE_SCHEMA_MISMATCH");
        assert!(
            matches!(&e, Error::Schema { route, status: 0, at, .. } if route.is_empty() && at == "$.audit_event_id"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("$.audit_event_id: expected string"),
            "{e}"
        );
        let e = check_response("POST", "/api/v1/actions", 200, &bad).unwrap_err();
        assert!(
            matches!(&e, Error::Schema { route, status: 200, at, .. } if route == "POST /api/v1/actions" && at == "$.audit_event_id"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("POST /api/v1/actions 200: $.audit_event_id: "),
            "{e}"
        );
        let e = check_response("DELETE", "/api/v1/delegate/dlg_1", 418, &json!({})).unwrap_err();
        assert!(
            matches!(&e, Error::Schema { route, status: 418, .. } if route == "DELETE /api/v1/delegate/{id}"),
            "{e:?}"
        );
        let e = check_response("GET", "/nowhere", 200, &json!({})).unwrap_err();
        assert!(
            matches!(&e, Error::Schema { route, .. } if route == "GET /nowhere"),
            "{e:?}"
        );
    }
}
