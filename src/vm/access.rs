//! Looking into objects on the VM's behalf: indexing, fields, stores,
//! captures and `+` on strings and lists. Each checks the object first
//! (manual) and refuses to change static data.

use super::error::{Trap, err};
use crate::heap::Heap;
use crate::value::list::concat;
use crate::value::map::is_key;
use crate::value::ops::BinOp;
use crate::value::ops::{self, OpError};
use crate::value::string::new_str_parts;
use crate::value::{Kind, Value};

/// Capture `i` of `closure` (the running closure, which sits in the slot
/// just below the frame base); `Undef` when there is no such capture (the
/// verifier does not check capture numbers).
#[inline]
pub(super) fn capture_at(closure: Value, i: usize) -> Value {
    match closure.as_closure() {
        Some(c) if i < c.n_captures() => c.capture(i),
        _ => Value::Undef,
    }
}

/// `obj.name` (the name is a string constant).
pub(super) fn get_field<H: Heap>(heap: &H, obj: Value, key: Value) -> Result<Value, Trap> {
    heap.check(&obj)?;
    match obj.as_map() {
        Some(m) => Ok(m.get(&key).unwrap_or(Value::Nil)),
        None => err(field_error(&obj, &key)),
    }
}

/// Most maps a method lookup examines, the receiver included (section 3):
/// a longer `__proto` chain, or a cycle, ends in `no method`.
const MAX_PROTO_CHAIN: usize = 100;

/// The method `key` of `obj` (`obj:key(...)`): obj's own entry when it has
/// one (even nil), else the first found along its `__proto` chain.
#[inline(never)]
pub(super) fn method<H: Heap>(
    heap: &H,
    obj: Value,
    key: Value,
    proto_key: Value,
) -> Result<Value, Trap> {
    let name = || {
        key.as_str()
            .map_or(String::new(), |s| s.as_str().to_owned())
    };
    heap.check(&obj)?;
    if obj.as_map().is_none() {
        return err(format!(
            "cannot call method '{}' on {}",
            name(),
            obj.type_name()
        ));
    }
    let mut at = obj;
    for _ in 0..MAX_PROTO_CHAIN {
        heap.check(&at)?;
        let Some(m) = at.as_map() else { break };
        if let Some(f) = m.get(&key) {
            return Ok(f);
        }
        match m.get(&proto_key) {
            Some(p) => at = p,
            None => break,
        }
    }
    err(format!("no method '{}'", name()))
}

/// `a + b` beyond two ints or two floats: mixed numbers, strings, lists.
#[inline(never)]
pub(super) fn add_values<H: Heap>(heap: &mut H, lhs: Value, rhs: Value) -> Result<Value, Trap> {
    if !matches!((lhs, rhs), (Value::Obj(..), Value::Obj(..))) {
        return Ok(ops::arith(BinOp::Add, &lhs, &rhs)?);
    }
    heap.check(&lhs)?;
    heap.check(&rhs)?;
    if let (Some(x), Some(y)) = (lhs.as_str(), rhs.as_str()) {
        return Ok(new_str_parts(heap, &[x.as_str(), y.as_str()])?);
    }
    if let (Some(x), Some(y)) = (lhs.as_list(), rhs.as_list()) {
        let v = concat(heap, x, y)?;
        // Each slot of the new list is a new reference to its item (rc counts it).
        if H::COUNTS_REFS
            && let Some(l) = v.as_list()
        {
            for item in l.items() {
                heap.retain(item);
            }
        }
        return Ok(v);
    }
    Err(OpError::Unsupported("+", lhs.type_name(), rhs.type_name()).into())
}

/// `obj[idx]`.
pub(crate) fn index<H: Heap>(heap: &H, obj: Value, idx: Value) -> Result<Value, Trap> {
    heap.check(&obj)?;
    if let Some(l) = obj.as_list() {
        let Value::Int(i) = idx else {
            return err("list index must be an int");
        };
        return match usize::try_from(i).ok().and_then(|i| l.get(i)) {
            Some(v) => Ok(v),
            None => err("index out of range"),
        };
    }
    if let Some(m) = obj.as_map() {
        heap.check(&idx)?;
        if !is_key(&idx) {
            return err(format!("invalid map key: {}", idx.type_name()));
        }
        return Ok(m.get(&idx).unwrap_or(Value::Nil));
    }
    err(format!("cannot index {}", obj.type_name()))
}

/// `obj[idx] = v`. Returns the value replaced (if any) and whether the map
/// kept `idx` as a new key (false when the key was already there, so the
/// caller still owns its reference to `idx`).
pub(crate) fn set_index<H: Heap>(
    heap: &mut H,
    obj: Value,
    idx: Value,
    v: Value,
) -> Result<(Option<Value>, bool), Trap> {
    heap.check(&obj)?;
    if let Some(r) = obj.as_obj()
        && r.is_static()
        && matches!(r.kind(), Kind::List | Kind::Map)
    {
        return err("cannot modify static data");
    }
    if let Some(l) = obj.as_list() {
        let Value::Int(i) = idx else {
            return err("list index must be an int");
        };
        return match usize::try_from(i).ok().and_then(|i| l.set(heap, i, v)) {
            Some(old) => Ok((Some(old), false)),
            None => err("index out of range"),
        };
    }
    if let Some(m) = obj.as_map() {
        heap.check(&idx)?;
        if !is_key(&idx) {
            return err(format!("invalid map key: {}", idx.type_name()));
        }
        if H::CHECKS_USE && !m.has(&idx) {
            let key = crate::heap::keys::for_storage(heap, idx)?;
            if let Err(e) = m.insert(heap, key, v) {
                crate::heap::keys::drop_key(heap, key);
                return Err(e.into());
            }
            return Ok((None, true));
        }
        let old = m.insert(heap, idx, v)?;
        let kept = old.is_none();
        return Ok((old, kept));
    }
    err(format!("cannot index-assign {}", obj.type_name()))
}

/// The message for `x.name` on something that is not a map.
pub(super) fn field_error(obj: &Value, key: &Value) -> String {
    let name = key
        .as_str()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    format!(
        "cannot read field '{name}' of {} (fields are map keys)",
        obj.type_name()
    )
}
