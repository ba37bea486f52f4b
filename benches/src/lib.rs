//! Workloads shared by the criterion benches and `perf-report`, so both
//! measure exactly the same thing.
#![forbid(unsafe_code)]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod audit;
pub mod breaker;
pub mod callgrind;
pub mod engine;
pub mod policy;
pub mod server;
pub mod simulate;
pub mod timing;
