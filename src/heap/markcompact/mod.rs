//! The `mark-compact` backend: bump allocation in segments drawn from the
//! pool; a collection marks from the roots and slides live objects toward
//! the first segments, so that emptied segments go back to the pool.
//!
//! Layout of the heap: `segs` in allocation order, each filled from its base
//! up to `used` with densely packed objects; allocation bumps in the last
//! one. Objects bigger than `LARGE_OBJECT_BYTES` get a span of their own in
//! `large` and are never moved. The collection phases are in `collect.rs`
//! (with the mark bitmap in `bitmap.rs`);
//! `--verify-heap`'s checks in `verify.rs`.

mod bitmap;
mod collect;
mod old;
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
use std::sync::Arc;

/// Objects larger than this get their own span rather than a place in a segment.
pub const LARGE_OBJECT_BYTES: usize = MAX_SEGMENT_BYTES / 4;
/// How far ahead of the bump pointer allocation asks for memory (bytes):
/// the memory a collection slid objects out of is seldom in the cache, and
/// every new line was a miss the allocating instruction waited for
/// (binary_trees 16: 0.99 -> 0.93 s; 256 and 1024 bytes did less). A
/// minor collection of generational promoting into it asks as far ahead
/// (binary_trees 16: minor pauses in all 57.0 -> 49.3 ms, medians of 9
/// interleaved runs; Storage, whose small heap stays in the cache, level).
const ALLOC_PREFETCH: usize = 512;
/// Large spans are rounded up to this (page) size.
const SPAN_ROUND: usize = 4096;

/// One segment the heap holds and how far it is filled.
pub(super) struct Seg {
    seg: Segment,
    used: usize,
}

impl Seg {
    fn base(&self) -> *mut u8 {
        self.seg.base().as_ptr()
    }
}

pub struct MarkCompactHeap {
    pool: Arc<SegmentPool>,
    config: HeapConfig,
    segs: Vec<Seg>,
    /// Bump window in the last segment: next free byte and end.
    top: *mut u8,
    limit: *mut u8,
    large: Vec<Segment>,
    /// Bytes of segments and spans held.
    held: usize,
    allocated_total: u64,
    /// Objects ever placed in it: allocated, or promoted or adopted into
    /// it as generational's old generation (`old.rs`).
    allocated_objects: u64,
    /// When the next collection is due (`heap::trigger`).
    trigger: Trigger,
    /// The books of its collections (`heap::tally`).
    tally: Tally,
    mark_stack: Vec<ObjRef>,
    /// Most entries the mark stack may hold (`usize::MAX`; tests lower it).
    mark_stack_cap: usize,
    /// Scratch for a collection: how full each kept segment will be.
    new_used: Vec<usize>,
    /// Scratch for a collection: where its dense prefix ends (segment,
    /// offset; `collect.rs`), set by phase 2 for phases 3 and 4.
    prefix: (usize, usize),
    /// Bytes its owner holds beside it that count against `max_heap` (the
    /// generational backend's nursery; zero otherwise).
    outside: usize,
    /// Segments taken ahead for a promotion (`old.rs`), used before any new
    /// one and given back when it is over. Counted in `held`.
    spare: Vec<Segment>,
    /// Whether a collection may use the mark bitmap (`bitmap.rs`; tests turn
    /// it off to check both ways give the same heap). The bitmap itself
    /// lives only from the mark to phase 2, never in the heap.
    #[cfg(test)]
    bits_allowed: bool,
    /// Tests: mark with the edge queue whatever the heap's size (both
    /// ways must mark the same objects).
    #[cfg(test)]
    queue_always: bool,
}

// SAFETY: the raw pointers point into segments this heap exclusively owns; a heap
// moves between threads only together with its process, never shared.
unsafe impl Send for MarkCompactHeap {}

impl MarkCompactHeap {
    /// Size of the next standard segment: grows with the heap, so small
    /// processes hold little and big ones do not need thousands of segments.
    fn next_segment_size(&self) -> usize {
        (self.held / 4)
            .next_power_of_two()
            .clamp(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES)
    }

    fn within_limit(&self, extra: usize) -> bool {
        self.config
            .max_heap
            .is_none_or(|m| self.held + self.outside + extra <= m)
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
                self.limit = unsafe { s.base().add(s.seg.size()) };
            }
            None => {
                self.top = std::ptr::null_mut();
                self.limit = std::ptr::null_mut();
            }
        }
    }

    #[cold]
    fn alloc_slow(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        if size > LARGE_OBJECT_BYTES {
            let span = size.div_ceil(SPAN_ROUND) * SPAN_ROUND;
            if !self.within_limit(span) {
                return Err(AllocError::HeapLimit);
            }
            let seg = self.pool.acquire(span)?;
            self.held += span;
            let p = seg.base();
            self.large.push(seg);
            // SAFETY: the span has at least `size` bytes, 16-aligned.
            return Ok(unsafe { init_header(p, kind, size, 0, 0) });
        }
        let seg_size = self.next_segment_size().max(size);
        if !self.within_limit(seg_size) {
            return Err(AllocError::HeapLimit);
        }
        let seg = self.pool.acquire(seg_size)?;
        self.seal();
        self.held += seg_size;
        self.segs.push(Seg { seg, used: 0 });
        self.open();
        self.bump(kind, size).ok_or(AllocError::HeapLimit)
    }

    #[inline(always)]
    fn bump(&mut self, kind: Kind, size: usize) -> Option<ObjRef> {
        if self.limit.addr().wrapping_sub(self.top.addr()) >= size {
            let p = self.top;
            collect::prefetch(p.wrapping_add(ALLOC_PREFETCH));
            // SAFETY: top + size <= limit, inside the current segment.
            self.top = unsafe { p.add(size) };
            // SAFETY: p is non-null (an empty window has limit == top == null, and size > 0), 8-aligned (sizes are multiples of 8) and has size bytes.
            Some(unsafe { init_header(std::ptr::NonNull::new_unchecked(p), kind, size, 0, 0) })
        } else {
            None
        }
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

    /// Objects the heap holds, live or not (segments and large spans).
    fn objects_held(&self) -> u64 {
        self.allocated_objects - self.tally.freed_objects
    }
}

impl Alloc for MarkCompactHeap {
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

impl Heap for MarkCompactHeap {
    const BACKEND: Backend = Backend::MarkCompact;
    const TRACES: bool = true;

    fn new(pool: Arc<SegmentPool>, config: HeapConfig) -> Self {
        MarkCompactHeap {
            pool,
            config,
            segs: Vec::new(),
            top: std::ptr::null_mut(),
            limit: std::ptr::null_mut(),
            large: Vec::new(),
            held: 0,
            allocated_total: 0,
            allocated_objects: 0,
            trigger: Trigger::new(config.stress),
            tally: Tally::default(),
            mark_stack: Vec::new(),
            mark_stack_cap: usize::MAX,
            new_used: Vec::new(),
            prefix: (0, 0),
            outside: 0,
            spare: Vec::new(),
            #[cfg(test)]
            bits_allowed: true,
            #[cfg(test)]
            queue_always: false,
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

    fn segment_map(&self) -> Vec<SegmentUse> {
        let n = self.segs.len();
        let mut map: Vec<SegmentUse> = self
            .segs
            .iter()
            .enumerate()
            .map(|(i, s)| SegmentUse {
                bytes: s.seg.size(),
                // The last segment's fill is the open bump window.
                used: if i + 1 == n {
                    self.top.addr() - s.base().addr()
                } else {
                    s.used
                },
                large: false,
                nursery: false,
            })
            .collect();
        map.extend(self.large.iter().map(|s| SegmentUse {
            bytes: s.size(),
            // SAFETY: a held large span starts with the header of its one object.
            used: unsafe { ObjRef::from_ptr(s.base()) }.size(),
            large: true,
            nursery: false,
        }));
        map
    }

    fn locate(&self, r: ObjRef) -> Option<Location> {
        let a = r.addr();
        let segs = self.segs.iter().map(|s| &s.seg).chain(self.large.iter());
        segs.enumerate()
            .find(|(_, s)| s.contains(a))
            .map(|(i, s)| Location {
                segment: i,
                offset: a - s.base().as_ptr().addr(),
            })
    }

    /// Segments densely packed with sane headers, nothing marked or
    /// forwarded, and every reference to an object start or static data.
    fn verify(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        self.verify_heap(roots)
    }
}

impl Drop for MarkCompactHeap {
    fn drop(&mut self) {
        for s in self.segs.drain(..) {
            self.pool.release(s.seg);
        }
        for s in self.large.drain(..).chain(self.spare.drain(..)) {
            self.pool.release(s);
        }
    }
}
