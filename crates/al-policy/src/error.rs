//! Diagnostics: one grammar for manifest errors and lint warnings.
//!
//! Every diagnostic carries a stable [`Code`] (what hosts put on the wire),
//! a human message (lowercase, no trailing period, user input in backticks),
//! the policy it concerns, the path of the offending field inside the
//! manifest (`policies[2].conditions[0].operator`) and, when the input came
//! from text, its 1-based line and column.

use std::fmt;

use serde::Serialize;

/// A 1-based line and column in a source document. Columns count Unicode
/// scalar values, not bytes, so editors land on the right character.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    /// Line, starting at 1.
    pub line: u32,
    /// Column, starting at 1.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The manifest is rejected; nothing is changed.
    Error,
    /// The manifest is accepted, but something in it is probably a mistake.
    Warning,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident => $s:literal, $sev:ident; )*) => {
        /// Stable machine-readable diagnostic codes.
        ///
        /// The string form ([`Code::as_str`]) never changes once published;
        /// new codes may be added, so match with a wildcard arm.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// The stable string form, e.g. `"UNKNOWN_OPERATOR"`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $s, )* }
            }

            /// Whether this code rejects the manifest or only warns.
            #[must_use]
            pub const fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// Every code, in declaration order (for documentation and tests).
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];
        }
    };
}

codes! {
    /// The input is not well-formed YAML or JSON.
    Parse => "PARSE_ERROR", Error;
    /// A documented hard limit (size, count, length, nesting) was exceeded.
    LimitExceeded => "LIMIT_EXCEEDED", Error;
    /// A key that the format does not define (a typo such as `efect:`).
    UnknownKey => "UNKNOWN_KEY", Error;
    /// A required key is absent.
    MissingField => "MISSING_FIELD", Error;
    /// The same key appears twice in one mapping.
    DuplicateKey => "DUPLICATE_KEY", Error;
    /// A value has the wrong type for its key or operator.
    ValueType => "VALUE_TYPE", Error;
    /// The manifest `version` is not one this library reads.
    UnsupportedVersion => "UNSUPPORTED_VERSION", Error;
    /// A policy name is empty, too long or uses characters outside the allowed set.
    InvalidName => "INVALID_NAME", Error;
    /// Two policies share a name.
    DuplicateName => "DUPLICATE_NAME", Error;
    /// An action-type pattern is malformed.
    InvalidPattern => "INVALID_PATTERN", Error;
    /// An effect is not one of `allow`, `deny`, `require_approval`, `conditional`.
    InvalidEffect => "INVALID_EFFECT", Error;
    /// A condition operator is not one of the documented operators.
    UnknownOperator => "UNKNOWN_OPERATOR", Error;
    /// A condition field is not a metadata path or a known built-in fact.
    InvalidField => "INVALID_FIELD", Error;
    /// A `matches` pattern does not compile within the size limit.
    InvalidRegex => "INVALID_REGEX", Error;
    /// An approval duration is malformed or out of range.
    InvalidDuration => "INVALID_DURATION", Error;
    /// An agent id in `agents` is empty or malformed.
    InvalidAgent => "INVALID_AGENT", Error;
    /// A recorded `digest` is not 64 lowercase hex digits.
    InvalidDigest => "INVALID_DIGEST", Error;
    /// Lint: the policy can never decide an action.
    Shadowed => "SHADOWED", Warning;
    /// Lint: equally specific policies with different effects overlap.
    Conflict => "CONFLICT", Warning;
    /// Lint: a condition can never hold, so its policy behaves as if it failed.
    NeverHolds => "NEVER_HOLDS", Warning;
    /// Lint: an `allow` policy on `*` lets every action through.
    AllowAll => "ALLOW_ALL", Warning;
    /// Lint: the policy is disabled and takes no part in evaluation.
    Disabled => "DISABLED", Warning;
    /// Lint: the policy's content does not match its recorded digest.
    Tampered => "TAMPERED", Warning;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One error or warning about a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// Error or warning (derived from the code).
    pub severity: Severity,
    /// Human-readable message; may change between releases.
    pub message: String,
    /// The policy concerned, when the diagnostic is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Path of the offending value inside the manifest, e.g.
    /// `policies[2].conditions[0].operator`; empty for the whole document.
    pub path: String,
    /// Where in the source text, when the manifest was read from text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Diagnostic {
    pub(crate) fn new(code: Code, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            policy: None,
            path: path.into(),
            location: None,
        }
    }

    pub(crate) fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub(crate) fn policy(mut self, name: Option<&str>) -> Self {
        self.policy = name.map(str::to_owned);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location {
            write!(f, "{loc}: ")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}[{}]: {}", self.code, self.message)?;
        if let Some(p) = &self.policy {
            write!(f, " (policy `{p}`")?;
            if !self.path.is_empty() {
                write!(f, ", at `{}`", self.path)?;
            }
            f.write_str(")")?;
        } else if !self.path.is_empty() {
            write!(f, " (at `{}`)", self.path)?;
        }
        Ok(())
    }
}

/// A manifest was rejected. Holds every error found, in source order; the
/// manifest changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    /// All errors, in the order they occur in the source. Never empty.
    pub errors: Vec<Diagnostic>,
}

impl ManifestError {
    pub(crate) fn one(d: Diagnostic) -> Self {
        ManifestError { errors: vec![d] }
    }

    /// The code of the first error, for hosts that answer with a single code.
    #[must_use]
    pub fn code(&self) -> Code {
        self.errors.first().map_or(Code::Parse, |d| d.code)
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.as_slice() {
            [] => f.write_str("invalid manifest"),
            [one] => write!(f, "{one}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more errors)", rest.len()),
        }
    }
}

/// Maps byte offsets of a text to 1-based line/column [`Location`]s.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { src, starts }
    }

    pub(crate) fn locate(&self, offset: usize) -> Location {
        let line_idx = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line_idx).copied().unwrap_or(0);
        let column = self
            .src
            .get(start..offset.min(self.src.len()))
            .map_or(0, |s| s.chars().count());
        Location {
            line: u32::try_from(line_idx + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_screaming_snake() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_uppercase() || ch == '_')
            );
        }
    }

    #[test]
    fn line_index_counts_characters() {
        let idx = LineIndex::new("ab\nçd\n\nx");
        assert_eq!(idx.locate(0), Location { line: 1, column: 1 });
        assert_eq!(idx.locate(3), Location { line: 2, column: 1 });
        // `ç` is two bytes; `d` is the second character of line 2.
        assert_eq!(idx.locate(5), Location { line: 2, column: 2 });
        assert_eq!(idx.locate(8), Location { line: 4, column: 1 });
    }

    #[test]
    fn display_names_location_code_and_policy() {
        let d = Diagnostic::new(Code::UnknownKey, "policies[0].efect", "unknown key `efect`")
            .at(Some(Location { line: 4, column: 5 }))
            .policy(Some("p"));
        assert_eq!(
            d.to_string(),
            "4:5: error[UNKNOWN_KEY]: unknown key `efect` (policy `p`, at `policies[0].efect`)"
        );
    }
}
