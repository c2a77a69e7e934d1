//! `--verify-heap` for mark-sweep: the slab's own invariants and the object
//! graph (shared with manual and rc, `Slab::verify_graph`), with every
//! reference required to reach a live allocated object of this heap or
//! static data — after a sweep nothing unreachable is left allocated, and
//! between collections nothing is freed that anything refers to. Then what
//! is mark-sweep's own: outside a collection no object is marked (the sweep
//! clears every mark it keeps), the header word is unused, and the mark
//! stack is empty.

use super::MarkSweepHeap;
use crate::heap::RootSet;
use crate::heap::verify::{Refs, Report, describe};
use crate::value::object::FLAG_MARK;

impl MarkSweepHeap {
    pub(super) fn verify_heap(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        let objects = self.slab.verify_graph(roots, Refs::Strict, &mut |_| {})?;
        let mut report = Report::default();
        for r in objects {
            let h = r.header();
            if h.flags & FLAG_MARK != 0 {
                report.add(format!("{}: still marked after a collection", describe(r)));
            }
            if h.word != 0 {
                report.add(format!(
                    "{}: header word {:#x} set (mark-sweep uses none)",
                    describe(r),
                    h.word
                ));
            }
        }
        if !self.mark_stack.is_empty() {
            report.add(format!(
                "the mark stack holds {} entries outside a collection",
                self.mark_stack.len()
            ));
        }
        report.finish()
    }
}
