//! Unit tests of the slab: classes, allocation and reuse, spans, segment
//! return, limits, the registry, iteration and the slab's own verifier.

use super::*;
use crate::value::object::init_header;

fn slab() -> (Arc<SegmentPool>, Slab) {
    let pool = Arc::new(SegmentPool::new(None));
    (pool.clone(), Slab::new(pool, None))
}

/// Allocates an object of `size` bytes and writes its header, as a backend does.
fn obj(s: &mut Slab, size: usize) -> ObjRef {
    let p = s.alloc(size).unwrap();
    // SAFETY: the slab handed out `size` bytes.
    unsafe { init_header(p, Kind::Bytes, size, 0, 0) }
}

#[test]
fn every_size_gets_the_smallest_class_that_fits() {
    for size in (8..=MAX_CLASS_BYTES).step_by(8) {
        let c = Slab::class_of(size).unwrap();
        assert!(CLASS_SIZES[c] as usize >= size.max(MIN_SLOT));
        if c > 0 {
            assert!(
                (CLASS_SIZES[c - 1] as usize) < size,
                "size {size} not in its smallest class"
            );
        }
    }
    assert_eq!(Slab::class_of(MAX_CLASS_BYTES + 8), None);
    assert_eq!(slot_bytes(16), Some(24));
    assert_eq!(slot_bytes(64), Some(64));
    assert_eq!(slot_bytes(136), Some(160));
}
const MIN_SLOT: usize = 24;

#[test]
fn slot_arithmetic_is_exact_for_every_class_and_offset() {
    for &slot in &CLASS_SIZES {
        let magic = ((1u64 << 32) / slot as u64 + 1) as u32;
        for rel in 0..(SLAB_SEGMENT_BYTES - SEG_HEADER_BYTES) as u64 {
            let idx = (rel * magic as u64) >> 32;
            assert_eq!(idx, rel / slot as u64, "slot {slot}, offset {rel}");
        }
    }
}

#[test]
fn each_class_allocates_frees_and_reuses_its_slots() {
    let (_pool, mut s) = slab();
    for &slot in &CLASS_SIZES {
        let size = slot as usize;
        let a = obj(&mut s, size);
        let b = obj(&mut s, size);
        assert_eq!(b.addr(), a.addr() + size, "bump allocation is contiguous");
        assert_eq!(a.addr() % 8, 0);
        // SAFETY: a is allocated by s and freed once; after, only its header (slab memory) is read.
        unsafe { s.free(a) };
        assert!(
            a.header().flags & FLAG_FREED != 0,
            "a freed slot keeps a readable header"
        );
        assert_eq!(a.size(), size);
        let c = obj(&mut s, size);
        assert_eq!(c.addr(), a.addr(), "the freed slot is reused first");
        // SAFETY: b and c are allocated by s, each freed once and not used after.
        unsafe {
            s.free(b);
            s.free(c);
        }
    }
    assert_eq!((s.live_objects(), s.live_bytes()), (0, 0));
    s.verify().unwrap();
}

#[test]
fn owns_slot_answers_from_the_registry_without_reading() {
    let (_pool, mut s) = slab();
    let a = obj(&mut s, 64);
    let b = obj(&mut s, 64);
    assert!(s.owns_slot(a.addr()) && s.owns_slot(b.addr()));
    assert!(!s.owns_slot(a.addr() + 8), "inside a slot");
    assert!(!s.owns_slot(b.addr() + 64), "past the bump offset");
    let base = a.addr() & !(SLAB_SEGMENT_BYTES - 1);
    assert!(!s.owns_slot(base), "the segment header");
    assert!(
        !s.owns_slot(base + SLAB_SEGMENT_BYTES),
        "the next segment is not ours"
    );
    let elsewhere = Box::new([0u64; 4]);
    assert!(!s.owns_slot(elsewhere.as_ptr().addr()));
    // SAFETY: a is allocated by s and freed once; only its address is used after.
    unsafe { s.free(a) };
    assert!(s.owns_slot(a.addr()), "a freed slot is still a slot");
    assert!(!s.is_allocated(a.addr()));
    assert!(s.is_allocated(b.addr()));
    assert_eq!(
        s.locate(b),
        Some(Location {
            segment: 0,
            offset: SEG_HEADER_BYTES + 64
        })
    );
}

#[test]
fn a_short_span_holds_only_its_own_pages() {
    // A span of one page is aligned like a segment, but the rest of that
    // aligned block is not the slab's: the verifiers once took static data
    // that the allocator had put there for an object of this heap (fuzzing).
    let (_pool, mut s) = slab();
    let big = obj(&mut s, MAX_CLASS_BYTES + 8);
    let base = big.addr() - SEG_HEADER_BYTES;
    assert!(s.holds(big.addr()));
    assert!(s.holds(base + SPAN_ROUND - 1));
    assert!(!s.holds(base + SPAN_ROUND));
    assert!(!s.holds(base + SLAB_SEGMENT_BYTES - 8));
    // A class segment is held whole.
    let small = obj(&mut s, 16);
    let seg = small.addr() & !(SLAB_SEGMENT_BYTES - 1);
    assert!(s.holds(seg + SLAB_SEGMENT_BYTES - 8));
}

#[test]
fn large_objects_get_aligned_spans_that_go_back_when_freed() {
    let (pool, mut s) = slab();
    let big = obj(&mut s, 100_000);
    assert_eq!(big.addr() % SLAB_SEGMENT_BYTES, SEG_HEADER_BYTES);
    assert!(s.owns_slot(big.addr()));
    assert!(!s.owns_slot(big.addr() + 8));
    assert!(
        s.holds(big.addr() + 90_000),
        "a span is longer than a segment"
    );
    assert_eq!(s.segment_count(), 1);
    assert_eq!(
        s.held_bytes(),
        (SEG_HEADER_BYTES + 100_000).div_ceil(4096) * 4096
    );
    assert_eq!(pool.stats().in_use_bytes, s.held_bytes());
    s.verify().unwrap();
    // SAFETY: big is allocated by s and freed once; only its address is used after.
    unsafe { s.free(big) };
    assert_eq!((s.segment_count(), s.held_bytes()), (0, 0));
    assert_eq!(pool.stats().in_use_bytes, 0);
    assert!(!s.owns_slot(big.addr()));
}

#[test]
fn a_segment_emptied_by_frees_goes_back_to_the_pool() {
    let (pool, mut s) = slab();
    let per_segment = (SLAB_SEGMENT_BYTES - SEG_HEADER_BYTES) / 64;
    let objs: Vec<ObjRef> = (0..per_segment * 3).map(|_| obj(&mut s, 64)).collect();
    assert_eq!(s.segment_count(), 3);
    assert_eq!(pool.stats().in_use_bytes, 3 * SLAB_SEGMENT_BYTES);
    // Free the first segment's objects: it goes back at the last one.
    for &r in &objs[..per_segment - 1] {
        // SAFETY: each object is allocated by s and freed once, never used after.
        unsafe { s.free(r) };
    }
    assert_eq!(s.segment_count(), 3, "still one object in it");
    // SAFETY: the segment's last object, allocated by s and not yet freed.
    unsafe { s.free(objs[per_segment - 1]) };
    assert_eq!(s.segment_count(), 2);
    assert_eq!(pool.stats().in_use_bytes, 2 * SLAB_SEGMENT_BYTES);
    assert!(!s.owns_slot(objs[0].addr()), "its slots are no longer ours");
    s.verify().unwrap();
    // The current segment stays when it empties; the others go.
    for &r in &objs[per_segment..] {
        // SAFETY: each object is allocated by s and freed once, never used after.
        unsafe { s.free(r) };
    }
    assert_eq!(s.segment_count(), 1);
    assert_eq!(s.held_bytes(), SLAB_SEGMENT_BYTES);
    s.verify().unwrap();
}

#[test]
fn a_full_current_segment_gives_way_to_a_partial_one() {
    let (_pool, mut s) = slab();
    let per_segment = (SLAB_SEGMENT_BYTES - SEG_HEADER_BYTES) / 128;
    let first: Vec<ObjRef> = (0..per_segment).map(|_| obj(&mut s, 128)).collect();
    let second: Vec<ObjRef> = (0..per_segment).map(|_| obj(&mut s, 128)).collect();
    assert_eq!(s.segment_count(), 2);
    // SAFETY: first[5] is allocated by s and freed once; only its address is used after.
    unsafe { s.free(first[5]) };
    s.verify().unwrap();
    // The current (second) segment is full: the next object takes the hole
    // in the first rather than a new segment.
    let r = obj(&mut s, 128);
    assert_eq!(r.addr(), first[5].addr());
    assert_eq!(s.segment_count(), 2);
    s.verify().unwrap();
    let again = obj(&mut s, 128);
    assert_eq!(s.segment_count(), 3, "both full now");
    for r in first.iter().chain(&second).chain([&r, &again]) {
        if s.is_allocated(r.addr()) {
            // SAFETY: is_allocated says r is an allocated object of s; it is freed once.
            unsafe { s.free(*r) };
        }
    }
    s.verify().unwrap();
    assert_eq!(s.live_objects(), 0);
}

#[test]
fn max_heap_bounds_the_segments_held() {
    let pool = Arc::new(SegmentPool::new(None));
    let mut s = Slab::new(pool.clone(), Some(2 * SLAB_SEGMENT_BYTES));
    let mut n = 0;
    let err = loop {
        match s.alloc(64) {
            Ok(p) => {
                // SAFETY: p comes from s.alloc(64): 64 writable, 8-aligned bytes.
                unsafe { init_header(p, Kind::Bytes, 64, 0, 0) };
                n += 1;
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err, AllocError::HeapLimit);
    assert_eq!(n, 2 * ((SLAB_SEGMENT_BYTES - SEG_HEADER_BYTES) / 64));
    assert_eq!(s.held_bytes(), 2 * SLAB_SEGMENT_BYTES);
    assert_eq!(s.alloc(100_000).err(), Some(AllocError::HeapLimit));
    assert_eq!(pool.stats().in_use_bytes, 2 * SLAB_SEGMENT_BYTES);
    s.verify().unwrap();
    // The pool's own bound applies too.
    let small = Arc::new(SegmentPool::new(Some(SLAB_SEGMENT_BYTES)));
    let mut t = Slab::new(small, None);
    obj(&mut t, 64);
    assert_eq!(t.alloc(1024).err(), Some(AllocError::HeapLimit));
    assert_eq!(t.alloc(usize::MAX / 4).err(), Some(AllocError::TooLarge));
}

#[test]
fn stats_and_iteration_follow_allocation() {
    let (pool, mut s) = slab();
    let a = obj(&mut s, 24);
    let b = obj(&mut s, 200);
    let c = obj(&mut s, 5000);
    assert_eq!(s.live_objects(), 3);
    assert_eq!(s.live_bytes(), 24 + 200 + 5000);
    assert_eq!(s.allocated_bytes(), 24 + 200 + 5000);
    assert_eq!(s.segment_count(), 3, "two classes and a span");
    assert_eq!(s.held_bytes(), pool.stats().in_use_bytes);
    // SAFETY: b is allocated by s and freed once; it is not used after.
    unsafe { s.free(b) };
    let mut seen = Vec::new();
    s.for_each_object(|r| seen.push(r.addr()));
    seen.sort();
    let mut want = vec![a.addr(), c.addr()];
    want.sort();
    assert_eq!(seen, want);
    assert_eq!((s.live_objects(), s.live_bytes()), (2, 24 + 5000));
    assert_eq!(s.freed_objects(), 1);
    assert_eq!(s.allocated_bytes(), 24 + 200 + 5000);
    drop(s);
    assert_eq!(
        pool.stats().in_use_bytes,
        0,
        "dropping the slab gives everything back"
    );
}

#[test]
fn verify_catches_a_broken_segment() {
    let (_pool, mut s) = slab();
    let a = obj(&mut s, 64);
    let b = obj(&mut s, 64);
    // SAFETY: a is allocated by s and freed once; its header stays readable slab memory.
    unsafe { s.free(a) };
    s.verify().unwrap();
    // A freed slot that says it is allocated: counts no longer agree.
    a.header_mut().flags &= !FLAG_FREED;
    let e = s.verify().unwrap_err();
    assert!(e.contains("allocated"), "{e}");
    a.header_mut().flags |= FLAG_FREED;
    s.verify().unwrap();
    // An allocated object whose size does not fit its slot.
    b.header_mut().size = 4096;
    let e = s.verify().unwrap_err();
    assert!(e.contains("4096"), "{e}");
}
