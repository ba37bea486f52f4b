//! Serialised state: a compact, versioned, fixed-order binary layout.
//!
//! Why binary: the state must be small (≤ 2 KiB), must come back *exactly*
//! (a float printed as decimal text and read back is not always the same
//! float, and replay compares states byte for byte), and is read from
//! storage a host may not fully trust, so every field is validated on the
//! way in. Text formats (JSON, YAML) carry it as one base64 string; binary
//! serde formats as bytes.
//!
//! Layout (all integers little-endian; `f64` as IEEE 754 bits; times as
//! signed milliseconds since the Unix epoch):
//!
//! | field | bytes |
//! |---|---|
//! | format version (1) | 1 |
//! | state (0 CALIBRATING … 5 KILLED) | 1 |
//! | reason (0 none, 1 + [`Reason`] tag) and its signal | 2 |
//! | since, last_now, calibration_started | 3 × 8 |
//! | calibrated_at (flag byte, then time) | 1 + 8 |
//! | calibration_actions | 8 |
//! | window_start; window_count, prev_window_count (u32) | 8 + 2 × 4 |
//! | rate (n u64, mean, var), rate_sd | 24 + 8 |
//! | data (n, mean, var) | 24 |
//! | refusals, delegations (n u64, mean) | 2 × 16 |
//! | refusal_share, delegation_share | 2 × 8 |
//! | hours (24 × u32), hours_total (u64) | 96 + 8 |
//! | last_hot, gcra_tat | 2 × 8 |
//! | known types: count (u8), then each fingerprint (u64, increasing) | 1 + 8 n |

use al_types::Timestamp;

use super::{Breaker, KnownTypes};
use crate::error::BreakerError;
use crate::stats::{Share, Stat};
use crate::types::{Reason, SIGNALS, Signal, State};

const VERSION: u8 = 1;

const STATES: [State; 6] = [
    State::Calibrating,
    State::Monitoring,
    State::Warn,
    State::Throttle,
    State::Halt,
    State::Killed,
];

fn reason_code(r: Option<Reason>) -> [u8; 2] {
    let signal =
        |s: Signal| u8::try_from(SIGNALS.iter().position(|x| *x == s).unwrap_or(0)).unwrap_or(0);
    match r {
        None => [0, 0],
        Some(Reason::CalibrationComplete) => [1, 0],
        Some(Reason::OperatorCompletedCalibration) => [2, 0],
        Some(Reason::Anomaly(s)) => [3, signal(s)],
        Some(Reason::QuietPeriod) => [4, 0],
        Some(Reason::OperatorHalt) => [5, 0],
        Some(Reason::OperatorResume) => [6, 0],
        Some(Reason::OperatorKill) => [7, 0],
        Some(Reason::OperatorRecalibrate) => [8, 0],
    }
}

fn reason_from(code: [u8; 2]) -> Option<Option<Reason>> {
    let [tag, sig] = code;
    let r = match tag {
        0 => None,
        1 => Some(Reason::CalibrationComplete),
        2 => Some(Reason::OperatorCompletedCalibration),
        3 => Some(Reason::Anomaly(*SIGNALS.get(usize::from(sig))?)),
        4 => Some(Reason::QuietPeriod),
        5 => Some(Reason::OperatorHalt),
        6 => Some(Reason::OperatorResume),
        7 => Some(Reason::OperatorKill),
        8 => Some(Reason::OperatorRecalibrate),
        _ => return None,
    };
    if tag != 3 && sig != 0 {
        return None;
    }
    Some(r)
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    fn time(&mut self, t: Timestamp) {
        self.0.extend_from_slice(&t.unix_millis().to_le_bytes());
    }
    fn stat(&mut self, s: &Stat) {
        self.u64(s.n);
        self.f64(s.mean);
        self.f64(s.var);
    }
    fn share(&mut self, s: &Share) {
        self.u64(s.n);
        self.f64(s.mean);
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

fn corrupt(problem: impl Into<String>) -> BreakerError {
    BreakerError::CorruptState {
        problem: problem.into(),
    }
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self, field: &str) -> Result<[u8; N], BreakerError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or_else(|| corrupt(format!("truncated at `{field}`")))?;
        self.rest = tail;
        Ok(*head)
    }
    fn u8(&mut self, field: &str) -> Result<u8, BreakerError> {
        Ok(self.take::<1>(field)?[0])
    }
    fn u32(&mut self, field: &str) -> Result<u32, BreakerError> {
        Ok(u32::from_le_bytes(self.take(field)?))
    }
    fn u64(&mut self, field: &str) -> Result<u64, BreakerError> {
        Ok(u64::from_le_bytes(self.take(field)?))
    }
    /// A finite float in `[lo, hi]`.
    fn f64(&mut self, field: &str, lo: f64, hi: f64) -> Result<f64, BreakerError> {
        let v = f64::from_bits(self.u64(field)?);
        if v.is_finite() && v >= lo && v <= hi {
            Ok(v)
        } else {
            Err(corrupt(format!("`{field}` is out of range: {v}")))
        }
    }
    fn time(&mut self, field: &str) -> Result<Timestamp, BreakerError> {
        let ms = i64::from_le_bytes(self.take(field)?);
        Timestamp::from_unix_millis(ms)
            .ok_or_else(|| corrupt(format!("`{field}` is outside years 1-9999")))
    }
    fn stat(&mut self, field: &str) -> Result<Stat, BreakerError> {
        Ok(Stat {
            n: self.u64(field)?,
            mean: self.f64(field, 0.0, f64::MAX)?,
            var: self.f64(field, 0.0, f64::MAX)?,
        })
    }
    fn share(&mut self, field: &str) -> Result<Share, BreakerError> {
        Ok(Share {
            n: self.u64(field)?,
            mean: self.f64(field, 0.0, 1.0)?,
        })
    }
}

impl Breaker {
    /// The state in the serialised layout (see the crate docs). Equal
    /// states give equal bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(320 + 8 * usize::from(self.types.len())));
        w.u8(VERSION);
        w.u8(u8::try_from(STATES.iter().position(|s| *s == self.state).unwrap_or(0)).unwrap_or(0));
        for b in reason_code(self.reason) {
            w.u8(b);
        }
        w.time(self.since);
        w.time(self.last_now);
        w.time(self.calibration_started);
        w.u8(u8::from(self.calibrated_at.is_some()));
        w.time(self.calibrated_at.unwrap_or(Timestamp::UNIX_EPOCH));
        w.u64(self.calibration_actions);
        w.time(self.window_start);
        w.u32(self.window_count);
        w.u32(self.prev_window_count);
        w.stat(&self.rate);
        w.f64(self.rate_sd);
        w.stat(&self.data);
        w.share(&self.refusals);
        w.share(&self.delegations);
        w.f64(self.refusal_share);
        w.f64(self.delegation_share);
        for h in self.hours {
            w.u32(h);
        }
        w.u64(self.hours_total);
        w.time(self.last_hot);
        w.time(self.gcra_tat);
        w.u8(self.types.len());
        for fp in self.types.as_slice() {
            w.u64(*fp);
        }
        w.0
    }

    /// Read state written by [`to_bytes`](Self::to_bytes), validating every
    /// field.
    ///
    /// # Errors
    /// [`BreakerError::CorruptState`] naming the first bad field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Breaker, BreakerError> {
        let mut r = Reader { rest: bytes };
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(corrupt(format!("unknown format version {version}")));
        }
        let state = *STATES
            .get(usize::from(r.u8("state")?))
            .ok_or_else(|| corrupt("`state` is not a state"))?;
        let reason = reason_from([r.u8("reason")?, r.u8("reason")?])
            .ok_or_else(|| corrupt("`reason` is not a reason"))?;
        let since = r.time("since")?;
        let last_now = r.time("last_now")?;
        let calibration_started = r.time("calibration_started")?;
        let calibrated = r.u8("calibrated_at")?;
        let calibrated_time = r.time("calibrated_at")?;
        let calibrated_at = match calibrated {
            0 => None,
            1 => Some(calibrated_time),
            _ => return Err(corrupt("`calibrated_at` flag is not 0 or 1")),
        };
        let calibration_actions = r.u64("calibration_actions")?;
        let window_start = r.time("window_start")?;
        let window_count = r.u32("window_count")?;
        let prev_window_count = r.u32("prev_window_count")?;
        let rate = r.stat("rate")?;
        let rate_sd = r.f64("rate_sd", f64::MIN_POSITIVE, f64::MAX)?;
        let data = r.stat("data")?;
        let refusals = r.share("refusals")?;
        let delegations = r.share("delegations")?;
        let refusal_share = r.f64("refusal_share", 0.0, 1.0)?;
        let delegation_share = r.f64("delegation_share", 0.0, 1.0)?;
        let mut hours = [0u32; 24];
        for h in &mut hours {
            *h = r.u32("hours")?;
        }
        let hours_total = r.u64("hours_total")?;
        if hours_total != hours.iter().map(|&h| u64::from(h)).sum::<u64>() {
            return Err(corrupt("`hours_total` is not the sum of `hours`"));
        }
        let last_hot = r.time("last_hot")?;
        let gcra_tat = r.time("gcra_tat")?;
        let n = usize::from(r.u8("types")?);
        let mut fps = [0u64; super::known::MAX_KNOWN];
        let slots = fps
            .get_mut(..n)
            .ok_or_else(|| corrupt("`types` holds more than 64 fingerprints"))?;
        for fp in slots.iter_mut() {
            *fp = r.u64("types")?;
        }
        let types = KnownTypes::from_sorted(slots)
            .ok_or_else(|| corrupt("`types` is not strictly increasing"))?;
        if !r.rest.is_empty() {
            return Err(corrupt(format!("{} bytes after the end", r.rest.len())));
        }
        Ok(Breaker {
            state,
            since,
            reason,
            last_now,
            calibration_started,
            calibration_actions,
            calibrated_at,
            window_start,
            window_count,
            prev_window_count,
            rate,
            rate_sd,
            data,
            refusals,
            delegations,
            refusal_share,
            delegation_share,
            hours,
            hours_total,
            types,
            last_hot,
            gcra_tat,
        })
    }
}

impl serde::Serialize for Breaker {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_bytes();
        if s.is_human_readable() {
            s.serialize_str(&base64::encode(&bytes))
        } else {
            s.serialize_bytes(&bytes)
        }
    }
}

impl<'de> serde::Deserialize<'de> for Breaker {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Breaker, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Breaker;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("breaker state (base64 text or bytes)")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Breaker, E> {
                let bytes = base64::decode(s)
                    .ok_or_else(|| E::custom("invalid breaker state: not canonical base64"))?;
                Breaker::from_bytes(&bytes).map_err(E::custom)
            }
            fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Breaker, E> {
                Breaker::from_bytes(b).map_err(E::custom)
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(V)
        } else {
            d.deserialize_bytes(V)
        }
    }
}

/// Standard base64 (RFC 4648 §4) with padding; decoding accepts only the
/// canonical encoding, so one state has one text.
mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    fn sym(i: u32) -> char {
        char::from(ALPHABET.get((i & 63) as usize).copied().unwrap_or(b'='))
    }

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
            let v = b(0) << 16 | b(1) << 8 | b(2);
            out.push(sym(v >> 18));
            out.push(sym(v >> 12));
            out.push(if chunk.len() > 1 { sym(v >> 6) } else { '=' });
            out.push(if chunk.len() > 2 { sym(v) } else { '=' });
        }
        out
    }

    fn value(c: u8) -> Option<u32> {
        ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let s = text.as_bytes();
        if !s.len().is_multiple_of(4) {
            return None;
        }
        let mut out = Vec::with_capacity(s.len() / 4 * 3);
        let quads = s.len() / 4;
        for (i, q) in s.chunks(4).enumerate() {
            let last = i + 1 == quads;
            let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
            if pad > 2 || (pad > 0 && !last) {
                return None;
            }
            let mut v = 0u32;
            for &c in q.iter().take(4 - pad) {
                v = v << 6 | value(c)?;
            }
            v <<= 6 * pad as u32;
            let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
            // Canonical: the bits a padded quad drops must be zero.
            let keep = 3 - pad;
            if bytes.iter().skip(keep).any(|&b| b != 0) {
                return None;
            }
            out.extend(bytes.iter().take(keep));
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn rfc4648_vectors_and_strictness() {
            for (raw, text) in [
                ("", ""),
                ("f", "Zg=="),
                ("fo", "Zm8="),
                ("foo", "Zm9v"),
                ("foob", "Zm9vYg=="),
                ("fooba", "Zm9vYmE="),
                ("foobar", "Zm9vYmFy"),
            ] {
                assert_eq!(encode(raw.as_bytes()), text);
                assert_eq!(decode(text).unwrap(), raw.as_bytes());
            }
            for bad in ["Zg", "Zh==", "Zg=a", "Z===", "Zg==Zg==", "Zm9v\n", "Zm-v"] {
                assert_eq!(decode(bad), None, "{bad}");
            }
            let all: Vec<u8> = (0..=255).collect();
            assert_eq!(decode(&encode(&all)).unwrap(), all);
        }
    }
}
