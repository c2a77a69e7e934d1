//! Unit tests for the generational backend: the barrier (each store kind),
//! promotion, minor and major collections, the nursery's size and its
//! overflow into the old generation, and what verify checks of the
//! barrier. What every backend must do is the heap test kit's (`heap_kit!`
//! below).
//!
//! Under Miri (`cfg(miri)`, thousands of times slower) the counts shrink
//! to the least that still takes the same paths.

use super::*;
use crate::heap::kit::support::{chain_len, heap_on, int_at, list_ints, obj};
use crate::heap::statics::StaticSegment;
use crate::heap::{GcKind, GcReason};
use crate::value::func::{new_cell, new_closure};
use crate::value::list::{new_list, new_list_filled};
use crate::value::map::new_map;
use crate::value::string::new_str;
use crate::value::{CellRef, ClosureRef, ListRef, Value};

crate::heap::kit::heap_kit!(GenerationalHeap);

fn heap_with(max_heap: Option<usize>, stress: bool) -> (Arc<SegmentPool>, GenerationalHeap) {
    heap_on(HeapConfig { max_heap, stress }, None)
}

fn heap() -> (Arc<SegmentPool>, GenerationalHeap) {
    heap_with(None, false)
}

fn young(h: &GenerationalHeap, v: &Value) -> bool {
    h.generation(obj(v)) == Some("young")
}

fn old(h: &GenerationalHeap, v: &Value) -> bool {
    h.generation(obj(v)) == Some("old")
}

fn remembered(v: &Value) -> bool {
    obj(v).header().flags & FLAG_REMEMBERED != 0
}

/// Whether `o` is remembered whole, or a remembered slot holds `y`.
fn remembers(h: &GenerationalHeap, o: &Value, y: &Value) -> bool {
    remembered(o)
        || h.slots.iter().any(|&s| {
            // SAFETY: remembered slots are item slots of live old lists.
            matches!(unsafe { s.read() }, Value::Obj(_, r) if r == obj(y))
        })
}

/// `v`, promoted: one explicit collection (a minor and a major) with `v`
/// among `roots`; returns where it went.
fn promote(h: &mut GenerationalHeap, roots: &mut Vec<Value>, v: Value) -> Value {
    roots.push(v);
    h.collect(roots, GcReason::Explicit).unwrap();
    h.verify(roots).unwrap();
    roots.pop().unwrap()
}

/// A minor collection only.
fn minor(h: &mut GenerationalHeap, roots: &mut [Value]) -> GcEvent {
    let e = h
        .minor(&mut &mut *roots, GcReason::Budget)
        .expect("room to promote");
    assert_eq!(e.kind, GcKind::Minor);
    h.verify(&mut &mut *roots).unwrap();
    e
}

#[test]
fn a_heap_that_never_promoted_is_smaller_than_a_mark_compact_one() {
    // What 100,000 idle or small processes cost (spawn_many): the old
    // generation is made at the first promotion or old birth.
    // At most three fifths of a mark-compact heap: its collections' books
    // are boxed and made at first use (192 against 320 bytes on x86_64).
    assert!(
        5 * std::mem::size_of::<GenerationalHeap>() <= 3 * std::mem::size_of::<MarkCompactHeap>()
    );
    let (_pool, mut h) = heap();
    let mut roots = vec![new_list(&mut h, &[Value::Int(1)]).unwrap()];
    assert!(h.old.is_none(), "young objects need no old generation");
    assert!(h.books.is_none(), "nor, before a collection, any books");
    minor(&mut h, &mut roots);
    assert!(h.old.is_some() && h.books.is_some());
}

#[test]
fn a_heap_that_never_allocated_holds_no_nursery() {
    let (pool, h) = heap();
    assert_eq!(pool.stats().in_use_bytes, 0);
    let g = h.stats().generations.unwrap();
    assert_eq!((g.nursery_bytes, g.minor_collections), (0, 0));
    assert_eq!(h.segment_map()[0].bytes, 0);
    assert!(h.segment_map()[0].nursery);
}

#[test]
fn objects_are_born_young_and_promoted_by_the_first_collection_they_survive() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    let x = new_list(&mut h, &[Value::Int(1), Value::Int(2)]).unwrap();
    assert!(young(&h, &x));
    let at = h.locate(obj(&x)).unwrap();
    assert_eq!(at.segment, 0, "the nursery is segment 0");
    roots.push(x);
    let e = minor(&mut h, &mut roots);
    let x2 = roots[0];
    assert!(old(&h, &x2));
    assert_ne!(obj(&x2), obj(&x), "promotion copies");
    assert!(h.locate(obj(&x2)).unwrap().segment >= 1);
    assert_eq!(list_ints(&x2), [1, 2]);
    let g = h.stats().generations.unwrap();
    assert_eq!(g.minor_collections, 1);
    assert_eq!(g.promoted_bytes, obj(&x2).size() as u64);
    assert_eq!(e.freed_objects, 0);
    // A second minor collection leaves the old object where it is.
    new_list(&mut h, &[Value::Int(3)]).unwrap();
    let e = minor(&mut h, &mut roots);
    assert_eq!(obj(&roots[0]), obj(&x2));
    assert_eq!(e.freed_objects, 1, "the garbage list");
}

#[test]
fn a_minor_collection_drops_young_garbage_and_keeps_sharing_and_cycles() {
    let (_pool, mut h) = heap();
    let shared = new_list(&mut h, &[Value::Int(7)]).unwrap();
    for i in 0..50 {
        new_list(&mut h, &[Value::Int(i)]).unwrap();
    }
    let a = new_list(&mut h, &[shared, shared, Value::Nil]).unwrap();
    a.as_list().unwrap().set(&mut h, 2, a);
    let mut roots = vec![a];
    let e = minor(&mut h, &mut roots);
    assert_eq!(e.freed_objects, 50);
    let a = roots[0];
    let l = a.as_list().unwrap();
    assert_eq!(obj(&l.get(0).unwrap()), obj(&l.get(1).unwrap()), "one copy");
    assert_eq!(obj(&l.get(2).unwrap()), obj(&a), "the cycle");
    assert_eq!(int_at(&l.get(0).unwrap(), 0), Some(7));
    assert!(old(&h, &l.get(0).unwrap()));
}

/// An old object made to point at a young one, by each kind of store: it
/// is remembered, and the young object survives a minor collection that
/// has only the old one among its roots.
#[test]
fn every_kind_of_store_is_seen_by_the_barrier() {
    /// What is stored into, how, and how to read the stored value back.
    type Make = fn(&mut GenerationalHeap) -> Value;
    type Store = fn(&mut GenerationalHeap, Value, Value);
    type Read = fn(Value) -> Value;
    let stores: [(&str, Make, Store, Read); 10] = [
        (
            "list slot",
            |h| new_list(h, &[Value::Nil]).unwrap(),
            |h, o, y| {
                o.as_list().unwrap().set(h, 0, y);
            },
            |o| o.as_list().unwrap().get(0).unwrap(),
        ),
        (
            "insert into inline room",
            |h| {
                let l = new_list(h, &[]).unwrap();
                l.as_list().unwrap().push(h, Value::Int(0)).unwrap();
                l
            },
            |h, o, y| assert_eq!(o.as_list().unwrap().insert(h, 0, y), Ok(true)),
            |o| o.as_list().unwrap().get(0).unwrap(),
        ),
        (
            "insert that grows the storage",
            |h| new_list(h, &[Value::Int(0), Value::Int(1)]).unwrap(),
            |h, o, y| assert_eq!(o.as_list().unwrap().insert(h, 1, y), Ok(true)),
            |o| o.as_list().unwrap().get(1).unwrap(),
        ),
        (
            "insert at the end",
            |h| new_list(h, &[Value::Int(0)]).unwrap(),
            |h, o, y| assert_eq!(o.as_list().unwrap().insert(h, 1, y), Ok(true)),
            |o| o.as_list().unwrap().get(1).unwrap(),
        ),
        (
            "push into inline room",
            |h| {
                let l = new_list(h, &[]).unwrap();
                l.as_list().unwrap().push(h, Value::Int(0)).unwrap();
                l
            },
            |h, o, y| o.as_list().unwrap().push(h, y).unwrap(),
            |o| o.as_list().unwrap().get(1).unwrap(),
        ),
        (
            "push that grows the storage",
            |h| new_list(h, &[Value::Int(0)]).unwrap(),
            |h, o, y| o.as_list().unwrap().push(h, y).unwrap(),
            |o| o.as_list().unwrap().get(1).unwrap(),
        ),
        (
            "map value",
            |h| {
                let k = new_str(h, "k").unwrap();
                new_map(h, &[(k, Value::Nil)]).unwrap()
            },
            |h, o, y| {
                let k = new_str(h, "k").unwrap();
                o.as_map().unwrap().insert(h, k, y).unwrap();
            },
            |o| o.as_map().unwrap().entry(0).unwrap().1,
        ),
        (
            "map key of a new entry (storage rebuilt)",
            |h| new_map(h, &[]).unwrap(),
            |h, o, y| {
                let m = o.as_map().unwrap();
                for i in 0..20 {
                    m.insert(h, Value::Int(i), Value::Int(i)).unwrap();
                }
                let k = new_str(h, &format!("{:?}", list_ints(&y))).unwrap();
                m.insert(h, k, y).unwrap();
            },
            |o| o.as_map().unwrap().entry(20).unwrap().1,
        ),
        (
            "captured-variable cell",
            |h| new_cell(h, Value::Nil).unwrap(),
            |h, o, y| {
                CellRef(obj(&o)).set(h, y);
            },
            |o| CellRef(obj(&o)).get(),
        ),
        (
            "closure capture",
            |h| new_closure(h, 0, &[Value::Nil]).unwrap(),
            |h, o, y| {
                ClosureRef(obj(&o)).set_capture(h, 0, y);
            },
            |o| ClosureRef(obj(&o)).capture(0),
        ),
    ];
    for (what, make, store, read) in stores {
        let (_pool, mut h) = heap();
        let mut roots = Vec::new();
        let made = make(&mut h);
        let o = promote(&mut h, &mut roots, made);
        assert!(old(&h, &o) && !remembered(&o), "{what}");
        let y = new_list(&mut h, &[Value::Int(65), Value::Int(66)]).unwrap();
        assert!(young(&h, &y), "{what}");
        store(&mut h, o, y);
        assert!(
            remembers(&h, &o, &y),
            "{what}: the old object is remembered"
        );
        h.verify(&mut vec![o]).unwrap();
        roots.push(o);
        minor(&mut h, &mut roots);
        let kept = read(roots[0]);
        assert!(old(&h, &kept), "{what}: promoted");
        assert_eq!(list_ints(&kept), [65, 66], "{what}");
        assert!(!remembered(&roots[0]), "{what}: the set is emptied");
        assert!(h.remembered.is_empty() && h.slots.is_empty(), "{what}");
    }
}

/// An old list of 1000 nils (rooted), and `n` young one-item lists [0], [1], ...
fn old_list_and_young(
    n: i64,
) -> (
    Arc<SegmentPool>,
    GenerationalHeap,
    Vec<Value>,
    ListRef,
    Vec<Value>,
) {
    let (pool, mut h) = heap();
    let mut roots = Vec::new();
    let made = new_list_filled(&mut h, 1000, Value::Nil).unwrap();
    let o = promote(&mut h, &mut roots, made);
    roots.push(o);
    let ys = (0..n)
        .map(|i| new_list(&mut h, &[Value::Int(i)]).unwrap())
        .collect();
    (pool, h, roots, o.as_list().unwrap(), ys)
}

#[test]
fn a_list_item_store_remembers_the_slot_not_the_list() {
    let (_pool, mut h, mut roots, l, ys) = old_list_and_young(2);
    l.set(&mut h, 10, ys[0]);
    l.set(&mut h, 500, ys[1]);
    l.set(&mut h, 500, ys[1]);
    assert!(!remembered(&roots[0]), "only slots");
    assert_eq!(h.slots.len(), 3, "a slot stored twice is listed twice");
    h.verify(&mut roots).unwrap();
    // Overwritten by an int before the collection: nothing to copy there.
    l.set(&mut h, 10, Value::Int(7));
    minor(&mut h, &mut roots);
    assert!(h.slots.is_empty());
    let kept = l.get(500).unwrap();
    assert!(old(&h, &kept));
    assert_eq!(list_ints(&kept), [1]);
    assert_eq!(int_at(&roots[0], 10), Some(7));
}

#[test]
fn a_list_whose_storage_grows_is_remembered_whole() {
    let (_pool, mut h, mut roots, l, ys) = old_list_and_young(3);
    l.set(&mut h, 10, ys[0]);
    l.set(&mut h, 500, ys[1]);
    l.push(&mut h, ys[2]).unwrap(); // new storage, young: the list whole
    assert!(remembered(&roots[0]));
    minor(&mut h, &mut roots);
    for (i, at) in [(0, 10), (1, 500), (2, 1000)] {
        let kept = l.get(at).unwrap();
        assert!(old(&h, &kept));
        assert_eq!(list_ints(&kept), [i]);
    }
}

#[test]
fn items_moved_within_an_old_list_are_remembered_with_it() {
    // A remembered slot, then the item in it moved within the list's own
    // storage (remove before it, reverse): the slot no longer says where
    // the young item is, so the list is remembered whole.
    type Move = fn(&mut GenerationalHeap, ListRef);
    let moves: [(&str, Move, usize); 3] = [
        (
            "remove before it",
            |h, l| assert!(l.remove(h, 0).is_some()),
            9,
        ),
        ("reverse", |h, l| l.reverse(h), 989),
        (
            "insert before it",
            |h, l| assert_eq!(l.insert(h, 0, Value::Int(7)), Ok(true)),
            11,
        ),
    ];
    for (what, mv, at) in moves {
        let (_pool, mut h, mut roots, l, ys) = old_list_and_young(1);
        l.set(&mut h, 10, ys[0]);
        assert!(!remembered(&roots[0]) && h.slots.len() == 1, "{what}");
        mv(&mut h, l);
        assert!(
            remembered(&roots[0]),
            "{what}: the list is remembered whole"
        );
        h.verify(&mut roots).unwrap();
        minor(&mut h, &mut roots);
        let kept = l.get(at).unwrap();
        assert!(old(&h, &kept), "{what}");
        assert_eq!(list_ints(&kept), [0], "{what}");
    }
}

#[test]
fn items_moved_within_a_young_list_need_no_remembering() {
    // A young list is traced whole by the minor collection: its moves
    // remember nothing, and what it holds survives.
    let (_pool, mut h) = heap();
    let y = new_list(&mut h, &[Value::Int(5)]).unwrap();
    let l = new_list_filled(&mut h, 100, y).unwrap();
    let mut roots = vec![l];
    let list = l.as_list().unwrap();
    for _ in 0..20 {
        list.push(&mut h, y).unwrap(); // grows the storage: its items move
    }
    list.reverse(&mut h);
    assert!(list.remove(&mut h, 0).is_some());
    assert!(h.remembered.is_empty() && h.slots.is_empty());
    h.verify(&mut roots).unwrap();
    minor(&mut h, &mut roots);
    let list = roots[0].as_list().unwrap();
    assert_eq!(list.len(), 119);
    assert!(list.items().iter().all(|v| list_ints(v) == [5]));
}

#[test]
fn items_a_grown_list_moves_into_old_storage_stay_remembered() {
    // An old list with old (large) storage, an item slot remembered, then a
    // push that moves every item into new storage that is born old too: the
    // remembered slot is in the storage given up, so the move itself must be
    // seen by the barrier.
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    let n = NURSERY_LARGE_BYTES / 16;
    let made = new_list_filled(&mut h, n, Value::Int(0)).unwrap();
    let o = promote(&mut h, &mut roots, made);
    roots.push(o);
    let l = o.as_list().unwrap();
    let y = new_list(&mut h, &[Value::Int(42)]).unwrap();
    l.set(&mut h, 3, y);
    assert!(!remembered(&o) && h.slots.len() == 1);
    l.push(&mut h, Value::Int(1)).unwrap(); // storage of 2n items: born old
    h.verify(&mut roots).unwrap();
    minor(&mut h, &mut roots);
    let kept = l.get(3).unwrap();
    assert!(old(&h, &kept));
    assert_eq!(list_ints(&kept), [42]);
}

#[test]
fn past_the_slot_limit_a_store_remembers_its_list_whole() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    let made = new_list_filled(&mut h, 4, Value::Nil).unwrap();
    let o = promote(&mut h, &mut roots, made);
    roots.push(o);
    let l = o.as_list().unwrap();
    let y = new_list(&mut h, &[Value::Int(9)]).unwrap();
    for _ in 0..MAX_REMEMBERED_SLOTS {
        l.set(&mut h, 0, y);
    }
    assert!(!remembered(&o));
    assert_eq!(h.slots.len(), MAX_REMEMBERED_SLOTS);
    l.set(&mut h, 1, y);
    assert!(remembered(&o), "full: the list whole");
    l.set(&mut h, 2, y);
    assert_eq!(h.slots.len(), MAX_REMEMBERED_SLOTS, "and no more slots");
    minor(&mut h, &mut roots);
    assert_eq!(list_ints(&l.get(2).unwrap()), [9]);
    assert!(h.slots.is_empty() && h.remembered.is_empty());
}

#[test]
fn stores_that_need_no_remembering_are_not_remembered() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    let made_map = new_map(&mut h, &[]).unwrap();
    let m = promote(&mut h, &mut roots, made_map);
    roots.push(m);
    let other = new_list(&mut h, &[]).unwrap();
    let made = new_list(&mut h, &[Value::Nil, other]).unwrap();
    let o = promote(&mut h, &mut roots, made);
    roots.push(o);
    let l = o.as_list().unwrap();
    let other_old = l.get(1).unwrap();
    assert!(old(&h, &other_old));
    l.set(&mut h, 0, Value::Int(5));
    l.set(&mut h, 1, other_old);
    assert!(!remembered(&o), "ints and old objects");
    let y = new_list(&mut h, &[]).unwrap();
    let yl = y.as_list().unwrap();
    yl.push(&mut h, o).unwrap();
    assert!(!remembered(&y), "a young holder");
    assert!(h.remembered.is_empty());
    l.set(&mut h, 0, y);
    l.set(&mut h, 1, y);
    assert_eq!(h.slots.len(), 2, "each slot remembered");
    assert!(h.remembered.is_empty(), "not the list");
    m.as_map()
        .unwrap()
        .insert(&mut h, Value::Int(0), y)
        .unwrap();
    m.as_map()
        .unwrap()
        .insert(&mut h, Value::Int(1), y)
        .unwrap();
    assert_eq!(h.remembered.len(), 1, "a map remembered once");
    h.verify(&mut roots).unwrap();
}

#[test]
fn verify_reports_an_old_object_the_barrier_missed() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    let made = new_list(&mut h, &[Value::Nil]).unwrap();
    let o = promote(&mut h, &mut roots, made);
    let y = new_list(&mut h, &[]).unwrap();
    // A store behind the barrier's back (as a builtin that forgot it would make).
    // SAFETY: o is a live list with one inline item slot.
    unsafe {
        obj(&o)
            .field::<Value>(crate::value::object::list_layout::INLINE)
            .write(y)
    };
    roots.push(o);
    let e = h.verify(&mut roots).unwrap_err();
    assert!(e.contains("not remembered"), "{e}");
    o.as_list().unwrap().set(&mut h, 0, y);
    h.verify(&mut roots).unwrap();
}

#[test]
fn a_minor_collection_follows_an_old_to_young_chain_a_million_long() {
    let (_pool, mut h) = heap();
    let n: usize = if cfg!(miri) { 200 } else { 1_000_000 };
    let mut roots = Vec::new();
    let made = new_list(&mut h, &[Value::Nil]).unwrap();
    let head = promote(&mut h, &mut roots, made);
    // A nursery big enough for the whole chain (the default stops at 256 KiB).
    h.drop_nursery();
    h.next_nursery = (n * 64 + 4096).next_power_of_two();
    let mut chain = Value::Nil;
    for i in 0..n {
        chain = new_list(&mut h, &[chain, Value::Int(i as i64)]).unwrap();
    }
    assert!(young(&h, &chain), "the chain is all young");
    head.as_list().unwrap().set(&mut h, 0, chain);
    roots.push(head);
    let e = minor(&mut h, &mut roots);
    assert_eq!(chain_len(roots[0]), n + 1);
    assert_eq!(e.freed_objects, 0);
    assert!(h.stats().generations.unwrap().promoted_bytes >= (n * 48) as u64);
}

/// Fills the nursery `times` times, each time with lists of which every
/// `keep`-th is kept (0: none), a collection after each; returns the
/// nursery's size at each fill.
fn fill_nursery(
    h: &mut GenerationalHeap,
    roots: &mut Vec<Value>,
    times: usize,
    keep: usize,
) -> Vec<usize> {
    let mut sizes = Vec::new();
    for _ in 0..times {
        let mut n = 0;
        new_list(h, &[Value::Int(1)]).unwrap();
        sizes.push(h.young_size);
        while !h.gc_due() {
            let v = new_list(h, &[Value::Int(1)]).unwrap();
            n += 1;
            if keep > 0 && n % keep == 0 {
                roots.push(v);
            }
        }
        // A major collection too when promotion spent the old budget.
        h.collect(roots, GcReason::Budget).unwrap();
        h.verify(roots).unwrap();
    }
    sizes
}

#[test]
fn the_nursery_doubles_when_it_fills_and_past_the_steady_size_while_it_dies_young() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    let sizes = fill_nursery(&mut h, &mut roots, 12, 0);
    assert_eq!(sizes[0], MIN_NURSERY_BYTES);
    assert!(
        sizes
            .windows(2)
            .all(|w| w[1] == (w[0] * 2).min(MAX_NURSERY_BYTES)),
        "{sizes:?}"
    );
    assert!(sizes.contains(&STEADY_NURSERY_BYTES));
    assert_eq!(*sizes.last().unwrap(), MAX_NURSERY_BYTES);
    assert_eq!(
        h.stats().generations.unwrap().nursery_bytes,
        MAX_NURSERY_BYTES
    );
}

#[test]
fn a_nursery_whose_objects_survive_shrinks_back_to_the_steady_size_and_no_further() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    fill_nursery(&mut h, &mut roots, 12, 0);
    assert_eq!(h.next_nursery, MAX_NURSERY_BYTES);
    // Everything kept: each full nursery halves.
    let sizes = fill_nursery(&mut h, &mut roots, 6, 1);
    assert_eq!(sizes[0], MAX_NURSERY_BYTES);
    assert!(
        sizes
            .windows(2)
            .all(|w| w[1] == (w[0] / 2).max(STEADY_NURSERY_BYTES)),
        "{sizes:?}"
    );
    assert_eq!(*sizes.last().unwrap(), STEADY_NURSERY_BYTES);
    assert!(roots.iter().all(|v| list_ints(v) == [1]));
}

#[test]
fn a_nursery_that_grew_and_lets_no_more_die_goes_back() {
    // Every 16th list kept (about 6%, what churn keeps): at twice the
    // steady size the same share survives, so the nursery goes back to
    // the steady size and stays there a while.
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    fill_nursery(&mut h, &mut roots, 6, 0);
    assert_eq!(h.next_nursery, STEADY_NURSERY_BYTES);
    let sizes = fill_nursery(&mut h, &mut roots, 6, 16);
    let s = STEADY_NURSERY_BYTES;
    assert_eq!(sizes, [s, 2 * s, s, s, s, s]);
    assert!(roots.iter().all(|v| list_ints(v) == [1]));
}

#[test]
fn large_objects_are_born_old_and_remembered_while_they_may_hold_young_ones() {
    let (_pool, mut h) = heap();
    let y = new_list(&mut h, &[Value::Int(9)]).unwrap();
    let big = new_list_filled(&mut h, NURSERY_LARGE_BYTES / 16, y).unwrap();
    assert!(old(&h, &big), "born old");
    assert!(
        remembered(&big),
        "its constructor filled it with young items"
    );
    let big_str = new_str(&mut h, &"x".repeat(NURSERY_LARGE_BYTES)).unwrap();
    assert!(
        old(&h, &big_str) && !remembered(&big_str),
        "strings hold no references"
    );
    let mut roots = vec![big];
    minor(&mut h, &mut roots);
    let item = roots[0].as_list().unwrap().get(7).unwrap();
    assert!(old(&h, &item));
    assert_eq!(list_ints(&item), [9]);
}

#[test]
fn a_major_collection_compacts_the_old_generation() {
    let (pool, mut h) = heap();
    let mut roots = Vec::new();
    // Enough that the old generation outgrows its first segment several
    // times over (under Miri too), so what comes back shows.
    let n = if cfg!(miri) { 2_000 } else { 20_000 };
    for i in 0..n {
        roots.push(new_list(&mut h, &[Value::Int(i)]).unwrap());
    }
    minor(&mut h, &mut roots);
    let held = pool.stats().in_use_bytes;
    roots.truncate(1);
    h.collect(&mut roots, GcReason::Explicit).unwrap();
    let minor_e = h.earlier_event().expect("a minor collection first");
    assert_eq!(minor_e.kind, GcKind::Minor);
    h.verify(&mut roots).unwrap();
    let g = h.stats().generations.unwrap();
    assert_eq!((g.minor_collections, g.major_collections), (2, 1));
    assert_eq!(h.stats().collections, 3);
    assert!(
        pool.stats().in_use_bytes < held / 4,
        "the old garbage went back"
    );
    assert_eq!(list_ints(&roots[0]), [0]);
}

#[test]
fn the_old_generations_budget_makes_a_major_collection_due() {
    let (_pool, mut h) = heap();
    let mut roots = Vec::new();
    let mut rounds = 0;
    while !h.old.as_ref().is_some_and(|o| o.gc_due()) {
        // Everything allocated survives its minor collection: promoted.
        for i in 0..64 {
            roots.push(new_list(&mut h, &[Value::Int(i)]).unwrap());
        }
        // (Verified at the end only under Miri: each verify walks the heap.)
        if cfg!(miri) {
            h.minor(&mut roots, GcReason::Budget)
                .expect("room to promote");
        } else {
            minor(&mut h, &mut roots);
        }
        rounds += 1;
        assert!(rounds < 1000, "promotion never spent the budget");
    }
    roots.truncate(64);
    let e = h.collect(&mut roots, GcReason::Budget).unwrap();
    assert_eq!(e.kind, GcKind::Major);
    assert_eq!(h.earlier_event().map(|e| e.kind), Some(GcKind::Minor));
    assert!(!h.gc_due());
    h.verify(&mut roots).unwrap();
    assert!(e.bytes_after < e.bytes_before, "{e:?}");
}

#[test]
fn under_stress_every_few_collections_are_major() {
    let (_pool, mut h) = heap_with(None, true);
    let mut roots = vec![new_list(&mut h, &[Value::Int(1)]).unwrap()];
    for _ in 0..(4 * STRESS_MAJOR_EVERY) {
        assert!(h.gc_due());
        h.collect(&mut roots, GcReason::Stress);
        h.verify(&mut roots).unwrap();
        assert!(!h.gc_due(), "nothing allocated since");
        new_list(&mut h, &[Value::Int(2)]).unwrap();
    }
    let g = h.stats().generations.unwrap();
    assert_eq!(g.minor_collections, 4 * STRESS_MAJOR_EVERY);
    assert_eq!(g.major_collections, 4);
}

#[test]
fn under_a_tight_max_heap_objects_overflow_into_the_old_generation() {
    // Room for no nursery at all beside a 60 KiB old generation.
    let bound = 64 * 1024;
    let (_pool, mut h) = heap_with(Some(bound), false);
    let mut roots = Vec::new();
    let mut born_old = 0;
    loop {
        match new_list(&mut h, &[Value::Int(1); 8]) {
            Ok(v) => {
                born_old += usize::from(old(&h, &v));
                roots.push(v);
            }
            Err(e) => {
                assert_eq!(e, crate::value::AllocError::HeapLimit);
                break;
            }
        }
        assert!(h.stats().heap_bytes <= bound, "within max_heap");
        if h.gc_due() {
            h.collect(&mut roots, GcReason::Budget);
            h.verify(&mut roots).unwrap();
        }
    }
    assert!(born_old > 0, "once no nursery fits, objects are born old");
    assert!(roots.len() > 100);
    // Everything kept is intact; dropping it makes room again.
    assert!(roots.iter().all(|v| list_ints(v) == [1; 8]));
    roots.clear();
    h.collect(&mut roots, GcReason::Limit).unwrap();
    h.verify(&mut roots).unwrap();
    assert!(new_list(&mut h, &[Value::Int(1); 8]).is_ok());
}

#[test]
fn a_minor_collection_without_room_to_promote_becomes_an_adopting_major() {
    let (pool, mut h) = heap_with(Some(256 * 1024), false);
    let y = new_list(&mut h, &[Value::Int(42)]).unwrap();
    assert!(young(&h, &y));
    let mut roots = vec![y];
    // Old objects in spans of their own until the bound is reached: no room
    // is left for a promotion of the nursery.
    while let Ok(s) = new_str(&mut h, &"o".repeat(70_000)) {
        roots.push(s);
    }
    let (used, size) = (h.nursery_used(), h.young_size);
    assert!(!h.old_mut().reserve(used, size));
    h.old_mut().release_spare();
    let e = h.collect(&mut roots, GcReason::Budget).unwrap();
    assert_eq!(e.kind, GcKind::Major, "the nursery was adopted");
    h.verify(&mut roots).unwrap();
    assert!(old(&h, &roots[0]));
    assert_eq!(list_ints(&roots[0]), [42]);
    assert_eq!(h.stats().generations.unwrap().nursery_bytes, 0);
    assert!(pool.stats().in_use_bytes <= 256 * 1024);
}

#[test]
fn a_nursery_past_the_largest_segment_can_be_adopted_and_compacted() {
    // The largest nursery is bigger than any standard segment: adopted, it
    // is an old segment like the others for a major collection.
    let bound = 8 * 1024 * 1024;
    let (pool, mut h) = heap_with(Some(bound), false);
    let mut roots = Vec::new();
    fill_nursery(&mut h, &mut roots, 12, 0);
    let y = new_list(&mut h, &[Value::Int(42)]).unwrap();
    assert_eq!(h.young_size, MAX_NURSERY_BYTES);
    const { assert!(MAX_NURSERY_BYTES > crate::heap::segment::MAX_SEGMENT_BYTES) };
    roots.push(y);
    while let Ok(s) = new_str(&mut h, &"o".repeat(70_000)) {
        roots.push(s);
    }
    let used = h.nursery_used();
    assert!(!h.old_mut().reserve(used, NURSERY_LARGE_BYTES));
    h.old_mut().release_spare();
    let e = h.collect(&mut roots, GcReason::Budget).unwrap();
    assert_eq!(e.kind, GcKind::Major, "the nursery was adopted");
    assert!(h.earlier_event().is_none(), "no minor collection ran");
    h.verify(&mut roots).unwrap();
    assert!(old(&h, &roots[0]));
    assert_eq!(list_ints(&roots[0]), [42]);
    roots.truncate(1);
    h.collect(&mut roots, GcReason::Explicit).unwrap();
    h.verify(&mut roots).unwrap();
    assert_eq!(list_ints(&roots[0]), [42]);
    assert!(pool.stats().in_use_bytes <= bound);
}

#[test]
fn static_data_is_never_young_nor_remembered() {
    let (_pool, mut h) = heap();
    let mut st = StaticSegment::new();
    let s = new_str(&mut st, "static").unwrap();
    assert_eq!(h.generation(obj(&s)), None);
    let mut roots = vec![s];
    let made = new_list(&mut h, &[Value::Nil]).unwrap();
    let o = promote(&mut h, &mut roots, made);
    o.as_list().unwrap().set(&mut h, 0, s);
    assert!(!remembered(&o));
    roots.push(o);
    minor(&mut h, &mut roots);
    assert_eq!(obj(&roots[0]), obj(&s));
}
