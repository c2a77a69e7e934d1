//! Unit tests for each phase of the mark-compact collector, and for what
//! verify checks of its layout. What every backend must do is the heap test
//! kit's (`heap_kit!` below).
//!
//! Under Miri (`cfg(miri)`, thousands of times slower) the counts and sizes
//! shrink to the least that still takes the same paths: several segments, a
//! large object, a collection that moves things.

use super::*;
use crate::heap::kit::support::{self, fresh, list_ints};
use crate::heap::statics::StaticSegment;
use crate::heap::trigger::{GROWTH_FACTOR, MIN_TRIGGER_BYTES};
use crate::value::list::{new_list, new_list_filled};
use crate::value::map::new_map;
use crate::value::string::new_str;
use crate::value::{ListRef, Value};

crate::heap::kit::heap_kit!(MarkCompactHeap);

fn heap() -> (Arc<SegmentPool>, MarkCompactHeap) {
    fresh()
}

/// Items of a list just past [`LARGE_OBJECT_BYTES`] under Miri, or `native`.
const fn large_items(native: usize) -> usize {
    support::large_items(native, LARGE_OBJECT_BYTES)
}

#[test]
fn allocation_bumps_and_grows_segments() {
    let (pool, mut h) = heap();
    let a = new_list(&mut h, &[Value::Int(1)]).unwrap();
    let b = new_list(&mut h, &[Value::Int(2)]).unwrap();
    let (ra, rb) = (a.as_obj().unwrap(), b.as_obj().unwrap());
    assert_eq!(
        rb.addr(),
        ra.addr() + ra.size(),
        "bump allocation is contiguous"
    );
    let n = if cfg!(miri) { 200 } else { 10_000 };
    for _ in 0..n {
        new_list(&mut h, &[Value::Nil; 4]).unwrap();
    }
    let s = h.stats();
    assert!(s.segments > 1);
    assert_eq!(s.heap_bytes, pool.stats().in_use_bytes);
    assert_eq!(
        s.live_bytes as u64, s.allocated_bytes,
        "before the first collection live counts everything"
    );
}

#[test]
fn mark_sets_flags_only_on_reachable_objects() {
    let (_pool, mut h) = heap();
    let inner = new_list(&mut h, &[Value::Int(7)]).unwrap();
    let outer = new_list(&mut h, &[inner]).unwrap();
    let garbage = new_list(&mut h, &[Value::Int(9)]).unwrap();
    h.seal();
    let mut roots = vec![outer];
    let live = h.mark(&mut roots).0.bytes;
    let marked =
        |v: &Value| v.as_obj().unwrap().header().flags & crate::value::object::FLAG_MARK != 0;
    assert!(marked(&outer) && marked(&inner));
    assert!(!marked(&garbage));
    assert_eq!(
        live,
        outer.as_obj().unwrap().size() + inner.as_obj().unwrap().size()
    );
}

#[test]
fn forwarding_only_moves_objects_down() {
    for bits in [true, false] {
        forwarding_only_moves_objects_down_with(bits);
    }
}

fn forwarding_only_moves_objects_down_with(bits: bool) {
    let (_pool, mut h) = heap();
    h.bits_allowed = bits;
    let mut keep = Vec::new();
    let n = if cfg!(miri) { 600 } else { 5_000 };
    for i in 0..n {
        let v = new_list(&mut h, &[Value::Int(i)]).unwrap();
        if i % 3 == 0 {
            keep.push(v);
        }
    }
    h.seal();
    let mut roots = keep.clone();
    let (marked, bitmap) = h.mark(&mut roots);
    assert_eq!(
        bitmap.is_some(),
        bits && !cfg!(miri),
        "the bitmap is used when allowed"
    );
    let dead = h.compute_forwarding(marked.objects, bitmap.as_ref());
    assert_eq!(dead, n as u64 - keep.len() as u64);
    let mut last = 0;
    for v in &keep {
        let r = v.as_obj().unwrap();
        // A zero word: the object is in the dense prefix and stays.
        let dest = Some(super::collect::word_ptr(r))
            .filter(|p| !p.is_null())
            .unwrap_or(r.as_ptr());
        let (from, to) = (h.locate(r).unwrap(), {
            // SAFETY: dest is a forwarding address in this heap; locate reads only the address.
            let d = unsafe { ObjRef::from_ptr(std::ptr::NonNull::new(dest).unwrap()) };
            h.locate(d).unwrap()
        });
        assert!(
            (to.segment, to.offset) <= (from.segment, from.offset),
            "an object moved up"
        );
        assert!((to.segment, to.offset) >= (0, last) || to.segment > 0);
        last = to.offset;
    }
}

#[test]
fn update_and_slide_keep_contents_and_return_segments() {
    let (pool, mut h) = heap();
    let mut roots = Vec::new();
    let (n, more) = if cfg!(miri) {
        (1_000, 100)
    } else {
        (20_000, 1000)
    };
    for i in 0..n {
        let inner = new_list(&mut h, &[Value::Int(i), Value::Int(i * 2)]).unwrap();
        let v = new_list(&mut h, &[inner, Value::Int(i)]).unwrap();
        if i % 100 == 0 {
            roots.push(v);
        }
    }
    let before = h.stats();
    let old_at = h.locate(roots[1].as_obj().unwrap()).unwrap();
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    let after = h.stats();
    assert!(after.heap_bytes < before.heap_bytes);
    assert_eq!(
        after.heap_bytes,
        pool.stats().in_use_bytes,
        "emptied segments went back to the pool"
    );
    assert_eq!(ev.bytes_after, after.heap_bytes);
    // Down in the heap's order of segments (their addresses are the pool's
    // business and need not be ordered).
    let new_at = h.locate(roots[1].as_obj().unwrap()).unwrap();
    assert!(
        (new_at.segment, new_at.offset) < (old_at.segment, old_at.offset),
        "a survivor slid down"
    );
    for (k, v) in roots.iter().enumerate() {
        let i = k as i64 * 100;
        let items = v.as_list().unwrap().items();
        assert!(matches!(items[1], Value::Int(x) if x == i));
        assert_eq!(list_ints(&items[0]), vec![i, i * 2]);
    }
    // The heap works after compaction: allocate more and collect again.
    for i in 0..more {
        roots.push(new_list(&mut h, &[Value::Int(i)]).unwrap());
    }
    h.collect(&mut roots, GcReason::Explicit);
    assert_eq!(list_ints(roots.last().unwrap()), vec![more - 1]);
    assert_eq!(h.stats().collections, 2);
}

#[test]
fn a_million_deep_chain_marks_without_recursion() {
    // Miri does not model the native stack's limit: there the chain only
    // checks that marking and sliding keep every link.
    const DEPTH: usize = if cfg!(miri) { 2_000 } else { 1_000_000 };
    let (_pool, mut h) = heap();
    let mut v = Value::Nil;
    for _ in 0..DEPTH {
        v = new_list(&mut h, &[v]).unwrap();
    }
    let mut roots = vec![v];
    h.collect(&mut roots, GcReason::Explicit);
    let mut n = 0;
    let mut cur = roots[0];
    while let Some(l) = cur.as_list() {
        cur = l.get(0).unwrap();
        n += 1;
    }
    assert_eq!(n, DEPTH);
}

#[test]
fn large_objects_never_move() {
    // That they get spans of their own and go back when dead is the kit's
    // `keeps_large_objects_and_drops_dead_ones`.
    let (_pool, mut h) = heap();
    let n = large_items(100_000);
    new_list(&mut h, &[Value::Int(0); 8]).unwrap(); // garbage before it
    let big = new_list_filled(&mut h, n, Value::Int(3)).unwrap();
    let _big_dead = new_list_filled(&mut h, n, Value::Int(4)).unwrap();
    let addr = big.as_obj().unwrap().addr();
    let mut roots = vec![big];
    h.collect(&mut roots, GcReason::Explicit);
    assert_eq!(h.large.len(), 1);
    assert_eq!(
        roots[0].as_obj().unwrap().addr(),
        addr,
        "large objects do not move"
    );
    assert_eq!(
        ListRef(roots[0].as_obj().unwrap())
            .get(n - 1)
            .map(|v| matches!(v, Value::Int(3))),
        Some(true)
    );
}

/// That cycles are collected is the kit's `garbage_is_reclaimed`; here, that
/// a heap left with nothing live keeps its first segment only.
#[test]
fn a_heap_of_garbage_keeps_only_its_first_segment() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    let pairs = if cfg!(miri) { 500 } else { 10_000 };
    for _ in 0..pairs {
        let a = new_list(&mut h, &[Value::Nil]).unwrap();
        let b = new_list(&mut h, &[a]).unwrap();
        a.as_list().unwrap().set(&mut h, 0, b);
    }
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    assert_eq!(ev.live_bytes, 0);
    assert_eq!(ev.freed_objects, 2 * pairs);
    assert_eq!(h.segs.len(), 1, "only the first segment is kept");
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
    assert!(h.trigger.budget() >= h.tally.live_after_gc * GROWTH_FACTOR);
    let pool = Arc::new(SegmentPool::new(None));
    let mut s = MarkCompactHeap::new(
        pool,
        HeapConfig {
            max_heap: None,
            stress: true,
        },
    );
    assert!(!s.gc_due());
    new_list(&mut s, &[]).unwrap();
    assert!(s.gc_due());
}

/// A heap with lists, maps with storage and an index, strings, closures,
/// cells and static references, some garbage, after two collections.
fn busy_heap() -> (Arc<SegmentPool>, MarkCompactHeap, Vec<Value>, StaticSegment) {
    let (pool, mut h) = heap();
    let mut statics = StaticSegment::new();
    let s = new_str(&mut statics, "static").unwrap();
    let mut roots = Vec::new();
    let (n, keys) = if cfg!(miri) { (300, 100) } else { (3_000, 500) };
    for i in 0..n {
        let l = new_list(&mut h, &[Value::Int(i), s]).unwrap();
        let cell = crate::value::func::new_cell(&mut h, l).unwrap();
        let f = crate::value::func::new_closure(&mut h, 0, &[cell, s]).unwrap();
        if i % 10 == 0 {
            roots.push(f);
        }
    }
    let m = new_map(&mut h, &[]).unwrap();
    let big = new_list(&mut h, &[]).unwrap();
    roots.extend([m, big, s]);
    for i in 0..keys {
        let k = new_str(&mut h, &format!("key{i}")).unwrap();
        let n = roots.len();
        roots[n - 3]
            .as_map()
            .unwrap()
            .insert(&mut h, k, Value::Int(i))
            .unwrap();
        roots[n - 2].as_list().unwrap().push(&mut h, k).unwrap();
        if i % (keys * 2 / 5) == 0 {
            h.collect(&mut roots, GcReason::Explicit);
        }
    }
    let big = large_items(50_000);
    new_list_filled(&mut h, big, Value::Nil).unwrap(); // a dead large object
    // Under Miri only its ends refer to static data: verify checks each reference.
    let live_big = new_list_filled(&mut h, big, if cfg!(miri) { Value::Nil } else { s }).unwrap();
    let ends = live_big.as_list().unwrap();
    ends.set(&mut h, 0, s);
    ends.set(&mut h, big - 1, s);
    roots.push(live_big);
    h.collect(&mut roots, GcReason::Explicit);
    (pool, h, roots, statics)
}

#[test]
fn verify_catches_a_mark_left_behind_and_a_forwarding_word() {
    let (_pool, mut h, mut roots, _statics) = busy_heap();
    let r = roots[5].as_obj().unwrap();
    r.header_mut().flags |= crate::value::object::FLAG_MARK;
    let e = h.verify(&mut roots).unwrap_err();
    assert!(e.contains("still marked"), "{e}");
    r.header_mut().flags &= !crate::value::object::FLAG_MARK;
    r.header_mut().word = 0x1000;
    let e = h.verify(&mut roots).unwrap_err();
    assert!(e.contains("header word 0x1000"), "{e}");
    r.header_mut().word = 0;
    h.verify(&mut roots).unwrap();
}

#[test]
fn a_mark_stack_that_cannot_grow_overflows_and_rescans() {
    // Same graph, collected with an unbounded and with a tiny mark stack:
    // both keep exactly the same objects.
    let (depth, width) = if cfg!(miri) {
        (200, 100)
    } else {
        (5_000, 3_000)
    };
    let build = |h: &mut MarkCompactHeap| {
        let mut roots = Vec::new();
        // A deep chain, a wide list of small lists, a large list, a cycle.
        let mut chain = Value::Nil;
        for i in 0..depth {
            chain = new_list(h, &[chain, Value::Int(i)]).unwrap();
        }
        let wide = new_list(h, &[]).unwrap();
        for i in 0..width {
            let item = new_list(h, &[Value::Int(i)]).unwrap();
            wide.as_list().unwrap().push(h, item).unwrap();
            new_list(h, &[Value::Int(-i)]).unwrap(); // garbage between
        }
        // Under Miri only some of its items refer to the wide list (each costs).
        let n = large_items(40_000);
        let big = new_list_filled(h, n, if cfg!(miri) { Value::Nil } else { wide }).unwrap();
        for i in (0..n).step_by(n / 8) {
            big.as_list().unwrap().set(h, i, wide);
        }
        let a = new_list(h, &[Value::Nil]).unwrap();
        a.as_list().unwrap().set(h, 0, a);
        roots.extend([chain, wide, big, a]);
        roots
    };
    // Both ways of marking (marked objects on the stack, or queued edges).
    for queue in [false, true] {
        let (_p1, mut plain) = heap();
        plain.queue_always = queue;
        let mut r1 = build(&mut plain);
        let e1 = plain.collect(&mut r1, GcReason::Explicit).unwrap();
        let (_p2, mut tiny) = heap();
        tiny.queue_always = queue;
        tiny.mark_stack_cap = 4;
        let mut r2 = build(&mut tiny);
        let e2 = tiny.collect(&mut r2, GcReason::Explicit).unwrap();
        assert_eq!(e1.live_bytes, e2.live_bytes);
        assert_eq!(e1.freed_objects, e2.freed_objects);
        assert!(tiny.mark_stack.capacity() <= 64, "the cap held");
        tiny.verify(&mut r2).unwrap();
        // The chain is whole after the move.
        let (mut n, mut cur) = (0, r2[0]);
        while let Some(l) = cur.as_list() {
            cur = l.get(0).unwrap();
            n += 1;
        }
        assert_eq!(n, depth);
        assert_eq!(r2[1].as_list().unwrap().len(), width as usize);
    }
}

#[test]
fn the_mark_bitmap_and_the_header_walk_leave_the_same_heap() {
    // The same garbage-riddled heap collected with the bitmap and without:
    // the same survivors at the same places, the same counts.
    let (n, keep_every) = if cfg!(miri) { (2_000, 3) } else { (60_000, 7) };
    let run = |bits: bool| {
        let (_pool, mut h) = heap();
        h.bits_allowed = bits;
        let mut roots = Vec::new();
        // A live front, over more than one segment: the dense prefix, which
        // the bitmap's way leaves where it is without giving it addresses.
        for i in 0..n / 4 {
            let inner = new_list(&mut h, &[Value::Int(-i)]).unwrap();
            roots.push(new_list(&mut h, &[inner, Value::Int(i)]).unwrap());
        }
        for i in n / 4..n {
            let inner = new_list(&mut h, &[Value::Int(i)]).unwrap();
            let v = new_list(&mut h, &[inner, Value::Int(-i)]).unwrap();
            if i % keep_every == 0 {
                roots.push(v);
            }
            if i % 1000 == 0 {
                // A large object among them (a span of its own), kept.
                roots.push(new_list_filled(&mut h, large_items(10_000), v).unwrap());
            }
        }
        // What the collection decides (from the segments, which it keeps).
        let used = bits && super::bitmap::MarkBitmap::for_segments(&h.segs).is_some();
        h.seal();
        let (marked, bitmap) = h.mark(&mut roots);
        let dead = h.compute_forwarding(marked.objects, bitmap.as_ref());
        let prefix = h.prefix;
        h.update_references(&mut roots);
        h.slide();
        // Collected by hand, so that the prefix can be seen (the dead count
        // is phase 2's); then the heap's own way, for the books and verify.
        let e = h.collect(&mut roots, GcReason::Explicit).unwrap();
        h.verify(&mut roots).unwrap();
        let places: Vec<_> = roots
            .iter()
            .map(|v| h.locate(v.as_obj().unwrap()).unwrap())
            .map(|l| (l.segment, l.offset))
            .collect();
        for v in roots.iter().filter(|v| v.as_list().unwrap().len() == 2) {
            let items = v.as_list().unwrap().items();
            let Value::Int(i) = items[1] else {
                panic!("an int")
            };
            assert_eq!(list_ints(&items[0]), [-i]);
        }
        (e.live_bytes, dead, used, places, prefix)
    };
    let (with, without) = (run(true), run(false));
    assert!(with.2 || cfg!(miri), "the bitmap was used");
    assert!(!without.2);
    assert_eq!((with.0, with.1), (without.0, without.1));
    assert_eq!(without.4, (0, 0), "no prefix without the bitmap");
    assert!(
        with.4.0 > 0 || cfg!(miri),
        "the live front is a prefix over more than one segment: {:?}",
        with.4
    );
    // Kept: the front, every keep_every-th pair, and each pair a large list holds.
    let kept = (0..n)
        .filter(|i| *i < n / 4 || i % keep_every == 0 || i % 1000 == 0)
        .count();
    assert_eq!(with.1, (n as usize - kept) as u64 * 2);
    assert_eq!(with.3, without.3, "survivors at the same places");
}

#[test]
fn verify_catches_an_object_count_gone_wrong() {
    let (_pool, mut h) = heap();
    let mut roots = vec![new_list(&mut h, &[Value::Int(1)]).unwrap()];
    h.verify(&mut roots).unwrap();
    h.allocated_objects += 1;
    let e = h.verify(&mut roots).unwrap_err();
    assert!(e.contains("objects, counted"), "{e}");
    h.allocated_objects -= 1;
    h.verify(&mut roots).unwrap();
}

#[test]
fn an_object_many_edges_reach_is_marked_once() {
    // A big heap's mark queues edges, not objects: the same target comes
    // off the queue many times (a list whose items are all one list, a
    // diamond lattice, a cycle), and must count once, its children traced
    // once. A small heap's marks it when first met. Both ways here.
    for queue in [false, true] {
        many_edges(queue);
    }
}

fn many_edges(queue: bool) {
    let (_pool, mut h) = heap();
    h.queue_always = queue;
    let n = if cfg!(miri) { 50 } else { 5_000 };
    let before = h.allocated_bytes();
    let shared = new_list(&mut h, &[Value::Int(7)]).unwrap();
    let fan = new_list_filled(&mut h, n, shared).unwrap();
    // Each row's two items are the one list below (2^rows paths to the bottom).
    let mut row = new_list(&mut h, &[Value::Nil, Value::Nil]).unwrap();
    row.as_list().unwrap().set(&mut h, 0, row); // a cycle at the bottom
    for _ in 0..40 {
        row = new_list(&mut h, &[row, row]).unwrap();
    }
    let reachable = h.allocated_bytes() - before;
    for i in 0..n {
        new_list(&mut h, &[Value::Int(i as i64)]).unwrap(); // garbage
    }
    let mut roots = vec![fan, row, fan];
    let e = h.collect(&mut roots, GcReason::Explicit).unwrap();
    assert_eq!(e.live_bytes as u64, reachable);
    assert_eq!(e.freed_objects, n as u64);
    h.verify(&mut roots).unwrap();
    let fan = roots[0].as_list().unwrap();
    assert!(
        fan.items()
            .iter()
            .all(|v| v.as_obj() == fan.get(0).unwrap().as_obj())
    );
}

#[test]
fn the_dense_prefix_stops_where_the_next_segment_would_slide_into_a_tail() {
    // A first segment live to its end but with room at its tail, then a
    // segment (adopted, as generational's old generation adopts a nursery)
    // whose first object fits that room: sliding moves it there, so the
    // prefix must end with the first segment. Both ways, the same places.
    if cfg!(miri) {
        return; // no bitmap under Miri: the prefix is the bitmap's
    }
    let run = |bits: bool| {
        let (pool, mut h) = heap();
        h.bits_allowed = bits;
        let mut roots: Vec<Value> = (0..10)
            .map(|i| new_list(&mut h, &[Value::Int(i)]).unwrap())
            .collect();
        // Another heap on the pool fills a big segment with small lists of
        // ints (nothing in them refers elsewhere); it is taken from that heap.
        let mut g = MarkCompactHeap::new(pool, HeapConfig::default());
        let mut lists = Vec::new();
        while g.segs.last().is_none_or(|s| s.seg.size() < 128 * 1024) || lists.len() < 100 {
            let at = g.segs.len();
            let v = new_list(&mut g, &[Value::Int(lists.len() as i64)]).unwrap();
            if g.segs.len() != at {
                lists.clear(); // a new segment: count from its first object
            }
            lists.push(v);
        }
        g.seal();
        let s = g.segs.pop().unwrap();
        g.held -= s.seg.size();
        g.open();
        let used = s.used;
        h.adopt(s.seg, used);
        assert_eq!(h.segs.len(), 2);
        assert!(h.segs[0].used + lists[0].as_obj().unwrap().size() <= h.segs[0].seg.size());
        // Live: the first segment's objects and every other adopted list.
        roots.extend(lists.iter().step_by(2).copied());
        let before = h.locate(lists[0].as_obj().unwrap()).unwrap().segment;
        h.collect(&mut roots, GcReason::Explicit);
        h.verify(&mut roots).unwrap();
        assert_eq!(before, 1);
        roots
            .iter()
            .map(|v| h.locate(v.as_obj().unwrap()).unwrap())
            .map(|l| (l.segment, l.offset))
            .collect::<Vec<_>>()
    };
    let (with, without) = (run(true), run(false));
    assert_eq!(
        with[10].0, 0,
        "the adopted segment's first list slid into the tail"
    );
    assert_eq!(with, without);
}

#[test]
fn the_dense_prefix_stays_and_its_references_follow_what_moves() {
    // A live front (the prefix) whose lists refer only to lists allocated
    // after garbage: the front stays where it is, the lists it refers to
    // slide down, and the front's references follow them.
    let (_pool, mut h) = heap();
    let n = if cfg!(miri) { 500 } else { 20_000 };
    let front: Vec<Value> = (0..n)
        .map(|i| new_list(&mut h, &[Value::Nil, Value::Int(i)]).unwrap())
        .collect();
    let mut targets = Vec::new();
    for i in 0..n {
        new_list(&mut h, &[Value::Int(-1)]).unwrap(); // garbage
        targets.push(new_list(&mut h, &[Value::Int(i * 3)]).unwrap());
    }
    for (f, t) in front.iter().zip(&targets) {
        f.as_list().unwrap().set(&mut h, 0, *t);
    }
    let addr = |v: &Value| v.as_obj().unwrap().addr();
    let (front_at, targets_at): (Vec<_>, Vec<_>) = (
        front.iter().map(addr).collect(),
        targets.iter().map(addr).collect(),
    );
    drop(targets);
    let mut roots = front;
    h.collect(&mut roots, GcReason::Explicit);
    h.verify(&mut roots).unwrap();
    assert!(
        h.prefix.0 > 0 || cfg!(miri),
        "the front spans segments: {:?}",
        h.prefix
    );
    let mut moved = 0;
    for (i, f) in roots.iter().enumerate() {
        assert_eq!(addr(f), front_at[i], "the front stays");
        let items = f.as_list().unwrap().items();
        assert_eq!(list_ints(&items[0]), [i as i64 * 3]);
        assert!(matches!(items[1], Value::Int(x) if x == i as i64));
        moved += usize::from(addr(&items[0]) != targets_at[i]);
    }
    assert_eq!(moved, n as usize, "every target slid down");
}
