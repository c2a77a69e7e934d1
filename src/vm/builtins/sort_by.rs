//! The two internal builtins of `sort(xs, less)`, which is Loam code
//! (`compiler/sort.loam`) so that the comparator runs as an ordinary call:
//! `__sort_check` validates the arguments and returns a copy of the list to
//! sort; `__sort_store` writes the sorted copy back.

use super::{arity, bad_arg, not_static};
use crate::heap::Heap;
use crate::value::list::new_list;
use crate::value::{ListRef, Value};
use crate::vm::Vm;
use crate::vm::error::Trap;

fn list_arg(v: &Value) -> Result<ListRef, Trap> {
    match v.as_list() {
        Some(l) => Ok(l),
        None => bad_arg("sort", "a list", v),
    }
}

/// `__sort_check(xs, less)`: xs a list that may change, less a function;
/// returns a new list of xs's items.
pub fn check<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("sort", args, 2, 2)?;
    let xs = list_arg(&args[0])?;
    not_static(&args[0])?;
    if args[1].as_closure().is_none() {
        return bad_arg("sort", "a function to compare with", &args[1]);
    }
    let copy = new_list(&mut vm.heap, xs.items())?;
    if H::COUNTS_REFS {
        for v in xs.items() {
            vm.retain(v);
        }
    }
    Ok(vm.own(copy))
}

/// `__sort_store(xs, sorted)`: makes xs hold the items of sorted, in order.
/// Safe to run again after a failed allocation: it first brings xs to the
/// right length (pushing nils), then overwrites every slot
/// (`lists::store_sorted`, which keeps rc's counts exact).
pub fn store<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("sort", args, 2, 2)?;
    let xs = list_arg(&args[0])?;
    let sorted = list_arg(&args[1])?;
    not_static(&args[0])?;
    let n = sorted.len();
    while xs.len() > n {
        if let Some(v) = xs.pop() {
            vm.release(v);
        }
    }
    while xs.len() < n {
        xs.push(&mut vm.heap, Value::Nil)?;
    }
    super::lists::store_sorted(vm, xs, sorted.items());
    Ok(Value::Nil)
}
