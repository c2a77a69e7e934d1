//! Emitting expressions: literals, names, collections, calls, operators
//! (with their superinstructions).

use super::*;
use crate::bytecode::builtins::Builtin;

impl Emitter<'_> {
    // --- expressions -------------------------------------------------------

    pub(super) fn expr(&mut self, e: &Expr) {
        self.cur().span = e.span;
        match &e.kind {
            ExprKind::Nil => {
                self.op(Op::Nil, 0, 1);
            }
            ExprKind::Bool(b) => {
                self.op(if *b { Op::True } else { Op::False }, 0, 1);
            }
            ExprKind::Int(i) => self.int(*i),
            ExprKind::Float(f) => self.push_const(Value::Float(*f)),
            ExprKind::Str(s) => {
                let v = self.string(s, e.span);
                self.push_const(v);
            }
            ExprKind::Name(id) => self.load(id),
            ExprKind::List(xs) => {
                xs.iter().for_each(|x| self.expr(x));
                self.cur().span = e.span;
                let n = xs.len() as u32;
                self.op(Op::List, n, 1 - n as i32);
            }
            ExprKind::Map(kv) => {
                for (k, v) in kv {
                    self.expr(k);
                    self.expr(v);
                }
                self.cur().span = e.span;
                let n = kv.len() as u32;
                self.op(Op::Map, n, 1 - 2 * n as i32);
            }
            ExprKind::Fn(f) => {
                self.function(f);
            }
            ExprKind::Call { callee, args } => self.call(e, callee, args),
            ExprKind::Index { obj, index }
                if self.plain_local(obj).is_some()
                    && matches!(index.kind, ExprKind::Int(i) if (0..=u16::MAX as i64).contains(&i)) =>
            {
                let slot = self.plain_local(obj).unwrap_or(0);
                let i = if let ExprKind::Int(i) = index.kind {
                    i as u16
                } else {
                    0
                };
                self.cur().span = e.span;
                self.word(enc_ab(Op::LocalIndexI, slot, i));
                self.adjust(1);
            }
            ExprKind::Field { obj, name } if self.plain_local(obj).is_some() => {
                let slot = self.plain_local(obj).unwrap_or(0);
                let k = self.string(&name.name, name.span);
                let k = self.konst(k);
                self.cur().span = e.span;
                match u16::try_from(k) {
                    Ok(k) => {
                        self.word(enc_ab(Op::GetLocalField, slot, k));
                        self.adjust(1);
                    }
                    Err(_) => {
                        self.op(Op::GetLocal, slot as u32, 1);
                        self.op(Op::GetField, k, 0);
                    }
                }
            }
            ExprKind::Index { obj, index } => {
                self.expr(obj);
                match index.kind {
                    ExprKind::Int(i) if (0..=MAX_X as i64).contains(&i) => {
                        self.cur().span = e.span;
                        self.op(Op::IndexI, i as u32, 0);
                    }
                    _ => {
                        self.expr(index);
                        self.cur().span = e.span;
                        self.op(Op::Index, 0, -1);
                    }
                }
            }
            ExprKind::Field { obj, name } => {
                self.expr(obj);
                let k = self.string(&name.name, name.span);
                let k = self.konst(k);
                self.cur().span = e.span;
                self.op(Op::GetField, k, 0);
            }
            ExprKind::Method { obj, name, args } => {
                // [x] -> [f, x], the arguments, then a call with x first.
                let local = self.plain_local(obj);
                if local.is_none() {
                    self.expr(obj);
                }
                let k = self.string(&name.name, name.span);
                let k = self.konst(k);
                self.cur().span = e.span;
                match (local, u16::try_from(k)) {
                    (Some(slot), Ok(k)) => {
                        self.word(enc_ab(Op::LocalMethod, slot, k));
                        self.adjust(2);
                    }
                    (Some(slot), Err(_)) => {
                        self.op(Op::GetLocal, slot as u32, 1);
                        self.op(Op::Method, k, 1);
                    }
                    (None, _) => {
                        self.op(Op::Method, k, 1);
                    }
                }
                args.iter().for_each(|a| self.expr(a));
                self.cur().span = e.span;
                let n = args.len() as u32 + 1;
                self.op(Op::Call, n, -(n as i32));
            }
            ExprKind::Unary { op, expr } => match (op, &expr.kind) {
                (UnOp::Neg, ExprKind::Int(i)) if *i != i64::MIN => self.int(-i),
                (UnOp::Neg, ExprKind::Float(f)) => self.push_const(Value::Float(-f)),
                _ => {
                    self.expr(expr);
                    self.cur().span = e.span;
                    let o = match op {
                        UnOp::Neg => Op::Neg,
                        UnOp::BitNot => Op::BitNot,
                        UnOp::Not => Op::Not,
                    };
                    self.op(o, 0, 0);
                }
            },
            ExprKind::Binary { op, lhs, rhs } => self.binary(e, *op, lhs, rhs),
            ExprKind::And(l, r) | ExprKind::Or(l, r) => {
                self.expr(l);
                self.cur().span = e.span;
                let o = if matches!(e.kind, ExprKind::And(..)) {
                    Op::AndJump
                } else {
                    Op::OrJump
                };
                let j = self.op_s(o, 0, -1);
                self.expr(r);
                self.patch(j);
            }
        }
    }

    pub(super) fn int(&mut self, i: i64) {
        if (MIN_SX as i64..=MAX_SX as i64).contains(&i) {
            self.op_s(Op::Int, i as i32, 1);
        } else {
            self.push_const(Value::Int(i));
        }
    }

    pub(super) fn binary(&mut self, e: &Expr, op: BinOp, lhs: &Expr, rhs: &Expr) {
        if let (BinOp::Add | BinOp::Sub, Some((slot, k))) = (op, self.local_imm(lhs, rhs))
            && let Some(k) = if op == BinOp::Sub {
                k.checked_neg()
            } else {
                Some(k)
            }
        {
            self.cur().span = e.span;
            self.word(enc_ab(Op::LocalAddI, slot, k as u16));
            self.adjust(1);
            return;
        }
        if let (Some(p), Some(q)) = (self.plain_local(lhs), self.plain_local(rhs)) {
            self.cur().span = e.span;
            self.word(enc_ab(Op::GetLocal2, p, q as u16));
            self.adjust(2);
            self.arith_op(e, op);
            return;
        }
        self.expr(lhs);
        if let (BinOp::Add | BinOp::Sub, ExprKind::Int(k)) = (op, &rhs.kind) {
            let k = if op == BinOp::Sub {
                k.checked_neg()
            } else {
                Some(*k)
            };
            if let Some(k) = k.filter(|k| (MIN_SX as i64..=MAX_SX as i64).contains(k)) {
                self.cur().span = e.span;
                self.op_s(Op::AddI, k as i32, 0);
                return;
            }
        }
        self.expr(rhs);
        self.arith_op(e, op);
    }

    pub(super) fn arith_op(&mut self, e: &Expr, op: BinOp) {
        self.arith_op_at(e.span, op)
    }

    /// The instruction of `op`, its errors reported at `span`.
    pub(super) fn arith_op_at(&mut self, span: Span, op: BinOp) {
        self.cur().span = span;
        let o = match op {
            BinOp::Add => Op::Add,
            BinOp::Sub => Op::Sub,
            BinOp::Mul => Op::Mul,
            BinOp::Div => Op::Div,
            BinOp::Mod => Op::Mod,
            BinOp::Eq => Op::Eq,
            BinOp::Ne => Op::Ne,
            BinOp::Lt => Op::Lt,
            BinOp::Le => Op::Le,
            BinOp::Gt => Op::Gt,
            BinOp::Ge => Op::Ge,
            BinOp::BitAnd => Op::BitAnd,
            BinOp::BitOr => Op::BitOr,
            BinOp::BitXor => Op::BitXor,
            BinOp::Shl => Op::Shl,
            BinOp::Shr => Op::Shr,
        };
        self.op(o, 0, -1);
    }

    pub(super) fn call(&mut self, e: &Expr, callee: &Expr, args: &[Expr]) {
        let native = match &callee.kind {
            ExprKind::Name(id) => match self.res.uses.get(&id.span.start) {
                Some(Res::Builtin(b)) if args.len() <= u8::MAX as usize => Some(*b),
                _ => None,
            },
            _ => None,
        };
        match native {
            // With a comparator, sort is the runtime's Loam merge sort (an ordinary call).
            Some(b) if b == Builtin::Sort as u16 && args.len() == 2 => {
                let f = self.program.sort_by.unwrap_or(Value::Nil);
                self.push_const(f);
                args.iter().for_each(|a| self.expr(a));
                self.cur().span = e.span;
                self.op(Op::Call, 2, -2);
            }
            Some(b) => {
                args.iter().for_each(|a| self.expr(a));
                self.cur().span = e.span;
                let n = args.len() as i32;
                self.word(enc_ab(Op::CallNative, args.len() as u8, b));
                self.adjust(1 - n);
            }
            None => {
                self.expr(callee);
                args.iter().for_each(|a| self.expr(a));
                self.cur().span = e.span;
                let n = args.len() as u32;
                self.op(Op::Call, n, -(n as i32));
            }
        }
    }
}
