//! The `mark-sweep` backend: tracing without moving. Objects are allocated
//! from the slab's size-class free lists (`heap::slab`, the allocator of
//! `manual` and `rc`); when the allocation budget is spent (`heap::trigger`,
//! the same policy as mark-compact's), a collection marks everything
//! reachable from the roots and sweeps every unmarked object back onto its
//! segment's free list (`collect.rs`). A segment left with no live object
//! goes back to the pool, and an object bigger than the largest size class
//! has a span of its own, returned when it dies — both the slab's doing.
//!
//! Objects never move, so `inspect` shows the same offset before and after
//! a collection, and the holes garbage leaves stay where they were: `:heap`
//! shows segments partly full (fragmentation) until allocation fills them
//! again. A segment's number is the slab's: its position among the heap's
//! segments, which a segment keeps unless one given back before it leaves
//! its place to the last.
//!
//! Header use: `FLAG_MARK` during a collection only (clear outside one);
//! the header word is unused (zero). Internal storage a list or map replaced
//! is freed at once (`retire`); the storage of a dead list or map is swept
//! with it, being unmarked too. `--verify-heap`'s checks are in `verify.rs`.

mod collect;
#[cfg(test)]
mod tests;
mod verify;

use super::slab::Slab;
use super::tally::Tally;
use super::trigger::Trigger;
use super::{
    Backend, GcEvent, GcReason, Heap, HeapConfig, HeapStats, Location, RootSet, SegmentPool,
    SegmentUse,
};
use crate::value::object::init_header;
use crate::value::{Alloc, AllocError, Kind, ObjRef};
use std::sync::Arc;

pub struct MarkSweepHeap {
    slab: Slab,
    /// When the next collection is due.
    trigger: Trigger,
    /// The books of its collections (`heap::tally`); the slab counts frees.
    tally: Tally,
    mark_stack: Vec<ObjRef>,
    /// Most entries the mark stack may hold (`usize::MAX`; tests lower it).
    mark_stack_cap: usize,
}

impl Alloc for MarkSweepHeap {
    #[inline(always)]
    fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        let p = self.slab.alloc(size)?;
        self.trigger.charge(size);
        // SAFETY: the slab handed out `size` bytes, 8-aligned.
        Ok(unsafe { init_header(p, kind, size, 0, 0) })
    }

    /// Replaced internal storage: nothing refers to it, so its slot is free now.
    fn retire(&mut self, r: ObjRef) {
        self.slab.retire(r);
    }
}

impl Heap for MarkSweepHeap {
    const BACKEND: Backend = Backend::MarkSweep;
    const TRACES: bool = true;

    fn new(pool: Arc<SegmentPool>, config: HeapConfig) -> Self {
        MarkSweepHeap {
            slab: Slab::new(pool, config.max_heap),
            trigger: Trigger::new(config.stress),
            tally: Tally::default(),
            mark_stack: Vec::new(),
            mark_stack_cap: usize::MAX,
        }
    }

    #[inline]
    fn gc_due(&self) -> bool {
        self.trigger.due()
    }

    fn collect(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> Option<GcEvent> {
        Some(self.full_collection(roots, reason))
    }

    #[inline]
    fn allocated_bytes(&self) -> u64 {
        self.slab.allocated_bytes()
    }

    #[inline]
    fn allocated_objects(&self) -> u64 {
        self.slab.allocated_objects()
    }

    /// The slab's books, with `live_bytes` as of the last collection (before
    /// the first, everything allocated) and the collector's own counts.
    fn stats(&self) -> HeapStats {
        self.tally.traced(self.slab.stats())
    }

    fn locate(&self, r: ObjRef) -> Option<Location> {
        self.slab.locate(r)
    }

    fn segment_map(&self) -> Vec<SegmentUse> {
        self.slab.segment_map()
    }

    /// The slab's invariants and the object graph, every reference to a
    /// live object or static data, and no mark left behind (`verify.rs`).
    fn verify(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        self.verify_heap(roots)
    }
}
