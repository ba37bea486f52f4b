//! The crate's one error type.

use al_types::ErrorCode;

use crate::State;

/// Everything that can go wrong in this crate. Each variant has a stable
/// [`code`](ErrorCode::code); messages may change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerError {
    /// A configuration value is out of range (`INVALID_CONFIG`).
    #[error("invalid breaker config: `{field}` must be {expected}, found `{found}`")]
    InvalidConfig {
        /// The field, as spelled in a config file.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        found: String,
    },
    /// The agent is killed; nothing changes it (`AGENT_KILLED`).
    #[error("the agent is killed")]
    Killed,
    /// An operator command that does not apply in the current state
    /// (`INVALID_STATE`).
    #[error("`{command}` does not apply in state {state}")]
    InvalidState {
        /// The command.
        command: &'static str,
        /// The state the agent is in.
        state: State,
    },
    /// Serialised breaker state that this version cannot read or that is
    /// inconsistent (`INVALID_BREAKER_STATE`).
    #[error("invalid breaker state: {problem}")]
    CorruptState {
        /// What is wrong, naming the field.
        problem: String,
    },
}

impl ErrorCode for BreakerError {
    fn code(&self) -> &'static str {
        match self {
            BreakerError::InvalidConfig { .. } => "INVALID_CONFIG",
            BreakerError::Killed => "AGENT_KILLED",
            BreakerError::InvalidState { .. } => "INVALID_STATE",
            BreakerError::CorruptState { .. } => "INVALID_BREAKER_STATE",
        }
    }
}
