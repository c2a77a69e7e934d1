//! Unit tests of the manual backend: stamps, check, free, double free, use
//! after reuse, stale references into blocks gone back, leaks, internal
//! storage, dangling references under verify. What every backend must do
//! is the heap test kit's (`heap_kit!` below).

use super::*;
use crate::heap::slab::{SEG_HEADER_BYTES, SLAB_MIN_BLOCK_BYTES, SLAB_SEGMENT_BYTES};
use crate::heap::statics::StaticSegment;
use crate::value::list::new_list;
use crate::value::map::new_map;
use crate::value::string::new_str;

crate::heap::kit::heap_kit!(ManualHeap);

fn heap() -> (Arc<SegmentPool>, ManualHeap) {
    let pool = Arc::new(SegmentPool::new(None));
    let h = ManualHeap::new(pool.clone(), HeapConfig::default());
    (pool, h)
}

fn stamp(v: &Value) -> u32 {
    match v {
        Value::Obj(s, _) => *s,
        _ => 0,
    }
}

fn uaf(site: u32) -> Result<(), MemError> {
    Err(MemError::UseAfterFree { freed_at: site })
}

fn double(site: u32) -> Result<(), MemError> {
    Err(MemError::DoubleFree { freed_at: site })
}

#[test]
fn references_carry_fresh_nonzero_generations() {
    let (_pool, mut h) = heap();
    let a = new_list(&mut h, &[Value::Int(1)]).unwrap();
    let b = new_list(&mut h, &[Value::Int(2)]).unwrap();
    assert!(stamp(&a) != 0 && stamp(&b) != 0);
    assert_ne!(stamp(&a), stamp(&b));
    h.free(&a, 1).unwrap();
    let c = new_list(&mut h, &[Value::Int(3)]).unwrap();
    assert_eq!(c.as_obj(), a.as_obj(), "the slot was reused");
    assert_ne!(
        stamp(&c),
        stamp(&a),
        "a new object at the same place has a new generation"
    );
    // Generations skip 0 when the serial wraps.
    h.serial = u32::MAX;
    let d = new_list(&mut h, &[]).unwrap();
    assert_eq!(stamp(&d), 1);
}

#[test]
fn check_accepts_live_static_and_immediate_values() {
    let (_pool, mut h) = heap();
    let mut statics = StaticSegment::new();
    let s = new_str(&mut statics, "static").unwrap();
    let l = new_list(&mut h, &[s]).unwrap();
    assert_eq!(h.check(&l), Ok(()));
    assert_eq!(h.check(&s), Ok(()));
    for v in [Value::Nil, Value::Int(3), Value::Bool(true), Value::Pid(1)] {
        assert_eq!(h.check(&v), Ok(()));
    }
    // free of static data (the VM refuses it first) changes nothing.
    assert_eq!(h.free(&s, 9), Ok(()));
    assert_eq!(h.check(&l), Ok(()));
    assert!(!h.gc_due());
    assert!(h.collect(&mut vec![], GcReason::Explicit).is_none());
}

#[test]
fn free_releases_at_once_and_use_after_it_names_the_site() {
    let (_pool, mut h) = heap();
    let keep = new_list(&mut h, &[Value::Int(0)]).unwrap();
    let a = new_list(&mut h, &[Value::Int(1), Value::Int(2)]).unwrap();
    let before = h.stats();
    assert_eq!(h.free(&a, 42), Ok(()));
    let after = h.stats();
    assert_eq!(
        before.live_bytes - after.live_bytes,
        a.as_obj().unwrap().size()
    );
    assert_eq!(after.freed_objects, 1);
    assert_eq!(after.collections, 0);
    assert_eq!(h.check(&a), uaf(42));
    assert_eq!(h.check(&keep), Ok(()));
}

#[test]
fn a_stale_reference_is_caught_after_its_slot_is_reused() {
    let (_pool, mut h) = heap();
    let a = new_list(&mut h, &[Value::Int(1), Value::Int(2)]).unwrap();
    h.free(&a, 7).unwrap();
    // Same size class: the slot comes straight back, holding something else.
    let b = new_list(&mut h, &[Value::Int(99), Value::Int(98)]).unwrap();
    assert_eq!(b.as_obj(), a.as_obj());
    assert_eq!(h.check(&b), Ok(()));
    // The stale reference must not pass: passing would let the VM read 99.
    assert_eq!(h.check(&a), uaf(7));
    // Another kind of the same size reusing the slot is caught the same way.
    h.free(&b, 8).unwrap();
    let s = new_str(&mut h, &"x".repeat(40)).unwrap();
    assert_eq!(s.as_obj(), a.as_obj());
    assert_eq!(h.check(&s), Ok(()));
    assert_eq!(h.check(&a), uaf(7));
    assert_eq!(h.check(&b), uaf(8));
}

#[test]
fn a_second_free_is_a_double_free_even_after_reuse() {
    let (_pool, mut h) = heap();
    let a = new_list(&mut h, &[Value::Int(1)]).unwrap();
    h.free(&a, 3).unwrap();
    assert_eq!(h.free(&a, 4), double(3));
    let b = new_list(&mut h, &[Value::Int(2)]).unwrap();
    assert_eq!(b.as_obj(), a.as_obj());
    assert_eq!(h.free(&a, 5), double(3));
    assert_eq!(
        h.check(&b),
        Ok(()),
        "the double free did not free the new object"
    );
    assert_eq!(h.stats().freed_objects, 1);
    h.free(&b, 6).unwrap();
    assert_eq!(h.free(&b, 6), double(6));
}

#[test]
fn emptied_blocks_go_back_and_stale_references_into_them_are_not_read() {
    let (pool, mut h) = heap();
    let block = |v: &Value| v.as_obj().unwrap().addr() & !(SLAB_SEGMENT_BYTES - 1);
    let lists: Vec<Value> = (0..600)
        .map(|i| new_list(&mut h, &[Value::Int(i as i64), Value::Nil]).unwrap())
        .collect();
    let blocks = h.stats().segments;
    assert!(blocks >= 3);
    let first = block(&lists[0]);
    let in_first = lists.iter().take_while(|l| block(l) == first).count();
    let in_use = pool.stats().in_use_bytes;
    for l in &lists[..in_first] {
        h.free(l, 11).unwrap();
    }
    assert_eq!(h.stats().segments, blocks - 1);
    assert_eq!(pool.stats().in_use_bytes, in_use - SLAB_MIN_BLOCK_BYTES);
    assert_eq!(h.stats().heap_bytes, pool.stats().in_use_bytes);
    // Take the very block back from the pool and plant, where the stale
    // reference points, a header that would pass the check if it were read.
    let stale = lists[1];
    let seg = pool
        .acquire_aligned(SLAB_MIN_BLOCK_BYTES, SLAB_SEGMENT_BYTES)
        .unwrap();
    let r = stale.as_obj().unwrap();
    assert!(
        seg.contains(r.addr()),
        "the pool handed back the same memory"
    );
    // SAFETY: seg is a live segment of seg.size() writable bytes owned by this test.
    unsafe { std::ptr::write_bytes(seg.base().as_ptr(), 0, seg.size()) };
    let hd = r.header_mut();
    hd.kind = Kind::List;
    hd.size = 64;
    hd.word = header_word(stamp(&stale), 0);
    assert_eq!(h.check(&stale), uaf(11), "decided from the registry alone");
    assert_eq!(h.free(&stale, 12), double(11));
    pool.release(seg);
    // Freeing everything gives back all but one block.
    for l in &lists[in_first..] {
        h.free(l, 13).unwrap();
    }
    assert_eq!(h.stats().segments, 1);
    assert_eq!(h.stats().live_bytes, 0);
    // Old enough that the table of recent frees forgot it: the site is unknown,
    // the misuse is still caught. (Under Miri the serial skips ahead so that
    // 16 frees suffice: one of them takes over the entry lists[0] had.)
    let sites = super::collect::FREED_SITES;
    let frees = if cfg!(miri) {
        h.serial = stamp(&lists[0]) + sites as u32 - 8;
        16
    } else {
        2 * sites
    };
    for i in 0..frees {
        let l = new_list(&mut h, &[Value::Int(i as i64)]).unwrap();
        h.free(&l, 14).unwrap();
    }
    assert_eq!(h.check(&lists[0]), uaf(u32::MAX));
}

#[test]
fn free_takes_internal_storage_with_its_owner_and_not_what_it_refers_to() {
    let (_pool, mut h) = heap();
    let item = new_list(&mut h, &[Value::Int(5)]).unwrap();
    let l = new_list(&mut h, &[]).unwrap();
    for _ in 0..100 {
        l.as_list().unwrap().push(&mut h, item).unwrap();
    }
    let m = new_map(&mut h, &[]).unwrap();
    for i in 0..50 {
        m.as_map()
            .unwrap()
            .insert(&mut h, Value::Int(i), item)
            .unwrap();
    }
    // item, list + array, map + array + index: old storage was retired as it grew.
    assert_eq!(h.slab.live_objects(), 6);
    h.free(&l, 1).unwrap();
    assert_eq!(h.slab.live_objects(), 4);
    h.free(&m, 2).unwrap();
    assert_eq!(h.slab.live_objects(), 1);
    assert_eq!(h.check(&item), Ok(()), "free does not follow references");
    assert_eq!(h.stats().live_bytes, item.as_obj().unwrap().size());
    h.verify(&mut vec![item, l, m]).unwrap();
}

#[test]
fn leaks_are_what_was_never_freed_grouped_by_site() {
    let (_pool, mut h) = heap();
    h.set_site(10);
    let a = new_list(&mut h, &[Value::Int(1)]).unwrap();
    let _b = new_list(&mut h, &[Value::Int(2)]).unwrap();
    let _c = new_list(&mut h, &[Value::Int(3)]).unwrap();
    h.set_site(20);
    let m = new_map(&mut h, &[]).unwrap();
    h.set_site(30);
    for i in 0..20 {
        m.as_map()
            .unwrap()
            .insert(&mut h, Value::Int(i), Value::Nil)
            .unwrap();
    }
    h.free(&a, 40).unwrap();
    let size = a.as_obj().unwrap().size() as u64;
    let map_bytes = crate::heap::slab::bytes_with_storage(m.as_obj().unwrap()) as u64;
    assert!(map_bytes > m.as_obj().unwrap().size() as u64);
    assert_eq!(
        h.leaks(),
        vec![
            Leak {
                site: 10,
                objects: 2,
                bytes: 2 * size
            },
            Leak {
                site: 20,
                objects: 1,
                bytes: map_bytes
            },
        ],
        "storage counts with its owner, at the owner's site"
    );
    h.free(&m, 41).unwrap();
    assert_eq!(h.leaks().len(), 1);
}

#[test]
fn retired_storage_is_freed_at_once() {
    let (_pool, mut h) = heap();
    let l = new_list(&mut h, &[]).unwrap();
    for i in 0..1000 {
        l.as_list().unwrap().push(&mut h, Value::Int(i)).unwrap();
        assert!(h.slab.live_objects() <= 2);
    }
    assert_eq!(h.slab.live_objects(), 2);
    assert_eq!(
        l.as_list()
            .unwrap()
            .get(999)
            .map(|v| matches!(v, Value::Int(999))),
        Some(true)
    );
}

#[test]
fn locate_gives_segment_and_offset() {
    let (_pool, mut h) = heap();
    let a = new_list(&mut h, &[Value::Int(1)]).unwrap();
    let r = a.as_obj().unwrap();
    let loc = h.locate(r).unwrap();
    assert_eq!(loc.segment, 0);
    assert_eq!(
        loc.offset,
        r.addr() % SLAB_SEGMENT_BYTES,
        "from the block's base"
    );
    assert!(loc.offset > SEG_HEADER_BYTES && loc.offset < SLAB_MIN_BLOCK_BYTES);
    let mut statics = StaticSegment::new();
    let s = new_str(&mut statics, "s").unwrap();
    assert_eq!(h.locate(s.as_obj().unwrap()), None);
}

#[test]
fn verify_accepts_references_to_freed_objects() {
    // References may dangle under manual (the script's business until it
    // uses one); the kit's verify case plants the faults every backend must
    // report.
    let (_pool, mut h) = heap();
    let b = new_list(&mut h, &[]).unwrap();
    let dangling = new_list(&mut h, &[]).unwrap();
    b.as_list().unwrap().push(&mut h, dangling).unwrap();
    h.free(&dangling, 1).unwrap();
    h.verify(&mut vec![b, dangling]).unwrap();
    // Its slot reused by another object: still only a stale reference.
    let other = new_list(&mut h, &[Value::Int(1); 4]).unwrap();
    assert_eq!(other.as_obj(), dangling.as_obj());
    h.verify(&mut vec![b, dangling, other]).unwrap();
}
