//! A semispace collection (Cheney 1970), in six phases:
//!
//! 1. `reserve`: acquire to-space for a copy of every small object
//!    ([`to_space_plan`](super::to_space_plan)) before anything moves. When
//!    the pool (or, past a fragmented copy, `max_heap`) refuses, the
//!    collection is skipped and the heap is left exactly as it was.
//! 2. `copy_roots`: copy each root's target to to-space (a large object is
//!    marked and queued instead) and point the root at the copy.
//! 3. `scan`: Cheney's scan cursor walks to-space from its start, copying
//!    what each copied object refers to and rewriting its slots, until it
//!    meets the copy cursor; marked large objects are scanned from a queue
//!    in between. Copies come out breadth first, nothing recurses, and
//!    nothing allocates (the queue's room was kept by `alloc`).
//! 4. `sweep_large`: dead spans go back to the pool; live ones lose the mark.
//! 5. `release_from_space`: every segment copied from goes back to the pool.
//! 6. `install`: the to-space segments the copy used become the heap's
//!    segments (the last one the bump window); unused ones go back.
//!
//! Invariants while copying: a from-space object has `FLAG_MARK` iff it was
//! copied, and then its header word holds its copy's address
//! (`heap::forward`); a to-space header is never marked (the copy is taken
//! before the mark is set); a large object is marked iff it was reached, and
//! then it is queued or already scanned. Objects behind the scan cursor refer
//! only to to-space, large objects and static data; those ahead of it may
//! still refer to from-space.

use super::{LARGE_OBJECT_BYTES, Seg, SemispaceHeap, copy_room, to_space_plan};
use crate::heap::forward::{forwardee, move_object, next_packed, set_forwarding};
use crate::heap::tally::Tally;
use crate::heap::{GcEvent, GcReason, RootSet};
use crate::value::ObjRef;
use crate::value::object::{FLAG_MARK, FLAG_STATIC, trace};
use std::ptr::NonNull;

/// To-space during a copy: the reserved segments and the copy cursor.
pub(super) struct ToSpace {
    pub(super) segs: Vec<Seg>,
    /// Segments opened so far; the copy cursor is in the last of them.
    pub(super) opened: usize,
    top: *mut u8,
    limit: *mut u8,
}

impl ToSpace {
    /// Room for `size` bytes at the copy cursor.
    #[inline(always)]
    fn bump(&mut self, size: usize) -> NonNull<u8> {
        if self.limit.addr() - self.top.addr() < size {
            self.open_next();
        }
        let p = self.top;
        // SAFETY: size bytes fit between top and limit (a fresh segment holds
        // any object that moves the cursor there: see `to_space_plan`).
        self.top = unsafe { p.add(size) };
        // SAFETY: top is inside a segment, so non-null.
        unsafe { NonNull::new_unchecked(p) }
    }

    /// Moves the copy cursor to the next reserved segment.
    #[cold]
    fn open_next(&mut self) {
        self.seal();
        // The plan has a segment for every move (`to_space_plan`'s bound):
        // running out would be a bug in it, stopped here by the index check
        // rather than written past.
        let s = &self.segs[self.opened];
        self.top = s.base();
        // SAFETY: one past the segment's end.
        self.limit = unsafe { s.base().add(s.size()) };
        self.opened += 1;
    }

    /// Records how far the segment the copy cursor is in was filled.
    fn seal(&mut self) {
        if let Some(s) = self.opened.checked_sub(1).map(|i| &mut self.segs[i]) {
            s.used = self.top.addr() - s.base().addr();
        }
    }

    /// The next copied object the scan cursor (segment, offset) has not
    /// scanned, moving the cursor past it; None when it met the copy cursor.
    #[inline(always)]
    fn next_unscanned(&self, at: &mut (usize, usize)) -> Option<ObjRef> {
        let seg = |i: usize| (self.segs[i].base(), self.segs[i].used);
        next_packed(at, self.opened, seg, self.top)
    }
}

/// The state of one collection's copy (phases 2 and 3).
pub(super) struct Copier {
    pub(super) to: ToSpace,
    /// Marked large objects not yet scanned (the heap's `large_queue`, lent).
    queue: Vec<ObjRef>,
    pub(super) copied_objects: u64,
    pub(super) copied_bytes: usize,
    pub(super) large_live: usize,
}

impl Copier {
    /// Copies `slot`'s target unless it was copied already, marks it if it
    /// is large, leaves static data alone; points `slot` at the copy.
    #[inline(always)]
    fn evacuate(&mut self, slot: &mut ObjRef) {
        let r = *slot;
        let (flags, size) = {
            let h = r.header();
            (h.flags, h.size as usize)
        };
        if flags & FLAG_STATIC != 0 {
            return;
        }
        if size > LARGE_OBJECT_BYTES {
            self.mark_large(r, flags, size);
            return;
        }
        if flags & FLAG_MARK != 0 {
            *slot = forwardee(r);
            return;
        }
        let dest = self.to.bump(size);
        // SAFETY: r is a from-space object of `size` bytes (the heap's
        // invariant); dest is `size` unused bytes of to-space, another segment.
        unsafe { move_object(r.as_ptr(), dest.as_ptr(), size) };
        set_forwarding(r, dest);
        self.copied_objects += 1;
        self.copied_bytes += size;
        // SAFETY: dest now holds a whole copy of r.
        *slot = unsafe { ObjRef::from_ptr(dest) };
    }

    #[cold]
    fn mark_large(&mut self, r: ObjRef, flags: u8, size: usize) {
        if flags & FLAG_MARK == 0 {
            r.header_mut().flags = flags | FLAG_MARK;
            self.large_live += size;
            debug_assert!(self.queue.len() < self.queue.capacity());
            self.queue.push(r);
        }
    }

    /// Phase 2.
    pub(super) fn copy_roots(&mut self, roots: &mut dyn RootSet) {
        roots.visit(&mut |r| self.evacuate(r));
    }

    /// Phase 3.
    pub(super) fn scan(&mut self) {
        let mut at = (0, 0);
        loop {
            while let Some(obj) = self.to.next_unscanned(&mut at) {
                trace(obj, &mut |slot| self.evacuate(slot));
            }
            match self.queue.pop() {
                Some(big) => trace(big, &mut |slot| self.evacuate(slot)),
                None => return,
            }
        }
    }
}

impl SemispaceHeap {
    /// One collection; None when it was skipped (phase 1 got no to-space).
    pub(super) fn full_collection(
        &mut self,
        roots: &mut dyn RootSet,
        reason: GcReason,
    ) -> Option<GcEvent> {
        self.seal();
        let began = Tally::begin(self.footprint());
        let Some(mut cp) = self.reserve() else {
            // Nothing moved. Try again after another budget's worth (at once
            // under stress); meanwhile allocation fails where the pool does.
            self.trigger.postpone();
            return None;
        };
        cp.copy_roots(roots);
        cp.scan();
        let dead_large = self.sweep_large();
        self.release_from_space();
        let from_objects = self.small_objects;
        let (copied, live) = self.install(cp);
        let freed = from_objects - copied + dead_large;
        self.trigger.reset(live);
        let after = self.footprint();
        Some(self.tally.end(began, reason, after, live, freed))
    }

    /// Phase 1: to-space for the worst case, a copy of every object in the
    /// segments, and room in every vector the collection pushes to. None
    /// (and nothing changed) when any of it cannot be had. Call sealed.
    pub(super) fn reserve(&mut self) -> Option<Copier> {
        let used: usize = self.segs.iter().map(|s| s.used).sum();
        let bytes = copy_room(used);
        // `alloc` keeps this room free under max_heap; a copy that came out
        // more fragmented than the one before can leave less.
        if self.config.max_heap.is_some_and(|m| self.held + bytes > m) {
            return None;
        }
        debug_assert!(
            self.large_queue.is_empty() && self.large_queue.capacity() >= self.large.len()
        );
        let mut segs = std::mem::take(&mut self.spare);
        let room = segs.try_reserve(to_space_plan(used).count()).and_then(|_| {
            self.released
                .try_reserve(self.segs.len() + self.large.len())
        });
        if room.is_err() {
            self.spare = segs;
            return None;
        }
        let sizes = to_space_plan(used);
        for size in sizes {
            match self.pool.acquire(size) {
                Ok(seg) => segs.push(self.number(seg, 0)),
                Err(_) => {
                    for s in segs.drain(..) {
                        self.pool.release(s.seg);
                    }
                    self.spare = segs;
                    return None;
                }
            }
        }
        self.held += bytes;
        self.released.clear();
        Some(Copier {
            to: ToSpace {
                segs,
                opened: 0,
                top: std::ptr::null_mut(),
                limit: std::ptr::null_mut(),
            },
            queue: std::mem::take(&mut self.large_queue),
            copied_objects: 0,
            copied_bytes: 0,
            large_live: 0,
        })
    }

    /// Phase 4. Returns the number of dead large objects.
    pub(super) fn sweep_large(&mut self) -> u64 {
        let mut kept = 0;
        for i in 0..self.large.len() {
            // SAFETY: a held span holds one object at its base.
            let h = unsafe { ObjRef::from_ptr(self.large[i].seg.base()) }.header_mut();
            if h.flags & FLAG_MARK != 0 {
                h.flags &= !FLAG_MARK;
                // Moves a live span over a dead one (or onto itself): live
                // spans keep their order.
                self.large.swap(kept, i);
                kept += 1;
            }
        }
        let dead = self.large.len() - kept;
        for span in self.large.drain(kept..) {
            self.held -= span.size();
            self.released.push(range_of(span.base(), span.size()));
            self.pool.release(span.seg);
        }
        dead as u64
    }

    /// Phase 5.
    pub(super) fn release_from_space(&mut self) {
        for s in self.segs.drain(..) {
            self.held -= s.size();
            self.small_held -= s.size();
            self.released.push(range_of(s.base(), s.size()));
            self.pool.release(s.seg);
        }
    }

    /// Phase 6 (after phase 5 emptied `segs`). Returns the objects copied
    /// and the bytes found live (copied, and large).
    pub(super) fn install(&mut self, cp: Copier) -> (u64, usize) {
        let Copier {
            mut to,
            queue,
            copied_objects,
            copied_bytes,
            large_live,
        } = cp;
        self.large_queue = queue;
        to.seal();
        for s in to.segs.drain(to.opened..) {
            self.held -= s.size();
            self.pool.release(s.seg);
        }
        self.small_held = to.segs.iter().map(Seg::size).sum();
        debug_assert!(self.segs.is_empty());
        std::mem::swap(&mut self.segs, &mut to.segs);
        self.spare = to.segs;
        self.small_objects = copied_objects;
        self.open();
        (copied_objects, copied_bytes + large_live)
    }
}

/// The addresses a block of memory spans.
fn range_of(base: *mut u8, size: usize) -> std::ops::Range<usize> {
    base.addr()..base.addr() + size
}
