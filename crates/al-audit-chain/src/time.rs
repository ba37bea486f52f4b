//! RFC 3339 formatting of caller-supplied millisecond timestamps.

/// `2026-11-28T12:00:00Z`, or with `.250` milliseconds when not whole.
#[must_use]
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = u32::try_from(ms.rem_euclid(1000)).unwrap_or(0);
    match chrono::DateTime::from_timestamp(secs, frac * 1_000_000) {
        Some(dt) if frac == 0 => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// Parse RFC 3339 into milliseconds since the epoch (sub-millisecond
/// digits are rejected so the value round-trips exactly).
///
/// # Errors
/// A message.
pub fn parse_rfc3339_ms(s: &str) -> Result<i64, String> {
    let dt = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("`{s}` is not an RFC 3339 timestamp: {e}"))?;
    if dt.timestamp_subsec_nanos() % 1_000_000 != 0 {
        return Err(format!("`{s}` has sub-millisecond precision"));
    }
    Ok(dt.timestamp_millis())
}

pub(crate) fn ser_ms<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_ms(*ms))
}
