//! The one error answer: `{"error":{"code","message", …}}` with a stable code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answer. The body is always `{"error":{"code","message"}}`
/// (plus `retry_after_ms` for `429`, and whatever detail the engine adds,
/// e.g. manifest diagnostics with line and column); `code` is stable,
/// `message` is for people.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `error` object.
    pub error: Map<String, Value>,
}

impl ApiError {
    /// An error with `code` and `message`.
    #[must_use]
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        let mut error = Map::new();
        error.insert("code".into(), Value::String(code.to_owned()));
        error.insert("message".into(), Value::String(message.into()));
        ApiError { status, error }
    }

    /// From a whole wire body `{"error":{…}}` (as the engine renders its
    /// errors) and a status; a body of another shape is wrapped as `INTERNAL`.
    #[must_use]
    pub fn from_wire(status: u16, body: Value) -> ApiError {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match body {
            Value::Object(mut m) => match m.remove("error") {
                Some(Value::Object(error)) if error.get("code").is_some_and(Value::is_string) => {
                    ApiError { status, error }
                }
                _ => ApiError::internal("an error without a code"),
            },
            _ => ApiError::internal("an error without a code"),
        }
    }

    /// `400 INVALID_REQUEST` naming a field or parameter.
    #[must_use]
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            format!("invalid `{}`: {message}", cut(field)),
        )
    }

    /// `401 UNAUTHORIZED`.
    #[must_use]
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// `500 INTERNAL`.
    #[must_use]
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }

    /// `503` with a code: the server cannot answer safely right now.
    #[must_use]
    pub fn unavailable(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// The stable code.
    #[must_use]
    pub fn code(&self) -> &str {
        self.error.get("code").and_then(Value::as_str).unwrap_or("")
    }

    /// The wire body.
    #[must_use]
    pub fn body(&self) -> Value {
        json!({ "error": self.error })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let msg = self
            .error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("");
        write!(f, "{} {}: {msg}", self.status.as_u16(), self.code())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self
            .error
            .get("retry_after_ms")
            .and_then(Value::as_u64)
            .map(|ms| ms.div_ceil(1000).max(1));
        let mut r = (self.status, json_body(&self.body())).into_response();
        if let Some(s) = retry
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// A JSON response body with its content type.
pub(crate) fn json_body(v: &Value) -> ([(header::HeaderName, HeaderValue); 1], String) {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        serde_json::to_string(v).unwrap_or_default(),
    )
}

/// User input in messages is cut to 80 characters.
pub(crate) fn cut(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(79).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn retry_after_header_rounds_up_to_seconds() {
        let e = ApiError::from_wire(
            429,
            json!({"error": {"code": "RATE_LIMITED", "message": "slow down", "retry_after_ms": 1200}}),
        );
        let r = e.into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn bodies_without_a_code_are_internal() {
        assert_eq!(ApiError::from_wire(400, json!({"x": 1})).code(), "INTERNAL");
        assert_eq!(
            ApiError::from_wire(400, json!({"error": {"message": "m"}})).code(),
            "INTERNAL"
        );
        assert_eq!(
            ApiError::from_wire(999, json!({"error": {"code": "X"}})).status,
            500
        );
    }
}
