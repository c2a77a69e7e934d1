//! Kit cases on objects: every kind and size allocated and read back, roots
//! that lead to the same contents across collections (wherever a moving
//! backend put them), large objects kept and dropped, static data left
//! alone. Sizes shrink under Miri only where the path taken stays the same.

use super::mutator::{Mutator, render};
use crate::heap::Heap;
use crate::heap::markcompact::LARGE_OBJECT_BYTES;
use crate::heap::segment::MAX_SEGMENT_BYTES;
use crate::heap::slab::{MAX_CLASS_BYTES, SLAB_SEGMENT_BYTES, owned_storage, slot_bytes};
use crate::heap::statics::StaticSegment;
use crate::value::func::new_closure;
use crate::value::list::new_list;
use crate::value::map::new_map;
use crate::value::object::str_layout;
use crate::value::string::new_str;
use crate::value::{ObjRef, Value};

/// `len` bytes of text that differ with `seed` (built by copying, not byte
/// by byte: Miri runs a per-byte loop over 64 KiB for seconds).
pub(super) fn pattern(len: usize, seed: usize) -> String {
    const LETTERS: &str = "abcdefghijklmnopqrstuvw";
    let start = seed % LETTERS.len();
    let mut text = LETTERS.repeat((len + start) / LETTERS.len() + 1);
    text.drain(..start);
    text.truncate(len);
    text
}

/// String object sizes from the smallest (the empty string) to past the
/// largest slab class, in 8-byte steps, so each class serves several sizes;
/// under Miri, each class's smallest and largest size only. Then past a
/// slab segment (a span of its own there, a segment of its own size in
/// mark-compact); natively also past mark-compact's large-object bound and
/// its largest standard segment (under Miri, hashing 64 KiB byte by byte
/// takes a minute: large lists and closures take that path, in
/// `keeps_large_objects_and_drops_dead_ones`).
fn object_sizes() -> Vec<usize> {
    let smallest = str_layout::size(0);
    let mut sizes: Vec<usize> = (smallest..=MAX_CLASS_BYTES + 64)
        .step_by(8)
        .filter(|&s| {
            let class = slot_bytes(s);
            !cfg!(miri) || s == smallest || class == Some(s) || slot_bytes(s - 8) != class
        })
        .collect();
    sizes.extend([4096, SLAB_SEGMENT_BYTES + 8]);
    if !cfg!(miri) {
        sizes.extend([LARGE_OBJECT_BYTES + 8, MAX_SEGMENT_BYTES + 8]);
    }
    sizes
}

/// Items pushed onto a list that starts empty: past its inline items, so
/// they move to an `Array` (and again as it grows).
const GROWN_ITEMS: i64 = 40;
/// Entries of a map big enough for an `Array` of entries and a hash index.
const INDEXED_ENTRIES: i64 = 20;

pub(crate) fn allocates_every_kind_and_size<H: Heap>() {
    let mut m = Mutator::<H>::new();
    let sizes = object_sizes();
    for (i, &size) in sizes.iter().enumerate() {
        let v = m.str(&pattern(size - str_layout::BYTES, i)).unwrap();
        assert_eq!(v.as_obj().unwrap().size(), size);
        m.keep(v);
        m.churn(1);
    }
    // Every other kind, with internal storage where it can have some.
    let small = m
        .list(&[Value::Int(1), Value::Bool(true), Value::Float(0.5)])
        .unwrap();
    let grown = m.list(&[]).unwrap();
    m.keep(grown);
    for i in 0..GROWN_ITEMS {
        let s = m.str(&format!("item {i}")).unwrap();
        m.push(grown, s).unwrap();
    }
    let word = m.str("value").unwrap();
    let map_small = m
        .map(&[(Value::Int(1), word), (Value::Bool(false), Value::Nil)])
        .unwrap();
    let map_big = m.map(&[]).unwrap();
    m.keep(map_big);
    for i in 0..INDEXED_ENTRIES {
        let k = m.str(&format!("key {i}")).unwrap();
        let v = m.list(&[Value::Int(i)]).unwrap();
        m.insert(map_big, k, v).unwrap();
    }
    let cell = m.cell(small).unwrap();
    let f = m.closure(3, &[cell, map_small, Value::Int(9)]).unwrap();
    m.keep(f);
    assert!(owned_storage(grown.as_obj().unwrap())[0].is_some());
    assert!(
        owned_storage(map_big.as_obj().unwrap())
            .iter()
            .all(Option::is_some)
    );
    let before = m.render_roots();
    for round in 0..2 {
        m.churn(50);
        m.collect();
        assert_eq!(m.render_roots(), before, "after collection {round}");
        for (i, &size) in sizes.iter().enumerate() {
            let s = m.roots[i].as_str().unwrap();
            assert_eq!(s.0.size(), size);
            assert!(
                s.as_str() == pattern(size - str_layout::BYTES, i),
                "size {size}"
            );
        }
    }
}

/// Items added to the growing list and map in each round.
const PER_ROUND: i64 = if cfg!(miri) { 20 } else { 200 };

pub(crate) fn roots_lead_to_the_same_contents_after_collections<H: Heap>() {
    let mut m = Mutator::<H>::new();
    // Shared structure, a cycle, a closure over a cell; garbage between.
    let shared = m.list(&[Value::Int(5)]).unwrap();
    let shared_at = m.keep(shared);
    m.churn(3);
    let holder = m.list(&[shared, shared]).unwrap();
    let holder_at = m.keep(holder);
    m.churn(3);
    let a = m.list(&[Value::Nil]).unwrap();
    let a_at = m.keep(a);
    let b = m.list(&[a]).unwrap();
    m.set(a, 0, b);
    let cell = m.cell(shared).unwrap();
    let f = m.closure(1, &[cell]).unwrap();
    m.keep(f);
    let grown = m.list(&[]).unwrap();
    let grown_at = m.keep(grown);
    let map = m.map(&[]).unwrap();
    let map_at = m.keep(map);
    for round in 0..3 {
        // The rooted list and map grow (their storage is replaced), with
        // garbage in between; values held in locals are stale by now, so
        // everything is reached from the roots.
        for i in 0..PER_ROUND {
            let (grown, map) = (m.roots[grown_at], m.roots[map_at]);
            m.push(grown, Value::Int(round * PER_ROUND + i)).unwrap();
            let k = m.str(&format!("k{round}.{i}")).unwrap();
            let v = m.list(&[Value::Int(i), grown]).unwrap();
            m.insert(map, k, v).unwrap();
            m.churn(2);
        }
        m.touch_roots();
        let before = m.render_roots();
        m.collect();
        assert_eq!(m.render_roots(), before, "after collection {round}");
        let holder = m.roots[holder_at].as_list().unwrap();
        let shared = m.roots[shared_at].as_obj();
        assert_eq!(holder.get(0).and_then(|v| v.as_obj()), shared);
        assert_eq!(holder.get(1).and_then(|v| v.as_obj()), shared);
        let a = m.roots[a_at];
        let b = a.as_list().unwrap().get(0).unwrap();
        assert_eq!(
            b.as_list().unwrap().get(0).and_then(|v| v.as_obj()),
            a.as_obj(),
            "the cycle is closed"
        );
        // The map's hash index still finds its entries.
        let probe = PER_ROUND / 2;
        let key = m.str(&format!("k{round}.{probe}")).unwrap();
        let at = m.keep(key);
        let found = m.roots[map_at].as_map().unwrap().get(&key).unwrap();
        assert!(matches!(found.as_list().unwrap().get(0), Some(Value::Int(i)) if i == probe));
        m.drop_root(at);
    }
}

pub(crate) fn keeps_large_objects_and_drops_dead_ones<H: Heap>() {
    // Lists and closures of just past mark-compact's large-object bound (so
    // far past the slab's largest class); large strings are in
    // `allocates_every_kind_and_size`.
    let n = LARGE_OBJECT_BYTES / 16 + 1;
    let mut m = Mutator::<H>::new();
    let small = m.list(&[Value::Int(1)]).unwrap();
    m.keep(small);
    // Natively every item refers to `small`; under Miri most are immediates
    // and a few refer to it (verify and render look each reference up: 16
    // thousand of them took two minutes there).
    let filler = if cfg!(miri) { Value::Int(3) } else { small };
    let kept = m.list_filled(n, filler).unwrap();
    let kept_at = m.keep(kept);
    for i in [1, n / 2 + 1, n - 2] {
        m.set(kept, i, small);
    }
    for i in [0, n / 2, n - 1] {
        m.set(kept, i, Value::Int(i as i64));
    }
    let mut captures = vec![filler; n];
    (captures[0], captures[n - 1]) = (small, small);
    let kept_fn = m.closure(1, &captures).unwrap();
    m.keep(kept_fn);
    let dead = m.list_filled(n, Value::Int(4)).unwrap();
    let dead_at = m.keep(dead);
    let dead_fn = m.closure(2, &vec![Value::Int(5); n]).unwrap();
    let dead_fn_at = m.keep(dead_fn);
    let dead_bytes = dead.as_obj().unwrap().size() + dead_fn.as_obj().unwrap().size();
    let large = |m: &Mutator<H>| m.heap.segment_map().iter().filter(|s| s.large).count();
    assert_eq!(large(&m), 4, "each large object has a span of its own");
    m.churn(10);
    m.collect();
    let before = m.heap.stats();
    m.drop_root(dead_at);
    m.drop_root(dead_fn_at);
    let text = m.render_roots();
    m.collect();
    let after = m.heap.stats();
    assert_eq!(large(&m), 2, "the dead ones' spans went back");
    assert_eq!(before.live_bytes - after.live_bytes, dead_bytes);
    assert!(before.heap_bytes - after.heap_bytes >= dead_bytes);
    assert_eq!(m.render_roots(), text);
    let kept = m.roots[kept_at].as_list().unwrap();
    assert_eq!(kept.len(), n);
    assert_eq!(kept.get(1).and_then(|v| v.as_obj()), m.roots[0].as_obj());
}

/// What a static object is: its header's fields, which no backend may
/// change (a mark, a count, a forwarding address would show here).
fn header_of(r: ObjRef) -> (u8, u8, u16, u32, u64) {
    let h = r.header();
    (h.kind as u8, h.flags, h.aux, h.size, h.word)
}

pub(crate) fn leaves_static_data_alone<H: Heap>() {
    let mut statics = StaticSegment::new();
    let s = new_str(&mut statics, "static text").unwrap();
    let sl = new_list(&mut statics, &[s, Value::Int(1)]).unwrap();
    let sm = new_map(&mut statics, &[(Value::Int(1), s)]).unwrap();
    let sf = new_closure(&mut statics, 2, &[]).unwrap();
    let all = [s, sl, sm, sf];
    let headers: Vec<_> = all.iter().map(|v| header_of(v.as_obj().unwrap())).collect();
    let mut m = Mutator::<H>::new();
    for v in all {
        m.keep(v);
    }
    // Heap objects referring to static data from every kind of slot.
    let l = m.list(&[s, sl, sf]).unwrap();
    m.keep(l);
    let mp = m.map(&[(s, sl)]).unwrap();
    m.keep(mp);
    let c = m.cell(sm).unwrap();
    let f = m.closure(1, &[c, s]).unwrap();
    m.keep(f);
    // Garbage referring to static data, dropped.
    for _ in 0..10 {
        let g = m.list(&[s, sl, sm]).unwrap();
        let at = m.keep(g);
        m.drop_root(at);
    }
    // `free` of static data (the VM refuses it first) changes nothing.
    assert_eq!(m.heap.free(&s, 1), Ok(()));
    let text = render(&m.heap, &m.roots);
    for round in 0..2 {
        m.churn(20);
        m.collect();
        assert_eq!(m.render_roots(), text, "after collection {round}");
        for (i, v) in all.iter().enumerate() {
            assert_eq!(m.roots[i].as_obj(), v.as_obj(), "a static root moved");
            assert_eq!(header_of(v.as_obj().unwrap()), headers[i]);
            assert_eq!(m.heap.locate(v.as_obj().unwrap()), None);
        }
        let items = m.roots[4].as_list().unwrap();
        assert_eq!(items.get(0).and_then(|v| v.as_obj()), s.as_obj());
        assert_eq!(items.get(1).and_then(|v| v.as_obj()), sl.as_obj());
    }
}
