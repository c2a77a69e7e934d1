//! Output and input, conversion, type tests, program arguments, time and errors.

use super::{arity, bad_arg};
use crate::heap::Heap;
use crate::value::list::new_list;
use crate::value::ops::cmp_int_float;
use crate::value::string::new_str;
use crate::value::{Kind, Value};
use crate::vm::Vm;
use crate::vm::error::{Trap, err};
use std::cmp::Ordering;

pub fn print<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    // Formatted aside, so a failing argument (a freed object) prints nothing.
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        vm.formats(*a, false, &mut out)?;
    }
    out.push('\n');
    vm.write_out(out.as_bytes());
    Ok(Value::Nil)
}

pub fn str<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("str", args, 1, 1)?;
    vm.check(&args[0])?;
    if args[0].as_str().is_some() {
        return Ok(vm.own(args[0]));
    }
    let mut s = String::new();
    vm.formats(args[0], false, &mut s)?;
    let v = new_str(&mut vm.heap, &s)?;
    Ok(vm.own(v))
}

pub fn int(args: &[Value]) -> Result<Value, Trap> {
    arity("int", args, 1, 1)?;
    let v = args[0];
    match v {
        Value::Int(_) => Ok(v),
        Value::Float(f) => {
            let t = f.trunc();
            if t.is_finite()
                && cmp_int_float(i64::MIN, t) != Some(Ordering::Greater)
                && t < 9_223_372_036_854_775_808.0
            {
                Ok(Value::Int(t as i64))
            } else {
                err(format!("int() cannot convert {f:?} to an int"))
            }
        }
        _ => match v.as_str() {
            Some(s) => {
                let text = s.as_str();
                let t = text.trim();
                let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
                match t.parse::<i64>() {
                    Ok(i) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                        Ok(Value::Int(i))
                    }
                    _ => err(format!("int() cannot convert {text:?} to an int")),
                }
            }
            None => err(format!("int() cannot convert {} to an int", v.type_name())),
        },
    }
}

pub fn float(args: &[Value]) -> Result<Value, Trap> {
    arity("float", args, 1, 1)?;
    let v = args[0];
    match v {
        Value::Int(i) => Ok(Value::Float(i as f64)),
        Value::Float(_) => Ok(v),
        _ => match v.as_str() {
            Some(s) => {
                let text = s.as_str();
                let t = text.trim();
                let body = t.strip_prefix(['+', '-']).unwrap_or(t);
                let named = matches!(body, "inf" | "NaN");
                let numeric = !body.is_empty()
                    && body.bytes().all(|b| {
                        b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')
                    })
                    && body.as_bytes()[0].is_ascii_digit();
                match t.parse::<f64>() {
                    Ok(f) if named || numeric => Ok(Value::Float(f)),
                    _ => err(format!("float() cannot convert {text:?} to a float")),
                }
            }
            None => err(format!(
                "float() cannot convert {} to a float",
                v.type_name()
            )),
        },
    }
}

pub fn type_of<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("type", args, 1, 1)?;
    vm.check(&args[0])?;
    let name = args[0].type_name();
    let v = new_str(&mut vm.heap, name)?;
    Ok(vm.own(v))
}

pub fn len<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("len", args, 1, 1)?;
    let v = &args[0];
    vm.check(v)?;
    let n = match v.as_obj().map(|r| r.kind()) {
        Some(Kind::Str) => v.as_str().map_or(0, |s| s.len()),
        Some(Kind::List) => v.as_list().map_or(0, |l| l.len()),
        Some(Kind::Map) => v.as_map().map_or(0, |m| m.len()),
        _ => return bad_arg("len", "a string, list or map", v),
    };
    Ok(Value::Int(n as i64))
}

pub fn args<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("args", args, 0, 0)?;
    let mut items = Vec::with_capacity(vm.opts.args.len());
    for a in vm.opts.args.clone() {
        items.push(new_str(&mut vm.heap, &a)?);
    }
    let l = new_list(&mut vm.heap, &items)?;
    for s in &items {
        vm.retain(s);
    }
    Ok(vm.own(l))
}

pub fn clock<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("clock", args, 0, 0)?;
    Ok(Value::Float(vm.program_start().elapsed().as_secs_f64()))
}

fn message<H: Heap>(vm: &mut Vm<H>, v: Value) -> Result<String, Trap> {
    let mut s = String::new();
    vm.formats(v, false, &mut s)?;
    Ok(s)
}

pub fn assert<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("assert", args, 1, 2)?;
    if args[0].truthy() {
        return Ok(Value::Nil);
    }
    match args.get(1) {
        Some(m) => err(format!("assertion failed: {}", message(vm, *m)?)),
        None => err("assertion failed"),
    }
}

pub fn error<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("error", args, 1, 1)?;
    err(message(vm, args[0])?)
}

/// `read_line()`: the next line of standard input (through the VM's host),
/// without its `\n` or `\r\n`; nil at the end of input.
pub fn read_line<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("read_line", args, 0, 0)?;
    // A line read by an attempt whose allocation failed: the VM runs the
    // call again after a collection, and it must not read another.
    let line = match vm.pending_line.take() {
        Some(line) => line,
        None => match vm.read_input_line() {
            Ok(Some(bytes)) => match String::from_utf8(bytes) {
                Ok(line) => line,
                Err(_) => return err("read_line() read invalid UTF-8"),
            },
            Ok(None) => return Ok(Value::Nil),
            Err(e) => return err(format!("read_line() cannot read standard input: {e}")),
        },
    };
    match new_str(&mut vm.heap, &line) {
        Ok(v) => Ok(vm.own(v)),
        Err(e) => {
            vm.pending_line = Some(line);
            Err(e.into())
        }
    }
}
