#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod digest;
mod error;
mod hash;
mod id;
pub mod json;
mod time;

pub use digest::{Digest, DigestParseError};
pub use error::{ErrorCode, Location};
pub use hash::{SeededMap, SeededSet, SeededState};
pub use id::{EntryId, EntryIdParseError};
pub use time::{TimeError, Timestamp};
