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
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod keys;
mod operator;
mod policies;
mod records;
mod restore;
pub mod simulate;
mod state;
mod timers;
mod wire;

pub use action::ActionCall;
pub use al_audit_chain::{Checkpoint, InclusionProof, VerifiedCheckpoint};
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
pub use simulate::{SimulationError, SimulationOptions, SimulationReport, Simulator};
pub use state::ApprovalStatus;
pub use wire::*;
