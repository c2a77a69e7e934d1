//! Lists beyond push and pop: sort, reverse, insert, remove, slice, and
//! find in a list. The ones that change a list refuse static data, store
//! through the list's primitives (so the write barrier hears of every
//! store) and keep rc's counts exact: a value moved within a list keeps
//! its count, a removed one's reference moves to the result, a new list
//! retains what it holds. Sorting sorts a copy of the items and writes it
//! back with [`store_sorted`], which a sort with a comparator shares.

use super::{arity, bad_arg, not_static};
use crate::heap::Heap;
use crate::value::list::new_list;
use crate::value::ops::{equal, order};
use crate::value::{ListRef, Value};
use crate::vm::Vm;
use crate::vm::error::{Trap, err};
use std::cmp::Ordering;

fn list_arg<H: Heap>(vm: &Vm<H>, name: &str, v: &Value) -> Result<ListRef, Trap> {
    vm.check(v)?;
    match v.as_list() {
        Some(l) => Ok(l),
        None => bad_arg(name, "a list", v),
    }
}

fn index_arg(name: &str, v: &Value) -> Result<i64, Trap> {
    match v {
        Value::Int(i) => Ok(*i),
        _ => bad_arg(name, "an int index", v),
    }
}

/// `i` as an index into a list of `len` items when `0 <= i <= max`
/// (`max` is `len` or `len - 1`), else `index out of range`.
fn in_range(i: i64, max: Option<usize>, len: usize) -> Result<usize, Trap> {
    match (usize::try_from(i), max) {
        (Ok(i), Some(max)) if i <= max => Ok(i),
        _ => err(format!(
            "index out of range: {i} for a list of {len} item{}",
            if len == 1 { "" } else { "s" }
        )),
    }
}

/// `sort(xs)`: sorts xs in place, stably, by `<`.
pub fn sort<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("sort", args, 1, 2)?;
    let l = list_arg(vm, "sort", &args[0])?;
    not_static(&args[0])?;
    if args.len() == 2 {
        // `sort(xs, less)` is the runtime's Loam sort (compiler/sort.loam):
        // the compiler and the VM's `Call` send two-argument calls there,
        // so only a program compiled without it can get here.
        return err("internal error: sort() with a comparator reached the native sort");
    }
    let mut values = l.items().to_vec();
    for v in &values {
        vm.check(v)?;
    }
    merge_sort(&mut values, &mut |a, b| {
        Ok(order(a, b)? == Some(Ordering::Less))
    })?;
    store_sorted(vm, l, &values);
    Ok(Value::Nil)
}

/// Items sorted by insertion before the merging starts.
const INSERTION_RUN: usize = 16;

/// Sorts `v` stably by `less` (a merge sort: O(n log n) calls of `less`),
/// stopping at its first error. Whatever `less` answers, even an order
/// that is not one (NaN, a comparator that changes its mind), `v` ends as
/// some permutation of its values: nothing panics, nothing is lost.
pub(crate) fn merge_sort(
    v: &mut Vec<Value>,
    less: &mut dyn FnMut(&Value, &Value) -> Result<bool, Trap>,
) -> Result<(), Trap> {
    let n = v.len();
    for start in (0..n).step_by(INSERTION_RUN) {
        let end = (start + INSERTION_RUN).min(n);
        for i in start + 1..end {
            let mut j = i;
            while j > start && less(&v[j], &v[j - 1])? {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
    }
    // Each pass merges runs of `width` from `src` into `dst`; `src` holds
    // every value between passes, so it is what an error leaves in `v`.
    let mut src = std::mem::take(v);
    let mut dst = src.clone();
    let mut width = INSERTION_RUN;
    let mut result = Ok(());
    'passes: while width < n {
        for lo in (0..n).step_by(2 * width) {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j) = (lo, mid);
            for slot in &mut dst[lo..hi] {
                // Stable: the right run's value goes first only when less.
                let right = j < hi
                    && (i >= mid
                        || match less(&src[j], &src[i]) {
                            Ok(r) => r,
                            Err(e) => {
                                result = Err(e);
                                break 'passes;
                            }
                        });
                if right {
                    *slot = src[j];
                    j += 1;
                } else {
                    *slot = src[i];
                    i += 1;
                }
            }
        }
        std::mem::swap(&mut src, &mut dst);
        width *= 2;
    }
    *v = src;
    result
}

/// Writes `sorted` into `list`: slot i gets `sorted[i]`, for the slots both
/// have (a list that changed length meanwhile keeps the rest as it is).
/// Each store goes through `ListRef::set`, so the write barrier sees it.
/// For rc, it counts as the assignments `xs[i] = sorted[i]` would: every
/// stored value is retained first, then every displaced one released, so
/// when `sorted` is a reordering of the list's items (a sort's copy) no
/// count changes in the end and none drops to zero on the way.
pub(crate) fn store_sorted<H: Heap>(vm: &mut Vm<H>, list: ListRef, sorted: &[Value]) {
    let n = list.len().min(sorted.len());
    for v in &sorted[..n] {
        vm.retain(v);
    }
    for (i, v) in sorted[..n].iter().enumerate() {
        if let Some(old) = list.set(&mut vm.heap, i, *v) {
            vm.release(old);
        }
    }
}

/// `reverse(xs)`: reverses xs in place.
pub fn reverse<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("reverse", args, 1, 1)?;
    let l = list_arg(vm, "reverse", &args[0])?;
    not_static(&args[0])?;
    l.reverse(&mut vm.heap);
    Ok(Value::Nil)
}

/// `insert(xs, i, v)`: inserts v before index i (0 <= i <= len).
pub fn insert<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("insert", args, 3, 3)?;
    let l = list_arg(vm, "insert", &args[0])?;
    let i = index_arg("insert", &args[1])?;
    not_static(&args[0])?;
    let i = in_range(i, Some(l.len()), l.len())?;
    l.insert(&mut vm.heap, i, args[2])?;
    vm.retain(&args[2]);
    Ok(Value::Nil)
}

/// `remove(xs, i)`: removes and returns xs[i].
pub fn remove<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("remove", args, 2, 2)?;
    let l = list_arg(vm, "remove", &args[0])?;
    let i = index_arg("remove", &args[1])?;
    not_static(&args[0])?;
    let i = in_range(i, l.len().checked_sub(1), l.len())?;
    // The list's reference to the value moves to the result.
    match l.remove(&mut vm.heap, i) {
        Some(v) => Ok(v),
        None => err("index out of range"),
    }
}

/// `slice(xs, a, b)`: a new list of xs[a], ..., xs[b-1].
pub fn slice<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("slice", args, 3, 3)?;
    let l = list_arg(vm, "slice", &args[0])?;
    let a = index_arg("slice", &args[1])?;
    let b = index_arg("slice", &args[2])?;
    let len = l.len();
    let b = in_range(b, Some(len), len)?;
    let a = in_range(a, Some(b), len)?;
    // (Allocating moves nothing: the items stay where `items` found them.)
    let v = new_list(&mut vm.heap, &l.items()[a..b])?;
    if let Some(new) = v.as_list() {
        for item in new.items() {
            vm.retain(item);
        }
    }
    Ok(vm.own(v))
}

/// `find(xs, v)`: the first index i with `xs[i] == v`, or nil.
pub fn find<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("find", args, 2, 2)?;
    let l = list_arg(vm, "find", &args[0])?;
    vm.check(&args[1])?;
    for (i, item) in l.items().iter().enumerate() {
        // As `==` does, each side is checked before it is compared.
        vm.check(item)?;
        if equal(item, &args[1]) {
            return Ok(Value::Int(i as i64));
        }
    }
    Ok(Value::Nil)
}
