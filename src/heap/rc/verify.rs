//! `--verify-heap` for rc: the slab's own invariants and the object graph
//! (shared with manual, `Slab::verify_graph`, with every reference required
//! to reach a live object or static data), then what is rc's own: every
//! stored count against a recount of the references from the roots and from
//! every live object's value slots, the colours a collection must leave
//! (black or purple), and the candidate buffer (buffered objects purple, at
//! their position; the overflow count right).

use super::{BLACK, INDEX_SHIFT, PURPLE, RcHeap, STUCK, buffered, colour, count};
use crate::heap::RootSet;
use crate::heap::verify::{Refs, Report, describe};
use crate::value::{Kind, ObjRef};
use rustc_hash::FxHashMap;

impl RcHeap {
    pub(super) fn verify_heap(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        let mut actual: FxHashMap<usize, u64> = FxHashMap::default();
        let objects = self.slab.verify_graph(roots, Refs::Strict, &mut |r| {
            *actual.entry(r.addr()).or_default() += 1
        })?;
        let mut report = Report::default();
        self.verify_counts(&objects, &actual, &mut report);
        self.verify_candidates(&mut report);
        report.finish()
    }

    /// Counts against the recount, colours and buffer positions of every object.
    fn verify_counts(
        &self,
        objects: &[ObjRef],
        actual: &FxHashMap<usize, u64>,
        report: &mut Report,
    ) {
        let mut overflowed = 0usize;
        for &r in objects {
            let h = r.header();
            if matches!(h.kind, Kind::Array | Kind::Bytes) {
                continue;
            }
            let (stored, real) = (count(h), actual.get(&r.addr()).copied().unwrap_or(0));
            if stored as u64 != real && !(stored == STUCK && real >= STUCK as u64) {
                report.add(format!(
                    "{}: stored count {stored}, actual references {real}",
                    describe(r)
                ));
            }
            let (c, index) = (colour(h), (h.aux >> INDEX_SHIFT) as usize);
            if c != BLACK && c != PURPLE {
                report.add(format!("{}: left {} by a collection", describe(r), c));
            }
            if buffered(h)
                && (c != PURPLE || self.candidates.get(index.wrapping_sub(1)) != Some(&Some(r)))
            {
                report.add(format!(
                    "{}: buffered but not purple at its position {}",
                    describe(r),
                    index.wrapping_sub(1) as isize
                ));
            }
            if !buffered(h) && index != 0 {
                report.add(format!("{}: a position but not buffered", describe(r)));
            }
            if c == PURPLE && !buffered(h) {
                overflowed += 1;
            }
        }
        if overflowed != self.overflowed {
            report.add(format!(
                "{overflowed} purple objects outside the buffer, counted {}",
                self.overflowed
            ));
        }
    }

    /// Every buffered candidate is allocated and flagged buffered.
    fn verify_candidates(&self, report: &mut Report) {
        for r in self.candidates.iter().flatten() {
            if !self.slab.is_allocated(r.addr()) || !buffered(r.header()) {
                report.add(format!(
                    "candidate {:#x} is freed or not buffered",
                    r.addr()
                ));
            }
        }
    }
}
