//! Entry points shared by the fuzz target and the seed regression test.
#![allow(clippy::panic)]

use crate::segment::{self, FrameEnd, Reader};
use crate::snapshot;

/// What a reader made of a segment: the frames it yielded (offset, entry,
/// hash) and how it ended.
type Seen = (Vec<(u64, Vec<u8>, [u8; 32])>, Option<FrameEnd>);

fn by_slice(data: &[u8]) -> Option<Seen> {
    let (_, mut f) = segment::read(data).ok()?;
    let frames = f
        .by_ref()
        .map(|x| (x.offset as u64, x.entry.to_vec(), *x.hash))
        .collect();
    Some((frames, f.end().cloned()))
}

fn by_stream(data: &[u8]) -> Option<Seen> {
    let mut r = Reader::new(data).ok()?;
    let mut frames = Vec::new();
    while let Ok(Some((o, e, h))) = r.next_frame() {
        frames.push((o, e.to_vec(), *h));
    }
    Some((frames, r.end().cloned()))
}

/// Read arbitrary bytes as a segment (and as a snapshot). Never panics;
/// both segment readers accept the same headers and yield the same frames
/// up to where either stops (the streaming one stops after a zero-hash
/// frame followed by data, which the slice reader yields and checking then
/// refuses); every frame re-encodes to its bytes; a checked segment is a
/// chain; a decoded snapshot re-encodes to itself.
pub fn segment_read(data: &[u8]) {
    let a = by_slice(data);
    let b = by_stream(data);
    assert_eq!(
        a.is_some(),
        b.is_some(),
        "the readers disagree on the header"
    );
    if let (Some((fa, ea)), Some((fb, eb))) = (&a, &b) {
        let n = fa.len().min(fb.len());
        assert_eq!(
            fa.get(..n),
            fb.get(..n),
            "the readers yield different frames"
        );
        if fa.len() == fb.len() && !matches!(eb, Some(FrameEnd::Bad { .. })) {
            assert_eq!(ea, eb, "the readers end differently");
        }
        for (_, entry, hash) in fa {
            let mut out = Vec::new();
            segment::push_frame(&mut out, entry, hash);
            assert_eq!(out.len(), entry.len() + segment::FRAME_OVERHEAD);
        }
    }
    if let Ok(c) = segment::check_frames(data) {
        assert!(c.valid_len <= data.len());
        assert_eq!(c.torn.is_some(), c.valid_len < data.len());
    }
    if let Ok(s) = snapshot::decode(data) {
        assert_eq!(
            snapshot::encode(&s.org_id, s.row, &s.head_hash, &s.state),
            data
        );
    }
}
