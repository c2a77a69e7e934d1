//! Unit tests for each phase of the semispace collector; its reserve under
//! `max_heap` is tested in `plan.rs`, what verify checks of its layout in
//! `verify.rs`. What every backend must do is the heap test kit's
//! (`heap_kit!` below).
//!
//! Under Miri (`cfg(miri)`, thousands of times slower) the counts and sizes
//! shrink to the least that still takes the same paths: several segments, a
//! large object, a to-space of more than one segment.

crate::heap::kit::heap_kit!(SemispaceHeap);

mod plan;
mod verify;

use super::*;
use crate::heap::forward::forwardee;
use crate::heap::kit::support::{self, heap_on, int_at, obj};
use crate::heap::statics::StaticSegment;
use crate::heap::trigger::{GROWTH_FACTOR, MIN_TRIGGER_BYTES};
use crate::value::list::{new_list, new_list_filled};
use crate::value::map::new_map;
use crate::value::object::{FLAG_MARK, HEADER_BYTES, str_layout};
use crate::value::string::new_str;
use crate::value::{ListRef, Value};

fn heap_with(
    max_heap: Option<usize>,
    max_memory: Option<usize>,
) -> (Arc<SegmentPool>, SemispaceHeap) {
    let config = HeapConfig {
        max_heap,
        stress: false,
    };
    heap_on(config, max_memory)
}

fn heap() -> (Arc<SegmentPool>, SemispaceHeap) {
    heap_with(None, None)
}

/// Items of a list just past [`LARGE_OBJECT_BYTES`] under Miri, or `native`.
const fn large_items(native: usize) -> usize {
    support::large_items(native, LARGE_OBJECT_BYTES)
}

/// Whether `r` lies in one of the to-space segments of `cp`.
fn in_to_space(cp: &collect::Copier, r: ObjRef) -> bool {
    cp.to.segs.iter().any(|s| s.seg.contains(r.addr()))
}

/// Runs the phases after `scan` to the end, as `full_collection` does.
fn finish(h: &mut SemispaceHeap, cp: collect::Copier) {
    h.sweep_large();
    h.release_from_space();
    h.install(cp);
}

#[test]
fn allocation_bumps_and_large_objects_always_get_spans() {
    let (pool, mut h) = heap();
    let a = new_list(&mut h, &[Value::Int(1)]).unwrap();
    let b = new_list(&mut h, &[Value::Int(2)]).unwrap();
    assert_eq!(
        obj(&b).addr(),
        obj(&a).addr() + obj(&a).size(),
        "bump allocation is contiguous"
    );
    // Grow the segments until the bump window has room for two large
    // objects: one just past the bound still gets a span. (With 8 KB lists:
    // under Miri, each allocation costs more than the bytes it fills.)
    let mut n = 0;
    while h.limit.addr() - h.top.addr() < 2 * LARGE_OBJECT_BYTES + 8 {
        new_list_filled(&mut h, 500, Value::Nil).unwrap();
        n += 1;
    }
    let at_bound = new_str(&mut h, &"a".repeat(LARGE_OBJECT_BYTES - str_layout::BYTES)).unwrap();
    assert_eq!(obj(&at_bound).size(), LARGE_OBJECT_BYTES);
    let past = new_str(
        &mut h,
        &"b".repeat(LARGE_OBJECT_BYTES + 1 - str_layout::BYTES),
    )
    .unwrap();
    assert!(h.segs.iter().any(|s| s.seg.contains(obj(&at_bound).addr())));
    assert_eq!(h.large.len(), 1);
    assert_eq!(h.large[0].base(), obj(&past).as_ptr());
    let s = h.stats();
    assert!(s.segments > 2);
    assert_eq!(s.heap_bytes, pool.stats().in_use_bytes);
    assert_eq!(h.small_objects, n + 3);
    h.verify(&mut Vec::new()).unwrap();
}

#[test]
fn copy_roots_copies_the_roots_targets_in_order_and_forwards_them() {
    let (_pool, mut h) = heap();
    let mut statics = StaticSegment::new();
    let st = new_str(&mut statics, "static").unwrap();
    let child = new_list(&mut h, &[Value::Int(7)]).unwrap();
    let a = new_list(&mut h, &[child]).unwrap();
    new_list(&mut h, &[Value::Int(0)]).unwrap(); // garbage between
    let b = new_list(&mut h, &[Value::Int(2)]).unwrap();
    let big = new_list_filled(&mut h, large_items(2_000), Value::Int(3)).unwrap();
    // b before a, a twice, static data and a large object among them.
    let mut roots = vec![b, a, st, a, big];
    let (old_a, old_b) = (obj(&a), obj(&b));
    h.seal();
    let mut cp = h.reserve().unwrap();
    cp.copy_roots(&mut roots);
    let (new_b, new_a) = (obj(&roots[0]), obj(&roots[1]));
    assert!(in_to_space(&cp, new_a) && in_to_space(&cp, new_b));
    assert_eq!(
        new_a.addr(),
        new_b.addr() + new_b.size(),
        "copied in root order"
    );
    assert_eq!(obj(&roots[3]), new_a, "a second reference finds the copy");
    assert_eq!(forwardee(old_a), new_a);
    assert_eq!(forwardee(old_b), new_b);
    assert!(old_a.header().flags & FLAG_MARK != 0);
    assert_eq!(new_a.header().flags & FLAG_MARK, 0, "copies are not marked");
    assert_eq!(obj(&roots[2]), obj(&st), "static data stays");
    assert_eq!(obj(&roots[4]), obj(&big), "a large object stays");
    assert!(obj(&big).header().flags & FLAG_MARK != 0, "and is marked");
    // Not scanned yet: the copy of `a` still refers to the old `child`.
    let inner = ListRef(new_a).get(0).unwrap();
    assert_eq!(obj(&inner), obj(&child));
    assert_eq!(
        (cp.copied_objects, cp.copied_bytes),
        (2, old_a.size() + old_b.size())
    );
    cp.scan();
    finish(&mut h, cp);
    h.verify(&mut roots).unwrap();
    assert_eq!(int_at(&ListRef(obj(&roots[1])).get(0).unwrap(), 0), Some(7));
}

#[test]
fn scan_copies_breadth_first() {
    let (_pool, mut h) = heap();
    // root -> [x, y]; x -> [p, q]; y -> [r]. Built leaves first, with
    // garbage between, so allocation order is not breadth-first order.
    let leaf = |h: &mut SemispaceHeap, i: i64| {
        new_list(h, &[Value::Int(-1)]).unwrap();
        new_list(h, &[Value::Int(i)]).unwrap()
    };
    let (r, q, p) = (leaf(&mut h, 3), leaf(&mut h, 2), leaf(&mut h, 1));
    let y = new_list(&mut h, &[r]).unwrap();
    let x = new_list(&mut h, &[p, q]).unwrap();
    let root = new_list(&mut h, &[x, y]).unwrap();
    let mut roots = vec![root];
    h.seal();
    let mut cp = h.reserve().unwrap();
    cp.copy_roots(&mut roots);
    cp.scan();
    let root = obj(&roots[0]);
    let item = |l: ObjRef, i: usize| obj(&ListRef(l).get(i).unwrap());
    let (x, y) = (item(root, 0), item(root, 1));
    let order = [root, x, y, item(x, 0), item(x, 1), item(y, 0)];
    for w in order.windows(2) {
        assert_eq!(
            w[1].addr(),
            w[0].addr() + w[0].size(),
            "breadth-first, packed"
        );
    }
    assert!(order.iter().all(|&o| in_to_space(&cp, o)));
    assert_eq!(cp.copied_objects, 6);
    finish(&mut h, cp);
    assert_eq!(h.small_objects, 6);
    h.verify(&mut roots).unwrap();
}

#[test]
fn forwarding_keeps_sharing_and_cycles() {
    let (_pool, mut h) = heap();
    let shared = new_list(&mut h, &[Value::Int(5)]).unwrap();
    let holder = new_list(&mut h, &[shared, shared]).unwrap();
    let a = new_list(&mut h, &[Value::Nil]).unwrap();
    let b = new_list(&mut h, &[a]).unwrap();
    a.as_list().unwrap().set(&mut h, 0, b);
    let me = new_list(&mut h, &[Value::Nil]).unwrap();
    me.as_list().unwrap().set(&mut h, 0, me);
    let m = new_map(&mut h, &[(Value::Int(1), shared)]).unwrap();
    m.as_map()
        .unwrap()
        .insert(&mut h, Value::Int(2), m)
        .unwrap();
    let mut roots = vec![holder, a, me, m, shared];
    for _ in 0..2 {
        h.collect(&mut roots, GcReason::Explicit).unwrap();
        h.verify(&mut roots).unwrap();
        let item = |v: &Value, i| obj(&v.as_list().unwrap().get(i).unwrap());
        let shared = obj(&roots[4]);
        assert_eq!((item(&roots[0], 0), item(&roots[0], 1)), (shared, shared));
        let b = roots[1].as_list().unwrap().get(0).unwrap();
        assert_eq!(item(&b, 0), obj(&roots[1]), "a cycle of two");
        assert_eq!(item(&roots[2], 0), obj(&roots[2]), "a self-loop");
        let map = roots[3].as_map().unwrap();
        assert_eq!(obj(&map.get(&Value::Int(2)).unwrap()), obj(&roots[3]));
        assert_eq!(obj(&map.get(&Value::Int(1)).unwrap()), shared);
        assert_eq!(int_at(&roots[4], 0), Some(5));
    }
}

#[test]
fn a_million_deep_chain_copies_without_recursion() {
    // Miri does not model the native stack's limit: there the chain only
    // checks that the copy keeps every link.
    const DEPTH: usize = if cfg!(miri) { 2_000 } else { 1_000_000 };
    let (_pool, mut h) = heap();
    let mut v = Value::Nil;
    for i in 0..DEPTH {
        v = new_list(&mut h, &[v, Value::Int(i as i64)]).unwrap();
    }
    let mut roots = vec![v];
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, 0);
    let (mut n, mut cur) = (0, roots[0]);
    while let Some(l) = cur.as_list() {
        assert_eq!(int_at(&cur, 1), Some((DEPTH - 1 - n) as i64));
        cur = l.get(0).unwrap();
        n += 1;
    }
    assert_eq!(n, DEPTH);
}

#[test]
fn large_objects_are_not_moved_and_dead_ones_go_back() {
    let (pool, mut h) = heap();
    let n = large_items(5_000);
    let small = new_list(&mut h, &[Value::Int(9)]).unwrap();
    let big = new_list_filled(&mut h, n, small).unwrap();
    let dead = new_list_filled(&mut h, n, Value::Int(4)).unwrap();
    let (big_at, dead_size) = (obj(&big).addr(), h.large[1].size());
    let mut roots = vec![big];
    let in_use = pool.stats().in_use_bytes;
    h.seal();
    let mut cp = h.reserve().unwrap();
    cp.copy_roots(&mut roots);
    cp.scan();
    assert_eq!(cp.large_live, obj(&big).size());
    let dead_count = h.sweep_large();
    assert_eq!(dead_count, 1);
    assert_eq!(h.large.len(), 1);
    assert_eq!(obj(&roots[0]).header().flags & FLAG_MARK, 0, "unmarked");
    assert!(h.released.iter().any(|r| r.contains(&obj(&dead).addr())));
    h.release_from_space();
    h.install(cp);
    assert_eq!(obj(&roots[0]).addr(), big_at, "large objects do not move");
    // Its items now point at the copy of `small`.
    let copy = obj(&roots[0].as_list().unwrap().get(n - 1).unwrap());
    assert_ne!(copy, obj(&small));
    assert!(h.segs[0].seg.contains(copy.addr()));
    assert_eq!(int_at(&Value::Obj(0, copy), 0), Some(9));
    assert!(pool.stats().in_use_bytes <= in_use - dead_size);
    h.verify(&mut roots).unwrap();
}

#[test]
fn from_space_goes_back_to_the_pool_and_unused_to_space_too() {
    let (pool, mut h) = heap();
    let mut roots = Vec::new();
    let n = if cfg!(miri) { 2_000 } else { 50_000 };
    for i in 0..n {
        let v = new_list(&mut h, &[Value::Int(i), Value::Int(i)]).unwrap();
        if i % 100 == 0 {
            roots.push(v);
        }
    }
    h.seal();
    let from: Vec<(usize, usize)> = h.segs.iter().map(|s| (s.base().addr(), s.size())).collect();
    let from_bytes: usize = from.iter().map(|s| s.1).sum();
    let mut cp = h.reserve().unwrap();
    cp.copy_roots(&mut roots);
    cp.scan();
    let (before, segments) = (pool.stats().in_use_bytes, pool.stats().segments_in_use);
    h.release_from_space();
    let after = pool.stats();
    assert_eq!(after.in_use_bytes, before - from_bytes);
    assert_eq!(after.segments_in_use, segments - from.len());
    assert_eq!(h.small_held, 0);
    for (base, size) in &from {
        assert!(h.released.contains(&(*base..base + size)));
    }
    let reserved = cp.to.segs.len();
    let used = cp.to.opened;
    h.install(cp);
    assert_eq!(h.segs.len(), used);
    assert!(
        used < reserved || reserved == 1,
        "the plan was for everything"
    );
    let s = h.stats();
    assert_eq!(
        (s.heap_bytes, s.segments),
        (pool.stats().in_use_bytes, pool.stats().segments_in_use)
    );
    h.verify(&mut roots).unwrap();
    drop(h);
    assert_eq!(
        pool.stats().in_use_bytes,
        0,
        "dropping the heap gives everything back"
    );
}

#[test]
fn trigger_grows_with_live_size_and_stress_collects_always() {
    let (_pool, mut h) = heap();
    assert!(!h.gc_due());
    let mut roots = Vec::new();
    // Live past MIN_TRIGGER_BYTES / GROWTH_FACTOR, so live size sets the trigger.
    let lists = if cfg!(miri) { 10 } else { 100 };
    for _ in 0..lists {
        roots.push(new_list_filled(&mut h, 1000, Value::Nil).unwrap());
    }
    h.collect(&mut roots, GcReason::Budget);
    assert!(h.tally.live_after_gc * GROWTH_FACTOR > MIN_TRIGGER_BYTES);
    assert_eq!(h.trigger.budget(), h.tally.live_after_gc * GROWTH_FACTOR);
    while !h.gc_due() {
        new_list(&mut h, &[]).unwrap();
    }
    assert!(h.trigger.since() >= h.trigger.budget());
    let pool = Arc::new(SegmentPool::new(None));
    let config = HeapConfig {
        max_heap: None,
        stress: true,
    };
    let mut s = SemispaceHeap::new(pool, config);
    assert!(!s.gc_due());
    new_list(&mut s, &[]).unwrap();
    assert!(s.gc_due());
}

#[test]
fn stats_count_what_was_not_copied_and_locate_follows_the_copy() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    for i in 0..100 {
        let v = new_list(&mut h, &[Value::Int(i)]).unwrap();
        if i % 4 == 0 {
            roots.push(v);
        }
    }
    let big = new_list_filled(&mut h, large_items(2_000), Value::Nil).unwrap();
    new_list_filled(&mut h, large_items(2_000), Value::Nil).unwrap(); // dead, large
    roots.push(big);
    let size = obj(&roots[0]).size();
    let before = h.locate(obj(&roots[10])).unwrap();
    let big_at = h.locate(obj(&big)).unwrap();
    let taken = h.numbered;
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, 75 + 1);
    assert_eq!(ev.live_bytes, 25 * size + obj(&big).size());
    let after = h.locate(obj(&roots[10])).unwrap();
    assert_eq!(
        after,
        Location {
            segment: taken,
            offset: 10 * size
        },
        "a new segment"
    );
    assert_ne!(before, after);
    assert_eq!(
        h.locate(obj(&big)),
        Some(big_at),
        "a large object stays put"
    );
    let s = h.stats();
    assert_eq!(
        (s.collections, s.freed_objects, s.live_bytes),
        (1, 76, ev.live_bytes)
    );
    // The same survivors again land at the same offset, in another segment:
    // the move still shows.
    h.collect(&mut roots, GcReason::Explicit).unwrap();
    let again = h.locate(obj(&roots[10])).unwrap();
    assert_eq!(again.offset, after.offset);
    assert!(again.segment > after.segment);
    // The map lists the span (taken first) before the to-space segment.
    let map = h.segment_map();
    assert_eq!(map.len(), 2);
    assert!(map[0].large && !map[1].large);
    assert_eq!(map[1].used, 25 * size);
    assert_eq!(h.stats().heap_bytes, map[0].bytes + map[1].bytes);
}
