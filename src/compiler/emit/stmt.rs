//! Emitting statements: control flow, loops (their test at the bottom),
//! assignment, and conditions compiled to fused compare-and-jump.

use super::*;

impl Emitter<'_> {
    // --- statements --------------------------------------------------------

    pub(super) fn stmt(&mut self, s: &Stmt) {
        self.cur().span = s.span;
        let mark = self.freereg();
        match &s.kind {
            StmtKind::Let { name, init } => match self.res.decl_at.get(&name.span.start).copied() {
                Some(d) => {
                    self.assign_decl(d, init);
                    self.live_from_here(d);
                }
                None => self.error("internal error: unresolved let", name.span),
            },
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
                if self.repl && self.fs.len() == 1 {
                    let r = self.expr_any(e);
                    self.cur().span = s.span;
                    self.emit_abc(Op::Echo, r as u32, 0, 0);
                } else if matches!(e.kind, ExprKind::Call { .. } | ExprKind::Method { .. }) {
                    let t = self.temp();
                    self.call_expr(e, t, true);
                } else {
                    let r = self.expr_any(e);
                    if self.is_temp(r) {
                        // Nothing keeps the value (rc releases it now).
                        self.emit_abc(Op::LoadNil, r as u32, 1, 0);
                    }
                }
            }
            StmtKind::If { cond, then, els } => {
                let to_else = self.jump_if(cond, false);
                self.block(then);
                match els {
                    None => self.land(to_else),
                    Some(e) => {
                        let to_end = self.emit_j(Op::Jmp, 0, 0);
                        self.land(to_else);
                        match e {
                            Else::Block(b) => self.block(b),
                            Else::If(s) => self.stmt(s),
                        }
                        self.land(vec![to_end]);
                    }
                }
            }
            StmtKind::While { cond, body } => {
                // jump to the test; body; test: jump back to the body if it holds.
                let start = self.cur().nactive;
                let to_test = self.emit_j(Op::Jmp, 0, 0);
                let top = self.here();
                self.cur().loops.push(Loop {
                    continues: vec![],
                    breaks: vec![],
                });
                self.block(body);
                let lp = self.cur().loops.pop();
                let test = self.here();
                self.patch_to(to_test, test);
                self.cur().span = cond.span;
                for j in self.jump_if(cond, true) {
                    self.patch_to(j, top);
                }
                let need = self.block_need(body.span.start, &body.stmts);
                self.end_loop(lp, test, start, 0, need);
            }
            StmtKind::ForRange {
                start, end, body, ..
            } => self.for_range(start, end, body),
            StmtKind::ForIn { iter, body, .. } => self.for_in(iter, body),
            StmtKind::Break | StmtKind::Continue => {
                let brk = matches!(s.kind, StmtKind::Break);
                let j = self.emit_j(Op::Jmp, 0, 0);
                match self.cur().loops.last_mut() {
                    Some(l) if brk => l.breaks.push(j),
                    Some(l) => l.continues.push(j),
                    None => {}
                }
            }
            StmtKind::Return(e) => match e {
                Some(e) if let Some(k) = self.literal_const(e) => {
                    self.cur().span = s.span;
                    self.emit_bx(Op::ReturnK, 0, k);
                }
                Some(Expr {
                    kind: ExprKind::Nil,
                    ..
                })
                | None => {
                    self.cur().span = s.span;
                    self.emit_abc(Op::ReturnNil, 0, 0, 0);
                }
                Some(e) => {
                    let r = self.expr_any(e);
                    self.cur().span = s.span;
                    self.emit_abc(Op::Return, r as u32, 0, 0);
                }
            },
            StmtKind::Fn(_) | StmtKind::Static { .. } => {}
            StmtKind::Import { name, .. } => {
                // The cached map, or the module's top level called (once per program).
                let Some(&m) = self.imports.get(&s.span.start) else {
                    self.error("internal error: an import without its module", s.span);
                    return;
                };
                let t = self.temp();
                let get = self.emit_j(Op::ModuleGet, t as u32, m);
                self.emit_abc(Op::Call, t as u32, 0, 0);
                self.land(vec![get]);
                match self.res.decl_at.get(&name.span.start).copied() {
                    Some(d) => {
                        self.store(d, t);
                        self.live_from_here(d);
                    }
                    None => self.error("internal error: unresolved import", name.span),
                }
            }
        }
        self.free_to(mark);
    }

    /// After a loop that uses the registers `start..start + need`:
    /// `continue`s go to `cont`, `break`s here. The loop then clears its
    /// registers from `start + keep` (its hidden counters, its variable, its
    /// body's variables and those of every block and loop inside: see
    /// `leave_block`). An inner loop clears them too, once each time it
    /// ends: under rc the last iteration's values are released there, not
    /// only when the outermost loop ends (binary_trees kept its last tree of
    /// each depth alive through the next depth's loop).
    fn end_loop(&mut self, lp: Option<Loop>, cont: usize, start: u32, keep: u32, need: u32) {
        if let Some(lp) = lp {
            for j in lp.continues {
                self.patch_to(j, cont);
            }
            self.land(lp.breaks);
        }
        if need > keep {
            self.emit_abc(Op::LoadNil, start + keep, need - keep, 0);
        }
        self.cur().nactive = start;
    }

    pub(super) fn assign(&mut self, target: &Expr, value: &Expr) {
        match &target.kind {
            ExprKind::Name(id) => match self.res.uses.get(&id.span.start).copied() {
                Some(Res::Decl(d)) => self.assign_decl(d, value),
                _ => self.error(format!("cannot assign to '{}'", id.name), id.span),
            },
            ExprKind::Index { obj, index } => {
                let o = self.expr_any(obj);
                let i = self.expr_any(index);
                match self.const_operand(value) {
                    Some(k) => {
                        self.cur().span = target.span;
                        self.emit_abc(Op::SetIndexK, o as u32, i as u32, k);
                    }
                    None => {
                        let v = self.expr_any(value);
                        self.cur().span = target.span;
                        self.emit_abc(Op::SetIndex, o as u32, i as u32, v as u32);
                    }
                }
            }
            ExprKind::Field { obj, name } => {
                let o = self.expr_any(obj);
                let key = self.string(&name.name, name.span);
                let k = self.konst16(key);
                match self.const_operand(value) {
                    Some(kv) => {
                        self.cur().span = target.span;
                        self.emit_abc(Op::SetFieldK, o as u32, k, kv);
                    }
                    None => {
                        let v = self.expr_any(value);
                        self.cur().span = target.span;
                        self.emit_abc(Op::SetField, o as u32, k, v as u32);
                    }
                }
            }
            _ => self.error("invalid assignment target", target.span),
        }
    }

    /// A literal's constant number, for the instructions that store one.
    pub(super) fn const_operand(&mut self, e: &Expr) -> Option<u32> {
        let v = match &e.kind {
            ExprKind::Nil => Value::Nil,
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Str(s) => self.string(s, e.span),
            _ => return None,
        };
        let k = self.konst(v);
        (k <= MAX_R).then_some(k)
    }

    /// Evaluates `e` into a register that reading does not take: a plain
    /// local's own, else the scratch variable register `scratch` (cleared by
    /// the caller afterwards).
    fn kept(&mut self, e: &Expr, scratch: u32) -> Reg {
        match self.plain_local(e) {
            Some(r) => r,
            None => {
                self.expr_to(e, scratch as Reg);
                scratch as Reg
            }
        }
    }

    /// `target op= value;`: the target's object and index are evaluated once
    /// and kept in registers, read through them, then stored into.
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
                // Two scratch registers above the variables in scope (`stmt_need`).
                let s = self.cur().nactive;
                let begin = self.here();
                let o = self.kept(obj, s);
                let i = self.kept(index, s + 1);
                let t = self.temp();
                whole(self);
                self.emit_abc(Op::GetIndex, t as u32, o as u32, i as u32);
                let v = self.expr_any(value);
                self.arith_at(target.span.to(value.span), op, t, t, v);
                whole(self);
                self.emit_abc(Op::SetIndex, o as u32, i as u32, t as u32);
                self.live_range(s, 2, begin);
                self.clear_scratch(s, [o, i]);
            }
            ExprKind::Field { obj, name } => {
                let s = self.cur().nactive;
                let begin = self.here();
                let o = self.kept(obj, s);
                let key = self.string(&name.name, name.span);
                let k = self.konst16(key);
                let t = self.temp();
                whole(self);
                self.emit_abc(Op::GetField, t as u32, o as u32, k);
                let v = self.expr_any(value);
                self.arith_at(target.span.to(value.span), op, t, t, v);
                whole(self);
                self.emit_abc(Op::SetField, o as u32, k, t as u32);
                self.live_range(s, 1, begin);
                self.clear_scratch(s, [o, o]);
            }
            _ => self.error("invalid assignment target", target.span),
        }
    }

    /// Clears the scratch registers `s`, `s + 1` that `used` name.
    fn clear_scratch(&mut self, s: u32, used: [Reg; 2]) {
        if !self.cur().loops.is_empty() {
            return; // the loop clears them when it ends
        }
        let first = used.iter().any(|&r| r as u32 == s);
        let second = used.iter().any(|&r| r as u32 == s + 1);
        match (first, second) {
            (true, true) => self.emit_abc(Op::LoadNil, s, 2, 0),
            (true, false) => self.emit_abc(Op::LoadNil, s, 1, 0),
            (false, true) => self.emit_abc(Op::LoadNil, s + 1, 1, 0),
            (false, false) => 0,
        };
    }

    pub(super) fn for_range(&mut self, start: &Expr, end: &Expr, body: &Block) {
        // R[c] counter, R[c+1] end, R[c+2] the loop variable.
        let c = self.cur().nactive;
        let begin = self.here();
        self.cur().nactive += 2;
        self.expr_to(start, c as Reg);
        self.expr_to(end, c as Reg + 1);
        self.cur().span = start.span.to(end.span);
        let prep = self.emit_j(Op::ForPrep, c, 0);
        let top = self.here();
        self.cur().nactive += 1;
        self.loop_body(body);
        let lp = self.cur().loops.pop();
        let cont = self.here();
        // (The counters are ints: the variable on is cleared.)
        let need = 2 + self.block_need(body.span.start, &body.stmts);
        let next = self.emit_j(Op::ForLoop, c, need.saturating_sub(3));
        self.patch_to(next, top);
        self.land(vec![prep]);
        // The counters and the variable, live over the whole loop.
        self.live_range(c, 3, begin);
        self.end_loop(lp, cont, c, 2, need);
    }

    pub(super) fn for_in(&mut self, iter: &Expr, body: &Block) {
        // R[c] the list iterated, R[c+1] the index, R[c+2] the loop variable.
        let c = self.cur().nactive;
        let begin = self.here();
        self.cur().nactive += 2;
        self.expr_to(iter, c as Reg);
        self.cur().span = iter.span;
        self.emit_abc(Op::ForInPrep, c, 0, 0);
        let to_next = self.emit_j(Op::Jmp, 0, 0);
        let top = self.here();
        self.cur().nactive += 1;
        self.loop_body(body);
        let lp = self.cur().loops.pop();
        let cont = self.here();
        self.patch_to(to_next, cont);
        self.cur().span = iter.span;
        let need = 2 + self.block_need(body.span.start, &body.stmts);
        let next = self.emit_j(Op::ForInNext, c, need.saturating_sub(3));
        self.patch_to(next, top);
        // The list, the index and the variable, live over the whole loop.
        self.live_range(c, 3, begin);
        self.end_loop(lp, cont, c, 0, need);
    }

    /// A `for` loop's body: its variable (already counted in `nactive`)
    /// is the block's first; the loop is pushed for `break`/`continue` and
    /// left on the stack for the caller to end.
    fn loop_body(&mut self, body: &Block) {
        self.cur().loops.push(Loop {
            continues: vec![],
            breaks: vec![],
        });
        let start = self.enter_block(body.span.start, &body.stmts, 1);
        for s in &body.stmts {
            self.stmt(s);
        }
        self.leave_block(start);
    }

    /// Emits a test of `e` that jumps when it is `when` (true or false);
    /// returns the jumps to patch.
    pub(super) fn jump_if(&mut self, e: &Expr, when: bool) -> Vec<Patch> {
        let mark = self.freereg();
        let r = self.jump_if_inner(e, when);
        self.free_to(mark);
        r
    }

    fn jump_if_inner(&mut self, e: &Expr, when: bool) -> Vec<Patch> {
        match &e.kind {
            ExprKind::Binary { op, lhs, rhs } if op.is_comparison() => {
                self.compare_jump(e, *op, lhs, rhs, when)
            }
            ExprKind::Unary {
                op: UnOp::Not,
                expr,
            } => self.jump_if(expr, !when),
            ExprKind::And(l, r) | ExprKind::Or(l, r) => {
                // `a and b` is false when either is; `a or b` true when either is.
                let is_and = matches!(e.kind, ExprKind::And(..));
                if is_and != when {
                    let mut js = self.jump_if(l, when);
                    js.extend(self.jump_if(r, when));
                    js
                } else {
                    let skip = self.jump_if(l, !when);
                    let js = self.jump_if(r, when);
                    self.land(skip);
                    js
                }
            }
            ExprKind::Bool(b) => {
                if *b == when {
                    vec![self.emit_j(Op::Jmp, 0, 0)]
                } else {
                    vec![]
                }
            }
            _ => {
                let r = self.expr_any(e);
                self.cur().span = e.span;
                let op = if when { Op::JTrue } else { Op::JFalse };
                vec![self.emit_j(op, r as u32, 0)]
            }
        }
    }

    /// `lhs op rhs` as a jump when it is `when`.
    fn compare_jump(
        &mut self,
        e: &Expr,
        op: BinOp,
        lhs: &Expr,
        rhs: &Expr,
        when: bool,
    ) -> Vec<Patch> {
        // `x == nil`, `x != nil`
        if matches!(op, BinOp::Eq | BinOp::Ne) && matches!(rhs.kind, ExprKind::Nil) {
            let r = self.expr_any(lhs);
            self.cur().span = e.span;
            let jump_if_nil = (op == BinOp::Eq) == when;
            let o = if jump_if_nil { Op::JNil } else { Op::JNotNil };
            return vec![self.emit_j(o, r as u32, 0)];
        }
        // against a small int
        if let ExprKind::Int(k) = rhs.kind
            && let Ok(k) = i16::try_from(k)
        {
            let r = self.expr_any(lhs);
            self.cur().span = e.span;
            let o = match (op, when) {
                (BinOp::Lt, true) => Op::JLtI,
                (BinOp::Le, true) => Op::JLeI,
                (BinOp::Gt, true) => Op::JGtI,
                (BinOp::Ge, true) => Op::JGeI,
                (BinOp::Lt, false) => Op::JNLtI,
                (BinOp::Le, false) => Op::JNLeI,
                (BinOp::Gt, false) => Op::JNGtI,
                (BinOp::Ge, false) => Op::JNGeI,
                (BinOp::Eq, true) | (BinOp::Ne, false) => Op::JEqI,
                _ => Op::JNeI,
            };
            return vec![self.emit_j(o, r as u32, k as u16 as u32)];
        }
        // an order against a constant (a float, a string, a large int)
        if matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
            && matches!(
                rhs.kind,
                ExprKind::Str(_) | ExprKind::Float(_) | ExprKind::Int(_)
            )
        {
            let r = self.expr_any(lhs);
            if let Some(k) = self.const_operand(rhs) {
                self.cur().span = e.span;
                let o = match (op, when) {
                    (BinOp::Lt, true) => Op::JLtK,
                    (BinOp::Le, true) => Op::JLeK,
                    (BinOp::Gt, true) => Op::JGtK,
                    (BinOp::Ge, true) => Op::JGeK,
                    (BinOp::Lt, false) => Op::JNLtK,
                    (BinOp::Le, false) => Op::JNLeK,
                    (BinOp::Gt, false) => Op::JNGtK,
                    _ => Op::JNGeK,
                };
                return vec![self.emit_j(o, r as u32, k)];
            }
            let q = self.expr_any(rhs);
            return vec![self.compare_regs(e, op, r, q, when)];
        }
        // equality with another constant (a string, a float, a large int)
        if matches!(op, BinOp::Eq | BinOp::Ne)
            && matches!(
                rhs.kind,
                ExprKind::Str(_) | ExprKind::Float(_) | ExprKind::Int(_) | ExprKind::Bool(_)
            )
        {
            let r = self.expr_any(lhs);
            if let Some(k) = self.const_operand(rhs) {
                self.cur().span = e.span;
                let o = if (op == BinOp::Eq) == when {
                    Op::JEqK
                } else {
                    Op::JNeK
                };
                return vec![self.emit_j(o, r as u32, k)];
            }
            let q = self.expr_any(rhs);
            return vec![self.compare_regs(e, op, r, q, when)];
        }
        let p = self.expr_any(lhs);
        let q = self.expr_any(rhs);
        vec![self.compare_regs(e, op, p, q, when)]
    }

    fn compare_regs(&mut self, e: &Expr, op: BinOp, p: Reg, q: Reg, when: bool) -> Patch {
        self.cur().span = e.span;
        let o = match (op, when) {
            (BinOp::Lt, true) => Op::JLt,
            (BinOp::Le, true) => Op::JLe,
            (BinOp::Gt, true) => Op::JGt,
            (BinOp::Ge, true) => Op::JGe,
            (BinOp::Lt, false) => Op::JNLt,
            (BinOp::Le, false) => Op::JNLe,
            (BinOp::Gt, false) => Op::JNGt,
            (BinOp::Ge, false) => Op::JNGe,
            (BinOp::Eq, true) | (BinOp::Ne, false) => Op::JEq,
            _ => Op::JNe,
        };
        self.emit_j(o, p as u32, q as u32)
    }
}
