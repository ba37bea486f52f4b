//! The crate's errors: [`ApiError`], the one HTTP error answer
//! (`{"error":{"code","message", …}}` with a stable code), and [`Error`],
//! everything that goes wrong outside a request (start-up refused, storage
//! failing while serving, a route without a handler, an answer that breaks
//! the documented schema), with `code()` from [`al_types::ErrorCode`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// What goes wrong outside a request. `code()` is stable; the message is
/// for people and names the org and row where there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused to start: `STORAGE_CORRUPT` (naming org and
    /// row), `STORAGE_LOCKED`, `RESTORE_FAILED` (a chain or snapshot that
    /// does not verify), `INVALID_CONFIG`, `BIND_FAILED`, `INTERNAL`, or a
    /// storage code.
    #[error("{message}")]
    Start {
        /// The stable code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The server stopped abnormally: storage failed while serving
    /// (`STORAGE_FAILED`) or the serving task ended (`INTERNAL`).
    #[error("{message}")]
    Stopped {
        /// The stable code.
        code: &'static str,
        /// What happened.
        message: String,
    },
    /// A route of [`crate::openapi::ROUTES`] whose operation has no handler
    /// (a programming error the tests catch): `ROUTE_WITHOUT_HANDLER`.
    #[error("no handler for operation `{operation}`")]
    NoHandler {
        /// The route's `operationId`.
        operation: &'static str,
    },
    /// An answer that is not what the OpenAPI document declares for its
    /// route and status: `RESPONSE_SCHEMA_MISMATCH`.
    #[error("{}", schema_text(route, *status, at, detail))]
    Schema {
        /// `METHOD /path/template` (empty from [`crate::openapi::validate`]).
        route: String,
        /// The answer's status (0 from [`crate::openapi::validate`]).
        status: u16,
        /// The JSON path of the first mismatch (`$`, `$.error.code`, `$[2]`).
        at: String,
        /// What is wrong there.
        detail: String,
    },
}

fn schema_text(route: &str, status: u16, at: &str, detail: &str) -> String {
    if route.is_empty() {
        format!("{at}: {detail}")
    } else {
        format!("{route} {status}: {at}: {detail}")
    }
}

impl al_types::ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Start { code, .. } | Error::Stopped { code, .. } => code,
            Error::NoHandler { .. } => "ROUTE_WITHOUT_HANDLER",
            Error::Schema { .. } => "RESPONSE_SCHEMA_MISMATCH",
        }
    }
}

impl Error {
    pub(crate) fn start(code: &'static str, message: impl Into<String>) -> Error {
        Error::Start {
            code,
            message: message.into(),
        }
    }
}

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
    use al_types::ErrorCode as _;

    #[test]
    fn every_error_has_its_stable_code() {
        assert_eq!(Error::start("BIND_FAILED", "m").code(), "BIND_FAILED");
        let stopped = Error::Stopped {
            code: "STORAGE_FAILED",
            message: "storage failed; stopped".into(),
        };
        assert_eq!(stopped.code(), "STORAGE_FAILED");
        assert_eq!(stopped.to_string(), "storage failed; stopped");
        let e = Error::NoHandler { operation: "x" };
        assert_eq!(e.code(), "ROUTE_WITHOUT_HANDLER");
        assert_eq!(e.to_string(), "no handler for operation `x`");
    }

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
