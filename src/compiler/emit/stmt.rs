//! Emitting statements: blocks and their slots, control flow, loops,
//! assignment, and conditions compiled to fused compare-and-jump.

use super::*;

impl Emitter<'_> {
    // --- statements --------------------------------------------------------

    pub(super) fn stmt(&mut self, s: &Stmt) {
        self.cur().span = s.span;
        match &s.kind {
            StmtKind::Let { name, init } => {
                self.expr(init);
                match self.res.decl_at.get(&name.span.start).copied() {
                    // The value just pushed is the variable's slot.
                    Some(d) if self.cur().pushed_by_let.remove(&d) => {
                        if self.slot(d) != Some(self.cur().depth - 1) {
                            self.error("internal error: let slot out of place", name.span);
                        }
                    }
                    Some(d) => self.store(d),
                    None => self.error("internal error: unresolved let", name.span),
                }
            }
            StmtKind::Assign {
                target,
                op: None,
                value,
            } => self.assign(target, value),
            StmtKind::Assign {
                target,
                op: Some(op),
                value,
            } => self.compound_assign(target, *op, value),
            StmtKind::Expr(e) => {
                self.expr(e);
                self.cur().span = s.span;
                let echo = self.repl && self.fs.len() == 1;
                self.op(if echo { Op::Echo } else { Op::Pop }, 0, -1);
            }
            StmtKind::If { cond, then, els } => {
                let to_else = self.jump_if_false(cond);
                self.block(then, 0);
                match els {
                    None => self.land(to_else),
                    Some(e) => {
                        let to_end = self.op_s(Op::Jump, 0, 0);
                        self.land(to_else);
                        match e {
                            Else::Block(b) => self.block(b, 0),
                            Else::If(s) => self.stmt(s),
                        }
                        self.patch(to_end);
                    }
                }
            }
            StmtKind::While { cond, body } => {
                let top = self.here();
                let exits = self.jump_if_false(cond);
                let depth = self.cur().depth;
                self.cur().loops.push(Loop {
                    depth,
                    breaks: vec![],
                    continues: vec![],
                });
                self.block(body, 0);
                self.jump_back(Op::Jump, top, 0);
                let lp = self.cur().loops.pop();
                self.land(exits);
                if let Some(lp) = lp {
                    lp.breaks.into_iter().for_each(|j| self.patch(j));
                    lp.continues.into_iter().for_each(|j| self.patch_to(j, top));
                }
            }
            StmtKind::ForRange {
                start, end, body, ..
            } => self.for_range(start, end, body),
            StmtKind::ForIn { iter, body, .. } => self.for_in(iter, body),
            StmtKind::Break | StmtKind::Continue => {
                let brk = matches!(s.kind, StmtKind::Break);
                let Some(depth) = self.cur().loops.last().map(|l| l.depth) else {
                    return;
                };
                let n = self.cur().depth - depth;
                if n > 0 {
                    self.op(Op::PopN, n, 0);
                }
                let j = self.op_s(Op::Jump, 0, 0);
                if let Some(l) = self.cur().loops.last_mut() {
                    if brk {
                        l.breaks.push(j)
                    } else {
                        l.continues.push(j)
                    }
                }
            }
            StmtKind::Return(e) => match e {
                Some(e) if self.plain_local(e).is_some() => {
                    let slot = self.plain_local(e).unwrap_or(0);
                    self.op(Op::ReturnLocal, slot as u32, 0);
                }
                Some(e) => {
                    self.expr(e);
                    self.cur().span = s.span;
                    self.op(Op::Return, 0, -1);
                }
                None => {
                    self.op(Op::ReturnNil, 0, 0);
                }
            },
            StmtKind::Fn(_) | StmtKind::Static { .. } => {}
            StmtKind::Import { name, .. } => {
                // The cached map, or the module's top level called (once per program).
                let Some(&m) = self.imports.get(&s.span.start) else {
                    self.error("internal error: an import without its module", s.span);
                    return;
                };
                let get = self.op(Op::ModuleGet, m, 1);
                self.word(0);
                self.op(Op::Call, 0, 0);
                let here = self.here();
                self.patch_extra(get, here);
                match self.res.decl_at.get(&name.span.start).copied() {
                    Some(d) => self.store(d),
                    None => self.error("internal error: unresolved import", name.span),
                }
            }
        }
    }

    pub(super) fn assign(&mut self, target: &Expr, value: &Expr) {
        match &target.kind {
            ExprKind::Name(id) => {
                self.expr(value);
                match self.res.uses.get(&id.span.start).copied() {
                    Some(Res::Decl(d)) => self.store(d),
                    _ => self.error(format!("cannot assign to '{}'", id.name), id.span),
                }
            }
            ExprKind::Index { obj, index } => {
                self.expr(obj);
                self.expr(index);
                self.expr(value);
                self.cur().span = target.span;
                self.op(Op::SetIndex, 0, -3);
            }
            ExprKind::Field { obj, name } if self.plain_local(obj).is_some() => {
                let slot = self.plain_local(obj).unwrap_or(0);
                let k = self.string(&name.name, name.span);
                let k = self.konst(k);
                match u16::try_from(k) {
                    Ok(k16) => {
                        self.expr(value);
                        self.cur().span = target.span;
                        self.word(enc_ab(Op::SetLocalField, slot, k16));
                        self.adjust(-1);
                    }
                    Err(_) => {
                        self.op(Op::GetLocal, slot as u32, 1);
                        self.expr(value);
                        self.cur().span = target.span;
                        self.op(Op::SetField, k, -2);
                    }
                }
            }
            ExprKind::Field { obj, name } => {
                self.expr(obj);
                self.expr(value);
                let k = self.string(&name.name, name.span);
                let k = self.konst(k);
                self.cur().span = target.span;
                self.op(Op::SetField, k, -2);
            }
            _ => self.error("invalid assignment target", target.span),
        }
    }

    /// `target op= value;`: the target's object and index are evaluated once
    /// and kept in stack slots, read through them, then stored into.
    pub(super) fn compound_assign(&mut self, target: &Expr, op: BinOp, value: &Expr) {
        let whole = |e: &mut Self| e.cur().span = target.span;
        match &target.kind {
            ExprKind::Name(_) => {
                // A name has no parts to evaluate twice: `x = x op value`,
                // with the fast forms that has (`x += 1` is one instruction).
                let sum = Expr::node(
                    ExprKind::Binary {
                        op,
                        lhs: Box::new(target.clone()),
                        rhs: Box::new(value.clone()),
                    },
                    target.span.to(value.span),
                );
                self.assign(target, &sum);
            }
            ExprKind::Index { obj, index } => {
                self.expr(obj);
                self.expr(index);
                let (a, b) = (self.cur().depth - 2, self.cur().depth - 1);
                self.op(Op::GetLocal, a, 1);
                self.op(Op::GetLocal, b, 1);
                whole(self);
                self.op(Op::Index, 0, -1);
                self.expr(value);
                self.arith_op_at(target.span.to(value.span), op);
                whole(self);
                self.op(Op::SetIndex, 0, -3);
            }
            ExprKind::Field { obj, name } => {
                self.expr(obj);
                let a = self.cur().depth - 1;
                let k = self.string(&name.name, name.span);
                let k = self.konst(k);
                self.op(Op::GetLocal, a, 1);
                whole(self);
                self.op(Op::GetField, k, 0);
                self.expr(value);
                self.arith_op_at(target.span.to(value.span), op);
                whole(self);
                self.op(Op::SetField, k, -2);
            }
            _ => self.error("invalid assignment target", target.span),
        }
    }

    pub(super) fn for_range(&mut self, start: &Expr, end: &Expr, body: &Block) {
        self.expr(start);
        self.expr(end);
        let c = self.cur().depth - 2;
        self.cur().span = start.span.to(end.span);
        let prep = self.op(Op::ForPrep, c, 0);
        self.word(0);
        let top = self.here();
        self.op(Op::GetLocal, c, 1);
        let depth = self.cur().depth - 1;
        self.cur().loops.push(Loop {
            depth,
            breaks: vec![],
            continues: vec![],
        });
        self.block(body, 1);
        let lp = self.cur().loops.pop();
        let cont = self.here();
        let next = self.op(Op::ForLoop, c, 0);
        self.word(0);
        self.patch_extra(next, top);
        let exit = self.here();
        self.patch_extra(prep, exit);
        if let Some(lp) = lp {
            lp.breaks.into_iter().for_each(|j| self.patch_to(j, exit));
            lp.continues
                .into_iter()
                .for_each(|j| self.patch_to(j, cont));
        }
        self.op(Op::PopN, 2, -2);
    }

    pub(super) fn for_in(&mut self, iter: &Expr, body: &Block) {
        self.expr(iter);
        let c = self.cur().depth - 1;
        self.cur().span = iter.span;
        self.op(Op::ForInPrep, c, 0);
        self.op_s(Op::Int, 0, 1);
        let top = self.here();
        let next = self.op(Op::ForInNext, c, 1);
        self.word(0);
        let depth = self.cur().depth - 1;
        self.cur().loops.push(Loop {
            depth,
            breaks: vec![],
            continues: vec![],
        });
        self.block(body, 1);
        let lp = self.cur().loops.pop();
        self.jump_back(Op::Jump, top, 0);
        let exit = self.here();
        self.patch_extra(next, exit);
        if let Some(lp) = lp {
            lp.breaks.into_iter().for_each(|j| self.patch_to(j, exit));
            lp.continues.into_iter().for_each(|j| self.patch_to(j, top));
        }
        self.op(Op::PopN, 2, -2);
    }

    /// Emits a test of `e` that jumps when it is false; returns the jumps to patch.
    pub(super) fn jump_if_false(&mut self, e: &Expr) -> Vec<Patch> {
        match &e.kind {
            ExprKind::Binary { op, lhs, rhs }
                if op.is_comparison() && self.local_imm(lhs, rhs).is_some() =>
            {
                let (slot, k) = self.local_imm(lhs, rhs).unwrap_or((0, 0));
                self.cur().span = e.span;
                let j = match op {
                    BinOp::Lt => Op::JLtLI,
                    BinOp::Le => Op::JLeLI,
                    BinOp::Gt => Op::JGtLI,
                    BinOp::Ge => Op::JGeLI,
                    BinOp::Eq => Op::JEqLI,
                    _ => Op::JNeLI,
                };
                let at = self.word(enc_ab(j, slot, k as u16));
                self.word(0);
                vec![Patch::Extra(at)]
            }
            ExprKind::Binary { op, lhs, rhs }
                if matches!(op, BinOp::Eq | BinOp::Ne)
                    && matches!(rhs.kind, ExprKind::Nil)
                    && self.plain_local(lhs).is_some() =>
            {
                let slot = self.plain_local(lhs).unwrap_or(0);
                self.cur().span = e.span;
                let j = if *op == BinOp::Eq {
                    Op::JEqNilL
                } else {
                    Op::JNeNilL
                };
                let at = self.word(enc_ab(j, slot, 0));
                self.word(0);
                vec![Patch::Extra(at)]
            }
            ExprKind::Binary { op, lhs, rhs } if op.is_comparison() => {
                self.expr(lhs);
                self.expr(rhs);
                self.cur().span = e.span;
                let j = match op {
                    BinOp::Lt => Op::JLt,
                    BinOp::Le => Op::JLe,
                    BinOp::Gt => Op::JGt,
                    BinOp::Ge => Op::JGe,
                    BinOp::Eq => Op::JEq,
                    _ => Op::JNe,
                };
                vec![Patch::Short(self.op_s(j, 0, -2))]
            }
            ExprKind::And(l, r) => {
                let mut js = self.jump_if_false(l);
                js.extend(self.jump_if_false(r));
                js
            }
            ExprKind::Bool(true) => vec![],
            _ => {
                self.expr(e);
                vec![Patch::Short(self.op_s(Op::JumpIfFalse, 0, -1))]
            }
        }
    }
}
