//! The `semispace` backend: Cheney's copying collector over segments drawn
//! from the pool. Objects are bump-allocated; a collection copies everything
//! reachable, breadth first, into fresh to-space segments and gives every
//! segment it copied from back to the pool.
//!
//! Layout of the heap: `segs` in the order they were filled (after a
//! collection, the to-space segments holding the survivors in the order
//! they were copied, then the segments allocated since), each packed from
//! its base up to `used` with objects; allocation bumps in the last one.
//! Objects bigger than [`LARGE_OBJECT_BYTES`] get a span of their own in
//! `large` and are never copied: a collection marks them in place. An
//! object's size alone says which of the two it is (invariant kept by
//! `alloc`: a large object is never bumped into a segment), which is how the
//! copy tells a span's object from one to copy.
//!
//! Reserve policy: a collection needs to-space for a copy of every small
//! object before it copies anything ([`copy_room`]), acquired from the pool
//! up front. Under `max_heap`, allocation keeps that room free: it fails
//! with `HeapLimit` before the heap's segments plus the room a copy of them
//! could need would pass the bound, so about half the bound can be live.
//!
//! Every segment and span is numbered in the order the heap took it, and
//! numbers are never reused: that is the heap's own order, in which `locate`
//! and `segment_map` report them. A copy puts every survivor in a segment
//! with a new number, so `inspect` shows the move even when the copy lands
//! at the same offset as the last one (as breadth-first order makes likely
//! under `--gc-stress`). The collection phases are in `collect.rs`;
//! `--verify-heap`'s checks in `verify.rs`.

mod collect;
#[cfg(test)]
mod tests;
mod verify;

use super::segment::{MAX_SEGMENT_BYTES, MIN_SEGMENT_BYTES, Segment, SegmentPool};
use super::tally::{Footprint, Tally};
use super::trigger::Trigger;
use super::{
    Backend, GcEvent, GcReason, Heap, HeapConfig, HeapStats, Location, RootSet, SegmentUse,
};
use crate::value::object::{HEADER_BYTES, init_header};
use crate::value::{Alloc, AllocError, Kind, ObjRef};
use std::ops::Range;
use std::ptr::NonNull;
use std::sync::Arc;

/// Objects larger than this (bytes) get their own span and are never copied:
/// copying them would cost more than marking them, and the bound keeps what
/// a full-size to-space segment can waste at its end to a sixteenth of it
/// (see [`copy_room`]).
pub const LARGE_OBJECT_BYTES: usize = MAX_SEGMENT_BYTES / 16;
/// Large spans are rounded up to this (page) size, in bytes.
const SPAN_ROUND: usize = 4096;
/// Under `max_heap`, allocation segments are at most this fraction of the
/// bound, so that the last one taken (and the room kept for its copy) does
/// not decide much of what fits.
const SEGMENTS_PER_BOUND: usize = 16;

/// The first to-space segment when there are several, in bytes: the
/// smallest that is sure to be left at least half full (by a copy that moves
/// on only for an object that does not fit), so that a heap keeping little
/// of a big from-space holds little after the copy (the whole to-space
/// sized for everything in one segment would be kept for a few survivors).
/// Sizes double from it.
const FIRST_TO_SPACE_BYTES: usize = 2 * LARGE_OBJECT_BYTES;

/// The to-space segments a copy of `bytes` bytes of small objects may need,
/// in the order the copy fills them. Up to `FIRST_TO_SPACE_BYTES`, one
/// segment (rounded up to the smallest segment): nothing is wasted between
/// segments, so a copy never needs more than the bytes it copies. Past
/// that, segments doubling from `FIRST_TO_SPACE_BYTES` to the largest, each
/// counted for its size less `LARGE_OBJECT_BYTES`, until one segment can
/// take all that is left: the last, of just that size. Proof that it is
/// enough: the copy leaves a segment only for an object (at most
/// `LARGE_OBJECT_BYTES`, so it fits a fresh one) that does not fit in what
/// is left, so every segment it leaves holds more than it was counted for;
/// when it reaches the last, less than the last's size remains to copy.
pub(super) fn to_space_plan(bytes: usize) -> impl Iterator<Item = usize> {
    // Bytes the segments still to come must be able to take.
    let mut need = bytes;
    let mut next = FIRST_TO_SPACE_BYTES;
    std::iter::from_fn(move || {
        if need == 0 {
            return None;
        }
        if need <= next {
            let last = need.next_multiple_of(MIN_SEGMENT_BYTES);
            need = 0;
            return Some(last);
        }
        let size = next;
        need -= size - LARGE_OBJECT_BYTES;
        next = (next * 2).min(MAX_SEGMENT_BYTES);
        Some(size)
    })
}

/// Bytes of to-space a copy of `bytes` bytes of small objects may need:
/// at most 4 KiB more than `bytes` up to `FIRST_TO_SPACE_BYTES`, past that
/// at most 1/15 more and 52 KiB (16 KiB for each of the three segments
/// before the full-size ones, and the last one's rounding).
pub(super) fn copy_room(bytes: usize) -> usize {
    to_space_plan(bytes).fold(0, usize::saturating_add)
}

/// One segment or span the heap holds, how far it is filled (a span: its
/// object's size) and its number.
pub(super) struct Seg {
    seg: Segment,
    used: usize,
    number: usize,
}

impl Seg {
    fn base(&self) -> *mut u8 {
        self.seg.base().as_ptr()
    }

    fn size(&self) -> usize {
        self.seg.size()
    }
}

pub struct SemispaceHeap {
    /// Bump window in the last segment: next free byte and end (both null
    /// when the heap has no segment).
    top: *mut u8,
    limit: *mut u8,
    pool: Arc<SegmentPool>,
    config: HeapConfig,
    segs: Vec<Seg>,
    large: Vec<Seg>,
    /// Segments and spans taken so far: the next one's number.
    numbered: usize,
    /// Bytes of segments and spans held.
    held: usize,
    /// Bytes of segments (not spans) held: what a copy must find room for.
    small_held: usize,
    /// Objects in `segs`.
    small_objects: u64,
    allocated_total: u64,
    /// Objects ever allocated.
    allocated_objects: u64,
    /// When the next collection is due (`heap::trigger`: the budget grows
    /// with what survived, so each copy costs at most a fixed fraction of
    /// what was allocated since the last).
    trigger: Trigger,
    /// The books of its collections (`heap::tally`).
    tally: Tally,
    /// Marked large objects waiting to be scanned during a collection. Its
    /// capacity is kept at least `large.len()` (by `alloc`), so that a
    /// collection never allocates for it.
    large_queue: Vec<ObjRef>,
    /// An empty vector of segments with room, reused as the next to-space list.
    spare: Vec<Seg>,
    /// Address ranges the last collection gave back (from-space, dead
    /// spans): `verify` reports references into them without reading them.
    released: Vec<Range<usize>>,
}

// SAFETY: the raw pointers point into segments this heap exclusively owns; a heap
// moves between threads only together with its process, never shared.
unsafe impl Send for SemispaceHeap {}

impl SemispaceHeap {
    /// Size of the next standard segment: grows with the heap, so small
    /// processes hold little and big ones do not need thousands of segments.
    fn next_segment_size(&self) -> usize {
        let most = match self.config.max_heap {
            Some(m) => prev_power_of_two(m / SEGMENTS_PER_BOUND).max(MIN_SEGMENT_BYTES),
            None => MAX_SEGMENT_BYTES,
        };
        (self.held / 4)
            .next_power_of_two()
            .clamp(MIN_SEGMENT_BYTES, most.min(MAX_SEGMENT_BYTES))
    }

    /// Whether the heap may take `extra` more bytes, `extra_small` of them
    /// segment bytes, and still keep room under `max_heap` for a copy of all
    /// its segments.
    fn within_limit(&self, extra: usize, extra_small: usize) -> bool {
        self.config.max_heap.is_none_or(|m| {
            let room = copy_room(self.small_held.saturating_add(extra_small));
            self.held
                .checked_add(extra)
                .and_then(|h| h.checked_add(room))
                .is_some_and(|total| total <= m)
        })
    }

    /// `seg`, numbered as the next one the heap takes.
    fn number(&mut self, seg: Segment, used: usize) -> Seg {
        self.numbered += 1;
        Seg {
            seg,
            used,
            number: self.numbered - 1,
        }
    }

    /// Closes the bump window: records how far the last segment is used.
    fn seal(&mut self) {
        if let Some(last) = self.segs.last_mut() {
            last.used = self.top.addr() - last.base().addr();
        }
    }

    /// Opens the bump window at the end of the last segment.
    fn open(&mut self) {
        match self.segs.last() {
            Some(s) => {
                // SAFETY: used <= size, both inside the segment.
                self.top = unsafe { s.base().add(s.used) };
                // SAFETY: as above: one past its end at most.
                self.limit = unsafe { s.base().add(s.size()) };
            }
            None => {
                self.top = std::ptr::null_mut();
                self.limit = std::ptr::null_mut();
            }
        }
    }

    #[inline(always)]
    fn bump(&mut self, kind: Kind, size: usize) -> Option<ObjRef> {
        // Large objects never go in a segment (the module's invariant).
        if size <= LARGE_OBJECT_BYTES && self.limit.addr() - self.top.addr() >= size {
            let p = self.top;
            // SAFETY: top + size <= limit, inside the current segment.
            self.top = unsafe { p.add(size) };
            self.small_objects += 1;
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
        if size > LARGE_OBJECT_BYTES {
            return self.alloc_large(kind, size);
        }
        let seg_size = self.next_segment_size().max(size.next_power_of_two());
        if !self.within_limit(seg_size, seg_size) {
            return Err(AllocError::HeapLimit);
        }
        self.segs
            .try_reserve(1)
            .map_err(|_| AllocError::OutOfMemory)?;
        let seg = self.pool.acquire(seg_size)?;
        self.seal();
        self.held += seg_size;
        self.small_held += seg_size;
        let seg = self.number(seg, 0);
        self.segs.push(seg);
        self.open();
        self.bump(kind, size).ok_or(AllocError::HeapLimit)
    }

    fn alloc_large(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        let span = size
            .checked_next_multiple_of(SPAN_ROUND)
            .ok_or(AllocError::TooLarge)?;
        if !self.within_limit(span, 0) {
            return Err(AllocError::HeapLimit);
        }
        // Room in both vectors first, so nothing after the pool can fail.
        let spans = self.large.len() + 1;
        self.large
            .try_reserve(1)
            .and_then(|_| self.large_queue.try_reserve(spans))
            .map_err(|_| AllocError::OutOfMemory)?;
        let seg = self.pool.acquire(span)?;
        self.held += span;
        let p = seg.base();
        let seg = self.number(seg, size);
        self.large.push(seg);
        // SAFETY: the span has at least `size` bytes, 16-aligned.
        Ok(unsafe { init_header(p, kind, size, 0, 0) })
    }

    /// What the heap holds now (the last segment's fill aside).
    fn footprint(&self) -> Footprint {
        Footprint {
            bytes: self.held,
            segments: self.segment_count(),
        }
    }

    fn segment_count(&self) -> usize {
        self.segs.len() + self.large.len()
    }
}

/// The largest power of two at most `n` (1 for 0).
fn prev_power_of_two(n: usize) -> usize {
    1 << n.max(1).ilog2()
}

impl Alloc for SemispaceHeap {
    #[inline(always)]
    fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        debug_assert!(size >= HEADER_BYTES && size.is_multiple_of(8));
        let r = match self.bump(kind, size) {
            Some(r) => r,
            None => self.alloc_slow(kind, size)?,
        };
        self.allocated_total += size as u64;
        self.allocated_objects += 1;
        self.trigger.charge(size);
        Ok(r)
    }
}

impl Heap for SemispaceHeap {
    const BACKEND: Backend = Backend::Semispace;
    const TRACES: bool = true;

    fn new(pool: Arc<SegmentPool>, config: HeapConfig) -> Self {
        SemispaceHeap {
            top: std::ptr::null_mut(),
            limit: std::ptr::null_mut(),
            pool,
            config,
            segs: Vec::new(),
            large: Vec::new(),
            numbered: 0,
            held: 0,
            small_held: 0,
            small_objects: 0,
            allocated_total: 0,
            allocated_objects: 0,
            trigger: Trigger::new(config.stress),
            tally: Tally::default(),
            large_queue: Vec::new(),
            spare: Vec::new(),
            released: Vec::new(),
        }
    }

    #[inline]
    fn gc_due(&self) -> bool {
        self.trigger.due()
    }

    /// A full copying collection; `None` when it was skipped because the
    /// pool could not give the room for a copy (nothing was changed).
    fn collect(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> Option<GcEvent> {
        self.full_collection(roots, reason)
    }

    #[inline]
    fn allocated_bytes(&self) -> u64 {
        self.allocated_total
    }

    #[inline]
    fn allocated_objects(&self) -> u64 {
        self.allocated_objects
    }

    fn stats(&self) -> HeapStats {
        self.tally
            .bump_stats(self.allocated_total, self.footprint())
    }

    /// Segments and spans by number (both lists are in that order already).
    fn segment_map(&self) -> Vec<SegmentUse> {
        let n = self.segs.len();
        let small = self.segs.iter().enumerate().map(|(i, s)| {
            // The last segment's fill is the open bump window.
            let used = if i + 1 == n {
                self.top.addr() - s.base().addr()
            } else {
                s.used
            };
            (s, used, false)
        });
        let spans = self.large.iter().map(|s| (s, s.used, true));
        let mut all: Vec<(&Seg, usize, bool)> = small.chain(spans).collect();
        all.sort_by_key(|(s, _, _)| s.number);
        all.into_iter()
            .map(|(s, used, large)| SegmentUse {
                bytes: s.size(),
                used,
                large,
                nursery: false,
            })
            .collect()
    }

    /// The number of the segment or span holding `r`, and the offset in it.
    fn locate(&self, r: ObjRef) -> Option<Location> {
        let a = r.addr();
        let mut held = self.segs.iter().chain(self.large.iter());
        held.find(|s| s.seg.contains(a)).map(|s| Location {
            segment: s.number,
            offset: a - s.base().addr(),
        })
    }

    /// Segments packed with sane headers, nothing marked or forwarded, no
    /// reference into memory the last collection gave back, and every
    /// reference to an object start or static data.
    fn verify(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        self.verify_heap(roots)
    }
}

impl Drop for SemispaceHeap {
    fn drop(&mut self) {
        for s in self.segs.drain(..) {
            self.pool.release(s.seg);
        }
        for s in self.large.drain(..) {
            self.pool.release(s.seg);
        }
    }
}
