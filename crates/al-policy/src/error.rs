//! Diagnostics: one grammar for manifest errors and lint warnings.
//!
//! Every diagnostic carries a stable [`Code`] (what hosts put on the wire),
//! a human message (lowercase, no trailing period, user input in backticks),
//! the policy it concerns, the path of the offending field inside the
//! manifest (`policies[2].conditions[0].operator`) and, when the input came
//! from text, its 1-based line and column. [`Error`] is the one error type
//! of the crate.

use std::fmt;

use al_types::{ErrorCode, Location};
use serde::Serialize;

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
    /// A YAML plain scalar that YAML 1.1 and 1.2 readers disagree on
    /// (`yes`, `True`, `007`, `1_000`, `0x1F`, `.inf`, …): quote it or write
    /// it in JSON spelling.
    AmbiguousScalar => "AMBIGUOUS_SCALAR", Error;
    /// An action request was refused.
    InvalidRequest => "INVALID_REQUEST", Error;
    /// A submitted action type is malformed.
    InvalidActionType => "INVALID_ACTION_TYPE", Error;
    /// A configuration value (a limit) is out of range.
    InvalidConfig => "INVALID_CONFIG", Error;
    /// Export failed (not expected for a valid manifest).
    ExportFailed => "EXPORT_FAILED", Error;
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

/// Everything al-policy refuses, with a stable [`ErrorCode::code`].
///
/// Every public operation that reads data returns this one type. Errors
/// that come from text carry a [`Location`]; the operation that failed
/// changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A manifest was rejected: every error found, in source order (never
    /// empty). `code()` is the first error's code.
    #[error("{}", render_manifest(.diagnostics))]
    Manifest {
        /// All errors, each with its code, path, policy and location.
        diagnostics: Vec<Diagnostic>,
    },
    /// An action request was refused (`INVALID_REQUEST`, HTTP 400).
    #[error("{}", render_request(.field, .message, *.location))]
    Request {
        /// The offending field, e.g. `data_accessed[2].sensitivity`, or `body`.
        field: String,
        /// What is wrong with it.
        message: String,
        /// Where in the body, when the body was read from text.
        location: Option<Location>,
        /// The JSON reader's error, when the body was not acceptable JSON
        /// (its own code says which rule: `DUPLICATE_KEY`, `TOO_DEEP`, …).
        #[source]
        source: Option<al_types::json::Error>,
    },
    /// One value given to a parse helper ([`crate::parse_pattern`],
    /// [`crate::parse_field`], [`crate::parse_duration`],
    /// [`crate::check_action_type`]) was refused.
    #[error("{message}")]
    Value {
        /// Which rule: `INVALID_PATTERN`, `INVALID_FIELD`, `INVALID_DURATION`,
        /// `INVALID_ACTION_TYPE`, `LIMIT_EXCEEDED`.
        code: Code,
        /// What is wrong (lowercase, input in backticks).
        message: String,
    },
    /// A limit was configured outside the range this library supports
    /// (`INVALID_CONFIG`).
    #[error("limit `{name}` must be between {min} and {max}, got {value}")]
    Config {
        /// The limit's name.
        name: &'static str,
        /// The rejected value.
        value: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// The export writer failed (`EXPORT_FAILED`); not expected for any
    /// valid manifest.
    #[error("export failed: {message}")]
    Export {
        /// The writer's message.
        message: String,
    },
}

fn render_request(field: &str, message: &str, location: Option<Location>) -> String {
    match location {
        Some(l) => format!("invalid `{field}` at {l}: {message}"),
        None => format!("invalid `{field}`: {message}"),
    }
}

fn render_manifest(ds: &[Diagnostic]) -> String {
    match ds {
        [] => "invalid manifest".to_owned(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more errors)", rest.len()),
    }
}

impl Error {
    pub(crate) fn one(d: Diagnostic) -> Self {
        Error::Manifest {
            diagnostics: vec![d],
        }
    }

    pub(crate) fn value(code: Code, message: impl Into<String>) -> Self {
        Error::Value {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Request {
            field: field.into(),
            message: message.into(),
            location: None,
            source: None,
        }
    }

    /// The diagnostics of a rejected manifest; empty for other errors.
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Manifest { diagnostics } => diagnostics,
            _ => &[],
        }
    }

    /// The code as a [`Code`] (the first diagnostic's for a manifest).
    #[must_use]
    pub fn kind(&self) -> Code {
        match self {
            Error::Manifest { diagnostics } => diagnostics.first().map_or(Code::Parse, |d| d.code),
            Error::Request { .. } => Code::InvalidRequest,
            Error::Value { code, .. } => *code,
            Error::Config { .. } => Code::InvalidConfig,
            Error::Export { .. } => Code::ExportFailed,
        }
    }

    /// Where in the input, when the error came from text (the first
    /// diagnostic's location for a manifest).
    #[must_use]
    pub fn location(&self) -> Option<Location> {
        match self {
            Error::Manifest { diagnostics } => diagnostics.first().and_then(|d| d.location),
            Error::Request { location, .. } => *location,
            _ => None,
        }
    }
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        self.kind().as_str()
    }
}

impl ErrorCode for Diagnostic {
    fn code(&self) -> &'static str {
        self.code.as_str()
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
