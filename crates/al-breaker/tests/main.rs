//! One integration-test binary for al-breaker.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod props;
mod scenarios;
mod seasons;
mod units;
