//! The generational backend's collections.
//!
//! **Minor** (Cheney 1970, with the old generation as to-space):
//! 1. `reserve`: the old generation takes room ahead for a promotion of the
//!    whole nursery; when it cannot, the minor collection gives way to an
//!    adopting major (below) and nothing has moved.
//! 2. Roots, then every remembered object, have their young targets copied
//!    into the old generation (`Promoter::evacuate`: a copied nursery
//!    object's header forwards to its copy, `heap::forward`); a remembered
//!    object leaves the set.
//! 3. Scan: a cursor that starts where the old generation's bump pointer
//!    was before the first copy walks every promoted object, copying what it
//!    refers to, until it meets the bump pointer. Copies come out breadth
//!    first; nothing recurses and nothing allocates.
//! 4. The nursery is empty again: kept (its memory warm in the cache), or,
//!    when it had filled up and its size is to change (`sizing.rs`: what
//!    survived decides past the steady size), given back to the pool
//!    for the next allocation to take one of the new size; the spare room
//!    the promotion did not use goes back too.
//!
//! Invariants: outside a collection, every old object that refers to a
//! young one is remembered (the barrier, `Alloc::remember`, and remembering
//! objects born old); during the scan, objects behind the cursor refer only
//! to the old generation and static data.
//!
//! **Major**: a minor collection, then mark-compact's full collection of the
//! old generation (its phases, in `heap::markcompact`). **Adopting major**:
//! the nursery segment becomes the old generation's last segment and one
//! mark-compact collection slides its survivors in with the rest: no room is
//! needed, so this is what a minor collection that could not reserve
//! becomes.

use super::{FLAG_REMEMBERED, GenerationalHeap, NURSERY_LARGE_BYTES, STRESS_MAJOR_EVERY};
use crate::heap::forward::{forwardee, is_forwarded, move_object, set_forwarding};
use crate::heap::markcompact::MarkCompactHeap;
use crate::heap::tally::Tally;
use crate::heap::{GcEvent, GcKind, GcReason, Heap, RootSet};
use crate::value::object::trace;
use crate::value::{ObjRef, Value};

/// A minor collection's copy: where young objects go, and what went.
struct Promoter<'a> {
    old: &'a mut MarkCompactHeap,
    /// The nursery's first byte and size.
    base: usize,
    size: usize,
    bytes: usize,
    objects: u64,
}

impl Promoter<'_> {
    /// Copies `slot`'s target to the old generation if it is young and was
    /// not copied yet, and points `slot` at the copy. Old and static targets
    /// stay.
    #[inline(always)]
    fn evacuate(&mut self, slot: &mut ObjRef) {
        let r = *slot;
        if r.addr().wrapping_sub(self.base) >= self.size {
            return;
        }
        if is_forwarded(r) {
            *slot = forwardee(r);
            return;
        }
        let size = r.size();
        let dest = self.old.promote_bump(size);
        // SAFETY: r is a nursery object of `size` bytes (the heap's
        // invariant); dest is `size` unused bytes of an old segment, another
        // allocation than the nursery.
        unsafe { move_object(r.as_ptr(), dest.as_ptr(), size) };
        set_forwarding(r, dest);
        self.bytes += size;
        self.objects += 1;
        // SAFETY: dest now holds a whole copy of r.
        *slot = unsafe { ObjRef::from_ptr(dest) };
    }
}

impl GenerationalHeap {
    /// What `collect` does: a minor collection, then
    /// a major one when `gc()` (or a failed allocation) asked, when the old
    /// generation's budget is spent, or every few stressed collections.
    pub(super) fn collection(
        &mut self,
        roots: &mut dyn RootSet,
        reason: GcReason,
    ) -> Option<GcEvent> {
        self.books_mut().earlier = None;
        // Always a minor collection first (with no nursery held it only
        // counts): the major one then finds the nursery empty.
        let Some(minor) = self.minor(roots, reason) else {
            let e = self.adopting_major(roots, reason);
            self.old_due = false;
            self.books_mut().allocated_at_gc = self.allocated;
            return Some(e);
        };
        let mut ev = Some(minor);
        let major = match reason {
            GcReason::Explicit | GcReason::Limit => true,
            GcReason::Stress => self.minors().is_multiple_of(STRESS_MAJOR_EVERY),
            GcReason::Budget => false,
        };
        if major || self.old.as_ref().is_some_and(|o| o.gc_due()) {
            self.books_mut().earlier = ev.map(Box::new);
            ev = Some(self.major(roots, reason));
        }
        self.old_due = false;
        self.books_mut().allocated_at_gc = self.allocated;
        ev
    }

    /// A minor collection; None (and nothing changed) when the old
    /// generation could not reserve room for the promotion.
    pub(super) fn minor(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> Option<GcEvent> {
        let began = Tally::begin(self.footprint());
        let used = self.nursery_used();
        let (bytes, objects) = if used == 0 {
            // Nothing young: nothing to copy (an object born old may still
            // have been remembered while the nursery was empty).
            for r in self.remembered.drain(..) {
                r.header_mut().flags &= !FLAG_REMEMBERED;
            }
            self.slots.clear();
            (0, 0)
        } else {
            let largest = NURSERY_LARGE_BYTES.min(self.young_size);
            let (base, size) = (self.young_base, self.young_size);
            self.old_mut();
            let Some(old) = self.old.as_deref_mut() else {
                return None; // never: just made
            };
            if !old.reserve(used, largest) {
                old.release_spare();
                return None;
            }
            let mut at = old.cursor();
            let mut p = Promoter {
                old,
                base,
                size,
                bytes: 0,
                objects: 0,
            };
            roots.visit(&mut |r| p.evacuate(r));
            for &r in &self.remembered {
                r.header_mut().flags &= !FLAG_REMEMBERED;
                trace(r, &mut |s| p.evacuate(s));
            }
            for &slot in &self.slots {
                // SAFETY: a remembered slot is an item slot of an old list or
                // its storage, written since the last minor collection; old
                // objects neither move nor go back to the pool but in a major
                // collection, and every major one follows a minor one that
                // emptied this set. Its value may have changed since: it is
                // read as it is now.
                if let Value::Obj(_, r) = unsafe { &mut *slot } {
                    p.evacuate(r);
                }
            }
            while let Some(obj) = p.old.next_promoted(&mut at) {
                trace(obj, &mut |s| p.evacuate(s));
            }
            p.old.release_spare();
            self.remembered.clear();
            self.slots.clear();
            (p.bytes, p.objects)
        };
        if std::mem::take(&mut self.minor_due) {
            self.next_nursery = self.sizing.next(self.young_size, used, bytes);
        }
        let freed = self.young_objects - objects;
        self.young_objects = 0;
        if self.next_nursery == self.young_size {
            // Empty again, and still warm in the cache.
            self.top = self.limit.with_addr(self.young_base);
        } else {
            self.drop_nursery();
        }
        let live = self.old.as_ref().map_or(0, |o| o.occupied());
        let after = self.footprint();
        let books = self.books_mut();
        books.promoted += bytes as u64;
        let mut e = books.tally.end(began, reason, after, live, freed);
        e.kind = GcKind::Minor;
        Some(e)
    }

    /// Mark-compact's full collection of the old generation (the nursery is
    /// empty: a minor collection ran just before, or none is held).
    fn major(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> GcEvent {
        debug_assert!(
            self.nursery_used() == 0 && self.remembered.is_empty() && self.slots.is_empty()
        );
        let began = Tally::begin(self.footprint());
        let (live, freed) = match self.old.as_deref_mut() {
            Some(old) => {
                let e = old.major(roots, reason);
                (e.live_bytes, e.freed_objects)
            }
            None => (0, 0), // nothing old yet
        };
        self.count_major(began, reason, live, freed)
    }

    /// The nursery adopted by the old generation, then one mark-compact
    /// collection of everything.
    fn adopting_major(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> GcEvent {
        let began = Tally::begin(self.footprint());
        for r in self.remembered.drain(..) {
            r.header_mut().flags &= !FLAG_REMEMBERED;
        }
        self.slots.clear();
        let used = self.nursery_used();
        if let Some(n) = self.nursery.take() {
            self.old_mut().adopt(n.seg, used);
        }
        self.drop_nursery();
        self.minor_due = false;
        self.young_objects = 0;
        let e = self.old_mut().major(roots, reason);
        self.count_major(began, reason, e.live_bytes, e.freed_objects)
    }

    fn count_major(
        &mut self,
        began: crate::heap::tally::Began,
        reason: GcReason,
        live: usize,
        freed: u64,
    ) -> GcEvent {
        let after = self.footprint();
        let books = self.books_mut();
        books.majors += 1;
        let mut ev = books.tally.end(began, reason, after, live, freed);
        ev.kind = GcKind::Major;
        ev
    }
}
