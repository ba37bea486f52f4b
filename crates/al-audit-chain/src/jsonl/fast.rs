//! The fast path of the JSON Lines reader: a line already laid out as the
//! writer lays it out is transcoded to its canonical bytes in one borrowed
//! pass, with no JSON tree and no re-encode.
//!
//! The writer's layout (`docs/audit-encoding.md` §3): no whitespace; `row`,
//! `id`, `kind`, `agent_id`, `timestamp`; the fields with keys strictly
//! ascending by their bytes, in every nested object too; `prev_hash`,
//! `hash`. In that layout the JSON members come in exactly the order of the
//! canonical bytes (§2), so each value is written out as it is read.
//!
//! **Contract.** [`transcode`] either returns `None`, or the bytes the
//! strict reader ([`super::parse_line_bytes`] then [`crate::Entry::encode`])
//! would produce for the line, and the line's stored hash. It answers
//! `None` whenever it cannot *prove* that — any whitespace, another member
//! order, an escape in a header value or a top-level key, a number it does
//! not read as `serde_json` does, a limit reached, a rule broken — and the
//! caller then runs the strict reader, which decides and words every
//! refusal. So acceptance, error codes and error locations are the strict
//! reader's by construction; the fast path only has to be right about what
//! it accepts, and a differential test and fuzz target
//! (`tests/fast_line.rs`, `fuzz_targets/jsonl_fast.rs`) hold it to that.
//!
//! Time is linear in the line; recursion is bounded by [`MAX_DEPTH`].

use al_types::{Digest, Timestamp};

use crate::entry::{DOMAIN, FieldRef, Kind, MAX_DEPTH, MAX_ENTRY_BYTES, VERSION, check_kind};

use super::read::MAX_LINE_BYTES;

/// Transcode a line (without its newline) in the writer's layout into
/// `out` (cleared first); `None` when the strict reader must decide.
pub(crate) fn transcode(line: &[u8], out: &mut Vec<u8>) -> Option<Digest> {
    if line.len() > MAX_LINE_BYTES {
        return None;
    }
    // Every string slice below is then UTF-8, and every escape decodes to
    // a `char`.
    std::str::from_utf8(line).ok()?;
    out.clear();
    let mut c = Cursor { b: line, at: 0 };
    out.extend_from_slice(DOMAIN);
    out.push(VERSION);

    c.lit(b"{\"row\":")?;
    let row = c.row()?;
    out.extend_from_slice(&row.to_be_bytes());
    c.lit(b",\"id\":\"evt_")?;
    if c.take(16)? != hex16(row) {
        return None;
    }
    c.lit(b"\",\"kind\":\"")?;
    let kind = std::str::from_utf8(c.plain()?).ok().and_then(Kind::parse)?;
    out.push(kind.code());
    c.lit(b",\"agent_id\":")?;
    if c.peek()? == b'n' {
        c.lit(b"null")?;
        out.push(0);
    } else {
        c.lit(b"\"")?;
        out.push(1);
        c.string(out)?;
    }
    c.lit(b",\"timestamp\":\"")?;
    let ts = Timestamp::from_canonical(c.plain()?)?.unix_millis();
    out.extend_from_slice(&ts.to_be_bytes());
    c.lit(b",")?;

    // The fields object, level 1; its members until `prev_hash`.
    out.push(0x08);
    let count_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut count = 0usize;
    // The previous key's bytes in `out`.
    let mut prev_key: Option<(usize, usize)> = None;
    // Where the values of the members the kind rules read start in `out`.
    let mut checked: [Option<usize>; 4] = [None; 4];
    loop {
        c.lit(b"\"")?;
        let key_at = out.len();
        c.string(out)?;
        c.lit(b":")?;
        let key = (key_at + 4, out.len());
        let k = out.get(key.0..key.1)?;
        if k == b"prev_hash" {
            out.truncate(key_at);
            break;
        }
        if reserved(k) {
            return None;
        }
        if let Some(p) = prev_key
            && !before(out.get(p.0..p.1)?, k)
        {
            return None;
        }
        if let Some(i) = checked_slot(k)
            && let Some(slot) = checked.get_mut(i)
        {
            *slot = Some(out.len());
        }
        prev_key = Some(key);
        c.value(out, 2)?;
        count += 1;
        c.lit(b",")?;
    }
    let count = u32::try_from(count).ok()?;
    out.get_mut(count_at..count_at + 4)?
        .copy_from_slice(&count.to_be_bytes());

    c.lit(b"\"")?;
    let prev_hash = hex32(c.take(64)?)?;
    c.lit(b"\",\"hash\":\"")?;
    let hash = hex32(c.take(64)?)?;
    c.lit(b"\"}")?;
    if c.at != line.len() {
        return None;
    }
    out.extend_from_slice(&prev_hash);
    if out.len() > MAX_ENTRY_BYTES {
        return None;
    }
    let field = |k: &str| {
        let i = CHECKED.iter().position(|c| *c == k)?;
        let at = (*checked.get(i)?)?;
        Some(field_ref(out, at))
    };
    check_kind(kind, field).ok()?;
    Some(Digest(hash))
}

/// The fields the kind rules look at (`check_kind`).
const CHECKED: [&str; 4] = ["action_type", "status", "event_id", "audit_event_id"];

/// `a < b` as slices compare (bytewise, a prefix first), inline: keys are
/// short and usually differ in their first byte, where a library
/// `memcmp` call costs more than the comparison.
fn before(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

/// `k` is one of [`RESERVED_KEYS`](crate::entry::RESERVED_KEYS) (one
/// match on the length and bytes instead of seven comparisons; a test
/// holds the two lists together).
fn reserved(k: &[u8]) -> bool {
    matches!(
        k,
        b"row" | b"id" | b"kind" | b"agent_id" | b"timestamp" | b"prev_hash" | b"hash"
    )
}

/// `k`'s index in [`CHECKED`].
fn checked_slot(k: &[u8]) -> Option<usize> {
    match k {
        b"action_type" => Some(0),
        b"status" => Some(1),
        b"event_id" => Some(2),
        b"audit_event_id" => Some(3),
        _ => None,
    }
}

/// The value whose tag is at `at` in `out`, as the kind rules see it.
fn field_ref(out: &[u8], at: usize) -> FieldRef<'_> {
    let s = (|| {
        if *out.get(at)? != 0x06 {
            return None;
        }
        let n: [u8; 4] = out.get(at + 1..at + 5)?.try_into().ok()?;
        out.get(at + 5..at + 5 + u32::from_be_bytes(n) as usize)
    })();
    s.map_or(FieldRef::Other, FieldRef::Str)
}

/// `row` as 16 lowercase hex digits.
fn hex16(row: u64) -> [u8; 16] {
    let mut h = [0u8; 16];
    for (i, d) in h.iter_mut().enumerate() {
        let nib = (row >> (60 - 4 * i)) & 0xf;
        *d = b"0123456789abcdef"
            .get(nib as usize)
            .copied()
            .unwrap_or(b'0');
    }
    h
}

/// Lowercase hex digit values; 0xff for every other byte.
// Indexing in a const initialiser is checked when the crate is built.
#[allow(clippy::indexing_slicing)]
const NIBBLE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Bytes that end a run of plain string bytes: `"`, `\`, controls.
#[allow(clippy::indexing_slicing)]
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

fn nibble(c: u8) -> u8 {
    NIBBLE.get(usize::from(c)).copied().unwrap_or(0xff)
}

/// Where the first byte that ends a plain run is, eight bytes at a time
/// (SWAR): in each little-endian word, the high bit of a byte is set by
/// the tests below only where the byte is `"`, `\\` or a control, or
/// above such a byte (a borrow), so the lowest flag is the first stop.
/// `stop_bytewise` is the reference a test compares it with.
fn stop(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = b.chunks_exact(8);
    let mut at = 0usize;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        let flags = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if flags != 0 {
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    stop_bytewise(chunks.remainder()).map(|p| at + p)
}

/// [`stop`], one byte at a time.
fn stop_bytewise(b: &[u8]) -> Option<usize> {
    b.iter()
        .position(|&c| STOP.get(usize::from(c)).copied().unwrap_or(true))
}

/// A run of ASCII digits as a `u64` (`None` when empty or beyond 64 bits),
/// without a UTF-8 check or `str::parse`: the caller scanned the digits.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |v, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// 64 lowercase hex digits.
fn hex32(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, p) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (hi, lo) = match p {
            [h, l] => (nibble(*h), nibble(*l)),
            _ => return None,
        };
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (bad & 0xf0 == 0).then_some(out)
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    /// Exactly these bytes next.
    fn lit(&mut self, lit: &[u8]) -> Option<()> {
        (self.take(lit.len())? == lit).then_some(())
    }

    /// The rest of a string (after its opening quote) that holds no escape
    /// and no control character, and its closing quote.
    fn plain(&mut self) -> Option<&'a [u8]> {
        let rest = self.b.get(self.at..)?;
        let n = stop(rest)?;
        if rest.get(n) != Some(&b'"') {
            return None;
        }
        self.at += n + 1;
        rest.get(..n)
    }

    /// `row`: an integer ≥ 1 in its one spelling.
    fn row(&mut self) -> Option<u64> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits = self.b.get(start..self.at)?;
        if digits.first() == Some(&b'0') {
            return None;
        }
        decimal(digits)
    }

    /// The rest of a string after its opening quote, decoded, written as
    /// `len:u32 bytes`.
    fn string(&mut self, out: &mut Vec<u8>) -> Option<()> {
        // Most strings hold no escape: their length is known after one
        // scan, and is written before the bytes (no patch afterwards).
        let rest = self.b.get(self.at..)?;
        let n = stop(rest)?;
        if rest.get(n) == Some(&b'"') {
            let body = rest.get(..n)?;
            out.reserve(4 + n);
            out.extend_from_slice(&u32::try_from(n).ok()?.to_be_bytes());
            out.extend_from_slice(body);
            self.at += n + 1;
            return Some(());
        }
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        loop {
            let rest = self.b.get(self.at..)?;
            let n = stop(rest)?;
            out.extend_from_slice(rest.get(..n)?);
            self.at += n;
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    break;
                }
                b'\\' => {
                    self.at += 1;
                    self.escape(out)?;
                }
                _ => return None,
            }
        }
        let len = u32::try_from(out.len() - len_at - 4).ok()?;
        out.get_mut(len_at..len_at + 4)?
            .copy_from_slice(&len.to_be_bytes());
        Some(())
    }

    /// One escape, after its backslash (RFC 8259 §7).
    fn escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let c = self.take(1)?.first().copied()?;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        self.lit(b"\\u")?;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return None;
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return None,
                    c => c,
                };
                char::from_u32(code)?
            }
            _ => return None,
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        self.take(4)?.iter().try_fold(0u32, |acc, &c| {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return None,
            };
            Some(acc << 4 | u32::from(v))
        })
    }

    /// One value; a container here would be at nesting `level`.
    fn value(&mut self, out: &mut Vec<u8>, level: usize) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                out.push(0x06);
                self.string(out)
            }
            b'{' if level <= MAX_DEPTH => {
                self.at += 1;
                self.object(out, level)
            }
            b'[' if level <= MAX_DEPTH => {
                self.at += 1;
                self.array(out, level)
            }
            b't' => self.lit(b"true").map(|()| out.push(0x02)),
            b'f' => self.lit(b"false").map(|()| out.push(0x01)),
            b'n' => self.lit(b"null").map(|()| out.push(0x00)),
            b'-' | b'0'..=b'9' => self.number(out),
            _ => None,
        }
    }

    /// An object after its `{`: keys strictly ascending by their decoded
    /// bytes (so also never repeated).
    fn object(&mut self, out: &mut Vec<u8>, level: usize) -> Option<()> {
        out.push(0x08);
        let count_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let mut count = 0u32;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let mut prev: Option<(usize, usize)> = None;
        loop {
            self.lit(b"\"")?;
            let key_at = out.len();
            self.string(out)?;
            let key = (key_at + 4, out.len());
            if let Some(p) = prev
                && !before(out.get(p.0..p.1)?, out.get(key.0..key.1)?)
            {
                return None;
            }
            prev = Some(key);
            self.lit(b":")?;
            self.value(out, level + 1)?;
            count = count.checked_add(1)?;
            match self.take(1)?.first()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
        out.get_mut(count_at..count_at + 4)?
            .copy_from_slice(&count.to_be_bytes());
        Some(())
    }

    /// An array after its `[`.
    fn array(&mut self, out: &mut Vec<u8>, level: usize) -> Option<()> {
        out.push(0x07);
        let count_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let mut count = 0u32;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.value(out, level + 1)?;
            count = count.checked_add(1)?;
            match self.take(1)?.first()? {
                b',' => {}
                b']' => break,
                _ => return None,
            }
        }
        out.get_mut(count_at..count_at + 4)?
            .copy_from_slice(&count.to_be_bytes());
        Some(())
    }

    /// A number (RFC 8259 §6). An integer (no fraction, no exponent) takes
    /// the integer tags, `-0` being the integer 0; one beyond 64 bits is
    /// left to the strict reader, which refuses it. A float is read by
    /// `serde_json` itself, so its bits are the strict reader's.
    fn number(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let start = self.at;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.at += 1;
        }
        let int_start = self.at;
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let int = self.b.get(int_start..self.at)?;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
            float = true;
        }
        if float {
            let tok = std::str::from_utf8(self.b.get(start..self.at)?).ok()?;
            let f: f64 = serde_json::from_str(tok).ok()?;
            if !f.is_finite() {
                return None;
            }
            out.push(0x05);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        } else if !neg || int == b"0" {
            let u = decimal(int)?;
            out.push(0x03);
            out.extend_from_slice(&u.to_be_bytes());
        } else {
            // −2^63 … −1: the magnitude is at most 2^63.
            let m = decimal(int)?;
            let i = 0i64.checked_sub_unsigned(m)?;
            out.push(0x04);
            out.extend_from_slice(&i.to_be_bytes());
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lists_as_the_constants() {
        for k in crate::entry::RESERVED_KEYS {
            assert!(reserved(k.as_bytes()), "{k}");
        }
        for (i, k) in CHECKED.iter().enumerate() {
            assert_eq!(checked_slot(k.as_bytes()), Some(i), "{k}");
            assert!(!reserved(k.as_bytes()));
        }
        for k in ["", "rows", "i", "hash_", "Row", "action", "status_"] {
            assert!(
                !reserved(k.as_bytes()) && checked_slot(k.as_bytes()).is_none(),
                "{k}"
            );
        }
    }

    #[test]
    fn stop_as_bytewise_on_every_position_and_byte() {
        // Every byte value at every offset of a 24-byte run, over a
        // background of plain bytes (ASCII and UTF-8 continuation bytes).
        for bg in [b'a', 0x80, 0xff, 0x21, 0x5d, 0x7f] {
            for at in 0..24 {
                for c in 0..=255u8 {
                    let mut b = vec![bg; 24];
                    b[at] = c;
                    assert_eq!(stop(&b), stop_bytewise(&b), "bg {bg:#x}, {c:#x} at {at}");
                    assert_eq!(stop(&b[..at]), None);
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn before_as_slice_order(
            a in proptest::collection::vec(0u8..4, 0..5),
            b in proptest::collection::vec(0u8..4, 0..5),
        ) {
            proptest::prop_assert_eq!(before(&a, &b), a < b);
        }

        #[test]
        fn stop_as_bytewise(b in proptest::collection::vec(proptest::sample::select(
            vec![b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x5c, 0x5b, 0x80, 0xa2, 0xdc, 0xff, 0x7f, 0x01],
        ), 0..40)) {
            proptest::prop_assert_eq!(stop(&b), stop_bytewise(&b));
        }
    }

    #[test]
    fn decimal_as_str_parse() {
        for d in [
            "0",
            "9",
            "10",
            "0001",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999",
            "",
            "1a",
            "-1",
        ] {
            assert_eq!(
                decimal(d.as_bytes()),
                d.parse::<u64>().ok().filter(|_| !d.starts_with('-')),
                "{d}"
            );
        }
    }

    #[test]
    fn hex() {
        assert_eq!(hex16(0x2a), *b"000000000000002a");
        assert_eq!(hex16(u64::MAX), *b"ffffffffffffffff");
        let h = "00ff".repeat(16);
        assert_eq!(hex32(h.as_bytes()).unwrap()[..2], [0, 255]);
        assert_eq!(hex32(h.to_uppercase().as_bytes()), None);
        assert_eq!(hex32(&h.as_bytes()[..62]), None);
    }
}
