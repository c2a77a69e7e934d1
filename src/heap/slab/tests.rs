//! Unit tests of the slab: classes, allocation and reuse, spans, blocks
//! going back, limits, a slab that has not allocated, the registry,
//! iteration and the slab's own verifier. Growth, sharing blocks and lookup
//! in every page size are in `tests/growth.rs`.

mod growth;

use super::block::{GRANULE_BYTES, PAGE_HEADER_BYTES, SPAN_ROUND, for_each_page};
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

/// Frees `r`, which the test allocated from `s` and has not freed.
fn free(s: &mut Slab, r: ObjRef) {
    // SAFETY: callers pass objects of s, each freed once; after, only their
    // addresses (or their headers, while their page is held) are used.
    unsafe { s.free(r) };
}

/// The header of the page covering `addr`, a slot of a block `s` holds.
fn page_of(s: &Slab, addr: usize) -> &PageHdr {
    let b = s.held_block(addr).expect("a held block");
    // SAFETY: b is a held block and addr lies in its stretch.
    let m = unsafe { map_entry(b, addr) } << MAP_SHIFT;
    assert_ne!(m, 0, "no page covers {addr:#x}");
    // SAFETY: the map names a page header inside the block.
    unsafe { &*b.cast::<u8>().add(m).cast::<PageHdr>() }
}

/// Pages of class `c` held.
fn class_pages(s: &Slab, c: usize) -> usize {
    let mut n = 0;
    for seg in s.segs() {
        for_each_page(seg.base().as_ptr().cast::<BlockHdr>(), |p| {
            // SAFETY: p is a page header of a held block.
            n += usize::from(unsafe { (*p).class } as usize == c);
        });
    }
    n
}

/// The base of the block holding `addr`.
fn base(addr: usize) -> usize {
    addr & !(SLAB_SEGMENT_BYTES - 1)
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
        for rel in 0..SLAB_SEGMENT_BYTES as u64 {
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
        assert_eq!(a.addr() % 16, 0, "slots are 16-aligned");
        // Free one in the current page (the other may have a page of its
        // own, which would go back): its slot is the next one handed out.
        let (other, freed) = if std::ptr::eq(page_of(&s, a.addr()), page_of(&s, b.addr())) {
            assert_eq!(b.addr(), a.addr() + size, "bump allocation is contiguous");
            (b, a)
        } else {
            (a, b)
        };
        free(&mut s, freed);
        assert!(
            freed.header().flags & FLAG_FREED != 0,
            "a freed slot keeps a readable header"
        );
        assert_eq!(freed.size(), size);
        let c = obj(&mut s, size);
        assert_eq!(c.addr(), freed.addr(), "the freed slot is reused first");
        free(&mut s, other);
        free(&mut s, c);
        s.verify().unwrap();
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
    let page = page_of(&s, a.addr()) as *const PageHdr as usize;
    assert_eq!(a.addr(), page + PAGE_HEADER_BYTES);
    assert!(!s.owns_slot(page), "the page header");
    assert!(!s.owns_slot(base(a.addr())), "the block header");
    assert!(!s.owns_slot(page + GRANULE_BYTES), "a free granule");
    assert!(
        !s.owns_slot(base(a.addr()) + SLAB_SEGMENT_BYTES + PAGE_HEADER_BYTES),
        "the next stretch is not ours"
    );
    let elsewhere = Box::new([0u64; 4]);
    assert!(!s.owns_slot(elsewhere.as_ptr().addr()));
    free(&mut s, a);
    assert!(s.owns_slot(a.addr()), "a freed slot is still a slot");
    assert!(!s.is_allocated(a.addr()));
    assert!(s.is_allocated(b.addr()));
    assert_eq!(
        s.locate(b),
        Some(Location {
            segment: 0,
            offset: b.addr() - base(b.addr()),
        })
    );
}

#[test]
fn a_short_block_or_span_holds_only_its_own_pages() {
    // A 4 KiB block or span is aligned to 16 KiB, but the rest of that
    // stretch is not the slab's: the verifiers once took static data that
    // the allocator had put there for an object of this heap (fuzzing).
    let (_pool, mut s) = slab();
    let big = obj(&mut s, MAX_CLASS_BYTES + 8);
    let span = big.addr() - SEG_HEADER_BYTES;
    assert_eq!(span, base(big.addr()));
    assert!(s.holds(big.addr()));
    assert!(s.holds(span + SPAN_ROUND - 1));
    assert!(!s.holds(span + SPAN_ROUND));
    assert!(!s.holds(span + SLAB_SEGMENT_BYTES - 8));
    let small = obj(&mut s, 16);
    let block = base(small.addr());
    assert_eq!(s.held_bytes(), SPAN_ROUND + SLAB_MIN_BLOCK_BYTES);
    assert!(
        s.holds(block + SLAB_MIN_BLOCK_BYTES - 8),
        "a block is held whole"
    );
    assert!(!s.holds(block + SLAB_MIN_BLOCK_BYTES), "but no further");
    assert!(!s.owns_slot(block + SLAB_MIN_BLOCK_BYTES + PAGE_HEADER_BYTES));
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
        "a span is longer than a block"
    );
    assert!(
        !s.owns_slot(base(big.addr()) + 2 * SLAB_SEGMENT_BYTES + SEG_HEADER_BYTES),
        "past a span's first 16 KiB, nothing starts"
    );
    assert_eq!(s.segment_count(), 1);
    assert_eq!(
        s.held_bytes(),
        (SEG_HEADER_BYTES + 100_000).div_ceil(4096) * 4096
    );
    assert_eq!(pool.stats().in_use_bytes, s.held_bytes());
    assert_eq!(s.segment_map()[0].used, 100_000);
    assert!(s.segment_map()[0].large);
    s.verify().unwrap();
    free(&mut s, big);
    assert_eq!((s.segment_count(), s.held_bytes()), (0, 0));
    assert_eq!(pool.stats().in_use_bytes, 0);
    assert!(!s.owns_slot(big.addr()));
}

#[test]
fn a_block_emptied_by_frees_goes_back_to_the_pool() {
    let (pool, mut s) = slab();
    let objs: Vec<ObjRef> = (0..500).map(|_| obj(&mut s, 64)).collect();
    assert!(s.segment_count() >= 3);
    let first = base(objs[0].addr());
    let in_first: Vec<ObjRef> = objs
        .iter()
        .copied()
        .filter(|r| base(r.addr()) == first)
        .collect();
    let (blocks, in_use) = (s.segment_count(), pool.stats().in_use_bytes);
    // Free the first block's objects: it goes back at the last one.
    for &r in &in_first[..in_first.len() - 1] {
        free(&mut s, r);
    }
    assert_eq!(s.segment_count(), blocks, "still one object in it");
    s.verify().unwrap();
    free(&mut s, in_first[in_first.len() - 1]);
    assert_eq!(s.segment_count(), blocks - 1);
    assert_eq!(
        pool.stats().in_use_bytes,
        in_use - SLAB_MIN_BLOCK_BYTES,
        "the first block is a small one"
    );
    assert!(!s.owns_slot(objs[0].addr()), "its slots are no longer ours");
    assert!(!s.holds(objs[0].addr()));
    s.verify().unwrap();
    // The current page stays when it empties; the others go.
    for &r in objs.iter().filter(|r| base(r.addr()) != first) {
        free(&mut s, r);
    }
    assert_eq!(s.segment_count(), 1);
    assert_eq!(s.live_objects(), 0);
    s.verify().unwrap();
}

#[test]
fn the_current_page_stays_when_it_empties() {
    let (pool, mut s) = slab();
    let a = obj(&mut s, 40);
    free(&mut s, a);
    assert_eq!(s.segment_count(), 1);
    assert_eq!(pool.stats().in_use_bytes, SLAB_MIN_BLOCK_BYTES);
    s.verify().unwrap();
    let b = obj(&mut s, 40);
    assert_eq!(b.addr(), a.addr());
    assert_eq!(s.segment_count(), 1);
}

#[test]
fn a_full_current_page_gives_way_to_a_partial_one() {
    let (_pool, mut s) = slab();
    // 64-byte slots: three to a first page.
    let c = Slab::class_of(64).unwrap();
    let mut objs = vec![obj(&mut s, 64)];
    let first_page = s.tables().classes[c].cur;
    // Fill pages until the current one is full and a later one than the first.
    loop {
        let cur = s.tables().classes[c].cur;
        // SAFETY: cur is the class's current page, held.
        let h = unsafe { &*cur };
        if cur != first_page && h.bump == h.limit {
            break;
        }
        objs.push(obj(&mut s, 64));
    }
    free(&mut s, objs[0]);
    s.verify().unwrap();
    // The current page is full: the next object takes the hole in the
    // first page rather than a new page.
    let pages = class_pages(&s, c);
    let r = obj(&mut s, 64);
    assert_eq!(r.addr(), objs[0].addr());
    assert_eq!(class_pages(&s, c), pages, "no new page");
    s.verify().unwrap();
    let again = obj(&mut s, 64);
    assert_eq!(class_pages(&s, c), pages + 1, "all full now");
    for r in objs.iter().skip(1).chain([&r, &again]) {
        free(&mut s, *r);
    }
    s.verify().unwrap();
    assert_eq!(s.live_objects(), 0);
}

#[test]
fn max_heap_bounds_the_blocks_held() {
    let pool = Arc::new(SegmentPool::new(None));
    let limit = 2 * SLAB_SEGMENT_BYTES;
    let mut s = Slab::new(pool.clone(), Some(limit));
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
    // Near the bound, blocks and pages shrink rather than fail early.
    assert!(s.held_bytes() <= limit);
    assert!(
        s.held_bytes() > limit - SLAB_MIN_BLOCK_BYTES,
        "the bound is used: {} bytes held",
        s.held_bytes()
    );
    assert!(n > limit / 2 / 64, "{n} objects");
    assert_eq!(s.alloc(100_000).err(), Some(AllocError::HeapLimit));
    assert_eq!(pool.stats().in_use_bytes, s.held_bytes());
    s.verify().unwrap();
    // The pool's own bound applies too: a 2 KiB object's first page is a
    // 4 KiB block of its own.
    let small = Arc::new(SegmentPool::new(Some(SLAB_MIN_BLOCK_BYTES)));
    let mut t = Slab::new(small, None);
    obj(&mut t, 64);
    obj(&mut t, 1024);
    assert_eq!(
        t.segment_count(),
        1,
        "a 1 KiB object's first page still fits"
    );
    assert_eq!(t.alloc(2048).err(), Some(AllocError::HeapLimit));
    assert_eq!(t.alloc(usize::MAX / 4).err(), Some(AllocError::TooLarge));
    t.verify().unwrap();
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
    assert_eq!(s.segment_count(), 2, "two classes share a block; a span");
    assert_eq!(s.held_bytes(), pool.stats().in_use_bytes);
    let used: usize = s.segment_map().iter().map(|u| u.used).sum();
    assert_eq!(used, 24 + 224 + 5000, "slots in use, and the span's object");
    free(&mut s, b);
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
fn a_slab_that_has_not_allocated_holds_nothing_and_shares_nothing() {
    // It points at the shared empty tables; they must answer every question
    // and never be written (another slab's allocation must not show).
    assert!(
        std::mem::size_of::<Slab>() <= 80,
        "an idle slab is small: {} bytes",
        std::mem::size_of::<Slab>()
    );
    let (pool, idle) = slab();
    let (_pool2, mut busy) = slab();
    let r = obj(&mut busy, 64);
    assert!(busy.owns_tables() && !idle.owns_tables());
    for a in [r.addr(), base(r.addr()), 0, usize::MAX] {
        assert!(!idle.owns_slot(a) && !idle.holds(a) && !idle.is_allocated(a));
    }
    assert_eq!(idle.locate(r), None);
    let mut n = 0;
    idle.for_each_object(|_| n += 1);
    assert_eq!(n, 0);
    assert!(idle.segment_map().is_empty() && idle.leaks_by_site(|_| 0).is_empty());
    assert_eq!((idle.segment_count(), idle.held_bytes()), (0, 0));
    idle.verify().unwrap();
    assert_eq!(
        NO_TABLES.0.registry.len(),
        0,
        "the shared tables are untouched"
    );
    assert!(NO_TABLES.0.classes.iter().all(|c| c.cur.is_null()));
    drop(idle);
    assert_eq!(pool.stats().in_use_bytes, 0);
    busy.verify().unwrap();
}

#[test]
fn the_registry_finds_what_it_holds_and_nothing_else() {
    // Headers are never read through the registry, so addresses without
    // provenance stand in for blocks here.
    let block = |n: usize| std::ptr::without_provenance_mut::<BlockHdr>(n * SLAB_SEGMENT_BYTES);
    let mut reg = Registry::new();
    assert_eq!(reg.get(0), None, "an empty table misses everything");
    assert_eq!(reg.get(SLAB_SEGMENT_BYTES), None);
    let n = if cfg!(miri) { 200 } else { 3000 };
    // Block numbers from a full-period LCG mod 2^20: distinct, scattered,
    // and crowded enough to collide.
    let nums: Vec<usize> = (0..n)
        .scan(7usize, |x, _| {
            *x = (*x * 1_103_515_245 + 12_345) % (1 << 20);
            Some(*x + 1)
        })
        .collect();
    let mut model = std::collections::BTreeSet::new();
    for (i, &k) in nums.iter().enumerate() {
        reg.insert(block(k));
        model.insert(k);
        assert!(reg.capacity() >= 2 * reg.len(), "at most half full");
        if i % 3 == 2 {
            // Remove an earlier one: the entries after it shift back.
            let gone = nums[i / 2];
            reg.remove(gone * SLAB_SEGMENT_BYTES);
            model.remove(&gone);
        }
    }
    assert_eq!(reg.len(), model.len());
    for &k in &nums {
        let want = model.contains(&k).then(|| block(k));
        assert_eq!(reg.get(k * SLAB_SEGMENT_BYTES), want, "block {k}");
    }
    assert_eq!(reg.get(0), None, "address 0 is never a block");
    reg.remove(12_345 * SLAB_SEGMENT_BYTES + 1); // not held: nothing happens
    assert_eq!(reg.len(), model.len());
    for &k in &model {
        reg.remove(k * SLAB_SEGMENT_BYTES);
    }
    assert_eq!(reg.len(), 0);
    assert!(
        nums.iter()
            .all(|&k| reg.get(k * SLAB_SEGMENT_BYTES).is_none())
    );
}

#[test]
fn verify_catches_a_broken_block() {
    let (_pool, mut s) = slab();
    let a = obj(&mut s, 64);
    let b = obj(&mut s, 64);
    free(&mut s, a);
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
    b.header_mut().size = 64;
    s.verify().unwrap();
    let bh = s.held_block(b.addr()).unwrap();
    // Each change goes through the header pointer and ends before verify
    // reads the header (no reference is kept across it).
    let set_map = |g: usize, m: u8| {
        // SAFETY: bh is a held block's header; the test restores what it changes.
        unsafe { (*bh).map[g] = m };
    };
    // A free granule that the map says a page covers.
    let g = (b.addr() - base(b.addr())) / GRANULE_BYTES + 1;
    // SAFETY: as above (a read).
    let m = unsafe { (*bh).map[g - 1] };
    set_map(g, m);
    let e = s.verify().unwrap_err();
    assert!(e.contains("granule"), "{e}");
    set_map(g, 0);
    s.verify().unwrap();
    // A block on the wrong open list.
    // SAFETY: as above.
    let was = unsafe { (*bh).bucket };
    // SAFETY: as above.
    unsafe { (*bh).bucket = was.wrapping_sub(1) };
    let e = s.verify().unwrap_err();
    assert!(e.contains("open list"), "{e}");
    // SAFETY: as above.
    unsafe { (*bh).bucket = was };
    s.verify().unwrap();
}
