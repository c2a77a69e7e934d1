//! Bytecode emission from a resolved tree.
//!
//! Each block's variables get fixed slots when the block is entered (its
//! `let`s start as nil, captured ones as fresh cells, hoisted `fn`s as
//! closures), and are popped when it is left; temporaries live above them.
//! The emitter tracks the stack depth exactly, so every function knows the
//! most stack it can need. Conditions compile to fused compare-and-jump
//! instructions where they can.

mod expr;
mod stmt;

use super::resolve::{DeclId, FuncId, Res, Resolution, TOP_BLOCK, TOP_FUNC};
use crate::bytecode::chunk::{CaptureFrom, Program, Proto};
use crate::bytecode::opcode::{MAX_SX, MAX_X, MIN_SX, Op, enc, enc_ab, enc_s};
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{BinOp, Block, Else, Expr, ExprKind, FnDecl, Ident, Stmt, StmtKind, UnOp};
use crate::syntax::span::Span;
use crate::value::Value;
use crate::value::func::new_closure;
use crate::value::string::new_str;
use std::collections::{HashMap, HashSet};

/// A forward jump waiting for its target.
enum Patch {
    /// A one-word jump (offset in the instruction).
    Short(usize),
    /// A two-word instruction (offset in the second word).
    Extra(usize),
}

struct Loop {
    /// Stack depth where the body's slots start (what `break`/`continue` pop to).
    depth: u32,
    breaks: Vec<usize>,
    continues: Vec<usize>,
}

struct FnState {
    func: FuncId,
    proto: Proto,
    depth: u32,
    max: u32,
    slots: HashMap<DeclId, u32>,
    loops: Vec<Loop>,
    span: Span,
    consts: HashMap<(u8, u64), u32>,
    /// Variables whose slot their `let` pushes (rather than a `Nils` at
    /// block entry): see `enter_block`.
    pushed_by_let: HashSet<DeclId>,
}

/// What the emitter produces for one module.
pub struct Emitted {
    /// The top level's function.
    pub main: u32,
    /// Top-level declarations: (decl, slot) for variables, values for constants.
    pub top_slots: Vec<(DeclId, u32)>,
    pub top_consts: Vec<(DeclId, Value)>,
}

/// How one compilation unit (a script, a REPL entry or a module) is emitted.
pub struct Unit<'u> {
    /// Which of the program's sources the unit's spans point into.
    pub source: u32,
    /// A REPL entry: ends with `Halt`, echoes expression statements.
    pub repl: bool,
    /// The top frame's slots already in use (REPL).
    pub first_slot: u32,
    /// Slots to reserve at the start of the top frame, after `first_slot`:
    /// the caches of the modules this compilation added (nil until each runs).
    pub reserve: u32,
    /// The module each `import` statement binds, by the statement's start offset.
    pub imports: &'u HashMap<u32, u32>,
    /// This unit is module number m: its last statement is the expression of
    /// its map, which it caches (`ModuleSet m`) and returns.
    pub module: Option<(u32, String)>,
    /// The runtime's own Loam code (`Proto::internal`).
    pub internal: bool,
}

pub struct Emitter<'a> {
    program: &'a mut Program,
    res: &'a Resolution,
    source: u32,
    repl: bool,
    imports: &'a HashMap<u32, u32>,
    proto_of: Vec<u32>,
    const_fn: Vec<Option<Value>>,
    fs: Vec<FnState>,
    errors: Vec<Diagnostic>,
}

impl<'a> Emitter<'a> {
    /// Emits a unit.
    pub fn emit(
        program: &'a mut Program,
        res: &'a Resolution,
        stmts: &[Stmt],
        unit: &Unit<'a>,
    ) -> Result<Emitted, Vec<Diagnostic>> {
        let base = program.protos.len() as u32;
        let n = res.funcs.len();
        let (source, repl) = (unit.source, unit.repl);
        let mut e = Emitter {
            program,
            res,
            source,
            repl,
            imports: unit.imports,
            proto_of: (0..n as u32).map(|f| base + f).collect(),
            const_fn: vec![None; n],
            fs: Vec::new(),
            errors: Vec::new(),
        };
        for (f, info) in res.funcs.iter().enumerate() {
            e.program.protos.push(Proto {
                name: info.name.clone(),
                source,
                internal: unit.internal,
                ..Proto::default()
            });
            if info.is_const && f != TOP_FUNC as usize {
                match new_closure(&mut e.program.statics, base + f as u32, &[]) {
                    Ok(v) => e.const_fn[f] = Some(v),
                    Err(x) => e
                        .errors
                        .push(Diagnostic::new(x.to_string(), Span::default())),
                }
            }
        }
        e.program.protos[base as usize].name = Some(match (&unit.module, repl) {
            (Some((_, path)), _) => format!("<module {path}>"),
            (None, true) => "<repl>".into(),
            (None, false) => "<main>".into(),
        });
        e.fs.push(e.new_state(TOP_FUNC, unit.first_slot));
        if unit.reserve > 0 {
            e.op(Op::Nils, unit.reserve, unit.reserve as i32);
        }
        // A module's last statement is the expression of its map.
        let (body, exports) = match (&unit.module, stmts.split_last()) {
            (Some((m, _)), Some((last, body))) => (body, Some((*m, last))),
            _ => (stmts, None),
        };
        let start = e.enter_block(TOP_BLOCK, stmts, 0);
        for s in body {
            e.stmt(s);
        }
        match exports {
            Some((
                m,
                Stmt {
                    kind: StmtKind::Expr(map),
                    span,
                    ..
                },
            )) => {
                e.expr(map);
                e.cur().span = *span;
                e.op(Op::ModuleSet, m, 0);
                e.op(Op::Return, 0, -1);
            }
            Some((_, s)) => e.error("internal error: a module without its map", s.span),
            None => {
                e.op(if repl { Op::Halt } else { Op::ReturnNil }, 0, 0);
            }
        }
        let top_slots = e.res.block_decls.get(&TOP_BLOCK).map_or(Vec::new(), |ds| {
            ds.iter()
                .enumerate()
                .map(|(i, d)| (*d, start + i as u32))
                .collect()
        });
        let top_consts = e
            .res
            .decls
            .iter()
            .enumerate()
            .filter(|(_, d)| d.func == TOP_FUNC && d.preset_slot.is_none())
            .filter_map(|(i, _)| e.decl_const(i as DeclId).map(|v| (i as DeclId, v)))
            .collect();
        e.finish_fn();
        if e.errors.is_empty() {
            Ok(Emitted {
                main: base,
                top_slots,
                top_consts,
            })
        } else {
            Err(e.errors)
        }
    }

    fn new_state(&self, func: FuncId, depth: u32) -> FnState {
        FnState {
            func,
            proto: Proto::default(),
            depth,
            max: depth,
            slots: HashMap::new(),
            loops: Vec::new(),
            span: Span::default(),
            consts: HashMap::new(),
            pushed_by_let: HashSet::new(),
        }
    }

    fn cur(&mut self) -> &mut FnState {
        // The state stack is never empty while emitting (the top level is pushed first).
        let n = self.fs.len() - 1;
        &mut self.fs[n]
    }

    fn error(&mut self, msg: impl Into<String>, span: Span) {
        self.errors.push(Diagnostic::new(msg, span));
    }

    // --- words, depth, jumps, constants -----------------------------------

    fn word(&mut self, w: u32) -> usize {
        let f = self.cur();
        f.proto.code.push(w);
        f.proto.spans.push(f.span);
        f.proto.code.len() - 1
    }

    fn adjust(&mut self, delta: i32) {
        let f = self.cur();
        f.depth = (f.depth as i64 + delta as i64).max(0) as u32;
        f.max = f.max.max(f.depth);
    }

    fn op(&mut self, op: Op, x: u32, delta: i32) -> usize {
        if x > MAX_X {
            self.error(
                "program too large (an operand does not fit)",
                self.fs.last().map_or(Span::default(), |f| f.span),
            );
        }
        let at = self.word(enc(op, x.min(MAX_X)));
        self.adjust(delta);
        at
    }

    fn op_s(&mut self, op: Op, sx: i32, delta: i32) -> usize {
        let at = self.word(enc_s(op, sx));
        self.adjust(delta);
        at
    }

    fn here(&mut self) -> usize {
        self.cur().proto.code.len()
    }

    /// Sets the jump at `at` (a one-word instruction) to land here.
    fn patch(&mut self, at: usize) {
        let target = self.here();
        self.patch_to(at, target);
    }

    fn patch_to(&mut self, at: usize, target: usize) {
        let off = target as i64 - (at as i64 + 1);
        if off < MIN_SX as i64 || off > MAX_SX as i64 {
            let span = self.cur().span;
            self.error("function too large (a jump does not fit)", span);
            return;
        }
        let f = self.cur();
        let w = f.proto.code[at];
        f.proto.code[at] = (w & 0xff) | ((off as i32 as u32) << 8);
    }

    /// Points conditional jumps here.
    fn land(&mut self, patches: Vec<Patch>) {
        let target = self.here();
        for p in patches {
            match p {
                Patch::Short(at) => self.patch_to(at, target),
                Patch::Extra(at) => self.patch_extra(at, target),
            }
        }
    }

    /// A local compared with a small int: (slot, immediate) for the fused
    /// compare-local-immediate-and-jump instructions.
    fn local_imm(&self, lhs: &Expr, rhs: &Expr) -> Option<(u8, i16)> {
        let slot = self.plain_local(lhs)?;
        match rhs.kind {
            ExprKind::Int(k) => i16::try_from(k).ok().map(|k| (slot, k)),
            _ => None,
        }
    }

    /// Sets the extra word of the two-word instruction at `at` to jump to `target`.
    fn patch_extra(&mut self, at: usize, target: usize) {
        let off = target as i64 - (at as i64 + 2);
        self.cur().proto.code[at + 1] = off as i32 as u32;
    }

    fn jump_back(&mut self, op: Op, target: usize, delta: i32) {
        let at = self.op_s(op, 0, delta);
        self.patch_to(at, target);
    }

    fn konst(&mut self, v: Value) -> u32 {
        let key = match v {
            Value::Int(i) => (0, i as u64),
            Value::Float(f) => (1, f.to_bits()),
            Value::Obj(_, r) => (2, r.addr() as u64),
            _ => (3, 0),
        };
        let f = self.cur();
        if let Some(&k) = f.consts.get(&key) {
            return k;
        }
        let k = f.proto.consts.len() as u32;
        f.proto.consts.push(v);
        f.consts.insert(key, k);
        k
    }

    fn push_const(&mut self, v: Value) {
        let k = self.konst(v);
        self.op(Op::Const, k, 1);
    }

    fn string(&mut self, s: &str, span: Span) -> Value {
        if let Some(v) = self.program.strings.get(s) {
            return *v;
        }
        match new_str(&mut self.program.statics, s) {
            Ok(v) => {
                self.program.strings.insert(s.to_string(), v);
                v
            }
            Err(e) => {
                self.error(format!("string literal too large: {e}"), span);
                Value::Nil
            }
        }
    }

    // --- variables ---------------------------------------------------------

    fn decl_const(&self, d: DeclId) -> Option<Value> {
        let decl = &self.res.decls[d as usize];
        if let Some(v) = decl.value {
            return Some(v);
        }
        decl.fn_id.and_then(|f| self.const_fn[f as usize])
    }

    fn is_cell(&self, d: DeclId) -> bool {
        let decl = &self.res.decls[d as usize];
        decl.captured || (self.repl && decl.func == TOP_FUNC)
    }

    fn slot(&self, d: DeclId) -> Option<u32> {
        self.res.decls[d as usize]
            .preset_slot
            .or_else(|| self.fs.last().and_then(|f| f.slots.get(&d).copied()))
    }

    fn capture_index(&self, d: DeclId) -> Option<u32> {
        let f = self.fs.last()?.func;
        self.res.funcs[f as usize]
            .captures
            .iter()
            .position(|&c| c == d)
            .map(|i| i as u32)
    }

    /// The slot of `e` when it names a plain (uncaptured) local of the current
    /// function that fits an 8-bit operand: superinstructions read it directly.
    fn plain_local(&self, e: &Expr) -> Option<u8> {
        let ExprKind::Name(id) = &e.kind else {
            return None;
        };
        let Some(Res::Decl(d)) = self.res.uses.get(&id.span.start).copied() else {
            return None;
        };
        let decl = &self.res.decls[d as usize];
        let here = self.fs.last()?.func;
        if decl.func != here || self.decl_const(d).is_some() || self.is_cell(d) {
            return None;
        }
        self.slot(d).and_then(|s| u8::try_from(s).ok())
    }

    fn note_name(&mut self, at: usize, name: &str) {
        self.cur().proto.names.insert(at as u32, name.to_string());
    }

    fn load(&mut self, id: &Ident) {
        match self.res.uses.get(&id.span.start).copied() {
            Some(Res::Builtin(b)) => {
                let v = self
                    .program
                    .builtins
                    .get(b as usize)
                    .copied()
                    .unwrap_or(Value::Nil);
                self.push_const(v);
            }
            Some(Res::Decl(d)) => {
                if let Some(v) = self.decl_const(d) {
                    self.push_const(v);
                } else if self.res.decls[d as usize].func
                    == self.fs.last().map_or(TOP_FUNC, |f| f.func)
                {
                    let slot = self.slot(d).unwrap_or(0);
                    if self.is_cell(d) {
                        let at = self.op(Op::GetCell, slot, 1);
                        self.note_name(at, &id.name);
                    } else {
                        self.op(Op::GetLocal, slot, 1);
                    }
                } else {
                    let i = self.capture_index(d).unwrap_or(0);
                    let at = self.op(Op::GetUp, i, 1);
                    self.note_name(at, &id.name);
                }
            }
            None => self.error(format!("undefined variable '{}'", id.name), id.span),
        }
    }

    /// Pops the top of the stack into declaration `d` (of the current function or captured).
    fn store(&mut self, d: DeclId) {
        if self.res.decls[d as usize].func == self.fs.last().map_or(TOP_FUNC, |f| f.func) {
            let slot = self.slot(d).unwrap_or(0);
            let op = if self.is_cell(d) {
                Op::SetCell
            } else {
                Op::SetLocal
            };
            self.op(op, slot, -1);
        } else {
            let i = self.capture_index(d).unwrap_or(0);
            self.op(Op::SetUp, i, -1);
        }
    }

    // --- blocks ------------------------------------------------------------

    /// Gives the block's variables their slots: the first `pre` are already on
    /// the stack (parameters, a loop variable); the rest are pushed as nil.
    /// Captured ones become cells; hoisted functions are created. Returns the
    /// depth where the block's slots start.
    fn enter_block(&mut self, key: u32, stmts: &[Stmt], pre: u32) -> u32 {
        let decls = self.res.block_decls.get(&key).cloned().unwrap_or_default();
        let start = self.cur().depth - pre;
        for (i, d) in decls.iter().enumerate() {
            self.cur().slots.insert(*d, start + i as u32);
        }
        let deferred = if key == TOP_BLOCK {
            decls.len()
        } else {
            self.pushed_by_let_from(&decls, stmts, pre as usize)
        };
        self.cur()
            .pushed_by_let
            .extend(decls[deferred..].iter().copied());
        let fresh = (deferred as u32).saturating_sub(pre);
        if fresh > 0 {
            self.op(Op::Nils, fresh, fresh as i32);
        }
        for (i, d) in decls.iter().enumerate() {
            if self.is_cell(*d) {
                let op = if (i as u32) < pre {
                    Op::BoxLocal
                } else {
                    Op::NewCell
                };
                // The cell is allocated here, but is the `let`'s (or the
                // parameter's): `--alloc-sites` and `--leak-check` name that line.
                let saved = self.cur().span;
                if let Some(span) = self.res.decls.get(*d as usize).and_then(|x| x.span) {
                    self.cur().span = span;
                }
                self.op(op, start + i as u32, 0);
                self.cur().span = saved;
            }
        }
        for s in stmts {
            if let StmtKind::Fn(f) = &s.kind {
                self.cur().span = s.span;
                let d = f
                    .name
                    .as_ref()
                    .and_then(|n| self.res.decl_at.get(&n.span.start).copied());
                let pushed = self.function(f);
                if let (true, Some(d)) = (pushed, d) {
                    self.store(d);
                }
            }
        }
        start
    }

    /// The block's variables from which on each slot can be pushed by its own
    /// `let` instead of a nil at block entry: the trailing run of variables,
    /// in order, that are plain (not cells) and declared by the block's own
    /// top-level `let`s. Sound because a variable is not visible before its
    /// `let` (so nothing reads the slot earlier), and at a statement boundary
    /// the stack holds exactly the block's variables declared so far.
    fn pushed_by_let_from(&self, decls: &[DeclId], stmts: &[Stmt], pre: usize) -> usize {
        let lets: Vec<DeclId> = stmts
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Let { name, .. } => self.res.decl_at.get(&name.span.start).copied(),
                _ => None,
            })
            .collect();
        let (mut k, mut j) = (decls.len(), lets.len());
        while k > pre && j > 0 && decls[k - 1] == lets[j - 1] && !self.is_cell(decls[k - 1]) {
            k -= 1;
            j -= 1;
        }
        k
    }

    fn leave_block(&mut self, start: u32) {
        let n = self.cur().depth - start;
        if n > 0 {
            self.op(Op::PopN, n, -(n as i32));
        }
    }

    fn block(&mut self, b: &Block, pre: u32) {
        let start = self.enter_block(b.span.start, &b.stmts, pre);
        for s in &b.stmts {
            self.stmt(s);
        }
        self.leave_block(start);
    }

    /// Compiles a function's body into its proto; unless it is a constant,
    /// pushes a closure of it and returns true.
    fn function(&mut self, f: &FnDecl) -> bool {
        let Some(fid) = self.res.func_at.get(&f.span.start).copied() else {
            self.error("internal error: unresolved function", f.span);
            return false;
        };
        let arity = f.params.len() as u32;
        self.fs.push(self.new_state(fid, arity));
        self.cur().span = f.body.span;
        let start = self.enter_block(f.body.span.start, &f.body.stmts, arity);
        for s in &f.body.stmts {
            self.stmt(s);
        }
        let _ = start;
        self.cur().span = Span::new(f.body.span.end as usize - 1, f.body.span.end as usize);
        self.op(Op::ReturnNil, 0, 0);
        // Where the new closure takes each capture from, in the creating function.
        let caps: Vec<CaptureFrom> = {
            let parent = &self.fs[self.fs.len() - 2];
            self.res.funcs[fid as usize]
                .captures
                .iter()
                .map(|&d| {
                    if self.res.decls[d as usize].func == parent.func {
                        let slot = self.res.decls[d as usize]
                            .preset_slot
                            .or_else(|| parent.slots.get(&d).copied());
                        CaptureFrom::Local(slot.unwrap_or(0))
                    } else {
                        let i = self.res.funcs[parent.func as usize]
                            .captures
                            .iter()
                            .position(|&c| c == d);
                        CaptureFrom::Capture(i.unwrap_or(0) as u32)
                    }
                })
                .collect()
        };
        self.cur().proto.captures = caps;
        self.cur().proto.arity = arity;
        self.finish_fn();
        if let Some(v) = self.const_fn[fid as usize] {
            if f.name.is_none() {
                self.push_const(v);
                return true;
            }
            return false;
        }
        self.op(Op::Closure, self.proto_of[fid as usize], 1);
        true
    }

    /// Moves the finished function's proto into the program.
    fn finish_fn(&mut self) {
        if let Some(st) = self.fs.pop() {
            let idx = self.proto_of[st.func as usize] as usize;
            let mut proto = st.proto;
            let old = std::mem::take(&mut self.program.protos[idx]);
            proto.name = old.name;
            proto.internal = old.internal;
            proto.source = self.source;
            proto.max_stack = st.max + 1;
            if st.func == TOP_FUNC {
                proto.arity = 0;
            }
            self.program.protos[idx] = proto;
            self.program.number_sites(idx as u32);
        }
    }
}
