//! Bytecode emission from a resolved tree, for the register machine
//! (`bytecode::opcode`).
//!
//! Registers: a function's variables get fixed registers when their block
//! is entered (captured ones hold cells, hoisted `fn`s their closures), in
//! `[0, nlocals)`; a block's registers are given back (and cleared) when it
//! ends. Temporaries live in `[nlocals, max_stack)`, allocated like a stack
//! (`temp`, `free_to`). `nlocals` is computed before the function's code is
//! emitted (`block_need`), so every instruction's temporaries are known to
//! be temporaries (rc takes their values, see `opcode`).
//!
//! Expressions are compiled towards a destination register (`expr_to`), or
//! wherever they already are (`expr_any`: a plain local is read in place,
//! with no copy). Conditions compile to fused compare-and-jump
//! instructions; loops test their condition at the bottom.

mod expr;
mod stmt;

use super::resolve::{DeclId, FuncId, Res, Resolution, TOP_BLOCK, TOP_FUNC};
use crate::bytecode::builtins::NAMES;
use crate::bytecode::chunk::{CaptureFrom, Program, Proto, VarRange};
use crate::bytecode::opcode::{MAX_R, MAX_SJ, MIN_SJ, Op, enc, enc_bx, enc_j, with_sj};
use crate::bytecode::verify;
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{BinOp, Block, Else, Expr, ExprKind, FnDecl, Ident, Stmt, StmtKind, UnOp};
use crate::syntax::span::Span;
use crate::value::Value;
use crate::value::func::new_closure;
use crate::value::string::new_str;
use std::collections::HashMap;

/// A register number.
type Reg = u16;

/// The error of a function whose variables and temporaries need more
/// registers than an operand can name.
const TOO_MANY_REGISTERS: &str = "function too large: it needs more than 65535 registers (variables in scope at once, and temporaries)";

/// A jump waiting for its target (the index of its word).
type Patch = usize;

struct Loop {
    /// Where `continue` goes: unknown until the loop's test is emitted.
    continues: Vec<Patch>,
    breaks: Vec<Patch>,
}

struct FnState {
    func: FuncId,
    proto: Proto,
    /// Registers of the variables in scope: the next variable's register.
    nactive: u32,
    /// Registers below this are variables; temporaries start here.
    nlocals: u32,
    /// The next free temporary.
    freereg: u32,
    /// Most registers in use at once.
    max: u32,
    slots: HashMap<DeclId, u32>,
    /// The loops being emitted, innermost last.
    loops: Vec<Loop>,
    span: Span,
    consts: HashMap<(u8, u64), u32>,
    /// The stack map's variable ranges so far (`Proto::var_live`).
    ranges: Vec<VarRange>,
    /// The variables of each block being emitted, innermost last.
    open_blocks: Vec<Vec<DeclId>>,
    /// Where each variable's register starts to hold its value.
    live_from: HashMap<DeclId, u32>,
    /// Where each temporary in use was first written.
    temp_from: HashMap<u32, u32>,
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
                // (Known before the body is compiled: a call of a constant
                // function checks its arity while compiling, `CallK`.)
                arity: info.arity,
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
        let first = unit.first_slot + unit.reserve;
        let nlocals = first + e.block_need(TOP_BLOCK, stmts);
        e.fs.push(e.new_state(TOP_FUNC, first, nlocals));
        // Earlier REPL entries' variables and the module caches: always live.
        e.cur()
            .ranges
            .extend((0..first.min(MAX_R)).map(|reg| VarRange {
                reg: reg as u16,
                from: 0,
                to: u32::MAX,
            }));
        if unit.reserve > 0 {
            e.emit_abc(Op::LoadNil, unit.first_slot, unit.reserve, 0);
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
                let r = e.expr_any(map);
                e.cur().span = *span;
                e.emit_abc(Op::ModuleSet, r as u32, m, 0);
                e.emit_abc(Op::Return, r as u32, 0, 0);
            }
            Some((_, s)) => e.error("internal error: a module without its map", s.span),
            None => {
                e.emit_abc(if repl { Op::Halt } else { Op::ReturnNil }, 0, 0, 0);
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
        // The dispatch loop reads registers, constants and code unchecked on
        // the verifier's word: every new function is verified here, and a
        // failure is a compiler bug, reported, never run.
        if e.errors.is_empty() {
            let protos = &e.program.protos;
            for (i, p) in protos.iter().enumerate().skip(base as usize) {
                if p.native.is_some() {
                    continue;
                }
                let checked = verify::verify(p, protos.len(), NAMES.len())
                    .and_then(|()| verify::verify_calls(p, protos));
                if let Err(x) = checked {
                    let name = p.name.clone().unwrap_or_else(|| format!("#{i}"));
                    e.errors.push(Diagnostic::new(
                        format!("internal error: {name} does not verify: {x}"),
                        Span::default(),
                    ));
                }
            }
        }
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

    fn new_state(&self, func: FuncId, nactive: u32, nlocals: u32) -> FnState {
        FnState {
            func,
            proto: Proto::default(),
            nactive,
            nlocals,
            freereg: nlocals,
            max: nlocals,
            slots: HashMap::new(),
            loops: Vec::new(),
            span: Span::default(),
            consts: HashMap::new(),
            ranges: Vec::new(),
            open_blocks: Vec::new(),
            live_from: HashMap::new(),
            temp_from: HashMap::new(),
        }
    }

    // --- the stack map ------------------------------------------------------

    /// Registers `first .. first + n` are live from `from` up to here.
    fn live_range(&mut self, first: u32, n: u32, from: usize) {
        let to = self.here() as u32;
        let f = self.cur();
        for reg in first..first + n {
            if let Ok(reg) = u16::try_from(reg) {
                f.ranges.push(VarRange {
                    reg,
                    from: from as u32,
                    to,
                });
            }
        }
    }

    /// Variable `d`'s register holds its value from here on (its `let`
    /// has run; or, for a cell, a parameter or a hoisted function, its block
    /// has begun).
    fn live_from_here(&mut self, d: DeclId) {
        let here = self.here() as u32;
        self.cur().live_from.entry(d).or_insert(here);
    }

    /// Closes the ranges of the innermost block's variables at `to`.
    fn close_block_ranges(&mut self, to: u32) {
        let Some(decls) = self.cur().open_blocks.pop() else {
            return;
        };
        for d in decls {
            let (from, slot) = (self.cur().live_from.remove(&d), self.slot(d));
            if let (Some(from), Some(Ok(reg))) = (from, slot.map(u16::try_from)) {
                self.cur().ranges.push(VarRange { reg, from, to });
            }
        }
    }

    fn cur(&mut self) -> &mut FnState {
        // The state stack is never empty while emitting (the top level is pushed first).
        let n = self.fs.len() - 1;
        &mut self.fs[n]
    }

    /// Reports an error (once: a function too large fails at many operands).
    fn error(&mut self, msg: impl Into<String>, span: Span) {
        let msg = msg.into();
        if !self.errors.iter().any(|d| d.message == msg) {
            self.errors.push(Diagnostic::new(msg, span));
        }
    }

    // --- registers ---------------------------------------------------------

    /// Registers a block needs from where its variables start: its own
    /// variables, then the most any statement in it needs (a nested block,
    /// a loop's hidden counters). Mirrors `enter_block` and the loops.
    fn block_need(&self, key: u32, stmts: &[Stmt]) -> u32 {
        let own = self.res.block_decls.get(&key).map_or(0, |d| d.len() as u32);
        own + stmts.iter().map(|s| self.stmt_need(s)).max().unwrap_or(0)
    }

    fn stmt_need(&self, s: &Stmt) -> u32 {
        match &s.kind {
            StmtKind::If { then, els, .. } => {
                let t = self.block_need(then.span.start, &then.stmts);
                let e = match els {
                    None => 0,
                    Some(Else::Block(b)) => self.block_need(b.span.start, &b.stmts),
                    Some(Else::If(s)) => self.stmt_need(s),
                };
                t.max(e)
            }
            StmtKind::While { body, .. } => self.block_need(body.span.start, &body.stmts),
            StmtKind::ForRange { body, .. } | StmtKind::ForIn { body, .. } => {
                2 + self.block_need(body.span.start, &body.stmts)
            }
            // `t[i] op= v` keeps t and i where reading them does not take them.
            StmtKind::Assign { op: Some(_), .. } => 2,
            _ => 0,
        }
    }

    /// A new temporary, above every one in use.
    fn temp(&mut self) -> Reg {
        let f = self.cur();
        let r = f.freereg;
        f.freereg += 1;
        f.max = f.max.max(f.freereg);
        if r > MAX_R {
            let span = f.span;
            self.error(TOO_MANY_REGISTERS, span);
            return 0;
        }
        r as Reg
    }

    /// Gives back the temporaries from `r` up (their stack-map ranges end
    /// here: what they held has been used).
    fn free_to(&mut self, r: u32) {
        let here = self.here() as u32;
        let f = self.cur();
        f.freereg = r.max(f.nlocals);
        let freed: Vec<u32> = f.temp_from.keys().copied().filter(|&t| t >= r).collect();
        for t in freed {
            if let (Some(from), Ok(reg)) = (f.temp_from.remove(&t), u16::try_from(t)) {
                f.ranges.push(VarRange {
                    reg,
                    from,
                    to: here,
                });
            }
        }
    }

    fn freereg(&mut self) -> u32 {
        self.cur().freereg
    }

    fn is_temp(&mut self, r: Reg) -> bool {
        r as u32 >= self.cur().nlocals
    }

    /// Where an instruction that builds its result from operands at the top
    /// of the temporaries (calls, lists, maps) should put them: `dst` itself
    /// when it is the topmost temporary, else a new one.
    fn top_temp(&mut self, dst: Reg) -> Reg {
        let f = self.cur();
        if dst as u32 >= f.nlocals && dst as u32 + 1 == f.freereg {
            dst
        } else {
            self.temp()
        }
    }

    // --- words, jumps, constants -------------------------------------------

    fn word(&mut self, w: u64) -> usize {
        let f = self.cur();
        f.proto.code.push(w);
        f.proto.spans.push(f.span);
        let pc = f.proto.code.len() - 1;
        // A temporary this instruction writes holds a value from the next
        // one on (for the stack map, until it is given back).
        let (first, n) = written(w);
        for r in first..first + n {
            if r >= f.nlocals {
                f.temp_from.entry(r).or_insert(pc as u32 + 1);
            }
        }
        pc
    }

    /// Emits `op A B C`; operands must fit 16 bits.
    fn emit_abc(&mut self, op: Op, a: u32, b: u32, c: u32) -> usize {
        if a > MAX_R || b > MAX_R || c > MAX_R {
            let span = self.cur().span;
            self.error(TOO_MANY_REGISTERS, span);
        }
        self.word(enc(op, a as u16, b as u16, c as u16))
    }

    fn emit_bx(&mut self, op: Op, a: Reg, bx: u32) -> usize {
        self.word(enc_bx(op, a, bx))
    }

    /// Emits a jump-type instruction with its offset to be patched.
    fn emit_j(&mut self, op: Op, a: u32, b: u32) -> Patch {
        if a > MAX_R || b > MAX_R {
            let span = self.cur().span;
            self.error(TOO_MANY_REGISTERS, span);
        }
        self.word(enc_j(op, a as u16, b as u16, 0))
    }

    fn here(&mut self) -> usize {
        self.cur().proto.code.len()
    }

    /// Points the jump at `at` to `target`.
    fn patch_to(&mut self, at: Patch, target: usize) {
        let off = target as i64 - (at as i64 + 1);
        if off < MIN_SJ as i64 || off > MAX_SJ as i64 {
            let span = self.cur().span;
            self.error("function too large (a jump does not fit)", span);
            return;
        }
        let f = self.cur();
        f.proto.code[at] = with_sj(f.proto.code[at], off as i32);
    }

    /// Points the jumps here.
    fn land(&mut self, patches: Vec<Patch>) {
        let target = self.here();
        for p in patches {
            self.patch_to(p, target);
        }
    }

    fn konst(&mut self, v: Value) -> u32 {
        let key = match v {
            Value::Int(i) => (0, i as u64),
            Value::Float(f) => (1, f.to_bits()),
            Value::Obj(_, r) => (2, r.addr() as u64),
            Value::Bool(b) => (4, b as u64),
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

    /// A constant's number as a 16-bit operand (an error past 65535).
    fn konst16(&mut self, v: Value) -> u32 {
        let k = self.konst(v);
        if k > MAX_R {
            let span = self.cur().span;
            self.error("function too large (more than 65536 constants)", span);
            return 0;
        }
        k
    }

    /// The number of the constant function `callee` names, when calling it
    /// with `argc` arguments needs no check at run time (`CallK`): a Loam
    /// function of that many parameters, without captures, numbered within
    /// 16 bits.
    fn const_callee(&mut self, callee: &Expr, argc: usize) -> Option<u32> {
        let ExprKind::Name(id) = &callee.kind else {
            return None;
        };
        let Some(Res::Decl(d)) = self.res.uses.get(&id.span.start).copied() else {
            return None;
        };
        let v = self.decl_const(d)?;
        let id = v.as_closure()?.proto();
        let proto = self.program.protos.get(id as usize)?;
        if proto.native.is_some() || proto.arity as usize != argc || !proto.captures.is_empty() {
            return None;
        }
        (id <= MAX_R).then_some(id)
    }

    /// The constant a literal number, boolean or string is (for `ReturnK`).
    fn literal_const(&mut self, e: &Expr) -> Option<u32> {
        let v = match &e.kind {
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Str(s) => self.string(s, e.span),
            _ => return None,
        };
        Some(self.konst(v))
    }

    fn load_const(&mut self, v: Value, dst: Reg) {
        let k = self.konst(v);
        self.emit_bx(Op::LoadK, dst, k);
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

    /// The declaration a name expression means, when it is a variable of
    /// the current function (not a constant).
    fn own_decl(&self, e: &Expr) -> Option<DeclId> {
        let ExprKind::Name(id) = &e.kind else {
            return None;
        };
        let Some(Res::Decl(d)) = self.res.uses.get(&id.span.start).copied() else {
            return None;
        };
        let here = self.fs.last()?.func;
        (self.res.decls[d as usize].func == here && self.decl_const(d).is_none()).then_some(d)
    }

    /// The register of `e` when it names a plain (uncaptured) local of the
    /// current function: instructions read it in place.
    fn plain_local(&self, e: &Expr) -> Option<Reg> {
        let d = self.own_decl(e)?;
        if self.is_cell(d) {
            return None;
        }
        self.slot(d).and_then(|s| Reg::try_from(s).ok())
    }

    fn note_name(&mut self, at: usize, name: &str) {
        self.cur().proto.names.insert(at as u32, name.to_string());
    }

    /// Loads the variable or builtin `id` names into `dst`.
    fn load(&mut self, id: &Ident, dst: Reg) {
        match self.res.uses.get(&id.span.start).copied() {
            Some(Res::Builtin(b)) => {
                let v = self
                    .program
                    .builtins
                    .get(b as usize)
                    .copied()
                    .unwrap_or(Value::Nil);
                self.load_const(v, dst);
            }
            Some(Res::Decl(d)) => {
                if let Some(v) = self.decl_const(d) {
                    self.load_const(v, dst);
                } else if self.res.decls[d as usize].func
                    == self.fs.last().map_or(TOP_FUNC, |f| f.func)
                {
                    let slot = self.slot(d).unwrap_or(0);
                    if self.is_cell(d) {
                        let at = self.emit_abc(Op::GetCell, dst as u32, slot, 0);
                        self.note_name(at, &id.name);
                    } else if slot != dst as u32 {
                        self.emit_abc(Op::Move, dst as u32, slot, 0);
                    }
                } else {
                    let i = self.capture_index(d).unwrap_or(0);
                    let at = self.emit_abc(Op::GetUp, dst as u32, i, 0);
                    self.note_name(at, &id.name);
                }
            }
            None => self.error(format!("undefined variable '{}'", id.name), id.span),
        }
    }

    /// Stores register `r` into declaration `d` (of the current function or captured).
    fn store(&mut self, d: DeclId, r: Reg) {
        if self.res.decls[d as usize].func == self.fs.last().map_or(TOP_FUNC, |f| f.func) {
            let slot = self.slot(d).unwrap_or(0);
            if self.is_cell(d) {
                self.emit_abc(Op::SetCell, slot, r as u32, 0);
            } else if slot != r as u32 {
                self.emit_abc(Op::Move, slot, r as u32, 0);
            }
        } else {
            let i = self.capture_index(d).unwrap_or(0);
            self.emit_abc(Op::SetUp, i, r as u32, 0);
        }
    }

    /// Evaluates `value` into declaration `d`: straight into its register
    /// when it is a plain local.
    fn assign_decl(&mut self, d: DeclId, value: &Expr) {
        let own = self.res.decls[d as usize].func == self.fs.last().map_or(TOP_FUNC, |f| f.func);
        match self.slot(d) {
            Some(slot) if own && !self.is_cell(d) && slot <= MAX_R => {
                self.expr_to(value, slot as Reg);
            }
            _ => {
                let mark = self.freereg();
                let r = self.expr_any(value);
                self.store(d, r);
                self.free_to(mark);
            }
        }
    }

    // --- blocks ------------------------------------------------------------

    /// Gives the block's variables their registers: the first `pre` are
    /// already set (parameters, a loop variable). Captured ones become
    /// cells; hoisted functions are created. Returns the register where the
    /// block's variables start.
    fn enter_block(&mut self, key: u32, stmts: &[Stmt], pre: u32) -> u32 {
        let decls = self.res.block_decls.get(&key).cloned().unwrap_or_default();
        let start = self.cur().nactive - pre;
        for (i, d) in decls.iter().enumerate() {
            self.cur().slots.insert(*d, start + i as u32);
            // Set from the block's start: parameters and a loop's variable,
            // cells (made here), hoisted functions (made here).
            let fn_decl = self.res.decls[*d as usize].kind == super::resolve::DeclKind::Fn;
            if (i as u32) < pre || self.is_cell(*d) || fn_decl {
                self.live_from_here(*d);
            }
        }
        self.cur().open_blocks.push(decls.clone());
        self.cur().nactive = start + decls.len() as u32;
        if self.cur().nactive > self.cur().nlocals {
            let span = self.cur().span;
            self.error(
                "internal error: a block's variables outgrew their registers",
                span,
            );
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
                self.emit_abc(op, start + i as u32, 0, 0);
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
                let Some(d) = d else { continue };
                if self.decl_const(d).is_some() {
                    // A constant function: compiled, loaded where it is used.
                    self.function(f);
                    continue;
                }
                match self.slot(d) {
                    Some(slot) if !self.is_cell(d) => self.closure_to(f, slot as Reg),
                    _ => {
                        let t = self.temp();
                        self.closure_to(f, t);
                        self.store(d, t);
                        self.free_to(t as u32);
                    }
                }
            }
        }
        start
    }

    /// Ends a block whose variables start at `start`: its registers are
    /// given back, and cleared (what they held is released under rc) unless
    /// the block is inside a loop: the loop clears every register it used
    /// when it ends (`end_loop`), so a loop body does not pay for it on
    /// every iteration. (Until then a variable of an earlier iteration
    /// keeps its value, as in Lua and CPython, until its register is written.)
    fn leave_block(&mut self, start: u32) {
        let here = self.here() as u32;
        self.close_block_ranges(here);
        let n = self.cur().nactive.saturating_sub(start);
        if n > 0 && self.cur().loops.is_empty() {
            self.emit_abc(Op::LoadNil, start, n, 0);
        }
        self.cur().nactive = start;
    }

    fn block(&mut self, b: &Block) {
        let start = self.enter_block(b.span.start, &b.stmts, 0);
        for s in &b.stmts {
            self.stmt(s);
        }
        self.leave_block(start);
    }

    /// Compiles `f` and makes its closure in `dst` (or loads it, when it
    /// is a constant function).
    fn closure_to(&mut self, f: &FnDecl, dst: Reg) {
        match self.function(f) {
            Some(id) => {
                self.emit_bx(Op::Closure, dst, id);
            }
            None => {
                let v = self
                    .res
                    .func_at
                    .get(&f.span.start)
                    .and_then(|&fid| self.const_fn[fid as usize])
                    .unwrap_or(Value::Nil);
                self.load_const(v, dst);
            }
        }
    }

    /// Compiles a function's body into its proto; returns its number unless
    /// it is a constant (a static closure).
    fn function(&mut self, f: &FnDecl) -> Option<u32> {
        let Some(fid) = self.res.func_at.get(&f.span.start).copied() else {
            self.error("internal error: unresolved function", f.span);
            return None;
        };
        let arity = f.params.len() as u32;
        let nlocals = self.block_need(f.body.span.start, &f.body.stmts).max(arity);
        self.fs.push(self.new_state(fid, arity, nlocals));
        self.cur().span = f.body.span;
        self.enter_block(f.body.span.start, &f.body.stmts, arity);
        for s in &f.body.stmts {
            self.stmt(s);
        }
        self.cur().span = Span::new(f.body.span.end as usize - 1, f.body.span.end as usize);
        self.emit_abc(Op::ReturnNil, 0, 0, 0);
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
        if self.const_fn[fid as usize].is_some() {
            return None;
        }
        Some(self.proto_of[fid as usize])
    }

    /// Moves the finished function's proto into the program.
    fn finish_fn(&mut self) {
        // The function's own block (and the top level's) lasts as long as
        // its frame: a REPL entry's frame stays, halted, past its code.
        while !self.cur().open_blocks.is_empty() {
            self.close_block_ranges(u32::MAX);
        }
        let nl = self.cur().nlocals;
        self.free_to(nl);
        if let Some(st) = self.fs.pop() {
            let idx = self.proto_of[st.func as usize] as usize;
            let mut proto = st.proto;
            let old = std::mem::take(&mut self.program.protos[idx]);
            proto.name = old.name;
            proto.internal = old.internal;
            proto.source = self.source;
            proto.nlocals = st.nlocals;
            proto.var_live = st.ranges;
            proto.stack_map = true;
            proto.hints = crate::bytecode::chunk::Hints::new(2 * proto.code.len());
            proto.max_stack = st.max.max(st.nlocals).max(1);
            if proto.max_stack > MAX_R + 1 {
                self.error(TOO_MANY_REGISTERS, st.span);
            }
            if st.func == TOP_FUNC {
                proto.arity = 0;
            }
            self.program.protos[idx] = proto;
            self.program.number_sites(idx as u32);
        }
    }
}

/// The registers instruction `w` writes, as (first, count): what the stack
/// map counts as a temporary's value from the next instruction on.
fn written(w: u64) -> (u32, u32) {
    use crate::bytecode::opcode::{a, b, op_byte};
    let Some(op) = Op::from_u8(op_byte(w)) else {
        return (0, 0);
    };
    let a = a(w) as u32;
    match op {
        Op::LoadNil => (a, b(w) as u32),
        Op::Method => (a, 2),
        Op::Move
        | Op::LoadTrue
        | Op::LoadFalse
        | Op::LoadInt
        | Op::LoadK
        | Op::GetCell
        | Op::GetUp
        | Op::NewCell
        | Op::BoxLocal
        | Op::Closure
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Mod
        | Op::BitAnd
        | Op::BitOr
        | Op::BitXor
        | Op::Shl
        | Op::Shr
        | Op::Eq
        | Op::Ne
        | Op::Lt
        | Op::Le
        | Op::Gt
        | Op::Ge
        | Op::AddI
        | Op::AddK
        | Op::SubK
        | Op::MulK
        | Op::DivK
        | Op::Neg
        | Op::BitNot
        | Op::Not
        | Op::Call
        | Op::CallK
        | Op::CallNative
        | Op::List
        | Op::Map
        | Op::GetIndex
        | Op::GetIndexI
        | Op::GetField
        | Op::ModuleGet => (a, 1),
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use crate::bytecode::opcode::{Op, a, b, c, enc, op_byte};
    use crate::bytecode::verify::verify_calls;
    use crate::compiler;
    use crate::syntax::span::Source;

    /// While a frame waits in a call, the stack map keeps a `Call`'s callee
    /// slot (the closure running, whose captures it reads) but not a
    /// `CallK`'s, which the VM does not write.
    #[test]
    fn the_stack_map_keeps_a_calls_callee_slot_but_not_a_callks() {
        let mut p = compiler::new_program();
        let text = "fn f() { return 1; }\nlet g = f;\nlet x = f() + g();\nprint(x);\n";
        let main = compiler::compile(&mut p, Source::new("t.loam", text)).expect("compiles");
        let proto = &p.protos[main as usize];
        let at = |op: Op| {
            proto
                .code
                .iter()
                .position(|&w| op_byte(w) == op as u8)
                .expect("the call")
        };
        let mut live = Vec::new();
        for (op, kept) in [(Op::CallK, false), (Op::Call, true)] {
            let pc = at(op);
            proto.live_registers(pc + 1, false, &mut live);
            assert_eq!(live[a(proto.code[pc])], kept, "{op:?}");
        }
    }

    /// `f(1)` names a constant function of one parameter: a `CallK` that
    /// verifies; `f(1, 2)` stays a `Call`. The verifier rejects a `CallK`
    /// whose argument count or constant is changed.
    #[test]
    fn a_constant_function_of_the_right_arity_is_called_with_callk() {
        let mut p = compiler::new_program();
        let text = "fn f(x) { return x; }\nprint(f(1));\nf(1, 2);\n";
        let main = compiler::compile(&mut p, Source::new("t.loam", text)).expect("compiles");
        let code = &p.protos[main as usize].code;
        let count = |op: Op| code.iter().filter(|&&w| op_byte(w) == op as u8).count();
        assert_eq!((count(Op::CallK), count(Op::Call)), (1, 1));
        let pc = code
            .iter()
            .position(|&w| op_byte(w) == Op::CallK as u8)
            .expect("a CallK");
        let w = code[pc];
        assert_eq!(verify_calls(&p.protos[main as usize], &p.protos), Ok(()));

        let mut protos = std::mem::take(&mut p.protos);
        let m = main as usize;
        // The wrong arity, a builtin, no function at all.
        protos[m].code[pc] = enc(Op::CallK, a(w) as u16, 2, c(w) as u16);
        assert_eq!(verify_calls(&protos[m], &protos).map_err(|e| e.pc), Err(pc));
        let native = protos.iter().position(|t| t.native.is_some());
        let native = native.expect("a builtin's function") as u16;
        protos[native as usize].arity = 1;
        protos[m].code[pc] = enc(Op::CallK, a(w) as u16, b(w) as u16, native);
        assert_eq!(verify_calls(&protos[m], &protos).map_err(|e| e.pc), Err(pc));
        protos[m].code[pc] = enc(Op::CallK, a(w) as u16, b(w) as u16, protos.len() as u16);
        assert_eq!(verify_calls(&protos[m], &protos).map_err(|e| e.pc), Err(pc));
        protos[m].code[pc] = w;
        assert_eq!(verify_calls(&protos[m], &protos), Ok(()));
        // A function with captures reads its callee slot, which CallK leaves unwritten.
        protos[c(w)]
            .captures
            .push(crate::bytecode::chunk::CaptureFrom::Local(0));
        assert_eq!(verify_calls(&protos[m], &protos).map_err(|e| e.pc), Err(pc));
    }
}
