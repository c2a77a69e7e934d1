//! `--verify-heap` for mark-compact: the layout the collector relies on, then
//! the object graph (shared checks in `heap::verify`).
//!
//! Layout: every segment is densely packed from its base up to `used` with
//! objects whose headers are sane (so walking by sizes lands exactly on
//! `used`, and no object overlaps another); outside a collection no object is
//! marked and no header word holds a forwarding address; each large span
//! holds one object at its base; `held` is the sum of what is held, and
//! the count of objects held (what a collection that walks only marked
//! objects takes its dead count from) the number found.
//! Headers are read as raw bytes until the walk has found them sane.

use super::MarkCompactHeap;
use crate::heap::RootSet;
use crate::heap::verify::{Refs, Report, check_bump_header, verify_graph};
use crate::value::ObjRef;
use crate::value::object::HEADER_BYTES;
use rustc_hash::FxHashSet;
use std::ptr::NonNull;

impl MarkCompactHeap {
    pub(super) fn verify_heap(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        let objects = self.verify_layout()?;
        let live: FxHashSet<usize> = objects.iter().map(|r| r.addr()).collect();
        let holds = |a: usize| self.holds(a);
        verify_graph(&objects, &live, &holds, roots, Refs::Strict, &mut |_| {})
    }

    /// The layout checks; returns every object (live or not: outside a
    /// collection a segment also holds what died since the last one).
    pub(in crate::heap) fn verify_layout(&mut self) -> Result<Vec<ObjRef>, String> {
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
                let Some(size) = check_bump_header(p, s.used - off, &mut report, &at) else {
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
            if let Some(_size) =
                check_bump_header(span.base().as_ptr(), span.size(), &mut report, &at)
            {
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
        if objects.len() as u64 != self.objects_held() {
            report.add(format!(
                "holds {} objects, counted {}",
                objects.len(),
                self.objects_held()
            ));
        }
        if !self.spare.is_empty() {
            report.add(format!(
                "{} spare segments left after a promotion",
                self.spare.len()
            ));
        }
        report.finish()?;
        Ok(objects)
    }
}
