//! Action requests: the body of `POST /actions` (see the crate docs and
//! `docs/policy-manifest.md`, "Action requests").

use al_types::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::limits::Limits;
use crate::manifest::check_action_type;
use crate::model::Sensitivity;

/// One item of `data_accessed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataAccess {
    /// What kind of data (`source_code`, `pii`, …).
    #[serde(rename = "type")]
    pub data_type: String,
    /// How many records; defaults to 1.
    pub count: u64,
    /// Declared sensitivity, if any. An item without one leaves
    /// `@data.max_sensitivity` unknown unless another item declares one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<Sensitivity>,
}

/// Facts derived once from `data_accessed` so evaluation does not rescan.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct DataFacts {
    pub count: u64,
    pub max_sensitivity: Option<Sensitivity>,
    /// Distinct types, sorted.
    pub types: Vec<String>,
}

/// A validated action request. Construct with [`ActionRequest::new`] or
/// [`ActionRequest::from_json`]; the acting agent is passed separately to
/// evaluation because it comes from authentication, not from the body.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionRequest {
    action_type: String,
    timestamp: Timestamp,
    data_accessed: Vec<DataAccess>,
    metadata: Map<String, Value>,
    pub(crate) facts: DataFacts,
}

impl ActionRequest {
    /// Build a request from parts, validating the action type and limits.
    ///
    /// # Errors
    /// [`Error::Request`] (`INVALID_REQUEST`) naming the field.
    pub fn new(
        action_type: impl Into<String>,
        timestamp: Timestamp,
        data_accessed: Vec<DataAccess>,
        metadata: Map<String, Value>,
        limits: &Limits,
    ) -> Result<ActionRequest, Error> {
        let action_type = action_type.into();
        check_action_type(&action_type, limits.max_pattern_len)
            .map_err(|e| Error::request("action_type", e.to_string()))?;
        if data_accessed.len() > limits.max_data_accessed {
            return Err(Error::request(
                "data_accessed",
                format!(
                    "{} items, over the limit of {} (`max_data_accessed`)",
                    data_accessed.len(),
                    limits.max_data_accessed
                ),
            ));
        }
        for (i, d) in data_accessed.iter().enumerate() {
            if d.data_type.is_empty() || d.data_type.len() > limits.max_name_len {
                return Err(Error::request(
                    format!("data_accessed[{i}].type"),
                    format!("must be 1 to {} bytes long", limits.max_name_len),
                ));
            }
        }
        // The metadata object is level 1; its values nest below it (the
        // depth of `Value::Object(metadata)`, without copying the map).
        if limits.max_depth == 0
            || metadata
                .values()
                .any(|v| deeper_than(v, limits.max_depth - 1))
        {
            return Err(Error::request(
                "metadata",
                format!(
                    "nested deeper than {} levels (`max_depth`)",
                    limits.max_depth
                ),
            ));
        }
        let mut types: Vec<String> = data_accessed.iter().map(|d| d.data_type.clone()).collect();
        types.sort();
        types.dedup();
        let facts = DataFacts {
            count: data_accessed
                .iter()
                .fold(0u64, |acc, d| acc.saturating_add(d.count)),
            max_sensitivity: data_accessed.iter().filter_map(|d| d.sensitivity).max(),
            types,
        };
        Ok(ActionRequest {
            action_type,
            timestamp,
            data_accessed,
            metadata,
            facts,
        })
    }

    /// Parse a `POST /actions` body. `timestamp` is optional in the body;
    /// when absent, `now` (the caller's clock) is used. Unknown top-level
    /// keys are ignored (they cannot widen what is allowed: conditions only
    /// read `metadata` and the built-in facts).
    ///
    /// The body is read strictly (`al_types::json`): a key repeated at any
    /// depth, nesting deeper than `max_depth` below the body, more than
    /// `max_request_bytes`, or anything but one JSON object is refused with
    /// the line and column, and the key when one is repeated.
    ///
    /// # Errors
    /// [`Error::Request`] naming the field (`body` for the JSON rules, with
    /// the location and the reader's error as its source); nothing is
    /// recorded.
    pub fn from_json(body: &str, now: Timestamp, limits: &Limits) -> Result<ActionRequest, Error> {
        // The body is level 1 and `metadata` level 2: metadata may nest
        // `max_depth` levels below the body.
        let json_limits = al_types::json::Limits {
            max_depth: limits.max_depth + 1,
            max_bytes: limits.max_request_bytes,
        };
        let v = al_types::json::parse(body, &json_limits).map_err(|e| Error::Request {
            field: "body".to_owned(),
            message: e.message.clone(),
            location: Some(e.location),
            source: Some(e),
        })?;
        ActionRequest::from_value(&v, now, limits)
    }

    /// As [`ActionRequest::from_json`], from a parsed JSON value.
    ///
    /// # Errors
    /// [`Error::Request`] naming the field.
    pub fn from_value(v: &Value, now: Timestamp, limits: &Limits) -> Result<ActionRequest, Error> {
        let Value::Object(o) = v else {
            return Err(Error::request("body", "must be a JSON object"));
        };
        let action_type = match o.get("action_type") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(Error::request("action_type", "must be a string")),
            None => return Err(Error::request("action_type", "is required")),
        };
        let timestamp = match o.get("timestamp") {
            None | Some(Value::Null) => now,
            Some(Value::String(s)) => Timestamp::parse_rfc3339(s).map_err(|e| Error::Request {
                field: "timestamp".to_owned(),
                message: e.to_string(),
                location: None,
                source: None,
            })?,
            Some(_) => return Err(Error::request("timestamp", "must be an RFC 3339 string")),
        };
        let data_accessed = match o.get("data_accessed") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > limits.max_data_accessed {
                    return Err(Error::request(
                        "data_accessed",
                        format!(
                            "{} items, over the limit of {} (`max_data_accessed`)",
                            items.len(),
                            limits.max_data_accessed
                        ),
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| data_item(i, it))
                    .collect::<Result<Vec<_>, _>>()?
            }
            Some(_) => return Err(Error::request("data_accessed", "must be an array")),
        };
        let metadata = match o.get("metadata") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(Error::request("metadata", "must be an object")),
        };
        ActionRequest::new(action_type, timestamp, data_accessed, metadata, limits)
    }

    /// The action type.
    #[must_use]
    pub fn action_type(&self) -> &str {
        &self.action_type
    }

    /// The request time (UTC).
    #[must_use]
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// What data the action touches.
    #[must_use]
    pub fn data_accessed(&self) -> &[DataAccess] {
        &self.data_accessed
    }

    /// Free-form metadata that conditions read.
    #[must_use]
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The request as JSON, in the wire shape `from_json` reads.
    #[must_use]
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "action_type": self.action_type,
            "timestamp": self.timestamp.to_rfc3339(),
            "data_accessed": self.data_accessed,
            "metadata": self.metadata,
        })
    }
}

/// Whether `v` nests containers more than `limit` levels deep (as
/// `al_types::json::depth(v) > limit`), without allocating: the recursion
/// stops at `limit`, so it is bounded by the limit, not by the input.
fn deeper_than(v: &Value, limit: usize) -> bool {
    let below = match v {
        Value::Array(_) | Value::Object(_) => match limit.checked_sub(1) {
            None => return true,
            Some(b) => b,
        },
        _ => return false,
    };
    match v {
        Value::Array(a) => a.iter().any(|c| deeper_than(c, below)),
        Value::Object(o) => o.values().any(|c| deeper_than(c, below)),
        _ => false,
    }
}

fn data_item(i: usize, it: &Value) -> Result<DataAccess, Error> {
    let Value::Object(o) = it else {
        return Err(Error::request(
            format!("data_accessed[{i}]"),
            "must be an object",
        ));
    };
    let data_type = match o.get("type") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(Error::request(
                format!("data_accessed[{i}].type"),
                "must be a string",
            ));
        }
        None => {
            return Err(Error::request(
                format!("data_accessed[{i}].type"),
                "is required",
            ));
        }
    };
    let count = match o.get("count") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            Error::request(
                format!("data_accessed[{i}].count"),
                "must be a non-negative integer",
            )
        })?,
        Some(_) => {
            return Err(Error::request(
                format!("data_accessed[{i}].count"),
                "must be a non-negative integer",
            ));
        }
    };
    let sensitivity = match o.get("sensitivity") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Sensitivity::parse(s).ok_or_else(|| {
            Error::request(
                format!("data_accessed[{i}].sensitivity"),
                format!(
                    "`{}` is not one of `public`, `low`, `medium`, `high`, `critical`",
                    crate::manifest::truncate(s)
                ),
            )
        })?),
        Some(_) => {
            return Err(Error::request(
                format!("data_accessed[{i}].sensitivity"),
                "must be a string",
            ));
        }
    };
    Ok(DataAccess {
        data_type,
        count,
        sensitivity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use al_types::ErrorCode as _;

    fn now() -> Timestamp {
        Timestamp::from_unix_seconds(0).unwrap()
    }

    #[test]
    fn errors_name_the_field() {
        let l = Limits::default();
        let cases = [
            (r#"{"action_type": "db.*"}"#, "action_type"),
            (r#"{"action_type": 3}"#, "action_type"),
            (r#"{}"#, "action_type"),
            (
                r#"{"action_type": "a", "timestamp": "yesterday"}"#,
                "timestamp",
            ),
            (
                r#"{"action_type": "a", "data_accessed": [{"type": "x", "sensitivity": "secret"}]}"#,
                "data_accessed[0].sensitivity",
            ),
            (
                r#"{"action_type": "a", "data_accessed": [{"count": 1}]}"#,
                "data_accessed[0].type",
            ),
            (
                r#"{"action_type": "a", "data_accessed": [{"type": "x", "count": -1}]}"#,
                "data_accessed[0].count",
            ),
            (r#"{"action_type": "a", "metadata": []}"#, "metadata"),
            (r#"[1"#, "body"),
        ];
        for (body, field) in cases {
            let e = ActionRequest::from_json(body, now(), &l).unwrap_err();
            let Error::Request { field: got, .. } = &e else {
                panic!("{e:?}")
            };
            assert_eq!(got, field, "{body}: {e}");
            assert_eq!(e.code(), "INVALID_REQUEST");
        }
    }

    #[test]
    fn facts_are_derived() {
        let body = r#"{"action_type": "a.b", "data_accessed": [
            {"type": "pii", "count": 3, "sensitivity": "high"},
            {"type": "code", "count": 2},
            {"type": "pii", "sensitivity": "low"}]}"#;
        let r = ActionRequest::from_json(body, now(), &Limits::default()).unwrap();
        assert_eq!(r.facts.count, 6);
        assert_eq!(r.facts.max_sensitivity, Some(Sensitivity::High));
        assert_eq!(r.facts.types, vec!["code".to_owned(), "pii".to_owned()]);
        assert_eq!(r.timestamp(), now());
    }

    proptest::proptest! {
        /// The bounded check against the full depth (the reference).
        #[test]
        fn deeper_than_agrees_with_depth(v in arb_json(), limit in 0usize..6) {
            proptest::prop_assert_eq!(deeper_than(&v, limit), al_types::json::depth(&v) > limit);
        }
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::from)];
        leaf.prop_recursive(8, 64, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]{1}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn deep_metadata_is_rejected() {
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let body = format!(r#"{{"action_type": "a", "metadata": {{"x": {deep}}}}}"#);
        let e = ActionRequest::from_json(&body, now(), &Limits::default()).unwrap_err();
        assert!(
            matches!(&e, Error::Request { field, location: Some(_), .. } if field == "body"),
            "{e:?}"
        );
        // Built from parts, the metadata itself is checked.
        let v: Value = serde_json::from_str(&deep).unwrap();
        let mut m = Map::new();
        m.insert("x".into(), v);
        let e = ActionRequest::new("a", now(), Vec::new(), m, &Limits::default()).unwrap_err();
        assert!(
            matches!(&e, Error::Request { field, .. } if field == "metadata"),
            "{e:?}"
        );
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        for (body, key, line, column) in [
            (
                r#"{"action_type":"a","action_type":"b"}"#,
                "action_type",
                1,
                32,
            ),
            (
                "{\"action_type\": \"a\",\n \"metadata\": {\"x\": {\"env\": 1, \"env\": 2}}}",
                "env",
                2,
                35,
            ),
            (
                r#"{"action_type":"a","data_accessed":[{"type":"x","count":1,"count":9}]}"#,
                "count",
                1,
                65,
            ),
            (
                r#"{"action_type":"a","metadata":{"a\"b":1,"a\"b":2}}"#,
                "a\"b",
                1,
                46,
            ),
        ] {
            let e = ActionRequest::from_json(body, now(), &Limits::default()).unwrap_err();
            let Error::Request {
                field,
                location: Some(loc),
                source: Some(src),
                ..
            } = &e
            else {
                panic!("{body}: {e:?}")
            };
            assert_eq!(field, "body");
            assert_eq!(src.code(), "DUPLICATE_KEY");
            assert_eq!(
                src.kind,
                al_types::json::ErrorKind::DuplicateKey { key: key.into() }
            );
            // The reader points at the end of the repeated key.
            assert_eq!((loc.line, loc.column), (line, column), "{body}");
            assert!(e.to_string().contains(key), "{e}");
            assert_eq!(e.code(), "INVALID_REQUEST");
        }
    }
}
