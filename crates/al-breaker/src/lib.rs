#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod breaker;
mod config;
mod effects;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
#[cfg(feature = "testing")]
pub mod scenarios;
mod stats;
mod types;

pub use al_types::{ErrorCode, Timestamp};
pub use breaker::Breaker;
pub use config::{BreakerConfig, BreakerConfigBuilder};
pub use effects::Effects;
pub use error::BreakerError;
pub use types::{
    ActionOutcome, Admission, AnchorKind, Anomaly, Confidence, Drift, DriftMetric, Observation,
    Reason, Signal, State, Status, Transition,
};
