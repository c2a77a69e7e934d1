//! The `generational` backend: objects are born in a per-process nursery
//! (bump allocation in one segment from the pool); a minor collection
//! copies the nursery's survivors into an old generation, which is a
//! [`MarkCompactHeap`] (its segments, its bump allocation, its mark-compact
//! phases for the major collection: reused, not copied), made at the first
//! promotion or old birth (and the collections' books at the first
//! collection), so that a process that only ever allocates young is smaller
//! than a mark-compact one.
//!
//! Policies, each chosen for Loam's many small processes:
//! - **The nursery** is taken from the pool at a process's first
//!   allocation, so a process that has not allocated holds none. It starts at [`MIN_NURSERY_BYTES`] (one
//!   smallest segment: a process that allocates a little costs what it does
//!   under mark-compact) and doubles each time it fills, up to
//!   [`STEADY_NURSERY_BYTES`]. Past that, what survives decides (`sizing.rs`):
//!   it grows, up to [`MAX_NURSERY_BYTES`], while few of its objects
//!   survive and each doubling makes fewer of them do (objects that live a
//!   little longer than a small nursery lasts), and shrinks back when many
//!   survive. A pause copies at most the nursery, and a nursery past the
//!   steady size only after a minor collection that copied a tenth of it
//!   at most. Under `max_heap` it is kept small enough that it
//!   and a promotion of all of it fit beside the old generation; when not
//!   even the smallest does, objects are born old (the backend is then
//!   mark-compact).
//! - **Promotion** on first survival: a minor collection copies everything
//!   reachable in the nursery to the old generation and empties the
//!   nursery, so the nursery never needs two spaces and the remembered set
//!   is empty after every minor collection.
//! - **Large objects** (over [`NURSERY_LARGE_BYTES`]) are born old, as is
//!   whatever does not fit the nursery between two safepoints (a full
//!   nursery makes a minor collection due at the next one).
//! - **The write barrier** remembers objects, not cards: an old object made
//!   to point at a young one gets `FLAG_REMEMBERED` and a place in a list,
//!   and a minor collection traces each remembered object whole. Loam's
//!   objects are small but for lists' and maps' item storage, which its
//!   owner traces: a card table would have to map storage back to owners,
//!   and a remembered set costs nothing for old objects that are never
//!   written. An object born old that can hold references is remembered at
//!   birth while a nursery exists (its constructor fills it without a
//!   barrier). A store into a list's item slot remembers the slot instead
//!   (a sequential store buffer, up to [`MAX_REMEMBERED_SLOTS`] between two
//!   minor collections, then the list whole): one store into a long old
//!   list then costs a minor collection one value, not the whole list
//!   (`churn 1000000`: minor collections 201 ms -> 21 ms). When a list's
//!   items move to new storage, each is reported again, so no remembered
//!   slot is left behind in storage given up.
//! - **A major collection** comes when the old generation's budget (the
//!   mark-compact [`Trigger`](crate::heap::trigger::Trigger), charged by
//!   promotion and old births) is spent, or on `gc()`: a minor collection,
//!   then mark-compact's full collection of the old generation. When a
//!   minor collection cannot get room for its promotions (`max_heap`, the
//!   pool), the nursery segment is instead adopted by the old generation
//!   and one major collection slides its survivors in with the rest.
//!
//! Numbering for `inspect` and `:heap`: segment 0 is the nursery (listed
//! with no bytes while none is held), the old generation's segments and
//! spans follow in its own order. The collections are in `collect.rs`,
//! `--verify-heap`'s checks (the barrier's invariant among them) in
//! `verify.rs`.

mod collect;
mod sizing;
#[cfg(test)]
mod tests;
mod verify;

use sizing::NurserySizing;
pub use sizing::{MAX_NURSERY_BYTES, STEADY_NURSERY_BYTES};

use super::markcompact::MarkCompactHeap;
use super::segment::{MIN_SEGMENT_BYTES, Segment, SegmentPool};
use super::tally::{Footprint, Tally};
use super::{
    Backend, GcEvent, GcReason, GenerationStats, Heap, HeapConfig, HeapStats, Location, RootSet,
    SegmentUse,
};
use crate::value::object::{FLAG_BACKEND, FLAG_STATIC, HEADER_BYTES, init_header};
use crate::value::{Alloc, AllocError, Kind, ObjRef, Value};
use std::ptr::NonNull;
use std::sync::Arc;

/// The first nursery (bytes): the smallest segment.
pub const MIN_NURSERY_BYTES: usize = MIN_SEGMENT_BYTES;
/// Objects bigger than this (bytes) are born in the old generation.
pub const NURSERY_LARGE_BYTES: usize = 16 * 1024;
/// The old generation's budget after a major collection, in percent of
/// what survived it (mark-compact's is 200). Only survivors reach the old
/// generation, so a smaller budget keeps the heap's peak under
/// mark-compact's (`binary_trees 16`: 46 MB against 51; at 100%, 39 MB but
/// 47 major collections instead of 33).
const OLD_GROWTH_PERCENT: usize = 150;
/// The most list item slots remembered between two minor collections; a
/// store past it remembers its list whole (one entry, traced whole), so
/// that a loop storing into old lists cannot grow the set without bound.
const MAX_REMEMBERED_SLOTS: usize = 16 * 1024;
/// Header flag: an old object in the remembered set.
pub const FLAG_REMEMBERED: u8 = FLAG_BACKEND;
/// Under `--gc-stress`, every this many-th collection is a major one (the
/// others minor), so that both kinds run at every kind of safepoint.
const STRESS_MAJOR_EVERY: u64 = 4;

/// The nursery: one segment, bump-allocated from its base.
struct Nursery {
    seg: Segment,
}

pub struct GenerationalHeap {
    /// Bump window in the nursery: next free byte and end (both null while
    /// no nursery is held).
    top: *mut u8,
    limit: *mut u8,
    /// The nursery's first byte and size, for the young test (0 and 0 while
    /// none is held: nothing is young then).
    young_base: usize,
    young_size: usize,
    nursery: Option<Nursery>,
    /// The size the next nursery is taken at.
    next_nursery: usize,
    /// How the nursery's size follows what survives (`sizing.rs`).
    sizing: NurserySizing,
    /// The nursery filled up: a minor collection is due.
    minor_due: bool,
    /// An old birth spent the old generation's budget: a major collection
    /// is due (kept here so that `gc_due` reads no further than this heap).
    old_due: bool,
    /// Created at the first promotion or old birth: a process that only
    /// ever allocates in its nursery costs less than a mark-compact one.
    old: Option<Box<MarkCompactHeap>>,
    /// Old objects that may point at young ones (each has `FLAG_REMEMBERED`).
    remembered: Vec<ObjRef>,
    /// Old list item slots that may hold young objects (the list stores'
    /// barrier; at most [`MAX_REMEMBERED_SLOTS`], then the holder is
    /// remembered whole). A slot may be listed more than once.
    slots: Vec<*mut Value>,
    /// The collections' books: made at the first collection, so that an
    /// idle process (100,000 of them in `spawn_many`) holds none.
    books: Option<Box<Books>>,
    pool: Arc<SegmentPool>,
    config: HeapConfig,
    /// Bytes ever allocated, young and old births.
    allocated: u64,
    /// Objects ever allocated, young and old births.
    allocated_objects: u64,
    /// Objects born in the nursery since the last minor collection.
    young_objects: u64,
}

/// What a generational heap keeps once it has collected (boxed in
/// [`GenerationalHeap::books`]).
#[derive(Default)]
struct Books {
    /// `allocated_bytes()` at the end of the last collection (`--gc-stress`).
    allocated_at_gc: u64,
    /// Every collection, minor and major (`heap::tally`).
    tally: Tally,
    majors: u64,
    promoted: u64,
    /// The minor collection before the major one `collect` returned.
    earlier: Option<Box<GcEvent>>,
}

// SAFETY: the raw pointers point into the nursery segment this heap
// exclusively owns, and the ObjRefs to its own objects; a heap moves between
// threads only together with its process, never shared.
unsafe impl Send for GenerationalHeap {}

/// Whether objects of `kind` hold references a minor collection must see.
#[inline]
fn holds_refs(kind: Kind) -> bool {
    matches!(kind, Kind::List | Kind::Map | Kind::Closure | Kind::Cell)
}

impl GenerationalHeap {
    /// Whether `r` is in the nursery.
    #[inline(always)]
    fn is_young(&self, r: ObjRef) -> bool {
        self.is_young_addr(r.addr())
    }

    /// Whether `a` lies in the nursery.
    #[inline(always)]
    fn is_young_addr(&self, a: usize) -> bool {
        a.wrapping_sub(self.young_base) < self.young_size
    }

    #[inline(always)]
    fn bump(&mut self, kind: Kind, size: usize) -> Option<ObjRef> {
        if size <= NURSERY_LARGE_BYTES && self.limit.addr() - self.top.addr() >= size {
            let p = self.top;
            // SAFETY: top + size <= limit, inside the nursery.
            self.top = unsafe { p.add(size) };
            self.allocated += size as u64;
            self.allocated_objects += 1;
            self.young_objects += 1;
            // SAFETY: p is non-null (an empty window has limit == top == null,
            // so no size > 0 passes), 8-aligned (sizes are multiples of 8) and
            // has size bytes.
            Some(unsafe { init_header(NonNull::new_unchecked(p), kind, size, 0, 0) })
        } else {
            None
        }
    }

    #[cold]
    fn alloc_slow(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        if size <= NURSERY_LARGE_BYTES {
            if self.nursery.is_none() {
                if self.take_nursery()
                    && let Some(r) = self.bump(kind, size)
                {
                    return Ok(r);
                }
            } else {
                self.minor_due = true;
            }
        }
        let old = self.old_mut();
        let r = old.alloc(kind, size)?;
        self.old_due = old.gc_due();
        self.allocated += size as u64;
        self.allocated_objects += 1;
        if self.nursery.is_some() && holds_refs(kind) {
            self.remember_old(r);
        }
        Ok(r)
    }

    /// Takes a nursery from the pool: `next_nursery` bytes, or less under
    /// `max_heap` (room for it and a promotion of all of it beside the old
    /// generation). False when none can be had.
    fn take_nursery(&mut self) -> bool {
        let mut size = self.next_nursery;
        if let Some(m) = self.config.max_heap {
            let held = self.old_held();
            let fits = |n: usize| held + n + promotion_room(n) <= m;
            while size > MIN_NURSERY_BYTES && !fits(size) {
                size /= 2;
            }
            if !fits(size) {
                return false;
            }
        }
        let Ok(seg) = self.pool.acquire(size) else {
            return false;
        };
        let base = seg.base().as_ptr();
        self.top = base;
        // SAFETY: one past the segment's end.
        self.limit = unsafe { base.add(size) };
        self.young_base = base.addr();
        self.young_size = size;
        self.nursery = Some(Nursery { seg });
        if let Some(old) = &mut self.old {
            old.set_outside(size);
        }
        true
    }

    /// Gives the nursery back to the pool (after a minor collection emptied it).
    fn drop_nursery(&mut self) {
        if let Some(n) = self.nursery.take() {
            self.pool.release(n.seg);
        }
        self.top = std::ptr::null_mut();
        self.limit = std::ptr::null_mut();
        self.young_base = 0;
        self.young_size = 0;
        if let Some(old) = &mut self.old {
            old.set_outside(0);
        }
    }

    /// Bytes of objects in the nursery.
    fn nursery_used(&self) -> usize {
        self.top.addr() - self.young_base
    }

    /// The old generation, created if this is its first use.
    fn old_mut(&mut self) -> &mut MarkCompactHeap {
        let (pool, config, outside) = (&self.pool, self.config, self.young_size);
        self.old.get_or_insert_with(|| {
            // Its budget decides majors; stress is this heap's own.
            let mut old = MarkCompactHeap::new(
                pool.clone(),
                HeapConfig {
                    stress: false,
                    ..config
                },
            );
            old.set_growth_percent(OLD_GROWTH_PERCENT);
            old.set_outside(outside);
            Box::new(old)
        })
    }

    /// The books, made if this is their first use.
    fn books_mut(&mut self) -> &mut Books {
        self.books.get_or_insert_with(Box::default)
    }

    /// The collections so far (none while there are no books).
    fn tally(&self) -> Tally {
        self.books.as_ref().map_or_else(Tally::default, |b| b.tally)
    }

    /// Bytes the old generation holds.
    fn old_held(&self) -> usize {
        self.old.as_ref().map_or(0, |o| o.held())
    }

    /// Puts the old object `r` in the remembered set (once).
    #[inline]
    fn remember_old(&mut self, r: ObjRef) {
        let h = r.header_mut();
        if h.flags & (FLAG_REMEMBERED | FLAG_STATIC) == 0 {
            h.flags |= FLAG_REMEMBERED;
            self.remembered.push(r);
        }
    }

    /// Puts the old list item `slot` in the remembered slots, or, when they
    /// are full or `holder` is remembered already, `holder` whole.
    #[inline]
    fn remember_slot_old(&mut self, holder: ObjRef, slot: *mut Value) {
        let flags = holder.header().flags;
        if flags & (FLAG_REMEMBERED | FLAG_STATIC) != 0 {
            return;
        }
        if self.slots.len() < MAX_REMEMBERED_SLOTS {
            self.slots.push(slot);
        } else {
            self.remember_old(holder);
        }
    }

    /// What the heap holds now.
    fn footprint(&self) -> Footprint {
        let (bytes, segments) = match &self.nursery {
            Some(n) => (n.seg.size(), 1),
            None => (0, 0),
        };
        Footprint {
            bytes: self.old_held() + bytes,
            segments: self.old.as_ref().map_or(0, |o| o.segments()) + segments,
        }
    }

    /// Minor collections so far (every collection not a major one).
    fn minors(&self) -> u64 {
        self.books
            .as_ref()
            .map_or(0, |b| b.tally.collections - b.majors)
    }

    /// The generation counters of `heap_stats()`.
    fn generation_stats(&self) -> GenerationStats {
        GenerationStats {
            minor_collections: self.minors(),
            major_collections: self.books.as_ref().map_or(0, |b| b.majors),
            nursery_bytes: self.young_size,
            promoted_bytes: self.books.as_ref().map_or(0, |b| b.promoted),
        }
    }
}

/// Bytes a promotion of a nursery of `n` bytes may need in the old
/// generation: all of it, and what objects that do not fit may leave at the
/// ends of the segments it fills.
fn promotion_room(n: usize) -> usize {
    n + n / 2 + NURSERY_LARGE_BYTES.min(n)
}

impl Alloc for GenerationalHeap {
    #[inline(always)]
    fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        debug_assert!(size >= HEADER_BYTES && size.is_multiple_of(8));
        match self.bump(kind, size) {
            Some(r) => Ok(r),
            None => self.alloc_slow(kind, size),
        }
    }

    const NEEDS_BARRIER: bool = true;

    /// Remembers `holder` when it is old and `stored` young.
    #[inline(always)]
    fn remember(&mut self, holder: ObjRef, stored: ObjRef) {
        if self.is_young(stored) && !self.is_young(holder) {
            self.remember_old(holder);
        }
    }

    /// A young holder is traced whole by every minor collection: nothing
    /// to remember. An old one is remembered whole once any item is young
    /// (what remembering each item would come to, without a look at the
    /// rest; `push` growing a young list no longer walks its items).
    #[inline]
    fn barrier_items(&mut self, holder: ObjRef, items: &[Value]) {
        if !self.is_young(holder)
            && items
                .iter()
                .any(|v| matches!(v, Value::Obj(_, r) if self.is_young(*r)))
        {
            self.remember_old(holder);
        }
    }

    /// Remembers the slot rather than its list: a minor collection then
    /// reads that one value instead of tracing every item of a long old
    /// list that one store made point at the nursery (`churn`: a 100,000
    /// item list written a few hundred times between minor collections).
    /// A slot in the nursery needs nothing: its storage is young, found
    /// through the list, which was remembered when it took that storage.
    #[inline(always)]
    fn remember_slot(&mut self, holder: ObjRef, slot: *mut Value, stored: ObjRef) {
        if self.is_young(stored) && !self.is_young(holder) && !self.is_young_addr(slot.addr()) {
            self.remember_slot_old(holder, slot);
        }
    }
}

impl Heap for GenerationalHeap {
    const BACKEND: Backend = Backend::Generational;
    const TRACES: bool = true;
    const GENERATIONAL: bool = true;

    fn new(pool: Arc<SegmentPool>, config: HeapConfig) -> Self {
        GenerationalHeap {
            top: std::ptr::null_mut(),
            limit: std::ptr::null_mut(),
            young_base: 0,
            young_size: 0,
            nursery: None,
            next_nursery: MIN_NURSERY_BYTES,
            sizing: NurserySizing::default(),
            minor_due: false,
            old_due: false,
            old: None,
            remembered: Vec::new(),
            slots: Vec::new(),
            books: None,
            pool,
            config,
            allocated: 0,
            allocated_objects: 0,
            young_objects: 0,
        }
    }

    #[inline]
    fn gc_due(&self) -> bool {
        if self.config.stress {
            self.allocated_bytes() != self.books.as_ref().map_or(0, |b| b.allocated_at_gc)
        } else {
            self.minor_due || self.old_due
        }
    }

    fn collect(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> Option<GcEvent> {
        self.collection(roots, reason)
    }

    fn earlier_event(&mut self) -> Option<GcEvent> {
        self.books.as_mut()?.earlier.take().map(|e| *e)
    }

    #[inline]
    fn allocated_bytes(&self) -> u64 {
        self.allocated
    }

    #[inline]
    fn allocated_objects(&self) -> u64 {
        self.allocated_objects
    }

    fn stats(&self) -> HeapStats {
        let mut s = self
            .tally()
            .bump_stats(self.allocated_bytes(), self.footprint());
        s.generations = Some(self.generation_stats());
        s
    }

    fn generation(&self, r: ObjRef) -> Option<&'static str> {
        if self.is_young(r) {
            Some("young")
        } else if self.old.as_ref().is_some_and(|o| o.holds(r.addr())) {
            Some("old")
        } else {
            None
        }
    }

    /// The nursery first (no bytes while none is held), then the old
    /// generation's segments and spans.
    fn segment_map(&self) -> Vec<SegmentUse> {
        let nursery = SegmentUse {
            bytes: self.young_size,
            used: self.nursery_used(),
            large: false,
            nursery: true,
        };
        let mut map = vec![nursery];
        if let Some(old) = &self.old {
            map.extend(old.segment_map());
        }
        map
    }

    fn locate(&self, r: ObjRef) -> Option<Location> {
        if self.is_young(r) {
            return Some(Location {
                segment: 0,
                offset: r.addr() - self.young_base,
            });
        }
        self.old.as_ref()?.locate(r).map(|l| Location {
            segment: l.segment + 1,
            ..l
        })
    }

    /// The nursery and the old generation packed with sane headers, the
    /// graph reachable from the roots sound, and the barrier's invariant:
    /// every reachable old object that refers to a young one is remembered.
    fn verify(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        self.verify_heap(roots)
    }
}

impl Drop for GenerationalHeap {
    fn drop(&mut self) {
        self.drop_nursery();
    }
}
