//! Lists and maps: push, pop, fill, keys, has, del.

use super::{arity, bad_arg, not_static};
use crate::heap::Heap;
use crate::value::list::new_list;
use crate::value::list::new_list_filled;
use crate::value::map::is_key;
use crate::value::{MapRef, Value};
use crate::vm::Vm;
use crate::vm::error::{Trap, err};

pub fn push<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("push", args, 2, 2)?;
    vm.check(&args[0])?;
    let Some(l) = args[0].as_list() else {
        return bad_arg("push", "a list", &args[0]);
    };
    not_static(&args[0])?;
    l.push(&mut vm.heap, args[1])?;
    vm.retain(&args[1]);
    Ok(Value::Nil)
}

pub fn pop<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("pop", args, 1, 1)?;
    vm.check(&args[0])?;
    let Some(l) = args[0].as_list() else {
        return bad_arg("pop", "a list", &args[0]);
    };
    not_static(&args[0])?;
    match l.pop() {
        Some(v) => Ok(v),
        None => err("pop() expects a non-empty list"),
    }
}

pub fn fill<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("fill", args, 2, 2)?;
    let Value::Int(n) = args[0] else {
        return bad_arg("fill", "an int count", &args[0]);
    };
    if n < 0 {
        return err(format!("fill() expects a count of at least 0, got {n}"));
    }
    let l = new_list_filled(&mut vm.heap, n as usize, args[1])?;
    if args[1].is_heap_obj() {
        for _ in 0..n {
            vm.retain(&args[1]);
        }
    }
    Ok(vm.own(l))
}

fn map_arg<H: Heap>(vm: &Vm<H>, name: &str, args: &[Value]) -> Result<MapRef, Trap> {
    vm.check(&args[0])?;
    match args[0].as_map() {
        Some(m) => Ok(m),
        None => bad_arg(name, "a map", &args[0]),
    }
}

fn key_arg(k: &Value) -> Result<(), Trap> {
    if is_key(k) {
        Ok(())
    } else {
        err(format!("invalid map key: {}", k.type_name()))
    }
}

pub fn keys<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("keys", args, 1, 1)?;
    let m = map_arg(vm, "keys", args)?;
    let mut ks: Vec<Value> = m.entries().map(|(k, _)| k).collect();
    for k in ks.iter_mut() {
        *k = crate::heap::keys::for_script(&mut vm.heap, *k)?;
    }
    let l = new_list(&mut vm.heap, &ks)?;
    for k in &ks {
        vm.retain(k);
    }
    Ok(vm.own(l))
}

pub fn has<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("has", args, 2, 2)?;
    let m = map_arg(vm, "has", args)?;
    key_arg(&args[1])?;
    vm.check(&args[1])?;
    Ok(Value::Bool(m.has(&args[1])))
}

pub fn del<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("del", args, 2, 2)?;
    let m = map_arg(vm, "del", args)?;
    key_arg(&args[1])?;
    vm.check(&args[1])?;
    not_static(&args[0])?;
    match m.remove(&args[1]) {
        // The map's reference to the value moves to the result; its key goes.
        Some((k, v)) => {
            vm.release(k);
            crate::heap::keys::drop_key(&mut vm.heap, k);
            Ok(v)
        }
        None => Ok(Value::Nil),
    }
}
