//! Reclaiming memory under `rc`: the release cascade and the cycle collector.
//!
//! `release_zero` frees an object whose count reached zero and releases
//! what it referred to, with an explicit stack (a million-deep chain dropped
//! at once must not overflow the Rust stack). Internal storage is freed with
//! its owner; referents whose counts stay above zero become candidates.
//!
//! `collect_cycles` is Bacon & Rajan's synchronous cycle collection
//! (section 3), each step iterative:
//! 1. `mark_roots`: gather the candidates that overflowed the buffer (a walk
//!    over the slab, only after an overflow); trial-delete from each purple
//!    candidate (`mark_gray`: colour its subgraph gray, subtracting the
//!    references inside it); drop candidates that are no longer purple;
//! 2. `scan_roots`: a gray object whose count is still above zero is
//!    referenced from outside: it and everything it reaches turn black again
//!    with their counts restored (`scan_black`); the rest turn white;
//! 3. `collect_roots`: free the white objects (`collect_white`).
//!
//! Invariant between steps 1 and 3: gray and white objects have counts
//! lowered by the references from other gray objects; black ones have
//! their true counts.

use super::{
    BLACK, GRAY, INDEX_SHIFT, PURPLE, RcHeap, STUCK, WHITE, buffered, colour, count, counted,
    set_colour,
};
use crate::heap::tally::Tally;
use crate::heap::{GcEvent, GcReason};
use crate::value::object::{FLAG_BACKEND, FLAG_STATIC, trace};
use crate::value::{Kind, ObjRef};

impl RcHeap {
    /// `r`'s count just reached zero: free it and release what it refers to.
    #[inline(never)]
    pub(super) fn release_zero(&mut self, r: ObjRef) {
        let mut stack = std::mem::take(&mut self.stack);
        stack.push(r);
        while let Some(obj) = stack.pop() {
            self.release_children(obj, &mut stack);
            self.dispose(obj);
        }
        self.stack = stack;
    }

    /// Decrements everything `obj` refers to (queueing on `zero` those that
    /// reach zero) and frees its internal storage.
    fn release_children(&mut self, obj: ObjRef, zero: &mut Vec<ObjRef>) {
        let mut storage = std::mem::take(&mut self.storage);
        trace(obj, &mut |c| {
            let h = c.header_mut();
            if matches!(h.kind, Kind::Array | Kind::Bytes) {
                storage.push(*c);
                return;
            }
            if h.flags & crate::value::object::FLAG_STATIC != 0 {
                return;
            }
            let n = count(h);
            if n > 1 {
                if n != STUCK {
                    h.word -= 1;
                }
                if colour(h) != PURPLE && !super::acyclic(h) {
                    self.possible_root(*c);
                }
            } else if n == 1 {
                h.word -= 1;
                zero.push(*c);
            }
        });
        for s in storage.drain(..) {
            // SAFETY: internal storage is allocated here and owned by obj alone.
            unsafe { self.slab.free(s) };
        }
        self.storage = storage;
    }

    /// Frees `obj` (count zero, referents released); a candidate leaves the
    /// buffer (or the overflow count) with it.
    #[inline]
    fn dispose(&mut self, obj: ObjRef) {
        let h = obj.header_mut();
        if buffered(h) {
            let index = (h.aux >> INDEX_SHIFT) as usize;
            self.candidates[index - 1] = None;
            h.flags &= !FLAG_BACKEND;
        } else if colour(h) == PURPLE {
            self.overflowed -= 1;
        }
        // SAFETY: obj is an allocated object of this heap whose count is zero.
        unsafe { self.slab.free(obj) };
    }

    pub(super) fn collect_cycles(&mut self, reason: GcReason) -> GcEvent {
        let began = Tally::begin(self.slab.footprint());
        let freed_before = self.slab.freed_objects();
        if !self.reserve_work() {
            // Out of the system's memory even for the collector's own work
            // lists: no trial deletion starts (the counts stay as they are);
            // the candidates wait for the next collection.
            let (after, live) = (self.slab.footprint(), self.slab.live_bytes());
            return self.tally.end(began, reason, after, live, 0);
        }
        let mut roots = std::mem::take(&mut self.candidates);
        self.mark_roots(&mut roots);
        let live_scanned = self.scan_roots(&roots);
        self.collect_roots(&mut roots);
        roots.clear();
        self.candidates = roots;
        self.bound = live_scanned.clamp(super::CANDIDATE_BOUND, super::CANDIDATE_BOUND_MAX);
        self.allocs_since = 0;
        let (after, live) = (self.slab.footprint(), self.slab.live_bytes());
        let freed = self.slab.freed_objects() - freed_before;
        self.tally.end(began, reason, after, live, freed)
    }

    /// Makes room, before anything changes, for the most each work list can
    /// hold: every phase puts an object on its list at most once (each is
    /// coloured as it is listed), and `storage` holds the garbage, objects
    /// and their internal storage. So no list grows during the collection,
    /// and running out of memory there can never abort the process. False
    /// when the room cannot be had.
    fn reserve_work(&mut self) -> bool {
        let n = self.slab.live_objects() + 1;
        let room = |v: &mut Vec<ObjRef>| v.try_reserve(n.saturating_sub(v.len())).is_ok();
        room(&mut self.stack)
            && room(&mut self.stack2)
            && room(&mut self.stack3)
            && room(&mut self.storage)
    }

    /// Step 1. Keeps in `roots` the candidates trial deletion started from.
    pub(super) fn mark_roots(&mut self, roots: &mut Vec<Option<ObjRef>>) {
        if self.overflowed > 0 {
            self.slab.for_each_object(|r| {
                let h = r.header_mut();
                if colour(h) == PURPLE && !buffered(h) {
                    h.flags |= FLAG_BACKEND;
                    roots.push(Some(r));
                }
            });
            self.overflowed = 0;
        }
        let mut kept = 0;
        for i in 0..roots.len() {
            let Some(s) = roots[i] else { continue };
            let h = s.header_mut();
            h.aux &= super::COLOUR_MASK;
            if colour(h) == PURPLE && count(h) > 0 {
                self.mark_gray(s);
                roots[kept] = Some(s);
                kept += 1;
            } else {
                // Turned gray by an earlier candidate's trial deletion: it is
                // scanned from there.
                h.flags &= !FLAG_BACKEND;
            }
        }
        roots.truncate(kept);
    }

    /// Colours `s`'s subgraph gray, subtracting every reference inside it.
    fn mark_gray(&mut self, s: ObjRef) {
        let h = s.header_mut();
        if colour(h) == GRAY {
            return;
        }
        set_colour(h, GRAY);
        let mut stack = std::mem::take(&mut self.stack);
        stack.push(s);
        while let Some(obj) = stack.pop() {
            trace(obj, &mut |c| {
                if !counted(*c) {
                    return;
                }
                let h = c.header_mut();
                if count(h) != STUCK {
                    h.word -= 1;
                }
                if colour(h) != GRAY {
                    set_colour(h, GRAY);
                    stack.push(*c);
                }
            });
        }
        self.stack = stack;
    }

    /// Step 2. Returns how many objects turned out live (scanned black).
    pub(super) fn scan_roots(&mut self, roots: &[Option<ObjRef>]) -> usize {
        // A gray object with references from outside turns black with all it
        // reaches (`scan_black`); one without turns white, and its gray
        // children are scanned in turn. Each is decided and coloured as it is
        // listed, so it is listed once (`reserve_work`): counts only grow
        // during the scan, so one listed black is live; one listed white
        // that a later `scan_black` reaches turns black there, as it must.
        let mut live = 0;
        let mut stack = std::mem::take(&mut self.stack);
        let mut blacken = std::mem::take(&mut self.stack3);
        for s in roots.iter().flatten() {
            list_gray(*s, &mut stack, &mut blacken);
            loop {
                while let Some(b) = blacken.pop() {
                    live += self.scan_black(b);
                }
                let Some(obj) = stack.pop() else { break };
                if colour(obj.header()) != WHITE {
                    continue; // blackened since it was listed
                }
                trace(obj, &mut |c| {
                    if counted(*c) {
                        list_gray(*c, &mut stack, &mut blacken);
                    }
                });
            }
        }
        self.stack3 = blacken;
        self.stack = stack;
        live
    }

    /// Turns `s` and everything it reaches that is not black back to black,
    /// restoring the references trial deletion subtracted. Returns how many
    /// objects it turned.
    fn scan_black(&mut self, s: ObjRef) -> usize {
        let mut n = 1;
        set_colour(s.header_mut(), BLACK);
        let mut stack = std::mem::take(&mut self.stack2);
        stack.push(s);
        while let Some(obj) = stack.pop() {
            trace(obj, &mut |c| {
                if !counted(*c) {
                    return;
                }
                let h = c.header_mut();
                if count(h) != STUCK {
                    h.word += 1;
                }
                if colour(h) != BLACK {
                    set_colour(h, BLACK);
                    n += 1;
                    stack.push(*c);
                }
            });
        }
        self.stack2 = stack;
        n
    }

    /// Step 3. Frees the white objects reachable from the remaining roots.
    /// Nothing is freed before every one of them has been traced: a white
    /// object found from a later root may refer to one found earlier, and
    /// freed memory can be gone at once (a large object's span is returned).
    pub(super) fn collect_roots(&mut self, roots: &mut [Option<ObjRef>]) {
        let mut garbage = std::mem::take(&mut self.storage);
        for s in roots.iter_mut() {
            let Some(r) = s.take() else { continue };
            r.header_mut().flags &= !FLAG_BACKEND;
            self.collect_white(r, &mut garbage);
        }
        for obj in garbage.drain(..) {
            // SAFETY: each is allocated here and garbage (white, or the
            // internal storage of a white object), and listed once.
            unsafe { self.slab.free(obj) };
        }
        self.storage = garbage;
    }

    /// Adds to `garbage` `s` and the white objects it reaches, with their
    /// internal storage (buffered ones wait for their own turn in
    /// `collect_roots`).
    fn collect_white(&mut self, s: ObjRef, garbage: &mut Vec<ObjRef>) {
        let h = s.header_mut();
        if colour(h) != WHITE || buffered(h) {
            return;
        }
        set_colour(h, BLACK);
        let mut stack = std::mem::take(&mut self.stack);
        stack.push(s);
        while let Some(obj) = stack.pop() {
            trace(obj, &mut |c| {
                // Every read goes through `h`: `c.is_static()` here made a second
                // reference to the header while `h` was in use, which Stacked
                // Borrows forbids (found by Miri).
                let h = c.header_mut();
                if matches!(h.kind, Kind::Array | Kind::Bytes) {
                    garbage.push(*c);
                } else if colour(h) == WHITE && !buffered(h) && h.flags & FLAG_STATIC == 0 {
                    set_colour(h, BLACK);
                    stack.push(*c);
                }
            });
            garbage.push(obj);
        }
        self.stack = stack;
    }
}

/// `scan_roots`' decision on `obj` if it is gray: black, listed for
/// `scan_black`, when references from outside hold it; else white, listed
/// for its children.
fn list_gray(obj: ObjRef, white: &mut Vec<ObjRef>, black: &mut Vec<ObjRef>) {
    let h = obj.header_mut();
    if colour(h) != GRAY {
        return;
    }
    if count(h) > 0 {
        set_colour(h, BLACK);
        black.push(obj);
    } else {
        set_colour(h, WHITE);
        white.push(obj);
    }
}
