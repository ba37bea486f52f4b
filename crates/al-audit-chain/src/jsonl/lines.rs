//! Lines of a JSON Lines stream, read from the caller's [`BufRead`]
//! without copying the lines that lie whole in its buffer.

use std::io::{self, BufRead};

use super::read::MAX_LINE_BYTES;

/// The longest slice [`LineReader::next_line`] returns: a line of
/// [`MAX_LINE_BYTES`] plus its newline, and one byte more so that a longer
/// line, cut there, is still recognisably too long.
pub const MAX_LINE_READ: usize = MAX_LINE_BYTES + 2;

/// A read buffer for [`LineReader`] (64 KiB): small enough to stay in a
/// core's L2 cache, where each line is read again (newline search, parse,
/// hash) right after the kernel copies it in. A 1 MiB buffer cost `al
/// verify` and `al simulate` about 0.3 µs per 740-byte line in kernel copy
/// time alone on the development machine (512 KiB L2).
pub const LINE_BUFFER_BYTES: usize = 64 << 10;

/// Reads lines from a [`BufRead`] the caller owns (a file, a socket, a
/// slice): the core does no I/O of its own.
///
/// A line that lies whole in the reader's buffer is handed out in place;
/// only a line that straddles two fills is copied, into one buffer the
/// reader reuses. Each line keeps its `\n` (the last line of a stream may
/// have none), so the lengths add up to the bytes read.
///
/// A line longer than [`MAX_LINE_BYTES`] is cut after [`MAX_LINE_READ`]
/// bytes, so memory stays bounded whatever the input; the cut line has no
/// newline and is longer than every reader in this crate accepts, which
/// refuse it. Callers stop at that refusal; a caller that reads on gets
/// the rest of the long line as the next "line".
///
/// Keep the wrapped reader's buffer well inside the core's L2 cache
/// ([`LINE_BUFFER_BYTES`]).
///
/// ```
/// use al_audit_chain::LineReader;
///
/// let mut r = LineReader::new(&b"{\"a\":1}\n{\"b\":2}"[..]);
/// assert_eq!(r.next_line()?, Some(&b"{\"a\":1}\n"[..]));
/// assert_eq!(r.next_line()?, Some(&b"{\"b\":2}"[..]));
/// assert_eq!(r.next_line()?, None);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    /// A line that straddles fills, assembled.
    spill: Vec<u8>,
    /// Bytes of the inner buffer handed out by the last call, consumed
    /// by the next.
    pending: usize,
    limit: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Read lines from `inner`.
    pub fn new(inner: R) -> LineReader<R> {
        LineReader::with_limit(inner, MAX_LINE_READ)
    }

    /// Read lines from `inner`, cutting them after `limit` bytes (at
    /// least 1).
    pub fn with_limit(inner: R, limit: usize) -> LineReader<R> {
        LineReader {
            inner,
            spill: Vec::new(),
            pending: 0,
            limit: limit.max(1),
        }
    }

    /// The next line with its newline, `None` at the end of the stream.
    ///
    /// # Errors
    /// The reader's I/O error; an interrupted read is retried. After an
    /// error, part of the line being read may be lost (as with
    /// `BufRead::read_until`): stop there.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        self.inner.consume(std::mem::take(&mut self.pending));
        self.spill.clear();
        loop {
            let room = self.limit.saturating_sub(self.spill.len());
            let (whole, len) = {
                let buf = match self.inner.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if buf.is_empty() {
                    // The end: what was assembled is the last line.
                    return Ok((!self.spill.is_empty()).then_some(self.spill.as_slice()));
                }
                let window = buf.get(..room).unwrap_or(buf);
                let (found, len) = match memchr::memchr(b'\n', window) {
                    Some(i) => (true, i + 1),
                    None => (false, window.len()),
                };
                let done = found || len == room;
                if !(done && self.spill.is_empty()) {
                    self.spill
                        .extend_from_slice(window.get(..len).unwrap_or(window));
                }
                (done && self.spill.is_empty(), len)
            };
            if whole {
                // In place: the same buffer again (a filled buffer is
                // returned as it is, without reading). The line counts as
                // read only once it is handed out.
                return match self.inner.fill_buf()?.get(..len) {
                    Some(line) => {
                        self.pending = len;
                        Ok(Some(line))
                    }
                    None => Err(io::Error::other("the reader's buffer shrank")),
                };
            }
            self.inner.consume(len);
            if self.spill.len() >= self.limit || self.spill.last() == Some(&b'\n') {
                return Ok(Some(self.spill.as_slice()));
            }
        }
    }

    /// The wrapped reader, positioned after the last line handed out.
    pub fn into_inner(mut self) -> R {
        self.inner.consume(self.pending);
        self.inner
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use proptest::prelude::*;
    use std::io::BufReader;

    /// `read_until` with a `take` limit: the reference.
    fn naive(input: &[u8], limit: usize) -> Vec<Vec<u8>> {
        use std::io::Read;
        let mut r = input;
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = (&mut r)
                .take(limit as u64)
                .read_until(b'\n', &mut line)
                .unwrap();
            if n == 0 {
                return out;
            }
            out.push(line);
        }
    }

    fn ours(input: &[u8], cap: usize, limit: usize) -> Vec<Vec<u8>> {
        let mut r = LineReader::with_limit(BufReader::with_capacity(cap, input), limit);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(l.to_vec());
        }
        out
    }

    /// A reader whose every other `read` is interrupted (a signal during
    /// the system call), as `BufReader` passes it on.
    struct Flaky<'a> {
        inner: &'a [u8],
        calls: usize,
    }

    impl std::io::Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.inner.read(buf)
        }
    }

    #[test]
    fn interrupted_reads_are_retried() {
        for cap in [1, 2, 3, 64] {
            let flaky = Flaky {
                inner: b"a\nbc\nd",
                calls: 0,
            };
            let mut r = LineReader::new(BufReader::with_capacity(cap, flaky));
            let mut lines = Vec::new();
            while let Some(l) = r.next_line().unwrap() {
                lines.push(l.to_vec());
            }
            assert_eq!(lines, [&b"a\n"[..], b"bc\n", b"d"], "cap {cap}");
        }
    }

    #[test]
    fn lines_in_the_buffer_are_handed_out_in_place() {
        let data = b"first\nsecond\nlast";
        let mut r = LineReader::new(&data[..]);
        let at = |l: &[u8]| l.as_ptr() as usize - data.as_ptr() as usize;
        assert_eq!(r.next_line().unwrap().map(at), Some(0));
        assert_eq!(r.next_line().unwrap().map(at), Some(6));
        // The last line has no newline: assembled at the end of the stream.
        assert_eq!(r.next_line().unwrap(), Some(&b"last"[..]));
    }

    #[test]
    fn errors_other_than_interrupted_are_returned() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::PermissionDenied.into())
            }
        }
        let mut r = LineReader::new(BufReader::new(Broken));
        let e = r.next_line().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn the_default_limit_cuts_after_max_line_read() {
        let mut long = vec![b'x'; MAX_LINE_BYTES];
        long.push(b'\n');
        long.extend(std::iter::repeat_n(b'y', MAX_LINE_BYTES + 5));
        let mut r = LineReader::new(BufReader::with_capacity(64 << 10, &long[..]));
        // A line of the longest accepted length is whole, newline included.
        assert_eq!(
            r.next_line().unwrap().map(<[u8]>::len),
            Some(MAX_LINE_BYTES + 1)
        );
        // A longer one is cut one byte past the longest line and its newline.
        assert_eq!(
            r.next_line().unwrap().map(<[u8]>::len),
            Some(MAX_LINE_BYTES + 2)
        );
    }

    #[test]
    fn into_inner_is_after_the_last_line() {
        let mut r = LineReader::new(&b"a\nb\n"[..]);
        assert_eq!(r.next_line().unwrap(), Some(&b"a\n"[..]));
        assert_eq!(r.into_inner(), b"b\n");
    }

    #[test]
    fn edges() {
        for (input, want) in [
            (&b""[..], vec![]),
            (b"\n", vec![&b"\n"[..]]),
            (b"a", vec![b"a"]),
            (b"a\n\nb\n", vec![b"a\n", b"\n", b"b\n"]),
            (b"abcdefghij\nk", vec![b"abcdefghij\n", b"k"]),
        ] {
            for cap in [1, 2, 3, 4, 64] {
                assert_eq!(ours(input, cap, 100), want, "cap {cap}");
            }
        }
        // Cut after the limit, with or without a newline in reach.
        assert_eq!(ours(b"abcdef\ngh", 2, 4), naive(b"abcdef\ngh", 4));
        assert_eq!(ours(b"abc\nd", 64, 4), vec![&b"abc\n"[..], b"d"]);
    }

    proptest! {
        #[test]
        fn same_lines_as_read_until(
            input in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x'), any::<u8>()], 0..400),
            cap in 1usize..70,
            limit in 1usize..90,
        ) {
            prop_assert_eq!(ours(&input, cap, limit), naive(&input, limit));
        }
    }
}
