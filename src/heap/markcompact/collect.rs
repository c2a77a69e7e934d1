//! A mark-compact collection, in four phases (Lisp-2 sliding compaction):
//!
//! 1. `mark`: from the roots, with an explicit mark stack, set `FLAG_MARK` on
//!    every reachable heap object (static objects are skipped; `heap::mark`).
//! 2. `compute_forwarding`: walk the segments in order with a "to" cursor
//!    that never passes the object being walked; store each marked object's
//!    new address in its header word. Dead large spans go back to the pool.
//!    When the heap's segments lie close together, phase 1 also set a bit
//!    per marked object in a side bitmap (`bitmap.rs`), and this phase visits only the
//!    marked objects, never a dead header (most of a heap of young garbage:
//!    binary_trees 16, phase 2 from 11% of the run to 4%); otherwise it
//!    walks every header. The dead count is what the heap held less what
//!    was marked.
//! 3. `update_references`: rewrite every root and every reference inside a
//!    marked object to its target's new address.
//! 4. `slide`: move each marked object to its new address (in address order,
//!    so nothing is overwritten before it moved), clear its mark, and return
//!    the segments past the last one used.
//!
//! Invariant between phases 2 and 4: a marked object's header word holds its
//! new address; the first dead object of each run of dead objects holds the
//! address where the run ends (the next live object, or the segment's end),
//! so phases 3 and 4 step over dead runs without touching them. The
//! to-cursor (segment, offset) is never after the object being placed, so
//! sliding only ever moves objects toward the front.
//!
//! Those header words hold pointers, written and read as pointers
//! ([`set_word_ptr`], [`word_ptr`]) and never as integers: a new address is
//! often in another segment (another allocation) than the object, and a
//! pointer stored whole keeps the provenance it was made with. The machine
//! code is the same as storing the address.

use super::bitmap::MarkBitmap;
use super::{MarkCompactHeap, Seg};
use crate::heap::forward::move_object;
use crate::heap::mark::{Marked, is_marked, mark_from};
use crate::heap::tally::Tally;
use crate::heap::{GcEvent, GcReason, RootSet};
use crate::value::ObjRef;
use crate::value::object::{FLAG_MARK, Header, trace};

/// Offset of the header word, where phases 2 to 4 keep a pointer.
const WORD: usize = std::mem::offset_of!(Header, word);
const _: () = assert!(std::mem::size_of::<*mut u8>() <= std::mem::size_of::<u64>());

/// The pointer phase 2 left in `r`'s header word: `r`'s new address if it is
/// marked, else the end of the dead run it starts.
#[inline]
pub(super) fn word_ptr(r: ObjRef) -> *mut u8 {
    // SAFETY: the word is inside every header, 8-aligned, and phase 2 stored
    // a pointer there (`set_word_ptr`) before anything reads one.
    unsafe { r.field::<*mut u8>(WORD).read() }
}

/// Stores `p` in `r`'s header word, as a pointer (see the module comment).
#[inline]
fn set_word_ptr(r: ObjRef, p: *mut u8) {
    // SAFETY: the word is inside every header, 8-aligned and at least
    // pointer-sized; `slide` zeroes it again.
    unsafe { r.field::<*mut u8>(WORD).write(p) }
}

/// How far ahead of the walk `objects` asks for memory (bytes).
const PREFETCH_AHEAD: usize = 512;

// `prefetch` asks for the memory at `p` ahead of a walk over the heap: each
// header's address comes from the size in the one before, a chain of loads
// the hardware prefetcher does not run far enough ahead of (binary_trees 16:
// mark-compact's pauses about 15% shorter in all).
pub(super) use crate::value::object::prefetch;

/// Walks the objects of one segment: yields each object's start.
pub(super) fn objects(seg: &Seg) -> impl Iterator<Item = ObjRef> {
    let base = seg.base();
    let used = seg.used;
    let mut off = 0;
    std::iter::from_fn(move || {
        if off >= used {
            return None;
        }
        // SAFETY: [base, base + used) is densely packed with objects, each with a
        // valid header (allocation writes it before anything else happens).
        let r = unsafe { ObjRef::from_ptr(std::ptr::NonNull::new_unchecked(base.add(off))) };
        prefetch(base.wrapping_add(off + PREFETCH_AHEAD));
        off += r.size();
        Some(r)
    })
}

/// Walks the live objects of a segment after phase 2, stepping over dead
/// runs by the addresses phase 2 left in their first header.
fn live_objects(seg: &Seg) -> impl Iterator<Item = ObjRef> {
    let mut at = seg.base();
    // SAFETY: used <= the segment's size: at most one past its end.
    let end = unsafe { at.add(seg.used) };
    std::iter::from_fn(move || {
        while at < end {
            // SAFETY: `at` is an object start inside the used part (phase 2 only
            // records object starts or the segment's end).
            let r = unsafe { ObjRef::from_ptr(std::ptr::NonNull::new_unchecked(at)) };
            prefetch(at.wrapping_add(PREFETCH_AHEAD));
            if is_marked(r) {
                // SAFETY: the object lies inside the used part.
                at = unsafe { at.add(r.size()) };
                return Some(r);
            }
            at = word_ptr(r);
        }
        None
    })
}

impl MarkCompactHeap {
    pub(super) fn full_collection(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> GcEvent {
        self.seal();
        let began = Tally::begin(self.footprint());
        let (marked, bits) = self.mark(roots);
        let freed = self.compute_forwarding(marked.objects, bits.as_ref());
        self.update_references(roots);
        self.slide();
        self.trigger.reset(marked.bytes);
        let after = self.footprint();
        self.tally.end(began, reason, after, marked.bytes, freed)
    }

    /// Phase 1 (`heap::mark`), recording marks in a bitmap too where the
    /// heap's segments lie close enough together for one; returns it, for
    /// phase 2.
    pub(super) fn mark(&mut self, roots: &mut dyn RootSet) -> (Marked, Option<MarkBitmap>) {
        #[cfg(test)]
        let allowed = self.bits_allowed;
        #[cfg(not(test))]
        let allowed = true;
        let mut bitmap = allowed
            .then(|| MarkBitmap::for_segments(&self.segs))
            .flatten();
        let (segs, large, held) = (&self.segs, &self.large, self.held);
        #[cfg(test)]
        let held = if self.queue_always { usize::MAX } else { held };
        let marked = mark_from(
            roots,
            &mut self.mark_stack,
            self.mark_stack_cap,
            held,
            bitmap.as_mut().map(MarkBitmap::marks),
            |f| {
                for seg in segs {
                    objects(seg).for_each(&mut *f);
                }
                for span in large {
                    // SAFETY: a large span holds one object at its base.
                    f(unsafe { ObjRef::from_ptr(span.base()) });
                }
            },
        );
        (marked, bitmap)
    }

    /// Phase 2, walking by the mark's `bits` the segments they cover.
    /// Returns the number of dead objects (what the heap held less the
    /// `marked` objects). Leaves in `new_used` how full each segment will be
    /// once slid; segments past its length empty out.
    pub(super) fn compute_forwarding(&mut self, marked: u64, bits: Option<&MarkBitmap>) -> u64 {
        let mut new_used = std::mem::take(&mut self.new_used);
        new_used.clear();
        let mut to_off = 0usize;
        for i in 0..self.segs.len() {
            match bits.and_then(|b| b.range_of(&self.segs[i])) {
                Some((lo, words)) => self.forward_marked(i, lo, words, &mut new_used, &mut to_off),
                None => self.forward_walking(i, &mut new_used, &mut to_off),
            }
        }
        if !self.segs.is_empty() {
            new_used.push(to_off);
        }
        self.new_used = new_used;
        let mut kept = Vec::with_capacity(self.large.len());
        for span in self.large.drain(..) {
            // SAFETY: a large span holds exactly one object at its base.
            let obj = unsafe { ObjRef::from_ptr(span.base()) };
            if is_marked(obj) {
                set_word_ptr(obj, obj.as_ptr());
                kept.push(span);
            } else {
                self.held -= span.size();
                self.pool.release(span);
            }
        }
        self.large = kept;
        // Everything marked is this heap's (static objects are never marked).
        self.objects_held() - marked
    }

    /// Phase 2 for segment `i`, walking every header in it.
    fn forward_walking(&self, i: usize, new_used: &mut Vec<usize>, to_off: &mut usize) {
        let mut run: Option<ObjRef> = None;
        for obj in objects(&self.segs[i]) {
            if !is_marked(obj) {
                run.get_or_insert(obj);
                continue;
            }
            if let Some(first) = run.take() {
                set_word_ptr(first, obj.as_ptr());
            }
            self.place(obj, new_used, to_off);
        }
        if let Some(first) = run {
            let s = &self.segs[i];
            // SAFETY: used <= the segment's size: at most one past its end.
            set_word_ptr(first, unsafe { s.base().add(s.used) });
        }
    }

    /// Phase 2 for segment `i`, visiting only the objects the bitmap marks
    /// (`words`, bit 0 at address `lo`): a dead run costs one header write
    /// (at its start, which is where the live object before it ends), not a
    /// read of each dead header.
    fn forward_marked(
        &self,
        i: usize,
        lo: usize,
        words: &[u64],
        new_used: &mut Vec<usize>,
        to_off: &mut usize,
    ) {
        let s = &self.segs[i];
        let base = s.base();
        let start = base.addr() - lo;
        // The segment's granules: bits first..last.
        let (first, last) = (start >> 3, (start + s.used) >> 3);
        let at = |off: usize| {
            // SAFETY: off <= used: an object start inside the segment's used
            // part (or its end, never dereferenced as an object).
            unsafe { ObjRef::from_ptr(std::ptr::NonNull::new_unchecked(base.add(off))) }
        };
        // End of the last live object placed (offset in the segment).
        let mut prev = 0usize;
        let mut w = first >> 6;
        while w << 6 < last {
            let wbase = w << 6;
            let mut word = words[w];
            if wbase < first {
                word &= !0u64 << (first - wbase);
            }
            if last - wbase < 64 {
                word &= (1u64 << (last - wbase)) - 1;
            }
            while word != 0 {
                let off = ((wbase + word.trailing_zeros() as usize) << 3) - start;
                word &= word - 1;
                let obj = at(off);
                if off != prev {
                    // Objects are packed: where the live one before ended, a
                    // dead run starts.
                    set_word_ptr(at(prev), obj.as_ptr());
                }
                self.place(obj, new_used, to_off);
                prev = off + obj.size();
            }
            w += 1;
        }
        if prev != s.used {
            set_word_ptr(at(prev), at(s.used).as_ptr());
        }
    }

    /// Gives the marked `obj` its new address at the to-cursor (segment
    /// `new_used.len()`, offset `to_off`), moving the cursor past it.
    #[inline(always)]
    fn place(&self, obj: ObjRef, new_used: &mut Vec<usize>, to_off: &mut usize) {
        let size = obj.size();
        // Move on while the cursor's segment cannot take the object. It never
        // passes the object's own segment, where it fits.
        while *to_off + size > self.segs[new_used.len()].seg.size() {
            new_used.push(*to_off);
            *to_off = 0;
        }
        // SAFETY: to_off + size fits in the cursor's segment (checked just above).
        let dest = unsafe { self.segs[new_used.len()].base().add(*to_off) };
        set_word_ptr(obj, dest);
        *to_off += size;
    }

    /// Phase 3.
    pub(super) fn update_references(&mut self, roots: &mut dyn RootSet) {
        roots.visit(&mut |r| forward(r));
        for seg in &self.segs {
            for obj in live_objects(seg) {
                trace(obj, &mut |c| forward(c));
            }
        }
        for span in &self.large {
            // SAFETY: a large span holds one object at its base (marked: dead ones are gone).
            let obj = unsafe { ObjRef::from_ptr(span.base()) };
            trace(obj, &mut |c| forward(c));
        }
    }

    /// Phase 4.
    pub(super) fn slide(&mut self) {
        for seg in &self.segs {
            // Collected first: moving objects overwrites the headers of dead runs
            // behind them, but never a header ahead of the one being moved.
            for obj in live_objects(seg) {
                let dest = word_ptr(obj);
                if dest != obj.as_ptr() {
                    // SAFETY: dest was computed in phase 2 inside a held segment,
                    // before obj; ptr::copy allows the overlap of sliding within a
                    // segment. The walk reads obj's size before this copy.
                    unsafe { move_object(obj.as_ptr(), dest, obj.size()) };
                }
                // SAFETY: dest now holds the moved object.
                let h = unsafe { ObjRef::from_ptr(std::ptr::NonNull::new_unchecked(dest)) }
                    .header_mut();
                h.flags &= !FLAG_MARK;
                h.word = 0;
            }
        }
        for span in &self.large {
            // SAFETY: one live object at the span's base.
            let h = unsafe { ObjRef::from_ptr(span.base()) }.header_mut();
            h.flags &= !FLAG_MARK;
            h.word = 0;
        }
        // Keep the segments that received objects (always at least the first,
        // so an empty heap does not go straight back to the pool); return the rest.
        let keep = self.new_used.len().max(1).min(self.segs.len());
        for s in self.segs.drain(keep..) {
            self.held -= s.seg.size();
            self.pool.release(s.seg);
        }
        for (s, &u) in self.segs.iter_mut().zip(&self.new_used) {
            s.used = u;
        }
        self.open();
    }
}

/// Rewrites a reference to its target's new address (static targets stay).
#[inline]
fn forward(r: &mut ObjRef) {
    if !r.is_static() {
        let dest = word_ptr(*r);
        debug_assert!(!dest.is_null(), "reference to an unmarked object");
        // SAFETY: every reachable heap object was marked and given a non-null
        // new address in phase 2.
        *r = unsafe { ObjRef::from_ptr(std::ptr::NonNull::new_unchecked(dest)) };
    }
}
