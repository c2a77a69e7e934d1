//! `--verify-heap` for semispace: the layout the copy relies on, the
//! objects' structure, that nothing refers to memory the last collection
//! gave back, then every reference (shared checks in `heap::verify`).
//!
//! Layout: every segment is packed from its base up to `used` (up to the
//! bump window's top for the last) with objects whose headers are sane and
//! which are small (a large object in a segment would be taken for a span's
//! and never copied); each large span holds one large object at its base;
//! no header is marked or holds a forwarding address (both exist only
//! during a collection); `held`, `small_held` and the count of objects in
//! segments match what is there. Headers are read as raw bytes until the
//! walk has found them sane. A reference into from-space or a dead span is
//! found by its address alone: that memory is the pool's now and is never read.

use super::{LARGE_OBJECT_BYTES, SemispaceHeap};
use crate::heap::RootSet;
use crate::heap::verify::{Refs, Report, check_bump_header, check_refs, check_structure, describe};
use crate::value::ObjRef;
use crate::value::object::{HEADER_BYTES, trace};
use rustc_hash::FxHashSet;
use std::ptr::NonNull;

/// Where an object must be, by its size.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Segment,
    Span,
}

/// Checks the header at `p` with `room` bytes after it, and that the object
/// is where its size says it must be; returns the object's size.
fn check_header(
    p: *mut u8,
    room: usize,
    place: Place,
    report: &mut Report,
    at: &dyn Fn() -> String,
) -> Option<usize> {
    let size = check_bump_header(p, room, report, at)?;
    match place {
        Place::Segment if size > LARGE_OBJECT_BYTES => report.add(format!(
            "{}: a large object ({size} bytes) in a segment",
            at()
        )),
        Place::Span if size <= LARGE_OBJECT_BYTES => {
            report.add(format!("{}: a small object ({size} bytes) in a span", at()))
        }
        _ => {}
    }
    Some(size)
}

impl SemispaceHeap {
    pub(super) fn verify_heap(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        self.seal();
        let mut report = Report::default();
        let objects = self.walk(&mut report);
        report.finish()?;
        let live: FxHashSet<usize> = objects.iter().map(|r| r.addr()).collect();
        // The structure first: tracing a list whose storage is broken would
        // read past it. Then released memory, which `check_refs` would read
        // as static data (it lies outside the heap).
        check_structure(&objects, &live)?;
        self.check_released(&objects, &live, roots)?;
        let holds = |a: usize| self.holds(a);
        check_refs(&objects, &live, &holds, roots, Refs::Strict, &mut |_| {})
    }

    /// Whether `a` lies in a segment or span the heap holds.
    fn holds(&self, a: usize) -> bool {
        let mut held = self.segs.iter().chain(self.large.iter());
        held.any(|s| s.seg.contains(a))
    }

    /// The layout: every object, in segments and spans, with its header
    /// checked; the books checked against what was found.
    fn walk(&self, report: &mut Report) -> Vec<ObjRef> {
        let mut objects = Vec::new();
        let (mut held, mut small) = (0usize, 0usize);
        for (i, s) in self.segs.iter().enumerate() {
            held += s.size();
            small += s.size();
            if s.used > s.size() {
                report.add(format!(
                    "segment {i}: used {} of {} bytes",
                    s.used,
                    s.size()
                ));
                continue;
            }
            let mut off = 0;
            while off < s.used {
                let at = || format!("segment {i} offset {off}");
                if s.used - off < HEADER_BYTES {
                    let left = s.used - off;
                    report.add(format!("{}: {left} bytes left, no room for a header", at()));
                    break;
                }
                // SAFETY: off < used <= size: inside the segment.
                let p = unsafe { s.base().add(off) };
                let Some(size) = check_header(p, s.used - off, Place::Segment, report, &at) else {
                    break;
                };
                // SAFETY: as above.
                objects.push(unsafe { ObjRef::from_ptr(NonNull::new_unchecked(p)) });
                off += size;
            }
        }
        let in_segments = objects.len() as u64;
        for (i, span) in self.large.iter().enumerate() {
            held += span.size();
            let at = || format!("large span {i}");
            let p = span.base();
            if let Some(size) = check_header(p, span.size(), Place::Span, report, &at) {
                if size != span.used {
                    report.add(format!(
                        "{}: holds {size} bytes, counted {}",
                        at(),
                        span.used
                    ));
                }
                // SAFETY: the span's base holds its object.
                objects.push(unsafe { ObjRef::from_ptr(span.seg.base()) });
            }
        }
        if (held, small) != (self.held, self.small_held) {
            report.add(format!(
                "holds {held} bytes ({small} in segments), counted {} ({})",
                self.held, self.small_held
            ));
        }
        if in_segments != self.small_objects {
            report.add(format!(
                "{in_segments} objects in segments, counted {}",
                self.small_objects
            ));
        }
        objects
    }

    /// No root and no slot of a live object refers to memory the last
    /// collection gave back (unless the heap holds it again). Call once
    /// `check_structure` passed, so that tracing reads only live objects.
    fn check_released(
        &mut self,
        objects: &[ObjRef],
        live: &FxHashSet<usize>,
        roots: &mut dyn RootSet,
    ) -> Result<(), String> {
        if self.released.is_empty() {
            return Ok(());
        }
        self.released.sort_unstable_by_key(|r| r.start);
        let released = &self.released;
        let stale = |t: ObjRef| {
            let a = t.addr();
            let i = released.partition_point(|r| r.start <= a);
            !live.contains(&a) && i > 0 && released[i - 1].contains(&a) && !self.holds(a)
        };
        let mut report = Report::default();
        let gone = "into memory the last collection gave back (from-space or a dead span)";
        for &o in objects {
            trace(o, &mut |slot| {
                if stale(*slot) {
                    report.add(format!(
                        "{} refers to {:#x}: {gone}",
                        describe(o),
                        slot.addr()
                    ));
                }
            });
        }
        roots.visit(&mut |r| {
            if stale(*r) {
                report.add(format!("a root refers to {:#x}: {gone}", r.addr()));
            }
        });
        report.finish()
    }
}
