//! Action requests: the body of `POST /actions` (SPEC §2).

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::limits::Limits;
use crate::manifest::check_action_type;
use crate::model::Sensitivity;

/// A point in time, in milliseconds since the Unix epoch, UTC.
///
/// Always supplied by the caller: this crate never reads a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Earliest accepted timestamp: 0001-01-01T00:00:00Z.
const MIN_MILLIS: i64 = -62_135_596_800_000;
/// Latest accepted timestamp: 9999-12-31T23:59:59.999Z.
const MAX_MILLIS: i64 = 253_402_300_799_999;

impl Timestamp {
    /// From milliseconds since the epoch; `None` outside years 1–9999.
    #[must_use]
    pub fn from_unix_millis(ms: i64) -> Option<Timestamp> {
        (MIN_MILLIS..=MAX_MILLIS)
            .contains(&ms)
            .then_some(Timestamp(ms))
    }

    /// From whole seconds since the epoch; `None` outside years 1–9999.
    #[must_use]
    pub fn from_unix_seconds(s: i64) -> Option<Timestamp> {
        s.checked_mul(1000).and_then(Timestamp::from_unix_millis)
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Parse RFC 3339 (`2026-11-28T12:00:00Z`, offsets allowed; stored as UTC).
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
        let dt = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| {
            format!(
                "`{}` is not an RFC 3339 timestamp: {e}",
                crate::manifest::truncate(s)
            )
        })?;
        Timestamp::from_unix_millis(dt.timestamp_millis())
            .ok_or_else(|| "timestamp is out of range".to_owned())
    }

    /// Hour of day, UTC, `0..=23`.
    #[must_use]
    pub fn hour(self) -> u8 {
        let secs_of_day = self.0.div_euclid(1000).rem_euclid(86_400);
        u8::try_from(secs_of_day / 3600).unwrap_or(0)
    }

    /// ISO 8601 weekday, UTC: Monday = 1 … Sunday = 7.
    #[must_use]
    pub fn weekday(self) -> u8 {
        let days = self.0.div_euclid(86_400_000);
        // 1970-01-01 was a Thursday (4).
        u8::try_from((days + 3).rem_euclid(7) + 1).unwrap_or(1)
    }

    /// RFC 3339 in UTC with millisecond precision when needed
    /// (`2026-11-28T12:00:00Z`, `2026-11-28T12:00:00.250Z`).
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1000);
        let ms = u32::try_from(self.0.rem_euclid(1000)).unwrap_or(0);
        match chrono::DateTime::from_timestamp(secs, ms * 1_000_000) {
            Some(dt) if ms == 0 => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            None => String::from("invalid"),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

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

/// A request was malformed: `400 INVALID_REQUEST`, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {message}")]
pub struct RequestError {
    /// The offending field, e.g. `data_accessed[2].sensitivity`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl RequestError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        RequestError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Stable code: `INVALID_REQUEST`.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "INVALID_REQUEST"
    }
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
    /// [`RequestError`] naming the field.
    pub fn new(
        action_type: impl Into<String>,
        timestamp: Timestamp,
        data_accessed: Vec<DataAccess>,
        metadata: Map<String, Value>,
        limits: &Limits,
    ) -> Result<ActionRequest, RequestError> {
        let action_type = action_type.into();
        check_action_type(&action_type, limits.max_pattern_len)
            .map_err(|m| RequestError::new("action_type", m))?;
        if data_accessed.len() > limits.max_data_accessed {
            return Err(RequestError::new(
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
                return Err(RequestError::new(
                    format!("data_accessed[{i}].type"),
                    format!("must be 1 to {} bytes long", limits.max_name_len),
                ));
            }
        }
        // The metadata object is level 1; its values nest below it.
        let depth = metadata
            .values()
            .map(|v| json_depth(v, 1))
            .max()
            .unwrap_or(1);
        if depth > limits.max_depth {
            return Err(RequestError::new(
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
    /// # Errors
    /// [`RequestError`] naming the field; nothing is recorded.
    pub fn from_json(
        body: &str,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<ActionRequest, RequestError> {
        if body.len() > limits.max_request_bytes {
            return Err(RequestError::new(
                "body",
                format!(
                    "{} bytes, over the limit of {} (`max_request_bytes`)",
                    body.len(),
                    limits.max_request_bytes
                ),
            ));
        }
        let v: Value = serde_json::from_str(body).map_err(|e| {
            RequestError::new(
                "body",
                format!(
                    "not valid JSON at line {} column {}: {}",
                    e.line(),
                    e.column(),
                    {
                        let m = e.to_string();
                        m.split(" at line ").next().unwrap_or("").to_owned()
                    }
                ),
            )
        })?;
        ActionRequest::from_value(&v, now, limits)
    }

    /// As [`ActionRequest::from_json`], from a parsed JSON value.
    ///
    /// # Errors
    /// [`RequestError`] naming the field.
    pub fn from_value(
        v: &Value,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<ActionRequest, RequestError> {
        let Value::Object(o) = v else {
            return Err(RequestError::new("body", "must be a JSON object"));
        };
        let action_type = match o.get("action_type") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(RequestError::new("action_type", "must be a string")),
            None => return Err(RequestError::new("action_type", "is required")),
        };
        let timestamp = match o.get("timestamp") {
            None | Some(Value::Null) => now,
            Some(Value::String(s)) => {
                Timestamp::parse_rfc3339(s).map_err(|m| RequestError::new("timestamp", m))?
            }
            Some(_) => return Err(RequestError::new("timestamp", "must be an RFC 3339 string")),
        };
        let data_accessed = match o.get("data_accessed") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > limits.max_data_accessed {
                    return Err(RequestError::new(
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
            Some(_) => return Err(RequestError::new("data_accessed", "must be an array")),
        };
        let metadata = match o.get("metadata") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(RequestError::new("metadata", "must be an object")),
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

    /// The request as JSON in the wire shape of SPEC §2.
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

fn data_item(i: usize, it: &Value) -> Result<DataAccess, RequestError> {
    let Value::Object(o) = it else {
        return Err(RequestError::new(
            format!("data_accessed[{i}]"),
            "must be an object",
        ));
    };
    let data_type = match o.get("type") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(RequestError::new(
                format!("data_accessed[{i}].type"),
                "must be a string",
            ));
        }
        None => {
            return Err(RequestError::new(
                format!("data_accessed[{i}].type"),
                "is required",
            ));
        }
    };
    let count = match o.get("count") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            RequestError::new(
                format!("data_accessed[{i}].count"),
                "must be a non-negative integer",
            )
        })?,
        Some(_) => {
            return Err(RequestError::new(
                format!("data_accessed[{i}].count"),
                "must be a non-negative integer",
            ));
        }
    };
    let sensitivity = match o.get("sensitivity") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Sensitivity::parse(s).ok_or_else(|| {
            RequestError::new(
                format!("data_accessed[{i}].sensitivity"),
                format!(
                    "`{}` is not one of `public`, `low`, `medium`, `high`, `critical`",
                    crate::manifest::truncate(s)
                ),
            )
        })?),
        Some(_) => {
            return Err(RequestError::new(
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

fn json_depth(v: &Value, d: usize) -> usize {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| json_depth(x, d + 1))
            .max()
            .unwrap_or(d + 1),
        Value::Object(o) => o
            .values()
            .map(|x| json_depth(x, d + 1))
            .max()
            .unwrap_or(d + 1),
        _ => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_unix_seconds(0).unwrap()
    }

    #[test]
    fn weekday_and_hour_are_utc() {
        // 2026-11-28 is a Saturday.
        let t = Timestamp::parse_rfc3339("2026-11-28T23:30:00+01:00").unwrap();
        assert_eq!(t.hour(), 22);
        assert_eq!(t.weekday(), 6);
        assert_eq!(t.to_rfc3339(), "2026-11-28T22:30:00Z");
        let t = Timestamp::parse_rfc3339("1969-12-31T23:59:59.5Z").unwrap();
        assert_eq!((t.hour(), t.weekday()), (23, 3));
        assert_eq!(t.to_rfc3339(), "1969-12-31T23:59:59.500Z");
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
            assert_eq!(e.field, field, "{body}: {e}");
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

    #[test]
    fn deep_metadata_is_rejected() {
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let body = format!(r#"{{"action_type": "a", "metadata": {{"x": {deep}}}}}"#);
        let e = ActionRequest::from_json(&body, now(), &Limits::default()).unwrap_err();
        assert_eq!(e.field, "metadata");
    }
}
