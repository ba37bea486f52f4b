//! The engine's integration tests: one binary (`autotests = false`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod clock;
mod common;
mod conformance;
mod model;
mod pipeline;
mod records;
mod seeds;
mod simulate;
