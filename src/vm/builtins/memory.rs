//! Memory builtins (section 8): free, gc, heap_stats, inspect, backends.

use super::arity;
use crate::heap::{Backend, Heap};
use crate::value::list::new_list;
use crate::value::map::new_map;
use crate::value::string::new_str;
use crate::value::{Kind, Value};
use crate::vm::Vm;
use crate::vm::error::{Trap, err};

pub fn free<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("free", args, 1, 1)?;
    let v = args[0];
    if v.as_obj().is_none() {
        return err("free expects a heap object");
    }
    let site = vm.site();
    // The heap looks first: a stale reference is a double free, and nothing
    // may read the object's header before the heap has vouched for it.
    if let Err(e) = vm.heap.check(&v) {
        return Err(match e {
            crate::heap::MemError::UseAfterFree { freed_at } => {
                crate::heap::MemError::DoubleFree { freed_at }
            }
            other => other,
        }
        .into());
    }
    match v.as_obj() {
        Some(r) if r.is_static() => err("cannot free static data"),
        _ => {
            if let Some(m) = v.as_map() {
                crate::heap::keys::drop_all(&mut vm.heap, m);
            }
            vm.heap.free(&v, site)?;
            Ok(Value::Nil)
        }
    }
}

pub fn gc<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("gc", args, 0, 0)?;
    vm.gc_requested = true;
    Ok(Value::Nil)
}

/// Builds a map of string keys to values (all allocation first).
fn record<H: Heap>(vm: &mut Vm<H>, fields: &[(&str, Value)]) -> Result<Value, Trap> {
    let mut pairs = Vec::with_capacity(fields.len());
    for (k, v) in fields {
        let key = new_str(&mut vm.heap, k)?;
        // Nobody else refers to these keys: under manual they are the map's own.
        if H::CHECKS_USE
            && let Some(r) = key.as_obj()
        {
            r.header_mut().flags |= crate::value::object::FLAG_PRIVATE_KEY;
        }
        pairs.push((key, *v));
    }
    let m = new_map(&mut vm.heap, &pairs)?;
    for (k, v) in &pairs {
        vm.retain(k);
        vm.retain(v);
    }
    Ok(vm.own(m))
}

pub fn heap_stats<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("heap_stats", args, 0, 0)?;
    let s = vm.heap.stats();
    let backend = new_str(&mut vm.heap, H::BACKEND.name())?;
    let int = |n: u64| Value::Int(n.min(i64::MAX as u64) as i64);
    // The shared pool, for the whole program (every process's heap together).
    let pool = vm.host.as_ref().map(|h| h.pool_stats()).unwrap_or_default();
    let mut fields = vec![
        ("backend", backend),
        ("pool_bytes", int(pool.in_use_bytes as u64)),
        ("pool_segments", int(pool.segments_in_use as u64)),
        ("allocated_bytes", int(s.allocated_bytes)),
        ("live_bytes", int(s.live_bytes as u64)),
        ("heap_bytes", int(s.heap_bytes as u64)),
        ("segments", int(s.segments as u64)),
        ("collections", int(s.collections)),
        ("freed_objects", int(s.freed_objects)),
        ("pause_total_us", int(s.pause_total.as_micros() as u64)),
        ("pause_max_us", int(s.pause_max.as_micros() as u64)),
    ];
    if let Some(g) = s.generations {
        fields.extend([
            ("minor_collections", int(g.minor_collections)),
            ("major_collections", int(g.major_collections)),
            ("nursery_bytes", int(g.nursery_bytes as u64)),
            ("promoted_bytes", int(g.promoted_bytes)),
        ]);
    }
    record(vm, &fields)
}

pub fn inspect<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("inspect", args, 1, 1)?;
    let v = args[0];
    let Some(r) = v.as_obj() else {
        return Ok(Value::Nil);
    };
    vm.check(&v)?;
    // Where it is now: allocating the strings below moves nothing.
    let generation = if r.is_static() {
        None
    } else {
        vm.heap.generation(r)
    };
    let kind = new_str(&mut vm.heap, r.kind().name())?;
    let (segment, offset) = if r.is_static() {
        vm.program.statics.locate(r).unwrap_or((0, 0))
    } else {
        vm.heap.locate(r).map_or((0, 0), |l| (l.segment, l.offset))
    };
    let mut fields = vec![
        ("kind", kind),
        ("bytes", Value::Int(r.size() as i64)),
        ("static", Value::Bool(r.is_static())),
        ("segment", Value::Int(segment as i64)),
        ("offset", Value::Int(offset as i64)),
    ];
    if let Some(rc) = vm.heap.refcount(r) {
        fields.push(("refcount", Value::Int(rc as i64)));
    }
    if let Some(g) = generation {
        fields.push(("generation", new_str(&mut vm.heap, g)?));
    }
    debug_assert!(r.kind() != Kind::Cell);
    record(vm, &fields)
}

/// `backends()`: the backends' names, in registry order (section 6).
pub fn backends<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("backends", args, 0, 0)?;
    let mut names = Vec::with_capacity(Backend::ALL.len());
    for n in Backend::names() {
        names.push(new_str(&mut vm.heap, n)?);
    }
    let l = new_list(&mut vm.heap, &names)?;
    for n in &names {
        vm.retain(n);
    }
    Ok(vm.own(l))
}
