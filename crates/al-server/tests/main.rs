//! al-server integration tests: HTTP conformance of every route, the real
//! Python SDK, kill -9 crash recovery.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod conformance;
mod crash;
mod harness;
mod sdk;
