//! Growth and lookup: first pages a few objects long, several classes in
//! one small block, pages that double up to whole blocks, blocks that grow
//! with the slab,
//! every object of every page size found (and nothing else), granules of an
//! emptied page handed to another class without a stale address ever
//! landing on anything but a slot start.

use super::super::block::{BLOCK_HEADER_BYTES, GRANULE_BYTES, PAGE_HEADER_BYTES, first_page_bytes};
use super::*;

/// Bytes of the page covering `addr` (granules times their size).
fn page_bytes(s: &Slab, addr: usize) -> usize {
    page_of(s, addr).granules as usize * GRANULE_BYTES
}

/// Slots a page of `bytes` holds: after its header, or for a whole block
/// after both headers.
fn capacity(bytes: usize, slot: usize, whole: bool) -> usize {
    let head = if whole {
        SEG_HEADER_BYTES
    } else {
        PAGE_HEADER_BYTES
    };
    (bytes - head) / slot
}

#[test]
fn first_pages_are_a_few_objects_long_and_classes_share_a_small_block() {
    let (pool, mut s) = slab();
    // Eight 24-byte slots fit a one-granule first page; the ninth object
    // takes a second page.
    let small: Vec<ObjRef> = (0..9).map(|_| obj(&mut s, 24)).collect();
    assert_eq!(first_page_bytes(24), GRANULE_BYTES);
    assert_eq!(capacity(GRANULE_BYTES, 24, false), 8);
    assert_eq!(page_bytes(&s, small[0].addr()), GRANULE_BYTES);
    assert!(std::ptr::eq(
        page_of(&s, small[0].addr()),
        page_of(&s, small[7].addr())
    ));
    assert!(!std::ptr::eq(
        page_of(&s, small[7].addr()),
        page_of(&s, small[8].addr())
    ));
    // One object in each of five more classes: still the one 4 KiB block.
    for size in [32, 64, 96, 128, 200] {
        let r = obj(&mut s, size);
        let slot = slot_bytes(size).unwrap();
        assert_eq!(
            page_bytes(&s, r.addr()),
            first_page_bytes(slot),
            "size {size}"
        );
        assert_eq!(
            base(r.addr()),
            base(small[0].addr()),
            "size {size} shares the block"
        );
    }
    assert_eq!(
        (s.segment_count(), s.held_bytes()),
        (1, SLAB_MIN_BLOCK_BYTES)
    );
    assert_eq!(pool.stats().in_use_bytes, SLAB_MIN_BLOCK_BYTES);
    s.verify().unwrap();
    // Seven granules are left: a 1 KiB slot's first page (2 KiB, eight
    // granules) needs a new block.
    assert_eq!(first_page_bytes(1024), 2048);
    obj(&mut s, 1000);
    assert_eq!(s.segment_count(), 2);
    // The largest class's first page is a whole small block with one slot.
    let big = obj(&mut s, MAX_CLASS_BYTES);
    assert_eq!(page_bytes(&s, big.addr()), SLAB_MIN_BLOCK_BYTES);
    assert_eq!(big.addr() - base(big.addr()), SEG_HEADER_BYTES);
    s.verify().unwrap();
}

#[test]
fn pages_double_up_to_whole_blocks_and_blocks_grow() {
    let (_pool, mut s) = slab();
    let (mut pages, mut blocks) = (Vec::new(), Vec::new());
    let mut last_page = std::ptr::null();
    while pages.len() < 11 {
        let r = obj(&mut s, 64);
        let p: *const PageHdr = page_of(&s, r.addr());
        if p != last_page {
            last_page = p;
            let b = s.held_block(r.addr()).unwrap();
            let whole = page_bytes(&s, r.addr()) == {
                // SAFETY: b is a held block's header.
                unsafe { (*b).bytes as usize }
            };
            pages.push((page_bytes(&s, r.addr()), whole));
            if blocks.last() != Some(&b.addr()) && !blocks.contains(&b.addr()) {
                blocks.push(b.addr());
            }
            if whole {
                assert_eq!(
                    r.addr() - b.addr(),
                    SEG_HEADER_BYTES,
                    "a whole block's first slot"
                );
            }
        }
    }
    // Each new page is twice the one before, from one granule up to a whole
    // 16 KiB block.
    let sizes: Vec<usize> = pages.iter().map(|p| p.0).collect();
    let k = 1024;
    let mut want = vec![256, 512, k, 2 * k, 4 * k, 8 * k];
    want.resize(11, 16 * k);
    assert_eq!(sizes, want);
    // Small pages share the first block; from 4 KiB on, a page is its block.
    assert!(pages[..4].iter().all(|p| !p.1));
    assert!(pages[4..].iter().all(|p| p.1));
    // Blocks: 4 KiB first, then at least half what is held (or the page).
    let block_sizes: Vec<usize> = blocks
        .iter()
        .map(|&b| {
            let b = s.held_block(b).unwrap();
            // SAFETY: b is a held block's header.
            unsafe { (*b).bytes as usize }
        })
        .collect();
    let mut want = vec![4 * k, 4 * k, 8 * k];
    want.resize(8, 16 * k);
    assert_eq!(block_sizes, want);
    // A new shared block is at least half what the slab holds: a first
    // page now gets a 16 KiB block, not a 4 KiB one.
    let late = obj(&mut s, 24);
    let b = s.held_block(late.addr()).unwrap();
    // SAFETY: b is a held block's header.
    assert_eq!(unsafe { (*b).bytes } as usize, SLAB_SEGMENT_BYTES);
    assert_eq!(
        late.addr() - b.addr(),
        GRANULE_BYTES + PAGE_HEADER_BYTES,
        "after the header granule"
    );
    s.verify().unwrap();
}

#[test]
fn every_object_of_every_page_size_is_found_and_nothing_else_is() {
    let (_pool, mut s) = slab();
    // Enough of a small and of the largest class for pages of every size.
    let count = |size: usize| if size < 1024 { 700 } else { 40 };
    let mut objs = Vec::new();
    for size in [24, 64, 200, MAX_CLASS_BYTES] {
        for _ in 0..count(size) {
            objs.push(obj(&mut s, size));
        }
    }
    let mut seen_sizes = std::collections::BTreeSet::new();
    for &r in &objs {
        let a = r.addr();
        seen_sizes.insert(page_bytes(&s, a));
        assert_eq!(s.slot(a), Some(r));
        assert!(s.owns_slot(a) && s.is_allocated(a) && s.holds(a));
        assert!(!s.owns_slot(a + 8), "inside the slot");
        assert!(!s.owns_slot(a - 8), "inside the slot or header before");
        let page = page_of(&s, a) as *const PageHdr as usize;
        assert!(!s.owns_slot(page), "the page header");
        let b = s.held_block(a).unwrap();
        assert!(
            !s.owns_slot(b.addr() + BLOCK_HEADER_BYTES),
            "the block header"
        );
        // SAFETY: b is a held block's header.
        let index = unsafe { (*b).index } as usize;
        assert_eq!(
            s.locate(r),
            Some(Location {
                segment: index,
                offset: a - b.addr()
            })
        );
    }
    let k = 1024;
    assert!(
        [256, 512, k, 2 * k, 4 * k, 8 * k, 16 * k]
            .iter()
            .all(|p| seen_sizes.contains(p)),
        "pages of every size: {seen_sizes:?}"
    );
    let mut n = 0;
    s.for_each_object(|_| n += 1);
    assert_eq!(n, objs.len());
    // Freed slots are still slots (their headers stay readable) while their
    // page is held; not allocated either way.
    for &r in objs.iter().step_by(3) {
        free(&mut s, r);
    }
    for &r in objs.iter().step_by(3) {
        let pages_left = s
            .held_block(r.addr())
            // SAFETY: b is a held block and r's address lies in its stretch.
            .is_some_and(|b| unsafe { map_entry(b, r.addr()) } != 0);
        assert_eq!(s.slot(r.addr()), pages_left.then_some(r));
        assert!(!s.is_allocated(r.addr()));
    }
    s.verify().unwrap();
}

#[test]
fn an_emptied_page_gives_its_granules_to_another_class_safely() {
    let (_pool, mut s) = slab();
    // Two first pages of the 64-byte class in the first block; empty the
    // first one (not current any more) so that it goes back.
    let a: Vec<ObjRef> = (0..6).map(|_| obj(&mut s, 64)).collect();
    let first = page_of(&s, a[0].addr()) as *const PageHdr;
    let old: Vec<ObjRef> = a
        .iter()
        .copied()
        .filter(|r| std::ptr::eq(page_of(&s, r.addr()), first))
        .collect();
    assert_eq!(old.len(), 3);
    for &r in &old {
        free(&mut s, r);
    }
    for &r in &old {
        assert_eq!(s.slot(r.addr()), None, "its granule is free: no slot");
        assert!(s.holds(r.addr()), "the block is still held");
    }
    s.verify().unwrap();
    // A 24-byte class's first page takes the free granule: a stale address
    // is then a slot start of the new page holding an initialised header,
    // or no slot at all, never anything else.
    let b = obj(&mut s, 24);
    assert_eq!(b.addr(), old[0].addr(), "the same first slot");
    assert_eq!(s.slot(old[0].addr()).map(|r| r.size()), Some(24));
    for &r in &old[1..] {
        assert_eq!(
            s.slot(r.addr()),
            None,
            "not a 24-byte slot start below bump"
        );
    }
    let more: Vec<ObjRef> = (0..7).map(|_| obj(&mut s, 24)).collect();
    for &r in &old {
        if let Some(x) = s.slot(r.addr()) {
            assert!(more.contains(&x) || x == b);
            assert_eq!(x.size(), 24);
        }
    }
    s.verify().unwrap();
}

#[test]
fn a_page_goes_where_a_block_has_room_else_into_a_new_block() {
    let (_pool, mut s) = slab();
    let x = obj(&mut s, 1000); // class 1024, a 2 KiB page: granules 1 to 8
    let y = obj(&mut s, 500); // class 512, 1 KiB: granules 9 to 12
    let w = obj(&mut s, 150); // class 160, 256 bytes: granule 13
    assert!(base(y.addr()) == base(x.addr()) && base(w.addr()) == base(x.addr()));
    let z = obj(&mut s, 700); // class 768, 1 KiB: two granules left, a new block
    assert_ne!(base(z.addr()), base(x.addr()));
    // x's page is full: the next 1024-byte object's page is twice as big,
    // 4 KiB, which no open block has room for: a block of its own.
    let x2 = obj(&mut s, 1000);
    assert!(base(x2.addr()) != base(z.addr()) && base(x2.addr()) != base(x.addr()));
    assert_eq!(page_bytes(&s, x2.addr()), 4096);
    assert_eq!(x2.addr() - base(x2.addr()), SEG_HEADER_BYTES);
    // A 1 KiB first page of another class still finds room in z's block.
    let y2 = obj(&mut s, 600);
    assert_eq!(base(y2.addr()), base(z.addr()));
    s.verify().unwrap();
    // x's page, no longer current, empties and gives its granules back: a
    // 2 KiB first page of another class (1280) takes them.
    free(&mut s, x);
    assert_eq!(s.slot(x.addr()), None);
    let u = obj(&mut s, 1100);
    assert_eq!(u.addr(), x.addr(), "it takes the freed run");
    s.verify().unwrap();
}
