#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod action;
mod agents;
mod approvals;
mod audit;
mod body;
mod config;
mod delegations;
mod engine;
mod error;
mod events;
mod keys;
mod operator;
mod policies;
mod records;
mod restore;
mod state;
mod timers;
mod wire;

pub use action::ActionCall;
pub use al_policy::Format;
pub use audit::AuditQuery;
pub use config::{ConfigError, EngineConfig, EngineConfigBuilder};
pub use delegations::DelegationFilter;
pub use engine::{Effects, Engine, SealedEntry};
pub use error::{EngineError, RestoreCode, RestoreError};
pub use events::{EventData, EventType, GovernanceEvent, sign_payload, verify_signature};
pub use keys::{ApiKey, DeterministicEntropy, Entropy, KEY_BYTES, KeyKind, fingerprint};
pub use policies::{ImportOptions, PolicyScope};
pub use records::{
    ActionRecord, ActionStatus, ApprovalEvent, ApprovalRecord, BreakerCause, BreakerCommand,
    BreakerRecord, DataItem, DelegationEvent, DelegationRecord, DenialReason, KeyEvent, KeyRecord,
    OutcomeRecord, OutcomeStatus, PolicyChangeRecord, PolicyEvent, REQUEST_DIGEST_DOMAIN, Record,
    RevokeCause, SignalSeverity, TransitionReason, request_digest,
};
pub use restore::{RestoreReport, Snapshot};
pub use state::ApprovalStatus;
pub use wire::*;
