//! The builtins of section 6. Each takes the VM and its arguments (copied off
//! the stack) and returns a value or a trap. A builtin that allocates does
//! all its allocation before it changes anything, so that the VM can retry
//! it after a collection; it never collects itself (`gc()` only asks for a
//! collection at the next safepoint).

mod collections;
mod core;
mod memory;
pub mod names;
mod strings;

use super::Vm;
use super::error::{Trap, err};
use crate::heap::Heap;
use crate::value::Value;

/// Calls builtin number `id`.
pub(crate) fn call<H: Heap>(vm: &mut Vm<H>, id: u16, args: &[Value]) -> Result<Value, Trap> {
    let name = names::NAMES.get(id as usize).copied().unwrap_or("?");
    // Under manual, every argument is checked before any builtin looks at it
    // (free does its own check: a stale reference there is a double free).
    if H::CHECKS_USE && name != "free" {
        for a in args {
            vm.check(a)?;
        }
    }
    match name {
        "print" => core::print(vm, args),
        "str" => core::str(vm, args),
        "int" => core::int(args),
        "float" => core::float(args),
        "type" => core::type_of(vm, args),
        "len" => core::len(vm, args),
        "args" => core::args(vm, args),
        "clock" => core::clock(vm, args),
        "assert" => core::assert(vm, args),
        "error" => core::error(vm, args),
        "abs" | "min" | "max" | "floor" | "sqrt" => core::math(name, args),
        "push" => collections::push(vm, args),
        "pop" => collections::pop(vm, args),
        "fill" => collections::fill(vm, args),
        "keys" => collections::keys(vm, args),
        "has" => collections::has(vm, args),
        "del" => collections::del(vm, args),
        "split" => strings::split(vm, args),
        "join" => strings::join(vm, args),
        "substr" => strings::substr(vm, args),
        "free" => memory::free(vm, args),
        "gc" => memory::gc(vm, args),
        "heap_stats" => memory::heap_stats(vm, args),
        "inspect" => memory::inspect(vm, args),
        "spawn" | "send" | "recv" | "self" | "monitor" | "sleep" => err(format!(
            "{name}() needs processes, which this version of Loam does not have yet"
        )),
        _ => err(format!("internal error: unknown builtin {id}")),
    }
}

/// Checks the argument count: `NAME() expects N arguments but got M`.
pub(crate) fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), Trap> {
    if args.len() >= min && args.len() <= max {
        return Ok(());
    }
    let want = match (min, max) {
        (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
        (a, usize::MAX) => format!("at least {a} argument{}", if a == 1 { "" } else { "s" }),
        (a, b) => format!("{a} to {b} arguments"),
    };
    err(format!("{name}() expects {want} but got {}", args.len()))
}

/// `NAME() expects WHAT, got TYPE`.
pub(crate) fn bad_arg<T>(name: &str, what: &str, got: &Value) -> Result<T, Trap> {
    err(format!("{name}() expects {what}, got {}", got.type_name()))
}

/// Refuses to change static data.
pub(crate) fn not_static(v: &Value) -> Result<(), Trap> {
    match v.as_obj() {
        Some(r) if r.is_static() => err("cannot modify static data"),
        _ => Ok(()),
    }
}
