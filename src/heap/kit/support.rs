//! Setup the backends' own unit tests share (the kit's cases use
//! [`super::mutator::Mutator`] instead): a fresh heap on a pool of its own,
//! and readers of the values the tests build. Each backend's `tests.rs`
//! keeps only what is its own.

use crate::heap::{Heap, HeapConfig, SegmentPool};
use crate::value::{ObjRef, Value};
use std::sync::Arc;

/// A heap of backend `H` with `config`, on a pool of its own of at most
/// `max_memory` bytes (the pool is returned so tests can read its books).
pub(crate) fn heap_on<H: Heap>(
    config: HeapConfig,
    max_memory: Option<usize>,
) -> (Arc<SegmentPool>, H) {
    let pool = Arc::new(SegmentPool::new(max_memory));
    (pool.clone(), H::new(pool, config))
}

/// A heap of backend `H` with the default configuration, on a pool of its own.
pub(crate) fn fresh<H: Heap>() -> (Arc<SegmentPool>, H) {
    heap_on(HeapConfig::default(), None)
}

/// Items of a list whose items take just past `large_object_bytes` under
/// Miri (the least that still gets a span of its own), or `native`.
pub(crate) const fn large_items(native: usize, large_object_bytes: usize) -> usize {
    if cfg!(miri) {
        large_object_bytes / 16 + 1
    } else {
        native
    }
}

/// The object a value refers to (the test built it as one).
pub(crate) fn obj(v: &Value) -> ObjRef {
    v.as_obj().expect("an object value")
}

/// Item `i` of list `v`, if it is an int.
pub(crate) fn int_at(v: &Value, i: usize) -> Option<i64> {
    match v.as_list()?.get(i)? {
        Value::Int(n) => Some(n),
        _ => None,
    }
}

/// The items of list `v` as ints (-1 for anything else).
pub(crate) fn list_ints(v: &Value) -> Vec<i64> {
    let n = v.as_list().map_or(0, |l| l.len());
    (0..n).map(|i| int_at(v, i).unwrap_or(-1)).collect()
}

/// Follows item 0 from `v` down a chain of lists; returns the links.
pub(crate) fn chain_len(mut v: Value) -> usize {
    let mut n = 0;
    while let Some(next) = v.as_list().and_then(|l| l.get(0)) {
        v = next;
        n += 1;
    }
    n
}
