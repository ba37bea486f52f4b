#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod app;
mod durable;
pub mod error;
pub mod extract;
pub mod openapi;
mod routes;
mod server;
pub mod webhook;

pub use app::{App, BodyLimits, OsEntropy, now};
pub use error::Error;
pub use routes::router;
pub use server::{DataDir, Recovered, Running, ServerConfig, start};
