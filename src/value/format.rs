//! How values print (section 5): `print`, `str`, the REPL's echo.
//!
//! Formatting is iterative (an explicit work stack), so a list nested a
//! million deep prints without overflowing the Rust stack; a list or map met
//! again inside itself prints as `[...]` or `{...}`.

use super::{Kind, ListRef, MapRef, ObjRef, Value};
use std::collections::HashSet;
use std::fmt::Write;

enum Work {
    Value(Value),
    /// Continue a list at item i.
    List(ListRef, usize),
    /// Continue a map at entry i; `val` when the key was just written.
    Map(MapRef, usize),
    Text(&'static str),
}

/// Checks that an object may be looked into (manual: not freed); its error
/// is the formatter's.
pub type UseCheck<'a, E> = &'a dyn Fn(&Value) -> Result<(), E>;

/// A check that accepts everything (backends whose references are always valid).
pub fn no_check(_: &Value) -> Result<(), std::convert::Infallible> {
    Ok(())
}

/// The names of functions, by prototype number (the program knows them):
/// a closure prints as `<fn NAME>`.
pub trait FnNames {
    fn fn_name(&self, proto: u32) -> Option<&str>;
}

/// For values that hold no functions, or where names do not matter.
pub struct NoNames;

impl FnNames for NoNames {
    fn fn_name(&self, _proto: u32) -> Option<&str> {
        None
    }
}

/// Appends `v` as `print` shows it. `quote_top`: quote a top-level string
/// (the REPL's echo); inside lists and maps strings are always quoted. Every
/// object is passed to `check` before it is looked into.
pub fn format_value<E>(
    out: &mut String,
    v: Value,
    names: &dyn FnNames,
    quote_top: bool,
    check: UseCheck<E>,
) -> Result<(), E> {
    check(&v)?;
    if let (false, Some(s)) = (quote_top, v.as_str()) {
        out.push_str(s.as_str());
        return Ok(());
    }
    let mut work = vec![Work::Value(v)];
    let mut open: HashSet<ObjRef> = HashSet::new();
    while let Some(w) = work.pop() {
        match w {
            Work::Text(t) => out.push_str(t),
            Work::List(l, i) => {
                if let Some(item) = l.get(i) {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    work.push(Work::List(l, i + 1));
                    work.push(Work::Value(item));
                } else {
                    out.push(']');
                    open.remove(&l.0);
                }
            }
            Work::Map(m, i) => match (i..m.used()).find_map(|j| m.entry(j).map(|e| (j, e))) {
                Some((j, (k, val))) => {
                    if i > 0 && j > first_entry(m) {
                        out.push_str(", ");
                    }
                    work.push(Work::Map(m, j + 1));
                    work.push(Work::Value(val));
                    work.push(Work::Text(": "));
                    work.push(Work::Value(k));
                }
                None => {
                    out.push('}');
                    open.remove(&m.0);
                }
            },
            Work::Value(v) => match v {
                Value::Obj(_, r) => match check(&v).map(|_| r.kind())? {
                    Kind::Str => quote(out, super::StrRef(r).as_str()),
                    Kind::List => {
                        if open.insert(r) {
                            out.push('[');
                            work.push(Work::List(ListRef(r), 0));
                        } else {
                            out.push_str("[...]");
                        }
                    }
                    Kind::Map => {
                        if open.insert(r) {
                            out.push('{');
                            work.push(Work::Map(MapRef(r), 0));
                        } else {
                            out.push_str("{...}");
                        }
                    }
                    _ => format_scalar(out, v, names),
                },
                _ => format_scalar(out, v, names),
            },
        }
    }
    Ok(())
}

fn first_entry(m: MapRef) -> usize {
    (0..m.used()).find(|&j| m.entry(j).is_some()).unwrap_or(0)
}

/// Formats a value that contains no other values.
pub fn format_scalar(out: &mut String, v: Value, names: &dyn FnNames) {
    match v {
        Value::Nil | Value::Undef => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::Pid(p) => {
            let _ = write!(out, "<pid {p}>");
        }
        Value::Obj(_, r) => match r.kind() {
            Kind::Str => out.push_str(super::StrRef(r).as_str()),
            Kind::Closure => match names.fn_name(super::ClosureRef(r).proto()) {
                Some(n) => {
                    let _ = write!(out, "<fn {n}>");
                }
                None => out.push_str("<fn>"),
            },
            k => {
                let _ = write!(out, "<{}>", k.name());
            }
        },
    }
}

/// A string inside a list or map: quoted, with escapes.
fn quote(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
