//! Map keys under backends that check uses (manual).
//!
//! A map compares and hashes the strings it holds as keys whenever it is
//! searched or grown. If a script could free such a string, every lookup
//! would look into freed memory. So under `manual` a map keeps its own
//! private copy of each heap string key (flagged `FLAG_PRIVATE_KEY`), hands
//! scripts fresh copies when they ask for keys, and frees its private keys
//! with itself or with their entry. Other backends store keys as they are.

use super::Heap;
use crate::value::object::FLAG_PRIVATE_KEY;
use crate::value::string::new_str;
use crate::value::{AllocError, MapRef, Value};

fn is_private(v: &Value) -> bool {
    v.as_obj()
        .is_some_and(|r| r.header().flags & FLAG_PRIVATE_KEY != 0)
}

fn needs_copy(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.0.is_static()) && !is_private(v)
}

/// The key a map should store for `k` (a private copy of a heap string under manual).
pub fn for_storage<H: Heap>(heap: &mut H, k: Value) -> Result<Value, AllocError> {
    if !H::CHECKS_USE || !needs_copy(&k) {
        return Ok(k);
    }
    let text = k
        .as_str()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let copy = new_str(heap, &text)?;
    if let Some(r) = copy.as_obj() {
        r.header_mut().flags |= FLAG_PRIVATE_KEY;
    }
    Ok(copy)
}

/// The key as a script may see it (a fresh copy of a private key under manual).
pub fn for_script<H: Heap>(heap: &mut H, k: Value) -> Result<Value, AllocError> {
    if !H::CHECKS_USE || !is_private(&k) {
        return Ok(k);
    }
    let text = k
        .as_str()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    new_str(heap, &text)
}

/// Frees a key a map no longer holds (a deleted entry's, or an unused copy).
pub fn drop_key<H: Heap>(heap: &mut H, k: Value) {
    if H::CHECKS_USE
        && is_private(&k)
        && let Some(r) = k.as_obj()
    {
        heap.retire(r);
    }
}

/// Frees every private key of `m` (before `m` itself is freed).
pub fn drop_all<H: Heap>(heap: &mut H, m: MapRef) {
    if H::CHECKS_USE {
        for (k, _) in m.entries() {
            drop_key(heap, k);
        }
    }
}
