//! Time: a UTC instant in whole milliseconds, always supplied by the caller.

use std::fmt;

use crate::error::ErrorCode;

/// A UTC instant in whole milliseconds since the Unix epoch, between
/// `0001-01-01T00:00:00Z` and `9999-12-31T23:59:59.999Z`.
///
/// Every AgentLattice core takes time as a `Timestamp` argument (`now`);
/// none reads a clock. Ordering is chronological.
///
/// The text form ([`Display`](fmt::Display), [`Timestamp::to_rfc3339`],
/// serde) is RFC 3339 in UTC with a `Z`, with `.mmm` milliseconds only when
/// they are not zero: `2026-11-28T12:00:00Z`, `2026-11-28T12:00:00.250Z`.
/// That form is the *canonical* one: [`Timestamp::parse_canonical`] accepts
/// exactly it, [`Timestamp::parse_rfc3339`] (and serde) accept any RFC 3339
/// text, with offsets and any number of fraction digits (digits past the
/// millisecond are dropped, rounding toward the past).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a time was refused (`INVALID_TIMESTAMP`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The text is not RFC 3339.
    #[error("`{input}` is not an RFC 3339 timestamp: {reason}")]
    Syntax {
        /// The offending text, cut to 64 characters.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The text is RFC 3339 but not the canonical form.
    #[error("`{input}` is not in canonical form (expected `{expected}`)")]
    NotCanonical {
        /// The offending text, cut to 64 characters.
        input: String,
        /// How the same instant is written canonically.
        expected: String,
    },
    /// Outside years 1–9999.
    #[error("timestamp {millis} ms is outside years 1-9999")]
    OutOfRange {
        /// Milliseconds since the epoch that were asked for.
        millis: i128,
    },
}

impl ErrorCode for TimeError {
    fn code(&self) -> &'static str {
        "INVALID_TIMESTAMP"
    }
}

fn cut(s: &str) -> String {
    s.chars().take(64).collect()
}

const MS_PER_DAY: i64 = 86_400_000;

impl Timestamp {
    /// `0001-01-01T00:00:00Z`.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800_000);
    /// `9999-12-31T23:59:59.999Z`.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);
    /// `1970-01-01T00:00:00Z`.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// From milliseconds since the epoch; `None` outside years 1–9999.
    #[must_use]
    pub const fn from_unix_millis(ms: i64) -> Option<Timestamp> {
        if ms >= Self::MIN.0 && ms <= Self::MAX.0 {
            Some(Timestamp(ms))
        } else {
            None
        }
    }

    /// From milliseconds since the epoch.
    ///
    /// # Errors
    /// [`TimeError::OutOfRange`] outside years 1–9999.
    pub fn try_from_unix_millis(ms: i64) -> Result<Timestamp, TimeError> {
        Timestamp::from_unix_millis(ms).ok_or(TimeError::OutOfRange {
            millis: i128::from(ms),
        })
    }

    /// From whole seconds since the epoch; `None` outside years 1–9999.
    #[must_use]
    pub fn from_unix_seconds(s: i64) -> Option<Timestamp> {
        s.checked_mul(1000).and_then(Timestamp::from_unix_millis)
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// `self + ms`, or `None` when the result leaves years 1–9999.
    #[must_use]
    pub fn checked_add_millis(self, ms: i64) -> Option<Timestamp> {
        self.0.checked_add(ms).and_then(Timestamp::from_unix_millis)
    }

    /// `self + ms`, clamped to [`Timestamp::MIN`]..=[`Timestamp::MAX`].
    #[must_use]
    pub fn saturating_add_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms).clamp(Self::MIN.0, Self::MAX.0))
    }

    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    /// Never overflows: both ends are within years 1–9999.
    #[must_use]
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0 - earlier.0
    }

    /// Parse any RFC 3339 timestamp (`2026-11-28T12:00:00Z`,
    /// `2026-11-28T13:00:00.123456+01:00`); stored as UTC milliseconds, with
    /// digits past the millisecond dropped toward the past.
    ///
    /// # Errors
    /// [`TimeError::Syntax`] or [`TimeError::OutOfRange`].
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
        let dt = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| TimeError::Syntax {
            input: cut(s),
            reason: e.to_string(),
        })?;
        Timestamp::try_from_unix_millis(dt.timestamp_millis())
    }

    /// Parse exactly the canonical form this type writes (see the type's
    /// docs): what a strict reader of stored records accepts, so that one
    /// instant has one spelling.
    ///
    /// # Errors
    /// [`TimeError::Syntax`], [`TimeError::OutOfRange`] or
    /// [`TimeError::NotCanonical`].
    pub fn parse_canonical(s: &str) -> Result<Timestamp, TimeError> {
        // The chrono-free reader accepts (tests hold it to the chrono path
        // below); the chrono path then only words the error.
        match Timestamp::from_canonical(s.as_bytes()) {
            Some(t) => Ok(t),
            None => Timestamp::parse_canonical_via_chrono(s),
        }
    }

    /// `parse_canonical` through chrono: RFC 3339, then the spelling
    /// compared with the one this type writes. The reference the
    /// chrono-free reader is tested against, and the source of the words
    /// of every error.
    fn parse_canonical_via_chrono(s: &str) -> Result<Timestamp, TimeError> {
        let t = Timestamp::parse_rfc3339(s)?;
        let expected = t.to_rfc3339();
        if expected == s {
            Ok(t)
        } else {
            Err(TimeError::NotCanonical {
                input: cut(s),
                expected,
            })
        }
    }

    /// [`parse_canonical`](Self::parse_canonical) without its words, and
    /// without chrono: the same strings are accepted, with the same
    /// instant, and `None` stands for every error. For hot readers of
    /// stored records (the audit crate's line reader, `al simulate`); a
    /// caller that must say why falls back to `parse_canonical`.
    ///
    /// ```
    /// use al_types::Timestamp;
    /// let t = Timestamp::from_canonical(b"2026-11-28T12:00:00.250Z");
    /// assert_eq!(t, Timestamp::parse_canonical("2026-11-28T12:00:00.250Z").ok());
    /// assert_eq!(Timestamp::from_canonical(b"2026-11-28T12:00:00.000Z"), None);
    /// ```
    #[must_use]
    pub fn from_canonical(s: &[u8]) -> Option<Timestamp> {
        let d = |i: usize| -> Option<i64> {
            let c = *s.get(i)?;
            c.is_ascii_digit().then(|| i64::from(c - b'0'))
        };
        let num = |from: usize, n: usize| -> Option<i64> {
            (from..from + n).try_fold(0i64, |acc, i| Some(acc * 10 + d(i)?))
        };
        let at = |i: usize, c: u8| s.get(i) == Some(&c);
        if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
            return None;
        }
        let (y, mo, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        let ms = match s.len() {
            20 if at(19, b'Z') => 0,
            24 if at(19, b'.') && at(23, b'Z') => match num(20, 3)? {
                0 => return None,
                ms => ms,
            },
            _ => return None,
        };
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_days = match mo {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if y == 0 || day == 0 || day > month_days || h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
        // `days_from_civil`).
        let yy = if mo <= 2 { y - 1 } else { y };
        let era = yy.div_euclid(400);
        let yoe = yy - era * 400;
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Timestamp::from_unix_millis(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
    }

    /// Days since the epoch (floor) and milliseconds into that day.
    const fn day_and_ms(self) -> (i64, i64) {
        (self.0.div_euclid(MS_PER_DAY), self.0.rem_euclid(MS_PER_DAY))
    }

    /// Hour of day, UTC, `0..=23`.
    #[must_use]
    pub const fn hour(self) -> u8 {
        // In 0..24 by construction of rem_euclid.
        (self.day_and_ms().1 / 3_600_000) as u8
    }

    /// ISO 8601 weekday, UTC: Monday = 1 … Sunday = 7.
    #[must_use]
    pub const fn weekday(self) -> u8 {
        // 1970-01-01 was a Thursday (4); in 1..=7 by construction.
        ((self.day_and_ms().0 + 3).rem_euclid(7) + 1) as u8
    }

    /// Whole days since 1970-01-01 (negative before it).
    #[must_use]
    pub const fn unix_day(self) -> i64 {
        self.day_and_ms().0
    }

    /// The canonical RFC 3339 text (see the type's docs).
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let mut s = String::with_capacity(24);
        self.write_rfc3339(&mut s);
        s
    }

    /// Append the canonical RFC 3339 text to `out` (no allocation beyond
    /// `out`'s growth).
    pub fn write_rfc3339(self, out: &mut String) {
        let (buf, end) = self.rfc3339_array();
        out.push_str(rfc3339_str(&buf, end));
    }

    /// The RFC 3339 text on the stack (no allocation) and its length: what
    /// `Display` and `Serialize` write.
    fn rfc3339_array(self) -> ([u8; 24], usize) {
        let (days, ms) = self.day_and_ms();
        let (y, m, d) = civil_from_days(days);
        let secs = ms / 1000;
        let frac = ms % 1000;
        let mut buf = [0u8; 24];
        put(&mut buf, 0, y, 4);
        buf[4] = b'-';
        put(&mut buf, 5, m, 2);
        buf[7] = b'-';
        put(&mut buf, 8, d, 2);
        buf[10] = b'T';
        put(&mut buf, 11, secs / 3600, 2);
        buf[13] = b':';
        put(&mut buf, 14, secs / 60 % 60, 2);
        buf[16] = b':';
        put(&mut buf, 17, secs % 60, 2);
        let end = if frac == 0 {
            buf[19] = b'Z';
            20
        } else {
            buf[19] = b'.';
            put(&mut buf, 20, frac, 3);
            buf[23] = b'Z';
            24
        };
        (buf, end)
    }
}

fn rfc3339_str(buf: &[u8; 24], end: usize) -> &str {
    // Only ASCII digits and separators are ever written.
    std::str::from_utf8(buf.get(..end).unwrap_or_default()).unwrap_or_default()
}

/// Write `v` as `width` decimal digits at `buf[at..]` (`v` is in range by
/// construction: years 1–9999, months, days, hours, minutes, seconds, ms).
#[allow(clippy::indexing_slicing)] // positions are constants below 24
fn put(buf: &mut [u8; 24], at: usize, mut v: i64, width: usize) {
    for i in (0..width).rev() {
        buf[at + i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (y, m, d)
/// in the proleptic Gregorian calendar.
const fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (buf, end) = self.rfc3339_array();
        f.write_str(rfc3339_str(&buf, end))
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Timestamp, TimeError> {
        Timestamp::parse_rfc3339(s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (buf, end) = self.rfc3339_array();
        s.serialize_str(rfc3339_str(&buf, end))
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chrono_text(ms: i64) -> String {
        let dt = chrono::DateTime::from_timestamp_millis(ms).unwrap();
        if ms.rem_euclid(1000) == 0 {
            dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        }
    }

    #[test]
    fn ends_and_known_instants() {
        assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp::UNIX_EPOCH.to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp::from_unix_millis(Timestamp::MIN.0 - 1), None);
        assert_eq!(Timestamp::from_unix_millis(Timestamp::MAX.0 + 1), None);
        let t = Timestamp::parse_rfc3339("2026-11-28T12:00:00Z").unwrap();
        assert_eq!(t.unix_millis(), 1_795_867_200_000);
        assert_eq!((t.hour(), t.weekday()), (12, 6));
        assert_eq!(
            Timestamp::from_unix_millis(-1).unwrap().to_string(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(Timestamp::from_unix_millis(-1).unwrap().weekday(), 3);
    }

    #[test]
    fn lenient_and_canonical_parsing() {
        // The SDK sends Python's isoformat(): microseconds and +00:00.
        let t = Timestamp::parse_rfc3339("2026-11-29T06:36:38.123456+00:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-29T06:36:38.123Z");
        assert!(Timestamp::parse_canonical("2026-11-29T06:36:38.123Z").is_ok());
        for bad in [
            "2026-11-29T06:36:38.123+00:00",
            "2026-11-29t06:36:38Z",
            "2026-11-29T06:36:38.000Z",
        ] {
            let e = Timestamp::parse_canonical(bad).unwrap_err();
            assert!(matches!(e, TimeError::NotCanonical { .. }), "{bad}: {e}");
            assert_eq!(e.code(), "INVALID_TIMESTAMP");
        }
        assert!(matches!(
            Timestamp::parse_rfc3339("yesterday"),
            Err(TimeError::Syntax { .. })
        ));
        // Sub-millisecond digits round toward the past, also before 1970.
        let t = Timestamp::parse_rfc3339("1969-12-31T23:59:59.9999Z").unwrap();
        assert_eq!(t.unix_millis(), -1);
    }

    #[test]
    fn arithmetic() {
        let t = Timestamp::from_unix_millis(1000).unwrap();
        assert_eq!(t.checked_add_millis(500).unwrap().unix_millis(), 1500);
        assert_eq!(Timestamp::MAX.checked_add_millis(1), None);
        assert_eq!(
            Timestamp::MAX.saturating_add_millis(i64::MAX),
            Timestamp::MAX
        );
        assert_eq!(
            Timestamp::MIN.saturating_add_millis(i64::MIN),
            Timestamp::MIN
        );
        assert_eq!(t.millis_since(Timestamp::UNIX_EPOCH), 1000);
        assert_eq!(
            Timestamp::MIN.millis_since(Timestamp::MAX),
            Timestamp::MIN.0 - Timestamp::MAX.0
        );
    }

    #[test]
    fn serde_round_trip() {
        let t = Timestamp::from_unix_millis(1_795_867_200_250).unwrap();
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2026-11-28T12:00:00.250Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&j).unwrap(), t);
        assert!(serde_json::from_str::<Timestamp>("12").is_err());
    }

    #[test]
    fn from_canonical_as_parse_canonical() {
        for s in [
            "2026-11-28T12:00:00Z",
            "2026-11-28T12:00:00.250Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
            "2024-02-29T00:00:00Z",
            "1970-01-01T00:00:00.001Z",
            "1969-12-31T23:59:59.999Z",
            "2000-02-29T10:11:12Z",
        ] {
            let want = Timestamp::parse_canonical_via_chrono(s).unwrap();
            assert_eq!(Timestamp::from_canonical(s.as_bytes()), Some(want), "{s}");
        }
        for s in [
            "2026-11-28T12:00:00.000Z",
            "2026-11-28T12:00:00+00:00",
            "2026-11-28t12:00:00Z",
            "2026-11-28T12:00:00z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T23:60:00Z",
            "2026-11-28T23:59:60Z",
            "2026-11-28T12:00:00.25Z",
            "2026-11-28T12:00:00.2500Z",
            "2026-11-28T12:00:00",
            "+2026-11-28T12:00:00Z",
            "2026-1a-28T12:00:00Z",
            "2026-11-28 12:00:00Z",
            "",
        ] {
            assert_eq!(Timestamp::from_canonical(s.as_bytes()), None, "{s}");
            assert!(Timestamp::parse_canonical_via_chrono(s).is_err(), "{s}");
        }
    }

    /// A canonical timestamp text, then a few byte edits from an alphabet
    /// that keeps it close to the grammar.
    fn near_canonical() -> impl Strategy<Value = Vec<u8>> {
        let edit = (
            any::<prop::sample::Index>(),
            0u8..4,
            prop::sample::select(b"0123456789-:TZ.+tz 5".to_vec()),
        );
        (
            Timestamp::MIN.0..=Timestamp::MAX.0,
            any::<bool>(),
            prop::collection::vec(edit, 0..3),
        )
            .prop_map(|(ms, whole_second, edits)| {
                let ms = if whole_second {
                    ms - ms.rem_euclid(1000)
                } else {
                    ms
                };
                let mut b = Timestamp(ms).to_string().into_bytes();
                // A whole second spelled with `.000` (not canonical) half the time.
                if whole_second && ms.rem_euclid(2000) == 0 {
                    b.truncate(19);
                    b.extend_from_slice(b".000Z");
                }
                for (i, op, c) in edits {
                    let at = i.index(b.len() + 1);
                    match op {
                        0 if at < b.len() => b[at] = c,
                        1 => b.insert(at, c),
                        2 if at < b.len() => {
                            b.remove(at);
                        }
                        _ => b.truncate(at),
                    }
                }
                b
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// The chrono-free reader accepts exactly what `parse_canonical`
        /// accepts, with the same instant.
        #[test]
        fn from_canonical_agrees_with_parse_canonical(b in near_canonical()) {
            let strict = std::str::from_utf8(&b).ok().and_then(|s| Timestamp::parse_canonical_via_chrono(s).ok());
            prop_assert_eq!(Timestamp::from_canonical(&b), strict, "{:?}", String::from_utf8_lossy(&b));
        }
    }

    proptest! {
        #[test]
        fn formatting_agrees_with_chrono_and_round_trips(ms in Timestamp::MIN.0..=Timestamp::MAX.0) {
            let t = Timestamp(ms);
            let s = t.to_string();
            prop_assert_eq!(&s, &chrono_text(ms));
            prop_assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{s}\""));
            let mut w = String::from("x");
            t.write_rfc3339(&mut w);
            prop_assert_eq!(w, format!("x{s}"));
            prop_assert_eq!(Timestamp::parse_canonical(&s).unwrap(), t);
            let dt = chrono::DateTime::from_timestamp_millis(ms).unwrap();
            use chrono::{Datelike, Timelike};
            prop_assert_eq!(u32::from(t.hour()), dt.hour());
            prop_assert_eq!(u32::from(t.weekday()), dt.weekday().number_from_monday());
        }
    }
}
