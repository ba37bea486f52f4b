//! The error grammar every crate shares.

use std::fmt;

/// A stable, machine-readable error code (`INVALID_REQUEST`, `DUPLICATE_KEY`,
/// `CHAIN_BROKEN`, …) that hosts put on the wire as `error.code`.
///
/// Every error type in the AgentLattice crates implements it. A code never
/// changes once published; messages (`Display`) may. Codes are
/// `SCREAMING_SNAKE_CASE` ASCII.
pub trait ErrorCode {
    /// The stable code.
    fn code(&self) -> &'static str;
}

/// A 1-based line and column in a source text. Columns count Unicode scalar
/// values, not bytes, so editors land on the right character.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Location {
    /// Line, starting at 1.
    pub line: u32,
    /// Column, starting at 1.
    pub column: u32,
}

impl Location {
    /// The location of byte offset `at` in `text` (clamped to the text and
    /// to a character boundary). Linear in `at`: for many lookups in one
    /// text build a [`crate::json::LineIndex`] instead.
    #[must_use]
    pub fn of_offset(text: &str, at: usize) -> Location {
        crate::json::LineIndex::new(text).locate(text, at)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}
