//! The canonical decoder: only canonical bytes decode.

use al_types::{Digest, EntryId, Timestamp};
use serde_json::{Map, Number, Value};

use crate::entry::{DOMAIN, Entry, Kind, MAX_DEPTH, MAX_ENTRY_BYTES, VERSION};
use crate::error::{EncodingProblem as P, EntryProblem, Error};

/// Byte offset of the row in an encoded entry.
const ROW_OFFSET: usize = DOMAIN.len() + 1;

/// The row of encoded bytes, read without a full decode.
#[must_use]
pub fn peek_row(bytes: &[u8]) -> Option<u64> {
    let b: [u8; 8] = bytes.get(ROW_OFFSET..ROW_OFFSET + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

/// The `prev_hash` of encoded bytes (their last 32 bytes).
#[must_use]
pub fn peek_prev_hash(bytes: &[u8]) -> Option<Digest> {
    let start = bytes.len().checked_sub(32)?;
    let b: [u8; 32] = bytes.get(start..)?.try_into().ok()?;
    Some(Digest(b))
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn fail(&self, p: P) -> Error {
        Error::encoding(self.at, p)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let s = self
            .at
            .checked_add(n)
            .and_then(|end| self.b.get(self.at..end))
            .ok_or_else(|| self.fail(P::Truncated))?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        let b = self
            .b
            .get(self.at)
            .copied()
            .ok_or_else(|| self.fail(P::Truncated))?;
        self.at += 1;
        Ok(b)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.take(N)?;
        s.try_into().map_err(|_| self.fail(P::Truncated))
    }
    fn len(&mut self) -> Result<usize, Error> {
        Ok(u32::from_be_bytes(self.arr()?) as usize)
    }
    fn str(&mut self) -> Result<&'a str, Error> {
        let n = self.len()?;
        let at = self.at;
        std::str::from_utf8(self.take(n)?).map_err(|_| Error::encoding(at, P::Utf8))
    }
    /// A value at nesting `level` (the fields object is level 1).
    fn value(&mut self, level: usize) -> Result<Value, Error> {
        let at = self.at;
        let tag = self.u8()?;
        Ok(match tag {
            0x00 => Value::Null,
            0x01 => Value::Bool(false),
            0x02 => Value::Bool(true),
            0x03 => Value::from(u64::from_be_bytes(self.arr()?)),
            0x04 => {
                let i = i64::from_be_bytes(self.arr()?);
                if i >= 0 {
                    return Err(Error::encoding(
                        at,
                        P::NonCanonical("non-negative integer under tag 0x04"),
                    ));
                }
                Value::from(i)
            }
            0x05 => {
                let f = f64::from_bits(u64::from_be_bytes(self.arr()?));
                Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| Error::encoding(at, P::NonCanonical("non-finite float")))?
            }
            0x06 => Value::String(self.str()?.to_owned()),
            0x07 | 0x08 if level >= MAX_DEPTH => {
                return Err(Error::entry(EntryProblem::TooDeep(MAX_DEPTH)));
            }
            0x07 => {
                let n = self.len()?;
                // Each item takes at least one byte: bound the allocation by what is left.
                let mut a = Vec::with_capacity(n.min(self.b.len().saturating_sub(self.at)));
                for _ in 0..n {
                    a.push(self.value(level + 1)?);
                }
                Value::Array(a)
            }
            0x08 => Value::Object(self.object(level + 1)?),
            tag => return Err(Error::encoding(at, P::UnknownTag(tag))),
        })
    }
    /// The members of an object at nesting `level`.
    fn object(&mut self, level: usize) -> Result<Map<String, Value>, Error> {
        let n = self.len()?;
        let mut m = Map::new();
        let mut prev: Option<&str> = None;
        for _ in 0..n {
            let at = self.at;
            let k = self.str()?;
            if prev.is_some_and(|p| p.as_bytes() >= k.as_bytes()) {
                return Err(Error::encoding(
                    at,
                    P::NonCanonical("object keys not strictly ascending"),
                ));
            }
            prev = Some(k);
            let v = self.value(level)?;
            m.insert(k.to_owned(), v);
        }
        Ok(m)
    }
}

/// Decode canonical bytes. Only canonical encodings are accepted; the
/// kind's field rules are not checked here (see
/// [`crate::validate_fields`], which strict readers apply too).
///
/// # Errors
/// [`Error::Encoding`] naming the byte offset, or [`Error::Entry`] for an
/// entry over the size or depth limits, with row 0, or with a timestamp
/// outside years 1–9999.
pub fn decode(bytes: &[u8]) -> Result<Entry, Error> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(Error::entry(EntryProblem::TooLarge {
            size: bytes.len(),
            limit: MAX_ENTRY_BYTES,
        }));
    }
    let mut r = Reader { b: bytes, at: 0 };
    if r.take(DOMAIN.len())? != DOMAIN || r.u8()? != VERSION {
        return Err(Error::encoding(0, P::BadHeader));
    }
    let id = EntryId::from_row(u64::from_be_bytes(r.arr()?))
        .ok_or(Error::entry(EntryProblem::RowZero))?;
    let at = r.at;
    let kc = r.u8()?;
    let kind = Kind::from_code(kc).ok_or(Error::encoding(at, P::UnknownKind(kc)))?;
    let at = r.at;
    let agent_id = match r.u8()? {
        0 => None,
        1 => Some(r.str()?.to_owned()),
        _ => {
            return Err(Error::encoding(
                at,
                P::NonCanonical("agent flag must be 0 or 1"),
            ));
        }
    };
    let ms = i64::from_be_bytes(r.arr()?);
    let timestamp =
        Timestamp::from_unix_millis(ms).ok_or(Error::entry(EntryProblem::Timestamp(ms)))?;
    let at = r.at;
    if r.u8()? != 0x08 {
        return Err(Error::encoding(
            at,
            P::NonCanonical("fields must be an object"),
        ));
    }
    let fields = r.object(1)?;
    let prev_hash = Digest(r.arr()?);
    if r.at != bytes.len() {
        return Err(Error::encoding(r.at, P::Trailing(bytes.len() - r.at)));
    }
    Ok(Entry {
        id,
        kind,
        agent_id,
        timestamp,
        fields,
        prev_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::encode::put_str;
    use serde_json::json;

    fn sample() -> Entry {
        Entry {
            id: EntryId::from_row(1).unwrap(),
            kind: Kind::Action,
            agent_id: Some("agt_1".into()),
            timestamp: Timestamp::from_unix_millis(1_764_331_200_000).unwrap(),
            fields: json!({"status": "executed", "action_type": "pr.merge", "n": -3, "f": 0.5, "big": u64::MAX, "z": [null, true, false, {"b": 1, "a": "x"}], "nz": -0.0})
                .as_object()
                .cloned()
                .unwrap(),
            prev_hash: Digest::ZERO,
        }
    }

    #[test]
    fn round_trip_and_peek() {
        let e = sample();
        let b = e.encode();
        assert_eq!(decode(&b).unwrap(), e);
        assert_eq!(peek_row(&b), Some(1));
        assert_eq!(peek_prev_hash(&b), Some(Digest::ZERO));
    }

    #[test]
    fn every_truncation_fails() {
        let b = sample().encode();
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_err(), "accepted a prefix of {n} bytes");
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(decode(&long), Err(Error::encoding(b.len(), P::Trailing(1))));
    }

    fn bytes_with(row: u64, ts: i64, fields: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(DOMAIN);
        out.push(1);
        out.extend_from_slice(&row.to_be_bytes());
        out.push(1);
        out.push(0);
        out.extend_from_slice(&ts.to_be_bytes());
        fields(&mut out);
        out.extend_from_slice(&[0; 32]);
        out
    }

    #[test]
    fn non_canonical_forms_are_rejected() {
        let descending = bytes_with(1, 0, |out| {
            out.push(0x08);
            out.extend_from_slice(&2u32.to_be_bytes());
            put_str(out, "b");
            out.push(0);
            put_str(out, "a");
            out.push(0);
        });
        assert!(matches!(
            decode(&descending),
            Err(Error::Encoding {
                problem: P::NonCanonical(_),
                ..
            })
        ));
        let empty = |out: &mut Vec<u8>| {
            out.push(0x08);
            out.extend_from_slice(&0u32.to_be_bytes());
        };
        assert!(decode(&bytes_with(1, 0, empty)).is_ok());
        assert_eq!(
            decode(&bytes_with(0, 0, empty)),
            Err(Error::entry(EntryProblem::RowZero))
        );
        let ts = Timestamp::MAX.unix_millis() + 1;
        assert_eq!(
            decode(&bytes_with(1, ts, empty)),
            Err(Error::entry(EntryProblem::Timestamp(ts)))
        );
        let neg_zero_int = bytes_with(1, 0, |out| {
            out.push(0x08);
            out.extend_from_slice(&1u32.to_be_bytes());
            put_str(out, "a");
            out.push(0x04);
            out.extend_from_slice(&0i64.to_be_bytes());
        });
        assert!(decode(&neg_zero_int).is_err());
    }
}
