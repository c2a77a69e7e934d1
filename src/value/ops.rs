//! Operators on immediate values, shared by the VM and the compiler's
//! constant folding so that both compute exactly the same thing.
//! (String and list `+` allocate, so the callers handle those first.)

use super::{Kind, Value};
use std::cmp::Ordering;

/// A binary operator (the parser builds them; the VM and constant folding apply them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            Shl => "<<",
            Shr => ">>",
        }
    }

    pub fn is_comparison(self) -> bool {
        use BinOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `~x`
    BitNot,
    /// `not x`
    Not,
}

/// Why an operator failed. Rendered into the runtime error messages of section 11.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("integer overflow")]
    Overflow,
    #[error("division by zero")]
    DivZero,
    #[error("shift out of range")]
    ShiftRange,
    #[error("unsupported operand types for {0}: {1} and {2}")]
    Unsupported(&'static str, &'static str, &'static str),
    #[error("unsupported operand type for {0}: {1}")]
    UnsupportedUnary(&'static str, &'static str),
    #[error("cannot compare {0} and {1}")]
    Compare(&'static str, &'static str),
}

fn unsupported(op: BinOp, a: &Value, b: &Value) -> OpError {
    OpError::Unsupported(op.symbol(), a.type_name(), b.type_name())
}

/// Exact comparison of an int with a float (no rounding of large ints).
pub fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 9_223_372_036_854_775_808.0 {
        return Some(Ordering::Less);
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    Some(match i.cmp(&(t as i64)) {
        Ordering::Equal if f > t => Ordering::Less,
        Ordering::Equal if f < t => Ordering::Greater,
        o => o,
    })
}

/// `a == b` as the language defines it.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => {
            cmp_int_float(*i, *f) == Some(Ordering::Equal)
        }
        (Value::Pid(x), Value::Pid(y)) => x == y,
        (Value::Obj(_, x), Value::Obj(_, y)) => {
            x == y
                || (x.kind() == Kind::Str
                    && y.kind() == Kind::Str
                    && super::StrRef(*x).eq_bytes(super::StrRef(*y)))
        }
        _ => false,
    }
}

/// Ordering for `< <= > >=`: two numbers or two strings; `None` when the
/// numbers are unordered (NaN).
pub fn order(a: &Value, b: &Value) -> Result<Option<Ordering>, OpError> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Int(i), Value::Float(f)) => cmp_int_float(*i, *f),
        (Value::Float(f), Value::Int(i)) => cmp_int_float(*i, *f).map(Ordering::reverse),
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => Some(x.bytes().cmp(y.bytes())),
            _ => return Err(OpError::Compare(a.type_name(), b.type_name())),
        },
    })
}

/// Evaluates a comparison operator.
pub fn compare(op: BinOp, a: &Value, b: &Value) -> Result<bool, OpError> {
    Ok(match op {
        BinOp::Eq => equal(a, b),
        BinOp::Ne => !equal(a, b),
        _ => {
            let o = order(a, b)?;
            match (op, o) {
                (_, None) => false,
                (BinOp::Lt, Some(o)) => o == Ordering::Less,
                (BinOp::Le, Some(o)) => o != Ordering::Greater,
                (BinOp::Gt, Some(o)) => o == Ordering::Greater,
                (BinOp::Ge, Some(o)) => o != Ordering::Less,
                _ => false,
            }
        }
    })
}

#[inline]
pub fn int_floor_div(a: i64, b: i64) -> Result<i64, OpError> {
    if b == 0 {
        return Err(OpError::DivZero);
    }
    let q = a.checked_div(b).ok_or(OpError::Overflow)?;
    Ok(if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    })
}

#[inline]
pub fn int_floor_mod(a: i64, b: i64) -> Result<i64, OpError> {
    if b == 0 {
        return Err(OpError::DivZero);
    }
    let r = a.checked_rem(b).unwrap_or(0);
    Ok(if r != 0 && ((r < 0) != (b < 0)) {
        r + b
    } else {
        r
    })
}

fn float_mod(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
        r + b
    } else {
        r
    }
}

/// Evaluates an arithmetic or bitwise operator on two immediate values.
/// `+` on strings or lists is the caller's business (it allocates); here it
/// is an unsupported-operand error.
pub fn arith(op: BinOp, a: &Value, b: &Value) -> Result<Value, OpError> {
    use BinOp::*;
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => int_op(op, *x, *y),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            let x = as_f64(a);
            let y = as_f64(b);
            Ok(Value::Float(match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                Mod => float_mod(x, y),
                _ => return Err(unsupported(op, a, b)),
            }))
        }
        _ => Err(unsupported(op, a, b)),
    }
}

#[inline]
fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// An operator on two ints.
#[inline]
pub fn int_op(op: BinOp, x: i64, y: i64) -> Result<Value, OpError> {
    use BinOp::*;
    Ok(Value::Int(match op {
        Add => x.checked_add(y).ok_or(OpError::Overflow)?,
        Sub => x.checked_sub(y).ok_or(OpError::Overflow)?,
        Mul => x.checked_mul(y).ok_or(OpError::Overflow)?,
        Div => int_floor_div(x, y)?,
        Mod => int_floor_mod(x, y)?,
        BitAnd => x & y,
        BitOr => x | y,
        BitXor => x ^ y,
        Shl | Shr => {
            if !(0..64).contains(&y) {
                return Err(OpError::ShiftRange);
            }
            if op == Shl {
                ((x as u64) << y) as i64
            } else {
                x >> y
            }
        }
        _ => return Err(OpError::Unsupported(op.symbol(), "int", "int")),
    }))
}

/// `-v`
pub fn neg(v: &Value) -> Result<Value, OpError> {
    match v {
        Value::Int(i) => i.checked_neg().map(Value::Int).ok_or(OpError::Overflow),
        Value::Float(f) => Ok(Value::Float(-f)),
        _ => Err(OpError::UnsupportedUnary("-", v.type_name())),
    }
}

/// `~v`
pub fn bit_not(v: &Value) -> Result<Value, OpError> {
    match v {
        Value::Int(i) => Ok(Value::Int(!i)),
        _ => Err(OpError::UnsupportedUnary("~", v.type_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_division_and_modulo_follow_the_divisor() {
        assert_eq!(int_floor_div(7, 2), Ok(3));
        assert_eq!(int_floor_div(-7, 2), Ok(-4));
        assert_eq!(int_floor_mod(-7, 3), Ok(2));
        assert_eq!(int_floor_mod(7, -3), Ok(-2));
        assert_eq!(int_floor_div(1, 0), Err(OpError::DivZero));
        assert_eq!(int_floor_div(i64::MIN, -1), Err(OpError::Overflow));
        assert_eq!(int_floor_mod(i64::MIN, -1), Ok(0));
    }

    #[test]
    fn int_float_comparison_is_exact() {
        assert_eq!(cmp_int_float(1, 1.0), Some(Ordering::Equal));
        assert_eq!(
            cmp_int_float(i64::MAX, 9.223_372_036_854_776e18),
            Some(Ordering::Less)
        );
        assert_eq!(cmp_int_float(2, 2.5), Some(Ordering::Less));
        assert_eq!(cmp_int_float(-2, -2.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(0, f64::NAN), None);
    }

    #[test]
    fn shifts_work_on_the_bit_pattern() {
        assert!(matches!(
            int_op(BinOp::Shl, 1, 63),
            Ok(Value::Int(i64::MIN))
        ));
        assert!(matches!(int_op(BinOp::Shr, -8, 1), Ok(Value::Int(-4))));
        assert_eq!(int_op(BinOp::Shl, 1, 64).err(), Some(OpError::ShiftRange));
        assert_eq!(int_op(BinOp::Shl, 1, -1).err(), Some(OpError::ShiftRange));
    }

    #[test]
    fn mixed_arithmetic_yields_floats() {
        assert!(
            matches!(arith(BinOp::Add, &Value::Int(1), &Value::Float(0.5)), Ok(Value::Float(f)) if f == 1.5)
        );
        assert!(
            matches!(arith(BinOp::Div, &Value::Float(1.0), &Value::Int(0)), Ok(Value::Float(f)) if f.is_infinite())
        );
        assert_eq!(
            arith(BinOp::Add, &Value::Int(1), &Value::Nil).err(),
            Some(OpError::Unsupported("+", "int", "nil"))
        );
    }
}
