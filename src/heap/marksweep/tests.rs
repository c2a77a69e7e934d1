//! Unit tests for each phase of the mark-sweep collector and what it
//! promises: marking with an explicit stack (a very deep chain, a stack that
//! cannot grow), sweeping exactly the unmarked objects and their storage
//! once, empty segments back to the pool, objects that never move, holes
//! that show in the segment map and are reused, the budget, the heap limit
//! and what verify checks. What every backend must do is the heap test
//! kit's (`heap_kit!` below).
//!
//! Under Miri (`cfg(miri)`, thousands of times slower) the counts shrink to
//! the least that still takes the same paths: several segments of a class,
//! a large span, a mark that overflows.

use super::*;
use crate::heap::kit::support::{chain_len, heap_on, int_at, obj};
use crate::heap::slab::{SLAB_SEGMENT_BYTES, bytes_with_storage, owned_storage, slot_bytes};
use crate::heap::statics::StaticSegment;
use crate::heap::trigger::{GROWTH_FACTOR, MIN_TRIGGER_BYTES};
use crate::value::Value;
use crate::value::func::{new_cell, new_closure};
use crate::value::list::{new_list, new_list_filled};
use crate::value::map::new_map;
use crate::value::object::FLAG_MARK;
use crate::value::string::new_str;
use rustc_hash::FxHashSet;

crate::heap::kit::heap_kit!(MarkSweepHeap);

fn heap() -> (Arc<SegmentPool>, MarkSweepHeap) {
    heap_with(HeapConfig::default())
}

fn heap_with(config: HeapConfig) -> (Arc<SegmentPool>, MarkSweepHeap) {
    heap_on(config, None)
}

fn marked(v: &Value) -> bool {
    obj(v).header().flags & FLAG_MARK != 0
}

/// Lists of one int that fill about `segments` slab segments.
fn lists_for(segments: usize) -> usize {
    let one = new_list_size();
    segments * SLAB_SEGMENT_BYTES / slot_bytes(one).unwrap()
}

/// Bytes of a list of one int.
fn new_list_size() -> usize {
    let (_pool, mut h) = heap();
    obj(&new_list(&mut h, &[Value::Int(0)]).unwrap()).size()
}

/// A list grown past its inline items (its items in an `Array`) and a map
/// with an `Array` of entries and a hash index, each holding `item`.
fn with_storage(h: &mut MarkSweepHeap, item: Value) -> (Value, Value) {
    let l = new_list(h, &[]).unwrap();
    for _ in 0..40 {
        l.as_list().unwrap().push(h, item).unwrap();
    }
    let m = new_map(h, &[]).unwrap();
    for i in 0..20 {
        m.as_map().unwrap().insert(h, Value::Int(i), item).unwrap();
    }
    assert!(owned_storage(obj(&l))[0].is_some());
    assert!(owned_storage(obj(&m)).iter().all(|s| s.is_some()));
    (l, m)
}

#[test]
fn mark_sets_flags_on_the_reachable_objects_and_their_storage_only() {
    let (_pool, mut h) = heap();
    let mut statics = StaticSegment::new();
    let s = new_str(&mut statics, "static").unwrap();
    let inner = new_list(&mut h, &[Value::Int(7), s]).unwrap();
    let (l, m) = with_storage(&mut h, inner);
    let garbage = new_list(&mut h, &[inner]).unwrap();
    let (dead_l, dead_m) = with_storage(&mut h, garbage);
    let mut roots = vec![l, m, s];
    let live = h.mark(&mut roots);
    for v in [&l, &m, &inner] {
        assert!(marked(v));
    }
    for st in [obj(&l), obj(&m)]
        .into_iter()
        .flat_map(owned_storage)
        .flatten()
    {
        assert!(st.header().flags & FLAG_MARK != 0, "storage marked");
    }
    for v in [&garbage, &dead_l, &dead_m] {
        assert!(!marked(v));
    }
    assert!(!marked(&s), "static data is never marked");
    let expect: usize = [l, m, inner]
        .iter()
        .map(|v| bytes_with_storage(obj(v)))
        .sum();
    assert_eq!(live, expect);
    assert!(h.mark_stack.is_empty());
    h.sweep();
    h.verify(&mut roots).unwrap();
}

#[test]
fn a_million_deep_chain_marks_without_recursion() {
    // Miri does not model the native stack's limit: there the chain only
    // checks that marking and sweeping keep every link.
    const DEPTH: usize = if cfg!(miri) { 2_000 } else { 1_000_000 };
    let (_pool, mut h) = heap();
    let mut v = Value::Nil;
    for _ in 0..DEPTH {
        v = new_list(&mut h, &[v]).unwrap();
    }
    let mut roots = vec![v];
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, 0);
    assert_eq!(chain_len(roots[0]), DEPTH);
    // Cut it in the middle: the lower half is swept, however deep.
    let mut mid = roots[0];
    for _ in 0..DEPTH / 2 - 1 {
        mid = mid.as_list().unwrap().get(0).unwrap();
    }
    mid.as_list().unwrap().set(&mut h, 0, Value::Nil);
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, (DEPTH - DEPTH / 2) as u64);
    assert_eq!(chain_len(roots[0]), DEPTH / 2);
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
    let build = |h: &mut MarkSweepHeap| {
        let mut chain = Value::Nil;
        for i in 0..depth {
            chain = new_list(h, &[chain, Value::Int(i)]).unwrap();
        }
        let wide = new_list(h, &[]).unwrap();
        for i in 0..width {
            let item = new_list(h, &[Value::Int(i)]).unwrap();
            let cell = new_cell(h, item).unwrap();
            let f = new_closure(h, 0, &[cell]).unwrap();
            wide.as_list().unwrap().push(h, f).unwrap();
            new_list(h, &[Value::Int(-i)]).unwrap(); // garbage between
        }
        let a = new_list(h, &[Value::Nil]).unwrap();
        a.as_list().unwrap().set(h, 0, a);
        vec![chain, wide, a]
    };
    let (_p1, mut plain) = heap();
    let mut r1 = build(&mut plain);
    let e1 = plain.collect(&mut r1, GcReason::Explicit).unwrap();
    let (_p2, mut tiny) = heap();
    tiny.mark_stack_cap = 4;
    let mut r2 = build(&mut tiny);
    let e2 = tiny.collect(&mut r2, GcReason::Explicit).unwrap();
    assert_eq!(e1.live_bytes, e2.live_bytes);
    assert_eq!(e1.freed_objects, e2.freed_objects);
    assert_eq!(e2.freed_objects, width as u64);
    assert!(tiny.mark_stack.capacity() <= 64, "the cap held");
    tiny.verify(&mut r2).unwrap();
    assert_eq!(chain_len(r2[0]), depth as usize);
    assert_eq!(r2[1].as_list().unwrap().len(), width as usize);
}

#[test]
fn sweep_frees_exactly_the_unmarked_and_clears_the_marks() {
    let (_pool, mut h) = heap();
    let n = lists_for(if cfg!(miri) { 3 } else { 20 }) as i64;
    let (mut roots, mut dead) = (Vec::new(), Vec::new());
    for i in 0..n {
        let v = new_list(&mut h, &[Value::Int(i)]).unwrap();
        if i % 3 == 0 {
            roots.push(v);
        } else {
            dead.push(obj(&v).addr());
        }
    }
    h.mark(&mut roots);
    assert!(roots.iter().all(marked));
    let freed_before = h.stats().freed_objects;
    let freed = h.sweep();
    assert_eq!(freed, dead.len() as u64);
    assert_eq!(h.stats().freed_objects - freed_before, freed);
    for v in &roots {
        assert!(h.slab.is_allocated(obj(v).addr()));
        assert!(!marked(v), "the sweep clears the marks it keeps");
    }
    assert!(dead.iter().all(|&a| !h.slab.is_allocated(a)));
    assert_eq!(h.slab.live_objects(), roots.len());
    for (k, v) in roots.iter().enumerate() {
        assert_eq!(int_at(v, 0), Some(3 * k as i64));
    }
    h.verify(&mut roots).unwrap();
}

#[test]
fn dead_storage_is_freed_once_with_its_owner() {
    let (_pool, mut h) = heap();
    let keep = new_list(&mut h, &[Value::Int(1)]).unwrap();
    let (l, m) = with_storage(&mut h, keep);
    // Growing freed the storage each list and map outgrew at once (retire).
    let objects = |v: &Value| 1 + owned_storage(obj(v)).iter().flatten().count();
    assert_eq!(h.slab.live_objects(), 1 + objects(&l) + objects(&m));
    let mut roots = vec![keep];
    let mut garbage = 0;
    let rounds = if cfg!(miri) { 3 } else { 50 };
    for _ in 0..rounds {
        let (dl, dm) = with_storage(&mut h, keep);
        garbage += objects(&dl) + objects(&dm);
    }
    let freed = h.stats().freed_objects;
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    assert_eq!(
        ev.freed_objects,
        (garbage + objects(&l) + objects(&m)) as u64
    );
    assert_eq!(h.stats().freed_objects - freed, ev.freed_objects);
    // A storage freed twice would show as a free list longer than the freed
    // slots, or counts that disagree.
    h.slab.verify().unwrap();
    assert_eq!(h.slab.live_objects(), 1);
    assert_eq!(h.stats().live_bytes, obj(&keep).size());
    // The freed slots serve new objects of every kind again.
    for _ in 0..rounds {
        let (l, m) = with_storage(&mut h, keep);
        roots.extend([l, m]);
    }
    h.collect(&mut roots, GcReason::Explicit);
    h.verify(&mut roots).unwrap();
    let expect: usize = roots.iter().map(|v| bytes_with_storage(obj(v))).sum();
    assert_eq!(h.stats().live_bytes, expect);
}

#[test]
fn the_sweep_walks_every_segment_while_emptied_ones_go_back() {
    // Segments of dead strings and of live lists, interleaved in the heap's
    // order: each dead one given back takes the last segment into its
    // place, which the walk must not skip (nor walk twice).
    let (_pool, mut h) = heap();
    let (mut roots, mut expect, mut dead) = (Vec::new(), Vec::new(), 0u64);
    let rounds = if cfg!(miri) { 3 } else { 12 };
    let per_segment = lists_for(1);
    for round in 0..rounds {
        for i in 0..per_segment {
            new_str(&mut h, &format!("dead {round} {i}")).unwrap();
            dead += 1;
        }
        for i in 0..per_segment {
            let n = (round * per_segment + i) as i64;
            let v = new_list(&mut h, &[Value::Int(n)]).unwrap();
            if i % 2 == 0 {
                roots.push(v);
                expect.push(n);
            } else {
                dead += 1;
            }
        }
    }
    let segments = h.stats().segments;
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, dead, "every dead object was swept, once");
    assert!(h.stats().segments < segments);
    assert_eq!(h.slab.live_objects(), roots.len());
    h.verify(&mut roots).unwrap();
    let ints: Vec<i64> = roots.iter().map(|v| int_at(v, 0).unwrap_or(-1)).collect();
    assert_eq!(ints, expect);
}

#[test]
fn a_segment_left_with_no_live_object_goes_back_to_the_pool() {
    let (pool, mut h) = heap();
    let keep = new_str(&mut h, "kept").unwrap();
    let mut roots = vec![keep];
    h.collect(&mut roots, GcReason::Explicit);
    let low = h.stats().segments;
    let segs = if cfg!(miri) { 4 } else { 40 };
    for i in 0..lists_for(segs) {
        new_list(&mut h, &[Value::Int(i as i64)]).unwrap();
    }
    new_list_filled(&mut h, SLAB_SEGMENT_BYTES / 16, Value::Nil).unwrap(); // a span
    let high = h.stats().segments;
    assert!(high >= low + segs);
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    // The class's current segment stays (empty) for the next allocation.
    assert!(
        h.stats().segments <= low + 1,
        "{} segments kept",
        h.stats().segments
    );
    assert_eq!(ev.segments_after, h.stats().segments);
    assert!(
        !h.segment_map().iter().any(|s| s.large),
        "the dead span went back"
    );
    assert_eq!(h.stats().heap_bytes, pool.stats().in_use_bytes);
    assert_eq!(h.stats().segments, pool.stats().segments_in_use);
    drop(h);
    assert_eq!(
        pool.stats().in_use_bytes,
        0,
        "dropping the heap gives all back"
    );
}

#[test]
fn objects_never_move() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    let n = lists_for(if cfg!(miri) { 2 } else { 10 }) as i64;
    // Survivors first, garbage between them; then segments of garbage only,
    // which go back to the pool.
    for i in 0..n {
        let v = new_list(&mut h, &[Value::Int(i)]).unwrap();
        if i % 5 == 0 {
            roots.push(v);
        }
    }
    let (big, _) = with_storage(&mut h, Value::Int(3));
    roots.push(big);
    for i in 0..n {
        new_str(&mut h, &format!("garbage {i}")).unwrap();
    }
    let places = |h: &MarkSweepHeap, roots: &[Value]| -> Vec<(usize, Location)> {
        roots
            .iter()
            .map(|v| (obj(v).addr(), h.locate(obj(v)).unwrap()))
            .collect()
    };
    let before = places(&h, &roots);
    let segments = h.stats().segments;
    for _ in 0..2 {
        h.collect(&mut roots, GcReason::Explicit);
        assert_eq!(places(&h, &roots), before, "an object moved");
        for i in 0..n {
            new_list(&mut h, &[Value::Int(-i)]).unwrap();
        }
    }
    assert!(h.stats().segments < segments, "garbage segments went back");
    for (k, v) in roots[..roots.len() - 1].iter().enumerate() {
        assert_eq!(int_at(v, 0), Some(5 * k as i64));
    }
    h.verify(&mut roots).unwrap();
}

#[test]
fn holes_show_in_the_segment_map_and_are_reused() {
    let (_pool, mut h) = heap();
    let n = lists_for(if cfg!(miri) { 3 } else { 10 }) as i64;
    let (mut roots, mut dead) = (Vec::new(), FxHashSet::default());
    for i in 0..n {
        let v = new_list(&mut h, &[Value::Int(i)]).unwrap();
        if i % 4 == 0 {
            roots.push(v);
        } else {
            dead.insert(obj(&v).addr());
        }
    }
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    let slot = slot_bytes(new_list_size()).unwrap();
    let partly = h
        .segment_map()
        .iter()
        .filter(|s| !s.large && s.used > 0 && s.used * 2 < s.bytes)
        .count();
    assert!(partly >= 2, "fragmentation shows: {:?}", h.segment_map());
    let used: usize = h.segment_map().iter().map(|s| s.used).sum();
    assert_eq!(used, roots.len() * slot, "used counts the live slots");
    assert_eq!(ev.segments_after, ev.segments_before, "no segment emptied");
    // New objects of the class fill every hole before a segment is added.
    let segments = h.stats().segments;
    let mut placed = FxHashSet::default();
    for i in 0..dead.len() + lists_for(2) {
        let v = new_list(&mut h, &[Value::Int(i as i64)]).unwrap();
        if h.stats().segments != segments {
            break;
        }
        placed.insert(obj(&v).addr());
        roots.push(v);
    }
    assert!(dead.is_subset(&placed), "a hole was passed over");
    h.verify(&mut roots).unwrap();
}

#[test]
fn the_heap_limit_fails_cleanly_and_a_collection_makes_room() {
    const LIMIT: usize = SLAB_SEGMENT_BYTES * if cfg!(miri) { 3 } else { 8 };
    let (pool, mut h) = heap_with(HeapConfig {
        max_heap: Some(LIMIT),
        stress: false,
    });
    let mut roots = Vec::new();
    let fill = |h: &mut MarkSweepHeap, roots: &mut Vec<Value>, keep: bool| {
        let mut n = 0;
        loop {
            match new_list(h, &[Value::Int(n)]) {
                Ok(v) if keep => roots.push(v),
                Ok(_) => {}
                Err(e) => return (n, e),
            }
            n += 1;
        }
    };
    // Garbage up to the limit; a collection makes room for as much again.
    let (garbage, e) = fill(&mut h, &mut roots, false);
    assert_eq!(e, AllocError::HeapLimit);
    h.collect(&mut roots, GcReason::Limit);
    let (again, _) = fill(&mut h, &mut roots, false);
    assert!(
        again >= garbage - lists_for(1) as i64,
        "{again} of {garbage}"
    );
    // Live data up to the limit: after a collection it still does not fit.
    h.collect(&mut roots, GcReason::Limit);
    let (live, e) = fill(&mut h, &mut roots, true);
    assert_eq!(e, AllocError::HeapLimit);
    h.collect(&mut roots, GcReason::Limit);
    assert_eq!(
        new_list(&mut h, &[Value::Int(0)]).err(),
        Some(AllocError::HeapLimit)
    );
    assert_eq!(roots.len(), live as usize);
    assert!(h.stats().heap_bytes <= LIMIT);
    assert_eq!(h.stats().heap_bytes, pool.stats().in_use_bytes);
    h.verify(&mut roots).unwrap();
}

#[test]
fn stats_are_those_of_the_last_collection() {
    let (pool, mut h) = heap();
    let keep = new_list(&mut h, &[Value::Int(1), Value::Int(2)]).unwrap();
    for i in 0..100 {
        new_list(&mut h, &[Value::Int(i)]).unwrap();
    }
    let s = h.stats();
    assert_eq!(
        s.live_bytes as u64, s.allocated_bytes,
        "before the first collection"
    );
    assert_eq!((s.collections, s.freed_objects), (0, 0));
    let mut roots = vec![keep];
    let ev = h.collect(&mut roots, GcReason::Explicit).unwrap();
    let s = h.stats();
    assert_eq!(s.live_bytes, obj(&keep).size());
    assert_eq!((s.collections, s.freed_objects), (1, 100));
    assert_eq!((ev.live_bytes, ev.freed_objects), (s.live_bytes, 100));
    assert_eq!(s.heap_bytes, pool.stats().in_use_bytes);
    // Allocation since does not change live_bytes: it is as of the last collection.
    new_list(&mut h, &[Value::Int(3)]).unwrap();
    let t = h.stats();
    assert_eq!(t.live_bytes, s.live_bytes);
    assert!(t.allocated_bytes > s.allocated_bytes);
    assert!(t.pause_total >= t.pause_max);
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
    // (Under Miri the lists are fewer than the first budget.)
    assert_eq!(h.gc_due(), h.trigger.since() >= MIN_TRIGGER_BYTES);
    h.collect(&mut roots, GcReason::Budget);
    assert!(!h.gc_due());
    assert!(h.tally.live_after_gc * GROWTH_FACTOR > MIN_TRIGGER_BYTES);
    assert_eq!(h.trigger.budget(), h.tally.live_after_gc * GROWTH_FACTOR);
    let (_pool, mut s) = heap_with(HeapConfig {
        max_heap: None,
        stress: true,
    });
    assert!(!s.gc_due());
    new_list(&mut s, &[]).unwrap();
    assert!(s.gc_due());
}

#[test]
fn verify_catches_a_mark_left_behind_a_header_word_and_a_freed_referent() {
    let (_pool, mut h) = heap();
    let inner = new_list(&mut h, &[Value::Int(1)]).unwrap();
    let outer = new_list(&mut h, &[inner]).unwrap();
    let mut roots = vec![outer];
    h.collect(&mut roots, GcReason::Explicit);
    h.verify(&mut roots).unwrap();
    let r = obj(&outer);
    r.header_mut().flags |= FLAG_MARK;
    let e = h.verify(&mut roots).unwrap_err();
    assert!(e.contains("still marked"), "{e}");
    r.header_mut().flags &= !FLAG_MARK;
    r.header_mut().word = 0x40;
    let e = h.verify(&mut roots).unwrap_err();
    assert!(e.contains("header word 0x40"), "{e}");
    r.header_mut().word = 0;
    h.verify(&mut roots).unwrap();
    // What a sweep that freed a live object would leave: a reference to a freed slot.
    let garbage = new_list(&mut h, &[Value::Int(2)]).unwrap();
    let slot = obj(&garbage);
    h.collect(&mut roots, GcReason::Explicit);
    let old = outer
        .as_list()
        .unwrap()
        .set(&mut h, 0, Value::Obj(0, slot))
        .unwrap();
    let e = h.verify(&mut roots).unwrap_err();
    assert!(e.contains("not a live object"), "{e}");
    outer.as_list().unwrap().set(&mut h, 0, old);
    h.verify(&mut roots).unwrap();
}
