//! Approval durations: `90`, `90s`, `15m`, `8h`, `2d`, `1h30m`.

use crate::error::{Code, Error};

/// Longest approval timeout accepted: 30 days.
pub const MAX_APPROVAL_SECS: u64 = 30 * 86_400;

/// Normal form of a duration: the largest unit that divides it exactly
/// (`28800` → `8h`, `90` → `90s`, `0` → `0s`).
#[must_use]
pub fn format_duration(secs: u64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs != 0 && secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// Parse `90`, `"90s"`, `"15m"`, `"8h"`, `"2d"` or a sum such as `"1h30m"`.
///
/// # Errors
/// [`Error::Value`] with code `INVALID_DURATION`, naming what is wrong.
pub fn parse_duration(s: &str) -> Result<u64, Error> {
    parse(s).map_err(|m| Error::value(Code::InvalidDuration, m))
}

fn parse(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for ch in s.chars() {
        if let Some(d) = ch.to_digit(10) {
            let n = num
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)))
                .ok_or("duration is too large")?;
            num = Some(n);
        } else {
            let mult = match ch {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(format!("unknown unit `{ch}`; use s, m, h or d")),
            };
            let n = num.take().ok_or("a unit must follow a number")?;
            total = n
                .checked_mul(mult)
                .and_then(|v| total.checked_add(v))
                .ok_or("duration is too large")?;
        }
    }
    if let Some(n) = num {
        // A bare number is seconds, but only on its own (`90`), not after units (`1h30`).
        if total != 0 {
            return Err("a number without a unit must stand alone".into());
        }
        total = n;
    }
    Ok(total)
}
