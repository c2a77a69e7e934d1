//! The builtins of section 6. Each takes the VM and its arguments (copied off
//! the stack) and returns a value or a trap. A builtin that allocates does
//! all its allocation before it changes anything, so that the VM can retry
//! it after a collection; it never collects itself (`gc()` only asks for a
//! collection at the next safepoint).

mod collections;
mod core;
/// (Public to the crate for the comparator sort: `lists::store_sorted`.)
pub(crate) mod lists;
mod math;
mod memory;
mod process;
mod sort_by;
mod strings;

use super::Vm;
use super::error::{Trap, err};
use crate::bytecode::builtins as names;
use crate::heap::Heap;
use crate::value::Value;

/// Calls builtin number `id`.
pub(crate) fn call<H: Heap>(vm: &mut Vm<H>, id: u16, args: &[Value]) -> Result<Value, Trap> {
    use names::Builtin as B;
    let Some(b) = B::from_id(id) else {
        return err(format!("internal error: unknown builtin {id}"));
    };
    // Under manual, every argument is checked before any builtin looks at it
    // (free does its own check: a stale reference there is a double free).
    if H::CHECKS_USE && b != B::Free {
        for a in args {
            vm.check(a)?;
        }
    }
    match b {
        B::Print => core::print(vm, args),
        B::Str => core::str(vm, args),
        B::Int => core::int(args),
        B::Float => core::float(args),
        B::Type => core::type_of(vm, args),
        B::Len => core::len(vm, args),
        B::Args => core::args(vm, args),
        B::Clock => core::clock(vm, args),
        B::Assert => core::assert(vm, args),
        B::Error => core::error(vm, args),
        B::Abs
        | B::Min
        | B::Max
        | B::Floor
        | B::Ceil
        | B::Round
        | B::Sqrt
        | B::Sin
        | B::Cos
        | B::Tan
        | B::Asin
        | B::Acos
        | B::Atan
        | B::Atan2
        | B::Exp
        | B::Log
        | B::Pow => math::math(b, args),
        B::ReadLine => core::read_line(vm, args),
        B::Push => collections::push(vm, args),
        B::Pop => collections::pop(vm, args),
        B::Fill => collections::fill(vm, args),
        B::Keys => collections::keys(vm, args),
        B::Has => collections::has(vm, args),
        B::Del => collections::del(vm, args),
        B::Split => strings::split(vm, args),
        B::Join => strings::join(vm, args),
        B::Substr => strings::substr(vm, args),
        B::Byte => strings::byte(vm, args),
        B::Chr => strings::chr(vm, args),
        B::Find if args.first().is_some_and(|v| v.as_list().is_some()) => lists::find(vm, args),
        B::Find => strings::find(vm, args),
        B::Replace => strings::replace(vm, args),
        B::Upper | B::Lower => strings::case(vm, b == B::Upper, args),
        B::Trim => strings::trim(vm, args),
        B::StartsWith | B::EndsWith => strings::affix(vm, b == B::StartsWith, args),
        B::Format => strings::format(vm, args),
        B::Sort => lists::sort(vm, args),
        B::Reverse => lists::reverse(vm, args),
        B::Insert => lists::insert(vm, args),
        B::Remove => lists::remove(vm, args),
        B::Slice => lists::slice(vm, args),
        B::Free => memory::free(vm, args),
        B::Gc => memory::gc(vm, args),
        B::HeapStats => memory::heap_stats(vm, args),
        B::Inspect => memory::inspect(vm, args),
        B::Backends => memory::backends(vm, args),
        B::Spawn => process::spawn(vm, args),
        B::Send => process::send(vm, args),
        B::Recv => process::recv(vm, args),
        B::SelfPid => process::self_pid(vm, args),
        B::Monitor => process::monitor(vm, args),
        B::Sleep => process::sleep(vm, args),
        B::SortCheck => sort_by::check(vm, args),
        B::SortStore => sort_by::store(vm, args),
    }
}

/// Checks the argument count: `NAME() expects N arguments but got M`.
#[inline]
pub(crate) fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), Trap> {
    if args.len() >= min && args.len() <= max {
        Ok(())
    } else {
        arity_error(name, args.len(), min, max)
    }
}

#[cold]
#[inline(never)]
fn arity_error(name: &str, got: usize, min: usize, max: usize) -> Result<(), Trap> {
    let want = match (min, max) {
        (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
        (a, usize::MAX) => format!("at least {a} argument{}", if a == 1 { "" } else { "s" }),
        (a, b) => format!("{a} to {b} arguments"),
    };
    err(format!("{name}() expects {want} but got {got}"))
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
