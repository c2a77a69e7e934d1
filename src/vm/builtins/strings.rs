//! Strings: split, join, substr, byte, chr, find in a string, replace,
//! case, trim, prefixes and suffixes, format. Every string's text is valid
//! UTF-8 already, so each costs what it reads and makes, not len(s).

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

/// `byte(s, i)`: the byte at offset i, as an int.
pub fn byte<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("byte", args, 2, 2)?;
    let s = str_arg(vm, "byte", &args[0])?;
    let Value::Int(i) = args[1] else {
        return bad_arg("byte", "an int offset", &args[1]);
    };
    match usize::try_from(i).ok().and_then(|i| s.bytes().get(i)) {
        Some(&b) => Ok(Value::Int(i64::from(b))),
        None => err(format!(
            "index out of range: offset {i} in a string of {} bytes",
            s.len()
        )),
    }
}

/// `chr(n)`: the one-character string of Unicode scalar value n.
pub fn chr<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("chr", args, 1, 1)?;
    let Value::Int(n) = args[0] else {
        return bad_arg("chr", "an int", &args[0]);
    };
    let Some(c) = u32::try_from(n).ok().and_then(char::from_u32) else {
        return err(format!(
            "chr() expects a Unicode scalar value (0 to 0x10FFFF, not 0xD800 to 0xDFFF), got {n}"
        ));
    };
    let v = new_str(&mut vm.heap, c.encode_utf8(&mut [0; 4]))?;
    Ok(vm.own(v))
}

/// `find(s, sub)`: the byte offset of the first occurrence of sub, or nil.
pub fn find<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("find", args, 2, 2)?;
    vm.check(&args[0])?;
    let Some(s) = args[0].as_str() else {
        return bad_arg("find", "a string or a list", &args[0]);
    };
    vm.check(&args[1])?;
    let Some(sub) = args[1].as_str() else {
        return bad_arg("find", "a string to look for in a string", &args[1]);
    };
    Ok(s.as_str()
        .find(sub.as_str())
        .map_or(Value::Nil, |i| Value::Int(i as i64)))
}

/// `replace(s, from, to)`: s with every occurrence of from replaced by to.
pub fn replace<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("replace", args, 3, 3)?;
    let s = str_arg(vm, "replace", &args[0])?.as_str();
    let from = str_arg(vm, "replace", &args[1])?.as_str();
    let to = str_arg(vm, "replace", &args[2])?.as_str();
    if from.is_empty() {
        return err("replace() expects a non-empty string to replace");
    }
    let n = s.matches(from).count();
    if n == 0 {
        return Ok(vm.own(args[0]));
    }
    // The result's length first, so a result too large is refused before
    // anything is built.
    let len = (to.len() as u128 * n as u128) + (s.len() - from.len() * n) as u128;
    if len > MAX_STR_BYTES as u128 {
        return Err(AllocError::TooLarge.into());
    }
    let mut out = String::with_capacity(len as usize);
    let mut last = 0;
    for (i, _) in s.match_indices(from) {
        out.push_str(&s[last..i]);
        out.push_str(to);
        last = i + from.len();
    }
    out.push_str(&s[last..]);
    let v = new_str(&mut vm.heap, &out)?;
    Ok(vm.own(v))
}

/// `upper(s)` and `lower(s)`: Unicode's full case mappings.
pub fn case<H: Heap>(vm: &mut Vm<H>, upper: bool, args: &[Value]) -> Result<Value, Trap> {
    let name = if upper { "upper" } else { "lower" };
    arity(name, args, 1, 1)?;
    let s = str_arg(vm, name, &args[0])?.as_str();
    let mapped = if upper {
        s.to_uppercase()
    } else {
        s.to_lowercase()
    };
    let v = new_str(&mut vm.heap, &mapped)?;
    Ok(vm.own(v))
}

/// `trim(s)`: s without leading and trailing Unicode White_Space.
pub fn trim<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("trim", args, 1, 1)?;
    let s = str_arg(vm, "trim", &args[0])?.as_str();
    let t = s.trim();
    if t.len() == s.len() {
        return Ok(vm.own(args[0]));
    }
    let v = new_str(&mut vm.heap, t)?;
    Ok(vm.own(v))
}

/// `starts_with(s, p)` and `ends_with(s, p)`.
pub fn affix<H: Heap>(vm: &mut Vm<H>, start: bool, args: &[Value]) -> Result<Value, Trap> {
    let name = if start { "starts_with" } else { "ends_with" };
    arity(name, args, 2, 2)?;
    let s = str_arg(vm, name, &args[0])?.as_str();
    let p = str_arg(vm, name, &args[1])?.as_str();
    Ok(Value::Bool(if start {
        s.starts_with(p)
    } else {
        s.ends_with(p)
    }))
}

/// A piece of a format string: text to copy, or a `{}` to fill.
enum Piece<'a> {
    Text(&'a str),
    Hole,
}

/// The pieces of `fmt`, read left to right: `{{` is `{`, `}}` is `}`,
/// `{}` a hole, and any other brace itself.
fn pieces(fmt: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = fmt;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (piece, used) = match rest.find(['{', '}']) {
            Some(0) => match rest.get(..2) {
                Some("{}") => (Piece::Hole, 2),
                // `{{` and `}}` stand for their first brace.
                Some("{{" | "}}") => (Piece::Text(&rest[..1]), 2),
                _ => (Piece::Text(&rest[..1]), 1),
            },
            Some(i) => (Piece::Text(&rest[..i]), i),
            None => (Piece::Text(rest), rest.len()),
        };
        rest = &rest[used..];
        Some(piece)
    })
}

/// `format(fmt, ...)`: fmt with each `{}` replaced by the next argument as
/// `str` shows it.
pub fn format<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("format", args, 1, usize::MAX)?;
    vm.check(&args[0])?;
    let Some(fmt) = args[0].as_str().map(|s| s.as_str()) else {
        return bad_arg("format", "a format string", &args[0]);
    };
    let holes = pieces(fmt).filter(|p| matches!(p, Piece::Hole)).count();
    let given = args.len() - 1;
    if holes != given {
        let s = if holes == 1 { "" } else { "s" };
        return err(format!(
            "format() expects {holes} argument{s} after the format string (one for each {{}}), got {given}"
        ));
    }
    let mut out = String::new();
    let mut next = args[1..].iter();
    for p in pieces(fmt) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole => {
                if let Some(v) = next.next() {
                    vm.formats(*v, false, &mut out)?;
                }
            }
        }
        if out.len() > MAX_STR_BYTES {
            return Err(AllocError::TooLarge.into());
        }
    }
    let v = new_str(&mut vm.heap, &out)?;
    Ok(vm.own(v))
}
