//! `--verify-heap` for mark-compact: the layout the collector relies on, then
//! the object graph (shared checks in `heap::verify`).
//!
//! Layout: every segment is densely packed from its base up to `used` with
//! objects whose headers are sane (so walking by sizes lands exactly on
//! `used`, and no object overlaps another); outside a collection no object is
//! marked and no header word holds a forwarding address; each large span
//! holds one object at its base; `held` is the sum of what is held.
//! Headers are read as raw bytes until the walk has found them sane.

use super::MarkCompactHeap;
use crate::heap::RootSet;
use crate::heap::verify::{Refs, Report, raw_kind, verify_graph};
use crate::value::ObjRef;
use crate::value::object::{FLAG_MARK, HEADER_BYTES};
use rustc_hash::FxHashSet;
use std::ptr::NonNull;

/// Offsets of header fields (`Header` is `repr(C)`: kind, flags, aux, size, word).
const FLAGS_AT: usize = 1;
const SIZE_AT: usize = 4;
const WORD_AT: usize = 8;

/// Checks the header at `p` with `room` bytes after it; returns the object's size.
fn check_header(
    p: *mut u8,
    room: usize,
    report: &mut Report,
    at: &dyn Fn() -> String,
) -> Option<usize> {
    // SAFETY: callers pass a place inside a held segment with at least a
    // header's worth of bytes (`room >= HEADER_BYTES`); fields are read raw.
    let (kind, flags, size, word) = unsafe {
        (
            p.read(),
            p.add(FLAGS_AT).read(),
            p.add(SIZE_AT).cast::<u32>().read() as usize,
            p.add(WORD_AT).cast::<u64>().read(),
        )
    };
    // SAFETY: p is non-null (inside a segment).
    let r = unsafe { ObjRef::from_ptr(NonNull::new_unchecked(p)) };
    if raw_kind(r).is_none() {
        report.add(format!("{}: no object header (kind byte {kind})", at()));
        return None;
    }
    if size < HEADER_BYTES || !size.is_multiple_of(8) || size > room {
        report.add(format!("{}: size {size} with {room} bytes left", at()));
        return None;
    }
    if flags & FLAG_MARK != 0 {
        report.add(format!("{}: still marked after a collection", at()));
    }
    if word != 0 {
        report.add(format!(
            "{}: header word {word:#x} left (a forwarding address?)",
            at()
        ));
    }
    Some(size)
}

impl MarkCompactHeap {
    pub(super) fn verify_heap(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        self.seal();
        let mut report = Report::default();
        let mut objects = Vec::new();
        let mut held = 0usize;
        for (i, s) in self.segs.iter().enumerate() {
            held += s.seg.size();
            if s.used > s.seg.size() {
                report.add(format!(
                    "segment {i}: used {} of {} bytes",
                    s.used,
                    s.seg.size()
                ));
                continue;
            }
            let mut off = 0;
            while off < s.used {
                let at = || format!("segment {i} offset {off}");
                if s.used - off < HEADER_BYTES {
                    report.add(format!(
                        "{}: {} bytes left, no room for a header",
                        at(),
                        s.used - off
                    ));
                    break;
                }
                // SAFETY: off < used <= size: inside the segment.
                let p = unsafe { s.base().add(off) };
                let Some(size) = check_header(p, s.used - off, &mut report, &at) else {
                    break;
                };
                // SAFETY: as above.
                objects.push(unsafe { ObjRef::from_ptr(NonNull::new_unchecked(p)) });
                off += size;
            }
        }
        for (i, span) in self.large.iter().enumerate() {
            held += span.size();
            let at = || format!("large span {i}");
            if let Some(_size) = check_header(span.base().as_ptr(), span.size(), &mut report, &at) {
                // SAFETY: the span's base holds its object.
                objects.push(unsafe { ObjRef::from_ptr(span.base()) });
            }
        }
        if held != self.held {
            report.add(format!(
                "holds {held} bytes of segments, counted {}",
                self.held
            ));
        }
        report.finish()?;
        let live: FxHashSet<usize> = objects.iter().map(|r| r.addr()).collect();
        let holds = |a: usize| {
            self.segs.iter().any(|s| s.seg.contains(a)) || self.large.iter().any(|s| s.contains(a))
        };
        verify_graph(&objects, &live, &holds, roots, Refs::Strict, &mut |_| {})
    }
}
