//! Emitting expressions towards a destination register: literals, names,
//! collections, calls, operators (with their immediate and constant forms).

use super::*;
use crate::bytecode::builtins::Builtin;
use crate::bytecode::opcode::{FLAG_DISCARD, FLAG_KFIRST, with_flag};

impl Emitter<'_> {
    // --- expressions -------------------------------------------------------

    /// Evaluates `e` where it is: a plain local's own register, else a new
    /// temporary. The caller gives the temporaries back (`free_to`).
    pub(super) fn expr_any(&mut self, e: &Expr) -> Reg {
        if let Some(r) = self.plain_local(e) {
            return r;
        }
        let t = self.temp();
        self.expr_to(e, t);
        t
    }

    /// Evaluates `e` into register `dst`, which is written only by the last
    /// instruction (so `x = f(x) + x` reads the old `x` throughout), but for
    /// `and`/`or`, which go through a temporary when `dst` is a variable's.
    pub(super) fn expr_to(&mut self, e: &Expr, dst: Reg) {
        let mark = self.freereg();
        self.expr_to_inner(e, dst);
        self.free_to(mark);
    }

    fn expr_to_inner(&mut self, e: &Expr, dst: Reg) {
        self.cur().span = e.span;
        let d = dst as u32;
        match &e.kind {
            ExprKind::Nil => {
                self.emit_abc(Op::LoadNil, d, 1, 0);
            }
            ExprKind::Bool(b) => {
                self.emit_abc(if *b { Op::LoadTrue } else { Op::LoadFalse }, d, 0, 0);
            }
            ExprKind::Int(i) => self.int(*i, dst),
            ExprKind::Float(f) => self.load_const(Value::Float(*f), dst),
            ExprKind::Str(s) => {
                let v = self.string(s, e.span);
                self.load_const(v, dst);
            }
            ExprKind::Name(id) => self.load(id, dst),
            ExprKind::List(xs) => {
                let a = self.top_temp(dst);
                for (i, x) in xs.iter().enumerate() {
                    let r = if i == 0 { a } else { self.temp() };
                    self.expr_to(x, r);
                }
                self.cur().span = e.span;
                self.emit_abc(Op::List, a as u32, a as u32, xs.len() as u32);
                self.move_result(dst, a);
            }
            ExprKind::Map(kv) => {
                let a = self.top_temp(dst);
                for (i, (k, v)) in kv.iter().enumerate() {
                    let rk = if i == 0 { a } else { self.temp() };
                    self.expr_to(k, rk);
                    let rv = self.temp();
                    self.expr_to(v, rv);
                }
                self.cur().span = e.span;
                self.emit_abc(Op::Map, a as u32, a as u32, kv.len() as u32);
                self.move_result(dst, a);
            }
            ExprKind::Fn(f) => self.closure_to(f, dst),
            ExprKind::Call { .. } | ExprKind::Method { .. } => self.call_expr(e, dst, false),
            ExprKind::Index { obj, index } => {
                let o = self.expr_any(obj);
                match index.kind {
                    ExprKind::Int(i) if (0..=MAX_R as i64).contains(&i) => {
                        self.cur().span = e.span;
                        self.emit_abc(Op::GetIndexI, d, o as u32, i as u32);
                    }
                    _ => {
                        let i = self.expr_any(index);
                        self.cur().span = e.span;
                        self.emit_abc(Op::GetIndex, d, o as u32, i as u32);
                    }
                }
            }
            ExprKind::Field { obj, name } => {
                let o = self.expr_any(obj);
                let key = self.string(&name.name, name.span);
                let k = self.konst16(key);
                self.cur().span = e.span;
                self.emit_abc(Op::GetField, d, o as u32, k);
            }
            ExprKind::Unary { op, expr } => match (op, &expr.kind) {
                (UnOp::Neg, ExprKind::Int(i)) if *i != i64::MIN => self.int(-i, dst),
                (UnOp::Neg, ExprKind::Float(f)) => self.load_const(Value::Float(-f), dst),
                _ => {
                    let r = self.expr_any(expr);
                    self.cur().span = e.span;
                    let o = match op {
                        UnOp::Neg => Op::Neg,
                        UnOp::BitNot => Op::BitNot,
                        UnOp::Not => Op::Not,
                    };
                    self.emit_abc(o, d, r as u32, 0);
                }
            },
            ExprKind::Binary { op, lhs, rhs } => self.binary(e, *op, lhs, rhs, dst),
            ExprKind::And(l, r) | ExprKind::Or(l, r) => {
                if !self.is_temp(dst) {
                    // `x = y and x`: the test's value must not land in x early.
                    let t = self.temp();
                    self.expr_to(e, t);
                    self.emit_abc(Op::Move, d, t as u32, 0);
                    return;
                }
                self.expr_to(l, dst);
                self.cur().span = e.span;
                let o = if matches!(e.kind, ExprKind::And(..)) {
                    Op::JFalse
                } else {
                    Op::JTrue
                };
                let j = self.emit_j(o, d, 0);
                self.expr_to(r, dst);
                self.land(vec![j]);
            }
        }
    }

    /// Moves a result built in the temporary `a` into `dst` (if elsewhere).
    fn move_result(&mut self, dst: Reg, a: Reg) {
        if dst != a {
            self.emit_abc(Op::Move, dst as u32, a as u32, 0);
        }
    }

    pub(super) fn int(&mut self, i: i64, dst: Reg) {
        match i32::try_from(i) {
            Ok(i) => {
                self.emit_bx(Op::LoadInt, dst, i as u32);
            }
            Err(_) => self.load_const(Value::Int(i), dst),
        }
    }

    pub(super) fn binary(&mut self, e: &Expr, op: BinOp, lhs: &Expr, rhs: &Expr, dst: Reg) {
        let d = dst as u32;
        // x + k, x - k with a small int k
        if let (BinOp::Add | BinOp::Sub, ExprKind::Int(k)) = (op, &rhs.kind)
            && let Some(k) = if op == BinOp::Sub {
                k.checked_neg()
            } else {
                Some(*k)
            }
            && let Ok(k) = i16::try_from(k)
        {
            let r = self.expr_any(lhs);
            self.cur().span = e.span;
            self.emit_abc(Op::AddI, d, r as u32, k as u16 as u32);
            return;
        }
        // x op constant number
        let kop = match op {
            BinOp::Add => Some(Op::AddK),
            BinOp::Sub => Some(Op::SubK),
            BinOp::Mul => Some(Op::MulK),
            BinOp::Div => Some(Op::DivK),
            _ => None,
        };
        if let Some(kop) = kop
            && let ExprKind::Int(_) | ExprKind::Float(_) = rhs.kind
        {
            let r = self.expr_any(lhs);
            if let Some(k) = self.const_operand(rhs) {
                self.cur().span = e.span;
                self.emit_abc(kop, d, r as u32, k);
                return;
            }
            let q = self.expr_any(rhs);
            self.arith_at(e.span, op, dst, r, q);
            return;
        }
        // constant number op x
        if let Some(kop) = kop
            && let ExprKind::Int(_) | ExprKind::Float(_) = lhs.kind
            && let Some(k) = self.const_operand(lhs)
        {
            let r = self.expr_any(rhs);
            self.cur().span = e.span;
            let at = self.emit_abc(kop, d, r as u32, k);
            let f = self.cur();
            f.proto.code[at] = with_flag(f.proto.code[at], FLAG_KFIRST);
            return;
        }
        let p = self.expr_any(lhs);
        let q = self.expr_any(rhs);
        self.arith_at(e.span, op, dst, p, q);
    }

    /// `R[dst] := R[p] op R[q]`, its errors reported at `span`.
    pub(super) fn arith_at(&mut self, span: Span, op: BinOp, dst: Reg, p: Reg, q: Reg) {
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
        self.emit_abc(o, dst as u32, p as u32, q as u32);
    }

    /// A call or method call into `dst`; `discard`: an expression statement.
    pub(super) fn call_expr(&mut self, e: &Expr, dst: Reg, discard: bool) {
        let mark = self.freereg();
        let at = match &e.kind {
            ExprKind::Call { callee, args } => self.call(e, callee, args, dst),
            ExprKind::Method { obj, name, args } => {
                // R[a] := the method, R[a+1] := the receiver, then the arguments.
                let a = self.top_temp(dst);
                let recv = self.temp();
                let b = match self.plain_local(obj) {
                    Some(r) => r,
                    None => {
                        self.expr_to(obj, recv);
                        recv
                    }
                };
                let key = self.string(&name.name, name.span);
                let k = self.konst16(key);
                self.cur().span = e.span;
                self.emit_abc(Op::Method, a as u32, b as u32, k);
                for x in args {
                    let t = self.temp();
                    self.expr_to(x, t);
                }
                self.cur().span = e.span;
                let at = self.emit_abc(Op::Call, a as u32, args.len() as u32 + 1, 0);
                (at, a)
            }
            _ => return,
        };
        let (at, a) = at;
        if discard {
            let f = self.cur();
            f.proto.code[at] = with_flag(f.proto.code[at], FLAG_DISCARD);
        } else {
            self.move_result(dst, a);
        }
        self.free_to(mark);
    }

    /// Emits a call of `callee` with `args`; returns the call's word and
    /// the register its result lands in.
    fn call(&mut self, e: &Expr, callee: &Expr, args: &[Expr], dst: Reg) -> (usize, Reg) {
        let native = match &callee.kind {
            ExprKind::Name(id) => match self.res.uses.get(&id.span.start) {
                Some(Res::Builtin(b)) if args.len() <= u8::MAX as usize => Some(*b),
                _ => None,
            },
            _ => None,
        };
        let a = self.top_temp(dst);
        match native {
            // With a comparator, sort is the runtime's Loam merge sort (an ordinary call).
            Some(b) if b == Builtin::Sort as u16 && args.len() == 2 => {
                let f = self.program.sort_by.unwrap_or(Value::Nil);
                self.load_const(f, a);
                self.args(args);
                self.cur().span = e.span;
                (self.emit_abc(Op::Call, a as u32, 2, 0), a)
            }
            Some(b) => {
                for (i, x) in args.iter().enumerate() {
                    let r = if i == 0 { a } else { self.temp() };
                    self.expr_to(x, r);
                }
                self.cur().span = e.span;
                (
                    self.emit_abc(Op::CallNative, a as u32, args.len() as u32, b as u32),
                    a,
                )
            }
            None => {
                // A constant function of the right arity: one CallK, which
                // names the function and checks nothing.
                let k = self.const_callee(callee, args.len());
                if k.is_none() {
                    self.expr_to(callee, a);
                }
                self.args(args);
                self.cur().span = e.span;
                let at = match k {
                    Some(k) => self.emit_abc(Op::CallK, a as u32, args.len() as u32, k),
                    None => self.emit_abc(Op::Call, a as u32, args.len() as u32, 0),
                };
                (at, a)
            }
        }
    }

    /// Evaluates call arguments into consecutive new temporaries.
    fn args(&mut self, args: &[Expr]) {
        for x in args {
            let t = self.temp();
            self.expr_to(x, t);
        }
    }
}
