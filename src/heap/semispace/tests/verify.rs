//! What `--verify-heap` finds in a semispace heap: references into
//! from-space or into an object's middle, and a mark or forwarding word
//! left behind.

use super::*;

/// A heap with lists, maps with storage and an index, strings, closures,
/// cells, static references and a large object, some garbage, after
/// collections, with objects made since.
fn busy_heap() -> (Arc<SegmentPool>, SemispaceHeap, Vec<Value>, StaticSegment) {
    let (pool, mut h) = heap();
    let mut statics = StaticSegment::new();
    let s = new_str(&mut statics, "static").unwrap();
    let mut roots = Vec::new();
    let n = if cfg!(miri) { 200 } else { 3_000 };
    for i in 0..n {
        let l = new_list(&mut h, &[Value::Int(i), s]).unwrap();
        let cell = crate::value::func::new_cell(&mut h, l).unwrap();
        let f = crate::value::func::new_closure(&mut h, 0, &[cell, s]).unwrap();
        if i % 10 == 0 {
            roots.push(f);
        }
    }
    let m = new_map(&mut h, &[]).unwrap();
    roots.push(m);
    for i in 0..n / 4 {
        let k = new_str(&mut h, &format!("key{i}")).unwrap();
        let at = roots.len() - 1;
        roots[at]
            .as_map()
            .unwrap()
            .insert(&mut h, k, Value::Int(i))
            .unwrap();
    }
    let big = new_list_filled(&mut h, large_items(3_000), s).unwrap();
    roots.push(big);
    h.collect(&mut roots, GcReason::Explicit);
    for i in 0..n / 10 {
        roots.push(new_list(&mut h, &[Value::Int(i)]).unwrap());
    }
    h.collect(&mut roots, GcReason::Explicit);
    roots.push(new_list(&mut h, &[Value::Int(-1)]).unwrap());
    h.verify(&mut roots).unwrap();
    (pool, h, roots, statics)
}

#[test]
fn verify_catches_a_reference_into_from_space() {
    let (_pool, mut h, mut roots, _statics) = busy_heap();
    let moved = roots[1];
    let old = obj(&moved);
    h.collect(&mut roots, GcReason::Explicit).unwrap();
    assert_ne!(obj(&roots[1]), old, "it moved");
    assert_eq!(
        h.locate(old),
        None,
        "its old place is not the heap's any more"
    );
    // A list item left pointing at the old place (as a copy that missed a
    // slot would leave it); then a root.
    let holder = roots.last().unwrap().as_list().unwrap();
    let item = holder.set(&mut h, 0, moved).unwrap();
    let e = h.verify(&mut roots).unwrap_err();
    assert!(e.contains("gave back"), "{e}");
    holder.set(&mut h, 0, item);
    h.verify(&mut roots).unwrap();
    roots.push(moved);
    let e = h.verify(&mut roots).unwrap_err();
    assert!(
        e.contains("a root refers to") && e.contains("gave back"),
        "{e}"
    );
    roots.pop();
    h.verify(&mut roots).unwrap();
}

#[test]
fn verify_catches_a_reference_into_the_middle_of_an_object() {
    let (_pool, mut h, mut roots, _statics) = busy_heap();
    let holder = roots.last().unwrap().as_list().unwrap();
    let big = *roots
        .iter()
        .find(|v| obj(v).size() > LARGE_OBJECT_BYTES)
        .unwrap();
    for target in [obj(&roots[2]), obj(&big)] {
        // SAFETY: 16 bytes in is inside the object (bigger than a header);
        // the reference is only planted, never read through.
        let inside =
            unsafe { ObjRef::from_ptr(NonNull::new_unchecked(target.as_ptr().add(HEADER_BYTES))) };
        let item = holder.set(&mut h, 0, Value::Obj(0, inside)).unwrap();
        let e = h.verify(&mut roots).unwrap_err();
        assert!(e.contains("not a live object"), "{e}");
        holder.set(&mut h, 0, item);
        h.verify(&mut roots).unwrap();
    }
}

#[test]
fn verify_catches_a_mark_or_forwarding_word_left_behind() {
    let (_pool, mut h, mut roots, _statics) = busy_heap();
    let big = *roots
        .iter()
        .find(|v| obj(v).size() > LARGE_OBJECT_BYTES)
        .unwrap();
    for r in [obj(&roots[3]), obj(&big)] {
        r.header_mut().flags |= FLAG_MARK;
        let e = h.verify(&mut roots).unwrap_err();
        assert!(e.contains("still marked"), "{e}");
        r.header_mut().flags &= !FLAG_MARK;
        r.header_mut().word = 0x1000;
        let e = h.verify(&mut roots).unwrap_err();
        assert!(e.contains("header word 0x1000"), "{e}");
        r.header_mut().word = 0;
        h.verify(&mut roots).unwrap();
    }
    h.small_objects += 1;
    let e = h.verify(&mut roots).unwrap_err();
    assert!(e.contains("objects in segments"), "{e}");
    h.small_objects -= 1;
    h.verify(&mut roots).unwrap();
}
