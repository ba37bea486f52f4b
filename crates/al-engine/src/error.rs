//! The one error type of the engine's operations, and the restore error.

use al_types::{ErrorCode, Location};

/// An operation was refused. Nothing was appended and no state changed.
///
/// Every variant has a stable [`code`](ErrorCode::code) (the wire's
/// `error.code`) and an [`http_status`](EngineError::http_status); the
/// message (`Display`) is for people and may change. Errors of the cores
/// are wrapped with their own codes and locations kept.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No key, or a key the engine does not know (`401 UNAUTHORIZED`).
    #[error("missing or unknown API key")]
    Unauthorized,
    /// The key belongs to a killed agent (`403 AGENT_KILLED`).
    #[error("agent `{agent_id}` is killed; register a new agent")]
    AgentKilled {
        /// The agent.
        agent_id: String,
    },
    /// An agent key called an operation for service keys (`403 SERVICE_KEY_REQUIRED`).
    #[error("this operation needs a service key (`al_svc_…`)")]
    ServiceKeyRequired,
    /// A service key called an operation for agents (`403 AGENT_KEY_REQUIRED`).
    #[error("this operation needs an agent key (`al_live_…`); service keys cannot act")]
    AgentKeyRequired,
    /// The caller may not touch this resource (`403 FORBIDDEN`).
    #[error("{0}")]
    Forbidden(String),
    /// No such resource (`404 NOT_FOUND`).
    #[error("no {what} `{id}`")]
    NotFound {
        /// What was looked for (`approval`, `delegation`, `action event`, `agent`).
        what: &'static str,
        /// The id asked for (cut to 80 characters).
        id: String,
    },
    /// The request is malformed (`400 INVALID_REQUEST`), naming the field.
    #[error("invalid `{field}`: {message}")]
    InvalidRequest {
        /// The offending field, e.g. `data_accessed[2].sensitivity`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The body is not acceptable JSON (`400`, or `413` when too large).
    /// The code is the JSON reader's: `INVALID_JSON`, `DUPLICATE_KEY`,
    /// `TOO_DEEP` or `TOO_LARGE`.
    #[error("body {}: {}", .0.location, .0.message)]
    Json(al_types::json::Error),
    /// The policy core refused its input: a manifest (every diagnostic is
    /// kept, with its line and column; the code is the first one's, e.g.
    /// `UNKNOWN_KEY`) or a value such as a pattern (`400`).
    #[error("{0}")]
    Policy(al_policy::Error),
    /// A manifest carries a recorded digest that does not match a policy's
    /// content (`400 POLICY_TAMPERED`).
    #[error("policy `{name}` does not match its recorded digest; refusing to import it")]
    PolicyTampered {
        /// The policy.
        name: String,
    },
    /// The same `X-AL-Event-ID` was used for a different action
    /// (`409 IDEMPOTENCY_CONFLICT`).
    #[error("event id `{event_id}` was already used for a different action (row {original_row})")]
    IdempotencyConflict {
        /// The event id.
        event_id: String,
        /// The row of the original action.
        original_row: u64,
    },
    /// The delegation is revoked or expired (`403 DELEGATION_INACTIVE`).
    #[error("delegation `{delegation_id}` is not active ({why})")]
    DelegationInactive {
        /// The delegation.
        delegation_id: String,
        /// `revoked` or `expired`.
        why: &'static str,
    },
    /// THROTTLE: try again later (`429 RATE_LIMITED`).
    #[error("rate limited: retry after {retry_after_ms} ms")]
    RateLimited {
        /// How long to wait.
        retry_after_ms: u64,
    },
    /// The agent's breaker is in HALT and the operation is not an action,
    /// which would be chained as denied (`403 AGENT_HALTED`).
    #[error("agent `{agent_id}` is halted until an operator resumes it")]
    AgentHalted {
        /// The agent.
        agent_id: String,
    },
    /// The approval was already decided or timed out (`409 APPROVAL_NOT_PENDING`).
    #[error("approval `{approval_id}` is {status}, not pending")]
    ApprovalNotPending {
        /// The approval.
        approval_id: String,
        /// Its status now.
        status: &'static str,
    },
    /// An outcome was reported for an action that did not run
    /// (`409 ACTION_NOT_EXECUTED`).
    #[error(
        "event `{audit_event_id}` is `{status}`: only executed or approved actions have outcomes"
    )]
    ActionNotExecuted {
        /// The action event.
        audit_event_id: String,
        /// Its status.
        status: &'static str,
    },
    /// A breaker command does not apply in the agent's state (`409 INVALID_STATE`).
    #[error("`{command}` does not apply to agent `{agent_id}` in state {state}")]
    InvalidState {
        /// The agent.
        agent_id: String,
        /// The command.
        command: &'static str,
        /// The breaker state.
        state: &'static str,
    },
    /// A cursor this org did not issue (`400 INVALID_CURSOR`).
    #[error("invalid cursor `{0}`")]
    InvalidCursor(String),
    /// An org with this id exists already (`409 ORG_EXISTS`).
    #[error("org `{0}` exists already")]
    OrgExists(String),
    /// A limit of the engine's configuration was reached (`409 LIMIT_REACHED`).
    #[error("{0}")]
    LimitReached(String),
    /// The caller's entropy produced a key that exists already: it is not
    /// random (`500 WEAK_ENTROPY`).
    #[error("the entropy source produced a key that exists already; it is not random")]
    WeakEntropy,
    /// An audit entry's fields do not fit its kind's record layout
    /// (`400 INVALID_RECORD`; see [`Record::decode`](crate::Record::decode)).
    #[error("{kind} record: {message}")]
    InvalidRecord {
        /// The entry's kind (`action`, `approval`, …).
        kind: &'static str,
        /// The field that does not fit, and why.
        message: String,
    },
    /// A bug: the engine's own records did not apply. The org refuses
    /// further operations; restore it from the persisted entries (`500 INTERNAL`).
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The HTTP status a host answers with.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            EngineError::Unauthorized => 401,
            EngineError::AgentKilled { .. }
            | EngineError::ServiceKeyRequired
            | EngineError::AgentKeyRequired
            | EngineError::Forbidden(_)
            | EngineError::DelegationInactive { .. }
            | EngineError::AgentHalted { .. } => 403,
            EngineError::NotFound { .. } => 404,
            EngineError::Json(e)
                if matches!(e.kind, al_types::json::ErrorKind::TooLarge { .. }) =>
            {
                413
            }
            EngineError::InvalidRequest { .. }
            | EngineError::Json(_)
            | EngineError::Policy(_)
            | EngineError::PolicyTampered { .. }
            | EngineError::InvalidCursor(_)
            | EngineError::InvalidRecord { .. } => 400,
            EngineError::IdempotencyConflict { .. }
            | EngineError::ApprovalNotPending { .. }
            | EngineError::ActionNotExecuted { .. }
            | EngineError::InvalidState { .. }
            | EngineError::OrgExists(_)
            | EngineError::LimitReached(_) => 409,
            EngineError::RateLimited { .. } => 429,
            EngineError::WeakEntropy | EngineError::Internal(_) => 500,
        }
    }

    /// Where in a text body the problem is, when the error knows (JSON
    /// errors, and the first manifest diagnostic read from text).
    #[must_use]
    pub fn location(&self) -> Option<Location> {
        match self {
            EngineError::Json(e) => Some(e.location),
            EngineError::Policy(p) => p.location(),
            _ => None,
        }
    }

    /// `retry_after_ms` for `429 RATE_LIMITED`.
    #[must_use]
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            EngineError::RateLimited { retry_after_ms } => Some(*retry_after_ms),
            _ => None,
        }
    }

    /// The wire body: `{"error": {"code", "message"}}`, plus
    /// `retry_after_ms` for rate limits and `diagnostics` for manifests.
    #[must_use]
    pub fn to_wire(&self) -> serde_json::Value {
        let mut e = serde_json::Map::new();
        e.insert("code".into(), self.code().into());
        e.insert("message".into(), self.to_string().into());
        if let Some(ms) = self.retry_after_ms() {
            e.insert("retry_after_ms".into(), ms.into());
        }
        if let EngineError::Policy(p) = self
            && !p.diagnostics().is_empty()
            && let Ok(v) = serde_json::to_value(p.diagnostics())
        {
            e.insert("diagnostics".into(), v);
        }
        if let Some(l) = self.location() {
            e.insert("line".into(), l.line.into());
            e.insert("column".into(), l.column.into());
        }
        let mut top = serde_json::Map::new();
        top.insert("error".into(), serde_json::Value::Object(e));
        serde_json::Value::Object(top)
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> EngineError {
        EngineError::InvalidRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: &'static str, id: &str) -> EngineError {
        EngineError::NotFound { what, id: cut(id) }
    }
}

impl ErrorCode for EngineError {
    fn code(&self) -> &'static str {
        match self {
            EngineError::Unauthorized => "UNAUTHORIZED",
            EngineError::AgentKilled { .. } => "AGENT_KILLED",
            EngineError::ServiceKeyRequired => "SERVICE_KEY_REQUIRED",
            EngineError::AgentKeyRequired => "AGENT_KEY_REQUIRED",
            EngineError::Forbidden(_) => "FORBIDDEN",
            EngineError::NotFound { .. } => "NOT_FOUND",
            EngineError::InvalidRequest { .. } => "INVALID_REQUEST",
            EngineError::Json(e) => e.code(),
            EngineError::Policy(p) => p.code(),
            EngineError::PolicyTampered { .. } => "POLICY_TAMPERED",
            EngineError::IdempotencyConflict { .. } => "IDEMPOTENCY_CONFLICT",
            EngineError::DelegationInactive { .. } => "DELEGATION_INACTIVE",
            EngineError::RateLimited { .. } => "RATE_LIMITED",
            EngineError::AgentHalted { .. } => "AGENT_HALTED",
            EngineError::ApprovalNotPending { .. } => "APPROVAL_NOT_PENDING",
            EngineError::ActionNotExecuted { .. } => "ACTION_NOT_EXECUTED",
            EngineError::InvalidState { .. } => "INVALID_STATE",
            EngineError::InvalidCursor(_) => "INVALID_CURSOR",
            EngineError::InvalidRecord { .. } => "INVALID_RECORD",
            EngineError::OrgExists(_) => "ORG_EXISTS",
            EngineError::LimitReached(_) => "LIMIT_REACHED",
            EngineError::WeakEntropy => "WEAK_ENTROPY",
            EngineError::Internal(_) => "INTERNAL",
        }
    }
}

/// Restoring an org from its entries failed: the chain is broken, a record
/// does not decode, or replaying it does not reproduce what was recorded.
/// Nothing was restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("row {row}: {message}")]
pub struct RestoreError {
    /// The first row that could not be restored (0: before any row, e.g.
    /// an unreadable snapshot or an org id clash).
    pub row: u64,
    /// What is wrong.
    pub code: RestoreCode,
    /// Details for people.
    pub message: String,
}

/// Why a restore failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RestoreCode {
    /// Hash links, rows or canonical encoding are wrong (`CHAIN_BROKEN`).
    ChainBroken,
    /// A record does not decode as its kind's layout (`INVALID_RECORD`).
    InvalidRecord,
    /// Replaying the records does not reproduce the recorded state: a
    /// breaker transition differs, a record refers to something unknown,
    /// or time runs backwards (`REPLAY_DIVERGED`).
    ReplayDiverged,
    /// The snapshot is unreadable or does not match the entries (`INVALID_SNAPSHOT`).
    InvalidSnapshot,
    /// The org id or one of its keys is already known to this engine (`ORG_EXISTS`).
    OrgExists,
}

impl ErrorCode for RestoreError {
    fn code(&self) -> &'static str {
        match self.code {
            RestoreCode::ChainBroken => "CHAIN_BROKEN",
            RestoreCode::InvalidRecord => "INVALID_RECORD",
            RestoreCode::ReplayDiverged => "REPLAY_DIVERGED",
            RestoreCode::InvalidSnapshot => "INVALID_SNAPSHOT",
            RestoreCode::OrgExists => "ORG_EXISTS",
        }
    }
}

impl RestoreError {
    pub(crate) fn new(row: u64, code: RestoreCode, message: impl Into<String>) -> RestoreError {
        RestoreError {
            row,
            code,
            message: message.into(),
        }
    }
}

/// User text in messages: at most 80 characters.
pub(crate) fn cut(s: &str) -> String {
    s.chars().take(80).collect()
}

impl EngineError {
    /// A policy-core error: request errors keep their field as
    /// `INVALID_REQUEST`; everything else keeps the core's code.
    pub(crate) fn from_policy(e: al_policy::Error) -> EngineError {
        match e {
            al_policy::Error::Request { field, message, .. } => {
                EngineError::InvalidRequest { field, message }
            }
            other => EngineError::Policy(other),
        }
    }
}
