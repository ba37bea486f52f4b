//! The small grammars inside a manifest and a request: action types and
//! patterns, condition fields, agent ids, regexes.

use crate::error::{Code, Error};
use crate::model::{Builtin, FactKind, Field, Pattern};

fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `s.split('.').all(is_segment)` in one pass over the bytes (every
/// action the engine takes is checked with it): segments of letters,
/// digits, `_` and `-`, none empty.
fn is_dotted(s: &str) -> bool {
    let mut segment_empty = true;
    for b in s.bytes() {
        if b == b'.' {
            if segment_empty {
                return false;
            }
            segment_empty = true;
        } else if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            segment_empty = false;
        } else {
            return false;
        }
    }
    !segment_empty
}

/// Validate an action type as submitted (no wildcards).
///
/// # Errors
/// [`Error::Value`] with code `INVALID_ACTION_TYPE`, naming what is wrong.
pub fn check_action_type(s: &str, max_len: usize) -> Result<(), Error> {
    let bad = |m: String| Error::value(Code::InvalidActionType, m);
    if s.is_empty() || s.len() > max_len {
        return Err(bad(format!(
            "action type must be 1 to {max_len} bytes long"
        )));
    }
    if !is_dotted(s) {
        return Err(bad(format!(
            "action type `{}` must be dot-separated segments of letters, digits, `_` and `-`",
            truncate(s)
        )));
    }
    Ok(())
}

/// Parse an action-type pattern: `*`, `prefix.*` or an exact type.
///
/// # Errors
/// [`Error::Value`] with code `INVALID_PATTERN`, naming what is wrong.
pub fn parse_pattern(s: &str, max_len: usize) -> Result<Pattern, Error> {
    pattern(s, max_len).map_err(|m| Error::value(Code::InvalidPattern, m))
}

fn pattern(s: &str, max_len: usize) -> Result<Pattern, String> {
    if s == "*" {
        return Ok(Pattern::Any);
    }
    if s.len() > max_len {
        return Err(format!(
            "pattern is {} bytes, over the limit of {max_len} (`max_pattern_len`)",
            s.len()
        ));
    }
    let (body, prefix) = match s.strip_suffix(".*") {
        Some(b) => (b, true),
        None => (s, false),
    };
    if !is_dotted(body) {
        return Err(format!(
            "invalid pattern `{}`: use an exact type (`db.migrate`), a segment prefix (`db.*`) or `*`",
            truncate(s)
        ));
    }
    Ok(if prefix {
        Pattern::Prefix(body.to_owned())
    } else {
        Pattern::Exact(body.to_owned())
    })
}

pub(crate) fn check_agent_id(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() || s.len() > max {
        return Err(format!("agent id must be 1 to {max} bytes long"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "agent id `{}` must not contain spaces or control characters",
            truncate(s)
        ));
    }
    Ok(())
}

/// Parse a condition field: a built-in `@…` fact or a metadata dot path.
///
/// # Errors
/// [`Error::Value`] with code `INVALID_FIELD`, naming what is wrong.
pub fn parse_field(s: &str, max_depth: usize) -> Result<Field, Error> {
    field(s, max_depth).map_err(|m| Error::value(Code::InvalidField, m))
}

fn field(s: &str, max_depth: usize) -> Result<Field, String> {
    if s.starts_with('@') {
        return Builtin::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .map(Field::Builtin)
            .ok_or_else(|| {
                format!(
                    "unknown built-in fact `{}`; known facts are {}",
                    truncate(s),
                    Builtin::ALL
                        .iter()
                        .map(|b| format!("`{}`", b.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
    }
    let segs: Vec<&str> = s.split('.').collect();
    if segs.len() > max_depth {
        return Err(format!(
            "field path has {} segments, over the limit of {max_depth} (`max_field_depth`)",
            segs.len()
        ));
    }
    if !segs.iter().all(|seg| is_segment(seg)) {
        return Err(format!(
            "invalid field `{}`: use a metadata path such as `repo.owner` or a built-in fact such as `@data.count`",
            truncate(s)
        ));
    }
    Ok(Field::Metadata(
        segs.into_iter().map(str::to_owned).collect(),
    ))
}

pub(crate) fn compile_regex(s: &str, max_bytes: usize) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(s)
        .size_limit(max_bytes)
        .dfa_size_limit(max_bytes)
        .nest_limit(64)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or(&msg).trim().to_owned();
            let last = last.strip_prefix("error: ").unwrap_or(&last).to_owned();
            format!("regex `{}` does not compile: {last}", truncate(s))
        })
}

pub(crate) fn truncate(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(61).collect();
        t.push_str("...");
        t
    }
}

/// The first of `candidates` within two edits of `s`, for "did you mean".
pub(crate) fn suggest<'a>(
    s: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if s.len() > 64 {
        return None;
    }
    candidates
        .into_iter()
        .find(|c| strsim::levenshtein(c, s) <= 2)
}

pub(crate) fn fact_kind(f: &Field) -> Option<FactKind> {
    match f {
        Field::Builtin(b) => Some(b.kind()),
        Field::Metadata(_) => None,
    }
}

pub(crate) fn is_sensitivity(f: &Field) -> bool {
    *f == Field::Builtin(Builtin::DataMaxSensitivity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dotted_examples() {
        for ok in ["a", "pr.merge", "db.read-only_2", "A.b.C"] {
            assert!(is_dotted(ok), "{ok}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", "a b", "a.*", "é", "a/b"] {
            assert!(!is_dotted(bad), "{bad}");
        }
    }

    proptest! {
        /// The one-pass check is the split-based definition.
        #[test]
        fn dotted_is_split_into_segments(s in "[a-c._*/ -]{0,12}") {
            prop_assert_eq!(is_dotted(&s), s.split('.').all(is_segment));
        }
    }
}
