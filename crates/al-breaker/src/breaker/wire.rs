//! Serialised state: a compact, versioned, fixed-order binary layout.
//!
//! Why binary: the state must be small (≤ 2 KiB), must come back *exactly*
//! (a float printed as decimal text and read back is not always the same
//! float, and replay compares states byte for byte), and is read from
//! storage a host may not fully trust, so every field is validated on the
//! way in. Text formats (JSON, YAML) carry it as one base64 string; binary
//! serde formats as bytes.
//!
//! Layout, version 2 (integers little-endian; `f64`/`f32` as IEEE 754
//! bits; times as signed milliseconds since the Unix epoch; a flag byte is
//! 0 or 1):
//!
//! | field | bytes |
//! |---|---|
//! | format version (2) | 1 |
//! | state (0 CALIBRATING … 5 KILLED) | 1 |
//! | reason (0 none, 1 + `Reason` tag) and its signal index | 2 |
//! | since, last_now, calibration_started | 3 × 8 |
//! | calibration_actions (u64) | 8 |
//! | anchor: kind (0 none, 1 calibration, 2 accepted), at, rate, data flag, data, denials; drifting flag | 1 + 8 + 8 + 1 + 8 + 8 + 1 |
//! | window_start; window_count, prev_window_count (u32); base_mean, base_sd | 8 + 2 × 4 + 2 × 8 |
//! | all-hours rate and data (n u64, mean, var) | 2 × 24 |
//! | 48 slots: rate_n, data_n (u16), rate_mean, rate_var, data_mean (f32) | 48 × 16 |
//! | rate_sum, mask (u64, 48 bits), mask_rate, mask_rate_data, data_rel_var | 5 × 8 |
//! | refusals, delegations (n u64, mean); refusal_share, delegation_share | 2 × 16 + 2 × 8 |
//! | known types: count (u8, ≤ 48), then each fingerprint (u64, increasing) | 1 + 8 n |
//! | last_hot; quiet_actions (u32); last_deescalation (flag, time); gcra_tat | 8 + 4 + 9 + 8 |
//!
//! 1 037 + 8 n bytes: at most 1 421 (1 896 characters of base64).

use al_types::Timestamp;

use super::profile::{SLOTS, Slot};
use super::{Anchor, Breaker, KnownTypes, LastType, Profile, slot_end, slot_of};
use crate::error::BreakerError;
use crate::stats::{Share, Stat};
use crate::types::{AnchorKind, Reason, SIGNALS, Signal, State};

const VERSION: u8 = 2;

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
        Some(Reason::OperatorAcceptedDrift) => [9, 0],
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
        9 => Some(Reason::OperatorAcceptedDrift),
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
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
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
    fn u16(&mut self, field: &str) -> Result<u16, BreakerError> {
        Ok(u16::from_le_bytes(self.take(field)?))
    }
    fn u32(&mut self, field: &str) -> Result<u32, BreakerError> {
        Ok(u32::from_le_bytes(self.take(field)?))
    }
    /// A finite, non-negative `f32`.
    fn f32(&mut self, field: &str) -> Result<f32, BreakerError> {
        let v = f32::from_bits(self.u32(field)?);
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(corrupt(format!("`{field}` is out of range: {v}")))
        }
    }
    fn flag(&mut self, field: &str) -> Result<bool, BreakerError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(corrupt(format!("`{field}` flag is not 0 or 1"))),
        }
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
        let mut w = Writer(Vec::with_capacity(1037 + 8 * usize::from(self.types.len())));
        w.u8(VERSION);
        w.u8(u8::try_from(STATES.iter().position(|s| *s == self.state).unwrap_or(0)).unwrap_or(0));
        for b in reason_code(self.reason) {
            w.u8(b);
        }
        w.time(self.since);
        w.time(self.last_now);
        w.time(self.calibration_started);
        w.u64(self.calibration_actions);
        let a = self.anchor;
        w.u8(match a.map(|a| a.kind) {
            None => 0,
            Some(AnchorKind::Calibration) => 1,
            Some(AnchorKind::Accepted) => 2,
        });
        w.time(a.map_or(Timestamp::UNIX_EPOCH, |a| a.at));
        w.f64(a.map_or(0.0, |a| a.rate));
        let data = a.and_then(|a| a.data);
        w.u8(u8::from(data.is_some()));
        w.f64(data.unwrap_or(0.0));
        w.f64(a.map_or(0.0, |a| a.denials));
        w.u8(u8::from(self.drifting));
        w.time(self.window_start);
        w.u32(self.window_count);
        w.u32(self.prev_window_count);
        w.f64(self.base_mean);
        w.f64(self.base_sd);
        w.stat(&self.rate);
        w.stat(&self.data);
        let p = &self.profile;
        for s in &p.slots {
            w.u16(s.rate_n);
            w.u16(s.data_n);
            w.f32(s.rate_mean);
            w.f32(s.rate_var);
            w.f32(s.data_mean);
        }
        w.f64(p.rate_sum);
        w.u64(p.mask);
        w.f64(p.mask_rate);
        w.f64(p.mask_rate_data);
        w.f64(p.data_rel_var);
        w.share(&self.refusals);
        w.share(&self.delegations);
        w.f64(self.refusal_share);
        w.f64(self.delegation_share);
        w.u8(self.types.len());
        for fp in self.types.as_slice() {
            w.u64(*fp);
        }
        w.time(self.last_hot);
        w.u32(self.quiet_actions);
        w.u8(u8::from(self.last_deescalation.is_some()));
        w.time(self.last_deescalation.unwrap_or(Timestamp::UNIX_EPOCH));
        w.time(self.gcra_tat);
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
        let calibration_actions = r.u64("calibration_actions")?;
        let kind = match r.u8("anchor")? {
            0 => None,
            1 => Some(AnchorKind::Calibration),
            2 => Some(AnchorKind::Accepted),
            _ => return Err(corrupt("`anchor` kind is not 0, 1 or 2")),
        };
        let at = r.time("anchor.at")?;
        let rate = r.f64("anchor.rate", 0.0, f64::MAX)?;
        let has_data = r.flag("anchor.data")?;
        let data = r.f64("anchor.data", 0.0, f64::MAX)?;
        let denials = r.f64("anchor.denials", 0.0, 1.0)?;
        let drifting = r.flag("drifting")?;
        let anchor = kind.map(|kind| Anchor {
            at,
            kind,
            rate,
            data: has_data.then_some(data),
            denials,
        });
        let window_start = r.time("window_start")?;
        let window_count = r.u32("window_count")?;
        let prev_window_count = r.u32("prev_window_count")?;
        let base_mean = r.f64("base_mean", 0.0, f64::MAX)?;
        let base_sd = r.f64("base_sd", f64::MIN_POSITIVE, f64::MAX)?;
        let rate = r.stat("rate")?;
        let data = r.stat("data")?;
        let mut slots = [Slot::default(); SLOTS];
        for s in &mut slots {
            *s = Slot {
                rate_n: r.u16("slot.rate_n")?,
                data_n: r.u16("slot.data_n")?,
                rate_mean: r.f32("slot.rate_mean")?,
                rate_var: r.f32("slot.rate_var")?,
                data_mean: r.f32("slot.data_mean")?,
            };
        }
        let rate_sum = r.f64("rate_sum", -f64::MAX, f64::MAX)?;
        let mask = r.u64("mask")?;
        if mask >> SLOTS != 0 {
            return Err(corrupt("`mask` names a slot past 48"));
        }
        let profile = Profile {
            slots,
            rate_sum,
            mask,
            mask_rate: r.f64("mask_rate", -f64::MAX, f64::MAX)?,
            mask_rate_data: r.f64("mask_rate_data", -f64::MAX, f64::MAX)?,
            data_rel_var: r.f64("data_rel_var", 0.0, f64::MAX)?,
        };
        let refusals = r.share("refusals")?;
        let delegations = r.share("delegations")?;
        let refusal_share = r.f64("refusal_share", 0.0, 1.0)?;
        let delegation_share = r.f64("delegation_share", 0.0, 1.0)?;
        let n = usize::from(r.u8("types")?);
        let mut fps = [0u64; super::known::MAX_KNOWN];
        let slots = fps
            .get_mut(..n)
            .ok_or_else(|| corrupt("`types` holds more than 48 fingerprints"))?;
        for fp in slots.iter_mut() {
            *fp = r.u64("types")?;
        }
        let types = KnownTypes::from_sorted(slots)
            .ok_or_else(|| corrupt("`types` is not strictly increasing"))?;
        let last_hot = r.time("last_hot")?;
        let quiet_actions = r.u32("quiet_actions")?;
        let has_deescalation = r.flag("last_deescalation")?;
        let deescalation = r.time("last_deescalation")?;
        let gcra_tat = r.time("gcra_tat")?;
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
            anchor,
            drifting,
            window_start,
            window_slot: slot_of(window_start),
            slot_end: slot_end(window_start),
            window_count,
            prev_window_count,
            base_mean,
            base_sd,
            rate,
            data,
            profile,
            refusals,
            delegations,
            refusal_share,
            delegation_share,
            types,
            last_type: LastType::default(),
            last_hot,
            quiet_actions,
            last_deescalation: has_deescalation.then_some(deescalation),
            gcra_tat,
        })
    }
}

impl serde::Serialize for Breaker {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_bytes();
        if s.is_human_readable() {
            s.serialize_str(&super::base64::encode(&bytes))
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
                let bytes = super::base64::decode(s)
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
