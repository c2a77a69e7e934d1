//! Numbers: abs, min, max, the roundings to an int (floor, ceil, round),
//! sqrt and the elementary functions on floats (as IEEE-754 and the C
//! library define them), and pow, which stays in the ints when it can.
//! None of them allocates or looks into an object.

use super::{arity, bad_arg};
use crate::bytecode::builtins::{Builtin as B, NAMES};
use crate::value::Value;
use crate::value::ops::order;
use crate::vm::error::{Trap, err};
use std::cmp::Ordering;

fn number(name: &str, v: &Value) -> Result<f64, Trap> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        _ => bad_arg(name, "a number", v),
    }
}

fn overflow() -> Trap {
    Trap::Error("integer overflow".into())
}

/// Calls the numeric builtin `b`.
pub fn math(b: B, args: &[Value]) -> Result<Value, Trap> {
    let name = NAMES[b as usize];
    match b {
        B::Abs => {
            arity(name, args, 1, 1)?;
            match args[0] {
                Value::Int(i) => i.checked_abs().map(Value::Int).ok_or_else(overflow),
                Value::Float(f) => Ok(Value::Float(f.abs())),
                v => bad_arg(name, "a number", &v),
            }
        }
        B::Min | B::Max => {
            arity(name, args, 1, usize::MAX)?;
            let want = if b == B::Min {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            let mut best = args[0];
            number(name, &best)?;
            for v in &args[1..] {
                number(name, v)?;
                if order(v, &best)? == Some(want) {
                    best = *v;
                }
            }
            Ok(best)
        }
        B::Floor => to_int(name, args, f64::floor),
        B::Ceil => to_int(name, args, f64::ceil),
        // Half away from zero.
        B::Round => to_int(name, args, f64::round),
        B::Atan2 => {
            arity(name, args, 2, 2)?;
            let (y, x) = (number(name, &args[0])?, number(name, &args[1])?);
            Ok(Value::Float(y.atan2(x)))
        }
        B::Pow => pow(args),
        _ => {
            let f: fn(f64) -> f64 = match b {
                B::Sqrt => f64::sqrt,
                B::Sin => f64::sin,
                B::Cos => f64::cos,
                B::Tan => f64::tan,
                B::Asin => f64::asin,
                B::Acos => f64::acos,
                B::Atan => f64::atan,
                B::Exp => f64::exp,
                B::Log => f64::ln,
                _ => return err(format!("internal error: {name} is not a numeric builtin")),
            };
            arity(name, args, 1, 1)?;
            Ok(Value::Float(f(number(name, &args[0])?)))
        }
    }
}

/// `floor`, `ceil`, `round`: an int stays as it is; a float is rounded by
/// `f`, and must then fit an int.
fn to_int(name: &str, args: &[Value], f: fn(f64) -> f64) -> Result<Value, Trap> {
    arity(name, args, 1, 1)?;
    match args[0] {
        Value::Int(_) => Ok(args[0]),
        Value::Float(x) => super::core::int(&[Value::Float(f(x))])
            .map_err(|_| Trap::Error(format!("{name}() cannot convert {x:?} to an int"))),
        v => bad_arg(name, "a number", &v),
    }
}

/// `pow(x, y)`: an int when both are ints and y >= 0 (`integer overflow`
/// when it does not fit), otherwise a float.
fn pow(args: &[Value]) -> Result<Value, Trap> {
    arity("pow", args, 2, 2)?;
    match (args[0], args[1]) {
        (Value::Int(x), Value::Int(y)) if y >= 0 => {
            int_pow(x, y).map(Value::Int).ok_or_else(overflow)
        }
        (x, y) => Ok(Value::Float(number("pow", &x)?.powf(number("pow", &y)?))),
    }
}

/// `x` to the power `y >= 0`, if it fits an i64.
fn int_pow(x: i64, y: i64) -> Option<i64> {
    match u32::try_from(y) {
        Ok(e) => x.checked_pow(e),
        // Only 0, 1 and -1 have powers this large that fit.
        Err(_) => match x {
            0 | 1 => Some(x),
            -1 => Some(if y % 2 == 0 { 1 } else { -1 }),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_pow_fits_or_overflows() {
        assert_eq!(int_pow(2, 62), Some(1 << 62));
        assert_eq!(int_pow(2, 63), None);
        assert_eq!(int_pow(-2, 63), Some(i64::MIN));
        assert_eq!(int_pow(7, 0), Some(1));
        assert_eq!(int_pow(0, 0), Some(1));
        assert_eq!(int_pow(-1, i64::MAX), Some(-1));
        assert_eq!(int_pow(-1, 1 << 40), Some(1));
        assert_eq!(int_pow(1, i64::MAX), Some(1));
        assert_eq!(int_pow(0, 1 << 33), Some(0));
        assert_eq!(int_pow(2, 1 << 33), None);
    }
}
