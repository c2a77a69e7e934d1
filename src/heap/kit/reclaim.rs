//! Kit cases on reclaiming memory: garbage (cycles included) dropped the
//! backend's way and collected, segments going back to the pool, and the
//! heap limit: a clean `HeapLimit`, then room again once garbage is gone.

use super::mutator::{Mutator, render};
use crate::heap::slab::{SLAB_SEGMENT_BYTES, owned_storage};
use crate::heap::{Heap, HeapConfig};
use crate::value::{AllocError, Value};

/// Garbage structures of each shape in `garbage_is_reclaimed`.
const SHAPES: i64 = if cfg!(miri) { 20 } else { 500 };

/// Objects `v` is made of: itself and its internal storage.
fn objects(v: Value) -> u64 {
    1 + owned_storage(v.as_obj().unwrap()).iter().flatten().count() as u64
}

/// A few live structures of every kind, kept in `m`'s roots.
fn live_structures<H: Heap>(m: &mut Mutator<H>) {
    let text = m.str("live").unwrap();
    let l = m.list(&[text, Value::Int(1)]).unwrap();
    m.keep(l);
    let mp = m.map(&[]).unwrap();
    m.keep(mp);
    for i in 0..12 {
        let k = m.str(&format!("key {i}")).unwrap();
        m.insert(mp, k, l).unwrap();
    }
    let c = m.cell(mp).unwrap();
    let f = m.closure(0, &[c, l]).unwrap();
    m.keep(f);
}

pub(crate) fn garbage_is_reclaimed<H: Heap>() {
    let mut m = Mutator::<H>::new();
    live_structures(&mut m);
    m.collect();
    let text = m.render_roots();
    let base = m.heap.stats();
    let from = m.roots.len();
    let mut garbage = 0u64;
    for i in 0..SHAPES {
        // A list of immediates: freed by counting where counts are kept.
        let l = m.list(&[Value::Int(i), Value::Int(-i)]).unwrap();
        m.keep(l);
        garbage += objects(l);
        // Two lists referring to each other.
        let a = m.list(&[Value::Nil]).unwrap();
        m.keep(a);
        let b = m.list(&[a]).unwrap();
        m.set(a, 0, b);
        garbage += objects(a) + objects(b);
        // A list holding itself.
        let s = m.list(&[Value::Nil]).unwrap();
        m.keep(s);
        m.set(s, 0, s);
        garbage += objects(s);
        // A closure whose captured cell holds the closure.
        let c = m.cell(Value::Nil).unwrap();
        let f = m.closure(0, &[c]).unwrap();
        m.keep(f);
        m.set_cell(c, f);
        garbage += objects(c) + objects(f);
        // A map holding itself and a string (its entries move to an array).
        let mp = m.map(&[(Value::Int(1), Value::Nil)]).unwrap();
        m.keep(mp);
        m.insert(mp, Value::Int(2), mp).unwrap();
        let st = m.str("garbage").unwrap();
        m.insert(mp, Value::Int(3), st).unwrap();
        garbage += objects(mp) + objects(st);
    }
    m.drop_roots_from(from);
    m.touch_roots();
    m.collect();
    let after = m.heap.stats();
    assert_eq!(after.freed_objects - base.freed_objects, garbage);
    assert_eq!(
        after.live_bytes, base.live_bytes,
        "only the live structures are left"
    );
    assert_eq!(m.render_roots(), text);
}

/// Bytes of garbage made in `segments_go_back_to_the_pool`: many segments
/// of every backend.
const GARBAGE_BYTES: usize = if cfg!(miri) {
    8 * SLAB_SEGMENT_BYTES
} else {
    2 * 1024 * 1024
};

pub(crate) fn segments_go_back_to_the_pool<H: Heap>() {
    let mut m = Mutator::<H>::new();
    let keep = m.list(&[Value::Int(1)]).unwrap();
    m.keep(keep);
    m.collect();
    let text = m.render_roots();
    let low = m.pool.stats();
    let from = m.roots.len();
    let mut bytes = 0;
    while bytes < GARBAGE_BYTES {
        let items: Vec<Value> = (0..64)
            .map(|i| m.list(&[Value::Int(i); 4]).unwrap())
            .collect();
        bytes += items
            .iter()
            .map(|v| v.as_obj().unwrap().size())
            .sum::<usize>();
        let holder = m.list(&items).unwrap();
        m.keep(holder);
    }
    let high = m.pool.stats();
    assert!(high.in_use_bytes >= low.in_use_bytes + GARBAGE_BYTES);
    assert!(high.segments_in_use > low.segments_in_use + 2);
    m.drop_roots_from(from);
    m.collect();
    let after = m.pool.stats();
    assert!(
        after.in_use_bytes.saturating_sub(low.in_use_bytes)
            < (high.in_use_bytes - low.in_use_bytes) / 4,
        "in use: {} before the garbage, {} with it, {} after",
        low.in_use_bytes,
        high.in_use_bytes,
        after.in_use_bytes
    );
    assert!(after.segments_in_use < high.segments_in_use);
    let s = m.heap.stats();
    assert_eq!(
        (s.heap_bytes, s.segments),
        (after.in_use_bytes, after.segments_in_use),
        "the heap's books agree with the pool's"
    );
    assert_eq!(m.render_roots(), text);
    let Mutator { pool, heap, .. } = m;
    drop(heap);
    let end = pool.stats();
    assert_eq!(
        (end.in_use_bytes, end.segments_in_use),
        (0, 0),
        "dropping the heap gives everything back"
    );
}

/// `--max-heap` of the heap in `fails_cleanly_at_the_heap_limit_and_recovers`.
const LIMIT: usize = 64 * 1024;
/// Roots kept when the rest is dropped.
const KEPT: usize = 4;

pub(crate) fn fails_cleanly_at_the_heap_limit_and_recovers<H: Heap>() {
    let mut m = Mutator::<H>::with_config(HeapConfig {
        max_heap: Some(LIMIT),
        stress: false,
    });
    let mut err = None;
    for i in 0..100_000 {
        match m.list(&[Value::Int(i); 4]) {
            Ok(v) => {
                m.keep(v);
            }
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    assert_eq!(err, Some(AllocError::HeapLimit));
    let full = m.roots.len();
    assert!(full > 100, "only {full} lists fit");
    assert!(m.heap.stats().heap_bytes <= LIMIT);
    // Bigger requests fail the same way.
    assert_eq!(
        m.list_filled(1 << 16, Value::Nil).err(),
        Some(AllocError::HeapLimit)
    );
    assert_eq!(m.str(&"x".repeat(LIMIT)).err(), Some(AllocError::HeapLimit));
    m.verify().unwrap();
    let text = render(&m.heap, &m.roots[..KEPT]);
    m.drop_roots_from(KEPT);
    m.collect();
    for i in 0..full / 2 {
        let v = m
            .list(&[Value::Int(i as i64); 4])
            .expect("room again once the garbage is reclaimed");
        m.keep(v);
    }
    assert!(m.heap.stats().heap_bytes <= LIMIT);
    assert_eq!(render(&m.heap, &m.roots[..KEPT]), text);
    m.verify().unwrap();
}
