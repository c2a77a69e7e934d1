//! Name resolution, done once over the whole tree before any code is emitted.
//!
//! It decides, for every name use, which declaration it means (or which
//! builtin); which variables are captured by inner functions (those live in
//! cells); what each function captures; and which functions capture no
//! variable at all and so are constants (static closures, section 4). It
//! also reports the scoping errors of sections 4 and 11 and folds `static`
//! initializers (through `statics.rs`).
//!
//! Visibility: a block's `fn`s and statics are visible throughout it; a
//! `let` is visible after its statement; a use inside a function body may
//! also see a `let` declared later in a block that encloses the function.

use super::statics::StaticFolder;
use crate::bytecode::builtins as names;
use crate::diagnostics::Diagnostic;
use crate::heap::statics::StaticSegment;
use crate::syntax::ast::{Block, Else, Expr, ExprKind, FnDecl, Ident, Stmt, StmtKind};
use crate::syntax::span::Span;
use crate::value::Value;
use std::collections::HashMap;

pub type DeclId = u32;
pub type FuncId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeclKind {
    Let,
    Param,
    LoopVar,
    Fn,
    Static,
}

#[derive(Debug, Clone)]
pub struct Decl {
    pub name: String,
    pub kind: DeclKind,
    /// The function whose frame holds the variable.
    pub func: FuncId,
    /// Used from an inner function: the variable lives in a cell.
    pub captured: bool,
    /// Statics: the folded value.
    pub value: Option<Value>,
    /// `fn` declarations: the function bound.
    pub fn_id: Option<FuncId>,
    /// A variable of an earlier REPL entry: already in this slot, in a cell.
    pub preset_slot: Option<u32>,
    /// Where the name is declared (its cell is attributed to this line).
    pub span: Option<Span>,
}

#[derive(Debug, Clone, Default)]
pub struct FuncInfo {
    pub parent: Option<FuncId>,
    /// Captured declarations, in capture-number order.
    pub captures: Vec<DeclId>,
    /// Captures no variable: a static closure, loaded as a constant.
    pub is_const: bool,
    /// The declaration binding it (for `fn name`).
    pub decl: Option<DeclId>,
    pub name: Option<String>,
    /// Its number of parameters.
    pub arity: u32,
}

/// What a name use refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Res {
    Decl(DeclId),
    Builtin(u16),
}

/// Everything the emitter needs to know about names.
#[derive(Debug, Default)]
pub struct Resolution {
    pub decls: Vec<Decl>,
    pub funcs: Vec<FuncInfo>,
    /// Name uses, keyed by the identifier's start offset.
    pub uses: HashMap<u32, Res>,
    /// Declaring identifiers (let, param, loop variable, fn name), by start offset.
    pub decl_at: HashMap<u32, DeclId>,
    /// Functions, by the start offset of their `FnDecl` span.
    pub func_at: HashMap<u32, FuncId>,
    /// Declarations that need a slot in each block, by the block's start
    /// offset (the top level of the module under `TOP_BLOCK`).
    pub block_decls: HashMap<u32, Vec<DeclId>>,
}

/// Key of the module's top level in `block_decls`.
pub const TOP_BLOCK: u32 = u32::MAX;
/// The function number of the top level.
pub const TOP_FUNC: FuncId = 0;

/// A name visible at the top level of a REPL session, carried between entries.
#[derive(Debug, Clone)]
pub enum TopBinding {
    /// A variable (or non-constant function) in a cell in this slot of the top frame.
    Slot(u32, DeclKind),
    /// A static or a constant function.
    Const(Value, DeclKind),
}

struct Entry {
    name: String,
    decl: DeclId,
    /// Visible to straight-line code (a `let` after its statement; fns and statics always).
    declared: bool,
}

struct Scope {
    func: FuncId,
    entries: Vec<Entry>,
    /// Indices into `entries` by name, in declaration order (lookups stay
    /// cheap in blocks with thousands of variables).
    by_name: HashMap<String, Vec<usize>>,
}

impl Scope {
    fn new(func: FuncId) -> Scope {
        Scope {
            func,
            entries: Vec::new(),
            by_name: HashMap::new(),
        }
    }

    fn push(&mut self, e: Entry) {
        self.by_name
            .entry(e.name.clone())
            .or_default()
            .push(self.entries.len());
        self.entries.push(e);
    }

    /// A `let` has run: its name is visible from here on.
    fn mark_declared(&mut self, name: &str, decl: DeclId) {
        let Some(ix) = self.by_name.get(name) else {
            return;
        };
        if let Some(&i) = ix.iter().rev().find(|&&i| self.entries[i].decl == decl) {
            self.entries[i].declared = true;
        }
    }

    /// The declaration `name` means here: the latest one already declared, or
    /// (for uses inside an inner function) the first one declared later.
    fn lookup(&self, name: &str, forward: bool) -> Option<DeclId> {
        let ix = self.by_name.get(name)?;
        if let Some(&i) = ix.iter().rev().find(|&&i| self.entries[i].declared) {
            return Some(self.entries[i].decl);
        }
        if forward {
            ix.first().map(|&i| self.entries[i].decl)
        } else {
            None
        }
    }
}

pub struct Resolver<'a> {
    res: Resolution,
    scopes: Vec<Scope>,
    func: FuncId,
    loop_depth: u32,
    errors: Vec<Diagnostic>,
    folder: StaticFolder,
    statics: &'a mut StaticSegment,
    /// The runtime's own code: may name the internal builtins.
    internal: bool,
}

impl<'a> Resolver<'a> {
    /// Resolves a module. `top` are the bindings of earlier REPL entries.
    pub fn resolve(
        stmts: &[Stmt],
        top: &[(String, TopBinding)],
        statics: &'a mut StaticSegment,
    ) -> Result<Resolution, Vec<Diagnostic>> {
        Self::resolve_in(stmts, top, statics, false)
    }

    /// Resolves the runtime's own Loam code, which may name internal builtins.
    pub fn resolve_internal(
        stmts: &[Stmt],
        statics: &'a mut StaticSegment,
    ) -> Result<Resolution, Vec<Diagnostic>> {
        Self::resolve_in(stmts, &[], statics, true)
    }

    fn resolve_in(
        stmts: &[Stmt],
        top: &[(String, TopBinding)],
        statics: &'a mut StaticSegment,
        internal: bool,
    ) -> Result<Resolution, Vec<Diagnostic>> {
        let mut r = Resolver {
            internal,
            res: Resolution::default(),
            scopes: Vec::new(),
            func: TOP_FUNC,
            loop_depth: 0,
            errors: Vec::new(),
            folder: StaticFolder::default(),
            statics,
        };
        r.res.funcs.push(FuncInfo {
            name: None,
            ..FuncInfo::default()
        });
        let mut scope = Scope::new(TOP_FUNC);
        for (name, b) in top {
            let (kind, value, slot) = match b {
                TopBinding::Slot(s, k) => (*k, None, Some(*s)),
                TopBinding::Const(v, k) => (*k, Some(*v), None),
            };
            let id = r.new_decl(name, kind, value);
            r.res.decls[id as usize].preset_slot = slot;
            r.res.decls[id as usize].captured = slot.is_some();
            if kind == DeclKind::Static {
                r.folder
                    .define(name, *value.as_ref().unwrap_or(&Value::Nil));
            }
            scope.push(Entry {
                name: name.clone(),
                decl: id,
                declared: true,
            });
        }
        r.scopes.push(scope);
        r.block_body(stmts, TOP_BLOCK, true);
        r.scopes.pop();
        r.settle_constants();
        if r.errors.is_empty() {
            Ok(r.res)
        } else {
            r.errors.sort_by_key(|d| d.span.start);
            Err(r.errors)
        }
    }

    fn error(&mut self, msg: impl Into<String>, span: Span) {
        self.errors.push(Diagnostic::new(msg, span));
    }

    fn new_decl(&mut self, name: &str, kind: DeclKind, value: Option<Value>) -> DeclId {
        let id = self.res.decls.len() as DeclId;
        self.res.decls.push(Decl {
            name: name.to_string(),
            kind,
            func: self.func,
            captured: false,
            value,
            fn_id: None,
            preset_slot: None,
            span: None,
        });
        id
    }

    fn declare(&mut self, id: &Ident, kind: DeclKind, declared: bool) -> DeclId {
        let d = self.new_decl(&id.name, kind, None);
        self.res.decls[d as usize].span = Some(id.span);
        self.res.decl_at.insert(id.span.start, d);
        if let Some(s) = self.scopes.last_mut() {
            s.push(Entry {
                name: id.name.clone(),
                decl: d,
                declared,
            });
        }
        d
    }

    fn new_func(&mut self, f: &FnDecl) -> FuncId {
        let id = self.res.funcs.len() as FuncId;
        self.res.funcs.push(FuncInfo {
            parent: Some(self.func),
            name: f.name.as_ref().map(|n| n.name.clone()),
            arity: f.params.len() as u32,
            ..FuncInfo::default()
        });
        self.res.func_at.insert(f.span.start, id);
        id
    }

    /// Declares a block's statements up front (so `fn`s are hoisted and later
    /// `let`s are known), then walks them in order. The caller has pushed the scope.
    fn block_body(&mut self, stmts: &[Stmt], key: u32, top: bool) {
        let mut slots = Vec::new();
        // Statics first, in order: their values are needed wherever they are used.
        for s in stmts {
            if let StmtKind::Static { name, init } = &s.kind {
                if !top {
                    self.error("'static' only at the top level", s.span);
                    continue;
                }
                let value = match self.folder.fold(init, self.statics) {
                    Ok(v) => v,
                    Err(d) => {
                        self.errors.push(d);
                        Value::Nil
                    }
                };
                let d = self.declare(name, DeclKind::Static, true);
                self.res.decls[d as usize].value = Some(value);
                self.folder.define(&name.name, value);
            }
        }
        for s in stmts {
            match &s.kind {
                StmtKind::Let { name, .. } => slots.push(self.declare(name, DeclKind::Let, false)),
                StmtKind::Import { name, .. } if top => {
                    slots.push(self.declare(name, DeclKind::Let, false))
                }
                StmtKind::Import { .. } => self.error("'import' only at the top level", s.span),
                StmtKind::Fn(f) => {
                    if let Some(name) = &f.name {
                        let d = self.declare(name, DeclKind::Fn, true);
                        let fid = self.new_func(f);
                        self.res.decls[d as usize].fn_id = Some(fid);
                        self.res.funcs[fid as usize].decl = Some(d);
                        slots.push(d);
                    }
                }
                _ => {}
            }
        }
        self.res.block_decls.insert(key, slots);
        for s in stmts {
            self.stmt(s);
        }
    }

    fn block(&mut self, b: &Block, pre: &[(&Ident, DeclKind)]) {
        self.scopes.push(Scope::new(self.func));
        let mut pre_ids = Vec::new();
        for (id, kind) in pre {
            pre_ids.push(self.declare(id, *kind, true));
        }
        self.block_body(&b.stmts, b.span.start, false);
        if let Some(list) = self.res.block_decls.get_mut(&b.span.start) {
            pre_ids.append(list);
            *list = pre_ids;
        }
        self.scopes.pop();
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Let { name, init } => {
                self.expr(init);
                if let (Some(&d), Some(sc)) = (
                    self.res.decl_at.get(&name.span.start),
                    self.scopes.last_mut(),
                ) {
                    sc.mark_declared(&name.name, d);
                }
            }
            StmtKind::Assign { target, value, .. } => {
                self.expr(value);
                match &target.kind {
                    ExprKind::Name(id) => self.assign_name(id),
                    ExprKind::Index { obj, index } => {
                        self.expr(obj);
                        self.expr(index);
                    }
                    ExprKind::Field { obj, .. } => self.expr(obj),
                    _ => self.error("invalid assignment target", target.span),
                }
            }
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::If { cond, then, els } => {
                self.expr(cond);
                self.block(then, &[]);
                match els {
                    Some(Else::Block(b)) => self.block(b, &[]),
                    Some(Else::If(s)) => self.stmt(s),
                    None => {}
                }
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.loop_body(body, &[]);
            }
            StmtKind::ForRange {
                var,
                start,
                end,
                body,
            } => {
                self.expr(start);
                self.expr(end);
                self.loop_body(body, &[(var, DeclKind::LoopVar)]);
            }
            StmtKind::ForIn { var, iter, body } => {
                self.expr(iter);
                self.loop_body(body, &[(var, DeclKind::LoopVar)]);
            }
            StmtKind::Break if self.loop_depth == 0 => self.error("'break' outside a loop", s.span),
            StmtKind::Continue if self.loop_depth == 0 => {
                self.error("'continue' outside a loop", s.span)
            }
            StmtKind::Break | StmtKind::Continue => {}
            StmtKind::Return(e) => {
                if self.func == TOP_FUNC {
                    self.error("'return' outside a function", s.span);
                }
                if let Some(e) = e {
                    self.expr(e);
                }
            }
            StmtKind::Fn(f) => {
                let fid = self.res.func_at.get(&f.span.start).copied();
                if let Some(fid) = fid {
                    self.function(f, fid);
                }
            }
            StmtKind::Static { .. } => {}
            StmtKind::Import { name, .. } => {
                if let (Some(&d), Some(sc)) = (
                    self.res.decl_at.get(&name.span.start),
                    self.scopes.last_mut(),
                ) {
                    sc.mark_declared(&name.name, d);
                }
            }
        }
    }

    fn loop_body(&mut self, body: &Block, pre: &[(&Ident, DeclKind)]) {
        self.loop_depth += 1;
        self.block(body, pre);
        self.loop_depth -= 1;
    }

    fn function(&mut self, f: &FnDecl, fid: FuncId) {
        let (saved_func, saved_loops) = (self.func, self.loop_depth);
        self.func = fid;
        self.loop_depth = 0;
        let params: Vec<(&Ident, DeclKind)> =
            f.params.iter().map(|p| (p, DeclKind::Param)).collect();
        self.block(&f.body, &params);
        self.func = saved_func;
        self.loop_depth = saved_loops;
    }

    fn lookup(&mut self, id: &Ident) -> Option<Res> {
        let mut found = None;
        for scope in self.scopes.iter().rev() {
            if let Some(d) = scope.lookup(&id.name, scope.func != self.func) {
                found = Some(d);
                break;
            }
        }
        match found {
            Some(d) => {
                let decl = &self.res.decls[d as usize];
                if decl.func != self.func && decl.kind != DeclKind::Static {
                    self.capture(d);
                }
                Some(Res::Decl(d))
            }
            None => names::lookup(&id.name)
                .filter(|b| self.internal || !names::is_internal(*b))
                .map(Res::Builtin),
        }
    }

    /// Records that the current function uses `d` from an enclosing one: every
    /// function from here out to `d`'s captures it.
    fn capture(&mut self, d: DeclId) {
        let owner = self.res.decls[d as usize].func;
        self.res.decls[d as usize].captured = true;
        let mut f = self.func;
        while f != owner {
            let info = &mut self.res.funcs[f as usize];
            if !info.captures.contains(&d) {
                info.captures.push(d);
            }
            match info.parent {
                Some(p) => f = p,
                None => break,
            }
        }
    }

    fn use_name(&mut self, id: &Ident) {
        match self.lookup(id) {
            Some(r) => {
                self.res.uses.insert(id.span.start, r);
            }
            None => self.error(format!("undefined variable '{}'", id.name), id.span),
        }
    }

    fn assign_name(&mut self, id: &Ident) {
        match self.lookup(id) {
            Some(Res::Decl(d))
                if matches!(
                    self.res.decls[d as usize].kind,
                    DeclKind::Let | DeclKind::Param | DeclKind::LoopVar
                ) =>
            {
                self.res.uses.insert(id.span.start, Res::Decl(d));
            }
            Some(_) => self.error(format!("cannot assign to '{}'", id.name), id.span),
            None => self.error(
                format!(
                    "cannot assign to '{}': it is not declared (declare it with let)",
                    id.name
                ),
                id.span,
            ),
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Nil
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_) => {}
            ExprKind::Name(id) => self.use_name(id),
            ExprKind::List(xs) => xs.iter().for_each(|x| self.expr(x)),
            ExprKind::Map(kv) => {
                for (k, v) in kv {
                    self.expr(k);
                    self.expr(v);
                }
            }
            ExprKind::Fn(f) => {
                let fid = self.new_func(f);
                self.function(f, fid);
            }
            ExprKind::Call { callee, args } => {
                self.expr(callee);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::Index { obj, index } => {
                self.expr(obj);
                self.expr(index);
            }
            ExprKind::Field { obj, .. } => self.expr(obj),
            ExprKind::Method { obj, args, .. } => {
                self.expr(obj);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::Unary { expr, .. } => self.expr(expr),
            ExprKind::Binary { lhs, rhs, .. }
            | ExprKind::And(lhs, rhs)
            | ExprKind::Or(lhs, rhs) => {
                self.expr(lhs);
                self.expr(rhs);
            }
        }
    }

    /// Decides which functions are constants: those whose every capture is a
    /// constant function (greatest fixpoint), then drops constant functions
    /// from every capture list (they are loaded as constants instead).
    fn settle_constants(&mut self) {
        let n = self.res.funcs.len();
        for f in 1..n {
            self.res.funcs[f].is_const = true;
        }
        let is_const_fn = |res: &Resolution, d: DeclId| {
            let decl = &res.decls[d as usize];
            decl.kind == DeclKind::Fn
                && decl.preset_slot.is_none()
                && decl.fn_id.is_some_and(|f| res.funcs[f as usize].is_const)
        };
        loop {
            let mut changed = false;
            for f in 1..n {
                if self.res.funcs[f].is_const
                    && self.res.funcs[f].captures.iter().any(|&d| {
                        !is_const_fn(&self.res, d) && self.res.decls[d as usize].value.is_none()
                    })
                {
                    self.res.funcs[f].is_const = false;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for f in 0..n {
            let caps = std::mem::take(&mut self.res.funcs[f].captures);
            let kept = caps
                .into_iter()
                .filter(|&d| {
                    !is_const_fn(&self.res, d) && self.res.decls[d as usize].value.is_none()
                })
                .collect();
            self.res.funcs[f].captures = kept;
        }
        // A constant function's binding needs no slot; a captured one that is
        // constant needs no cell either.
        let consts: Vec<DeclId> = (0..self.res.decls.len() as DeclId)
            .filter(|&d| is_const_fn(&self.res, d))
            .collect();
        for d in consts {
            self.res.decls[d as usize].captured = false;
        }
        for list in self.res.block_decls.values_mut() {
            list.retain(|&d| {
                let decl = &self.res.decls[d as usize];
                !(decl.kind == DeclKind::Fn
                    && decl
                        .fn_id
                        .is_some_and(|f| self.res.funcs[f as usize].is_const))
            });
        }
    }
}
