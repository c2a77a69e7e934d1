//! The segment pool: the one source of memory for every heap.
//!
//! A segment is a contiguous block of memory that one heap owns at a time,
//! 16-aligned by default ([`SegmentPool::acquire`]) or aligned to a larger
//! power of two on request ([`SegmentPool::acquire_aligned`]: the slab
//! backends align segments to their size so that masking an object's address
//! finds its segment). Heaps take segments from the pool and give them back
//! when they empty or their process ends. The pool counts the bytes it has
//! handed out and refuses requests past `--max-memory`; it keeps a bounded
//! cache of returned standard-size segments (plain and aligned ones apart) so
//! that a heap that shrinks and grows again does not go back to the system
//! allocator. A segment aligned to more than its size (up to 64 KiB) is a
//! slot of an arena (`arena.rs`), never a block of its own from the system
//! allocator, which would pad it with memory it then writes to.

mod arena;

use crate::value::AllocError;
use arena::{ArenaSet, in_arena};
use std::alloc::{Layout, alloc, dealloc};
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Smallest segment a heap takes, in bytes: a process that allocates a little
/// holds little.
pub const MIN_SEGMENT_BYTES: usize = 4 * 1024;
/// Largest standard segment, in bytes. Heaps grow their segments from the
/// minimum up to this; bigger requests are single-object spans.
pub const MAX_SEGMENT_BYTES: usize = 256 * 1024;
/// Bytes of returned standard segments the pool keeps for reuse before it
/// gives memory back to the system.
pub const CACHE_LIMIT_BYTES: usize = 64 * 1024 * 1024;
/// Alignment of every segment (objects need 8; 16 leaves room).
pub const SEGMENT_ALIGN: usize = 16;
/// Largest alignment [`SegmentPool::acquire_aligned`] accepts (1 GiB): beyond
/// it the system allocator's aligned path wastes more than it is worth.
pub const MAX_SEGMENT_ALIGN: usize = 1 << 30;

/// A block of memory owned by one heap. It must go back through
/// [`SegmentPool::release`]; dropping it any other way leaks it.
#[derive(Debug)]
pub struct Segment {
    ptr: NonNull<u8>,
    size: usize,
    /// The alignment it was allocated with (and must be freed with).
    align: usize,
}

// SAFETY: a Segment is a unique owner of its memory block, like a Box<[u8]>.
unsafe impl Send for Segment {}

impl Segment {
    #[inline]
    pub fn base(&self) -> NonNull<u8> {
        self.ptr
    }

    #[inline]
    pub fn size(&self) -> usize {
        self.size
    }

    /// The alignment of its base (at least [`SEGMENT_ALIGN`]).
    #[inline]
    pub fn align(&self) -> usize {
        self.align
    }

    #[inline]
    pub fn contains(&self, addr: usize) -> bool {
        let b = self.ptr.as_ptr().addr();
        addr >= b && addr < b + self.size
    }
}

/// Counters the pool keeps (bytes are segment bytes handed out to heaps).
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    pub in_use_bytes: usize,
    pub peak_bytes: usize,
    pub segments_in_use: usize,
    pub cached_bytes: usize,
}

/// The shared pool. One per program; heaps hold an `Arc` to it.
#[derive(Debug)]
pub struct SegmentPool {
    max_memory: Option<usize>,
    in_use: AtomicUsize,
    peak: AtomicUsize,
    segments: AtomicUsize,
    /// Returned standard segments, by size class.
    cache: Mutex<Cache>,
    cached_bytes: AtomicUsize,
}

/// Returned standard segments, by size class (index = log2(size / MIN)):
/// 16-aligned ones and more strictly aligned ones apart, so an aligned
/// request need not search; and the arenas that aligned segments are slots
/// of (behind the same lock).
#[derive(Debug)]
struct Cache {
    plain: Vec<Vec<Segment>>,
    aligned: Vec<Vec<Segment>>,
    arenas: ArenaSet,
}

impl Cache {
    /// A cached segment of class `c` aligned to at least `align`.
    fn take(&mut self, c: usize, align: usize) -> Option<Segment> {
        if align <= SEGMENT_ALIGN
            && let Some(seg) = self.plain[c].pop()
        {
            return Some(seg);
        }
        // Aligned segments are stacked as they come back; only the top one is
        // looked at (every aligned user asks for the same alignment per size).
        match self.aligned[c].last() {
            Some(seg) if seg.align >= align => self.aligned[c].pop(),
            _ => None,
        }
    }

    fn put(&mut self, c: usize, seg: Segment) {
        if seg.align <= SEGMENT_ALIGN {
            self.plain[c].push(seg);
        } else {
            self.aligned[c].push(seg);
        }
    }

    /// Gives a segment back for good: to its arena, or to the system.
    fn free(&mut self, seg: Segment) {
        if in_arena(seg.size, seg.align) {
            self.arenas.give_back(seg.ptr, seg.align);
        } else if let Ok(layout) = Layout::from_size_align(seg.size, seg.align) {
            // SAFETY: the segment was allocated by `acquire_aligned` with this very layout.
            unsafe { dealloc(seg.ptr.as_ptr(), layout) };
        }
    }
}

fn size_class(size: usize) -> Option<usize> {
    if size.is_power_of_two() && (MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&size) {
        Some((size / MIN_SEGMENT_BYTES).trailing_zeros() as usize)
    } else {
        None
    }
}

impl SegmentPool {
    pub fn new(max_memory: Option<usize>) -> SegmentPool {
        let classes = size_class(MAX_SEGMENT_BYTES).map_or(1, |c| c + 1);
        SegmentPool {
            max_memory,
            in_use: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            segments: AtomicUsize::new(0),
            cache: Mutex::new(Cache {
                plain: (0..classes).map(|_| Vec::new()).collect(),
                aligned: (0..classes).map(|_| Vec::new()).collect(),
                arenas: ArenaSet::default(),
            }),
            cached_bytes: AtomicUsize::new(0),
        }
    }

    pub fn max_memory(&self) -> Option<usize> {
        self.max_memory
    }

    /// Takes a segment of exactly `size` bytes (a multiple of 16), 16-aligned.
    /// Fails with `HeapLimit` past `--max-memory`, `OutOfMemory` when the
    /// system refuses.
    pub fn acquire(&self, size: usize) -> Result<Segment, AllocError> {
        self.acquire_aligned(size, SEGMENT_ALIGN)
    }

    /// Takes a segment of exactly `size` bytes whose base is a multiple of
    /// `align` (a power of two, at most [`MAX_SEGMENT_ALIGN`]; smaller than 16
    /// means 16). Fails as [`SegmentPool::acquire`] does, and with `TooLarge`
    /// for an alignment that is not a power of two or too big.
    pub fn acquire_aligned(&self, size: usize, align: usize) -> Result<Segment, AllocError> {
        let align = align.max(SEGMENT_ALIGN);
        if size == 0
            || size > isize::MAX as usize / 2
            || !align.is_power_of_two()
            || align > MAX_SEGMENT_ALIGN
        {
            return Err(AllocError::TooLarge);
        }
        self.reserve(size)?;
        if let Some(c) = size_class(size) {
            let cached = self
                .cache
                .lock()
                .ok()
                .and_then(|mut cache| cache.take(c, align));
            if let Some(seg) = cached {
                self.cached_bytes.fetch_sub(size, Ordering::Relaxed);
                return Ok(seg);
            }
        }
        let p = if in_arena(size, align) {
            self.cache
                .lock()
                .ok()
                .and_then(|mut cache| cache.arenas.take(align))
        } else {
            let Ok(layout) = Layout::from_size_align(size, align) else {
                self.unreserve(size);
                return Err(AllocError::TooLarge);
            };
            // SAFETY: layout has non-zero size (checked above).
            NonNull::new(unsafe { alloc(layout) })
        };
        match p {
            Some(ptr) => Ok(Segment { ptr, size, align }),
            None => {
                self.unreserve(size);
                Err(AllocError::OutOfMemory)
            }
        }
    }

    /// Gives a segment back.
    pub fn release(&self, seg: Segment) {
        let size = seg.size;
        self.unreserve(size);
        if let Some(c) = size_class(size)
            && self.cached_bytes.load(Ordering::Relaxed) + size <= CACHE_LIMIT_BYTES
            && let Ok(mut cache) = self.cache.lock()
        {
            cache.put(c, seg);
            self.cached_bytes.fetch_add(size, Ordering::Relaxed);
            return;
        }
        // On a poisoned lock an arena slot is lost (a panic elsewhere already
        // took the program down).
        if let Ok(mut cache) = self.cache.lock() {
            cache.free(seg);
        }
    }

    fn reserve(&self, size: usize) -> Result<(), AllocError> {
        let mut cur = self.in_use.load(Ordering::Relaxed);
        loop {
            let next = cur.checked_add(size).ok_or(AllocError::TooLarge)?;
            if self.max_memory.is_some_and(|m| next > m) {
                return Err(AllocError::HeapLimit);
            }
            match self
                .in_use
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    self.segments.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(actual) => cur = actual,
            }
        }
    }

    fn unreserve(&self, size: usize) {
        self.in_use.fetch_sub(size, Ordering::AcqRel);
        self.segments.fetch_sub(1, Ordering::Relaxed);
    }

    /// Arenas held now (see `arena.rs`).
    #[cfg(test)]
    fn arena_count(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.arenas.count())
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            in_use_bytes: self.in_use.load(Ordering::Relaxed),
            peak_bytes: self.peak.load(Ordering::Relaxed),
            segments_in_use: self.segments.load(Ordering::Relaxed),
            cached_bytes: self.cached_bytes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for SegmentPool {
    /// Frees the cached segments. An arena with a slot still handed out (a
    /// segment dropped without `release`) is left alone: that memory leaks,
    /// as the leaked segment's own would.
    fn drop(&mut self) {
        if let Ok(cache) = self.cache.get_mut() {
            let cached: Vec<Segment> = cache
                .plain
                .iter_mut()
                .chain(cache.aligned.iter_mut())
                .flat_map(|v| v.drain(..))
                .collect();
            for seg in cached {
                cache.free(seg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_and_release_keep_the_books() {
        let pool = SegmentPool::new(None);
        let a = pool.acquire(MIN_SEGMENT_BYTES).unwrap();
        let b = pool.acquire(3 * 4096).unwrap();
        assert_eq!(pool.stats().in_use_bytes, MIN_SEGMENT_BYTES + 3 * 4096);
        assert_eq!(pool.stats().segments_in_use, 2);
        // The memory is writable end to end.
        // SAFETY: b is a live segment of b.size() writable bytes, released only after.
        unsafe { std::ptr::write_bytes(b.base().as_ptr(), 0xAB, b.size()) };
        pool.release(a);
        pool.release(b);
        let s = pool.stats();
        assert_eq!((s.in_use_bytes, s.segments_in_use), (0, 0));
        assert_eq!(s.peak_bytes, MIN_SEGMENT_BYTES + 3 * 4096);
        // The standard-size one was cached, the odd size was not.
        assert_eq!(s.cached_bytes, MIN_SEGMENT_BYTES);
    }

    #[test]
    fn cached_segments_are_reused() {
        let pool = SegmentPool::new(None);
        let a = pool.acquire(8192).unwrap();
        let addr = a.base();
        pool.release(a);
        let b = pool.acquire(8192).unwrap();
        assert_eq!(b.base(), addr);
        assert_eq!(pool.stats().cached_bytes, 0);
        pool.release(b);
    }

    #[test]
    fn max_memory_is_enforced() {
        let pool = SegmentPool::new(Some(3 * 4096));
        let a = pool.acquire(8192).unwrap();
        assert_eq!(pool.acquire(8192).err(), Some(AllocError::HeapLimit));
        let b = pool.acquire(4096).unwrap();
        pool.release(a);
        let c = pool.acquire(8192).unwrap();
        pool.release(b);
        pool.release(c);
        assert_eq!(pool.stats().in_use_bytes, 0);
    }

    #[test]
    fn absurd_requests_fail_cleanly() {
        let pool = SegmentPool::new(None);
        assert_eq!(pool.acquire(usize::MAX).err(), Some(AllocError::TooLarge));
        assert_eq!(pool.acquire(0).err(), Some(AllocError::TooLarge));
        assert_eq!(pool.stats().in_use_bytes, 0);
    }

    #[test]
    fn aligned_segments_are_aligned_cached_apart_and_released() {
        let pool = SegmentPool::new(None);
        let a = pool.acquire_aligned(16 * 1024, 16 * 1024).unwrap();
        assert_eq!(a.base().as_ptr().addr() % (16 * 1024), 0);
        assert_eq!(a.align(), 16 * 1024);
        let plain = pool.acquire(16 * 1024).unwrap();
        assert_eq!(plain.align(), SEGMENT_ALIGN);
        let big = pool.acquire_aligned(40 * 1024, 16 * 1024).unwrap();
        assert_eq!(big.base().as_ptr().addr() % (16 * 1024), 0);
        let a_addr = a.base();
        pool.release(plain);
        pool.release(a);
        pool.release(big);
        assert_eq!(pool.stats().in_use_bytes, 0);
        assert_eq!(
            pool.stats().cached_bytes,
            2 * 16 * 1024,
            "odd size not cached"
        );
        // An aligned request never gets the plain cached segment: it gets the
        // aligned one back.
        let b = pool.acquire_aligned(16 * 1024, 16 * 1024).unwrap();
        assert_eq!(b.base(), a_addr);
        assert_eq!(b.base().as_ptr().addr() % (16 * 1024), 0);
        // With only the plain one cached, an aligned request allocates afresh.
        let c = pool.acquire_aligned(16 * 1024, 16 * 1024).unwrap();
        assert_eq!(c.base().as_ptr().addr() % (16 * 1024), 0);
        assert_eq!(pool.stats().cached_bytes, 16 * 1024);
        // A plain request may take an aligned segment when no plain one is left.
        let d = pool.acquire(16 * 1024).unwrap();
        assert_eq!(d.align(), SEGMENT_ALIGN);
        pool.release(b);
        let e = pool.acquire(16 * 1024).unwrap();
        assert_eq!(e.align(), 16 * 1024);
        for s in [c, d, e] {
            pool.release(s);
        }
        assert_eq!(pool.stats().in_use_bytes, 0);
    }

    #[test]
    fn small_aligned_segments_are_slots_of_one_arena_freed_with_its_last() {
        let pool = SegmentPool::new(None);
        // 12 KiB is no standard size, so a released one is not cached: it
        // goes straight back to its arena.
        let segs: Vec<Segment> = (0..arena::ARENA_SLOTS)
            .map(|_| pool.acquire_aligned(12 * 1024, 16 * 1024).unwrap())
            .collect();
        assert_eq!(pool.arena_count(), 1, "one arena serves a slot each");
        let mut bases: Vec<usize> = segs.iter().map(|s| s.base().as_ptr().addr()).collect();
        bases.sort();
        for w in bases.windows(2) {
            assert!(w[1] - w[0] >= 16 * 1024, "slots do not overlap");
        }
        for s in &segs {
            assert_eq!(s.base().as_ptr().addr() % (16 * 1024), 0);
            assert_eq!((s.size(), s.align()), (12 * 1024, 16 * 1024));
            // SAFETY: s is a live segment of s.size() writable bytes, released only after.
            unsafe { std::ptr::write_bytes(s.base().as_ptr(), 0x5A, s.size()) };
        }
        let extra = pool.acquire_aligned(4096, 16 * 1024).unwrap();
        let extra_base = extra.base();
        assert_eq!(pool.arena_count(), 2, "a full arena makes a new one");
        assert_eq!(
            pool.stats().in_use_bytes,
            arena::ARENA_SLOTS * 12 * 1024 + 4096
        );
        for s in segs {
            pool.release(s);
        }
        assert_eq!(pool.arena_count(), 1, "the emptied arena went back");
        // The 4 KiB one is cached, so its arena stays until the pool goes.
        pool.release(extra);
        assert_eq!(pool.arena_count(), 1);
        assert_eq!(pool.stats().in_use_bytes, 0);
        let again = pool.acquire_aligned(4096, 16 * 1024).unwrap();
        assert_eq!(again.base(), extra_base, "the cached slot, not a new arena");
        assert_eq!(pool.arena_count(), 1);
        pool.release(again);
    }

    #[test]
    fn arena_slots_cross_threads() {
        let pool = std::sync::Arc::new(SegmentPool::new(None));
        let segs: Vec<Segment> = (0..3)
            .map(|_| pool.acquire_aligned(12 * 1024, 16 * 1024).unwrap())
            .collect();
        let p = pool.clone();
        std::thread::spawn(move || {
            for s in segs {
                // SAFETY: s is a live segment of s.size() writable bytes, released just after.
                unsafe { s.base().as_ptr().write(1) };
                p.release(s);
            }
        })
        .join()
        .unwrap();
        assert_eq!(pool.arena_count(), 0);
        assert_eq!(pool.stats().in_use_bytes, 0);
    }

    #[test]
    fn bad_alignments_fail_cleanly() {
        let pool = SegmentPool::new(None);
        assert_eq!(
            pool.acquire_aligned(4096, 3000).err(),
            Some(AllocError::TooLarge)
        );
        assert_eq!(
            pool.acquire_aligned(4096, MAX_SEGMENT_ALIGN * 2).err(),
            Some(AllocError::TooLarge)
        );
        assert_eq!(pool.stats().in_use_bytes, 0);
        assert_eq!(pool.stats().segments_in_use, 0);
        // Below 16 means 16.
        let s = pool.acquire_aligned(4096, 1).unwrap();
        assert_eq!(s.align(), SEGMENT_ALIGN);
        pool.release(s);
    }

    #[test]
    fn aligned_requests_respect_max_memory() {
        let pool = SegmentPool::new(Some(32 * 1024));
        let a = pool.acquire_aligned(16 * 1024, 16 * 1024).unwrap();
        let b = pool.acquire_aligned(16 * 1024, 16 * 1024).unwrap();
        assert_eq!(
            pool.acquire_aligned(16 * 1024, 16 * 1024).err(),
            Some(AllocError::HeapLimit)
        );
        pool.release(a);
        pool.release(b);
    }
}
