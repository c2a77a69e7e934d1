//! Strings: split, join, substr.

use super::{arity, bad_arg};
use crate::heap::Heap;
use crate::value::list::new_list;
use crate::value::string::{MAX_STR_BYTES, new_str};
use crate::value::{AllocError, StrRef, Value};
use crate::vm::Vm;
use crate::vm::error::{Trap, err};

fn str_arg<H: Heap>(vm: &Vm<H>, name: &str, v: &Value) -> Result<StrRef, Trap> {
    vm.check(v)?;
    match v.as_str() {
        Some(s) => Ok(s),
        None => bad_arg(name, "a string", v),
    }
}

/// `split(s, sep)`: the pieces between occurrences of sep (an empty sep splits
/// into characters).
pub fn split<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("split", args, 2, 2)?;
    let s = str_arg(vm, "split", &args[0])?.as_str();
    let sep = str_arg(vm, "split", &args[1])?.as_str();
    // (Allocating strings moves nothing, so `s` and `sep` stay put.)
    let mut parts = Vec::new();
    if sep.is_empty() {
        for (i, c) in s.char_indices() {
            parts.push(new_str(&mut vm.heap, &s[i..i + c.len_utf8()])?);
        }
    } else {
        for p in s.split(sep) {
            parts.push(new_str(&mut vm.heap, p)?);
        }
    }
    let l = new_list(&mut vm.heap, &parts)?;
    for p in &parts {
        vm.retain(p);
    }
    Ok(vm.own(l))
}

/// `join(xs, sep)`: the strings of xs with sep between them.
pub fn join<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("join", args, 2, 2)?;
    vm.check(&args[0])?;
    let Some(l) = args[0].as_list() else {
        return bad_arg("join", "a list of strings", &args[0]);
    };
    let sep = str_arg(vm, "join", &args[1])?.as_str();
    let mut out = String::new();
    for (i, v) in l.items().iter().enumerate() {
        vm.check(v)?;
        let Some(s) = v.as_str() else {
            return bad_arg("join", "a list of strings", v);
        };
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(s.as_str());
        if out.len() > MAX_STR_BYTES {
            return Err(AllocError::TooLarge.into());
        }
    }
    let v = new_str(&mut vm.heap, &out)?;
    Ok(vm.own(v))
}

/// `substr(s, a, b)`: bytes a..b, which must be character boundaries. Costs
/// b - a: the boundary checks look at two bytes, and the text is not scanned.
pub fn substr<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("substr", args, 3, 3)?;
    let text = str_arg(vm, "substr", &args[0])?.as_str();
    let (Value::Int(a), Value::Int(b)) = (args[1], args[2]) else {
        return err("substr() expects int offsets");
    };
    let piece = match (usize::try_from(a), usize::try_from(b)) {
        (Ok(a), Ok(b)) if a <= b => text.get(a..b),
        _ => None,
    };
    let Some(piece) = piece else {
        return err(format!(
            "substr() expects 0 <= a <= b <= len(s) on character boundaries, got {a} and {b} for a string of {} bytes",
            text.len()
        ));
    };
    let v = new_str(&mut vm.heap, piece)?;
    Ok(vm.own(v))
}
