//! A mark-sweep collection, in two phases:
//!
//! 1. `mark`: from the roots, with an explicit mark stack, set `FLAG_MARK` on
//!    every reachable heap object (`heap::mark`, shared with mark-compact).
//!    A live list's or map's internal storage is marked through its owner.
//! 2. `sweep`: walk every allocated object of the slab (`Slab::sweep`);
//!    clear the mark of a marked one, and free an unmarked one onto its
//!    page's free list. A segment left with no live object goes back to the
//!    pool, a dead large object's span with it; a page with a hole joins its
//!    class's partial list, to be filled.
//!
//! Each object is freed once: the walk visits each allocated object once,
//! and a dead list's or map's storage is an object of its own that the walk
//! finds unmarked, never freed through its owner. The sweep is one walk,
//! page by page; no list of the garbage is made (it would take a word per
//! dead object, about 2 MB a collection on `binary_trees 16`), only of the pages
//! left empty, given back once the walk is over. Between the
//! phases every live object is marked; after the sweep no object is, and
//! every object still allocated is one the mark reached — so every
//! reference held by an allocated object points at an allocated object (or
//! static data).
//!
//! The sweep is eager: its cost is in proportion to the objects allocated,
//! live or dead, and `heap_stats()` is exact as soon as it is over.

use super::MarkSweepHeap;
use crate::heap::mark::mark_from;
use crate::heap::tally::Tally;
use crate::heap::{GcEvent, GcReason, RootSet};
use crate::value::object::FLAG_MARK;

impl MarkSweepHeap {
    pub(super) fn full_collection(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> GcEvent {
        let began = Tally::begin(self.slab.footprint());
        let live = self.mark(roots);
        let freed = self.sweep();
        debug_assert_eq!(
            live,
            self.slab.live_bytes(),
            "the sweep kept what was marked"
        );
        self.trigger.reset(live);
        let after = self.slab.footprint();
        self.tally.end(began, reason, after, live, freed)
    }

    /// Phase 1. Returns the bytes of marked objects.
    pub(super) fn mark(&mut self, roots: &mut dyn RootSet) -> usize {
        let slab = &self.slab;
        let held = slab.held_bytes();
        mark_from(
            roots,
            &mut self.mark_stack,
            self.mark_stack_cap,
            held,
            None,
            |f| slab.for_each_object(f),
        )
        .bytes
    }

    /// Phase 2. Returns the number of objects freed.
    pub(super) fn sweep(&mut self) -> u64 {
        self.slab.sweep(|r| {
            let h = r.header_mut();
            let dead = h.flags & FLAG_MARK == 0;
            h.flags &= !FLAG_MARK;
            dead
        })
    }
}
