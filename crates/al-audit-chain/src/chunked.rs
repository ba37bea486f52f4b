//! Append-only storage in fixed-size chunks: no doubling slack, so
//! resident memory stays within a chunk of what is stored.

/// A vector of `T` stored in chunks of `CHUNK` elements.
#[derive(Clone, Debug)]
pub(crate) struct Chunked<T, const CHUNK: usize> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Copy, const CHUNK: usize> Default for Chunked<T, CHUNK> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy, const CHUNK: usize> Chunked<T, CHUNK> {
    /// The first chunk starts small and doubles up to `CHUNK` (a power of
    /// two, so doubling lands on it exactly); later chunks are allocated
    /// whole. A short sequence (an upper Merkle level, a small log) so
    /// holds at most twice its length, not a whole chunk.
    pub(crate) fn push(&mut self, v: T) {
        const { assert!(CHUNK.is_power_of_two()) };
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(v),
            last => {
                let mut c = if last.is_none() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                c.push(v);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, i: usize) -> Option<T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held.
    pub(crate) fn resident_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<T>>()
            + self
                .chunks
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<T>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain `Vec`: every element where it was put, across the
    /// doubling first chunk and whole later ones, and no chunk holds more
    /// than `CHUNK` elements or (the first) more than twice its length.
    #[test]
    fn chunked_is_a_vec() {
        let mut c: Chunked<u32, 8> = Chunked::default();
        let mut v = Vec::new();
        for i in 0..100u32 {
            assert_eq!(c.len(), v.len());
            for (j, x) in v.iter().enumerate() {
                assert_eq!(c.get(j), Some(*x));
            }
            assert_eq!(c.get(v.len()), None);
            for chunk in &c.chunks {
                assert!(chunk.capacity() <= 8);
            }
            if let Some(first) = c.chunks.first() {
                assert!(first.capacity() <= (2 * first.len()).max(4), "{i}");
            }
            c.push(i * 3);
            v.push(i * 3);
        }
    }
}

/// Byte arena: entries appended back to back in chunks of at least
/// [`ARENA_CHUNK`] bytes. Chunk `full.len()` is the one being written.
#[derive(Clone, Debug, Default)]
pub(crate) struct Arena {
    full: Vec<Vec<u8>>,
    current: Vec<u8>,
}

/// Size of one arena chunk.
pub(crate) const ARENA_CHUNK: usize = 4 << 20;
/// Free bytes [`Arena::open`] guarantees before an entry is encoded in place.
pub(crate) const ENCODE_RESERVE: usize = 16 << 10;

impl Arena {
    /// Start writing an entry of `len` bytes; returns the buffer to append
    /// to and `(chunk, start)`. The buffer never reallocates for it.
    pub(crate) fn writer(&mut self, len: usize) -> (&mut Vec<u8>, u32, u32) {
        if self.current.capacity() - self.current.len() < len {
            let fresh = Vec::with_capacity(ARENA_CHUNK.max(len));
            self.full.push(std::mem::replace(&mut self.current, fresh));
        }
        let chunk = u32::try_from(self.full.len()).unwrap_or(u32::MAX);
        let start = u32::try_from(self.current.len()).unwrap_or(u32::MAX);
        (&mut self.current, chunk, start)
    }

    /// Start writing an entry of unknown length directly into the arena:
    /// returns the buffer to append to and `(chunk, start)`. At least
    /// [`ENCODE_RESERVE`] bytes are free, so a typical entry never moves the
    /// chunk; a larger one grows it once. The caller truncates the buffer
    /// back to `start` if it abandons the entry.
    pub(crate) fn open(&mut self) -> (&mut Vec<u8>, u32, usize) {
        if self.current.capacity() - self.current.len() < ENCODE_RESERVE {
            let fresh = Vec::with_capacity(ARENA_CHUNK);
            let old = std::mem::replace(&mut self.current, fresh);
            if !old.is_empty() || !self.full.is_empty() {
                self.full.push(old);
            }
        }
        let chunk = u32::try_from(self.full.len()).unwrap_or(u32::MAX);
        let start = self.current.len();
        (&mut self.current, chunk, start)
    }

    /// After an entry was written through [`Arena::open`]: a chunk that had
    /// to grow for a large entry is trimmed, so no chunk keeps doubling
    /// slack (the next entry then starts a fresh chunk).
    pub(crate) fn close(&mut self) {
        if self.current.capacity() > ARENA_CHUNK {
            self.current.shrink_to_fit();
        }
    }

    pub(crate) fn chunk(&self, i: u32) -> Option<&Vec<u8>> {
        let i = i as usize;
        if i == self.full.len() {
            Some(&self.current)
        } else {
            self.full.get(i)
        }
    }

    pub(crate) fn resident_bytes(&self) -> usize {
        self.full.capacity() * std::mem::size_of::<Vec<u8>>()
            + self.full.iter().map(Vec::capacity).sum::<usize>()
            + self.current.capacity()
    }
}
