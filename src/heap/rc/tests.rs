//! Unit tests of the rc backend: counts, the release cascade, candidates,
//! each step of the cycle collector, the bound, leaks and verify's count
//! checks. What every backend must do is the heap test kit's (`heap_kit!`
//! below).
//!
//! The tests count as the VM does: one reference per value slot in a heap
//! object (`list`, `set`) and one per stack slot (`Stack::push`, `pop`).
//!
//! Under Miri (`cfg(miri)`) the counts shrink, with the backend's bounds
//! (`CANDIDATE_BOUND`, the buffer's capacity), to what reaches the same states.

use super::*;
use crate::heap::statics::StaticSegment;
use crate::value::func::{new_cell, new_closure};
use crate::value::list::new_list;
use crate::value::map::new_map;
use crate::value::string::new_str;

crate::heap::kit::heap_kit!(RcHeap);

/// The VM's stack: every value on it is counted.
struct Stack(Vec<Value>);

impl Stack {
    fn push(&mut self, h: &mut RcHeap, v: Value) {
        h.retain(&v);
        self.0.push(v);
    }

    fn pop(&mut self, h: &mut RcHeap) {
        if let Some(v) = self.0.pop() {
            h.release(v);
        }
    }
}

fn heap() -> (Arc<SegmentPool>, RcHeap) {
    let pool = Arc::new(SegmentPool::new(None));
    let h = RcHeap::new(pool.clone(), HeapConfig::default());
    (pool, h)
}

/// A new list of `items`, each item slot counted.
fn list(h: &mut RcHeap, items: &[Value]) -> Value {
    let v = new_list(h, items).unwrap();
    for it in items {
        h.retain(it);
    }
    v
}

/// `l[i] = v`, counted.
fn set(h: &mut RcHeap, l: Value, i: usize, v: Value) {
    h.retain(&v);
    let old = l.as_list().unwrap().set(h, i, v).unwrap();
    h.release(old);
}

fn rc(h: &RcHeap, v: &Value) -> u64 {
    h.refcount(v.as_obj().unwrap()).unwrap()
}

#[test]
fn counts_follow_retain_and_release() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let l = list(&mut h, &[]);
    assert_eq!(rc(&h, &l), 0, "a fresh object has count 0");
    stack.push(&mut h, l);
    stack.push(&mut h, l);
    let holder = list(&mut h, &[l]);
    stack.push(&mut h, holder);
    assert_eq!(rc(&h, &l), 3);
    assert_eq!(rc(&h, &holder), 1);
    stack.pop(&mut h);
    assert_eq!(rc(&h, &l), 2, "the holder's slot was released with it");
    assert_eq!(h.stats().freed_objects, 1);
    // Static data and immediates are not counted.
    let mut statics = StaticSegment::new();
    let s = new_str(&mut statics, "static").unwrap();
    h.retain(&s);
    h.release(s);
    h.release(s);
    assert_eq!(s.as_obj().unwrap().header().word, 0);
    assert_eq!(h.refcount(s.as_obj().unwrap()), None);
    h.retain(&Value::Int(1));
    h.release(Value::Nil);
    h.verify(&mut stack.0).unwrap();
}

#[test]
fn zero_frees_at_once_releasing_referents_and_storage() {
    let (pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let inner = list(&mut h, &[Value::Int(1)]);
    let shared = list(&mut h, &[]);
    stack.push(&mut h, shared);
    let outer = list(&mut h, &[]);
    for _ in 0..50 {
        // Grows past its inline items: the items move to an array (not counted).
        h.retain(&inner);
        outer.as_list().unwrap().push(&mut h, inner).unwrap();
    }
    let key = new_str(&mut h, "k").unwrap();
    let m = new_map(&mut h, &[]).unwrap();
    for i in 0..20 {
        h.retain(&shared);
        m.as_map()
            .unwrap()
            .insert(&mut h, Value::Int(i), shared)
            .unwrap();
    }
    h.retain(&key);
    h.retain(&outer);
    m.as_map().unwrap().insert(&mut h, key, outer).unwrap();
    stack.push(&mut h, m);
    h.verify(&mut stack.0).unwrap();
    assert_eq!(rc(&h, &inner), 50);
    assert_eq!(rc(&h, &shared), 21);
    let freed = h.stats().freed_objects;
    stack.pop(&mut h);
    // The map, its entries array and index, the key, outer and its array, and inner.
    assert_eq!(h.stats().freed_objects - freed, 7);
    assert_eq!(rc(&h, &shared), 1);
    assert_eq!(h.slab.live_objects(), 1);
    assert_eq!(h.stats().live_bytes, shared.as_obj().unwrap().size());
    stack.pop(&mut h);
    assert_eq!(h.stats().live_bytes, 0);
    assert_eq!(h.stats().heap_bytes, pool.stats().in_use_bytes);
    h.verify(&mut stack.0).unwrap();
}

#[test]
fn closures_and_cells_count_what_they_capture() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let l = list(&mut h, &[]);
    let cell = new_cell(&mut h, l).unwrap();
    h.retain(&l);
    let f = new_closure(&mut h, 0, &[cell, l]).unwrap();
    h.retain(&cell);
    h.retain(&l);
    stack.push(&mut h, f);
    assert_eq!(rc(&h, &l), 2);
    h.verify(&mut stack.0).unwrap();
    stack.pop(&mut h);
    assert_eq!(h.slab.live_objects(), 0);
}

/// A million natively; Miri does not model the native stack's limit, and
/// there the long chains and rings only check that every link is handled.
const MILLION: usize = if cfg!(miri) { 1_000 } else { 1_000_000 };

#[test]
fn a_million_deep_chain_is_released_without_recursion() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let mut v = Value::Nil;
    for _ in 0..MILLION {
        v = list(&mut h, &[v]);
    }
    stack.push(&mut h, v);
    assert_eq!(h.slab.live_objects(), MILLION);
    stack.pop(&mut h);
    assert_eq!(h.slab.live_objects(), 0);
    assert_eq!(h.stats().freed_objects, MILLION as u64);
    assert!(
        h.candidates.is_empty(),
        "nothing freed by counting is a candidate"
    );
}

#[test]
fn a_release_above_zero_buffers_a_candidate_once() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let l = list(&mut h, &[]);
    let s = new_str(&mut h, "text").unwrap();
    for _ in 0..3 {
        stack.push(&mut h, l);
        stack.push(&mut h, s);
    }
    stack.pop(&mut h);
    stack.pop(&mut h);
    stack.pop(&mut h);
    stack.pop(&mut h);
    assert_eq!(
        h.candidates,
        vec![Some(l.as_obj().unwrap())],
        "strings are never candidates"
    );
    let hd = l.as_obj().unwrap().header();
    assert_eq!(colour(hd), PURPLE);
    assert!(buffered(hd));
    h.verify(&mut stack.0).unwrap();
    // Freed by counting while buffered: it leaves the buffer at once.
    stack.0.retain(|v| v.as_obj() != l.as_obj());
    h.release(l);
    assert_eq!(h.candidates, vec![None]);
    assert!(!h.slab.is_allocated(l.as_obj().unwrap().addr()));
    h.verify(&mut stack.0).unwrap();
}

/// Two lists referring to each other, no longer on the stack.
fn garbage_pair(h: &mut RcHeap, stack: &mut Stack) -> (Value, Value) {
    let a = list(h, &[Value::Nil]);
    let b = list(h, &[a]);
    set(h, a, 0, b);
    stack.push(h, a);
    stack.push(h, b);
    stack.pop(h);
    stack.pop(h);
    (a, b)
}

#[test]
fn a_two_node_cycle_is_collected() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let (a, b) = garbage_pair(&mut h, &mut stack);
    assert_eq!(
        (rc(&h, &a), rc(&h, &b)),
        (1, 1),
        "counting alone cannot free it"
    );
    assert_eq!(h.candidates.len(), 2);
    h.verify(&mut stack.0).unwrap();
    let ev = h.collect(&mut stack.0, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, 2);
    assert_eq!(ev.live_bytes, 0);
    assert_eq!(h.slab.live_objects(), 0);
    assert!(h.candidates.is_empty());
    assert_eq!(h.stats().collections, 1);
    h.verify(&mut stack.0).unwrap();
}

#[test]
fn a_cycle_reachable_from_a_live_object_is_kept_with_its_counts() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let a = list(&mut h, &[Value::Nil]);
    let b = list(&mut h, &[a]);
    set(&mut h, a, 0, b);
    let holder = list(&mut h, &[a]);
    stack.push(&mut h, holder);
    stack.push(&mut h, a);
    stack.push(&mut h, b);
    stack.pop(&mut h);
    stack.pop(&mut h);
    let ev = h.collect(&mut stack.0, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, 0);
    assert_eq!(
        (rc(&h, &a), rc(&h, &b)),
        (2, 1),
        "trial deletion restored the counts"
    );
    for v in [a, b, holder] {
        assert_eq!(colour(v.as_obj().unwrap().header()), BLACK);
    }
    h.verify(&mut stack.0).unwrap();
    // Once the holder goes, the cycle is garbage.
    stack.pop(&mut h);
    assert_eq!(h.slab.live_objects(), 2);
    let ev = h.collect(&mut stack.0, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, 2);
}

#[test]
fn a_cycle_hanging_off_garbage_goes_with_what_it_holds() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    // g -> a <-> b -> data: g is freed by counting; the cycle waits.
    let data = list(&mut h, &[Value::Int(1), Value::Int(2)]);
    let a = list(&mut h, &[Value::Nil]);
    let b = list(&mut h, &[a, data]);
    set(&mut h, a, 0, b);
    let g = list(&mut h, &[a]);
    stack.push(&mut h, g);
    stack.pop(&mut h);
    assert_eq!(h.slab.live_objects(), 3);
    h.verify(&mut stack.0).unwrap();
    let ev = h.collect(&mut stack.0, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, 3, "the cycle and the list only it held");
    assert_eq!(h.slab.live_objects(), 0);
}

#[test]
fn gray_and_white_steps_do_what_they_say() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let (a, b) = garbage_pair(&mut h, &mut stack);
    let c = list(&mut h, &[Value::Nil]);
    let d = list(&mut h, &[c]);
    set(&mut h, c, 0, d);
    stack.push(&mut h, c);
    stack.push(&mut h, d);
    stack.pop(&mut h);
    let mut roots = std::mem::take(&mut h.candidates);
    h.mark_roots(&mut roots);
    let col = |v: &Value| colour(v.as_obj().unwrap().header());
    assert_eq!([col(&a), col(&b), col(&c), col(&d)], [GRAY; 4]);
    assert_eq!(
        (rc(&h, &a), rc(&h, &b)),
        (0, 0),
        "internal references subtracted"
    );
    assert_eq!(rc(&h, &c), 1, "the stack's reference remains");
    let live = h.scan_roots(&roots);
    assert_eq!([col(&a), col(&b)], [WHITE; 2]);
    assert_eq!([col(&c), col(&d)], [BLACK; 2]);
    assert_eq!(live, 2);
    assert_eq!(
        (rc(&h, &c), rc(&h, &d)),
        (2, 1),
        "scan_black restored the counts"
    );
    h.collect_roots(&mut roots);
    assert_eq!(h.slab.live_objects(), 2);
    h.verify(&mut stack.0).unwrap();
}

#[test]
fn a_million_node_ring_is_collected_without_recursion() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let first = list(&mut h, &[Value::Nil]);
    let mut v = first;
    for _ in 1..MILLION {
        v = list(&mut h, &[v]);
    }
    set(&mut h, first, 0, v);
    stack.push(&mut h, v);
    stack.pop(&mut h);
    let ev = h.collect(&mut stack.0, GcReason::Explicit).unwrap();
    assert_eq!(ev.freed_objects, MILLION as u64);
    assert_eq!(h.slab.live_objects(), 0);
}

#[test]
fn collection_is_due_past_the_bound_and_the_bound_follows_live_work() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let holder = list(&mut h, &[]);
    stack.push(&mut h, holder);
    for i in 0..CANDIDATE_BOUND {
        assert!(!h.gc_due(), "due early, at {i}");
        // Live lists that become candidates: the holder keeps them.
        let l = list(&mut h, &[]);
        h.retain(&l);
        holder.as_list().unwrap().push(&mut h, l).unwrap();
        stack.push(&mut h, l);
        stack.pop(&mut h);
    }
    assert!(h.gc_due());
    let ev = h.collect(&mut stack.0, GcReason::Budget).unwrap();
    assert_eq!(ev.freed_objects, 0);
    assert!(!h.gc_due());
    assert_eq!(h.bound, CANDIDATE_BOUND.max(h.bound));
    h.verify(&mut stack.0).unwrap();
    // The next collection traced 3 × the bound of live lists: the bound grows.
    for _ in 0..3 {
        for i in 0..CANDIDATE_BOUND {
            let l = holder.as_list().unwrap().get(i).unwrap();
            stack.push(&mut h, l);
            stack.pop(&mut h);
        }
    }
    stack.push(&mut h, holder);
    stack.pop(&mut h);
    h.collect(&mut stack.0, GcReason::Budget);
    assert!(h.bound > CANDIDATE_BOUND, "bound {}", h.bound);
    // Garbage alone keeps the bound at its floor.
    stack.pop(&mut h);
    h.collect(&mut stack.0, GcReason::Budget);
    assert_eq!(h.bound, CANDIDATE_BOUND);
    assert_eq!(h.slab.live_objects(), 0);
}

#[test]
fn garbage_cycles_stay_bounded_without_explicit_collections() {
    let (pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    // Uncollected, the pairs would take six times the peak allowed or more.
    let (pairs, peak) = if cfg!(miri) {
        (2_048, 32 * 1024)
    } else {
        (200_000, 2 * 1024 * 1024)
    };
    for _ in 0..pairs {
        garbage_pair(&mut h, &mut stack);
        if h.gc_due() {
            h.collect(&mut stack.0, GcReason::Budget);
        }
    }
    assert!(
        pool.stats().peak_bytes < peak,
        "peak {}",
        pool.stats().peak_bytes
    );
    assert!(h.stats().collections >= pairs * 2 / CANDIDATE_BOUND as u64);
}

#[test]
fn candidates_past_the_buffer_are_freed_at_zero_and_found_by_the_collection() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    // Live candidates that fill the buffer.
    for _ in 0..BUFFER_CAPACITY {
        let l = list(&mut h, &[]);
        stack.push(&mut h, l);
        stack.push(&mut h, l);
        stack.pop(&mut h);
    }
    assert_eq!(h.candidates.len(), BUFFER_CAPACITY);
    // Past it: one object that will drop to zero, and garbage cycles.
    let lone = list(&mut h, &[]);
    stack.push(&mut h, lone);
    stack.push(&mut h, lone);
    stack.pop(&mut h);
    let r = lone.as_obj().unwrap();
    assert_eq!(colour(r.header()), PURPLE);
    assert!(!buffered(r.header()));
    let pairs: Vec<(Value, Value)> = (0..10).map(|_| garbage_pair(&mut h, &mut stack)).collect();
    assert_eq!(
        h.candidates.len(),
        BUFFER_CAPACITY,
        "the buffer does not grow past its capacity"
    );
    assert_eq!(h.overflowed, 21);
    h.verify(&mut stack.0).unwrap();
    // Dropped to zero outside the buffer: freed at once.
    stack.0.pop();
    h.release(lone);
    assert!(!h.slab.is_allocated(r.addr()));
    assert_eq!(h.overflowed, 20);
    h.verify(&mut stack.0).unwrap();
    // The collection walks the slab for the overflowed candidates.
    let ev = h.collect(&mut stack.0, GcReason::Budget).unwrap();
    assert_eq!(ev.freed_objects, 20);
    assert!(!h.slab.is_allocated(pairs[3].0.as_obj().unwrap().addr()));
    assert_eq!(h.overflowed, 0);
    assert_eq!(h.slab.live_objects(), BUFFER_CAPACITY);
    h.verify(&mut stack.0).unwrap();
}

#[test]
fn a_chain_built_as_the_vm_builds_it_is_freed_at_once_when_dropped() {
    // `for i in 0..N { x = [x]; }` then `x = nil`: every list becomes a
    // candidate when the variable lets go of it, far more than the buffer holds.
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![Value::Nil]);
    for _ in 0..if cfg!(miri) { 1_000 } else { 200_000 } {
        let x = stack.0[0];
        let l = list(&mut h, &[x]);
        h.retain(&l);
        let old = std::mem::replace(&mut stack.0[0], l);
        h.release(old);
        if h.gc_due() {
            h.collect(&mut stack.0, GcReason::Budget);
        }
    }
    assert!(h.overflowed > 0, "the test must overflow the buffer");
    h.verify(&mut stack.0).unwrap();
    let top = std::mem::replace(&mut stack.0[0], Value::Nil);
    h.release(top);
    assert_eq!(h.stats().live_bytes, 0);
    assert_eq!(h.overflowed, 0);
    h.verify(&mut stack.0).unwrap();
}

#[test]
fn stress_makes_a_collection_due_after_any_allocation() {
    let pool = Arc::new(SegmentPool::new(None));
    let cfg = HeapConfig {
        max_heap: None,
        stress: true,
    };
    let mut h = RcHeap::new(pool, cfg);
    assert!(!h.gc_due());
    list(&mut h, &[]);
    assert!(h.gc_due());
    h.collect(&mut Vec::new(), GcReason::Stress);
    assert!(!h.gc_due());
}

#[test]
fn leaks_group_what_is_left_by_site() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    h.set_site(5);
    let a = list(&mut h, &[]);
    stack.push(&mut h, a);
    h.set_site(6);
    garbage_pair(&mut h, &mut stack);
    let size = a.as_obj().unwrap().size() as u64;
    let pair = 2 * new_list(&mut h, &[Value::Nil])
        .unwrap()
        .as_obj()
        .unwrap()
        .size() as u64;
    let leaks = h.leaks();
    assert_eq!(
        leaks[0],
        Leak {
            site: 5,
            objects: 1,
            bytes: size
        }
    );
    assert_eq!(leaks[1].site, 6);
    assert_eq!((leaks[1].objects, leaks[1].bytes), (3, pair + pair / 2));
}

#[test]
fn verify_catches_a_broken_count_and_a_dangling_reference() {
    let (_pool, mut h) = heap();
    let mut stack = Stack(vec![]);
    let (a, _b) = garbage_pair(&mut h, &mut stack);
    let m = new_map(&mut h, &[]).unwrap();
    stack.push(&mut h, m);
    h.verify(&mut stack.0).unwrap();
    // One count too many.
    a.as_obj().unwrap().header_mut().word += 1;
    let e = h.verify(&mut stack.0).unwrap_err();
    assert!(
        e.contains("list") && e.contains("stored count 2, actual references 1"),
        "{e}"
    );
    a.as_obj().unwrap().header_mut().word -= 1;
    h.verify(&mut stack.0).unwrap();
    // A root the counts do not know about.
    stack.0.push(a);
    let e = h.verify(&mut stack.0).unwrap_err();
    assert!(e.contains("stored count 1, actual references 2"), "{e}");
    stack.0.pop();
    // A reference to a freed object.
    let dead = list(&mut h, &[]);
    stack.push(&mut h, dead);
    stack.pop(&mut h);
    stack.0.push(dead);
    let e = h.verify(&mut stack.0).unwrap_err();
    assert!(e.contains("not a live object"), "{e}");
}
