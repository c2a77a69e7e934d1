//! The abstract syntax tree the parser builds and the compiler reads.
//!
//! Every node carries the byte span of its source text. Expressions also carry
//! their nesting depth, so that the parser can refuse absurdly deep input
//! (a compile error, see `MAX_DEPTH`) before anything recurses over it.

use super::span::Span;
pub use crate::value::ops::{BinOp, UnOp};

/// Deepest expression or block nesting accepted. Deeper input is the compile
/// error `nesting too deep`; the compiler and `Drop` recurse over the tree,
/// and this bound keeps them far inside the main thread's stack.
pub const MAX_DEPTH: u32 = 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
    /// 1 + the deepest statement in it.
    pub depth: u32,
}

#[derive(Debug, Clone)]
pub struct FnDecl {
    /// `None` for an anonymous `fn(...) { ... }` expression.
    pub name: Option<Ident>,
    pub params: Vec<Ident>,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
    /// The deepest expression or block in it (0 for `break;`).
    pub depth: u32,
}

#[derive(Debug, Clone)]
pub enum StmtKind {
    /// `let name = init;`
    Let {
        name: Ident,
        init: Expr,
    },
    /// `target = value;` where target is a name, an index or a field;
    /// `target op= value;` (compound) when `op` is set: the target's parts
    /// are evaluated once.
    Assign {
        target: Expr,
        op: Option<BinOp>,
        value: Expr,
    },
    /// `expr;`
    Expr(Expr),
    /// `if cond { then } else ...`; `els` is an `If` statement for `else if`.
    If {
        cond: Expr,
        then: Block,
        els: Option<Else>,
    },
    While {
        cond: Expr,
        body: Block,
    },
    /// `for var in start..end { body }`
    ForRange {
        var: Ident,
        start: Expr,
        end: Expr,
        body: Block,
    },
    /// `for var in iter { body }`
    ForIn {
        var: Ident,
        iter: Expr,
        body: Block,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    /// `fn name(params) { body }` (name is always `Some`).
    Fn(FnDecl),
    /// `static NAME = init;`
    Static {
        name: Ident,
        init: Expr,
    },
    /// `import "path" as name;` (`path_span` covers the string literal).
    Import {
        path: String,
        path_span: Span,
        name: Ident,
    },
}

#[derive(Debug, Clone)]
pub enum Else {
    Block(Block),
    If(Box<Stmt>),
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// 1 for a leaf; 1 + the deepest child otherwise.
    pub depth: u32,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// The string's contents, escapes already decoded.
    Str(String),
    Name(Ident),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Fn(Box<FnDecl>),
    Call {
        callee: Box<Expr>,
        args: Vec<Expr>,
    },
    Index {
        obj: Box<Expr>,
        index: Box<Expr>,
    },
    /// `obj.name`
    Field {
        obj: Box<Expr>,
        name: Ident,
    },
    /// `obj:name(args)`: `name` looked up in obj and its `__proto` chain,
    /// called with obj first.
    Method {
        obj: Box<Expr>,
        name: Ident,
        args: Vec<Expr>,
    },
    Unary {
        op: UnOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// A leaf expression (depth 1).
    pub fn leaf(kind: ExprKind, span: Span) -> Expr {
        Expr {
            kind,
            span,
            depth: 1,
        }
    }

    /// An expression whose children have been built: its depth is one more than
    /// the deepest child's.
    pub fn node(kind: ExprKind, span: Span) -> Expr {
        let depth = 1 + kind.child_depth();
        Expr { kind, span, depth }
    }
}

impl ExprKind {
    fn child_depth(&self) -> u32 {
        use ExprKind::*;
        match self {
            Nil | Bool(_) | Int(_) | Float(_) | Str(_) | Name(_) => 0,
            List(xs) => xs.iter().map(|e| e.depth).max().unwrap_or(0),
            Map(kv) => kv
                .iter()
                .map(|(k, v)| k.depth.max(v.depth))
                .max()
                .unwrap_or(0),
            // A function body's depth is checked where blocks nest; an
            // expression holding one counts as a leaf plus its block depth.
            Fn(f) => f.body.depth,
            Call { callee, args } => args.iter().map(|e| e.depth).fold(callee.depth, u32::max),
            Index { obj, index } => obj.depth.max(index.depth),
            Field { obj, .. } => obj.depth,
            Method { obj, args, .. } => args.iter().map(|e| e.depth).fold(obj.depth, u32::max),
            Unary { expr, .. } => expr.depth,
            Binary { lhs, rhs, .. } | And(lhs, rhs) | Or(lhs, rhs) => lhs.depth.max(rhs.depth),
        }
    }
}

impl Block {
    pub fn new(stmts: Vec<Stmt>, span: Span) -> Block {
        let depth = 1 + stmts.iter().map(|s| s.depth).max().unwrap_or(0);
        Block { stmts, span, depth }
    }
}

impl Stmt {
    pub fn new(kind: StmtKind, span: Span) -> Stmt {
        let depth = kind.depth();
        Stmt { kind, span, depth }
    }
}

impl StmtKind {
    fn depth(&self) -> u32 {
        use StmtKind::*;
        match self {
            Let { init, .. } | Static { init, .. } => init.depth,
            Assign { target, value, .. } => target.depth.max(value.depth),
            Expr(e) => e.depth,
            If { cond, then, els } => {
                let e = match els {
                    None => 0,
                    Some(Else::Block(b)) => b.depth,
                    Some(Else::If(s)) => s.depth + 1,
                };
                cond.depth.max(then.depth).max(e)
            }
            While { cond, body } => cond.depth.max(body.depth),
            ForRange {
                start, end, body, ..
            } => start.depth.max(end.depth).max(body.depth),
            ForIn { iter, body, .. } => iter.depth.max(body.depth),
            Break | Continue | Return(None) | Import { .. } => 0,
            Return(Some(e)) => e.depth,
            Fn(f) => f.body.depth,
        }
    }
}

/// A whole file (or one REPL entry): the statements of its top-level block.
#[derive(Debug, Clone)]
pub struct Module {
    pub stmts: Vec<Stmt>,
}
