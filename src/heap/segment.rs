//! The segment pool: the one source of memory for every heap.
//!
//! A segment is a contiguous, 16-aligned block of memory that one heap owns at
//! a time. Heaps take segments from the pool and give them back when a
//! collection empties them or their process ends. The pool counts the bytes
//! it has handed out and refuses requests past `--max-memory`; it keeps a
//! bounded cache of returned standard-size segments so that a heap that
//! shrinks and grows again does not go back to the system allocator.

use crate::value::AllocError;
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
const SEGMENT_ALIGN: usize = 16;

/// A block of memory owned by one heap. It must go back through
/// [`SegmentPool::release`]; dropping it any other way leaks it.
#[derive(Debug)]
pub struct Segment {
    ptr: NonNull<u8>,
    size: usize,
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

    #[inline]
    pub fn contains(&self, addr: usize) -> bool {
        let b = self.ptr.as_ptr() as usize;
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
    /// Returned standard segments, by size class (index = log2(size / MIN)).
    cache: Mutex<Vec<Vec<Segment>>>,
    cached_bytes: AtomicUsize,
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
            cache: Mutex::new((0..classes).map(|_| Vec::new()).collect()),
            cached_bytes: AtomicUsize::new(0),
        }
    }

    pub fn max_memory(&self) -> Option<usize> {
        self.max_memory
    }

    /// Takes a segment of exactly `size` bytes (a multiple of 16). Fails with
    /// `HeapLimit` past `--max-memory`, `OutOfMemory` when the system refuses.
    pub fn acquire(&self, size: usize) -> Result<Segment, AllocError> {
        if size == 0 || size > isize::MAX as usize / 2 {
            return Err(AllocError::TooLarge);
        }
        self.reserve(size)?;
        if let Some(c) = size_class(size) {
            let cached = self.cache.lock().ok().and_then(|mut cache| cache[c].pop());
            if let Some(seg) = cached {
                self.cached_bytes.fetch_sub(size, Ordering::Relaxed);
                return Ok(seg);
            }
        }
        let layout =
            Layout::from_size_align(size, SEGMENT_ALIGN).map_err(|_| AllocError::TooLarge)?;
        // SAFETY: layout has non-zero size (checked above).
        let p = unsafe { alloc(layout) };
        match NonNull::new(p) {
            Some(ptr) => Ok(Segment { ptr, size }),
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
            cache[c].push(seg);
            self.cached_bytes.fetch_add(size, Ordering::Relaxed);
            return;
        }
        free_segment(seg);
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

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            in_use_bytes: self.in_use.load(Ordering::Relaxed),
            peak_bytes: self.peak.load(Ordering::Relaxed),
            segments_in_use: self.segments.load(Ordering::Relaxed),
            cached_bytes: self.cached_bytes.load(Ordering::Relaxed),
        }
    }
}

fn free_segment(seg: Segment) {
    if let Ok(layout) = Layout::from_size_align(seg.size, SEGMENT_ALIGN) {
        // SAFETY: the segment was allocated by `acquire` with this very layout.
        unsafe { dealloc(seg.ptr.as_ptr(), layout) };
    }
}

impl Drop for SegmentPool {
    fn drop(&mut self) {
        if let Ok(cache) = self.cache.get_mut() {
            for class in cache.drain(..) {
                class.into_iter().for_each(free_segment);
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
}
