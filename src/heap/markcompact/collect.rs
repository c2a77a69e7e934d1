//! A mark-compact collection, in four phases (Lisp-2 sliding compaction):
//!
//! 1. `mark`: from the roots, with an explicit mark stack, set `FLAG_MARK` on
//!    every reachable heap object (static objects are skipped; `heap::mark`).
//! 2. `compute_forwarding`: walk the segments in order with a "to" cursor
//!    that never passes the object being walked; store each marked object's
//!    new address in its header word. Dead large spans go back to the pool.
//!    When the heap's segments lie close together, phase 1 also set the bits
//!    of each marked object's granules in a side bitmap (`bitmap.rs`), and
//!    this phase visits only the marked objects, never a dead header (most
//!    of a heap of young garbage: binary_trees 16, phase 2 from 11% of the
//!    run to 4%); otherwise it walks every header. With the bitmap it first
//!    finds the *dense prefix*: the heap's front, live with no gap, whose
//!    objects would slide onto themselves. It gives them no address (their
//!    header word stays zero: "stays"), phase 3 clears their marks as it
//!    traces them, and phase 4 starts past them (binary_trees 16: its
//!    long-lived tree, 8.4 MB of 9; compaction 14% -> 7% of the run). The
//!    dead count is what the heap held less what was marked.
//! 3. `update_references`: rewrite every root and every reference inside a
//!    marked object to its target's new address.
//! 4. `slide`: move each marked object to its new address (in address order,
//!    so nothing is overwritten before it moved), clear its mark, and return
//!    the segments past the last one used.
//!
//! Invariant between phases 2 and 4: a marked object's header word holds its
//! new address, or zero in the dense prefix; the first dead object of each run of dead objects holds the
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
    objects_in(seg, 0, seg.used)
}

/// Walks the objects of one segment from offset `from` up to `end` (object
/// boundaries, at most `used`).
fn objects_in(seg: &Seg, from: usize, end: usize) -> impl Iterator<Item = ObjRef> {
    let base = seg.base();
    let mut off = from;
    std::iter::from_fn(move || {
        if off >= end {
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

/// Walks the live objects of a segment after phase 2 from offset `from`
/// (an object start, or `used`), stepping over dead runs by the addresses
/// phase 2 left in their first header.
fn live_objects(seg: &Seg, from: usize) -> impl Iterator<Item = ObjRef> {
    // SAFETY: from <= used <= the segment's size: at most one past its end.
    let mut at = unsafe { seg.base().add(from) };
    // SAFETY: as above.
    let end = unsafe { seg.base().add(seg.used) };
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

/// The first bit at or after `from` and before `end` that is set (`ones`)
/// or clear (not `ones`), or `end` if there is none.
fn scan(words: &[u64], from: usize, end: usize, ones: bool) -> usize {
    let mut g = from;
    while g < end {
        let w = g >> 6;
        let word = if ones { words[w] } else { !words[w] };
        let word = word & (!0u64 << (g & 63));
        if word != 0 {
            return ((w << 6) + word.trailing_zeros() as usize).min(end);
        }
        g = (w + 1) << 6;
    }
    end
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
    /// once slid; segments past its length empty out. The dense prefix
    /// (`dense_prefix`) is skipped: its objects keep their addresses and a
    /// zero header word, which phases 3 and 4 read as "stays".
    pub(super) fn compute_forwarding(&mut self, marked: u64, bits: Option<&MarkBitmap>) -> u64 {
        let mut new_used = std::mem::take(&mut self.new_used);
        new_used.clear();
        self.prefix = bits.map_or((0, 0), |b| self.dense_prefix(b));
        let (ps, po) = self.prefix;
        // The cursor after the prefix: each whole segment of it stays as full.
        new_used.extend(self.segs[..ps].iter().map(|s| s.used));
        let mut to_off = po;
        for i in ps..self.segs.len() {
            let from = if i == ps { po } else { 0 };
            match bits.and_then(|b| b.range_of(&self.segs[i])) {
                Some((lo, words)) => {
                    self.forward_marked(i, from, lo, words, &mut new_used, &mut to_off)
                }
                None => self.forward_walking(i, from, &mut new_used, &mut to_off),
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

    /// The dense prefix: the objects from the first segment's base up to
    /// (segment, offset) returned, all marked and packed with no gap, which
    /// the to-cursor would give their own addresses (a long-lived structure
    /// at the bottom of the heap, after the first collection that slid it
    /// there: binary_trees' long-lived tree). It runs on into the next
    /// segment only where this one is live to its end and the next one's
    /// first object is live and would not fit in this one's tail (else the
    /// cursor would move it there). Found from the bitmap alone, but for
    /// one header per segment boundary; a segment the bitmap does not cover
    /// ends it. Phases 2 and 4 skip it; phase 3 traces it and clears its
    /// marks.
    fn dense_prefix(&self, bits: &MarkBitmap) -> (usize, usize) {
        for (i, s) in self.segs.iter().enumerate() {
            let gap = match bits.range_of(s) {
                Some((lo, words)) => {
                    let start = s.base().addr() - lo;
                    let (first, last) = (start >> 3, (start + s.used) >> 3);
                    (scan(words, first, last, false) << 3) - start
                }
                // Not covered (the smaller segments): its headers tell.
                None => objects(s)
                    .find(|&r| !is_marked(r))
                    .map_or(s.used, |r| r.addr() - s.base().addr()),
            };
            if gap < s.used {
                return (i, gap);
            }
            let Some(next) = self.segs.get(i + 1).filter(|n| n.used > 0) else {
                return (i, s.used);
            };
            // SAFETY: the next segment's used part starts with an object.
            let head = unsafe { ObjRef::from_ptr(std::ptr::NonNull::new_unchecked(next.base())) };
            if !is_marked(head) || s.used + head.size() <= s.seg.size() {
                return (i, s.used);
            }
        }
        (self.segs.len(), 0)
    }

    /// Phase 2 for segment `i` from offset `from` (an object start),
    /// walking every header.
    fn forward_walking(
        &self,
        i: usize,
        from: usize,
        new_used: &mut Vec<usize>,
        to_off: &mut usize,
    ) {
        let mut run: Option<ObjRef> = None;
        let s = &self.segs[i];
        for obj in objects_in(s, from, s.used) {
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

    /// Phase 2 for segment `i` from offset `from` (an object start), by the
    /// runs of live objects the bitmap shows (`words`, bit 0 at address
    /// `lo`): the headers read are the live objects' (for their sizes), and
    /// a dead run costs one header write at its start, not a read of each
    /// dead header.
    fn forward_marked(
        &self,
        i: usize,
        from: usize,
        lo: usize,
        words: &[u64],
        new_used: &mut Vec<usize>,
        to_off: &mut usize,
    ) {
        let s = &self.segs[i];
        let base = s.base();
        let start = base.addr() - lo;
        // The segment's granules from `from`: bits first..last.
        let (first, last) = ((start + from) >> 3, (start + s.used) >> 3);
        let at = |off: usize| {
            // SAFETY: off <= used: an object start inside the segment's used
            // part (or its end, never dereferenced as an object).
            unsafe { ObjRef::from_ptr(std::ptr::NonNull::new_unchecked(base.add(off))) }
        };
        // End of the last live run placed (offset in the segment).
        let mut prev = from;
        let mut g = first;
        loop {
            let run = scan(words, g, last, true);
            if run == last {
                break;
            }
            let end = scan(words, run, last, false);
            let (mut off, stop) = ((run << 3) - start, (end << 3) - start);
            if off != prev {
                // Where the live run before ended, a dead run starts.
                set_word_ptr(at(prev), at(off).as_ptr());
            }
            // A run is live objects packed together: step by their sizes.
            while off < stop {
                let obj = at(off);
                self.place(obj, new_used, to_off);
                off += obj.size();
            }
            debug_assert_eq!(off, stop, "a live run ends at an object's end");
            prev = stop;
            g = end;
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

    /// Where the dense prefix ends in segment `i`: its whole used part
    /// before the prefix's last segment, the prefix's offset in it, none after.
    fn prefix_end(&self, i: usize) -> usize {
        let (ps, po) = self.prefix;
        match i.cmp(&ps) {
            std::cmp::Ordering::Less => self.segs[i].used,
            std::cmp::Ordering::Equal => po,
            std::cmp::Ordering::Greater => 0,
        }
    }

    /// Phase 3. The dense prefix's objects are traced too, and their marks
    /// cleared here, so that phase 4 need not walk them.
    pub(super) fn update_references(&mut self, roots: &mut dyn RootSet) {
        roots.visit(&mut |r| forward(r));
        for (i, seg) in self.segs.iter().enumerate() {
            let from = self.prefix_end(i);
            for obj in objects_in(seg, 0, from) {
                trace(obj, &mut |c| forward(c));
                obj.header_mut().flags &= !FLAG_MARK;
            }
            for obj in live_objects(seg, from) {
                trace(obj, &mut |c| forward(c));
            }
        }
        for span in &self.large {
            // SAFETY: a large span holds one object at its base (marked: dead ones are gone).
            let obj = unsafe { ObjRef::from_ptr(span.base()) };
            trace(obj, &mut |c| forward(c));
        }
    }

    /// Phase 4, past the dense prefix (which stays, unmarked by phase 3).
    pub(super) fn slide(&mut self) {
        for (i, seg) in self.segs.iter().enumerate() {
            // Collected first: moving objects overwrites the headers of dead runs
            // behind them, but never a header ahead of the one being moved.
            for obj in live_objects(seg, self.prefix_end(i)) {
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

/// Rewrites a reference to its target's new address (static targets, large
/// objects and the dense prefix's stay).
#[inline]
fn forward(r: &mut ObjRef) {
    if !r.is_static() {
        let dest = word_ptr(*r);
        // A zero word: the target is in the dense prefix, where it stays
        // (every other reachable heap object got a new address in phase 2).
        if let Some(dest) = std::ptr::NonNull::new(dest) {
            // SAFETY: a new address phase 2 gave a marked object, in a held segment.
            *r = unsafe { ObjRef::from_ptr(dest) };
        }
    }
}
