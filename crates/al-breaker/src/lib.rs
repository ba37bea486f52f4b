#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod breaker;
mod config;
#[doc(hidden)]
pub mod fuzzing;
mod stats;

pub use breaker::{
    ActionOutcome, Admission, Anomaly, Breaker, CommandError, Confidence, Effects, Observation,
    Reason, Signal, State, Status, Transition,
};
pub use config::{BreakerConfig, BreakerConfigBuilder, ConfigError};
