//! Audit entry ids.

use std::fmt;

use crate::error::ErrorCode;

/// An audit entry's public id: `evt_` and the entry's 1-based row as 16
/// lowercase hex digits (`evt_000000000000002a` is row 42). Derived from the
/// row, so ids cannot collide within a chain and lookups need no index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(u64);

/// A text that is not an entry id (`INVALID_EVENT_ID`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an audit event id (`evt_` and 16 lowercase hex digits, row >= 1)")]
pub struct EntryIdParseError {
    /// The offending text, cut to 80 characters.
    pub input: String,
}

impl ErrorCode for EntryIdParseError {
    fn code(&self) -> &'static str {
        "INVALID_EVENT_ID"
    }
}

impl EntryId {
    /// The id of row 1, the first entry of every chain.
    pub const FIRST: EntryId = EntryId(1);

    /// The id of `row`; `None` for row 0 (rows start at 1).
    #[must_use]
    pub const fn from_row(row: u64) -> Option<EntryId> {
        if row == 0 { None } else { Some(EntryId(row)) }
    }

    /// The 1-based row.
    #[must_use]
    pub const fn row(self) -> u64 {
        self.0
    }

    /// Parse `evt_` + 16 lowercase hex digits naming a row >= 1.
    #[must_use]
    pub fn parse(s: &str) -> Option<EntryId> {
        let digits = s.strip_prefix("evt_")?;
        if digits.len() != 16
            || !digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        u64::from_str_radix(digits, 16)
            .ok()
            .and_then(EntryId::from_row)
    }
}

impl std::str::FromStr for EntryId {
    type Err = EntryIdParseError;
    fn from_str(s: &str) -> Result<EntryId, EntryIdParseError> {
        EntryId::parse(s).ok_or_else(|| EntryIdParseError {
            input: s.chars().take(80).collect(),
        })
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "evt_{:016x}", self.0)
    }
}

impl serde::Serialize for EntryId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EntryId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EntryId, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = EntryId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an audit event id")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<EntryId, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let id = EntryId::from_row(42).unwrap();
        assert_eq!(id.to_string(), "evt_000000000000002a");
        assert_eq!(EntryId::parse("evt_000000000000002a"), Some(id));
        assert_eq!(EntryId::from_row(0), None);
        for bad in [
            "evt_0000000000000000",
            "evt_000000000000002A",
            "evt_00000000000002a",
            "evt_0000000000000002a",
            "EVT_000000000000002a",
            "evt_+00000000000002a",
            "",
        ] {
            assert_eq!(EntryId::parse(bad), None, "{bad}");
        }
        assert_eq!(
            EntryId::parse("evt_ffffffffffffffff").unwrap().row(),
            u64::MAX
        );
        assert_eq!(
            "x".parse::<EntryId>().unwrap_err().code(),
            "INVALID_EVENT_ID"
        );
        assert_eq!(
            serde_json::from_str::<EntryId>("\"evt_000000000000002a\"").unwrap(),
            id
        );
    }
}
