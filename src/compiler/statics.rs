//! Constant folding of `static` initializers into the static segment.
//!
//! A constant expression is built from literals, lists and maps of constant
//! expressions, earlier statics, and operators on those (section 7). The
//! operators are the VM's own (`value::ops`), so folding computes exactly what
//! running would; string and list `+` build new static objects.

use crate::diagnostics::Diagnostic;
use crate::heap::statics::StaticSegment;
use crate::syntax::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::value::list::{concat, new_list};
use crate::value::map::{is_key, new_map};
use crate::value::ops;
use crate::value::string::{new_str, new_str_parts};
use crate::value::{AllocError, Value};
use std::collections::HashMap;

pub const NOT_CONSTANT: &str = "static initializer must be a constant expression";

/// The statics defined so far, by name.
#[derive(Default)]
pub struct StaticFolder {
    env: HashMap<String, Value>,
}

fn alloc_err(e: AllocError, ex: &Expr) -> Diagnostic {
    Diagnostic::new(format!("static data too large: {e}"), ex.span)
}

impl StaticFolder {
    pub fn define(&mut self, name: &str, v: Value) {
        self.env.insert(name.to_string(), v);
    }

    /// Folds `e` to a static value.
    pub fn fold(&self, e: &Expr, seg: &mut StaticSegment) -> Result<Value, Diagnostic> {
        let not_const = || Diagnostic::new(NOT_CONSTANT, e.span);
        Ok(match &e.kind {
            ExprKind::Nil => Value::Nil,
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Str(s) => new_str(seg, s).map_err(|x| alloc_err(x, e))?,
            ExprKind::Name(id) => *self.env.get(&id.name).ok_or_else(not_const)?,
            ExprKind::List(xs) => {
                let items = xs
                    .iter()
                    .map(|x| self.fold(x, seg))
                    .collect::<Result<Vec<_>, _>>()?;
                new_list(seg, &items).map_err(|x| alloc_err(x, e))?
            }
            ExprKind::Map(kv) => {
                let mut pairs = Vec::with_capacity(kv.len());
                for (k, v) in kv {
                    let key = self.fold(k, seg)?;
                    if !is_key(&key) {
                        return Err(Diagnostic::new("invalid map key", k.span));
                    }
                    pairs.push((key, self.fold(v, seg)?));
                }
                new_map(seg, &pairs).map_err(|x| alloc_err(x, e))?
            }
            ExprKind::Unary { op, expr } => {
                let v = self.fold(expr, seg)?;
                let r = match op {
                    UnOp::Neg => ops::neg(&v),
                    UnOp::BitNot => ops::bit_not(&v),
                    UnOp::Not => Ok(Value::Bool(!v.truthy())),
                };
                r.map_err(|x| Diagnostic::new(x.to_string(), e.span))?
            }
            ExprKind::And(l, r) => {
                let a = self.fold(l, seg)?;
                if a.truthy() { self.fold(r, seg)? } else { a }
            }
            ExprKind::Or(l, r) => {
                let a = self.fold(l, seg)?;
                if a.truthy() { a } else { self.fold(r, seg)? }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.fold(lhs, seg)?, self.fold(rhs, seg)?);
                self.binary(*op, a, b, seg)
                    .map_err(|msg| Diagnostic::new(msg, e.span))?
            }
            ExprKind::Fn(_)
            | ExprKind::Call { .. }
            | ExprKind::Method { .. }
            | ExprKind::Index { .. }
            | ExprKind::Field { .. } => {
                return Err(not_const());
            }
        })
    }

    fn binary(
        &self,
        op: BinOp,
        a: Value,
        b: Value,
        seg: &mut StaticSegment,
    ) -> Result<Value, String> {
        if op == BinOp::Add {
            if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
                return new_str_parts(seg, &[x.as_str(), y.as_str()]).map_err(|e| e.to_string());
            }
            if let (Some(x), Some(y)) = (a.as_list(), b.as_list()) {
                return concat(seg, x, y).map_err(|e| e.to_string());
            }
        }
        if op.is_comparison() {
            return ops::compare(op, &a, &b)
                .map(Value::Bool)
                .map_err(|e| e.to_string());
        }
        ops::arith(op, &a, &b).map_err(|e| e.to_string())
    }
}
